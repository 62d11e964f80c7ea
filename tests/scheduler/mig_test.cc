// MIG through the scheduler: /filter reserves an instance and writes
// hami.io/vgpu-mig-allocations, the ledger rebuilds the instances in use from pod annotations,
// and disagreements between a GPU's mode and a pod's reservation take the GPU out of service.
#include <gtest/gtest.h>

#include "device/codec.h"
#include "device/config.h"
#include "scheduler/filter.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

// An A100 in static MIG mode with the instances its plugin found: two 1g.10gb, one 3g.40gb.
DeviceInfo MigGpu(const std::string& id) {
  DeviceInfo d = testing::TestDevice(id, 81920);
  d.type = "NVIDIA A100-SXM4-80GB";
  d.mode = kModeMig;
  d.count = 3;
  d.mig_profiles = {MigProfile{"1g.10gb", 9856, 15, 1, {{0, 1}, {1, 1}}},
                    MigProfile{"3g.40gb", 40448, 43, 3, {{4, 4}}}};
  return d;
}

// `vgpu_mode`: the pod's nvidia.com/vgpu-mode annotation, none when empty.
nlohmann::json Pod(const std::string& uid, int gpus, int mem,
                   const std::string& vgpu_mode = kModeMig) {
  nlohmann::json metadata = {{"name", "pod-" + uid}, {"namespace", "default"}, {"uid", uid}};
  if (!vgpu_mode.empty()) metadata["annotations"] = {{"nvidia.com/vgpu-mode", vgpu_mode}};
  return {{"metadata", metadata},
          {"spec",
           {{"containers",
             nlohmann::json::array({{{"name", "c"},
                                     {"resources",
                                      {{"limits",
                                        {{"nvidia.com/gpu", std::to_string(gpus)},
                                         {"nvidia.com/gpumem", std::to_string(mem)}}}}}}})}}}};
}

class MigSchedulingTest : public ::testing::Test {
 protected:
  MigSchedulingTest()
      : registry_(std::move(*MakeVendorRegistry(DefaultDeviceConfig()))),
        core_(registry_, ledger_,
              std::make_unique<policy::HamiPolicy>("hami-default", policy::NodePolicy::kBinpack,
                                                   policy::GpuPolicy{})) {
    ledger_.SetNodeDevices("node-m", "NVIDIA", {MigGpu("GPU-m")});
  }

  FilterDecision Filter(const std::string& uid, int gpus, int mem,
                        const std::string& vgpu_mode = kModeMig) {
    ExtenderArgs args;
    args.pod = Pod(uid, gpus, mem, vgpu_mode);
    args.node_names = std::vector<std::string>{"node-m"};
    return core_.Filter(args, 1700000000);
  }

  VendorRegistry registry_;
  UsageLedger ledger_;
  FilterCore core_;
};

TEST_F(MigSchedulingTest, FilterReservesInstancesAndWritesTheMigAnnotation) {
  FilterDecision d = Filter("u1", 2, 8000);
  ASSERT_TRUE(d.result.node_names.has_value()) << d.result.error;
  const nlohmann::json annotations = testing::DecisionAnnotationsOf(d);
  EXPECT_EQ(annotations["hami.io/vgpu-devices-allocated"],
            "GPU-m,NVIDIA,9856,15:GPU-m,NVIDIA,9856,15:;");
  EXPECT_EQ(annotations["hami.io/vgpu-mig-allocations"],
            R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-m","profile":"1g.10gb",)"
            R"("placement":{"start":0,"size":1}},{"containerIndex":0,"deviceIndex":1,)"
            R"("gpuUUID":"GPU-m","profile":"1g.10gb","placement":{"start":1,"size":1}}])");

  // Both 1g instances are taken: a small request now gets the 3g.40gb one, a third fails.
  FilterDecision second = Filter("u2", 1, 8000);
  ASSERT_TRUE(second.result.node_names.has_value());
  auto entries = DecodeMigAllocations(
      testing::DecisionAnnotationsOf(second)["hami.io/vgpu-mig-allocations"].get<std::string>());
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].profile, "3g.40gb");
  EXPECT_EQ((*entries)[0].placement, (MigPlacement{4, 4}));

  // Our plugin registers count = the instances that exist, so the slots run out with them.
  FilterDecision third = Filter("u3", 1, 1000);
  EXPECT_FALSE(third.result.node_names.has_value());
  EXPECT_EQ(third.result.failed_nodes.at("node-m"), "1/1 CardTimeSlicingExhausted");
  EXPECT_TRUE(ledger_.CheckCapacity().ok());
}

// Mode separation (issue 17): a pod without nvidia.com/vgpu-mode: mig never lands on a GPU in
// MIG mode, and kube-scheduler is told why; --mig-unannotated-pods allow restores HAMi's rule.
TEST_F(MigSchedulingTest, UnannotatedPodsStayOffMigGpusUnlessAllowed) {
  FilterDecision refused = Filter("u1", 1, 8000, "");
  EXPECT_FALSE(refused.result.node_names.has_value());
  EXPECT_EQ(refused.result.failed_nodes.at("node-m"), "1/1 CardMigModeNotRequested");
  // Naming another mode is refused the same way.
  FilterDecision core = Filter("u2", 1, 8000, "hami-core");
  EXPECT_FALSE(core.result.node_names.has_value());
  EXPECT_EQ(core.result.failed_nodes.at("node-m"), "1/1 CardMigModeNotRequested");

  // With a plain GPU among the candidates the unannotated pod lands there, never on the MIG GPU
  // (the node binpack prefers: it is the fuller node once u3 holds an instance).
  ledger_.SetNodeDevices("node-t", "NVIDIA", {testing::TestDevice("GPU-t")});
  ASSERT_TRUE(Filter("u3", 1, 8000).result.node_names.has_value());
  ExtenderArgs args;
  args.pod = Pod("u4", 1, 8000, "");
  args.node_names = std::vector<std::string>{"node-m", "node-t"};
  FilterDecision plain = core_.Filter(args, 1700000000);
  ASSERT_TRUE(plain.result.node_names.has_value()) << plain.result.error;
  EXPECT_EQ((*plain.result.node_names)[0], "node-t");
  EXPECT_FALSE(testing::DecisionAnnotationsOf(plain).contains("hami.io/vgpu-mig-allocations"));

  // HAMi's rule: the unannotated pod gets the smallest free instance that holds it.
  core_.set_mig_unannotated_pods_allowed(true);
  FilterDecision allowed = Filter("u1", 1, 8000, "");
  ASSERT_TRUE(allowed.result.node_names.has_value()) << allowed.result.error;
  auto entries = DecodeMigAllocations(
      testing::DecisionAnnotationsOf(allowed)["hami.io/vgpu-mig-allocations"].get<std::string>());
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].profile, "1g.10gb");
  EXPECT_EQ((*entries)[0].placement, (MigPlacement{1, 1}));  // u3 holds 0
  // A pod that names another mode stays off even then.
  EXPECT_EQ(Filter("u2", 1, 8000, "hami-core").result.failed_nodes.at("node-m"),
            "1/1 CardMigModeNotRequested");
  EXPECT_TRUE(ledger_.CheckCapacity().ok());
}

TEST_F(MigSchedulingTest, AReFilterOffMigWritesNoMigReservation) {
  // The first decision was never written (only a Binding writes one), so the pod carries no
  // stale MIG annotation; the decision that replaces it must not name MIG instances either.
  ledger_.SetNodeDevices("node-t", "NVIDIA", {testing::TestDevice("GPU-t")});
  ASSERT_TRUE(Filter("u1", 1, 8000).result.node_names.has_value());
  ExtenderArgs args;
  args.pod = Pod("u1", 1, 8000);
  args.pod["metadata"]["annotations"] = {{"nvidia.com/vgpu-mode", "hami-core"}};
  args.node_names = std::vector<std::string>{"node-m", "node-t"};
  FilterDecision d = core_.Filter(args, 1700000001);
  ASSERT_TRUE(d.result.node_names.has_value()) << d.result.error;
  EXPECT_EQ((*d.result.node_names)[0], "node-t");
  const nlohmann::json annotations = testing::DecisionAnnotationsOf(d);
  ASSERT_TRUE(annotations.contains("hami.io/vgpu-devices-allocated"));
  EXPECT_FALSE(annotations.contains("hami.io/vgpu-mig-allocations"));
  EXPECT_TRUE(MigAllocationsOf(d.decided->by_vendor.at("NVIDIA")).empty());
}

Annotations AnnotationsOf(const FilterDecision& d) {
  Annotations out;
  const nlohmann::json annotations = testing::DecisionAnnotationsOf(d);
  for (const auto& [key, value] : annotations.items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

TEST_F(MigSchedulingTest, LedgerRebuiltFromAnnotationsKnowsTheInstancesInUse) {
  FilterDecision d = Filter("u1", 1, 30000);
  ASSERT_TRUE(d.result.node_names.has_value());
  auto rebuilt = AllocationFromAnnotations(registry_, "u1", "default", "pod-u1", "node-m", 0,
                                           AnnotationsOf(d));
  ASSERT_TRUE(rebuilt.ok());
  ASSERT_TRUE(rebuilt->has_value());
  EXPECT_EQ((**rebuilt).by_vendor.at("NVIDIA")[0][0].mig_profile, "3g.40gb");

  UsageLedger fresh;
  fresh.SetNodeDevices("node-m", "NVIDIA", {MigGpu("GPU-m")});
  fresh.AddPod(**rebuilt);
  std::vector<std::string> names = {"node-m"};
  auto states = fresh.Snapshot(names, nullptr);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].devices[0].mig_in_use, (std::vector<MigPlacement>{{4, 4}}));
  EXPECT_TRUE(states[0].devices[0].info.health);
  EXPECT_EQ(states[0].devices[0].used_mem_mib, 40448);
}

TEST_F(MigSchedulingTest, ModeAndReservationDisagreeingTakesTheGpuOutOfService) {
  std::vector<std::string> names = {"node-m"};
  // A pod on the MIG GPU without a reservation (e.g. written by a scheduler without MIG).
  UsageLedger a;
  a.SetNodeDevices("node-m", "NVIDIA", {MigGpu("GPU-m")});
  a.AddPod(testing::Allocation("p", "node-m", {{{"GPU-m", "NVIDIA", 9856, 15}}}));
  EXPECT_FALSE(a.Snapshot(names, nullptr)[0].devices[0].info.health);

  // A reservation on a GPU registered in hami-core mode.
  UsageLedger b;
  b.SetNodeDevices("node-m", "NVIDIA", {testing::TestDevice("GPU-m")});
  ContainerDevice on_core{"GPU-m", "NVIDIA", 9856, 15, "1g.10gb", {0, 1}};
  b.AddPod(testing::Allocation("p", "node-m", {{on_core}}));
  EXPECT_FALSE(b.Snapshot(names, nullptr)[0].devices[0].info.health);

  // A malformed MIG annotation keeps the pod's usage and takes the GPU out of service.
  Annotations bad = {{"hami.io/vgpu-devices-allocated", "GPU-m,NVIDIA,9856,15:;"},
                     {"hami.io/vgpu-mig-allocations", "[{\"containerIndex\":0}]"}};
  auto pod = AllocationFromAnnotations(registry_, "p", "default", "p", "node-m", 0, bad);
  ASSERT_TRUE(pod.ok());
  ASSERT_TRUE(pod->has_value());
  UsageLedger c;
  c.SetNodeDevices("node-m", "NVIDIA", {MigGpu("GPU-m")});
  c.AddPod(**pod);
  const DeviceUsage usage = c.Snapshot(names, nullptr)[0].devices[0];
  EXPECT_FALSE(usage.info.health);
  EXPECT_EQ(usage.used_mem_mib, 9856);
}

TEST_F(MigSchedulingTest, OverlappingReservationsAreReportedAsOverCommit) {
  UsageLedger ledger;
  ledger.SetNodeDevices("node-m", "NVIDIA", {MigGpu("GPU-m")});
  ledger.AddPod(testing::Allocation(
      "p1", "node-m", {{ContainerDevice{"GPU-m", "NVIDIA", 40448, 43, "3g.40gb", {4, 4}}}}));
  EXPECT_TRUE(ledger.CheckCapacity().ok());
  ledger.AddPod(testing::Allocation(
      "p2", "node-m", {{ContainerDevice{"GPU-m", "NVIDIA", 9856, 15, "1g.10gb", {5, 1}}}}));
  Status st = ledger.CheckCapacity();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("MIG placements"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace hami::scheduler
