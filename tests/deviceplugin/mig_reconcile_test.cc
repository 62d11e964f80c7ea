// The dynamic MIG reconciler: the pure decision (PlanMigReconcile, LiveMigReservations) table by
// table, then one pass of MigReconciler on the fake libnvidia-ml.so.1 and the fake API server.
#include "deviceplugin/mig_reconcile.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "device/annotations.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::deviceplugin {
namespace {

MigInstanceState Gi(uint32_t id, const std::string& profile, int32_t start, int32_t size) {
  return {id, profile, {start, size}, {0}};
}

MigReservation Reserve(const std::string& pod, const std::string& gpu, const std::string& profile,
                       int32_t start, int32_t size) {
  return {pod, gpu, profile, {start, size}};
}

std::vector<uint32_t> DestroyedIds(const MigReconcilePlan& plan) {
  std::vector<uint32_t> ids;
  for (const MigDestroy& d : plan.destroy) ids.push_back(d.gpu_instance_id);
  return ids;
}

TEST(PlanMigReconcileTest, DestroysWhatNoLivePodReservesAndKeepsWhatOneDoes) {
  const std::vector<MigGpuState> gpus = {
      {0, "GPU-a", true, {Gi(1, "3g.20gb", 0, 4), Gi(2, "3g.20gb", 4, 4)}}};
  const std::vector<MigReservation> live = {Reserve("ns/live", "GPU-a", "3g.20gb", 4, 4)};
  const MigReconcilePlan plan = PlanMigReconcile(gpus, live);
  EXPECT_EQ(DestroyedIds(plan), std::vector<uint32_t>{1});
  ASSERT_EQ(plan.destroy.size(), 1u);
  EXPECT_EQ(plan.destroy[0].compute_instance_ids, std::vector<uint32_t>{0});
  EXPECT_EQ(plan.destroy[0].gpu_uuid, "GPU-a");
  ASSERT_EQ(plan.kept.size(), 1u);
  EXPECT_NE(plan.kept[0].find("adopted 3g.20gb at slices 4+4"), std::string::npos) << plan.kept[0];
  EXPECT_NE(plan.kept[0].find("ns/live"), std::string::npos);
  EXPECT_TRUE(plan.conflicts.empty());
}

TEST(PlanMigReconcileTest, ReservationMustMatchGpuProfileAndPlacement) {
  struct Case {
    const char* name;
    MigReservation reservation;
    bool kept;
    bool conflict;
  };
  const Case cases[] = {
      {"exact", Reserve("ns/p", "GPU-a", "3g.20gb", 0, 4), true, false},
      {"other GPU", Reserve("ns/p", "GPU-b", "3g.20gb", 0, 4), false, false},
      {"other profile, overlapping", Reserve("ns/p", "GPU-a", "1g.5gb", 2, 1), true, true},
      {"same profile, other placement, disjoint", Reserve("ns/p", "GPU-a", "3g.20gb", 4, 4), false,
       false},
      {"larger profile covering it", Reserve("ns/p", "GPU-a", "7g.40gb", 0, 8), true, true},
  };
  for (const Case& c : cases) {
    const std::vector<MigGpuState> gpus = {{0, "GPU-a", true, {Gi(1, "3g.20gb", 0, 4)}}};
    const std::vector<MigReservation> live = {c.reservation};
    const MigReconcilePlan plan = PlanMigReconcile(gpus, live);
    EXPECT_EQ(plan.destroy.empty(), c.kept) << c.name;
    EXPECT_EQ(plan.kept.size(), c.kept ? 1u : 0u) << c.name;
    EXPECT_EQ(plan.conflicts.size(), c.conflict ? 1u : 0u) << c.name;
    if (c.conflict) {
      EXPECT_NE(plan.conflicts[0].line.find("overlaps pod ns/p"), std::string::npos)
          << plan.conflicts[0].line;
    }
  }
}

TEST(PlanMigReconcileTest, NeverTouchesUnmanagedGpusAndCleansIdleManagedOnes) {
  // GPU-static is in MIG mode with admin-made instances (static MIG): not ours, even with no
  // reservation at all. GPU-dyn has no live reservation: every instance goes (clean at start),
  // including a GPU instance left without compute instance and one of a profile NVML's list
  // does not name.
  MigInstanceState bare = Gi(3, "1g.5gb", 6, 1);
  bare.compute_instance_ids.clear();
  const std::vector<MigGpuState> gpus = {
      {0, "GPU-static", false, {Gi(1, "7g.40gb", 0, 8)}},
      {1, "GPU-dyn", true, {Gi(1, "3g.20gb", 0, 4), Gi(2, "", 4, 2), bare}}};
  const MigReconcilePlan plan = PlanMigReconcile(gpus, {});
  EXPECT_EQ(DestroyedIds(plan), (std::vector<uint32_t>{1, 2, 3}));
  for (const MigDestroy& d : plan.destroy) EXPECT_EQ(d.gpu_uuid, "GPU-dyn");
  EXPECT_TRUE(plan.destroy[2].compute_instance_ids.empty());
  EXPECT_TRUE(plan.kept.empty());
}

nlohmann::json PodJson(const std::string& name, const std::string& node, const std::string& phase,
                       const std::string& mig, bool terminating = false) {
  nlohmann::json pod = {{"kind", "Pod"},
                        {"apiVersion", "v1"},
                        {"metadata", {{"name", name}, {"namespace", "default"}}},
                        {"spec", {{"nodeName", node}, {"containers", {{{"name", "c0"}}}}}},
                        {"status", {{"phase", phase}}}};
  if (!mig.empty()) pod["metadata"]["annotations"][kVgpuMigAllocationsAnnotation] = mig;
  if (terminating) pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  return pod;
}

std::string Mig(const std::string& gpu, const std::string& profile, int start, int size) {
  return R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":")" + gpu + R"(","profile":")" +
         profile + R"(","placement":{"start":)" + std::to_string(start) + R"(,"size":)" +
         std::to_string(size) + "}}]";
}

TEST(LiveMigReservationsTest, TerminatingPodsAreLiveFinishedOnesAndOtherNodesAreNot) {
  const nlohmann::json list = {
      {"items",
       {PodJson("running", "n1", "Running", Mig("GPU-a", "1g.5gb", 0, 1)),
        PodJson("terminating", "n1", "Running", Mig("GPU-a", "1g.5gb", 1, 1), true),
        PodJson("pending", "n1", "Pending", Mig("GPU-a", "1g.5gb", 2, 1)),
        PodJson("done", "n1", "Succeeded", Mig("GPU-a", "1g.5gb", 3, 1)),
        PodJson("failed", "n1", "Failed", Mig("GPU-a", "1g.5gb", 4, 1)),
        PodJson("elsewhere", "n2", "Running", Mig("GPU-a", "1g.5gb", 5, 1)),
        PodJson("no-mig", "n1", "Running", "")}}};
  auto live = LiveMigReservations(list, "n1");
  ASSERT_TRUE(live.ok()) << live.status().message();
  std::vector<std::string> pods;
  for (const MigReservation& r : *live) pods.push_back(r.pod);
  EXPECT_EQ(pods, (std::vector<std::string>{"default/running", "default/terminating",
                                            "default/pending"}));
  EXPECT_EQ((*live)[1].placement, (MigPlacement{1, 1}));
  EXPECT_EQ((*live)[1].profile, "1g.5gb");
  EXPECT_EQ((*live)[1].gpu_uuid, "GPU-a");
}

TEST(LiveMigReservationsTest, AnUnreadableReservationOfALivePodIsAnError) {
  const nlohmann::json list = {{"items", {PodJson("bad", "n1", "Running", "[{not json")}}};
  auto live = LiveMigReservations(list, "n1");
  ASSERT_FALSE(live.ok());
  EXPECT_NE(live.status().message().find("default/bad"), std::string::npos)
      << live.status().message();
  // A finished pod's broken annotation does not matter.
  const nlohmann::json done = {{"items", {PodJson("bad", "n1", "Succeeded", "[{not json")}}};
  EXPECT_TRUE(LiveMigReservations(done, "n1").ok());
}

// One A100-40GB in MIG mode (dynamic, index 0) and one in MIG mode made by an admin (static,
// index 1), on the fake NVML; pods on the fake API server.
class MigReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hami_mig_reconcile_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const nlohmann::json config = {{"devices",
                                    {{{"uuid", "GPU-dyn"},
                                      {"name", "NVIDIA A100-SXM4-40GB"},
                                      {"memory_mib", 40960},
                                      {"bus_id", "00000000:AF:00.0"},
                                      {"mig", true},
                                      {"mig_model", "A100-SXM4-40GB"}},
                                     {{"uuid", "GPU-static"},
                                      {"name", "NVIDIA A100-SXM4-40GB"},
                                      {"memory_mib", 40960},
                                      {"bus_id", "00000000:B0:00.0"},
                                      {"mig", true},
                                      {"mig_model", "A100-SXM4-40GB"}}}}};
    std::ofstream(dir_ + "/nvml.json") << config.dump();
    setenv("HAMI_FAKE_NVML_CONFIG", (dir_ + "/nvml.json").c_str(), 1);
    auto opened = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    nvml_ = std::move(*opened);
    driver_ = std::make_unique<NvmlMigDriver>(*nvml_);
    realizer_ = std::make_unique<MigRealizer>(*driver_);
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    client_ = scheduler::testing::TestClient(*url, 1);
    reconciler_ = std::make_unique<MigReconciler>(
        *client_, *driver_, "n1", [](const nvml::NvmlGpu& gpu) { return gpu.uuid == "GPU-dyn"; });
  }
  void TearDown() override {
    reconciler_.reset();
    realizer_.reset();
    driver_.reset();
    nvml_.reset();
    unsetenv("HAMI_FAKE_NVML_CONFIG");
  }
  std::string Make(const std::string& gpu, const std::string& profile, int start, int size) {
    auto made = realizer_->Realize(gpu, profile, {start, size});
    EXPECT_TRUE(made.ok()) << made.status().message();
    realizer_->Commit();
    return made.ok() ? made->uuid : "";
  }
  std::vector<MigPlacement> Placements(uint32_t gpu) {
    auto gis = nvml_->GpuInstances(gpu);
    EXPECT_TRUE(gis.ok()) << gis.status().message();
    std::vector<MigPlacement> out;
    if (gis.ok()) {
      for (const nvml::NvmlGpuInstance& gi : *gis) out.push_back(gi.placement);
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<nvml::Nvml> nvml_;
  std::unique_ptr<NvmlMigDriver> driver_;
  std::unique_ptr<MigRealizer> realizer_;
  fakes::FakeApiServer api_;
  std::unique_ptr<kube::KubeClient> client_;
  std::unique_ptr<MigReconciler> reconciler_;
};

TEST_F(MigReconcilerTest, DestroysGonePodsInstancesKeepsLiveOnesAndStaticMig) {
  Make("GPU-dyn", "3g.20gb", 0, 4);     // its pod is gone
  Make("GPU-dyn", "3g.20gb", 4, 4);     // a live pod's
  Make("GPU-static", "7g.40gb", 0, 8);  // static MIG, no pod: never ours
  ASSERT_TRUE(api_.Put(PodJson("live", "n1", "Running", Mig("GPU-dyn", "3g.20gb", 4, 4))).ok());
  ASSERT_TRUE(api_.Put(PodJson("old", "n1", "Succeeded", Mig("GPU-dyn", "3g.20gb", 0, 4))).ok());

  auto report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 1u);
  EXPECT_EQ(report->kept, 1u);
  EXPECT_TRUE(report->failures.empty());
  EXPECT_EQ(Placements(0), std::vector<MigPlacement>{(MigPlacement{4, 4})});
  EXPECT_EQ(Placements(1), std::vector<MigPlacement>{(MigPlacement{0, 8})});

  // The live pod goes: its instance is destroyed on the next pass; a second pass is a no-op.
  ASSERT_TRUE(api_.Delete("pods", "default", "live").ok());
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 1u);
  EXPECT_TRUE(Placements(0).empty());
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->destroyed, 0u);
  EXPECT_EQ(Placements(1).size(), 1u);
}

TEST_F(MigReconcilerTest, AnUnreadablePodListDestroysNothing) {
  Make("GPU-dyn", "3g.20gb", 0, 4);
  api_.FailNext(10, 500, "list");
  auto report = reconciler_->RunOnce();
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(Placements(0).size(), 1u);
  api_.ClearFaults();
  // A live pod with a broken reservation: nothing either.
  ASSERT_TRUE(api_.Put(PodJson("bad", "n1", "Running", "[{")).ok());
  report = reconciler_->RunOnce();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("default/bad"), std::string::npos);
  EXPECT_EQ(Placements(0).size(), 1u);
  // Once readable and nobody reserves it, it goes.
  ASSERT_TRUE(api_.Delete("pods", "default", "bad").ok());
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_TRUE(Placements(0).empty());
}

TEST_F(MigReconcilerTest, AnOverlappingReservationOfAnotherProfileKeepsTheInstance) {
  Make("GPU-dyn", "1g.5gb", 0, 1);
  Make("GPU-dyn", "1g.5gb", 1, 1);
  Make("GPU-dyn", "1g.5gb", 6, 1);
  // A live pod reserved a 2g over slices 0-1 (e.g. the scheduler's view lagged): both 1g
  // instances there are kept (and logged), the one at slice 6 goes.
  ASSERT_TRUE(api_.Put(PodJson("p", "n1", "Running", Mig("GPU-dyn", "2g.10gb", 0, 2))).ok());
  auto report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 1u);
  EXPECT_EQ(report->kept, 2u);
  EXPECT_EQ(Placements(0), (std::vector<MigPlacement>{{0, 1}, {1, 1}}));
}

TEST_F(MigReconcilerTest, AnInstanceInUseIsReportedAndThePassGoesOn) {
  // Processes still run on the compute instance at slice 0 (NVML answers IN_USE).
  reconciler_.reset();
  realizer_.reset();
  driver_.reset();
  nvml_.reset();
  nlohmann::json config = nlohmann::json::parse(std::ifstream(dir_ + "/nvml.json"));
  config["devices"][0]["mig_instances"] = {{{"uuid", "MIG-busy"},
                                            {"profile_id", 0},
                                            {"start", 0},
                                            {"size", 1},
                                            {"gi", 1},
                                            {"ci", 0},
                                            {"in_use", true}}};
  std::ofstream(dir_ + "/nvml.json") << config.dump();
  auto opened = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  nvml_ = std::move(*opened);
  driver_ = std::make_unique<NvmlMigDriver>(*nvml_);
  realizer_ = std::make_unique<MigRealizer>(*driver_);
  reconciler_ = std::make_unique<MigReconciler>(
      *client_, *driver_, "n1", [](const nvml::NvmlGpu& gpu) { return gpu.uuid == "GPU-dyn"; });
  Make("GPU-dyn", "3g.20gb", 4, 4);
  ASSERT_EQ(Placements(0).size(), 2u);
  auto report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 1u);
  ASSERT_EQ(report->failures.size(), 1u);
  EXPECT_NE(report->failures[0].find("slices 0+1"), std::string::npos) << report->failures[0];
  EXPECT_EQ(Placements(0), std::vector<MigPlacement>{(MigPlacement{0, 1})});
}

// The MigInstanceConflict Events on the Node, as the fake API server stored them.
std::vector<nlohmann::json> ConflictEvents(const fakes::FakeApiServer& api) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& e : api.List("events", "default")) {
    if (e.value("reason", "") == kMigInstanceConflictReason) out.push_back(e);
  }
  return out;
}

TEST_F(MigReconcilerTest, AConflictRaisesOneNodeEventUntilItIsGone) {
  const std::string uuid = Make("GPU-dyn", "1g.5gb", 0, 1);
  const uint32_t gi = nvml_->GpuInstances(0)->at(0).id;
  // A live pod reserved a 2g over slices 0-1: the 1g at slice 0 blocks it.
  ASSERT_TRUE(api_.Put(PodJson("p", "n1", "Running", Mig("GPU-dyn", "2g.10gb", 0, 2))).ok());
  for (int pass = 0; pass < 3; ++pass) {
    auto report = reconciler_->RunOnce();
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_EQ(report->conflicts, 1u) << pass;
    EXPECT_EQ(report->events_posted, pass == 0 ? 1u : 0u) << pass;
  }
  std::vector<nlohmann::json> events = ConflictEvents(api_);
  ASSERT_EQ(events.size(), 1u) << "once, not on every pass";
  const nlohmann::json& e = events[0];
  EXPECT_EQ(e.value("type", ""), "Warning");
  EXPECT_EQ(e["involvedObject"].value("kind", ""), "Node");
  EXPECT_EQ(e["involvedObject"].value("name", ""), "n1");
  EXPECT_EQ(e["source"].value("component", ""), "hami-device-plugin");
  const std::string message = e.value("message", "");
  for (const std::string& part :
       {std::string("GPU GPU-dyn"), "(GPU instance " + std::to_string(gi) + ")",
        std::string("1g.5gb at slices 0+1"), std::string("pod default/p"),
        std::string("reservation of 2g.10gb at slices 0+2")}) {
    EXPECT_NE(message.find(part), std::string::npos) << part << " in " << message;
  }
  EXPECT_EQ(Placements(0), std::vector<MigPlacement>{(MigPlacement{0, 1})}) << "kept";

  // A second instance in the way is a distinct conflict: one more Event, not two.
  Make("GPU-dyn", "1g.5gb", 1, 1);
  auto report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->conflicts, 2u);
  EXPECT_EQ(report->events_posted, 1u);
  EXPECT_EQ(ConflictEvents(api_).size(), 2u);
  EXPECT_EQ(reconciler_->ReportedConflicts(), 2u);

  // The pod goes: both instances are destroyed and the conflicts forgotten, so the same
  // conflict coming back is reported again.
  ASSERT_TRUE(api_.Delete("pods", "default", "p").ok());
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 2u);
  EXPECT_EQ(reconciler_->ReportedConflicts(), 0u);
  EXPECT_NE(Make("GPU-dyn", "1g.5gb", 0, 1), "");
  ASSERT_TRUE(api_.Put(PodJson("p", "n1", "Running", Mig("GPU-dyn", "2g.10gb", 0, 2))).ok());
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->events_posted, 1u);
  EXPECT_EQ(ConflictEvents(api_).size(), 3u);
  EXPECT_NE(uuid, "");
}

TEST_F(MigReconcilerTest, ConflictEventsAreBestEffortAndNeverPostedWithoutTheApiServer) {
  Make("GPU-dyn", "1g.5gb", 0, 1);
  Make("GPU-dyn", "1g.5gb", 6, 1);  // nobody's: destroyed even while the Event write fails
  ASSERT_TRUE(api_.Put(PodJson("p", "n1", "Running", Mig("GPU-dyn", "2g.10gb", 0, 2))).ok());
  // The Event write fails: the pass still succeeds and does its work, the Event comes next pass.
  api_.FailNext(1, 500, "create", "/events");
  auto report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 1u);
  EXPECT_EQ(report->conflicts, 1u);
  EXPECT_EQ(report->events_posted, 0u);
  EXPECT_TRUE(ConflictEvents(api_).empty());
  EXPECT_EQ(reconciler_->ReportedConflicts(), 0u);
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->events_posted, 1u);
  EXPECT_EQ(ConflictEvents(api_).size(), 1u);

  // A forbidden Event (no RBAC grant) is not retried on every pass.
  Make("GPU-dyn", "1g.5gb", 1, 1);
  api_.FailNext(1, 403, "create", "/events");
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->conflicts, 2u);
  EXPECT_EQ(report->events_posted, 0u);
  EXPECT_EQ(reconciler_->ReportedConflicts(), 2u);
  api_.ClearRequests();
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(api_.RequestCount("create", "/events"), 0);
  EXPECT_EQ(ConflictEvents(api_).size(), 1u);

  // API server unreachable: nothing destroyed, no Event tried, the conflict stays reported
  // (no second Event once it is back).
  api_.Stop();
  report = reconciler_->RunOnce();
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(reconciler_->ReportedConflicts(), 2u);
  EXPECT_EQ(Placements(0), (std::vector<MigPlacement>{{0, 1}, {1, 1}}));
  ASSERT_TRUE(api_.Start().ok());
  api_.ClearRequests();
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->events_posted, 0u);
  EXPECT_EQ(api_.RequestCount("create", "/events"), 0);
  EXPECT_EQ(ConflictEvents(api_).size(), 1u);
}

// Issue 17's crash between create and annotation write, seen by the next plugin process: the
// instance exists, the pod's reservation has no migUUID yet. While the pod lives the
// reconciler keeps it (a bare GPU instance too) and the pod's Allocate adopts it; once the pod
// is gone instead, the reconciler destroys it.
TEST_F(MigReconcilerTest, AnInstanceLeftByACrashIsKeptForItsLivePodAndDestroyedWhenItIsGone) {
  // The crashed plugin created a 3g at 4+4 for pod "a" and a bare GPU instance (no compute
  // instance yet) 2g at 0+2 for pod "b", and never wrote either annotation.
  auto made = realizer_->Realize("GPU-dyn", "3g.20gb", {4, 4});
  ASSERT_TRUE(made.ok()) << made.status().message();
  auto bare = nvml_->CreateGpuInstance(0, 1, {0, 2});  // NVML_GPU_INSTANCE_PROFILE_2_SLICE
  ASSERT_TRUE(bare.ok()) << bare.status().message();
  realizer_.reset();  // the process died: no Commit, no RollBack
  reconciler_.reset();
  driver_.reset();
  nvml_.reset();
  auto opened = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);  // the new plugin process
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  nvml_ = std::move(*opened);
  driver_ = std::make_unique<NvmlMigDriver>(*nvml_);
  realizer_ = std::make_unique<MigRealizer>(*driver_);
  reconciler_ = std::make_unique<MigReconciler>(
      *client_, *driver_, "n1", [](const nvml::NvmlGpu& gpu) { return gpu.uuid == "GPU-dyn"; });
  ASSERT_TRUE(api_.Put(PodJson("a", "n1", "Pending", Mig("GPU-dyn", "3g.20gb", 4, 4))).ok());
  ASSERT_TRUE(api_.Put(PodJson("b", "n1", "Pending", Mig("GPU-dyn", "2g.10gb", 0, 2))).ok());

  auto report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 0u);
  EXPECT_EQ(report->kept, 2u);
  EXPECT_EQ(report->conflicts, 0u);
  std::vector<MigPlacement> left = Placements(0);
  std::sort(left.begin(), left.end(),
            [](const MigPlacement& x, const MigPlacement& y) { return x.start < y.start; });
  EXPECT_EQ(left, (std::vector<MigPlacement>{{0, 2}, {4, 4}}));
  // Pod a's Allocate adopts its instance: the same ids, nothing created.
  auto adopted = realizer_->Realize("GPU-dyn", "3g.20gb", {4, 4});
  ASSERT_TRUE(adopted.ok()) << adopted.status().message();
  EXPECT_EQ(adopted->uuid, made->uuid);
  EXPECT_EQ(adopted->gpu_instance_id, made->gpu_instance_id);
  EXPECT_EQ(adopted->compute_instance_id, made->compute_instance_id);
  EXPECT_EQ(realizer_->PendingCreated(), 0u);

  // Pod b is deleted before its Allocate: its bare GPU instance goes, pod a's stays.
  ASSERT_TRUE(api_.Delete("pods", "default", "b").ok());
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 1u);
  EXPECT_EQ(Placements(0), std::vector<MigPlacement>{(MigPlacement{4, 4})});
  ASSERT_TRUE(api_.Delete("pods", "default", "a").ok());
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 1u);
  EXPECT_TRUE(Placements(0).empty());
  EXPECT_TRUE(nvml_->Gpus()->at(0).mig_instances.empty());
}

}  // namespace
}  // namespace hami::deviceplugin
