// MIG placement (spec §3.4 rule 14): which instance a use of a MIG GPU takes, how a container
// asking several GPUs takes several instances of one MIG GPU, and that the fit, the verdict,
// the commit and the pod's devices agree on the instances.
#include <gtest/gtest.h>

#include <random>

#include "policy/fit.h"
#include "policy/placement.h"
#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

using testing::Gpu;
using testing::MigSelectors;
using testing::OneMigPod;
using testing::OnePod;
using testing::Req;
using testing::Used;

// An A100-80GB in MIG mode offering HAMi's usual profiles (placements as NVML reports them).
DeviceUsage MigA100(const std::string& id = "GPU-mig") {
  DeviceUsage d = Gpu(id, 0, 81920, "NVIDIA A100-SXM4-80GB");
  d.info.mode = kModeMig;
  d.info.count = 7;
  d.info.mig_profiles = {
      MigProfile{"7g.80gb", 80896, 100, 7, {{0, 8}}},
      MigProfile{"3g.40gb", 40448, 43, 3, {{0, 4}, {4, 4}}},
      MigProfile{"2g.20gb", 19968, 29, 2, {{0, 2}, {2, 2}, {4, 2}}},
      MigProfile{"1g.10gb", 9856, 15, 1, {{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}}},
  };
  return d;
}

NodeState Node(std::vector<DeviceUsage> devices) {
  NodeState n;
  n.name = "node";
  n.devices = std::move(devices);
  return n;
}

TEST(SelectMigInstanceTest, SmallestProfileThatHoldsTheMemoryThenFirstFreePlacement) {
  const DeviceUsage d = MigA100();
  auto pick = SelectMigInstance(d.info, {}, {}, 8000);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->profile, "1g.10gb");
  EXPECT_EQ(pick->placement, (MigPlacement{0, 1}));
  EXPECT_EQ(pick->memory_mib, 9856);
  EXPECT_EQ(pick->core, 15);

  pick = SelectMigInstance(d.info, {}, {}, 15000);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->profile, "2g.20gb");

  // Slices 0-1 taken: 2g.20gb moves to 2; a 1g instance at 1 blocks 2g at 0 as well.
  const std::vector<MigPlacement> occupied = {{1, 1}};
  pick = SelectMigInstance(d.info, occupied, {}, 15000);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->placement, (MigPlacement{2, 2}));

  // Both spans count as occupied.
  const std::vector<MigPlacement> mine = {{2, 2}};
  pick = SelectMigInstance(d.info, occupied, mine, 15000);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->placement, (MigPlacement{4, 2}));

  // Nothing is larger than the whole GPU.
  EXPECT_FALSE(SelectMigInstance(d.info, {}, {}, 90000));
  // No free slice left for any profile.
  const std::vector<MigPlacement> full = {{0, 8}};
  EXPECT_FALSE(SelectMigInstance(d.info, full, {}, 1));
}

TEST(SelectMigInstanceTest, EqualMemoryPrefersFewerSlices) {
  DeviceInfo info;
  info.mode = kModeMig;
  info.mig_profiles = {MigProfile{"1c.2g.20gb", 19968, 15, 2, {{0, 2}}},
                       MigProfile{"2g.20gb-lite", 19968, 15, 1, {{6, 1}}}};
  auto pick = SelectMigInstance(info, {}, {}, 100);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->profile, "2g.20gb-lite");
}

TEST(MigFitTest, NoFreeInstanceIsCardMigTopologyInfeasible) {
  DeviceUsage d = MigA100();
  for (int32_t s = 0; s < 7; ++s) d.mig_in_use.push_back({s, 1});
  d.used = 7;
  d.info.count = 8;  // slots left, instances not: the MIG rule is what refuses
  EXPECT_EQ(CheckDevice(d, Req(1, 5000, 0), MigSelectors(), false),
            FitReason::kCardMigTopologyInfeasible);
  FitFailure failure;
  EXPECT_FALSE(FitPod(Node({d}), OneMigPod(Req(1, 5000, 0)), GpuPolicy{}, &failure));
  EXPECT_EQ(failure.ToString(), "1/1 CardMigTopologyInfeasible");
  // A request no profile can hold is refused the same way, on an empty GPU.
  EXPECT_EQ(CheckDevice(MigA100(), Req(1, 81000, 0), MigSelectors(), false),
            FitReason::kCardMigTopologyInfeasible);
}

TEST(MigFitTest, OneContainerTakesSeveralInstancesOfOneMigGpu) {
  const NodeState node = Node({MigA100()});
  PodRequest pod = OneMigPod(Req(3, 9000, 0));
  auto fit = FitPod(node, pod, GpuPolicy{}, nullptr);
  ASSERT_TRUE(fit);  // not NodeInsufficientDevice although 3 > 1 device
  EXPECT_EQ((*fit)[0], (std::vector<int>{0, 0, 0}));
  EXPECT_TRUE(PodFits(node, pod, GpuPolicy{}, nullptr));
  const PodDevices devices = ToPodDevices(node, pod, *fit);
  ASSERT_EQ(devices[0].size(), 3u);
  for (int32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(devices[0][i].uuid, "GPU-mig");
    EXPECT_EQ(devices[0][i].mig_profile, "1g.10gb");
    EXPECT_EQ(devices[0][i].mig_placement, (MigPlacement{i, 1}));
    EXPECT_EQ(devices[0][i].used_mem_mib, 9856);  // charged the profile, as HAMi
    EXPECT_EQ(devices[0][i].used_cores, 15);
  }
  EXPECT_TRUE(PlacementAllowed(node, pod, *fit));

  // Eight 1g instances do not exist (slots would allow them).
  DeviceUsage roomy = MigA100();
  roomy.info.count = 10;
  FitFailure failure;
  EXPECT_FALSE(FitPod(Node({roomy}), OneMigPod(Req(8, 9000, 0)), GpuPolicy{}, &failure));
  EXPECT_EQ(failure.ToString(),
            "1/1 AllocatedCardsInsufficientRequest, 1/1 CardMigTopologyInfeasible");
  // The repeats also count against the task slots (instances would allow them).
  DeviceUsage two_slots = MigA100();
  two_slots.info.count = 2;
  failure = FitFailure{};
  EXPECT_FALSE(FitPod(Node({two_slots}), OneMigPod(Req(3, 9000, 0)), GpuPolicy{}, &failure));
  EXPECT_EQ(failure.ToString(),
            "1/1 AllocatedCardsInsufficientRequest, 1/1 CardTimeSlicingExhausted");
  // On a GPU that is not in MIG mode the "more devices than the node has" rule stays.
  failure = FitFailure{};
  EXPECT_FALSE(FitPod(Node({Gpu("GPU-t4", 0)}), OnePod(Req(2, 100, 0)), GpuPolicy{}, &failure));
  EXPECT_EQ(failure.ToString(), "1/1 NodeInsufficientDevice");
}

TEST(MigFitTest, EveryContainerHoldsItsOwnInstanceInitContainersToo) {
  const NodeState node = Node({MigA100()});
  PodRequest pod;
  pod.containers = {Req(1, 9000, 0), Req(1, 9000, 0), Req(1, 30000, 0)};
  pod.init_containers = 1;
  pod.selectors = MigSelectors();
  auto fit = FitPod(node, pod, GpuPolicy{}, nullptr);
  ASSERT_TRUE(fit);
  const PodDevices devices = ToPodDevices(node, pod, *fit);
  EXPECT_EQ(devices[0][0].mig_placement, (MigPlacement{0, 1}));
  EXPECT_EQ(devices[1][0].mig_placement, (MigPlacement{1, 1}));
  EXPECT_EQ(devices[2][0].mig_profile, "3g.40gb");
  EXPECT_EQ(devices[2][0].mig_placement, (MigPlacement{4, 4}));  // 0-3 blocked by 0 and 1

  NodeState after = node;
  CommitPlacement(after, pod, *fit);
  EXPECT_EQ(after.devices[0].mig_in_use, (std::vector<MigPlacement>{{0, 1}, {1, 1}, {4, 4}}));
  // Memory: init peak 9856 vs app sum 9856 + 40448.
  EXPECT_EQ(after.devices[0].used_mem_mib, 9856 + 40448);
  // The next pod sees those instances taken.
  auto next = FitPod(after, OneMigPod(Req(1, 30000, 0)), GpuPolicy{}, nullptr);
  EXPECT_FALSE(next);
  auto small = FitPod(after, OneMigPod(Req(1, 9000, 0)), GpuPolicy{}, nullptr);
  ASSERT_TRUE(small);
  EXPECT_EQ(ToPodDevices(after, OneMigPod(Req(1, 9000, 0)), *small)[0][0].mig_placement,
            (MigPlacement{2, 1}));
}

TEST(MigFitTest, PodSelectorsCanKeepPodsOffMig) {
  const NodeState node = Node({MigA100(), Gpu("GPU-t4", 1)});
  PodRequest pod = OnePod(Req(1, 1000, 10));
  pod.selectors.vgpu_mode = "hami-core";
  auto fit = FitPod(node, pod, GpuPolicy{}, nullptr);
  ASSERT_TRUE(fit);
  EXPECT_EQ((*fit)[0], (std::vector<int>{1}));
  EXPECT_TRUE(ToPodDevices(node, pod, *fit)[0][0].mig_profile.empty());
}

// Mode separation (issue 17; stricter than HAMi by default): a GPU in MIG mode serves only pods
// whose nvidia.com/vgpu-mode names mig, unless DeviceSelectors::mig_without_mode (hami-scheduler
// --mig-unannotated-pods allow) lets unannotated pods on as HAMi does; a pod that names a mode
// never lands on a GPU in another mode.
TEST(MigModeTest, MigGpusServeOnlyPodsThatAskForMig) {
  const DeviceUsage mig = MigA100();
  const DeviceUsage plain = Gpu("GPU-t4", 1);
  DeviceSelectors unannotated;
  DeviceSelectors allow;
  allow.mig_without_mode = true;
  DeviceSelectors hami_core;
  hami_core.vgpu_mode = "hami-core";
  DeviceSelectors hami_core_allow = hami_core;
  hami_core_allow.mig_without_mode = true;  // only for pods with no vgpu-mode at all
  DeviceSelectors either;
  either.vgpu_mode = "hami-core,mig";  // HAMi's rule: the device mode is a substring
  struct Case {
    const char* name;
    DeviceSelectors selectors;
    std::optional<FitReason> on_mig, on_plain;
  };
  const std::vector<Case> cases = {
      {"unannotated", unannotated, FitReason::kCardMigModeNotRequested, std::nullopt},
      {"unannotated, allow", allow, std::nullopt, std::nullopt},
      {"mig", MigSelectors(), std::nullopt, FitReason::kCardTypeMismatch},
      {"hami-core", hami_core, FitReason::kCardMigModeNotRequested, std::nullopt},
      {"hami-core, allow", hami_core_allow, FitReason::kCardMigModeNotRequested, std::nullopt},
      {"hami-core,mig", either, std::nullopt, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(CheckDevice(mig, Req(1, 5000, 0), c.selectors, false), c.on_mig);
    EXPECT_EQ(CheckDevice(plain, Req(1, 5000, 0), c.selectors, false), c.on_plain);
    EXPECT_EQ(TypeAllowed(mig.info, c.selectors), !c.on_mig.has_value());
    EXPECT_EQ(MigModeAllowed(c.selectors), !c.on_mig.has_value());
    EXPECT_EQ(HasMigDevice(std::vector<DeviceUsage>{mig, plain}, c.selectors),
              !c.on_mig.has_value());
  }
  EXPECT_EQ(FitReasonName(FitReason::kCardMigModeNotRequested), "CardMigModeNotRequested");

  // A node of MIG GPUs only: the unannotated pod is refused with the reason, per GPU.
  const NodeState mig_node = Node({MigA100("GPU-m0"), MigA100("GPU-m1")});
  FitFailure failure;
  PodRequest pod = OnePod(Req(1, 5000, 0));
  EXPECT_FALSE(FitPod(mig_node, pod, GpuPolicy{}, &failure));
  EXPECT_EQ(failure.ToString(), "2/2 CardMigModeNotRequested");
  failure = FitFailure{};
  EXPECT_FALSE(PodFits(mig_node, pod, GpuPolicy{}, &failure));
  EXPECT_EQ(failure.ToString(), "2/2 CardMigModeNotRequested");
  // Allowed, it gets the smallest instance that holds it, as in HAMi.
  pod.selectors.mig_without_mode = true;
  auto fit = FitPod(mig_node, pod, GpuPolicy{}, nullptr);
  ASSERT_TRUE(fit);
  EXPECT_EQ(ToPodDevices(mig_node, pod, *fit)[0][0].mig_profile, "1g.10gb");
  EXPECT_TRUE(PlacementAllowed(mig_node, pod, *fit));

  // A mixed node: the unannotated pod takes the plain GPU even where the GPU policy prefers the
  // MIG one; the mig pod takes the MIG GPU; the validator refuses the crossed placements.
  const NodeState mixed = Node({MigA100(), Used(Gpu("GPU-t4", 1), 1, 8000, 50)});
  for (const GpuPolicy& gpu_policy :
       {GpuPolicy{{GpuPolicyKey::kSpread}}, GpuPolicy{{GpuPolicyKey::kBinpack}}}) {
    PodRequest plain_pod = OnePod(Req(1, 5000, 0));
    auto plain_fit = FitPod(mixed, plain_pod, gpu_policy, nullptr);
    ASSERT_TRUE(plain_fit);
    EXPECT_EQ((*plain_fit)[0], (std::vector<int>{1}));
    EXPECT_TRUE(ToPodDevices(mixed, plain_pod, *plain_fit)[0][0].mig_profile.empty());
    EXPECT_FALSE(PlacementAllowed(mixed, plain_pod, {{0}}));
    PodRequest mig_pod = OneMigPod(Req(1, 5000, 0));
    auto mig_fit = FitPod(mixed, mig_pod, gpu_policy, nullptr);
    ASSERT_TRUE(mig_fit);
    EXPECT_EQ((*mig_fit)[0], (std::vector<int>{0}));
    EXPECT_FALSE(PlacementAllowed(mixed, mig_pod, {{1}}));
  }
}

// On nodes mixing MIG and plain GPUs, the verdict (PodFits), the choice (FitPod), the validator
// (PlacementAllowed) and the pod's devices (ToPodDevices) agree, and no two uses share a slice.
TEST(MigFitTest, RandomPodsOnMixedNodesNeverShareASlice) {
  std::mt19937 rng(7);
  int mig_uses = 0, refused = 0;
  for (int round = 0; round < 300; ++round) {
    NodeState node = Node({MigA100("GPU-m0"), Gpu("GPU-t4", 1), MigA100("GPU-m1")});
    for (int p = 0; p < 6; ++p) {
      PodRequest pod;
      const int containers = 1 + static_cast<int>(rng() % 3);
      for (int c = 0; c < containers; ++c) {
        pod.containers.push_back(Req(1 + static_cast<int32_t>(rng() % 3),
                                     static_cast<int32_t>(1000 + rng() % 40000), 0));
      }
      pod.init_containers = static_cast<int>(rng() % 2);
      // Unannotated, mig only, either (HAMi's substring rule), HAMi's permissive rule or not.
      static const char* const kModes[] = {"", "mig", "hami-core,mig", "hami-core"};
      pod.selectors.vgpu_mode = kModes[rng() % 4];
      pod.selectors.mig_without_mode = rng() % 2 == 0;
      const bool may_use_mig = MigModeAllowed(pod.selectors);
      auto fit = FitPod(node, pod, GpuPolicy{}, nullptr);
      ASSERT_EQ(PodFits(node, pod, GpuPolicy{}, nullptr), fit.has_value());
      if (!fit) {
        ++refused;
        continue;
      }
      ASSERT_TRUE(PlacementAllowed(node, pod, *fit));
      const PodDevices devices = ToPodDevices(node, pod, *fit);
      for (size_t c = 0; c < devices.size(); ++c) {
        ASSERT_EQ(devices[c].size(), (*fit)[c].size());
        for (const ContainerDevice& d : devices[c]) mig_uses += d.mig_profile.empty() ? 0 : 1;
        for (int index : (*fit)[c]) {
          // Mode separation: a MIG GPU only for pods that may use one; with "mig" alone, only
          // MIG GPUs.
          const bool on_mig = node.devices[static_cast<size_t>(index)].info.mode == kModeMig;
          ASSERT_TRUE(!on_mig || may_use_mig);
          ASSERT_TRUE(on_mig || pod.selectors.vgpu_mode != "mig");
        }
      }
      CommitPlacement(node, pod, *fit);
    }
    for (const DeviceUsage& d : node.devices) {
      for (size_t i = 0; i < d.mig_in_use.size(); ++i) {
        for (size_t k = i + 1; k < d.mig_in_use.size(); ++k) {
          ASSERT_FALSE(d.mig_in_use[i].Overlaps(d.mig_in_use[k])) << d.info.id;
        }
      }
      if (d.info.mode == kModeMig) EXPECT_LE(d.used_mem_mib, d.info.devmem_mib);
    }
  }
  // The rounds both fill the GPUs and run out of instances.
  EXPECT_GT(mig_uses, 1000);
  EXPECT_GT(refused, 300);
}

}  // namespace
}  // namespace hami::policy
