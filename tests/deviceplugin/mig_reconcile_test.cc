// The dynamic MIG reconciler: the pure decision (PlanMigReconcile, LiveMigReservations) table by
// table, then one pass of MigReconciler on the fake libnvidia-ml.so.1 and the fake API server.
#include "deviceplugin/mig_reconcile.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

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
  EXPECT_FALSE(plan.destroy[0].blocks.has_value());
}

TEST(PlanMigReconcileTest, ReservationMustMatchGpuProfileAndPlacement) {
  // Only an exact match keeps the instance; one overlapping a reservation it does not match is
  // destroyed and names the pod it blocks.
  struct Case {
    const char* name;
    MigReservation reservation;
    bool kept;
    bool blocks;
  };
  const Case cases[] = {
      {"exact", Reserve("ns/p", "GPU-a", "3g.20gb", 0, 4), true, false},
      {"other GPU", Reserve("ns/p", "GPU-b", "3g.20gb", 0, 4), false, false},
      {"other profile, overlapping", Reserve("ns/p", "GPU-a", "1g.5gb", 2, 1), false, true},
      {"same profile, other placement, disjoint", Reserve("ns/p", "GPU-a", "3g.20gb", 4, 4), false,
       false},
      {"larger profile covering it", Reserve("ns/p", "GPU-a", "7g.40gb", 0, 8), false, true},
  };
  for (const Case& c : cases) {
    const std::vector<MigGpuState> gpus = {{0, "GPU-a", true, {Gi(1, "3g.20gb", 0, 4)}}};
    const std::vector<MigReservation> live = {c.reservation};
    const MigReconcilePlan plan = PlanMigReconcile(gpus, live);
    EXPECT_EQ(plan.destroy.empty(), c.kept) << c.name;
    EXPECT_EQ(plan.kept.size(), c.kept ? 1u : 0u) << c.name;
    if (plan.destroy.empty()) continue;
    const MigDestroy& d = plan.destroy[0];
    EXPECT_EQ(d.blocks.has_value(), c.blocks) << c.name;
    if (c.blocks) {
      EXPECT_EQ(d.blocks->pod, "ns/p") << c.name;
      EXPECT_EQ(d.blocks->placement, c.reservation.placement) << c.name;
      EXPECT_NE(d.reason.find("blocks pod ns/p's reservation of " + c.reservation.profile),
                std::string::npos)
          << d.reason;
    } else {
      EXPECT_EQ(d.reason, "no live pod reserves it") << c.name;
    }
  }
}

TEST(PlanMigReconcileTest, InstancesBlockingALiveReservationAreDestroyedFirst) {
  // Pods A (1g at 0), B (2g at 2+2) and C (3g at 4+4) are gone; the scheduler reserved pod D's
  // 7g at 0+8 at once. Every stale instance blocks D and goes, before the unrelated ones (GPU-a's
  // 1g at 6 that nobody reserves, listed first by NVML); the 3g on GPU-b that pod E reserves
  // exactly is kept.
  const std::vector<MigGpuState> gpus = {
      {0, "GPU-a", true, {Gi(9, "1g.5gb", 6, 1)}},
      {1, "GPU-b", true, {Gi(1, "1g.5gb", 0, 1), Gi(2, "2g.10gb", 2, 2), Gi(3, "3g.20gb", 4, 4)}},
      {2, "GPU-c", true, {Gi(4, "3g.20gb", 4, 4)}}};
  const std::vector<MigReservation> live = {Reserve("ns/d", "GPU-b", "7g.40gb", 0, 8),
                                            Reserve("ns/e", "GPU-c", "3g.20gb", 4, 4)};
  const MigReconcilePlan plan = PlanMigReconcile(gpus, live);
  EXPECT_EQ(DestroyedIds(plan), (std::vector<uint32_t>{1, 2, 3, 9}));
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(plan.destroy[i].blocks.has_value()) << i;
    EXPECT_EQ(plan.destroy[i].blocks->pod, "ns/d");
    EXPECT_EQ(plan.destroy[i].blocks->profile, "7g.40gb");
    EXPECT_EQ(plan.destroy[i].gpu_uuid, "GPU-b");
    EXPECT_EQ(plan.destroy[i].gpu_index, 1u);
    EXPECT_EQ(plan.destroy[i].reason, "blocks pod ns/d's reservation of 7g.40gb at slices 0+8");
  }
  EXPECT_EQ(plan.destroy[1].profile, "2g.10gb");
  EXPECT_EQ(plan.destroy[1].placement, (MigPlacement{2, 2}));
  EXPECT_FALSE(plan.destroy[3].blocks.has_value());
  ASSERT_EQ(plan.kept.size(), 1u);
  EXPECT_NE(plan.kept[0].find("adopted 3g.20gb at slices 4+4 of GPU GPU-c"), std::string::npos)
      << plan.kept[0];
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

// The MigInstanceConflict Events on the Node, as the fake API server stored them.
std::vector<nlohmann::json> ConflictEvents(const fakes::FakeApiServer& api) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& e : api.List("events", "default")) {
    if (e.value("reason", "") == kMigInstanceConflictReason) out.push_back(e);
  }
  return out;
}

// The real driver, recording the GPU instances it destroyed (in order) and refusing, as NVML
// does while processes run on it, to destroy the compute instances of the GPU instances in
// `in_use`.
class TestDriver : public NvmlMigDriver {
 public:
  using NvmlMigDriver::NvmlMigDriver;
  Status DestroyComputeInstance(uint32_t gpu, uint32_t gi, uint32_t ci) override {
    if (gpu == 0 && in_use.count(gi) > 0) {
      return Status(StatusCode::kFailedPrecondition, "nvml: In use by another client (injected)");
    }
    return NvmlMigDriver::DestroyComputeInstance(gpu, gi, ci);
  }
  Status DestroyGpuInstance(uint32_t gpu, uint32_t gi) override {
    Status done = NvmlMigDriver::DestroyGpuInstance(gpu, gi);
    if (done.ok() && gpu == 0) destroyed.push_back(gi);
    return done;
  }
  std::set<uint32_t> in_use;        // GPU instance ids of GPU 0
  std::vector<uint32_t> destroyed;  // GPU instance ids of GPU 0, in destroy order
};

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
    driver_ = std::make_unique<TestDriver>(*nvml_);
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
  // The id of GPU 0's instance starting at memory slice `start` (0 when none).
  uint32_t GiAt(int32_t start) {
    auto gis = nvml_->GpuInstances(0);
    if (gis.ok()) {
      for (const nvml::NvmlGpuInstance& gi : *gis) {
        if (gi.placement.start == start) return gi.id;
      }
    }
    return 0;
  }
  std::vector<MigPlacement> Sorted(std::vector<MigPlacement> v) {
    std::sort(v.begin(), v.end(),
              [](const MigPlacement& x, const MigPlacement& y) { return x.start < y.start; });
    return v;
  }

  std::string dir_;
  std::unique_ptr<nvml::Nvml> nvml_;
  std::unique_ptr<TestDriver> driver_;
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

TEST_F(MigReconcilerTest, InstancesBlockingALiveReservationAreDestroyedFirst) {
  Make("GPU-dyn", "1g.5gb", 6, 1);  // nobody's, made first: NVML lists it first
  Make("GPU-dyn", "1g.5gb", 0, 1);
  Make("GPU-dyn", "1g.5gb", 1, 1);
  const uint32_t at6 = GiAt(6), at0 = GiAt(0), at1 = GiAt(1);
  // A live pod reserved a 2g over slices 0-1 (the pods of the two 1g instances there are gone
  // and the scheduler reserved their slices at once): both block it, so both go, before the
  // one at slice 6 that blocks nobody.
  ASSERT_TRUE(api_.Put(PodJson("p", "n1", "Running", Mig("GPU-dyn", "2g.10gb", 0, 2))).ok());
  auto report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 3u);
  EXPECT_EQ(report->unblocked, 2u);
  EXPECT_EQ(report->kept, 0u);
  EXPECT_EQ(report->conflicts, 0u);
  EXPECT_TRUE(report->failures.empty());
  EXPECT_TRUE(Placements(0).empty());
  EXPECT_EQ(driver_->destroyed, (std::vector<uint32_t>{at0, at1, at6}));
  EXPECT_TRUE(ConflictEvents(api_).empty()) << "destroyed: nothing to tell a person";
  // The pod's own instance, made now at its reservation, is kept.
  Make("GPU-dyn", "2g.10gb", 0, 2);
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 0u);
  EXPECT_EQ(report->kept, 1u);
  EXPECT_EQ(Placements(0), std::vector<MigPlacement>{(MigPlacement{0, 2})});
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
  driver_ = std::make_unique<TestDriver>(*nvml_);
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
  // It blocks no live reservation: a plain failure, no conflict, no Event.
  EXPECT_EQ(report->conflicts, 0u);
  EXPECT_TRUE(ConflictEvents(api_).empty());
}

TEST_F(MigReconcilerTest, AConflictRaisesOneNodeEventUntilItIsGone) {
  Make("GPU-dyn", "1g.5gb", 0, 1);
  const uint32_t gi = GiAt(0);
  // A live pod reserved a 2g over slices 0-1: the 1g at slice 0 blocks it, and processes still
  // run on it (NVML refuses the destroy): a conflict a person must resolve.
  driver_->in_use.insert(gi);
  ASSERT_TRUE(api_.Put(PodJson("p", "n1", "Running", Mig("GPU-dyn", "2g.10gb", 0, 2))).ok());
  for (int pass = 0; pass < 3; ++pass) {
    auto report = reconciler_->RunOnce();
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_EQ(report->conflicts, 1u) << pass;
    EXPECT_EQ(report->destroyed, 0u) << pass;
    EXPECT_EQ(report->failures.size(), 1u) << pass;
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
        std::string("reservation of 2g.10gb at slices 0+2"),
        std::string("could not destroy it: nvml: In use by another client (injected)"),
        std::string("Stop the processes on it"), std::string("nvidia-smi mig -dci"),
        std::string("delete the pod")}) {
    EXPECT_NE(message.find(part), std::string::npos) << part << " in " << message;
  }
  EXPECT_EQ(Placements(0), std::vector<MigPlacement>{(MigPlacement{0, 1})});

  // A second instance in the way, in use too, is a distinct conflict: one more Event, not two.
  Make("GPU-dyn", "1g.5gb", 1, 1);
  driver_->in_use.insert(GiAt(1));
  auto report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->conflicts, 2u);
  EXPECT_EQ(report->events_posted, 1u);
  EXPECT_EQ(ConflictEvents(api_).size(), 2u);
  EXPECT_EQ(reconciler_->ReportedConflicts(), 2u);

  // The processes on the one at slice 1 stop: it is destroyed and its conflict forgotten.
  driver_->in_use.erase(GiAt(1));
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 1u);
  EXPECT_EQ(report->unblocked, 1u);
  EXPECT_EQ(report->conflicts, 1u);
  EXPECT_EQ(reconciler_->ReportedConflicts(), 1u);
  EXPECT_EQ(Placements(0), std::vector<MigPlacement>{(MigPlacement{0, 1})});

  // The pod goes: the one still in use blocks nobody, a plain failure without Event, and the
  // conflict is forgotten; blocking the pod again is reported again.
  ASSERT_TRUE(api_.Delete("pods", "default", "p").ok());
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->conflicts, 0u);
  EXPECT_EQ(report->failures.size(), 1u);
  EXPECT_EQ(reconciler_->ReportedConflicts(), 0u);
  EXPECT_EQ(ConflictEvents(api_).size(), 2u);
  ASSERT_TRUE(api_.Put(PodJson("p", "n1", "Running", Mig("GPU-dyn", "2g.10gb", 0, 2))).ok());
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->events_posted, 1u);
  EXPECT_EQ(ConflictEvents(api_).size(), 3u);

  // Once free, it is destroyed (it blocks the pod) and nothing more is reported.
  driver_->in_use.clear();
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->unblocked, 1u);
  EXPECT_EQ(report->conflicts, 0u);
  EXPECT_EQ(reconciler_->ReportedConflicts(), 0u);
  EXPECT_TRUE(Placements(0).empty());
}

TEST_F(MigReconcilerTest, ConflictEventsAreBestEffortAndNeverPostedWithoutTheApiServer) {
  Make("GPU-dyn", "1g.5gb", 0, 1);
  driver_->in_use.insert(GiAt(0));
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
  driver_->in_use.insert(GiAt(1));
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

  // API server unreachable: nothing destroyed (not the instance nobody reserves either), no
  // Event tried, the conflicts stay reported (no second Event once it is back).
  Make("GPU-dyn", "1g.5gb", 6, 1);
  api_.Stop();
  report = reconciler_->RunOnce();
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(reconciler_->ReportedConflicts(), 2u);
  EXPECT_EQ(Sorted(Placements(0)), (std::vector<MigPlacement>{{0, 1}, {1, 1}, {6, 1}}));
  ASSERT_TRUE(api_.Start().ok());
  api_.ClearRequests();
  report = reconciler_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->destroyed, 1u);
  EXPECT_EQ(report->conflicts, 2u);
  EXPECT_EQ(report->events_posted, 0u);
  EXPECT_EQ(api_.RequestCount("create", "/events"), 0);
  EXPECT_EQ(ConflictEvents(api_).size(), 1u);
  EXPECT_EQ(Sorted(Placements(0)), (std::vector<MigPlacement>{{0, 1}, {1, 1}}));
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
  driver_ = std::make_unique<TestDriver>(*nvml_);
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
