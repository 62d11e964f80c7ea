// Compact MIG placement through /filter (issue 17): a pod annotated
// hami.io/node-scheduler-policy: hami-frag gets the instance that keeps free slices contiguous
// in its hami.io/vgpu-mig-allocations reservation, and so does every pod that names no policy
// when hami-frag is the scheduler's default; other pods get HAMi's first free one.
#include <gtest/gtest.h>

#include "device/codec.h"
#include "device/config.h"
#include "policy/scheduler_policy.h"
#include "scheduler/filter.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

// An A100-80GB offering every profile NVML lists (as a dynamic-MIG plugin registers it).
DeviceInfo FullMigGpu(const std::string& id) {
  DeviceInfo d = testing::TestDevice(id, 81920);
  d.type = "NVIDIA A100-SXM4-80GB";
  d.mode = kModeMig;
  d.count = 7;
  d.mig_profiles = {
      MigProfile{"1g.10gb", 9856, 15, 1, {{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}}},
      MigProfile{"2g.20gb", 19968, 29, 2, {{0, 2}, {2, 2}, {4, 2}}},
      MigProfile{"3g.40gb", 40448, 43, 3, {{0, 4}, {4, 4}}},
      MigProfile{"4g.40gb", 40448, 58, 4, {{0, 4}}},
      MigProfile{"7g.80gb", 80896, 100, 7, {{0, 8}}},
  };
  return d;
}

nlohmann::json Pod(const std::string& uid, int mem, const std::string& node_policy) {
  nlohmann::json pod = {
      {"metadata", {{"name", "pod-" + uid}, {"namespace", "default"}, {"uid", uid}}},
      {"spec",
       {{"containers",
         nlohmann::json::array(
             {{{"name", "c"},
               {"resources",
                {{"limits",
                  {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", std::to_string(mem)}}}}}}})}}}};
  pod["metadata"]["annotations"] = {{"nvidia.com/vgpu-mode", "mig"}};
  if (!node_policy.empty()) {
    pod["metadata"]["annotations"]["hami.io/node-scheduler-policy"] = node_policy;
  }
  return pod;
}

class MigCompactTest : public ::testing::Test {
 protected:
  explicit MigCompactTest(policy::NodePolicy default_policy = policy::NodePolicy::kBinpack)
      : registry_(std::move(*MakeVendorRegistry(DefaultDeviceConfig()))),
        core_(registry_, ledger_,
              std::make_unique<policy::SchedulerPolicy>(OptionsWith(default_policy))) {
    ledger_.SetNodeDevices("node-m", "NVIDIA", {FullMigGpu("GPU-m")});
  }

  MigPlacement Reserve(const std::string& uid, int mem, const std::string& node_policy) {
    ExtenderArgs args;
    args.pod = Pod(uid, mem, node_policy);
    args.node_names = std::vector<std::string>{"node-m"};
    FilterDecision d = core_.Filter(args, 1700000000);
    EXPECT_TRUE(d.result.node_names.has_value()) << d.result.error;
    auto entries = DecodeMigAllocations(
        testing::DecisionAnnotationsOf(d)["hami.io/vgpu-mig-allocations"].get<std::string>());
    EXPECT_TRUE(entries.ok());
    if (!entries.ok() || entries->size() != 1) return {-1, -1};
    return (*entries)[0].placement;
  }

  static policy::SchedulerPolicyOptions OptionsWith(policy::NodePolicy node_policy) {
    policy::SchedulerPolicyOptions options;
    options.node_policy = node_policy;
    return options;
  }

  VendorRegistry registry_;
  UsageLedger ledger_;
  FilterCore core_;
};

// hami-scheduler --node-scheduler-policy hami-frag.
class MigCompactDefaultTest : public MigCompactTest {
 protected:
  MigCompactDefaultTest() : MigCompactTest(policy::NodePolicy::kFrag) {}
};

TEST_F(MigCompactTest, HamiFragPodsGetCompactInstancesOthersHamisFirstFit) {
  // hami-frag on the empty GPU: slice 6 rules out only the 7g and the 3g at 4-7.
  EXPECT_EQ(Reserve("u1", 8000, "hami-frag"), (MigPlacement{6, 1}));
  // Next to it: slice 4 costs the 2g at 4-5 only; slices 0-3 would cost the 4g too.
  EXPECT_EQ(Reserve("u2", 8000, "hami-frag"), (MigPlacement{4, 1}));
  // HAMi's binpack, and a pod that names no policy (the scheduler's default, binpack): HAMi's
  // first free slice.
  EXPECT_EQ(Reserve("u3", 8000, "binpack"), (MigPlacement{0, 1}));
  EXPECT_EQ(Reserve("u4", 8000, ""), (MigPlacement{1, 1}));
  EXPECT_TRUE(ledger_.CheckCapacity().ok());
}

TEST_F(MigCompactDefaultTest, PodsThatNameNoPolicyGetCompactInstances) {
  // The same sequence as above with no policy annotation: hami-frag is the default, so the
  // instances are compact (first fit would give 0 and 1).
  EXPECT_EQ(Reserve("u1", 8000, ""), (MigPlacement{6, 1}));
  EXPECT_EQ(Reserve("u2", 8000, ""), (MigPlacement{4, 1}));
  // The compact pair left 0-3 free for a 3g-sized request.
  EXPECT_EQ(Reserve("u3", 30000, ""), (MigPlacement{0, 4}));
  // A pod asking HAMi's binpack still gets HAMi's first free slice.
  EXPECT_EQ(Reserve("u4", 8000, "binpack"), (MigPlacement{5, 1}));
  EXPECT_TRUE(ledger_.CheckCapacity().ok());
}

}  // namespace
}  // namespace hami::scheduler
