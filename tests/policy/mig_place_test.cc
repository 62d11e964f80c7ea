// MIG placement rules (issue 17): HAMi's first fit and our compact rule, exhaustively on the
// A100 / H100 / A30 layouts NVML reports, with the sequences where first fit strands a 4g.
#include "policy/mig_place.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "policy/placement.h"
#include "policy/scheduler_policy.h"
#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

// Placements as NVML reports them (start, size in memory slices; 8 memory slices, 7 compute).
std::vector<MigPlacement> Ones() {
  return {{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}};
}

DeviceInfo A100_40() {
  DeviceInfo d;
  d.mode = kModeMig;
  d.count = 7;
  d.mig_profiles = {
      MigProfile{"1g.5gb", 4864, 15, 1, Ones()},
      MigProfile{"1g.10gb", 9856, 15, 1, {{0, 2}, {2, 2}, {4, 2}, {6, 2}}},
      MigProfile{"2g.10gb", 9856, 29, 2, {{0, 2}, {2, 2}, {4, 2}}},
      MigProfile{"3g.20gb", 19968, 43, 3, {{0, 4}, {4, 4}}},
      MigProfile{"4g.20gb", 19968, 58, 4, {{0, 4}}},
      MigProfile{"7g.40gb", 40192, 100, 7, {{0, 8}}},
  };
  return d;
}

DeviceInfo H100_80() {
  DeviceInfo d;
  d.mode = kModeMig;
  d.count = 7;
  d.mig_profiles = {
      MigProfile{"1g.10gb", 9984, 15, 1, Ones()},
      MigProfile{"1g.20gb", 19968, 15, 1, {{0, 2}, {2, 2}, {4, 2}, {6, 2}}},
      MigProfile{"2g.20gb", 19968, 29, 2, {{0, 2}, {2, 2}, {4, 2}}},
      MigProfile{"3g.40gb", 40448, 43, 3, {{0, 4}, {4, 4}}},
      MigProfile{"4g.40gb", 40448, 58, 4, {{0, 4}}},
      MigProfile{"7g.80gb", 80896, 100, 7, {{0, 8}}},
  };
  return d;
}

// 4 slices, to check nothing assumes 7/8.
DeviceInfo A30() {
  DeviceInfo d;
  d.mode = kModeMig;
  d.count = 4;
  d.mig_profiles = {
      MigProfile{"1g.6gb", 5888, 25, 1, {{0, 1}, {1, 1}, {2, 1}, {3, 1}}},
      MigProfile{"2g.12gb", 11776, 50, 2, {{0, 2}, {2, 2}}},
      MigProfile{"4g.24gb", 24064, 100, 4, {{0, 4}}},
  };
  return d;
}

const MigProfile& Profile(const DeviceInfo& d, const std::string& name) {
  for (const MigProfile& p : d.mig_profiles) {
    if (p.name == name) return p;
  }
  ADD_FAILURE() << "no profile " << name;
  return d.mig_profiles.front();
}

// Every legal set of instances (pairwise non-overlapping listed placements) on `d`.
std::vector<std::vector<MigPlacement>> AllStates(const DeviceInfo& d) {
  std::vector<MigPlacement> all;
  for (const MigProfile& p : d.mig_profiles) {
    for (const MigPlacement& pl : p.placements) {
      if (std::find(all.begin(), all.end(), pl) == all.end()) all.push_back(pl);
    }
  }
  std::vector<std::vector<MigPlacement>> states;
  std::vector<MigPlacement> cur;
  std::function<void(size_t)> rec = [&](size_t i) {
    if (i == all.size()) {
      states.push_back(cur);
      return;
    }
    rec(i + 1);
    if (MigPlacementFree(all[i], cur, {})) {
      cur.push_back(all[i]);
      rec(i + 1);
      cur.pop_back();
    }
  };
  rec(0);
  return states;
}

TEST(MigPlaceTest, RuleNamesRoundTrip) {
  for (auto rule : {MigPlacementRule::kFirstFit, MigPlacementRule::kCompact}) {
    EXPECT_EQ(ParseMigPlacementRule(MigPlacementRuleName(rule)), rule);
  }
  EXPECT_FALSE(ParseMigPlacementRule("best"));
}

TEST(MigPlaceTest, HeadroomOfAnEmptyAndAPartlyUsedA100) {
  const DeviceInfo d = A100_40();
  // Above 1 slice: 2g x3 (2 each) + 3g x2 (3 each) + 4g (4) + 7g (7).
  EXPECT_EQ(MigHeadroom(d, {}, 1), 6 + 6 + 4 + 7);
  EXPECT_EQ(MigHeadroom(d, {}, 3), 4 + 7);
  EXPECT_EQ(MigHeadroom(d, {}, 7), 0);
  const std::vector<MigPlacement> one_at_6 = {{6, 1}};
  EXPECT_EQ(MigHeadroom(d, one_at_6, 1), 6 + 3 + 4);  // 3g@4 and 7g are gone
  const std::vector<MigPlacement> one_at_0 = {{0, 1}};
  EXPECT_EQ(MigHeadroom(d, one_at_0, 1), 4 + 3);  // 2g@2, 2g@4, 3g@4
}

TEST(MigPlaceTest, CompactPutsSmallInstancesAtTheEnd) {
  for (const DeviceInfo& d : {A100_40(), H100_80()}) {
    const std::string one = d.mig_profiles[0].name;
    auto first = PlaceMigProfile(MigPlacementRule::kFirstFit, d, Profile(d, one), {}, {});
    auto ours = PlaceMigProfile(MigPlacementRule::kCompact, d, Profile(d, one), {}, {});
    ASSERT_TRUE(first && ours);
    EXPECT_EQ(*first, (MigPlacement{0, 1}));
    // Slice 6 costs only the 7g and 3g@4; slice 0 would cost the 4g, 3g@0 and 2g@0 as well.
    EXPECT_EQ(*ours, (MigPlacement{6, 1}));
    // A 3g goes to the upper half, keeping the 4g placeable.
    const std::string three = d.mig_profiles[3].name;
    EXPECT_EQ(*PlaceMigProfile(MigPlacementRule::kCompact, d, Profile(d, three), {}, {}),
              (MigPlacement{4, 4}));
    EXPECT_EQ(*PlaceMigProfile(MigPlacementRule::kFirstFit, d, Profile(d, three), {}, {}),
              (MigPlacement{0, 4}));
  }
}

// The sequences of the issue: first fit leaves four free slices and no 4g placement.
TEST(MigPlaceTest, FirstFitStrandsA4gWhereCompactDoesNot) {
  struct Case {
    DeviceInfo device;
    std::vector<std::string> before;  // profiles placed in order
    std::string then;                 // the profile that must still fit
  };
  const std::vector<Case> cases = {
      {A100_40(), {"1g.5gb", "2g.10gb"}, "4g.20gb"},
      {A100_40(), {"3g.20gb"}, "4g.20gb"},
      {A100_40(), {"2g.10gb", "1g.5gb"}, "4g.20gb"},
      {H100_80(), {"1g.10gb", "1g.10gb", "1g.10gb"}, "4g.40gb"},
      {H100_80(), {"1g.20gb", "2g.20gb"}, "4g.40gb"},
      {H100_80(), {"3g.40gb"}, "4g.40gb"},
  };
  for (const Case& c : cases) {
    std::vector<MigPlacement> first, ours;
    for (const std::string& name : c.before) {
      const MigProfile& p = Profile(c.device, name);
      auto f = PlaceMigProfile(MigPlacementRule::kFirstFit, c.device, p, first, {});
      auto o = PlaceMigProfile(MigPlacementRule::kCompact, c.device, p, ours, {});
      ASSERT_TRUE(f && o) << name;
      first.push_back(*f);
      ours.push_back(*o);
    }
    const MigProfile& then = Profile(c.device, c.then);
    EXPECT_FALSE(PlaceMigProfile(MigPlacementRule::kFirstFit, c.device, then, first, {}))
        << c.then << " after first fit";
    EXPECT_TRUE(PlaceMigProfile(MigPlacementRule::kCompact, c.device, then, ours, {}))
        << c.then << " after compact";
  }
}

// Exhaustive over every legal state of each layout and every profile's memory: first fit is
// SelectMigInstance; compact picks the same profile, succeeds exactly when it does, takes a
// listed placement that overlaps nothing, and loses no more headroom than any other choice.
TEST(MigPlaceTest, ExhaustiveLegalityAndOptimalityOnEveryState) {
  for (const DeviceInfo& d : {A100_40(), H100_80(), A30()}) {
    const auto states = AllStates(d);
    EXPECT_GT(states.size(), 20u);
    for (const auto& occupied : states) {
      for (const MigProfile& want : d.mig_profiles) {
        const int64_t memory = want.memory_mib;
        auto hami = SelectMigInstance(d, occupied, {}, memory);
        auto first = SelectMigInstanceBy(MigPlacementRule::kFirstFit, d, occupied, {}, memory);
        auto ours = SelectMigInstanceBy(MigPlacementRule::kCompact, d, occupied, {}, memory);
        ASSERT_EQ(hami.has_value(), first.has_value());
        ASSERT_EQ(hami.has_value(), ours.has_value());
        if (!hami) continue;
        EXPECT_EQ(first->profile, hami->profile);
        EXPECT_EQ(first->placement, hami->placement);
        EXPECT_EQ(ours->profile, hami->profile);
        EXPECT_EQ(ours->memory_mib, hami->memory_mib);
        const MigProfile& p = Profile(d, ours->profile);
        EXPECT_NE(std::find(p.placements.begin(), p.placements.end(), ours->placement),
                  p.placements.end());
        EXPECT_TRUE(MigPlacementFree(ours->placement, occupied, {}));
        auto after = [&](const MigPlacement& pl) {
          std::vector<MigPlacement> with = occupied;
          with.push_back(pl);
          return MigHeadroom(d, with, p.slice_count);
        };
        for (const MigPlacement& other : p.placements) {
          if (!MigPlacementFree(other, occupied, {})) continue;
          EXPECT_GE(after(ours->placement), after(other));
          if (after(ours->placement) == after(other)) {
            EXPECT_LE(ours->placement.start, other.start);
          }
        }
      }
    }
  }
}

TEST(MigPlaceTest, AlsoOccupiedCountsAsTaken) {
  const DeviceInfo d = A100_40();
  const std::vector<MigPlacement> occupied = {{6, 1}};
  const std::vector<MigPlacement> mine = {{5, 1}, {4, 1}};
  auto pick = SelectMigInstanceBy(MigPlacementRule::kCompact, d, occupied, mine, 4000);
  ASSERT_TRUE(pick);
  EXPECT_TRUE(MigPlacementFree(pick->placement, occupied, mine));
  // 0..3 are free: any of them costs one 2g, the 3g@0 and the 4g, so the lowest start wins.
  EXPECT_EQ(pick->placement, (MigPlacement{0, 1}));
}

TEST(MigPlaceTest, AcrossGpusCompactPrefersTheGpuWhereTheInstanceCostsLeast) {
  const DeviceInfo a = A100_40(), b = A100_40();
  const std::vector<MigPlacement> empty;
  const std::vector<MigPlacement> one = {{6, 1}};
  std::vector<MigGpuView> gpus = {{&a, empty}, {&b, one}};
  auto first = PlaceMigProfileOnGpus(MigPlacementRule::kFirstFit, gpus, "1g.5gb");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->gpu, 0u);
  EXPECT_EQ(first->placement, (MigPlacement{0, 1}));
  auto ours = PlaceMigProfileOnGpus(MigPlacementRule::kCompact, gpus, "1g.5gb");
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->gpu, 1u);  // costs 2g@4 (2) there, 7g + 3g@4 (10) on the empty GPU
  EXPECT_EQ(ours->placement, (MigPlacement{4, 1}));

  // A 7g takes the only GPU it fits on, whatever its cost.
  auto whole = PlaceMigProfileOnGpus(MigPlacementRule::kCompact, gpus, "7g.40gb");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->gpu, 0u);
  // A profile no GPU offers, or no room anywhere: nullopt.
  EXPECT_FALSE(PlaceMigProfileOnGpus(MigPlacementRule::kCompact, gpus, "7g.80gb"));
  const std::vector<MigPlacement> full = {{0, 8}};
  std::vector<MigGpuView> full_gpus = {{&a, full}, {&b, full}};
  EXPECT_FALSE(PlaceMigProfileOnGpus(MigPlacementRule::kCompact, full_gpus, "1g.5gb"));
  EXPECT_FALSE(PlaceMigProfileOnGpus(MigPlacementRule::kFirstFit, full_gpus, "1g.5gb"));

  // Equal cost: the fuller GPU (best fit), then the lower index.
  const std::vector<MigPlacement> two = {{6, 1}, {5, 1}};
  std::vector<MigGpuView> tie = {{&a, one}, {&b, two}};
  auto fuller = PlaceMigProfileOnGpus(MigPlacementRule::kCompact, tie, "1g.5gb");
  ASSERT_TRUE(fuller);
  EXPECT_EQ(fuller->gpu, 1u);
}

// Random arrivals and departures over a mixed node: both rules succeed on exactly the same
// states per GPU, and compact's instances never overlap.
TEST(MigPlaceTest, RandomSequencesNeverOverlapAndSucceedWhenFirstFitWould) {
  std::mt19937_64 rng(17);
  const std::vector<DeviceInfo> devices = {A100_40(), H100_80(), A100_40(), A30()};
  std::vector<std::vector<MigPlacement>> used(devices.size());
  for (int step = 0; step < 4000; ++step) {
    const size_t g = rng() % devices.size();
    if (!used[g].empty() && rng() % 3 == 0) {
      used[g].erase(used[g].begin() + static_cast<long>(rng() % used[g].size()));
      continue;
    }
    std::vector<MigGpuView> views;
    for (size_t i = 0; i < devices.size(); ++i) views.push_back({&devices[i], used[i]});
    const DeviceInfo& d = devices[g];
    const MigProfile& p = d.mig_profiles[rng() % d.mig_profiles.size()];
    auto any_first = PlaceMigProfileOnGpus(MigPlacementRule::kFirstFit, views, p.name);
    auto ours = PlaceMigProfileOnGpus(MigPlacementRule::kCompact, views, p.name);
    ASSERT_EQ(any_first.has_value(), ours.has_value());
    if (!ours) continue;
    const DeviceInfo& target = devices[ours->gpu];
    const MigProfile& tp = Profile(target, p.name);
    ASSERT_NE(std::find(tp.placements.begin(), tp.placements.end(), ours->placement),
              tp.placements.end());
    ASSERT_TRUE(MigPlacementFree(ours->placement, used[ours->gpu], {}));
    used[ours->gpu].push_back(ours->placement);
  }
}

// In the scheduler's fit: a pod that asks for hami-frag gets compact instances, others HAMi's,
// and FitPod, the pod devices and the commit agree on them.
TEST(MigPlaceTest, FitPodPlacesByThePodsNodePolicy) {
  DeviceUsage gpu = testing::Gpu("GPU-mig", 0, 40960, "NVIDIA A100-SXM4-40GB");
  gpu.info = A100_40();
  gpu.info.id = "GPU-mig";
  gpu.info.devmem_mib = 40960;
  gpu.info.devcore = 100;
  gpu.info.health = true;
  gpu.info.type = "NVIDIA A100-SXM4-40GB";
  NodeState node;
  node.name = "node";
  node.devices = {gpu};
  EXPECT_EQ(MigRuleFor(PodRequest{}), MigPlacementRule::kFirstFit);

  struct Case {
    std::optional<NodePolicy> policy;
    std::vector<MigPlacement> want;  // two 1g.5gb instances of one container
  };
  const std::vector<Case> cases = {
      {std::nullopt, {{0, 1}, {1, 1}}},
      {NodePolicy::kBinpack, {{0, 1}, {1, 1}}},
      {NodePolicy::kSpread, {{0, 1}, {1, 1}}},
      {NodePolicy::kFrag, {{6, 1}, {4, 1}}},
  };
  for (const Case& c : cases) {
    PodRequest pod = testing::OneMigPod(testing::Req(2, 4000, 0));
    pod.node_policy = c.policy;
    auto fit = FitPod(node, pod, GpuPolicy{}, nullptr);
    ASSERT_TRUE(fit);
    EXPECT_EQ((*fit)[0], (std::vector<int>{0, 0}));
    const PodDevices devices = ToPodDevices(node, pod, *fit);
    ASSERT_EQ(devices[0].size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(devices[0][i].mig_profile, "1g.5gb");
      EXPECT_EQ(devices[0][i].mig_placement, c.want[i]);
    }
    NodeState committed = node;
    CommitPlacement(committed, pod, *fit, +1);
    EXPECT_EQ(committed.devices[0].mig_in_use, c.want);
    EXPECT_TRUE(PlacementAllowed(node, pod, *fit));
  }
  // After the compact pair, a hami-frag 4g-sized request (3g.20gb by memory: HAMi's profile
  // choice) still has room at 0-3 too.
  PodRequest frag = testing::OneMigPod(testing::Req(2, 4000, 0));
  frag.node_policy = NodePolicy::kFrag;
  CommitPlacement(node, frag, *FitPod(node, frag, GpuPolicy{}, nullptr), +1);
  PodRequest big = testing::OneMigPod(testing::Req(1, 19000, 0));
  big.node_policy = NodePolicy::kFrag;
  auto fit = FitPod(node, big, GpuPolicy{}, nullptr);
  ASSERT_TRUE(fit);
  EXPECT_EQ(ToPodDevices(node, big, *fit)[0][0].mig_placement, (MigPlacement{0, 4}));
}

// Across a node's MIG GPUs a hami-frag pod goes where its instance costs least (the partly used
// GPU), whatever the GPU policy prefers; other pods follow the GPU policy as HAMi does.
TEST(MigPlaceTest, FitPodOrdersMigGpusByHeadroomCostForHamiFrag) {
  auto mig_gpu = [](const std::string& id, int32_t index) {
    DeviceUsage d = testing::Gpu(id, index, 40960, "NVIDIA A100-SXM4-40GB");
    const std::string type = d.info.type;
    d.info = A100_40();
    d.info.id = id;
    d.info.index = index;
    d.info.devmem_mib = 40960;
    d.info.devcore = 100;
    d.info.health = true;
    d.info.type = type;
    return d;
  };
  NodeState node;
  node.name = "node";
  node.devices = {mig_gpu("GPU-empty", 0), mig_gpu("GPU-used", 1)};
  node.devices[1].mig_in_use = {{6, 1}};
  node.devices[1].used = 1;
  node.devices[1].used_mem_mib = 4864;
  node.devices[1].used_cores = 15;
  for (const auto& gpu_policy :
       {GpuPolicy{{GpuPolicyKey::kSpread}}, GpuPolicy{{GpuPolicyKey::kBinpack}}}) {
    PodRequest pod = testing::OneMigPod(testing::Req(1, 4000, 0));
    pod.node_policy = NodePolicy::kFrag;
    auto fit = FitPod(node, pod, gpu_policy, nullptr);
    ASSERT_TRUE(fit);
    EXPECT_EQ((*fit)[0], (std::vector<int>{1}));
    EXPECT_EQ(ToPodDevices(node, pod, *fit)[0][0].mig_placement, (MigPlacement{4, 1}));
  }
  // HAMi's spread takes the emptier GPU, first placement.
  PodRequest hami = testing::OneMigPod(testing::Req(1, 4000, 0));
  hami.node_policy = NodePolicy::kSpread;
  auto fit = FitPod(node, hami, GpuPolicy{{GpuPolicyKey::kSpread}}, nullptr);
  ASSERT_TRUE(fit);
  EXPECT_EQ((*fit)[0], (std::vector<int>{0}));
  EXPECT_EQ(ToPodDevices(node, hami, *fit)[0][0].mig_placement, (MigPlacement{0, 1}));

  // The ordering alone: the used GPU last (tried first); a GPU with no room first; a non-MIG
  // device keeps its position.
  std::vector<DeviceUsage> devices = {mig_gpu("a", 0), mig_gpu("b", 1), mig_gpu("c", 2),
                                      testing::Gpu("plain", 3)};
  devices[0].mig_in_use = {{6, 1}};
  devices[2].mig_in_use = {{0, 8}};
  std::vector<int> order = {0, 3, 1, 2};
  OrderMigDevicesByHeadroomCost(devices, testing::Req(1, 4000, 0), order);
  EXPECT_EQ(order, (std::vector<int>{2, 3, 1, 0}));
}

// hami-frag as the scheduler's default (no annotation) places MIG instances compactly, like the
// annotation: SchedulerPolicy::ResolveDefaults writes the default in, and the placement, the pod
// devices and the commit agree. A binpack default keeps HAMi's first fit.
TEST(MigPlaceTest, SchedulerDefaultHamiFragPlacesCompact) {
  DeviceUsage gpu = testing::Gpu("GPU-mig", 0, 40960, "NVIDIA A100-SXM4-40GB");
  gpu.info = A100_40();
  gpu.info.id = "GPU-mig";
  gpu.info.devmem_mib = 40960;
  gpu.info.devcore = 100;
  gpu.info.health = true;
  gpu.info.type = "NVIDIA A100-SXM4-40GB";
  NodeState node;
  node.name = "node";
  node.devices = {gpu};
  struct Case {
    NodePolicy default_policy;
    std::optional<NodePolicy> annotation;
    std::vector<MigPlacement> want;  // two 1g.5gb instances of one container
  };
  const std::vector<Case> cases = {
      {NodePolicy::kFrag, std::nullopt, {{6, 1}, {4, 1}}},
      {NodePolicy::kFrag, NodePolicy::kBinpack, {{0, 1}, {1, 1}}},  // the annotation wins
      {NodePolicy::kBinpack, std::nullopt, {{0, 1}, {1, 1}}},
      {NodePolicy::kBinpack, NodePolicy::kFrag, {{6, 1}, {4, 1}}},
      {NodePolicy::kSpread, std::nullopt, {{0, 1}, {1, 1}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.default_policy));
    SchedulerPolicyOptions options;
    options.node_policy = c.default_policy;
    SchedulerPolicy policy(options);
    PodRequest pod = testing::OneMigPod(testing::Req(2, 4000, 0));
    pod.node_policy = c.annotation;
    policy.ResolveDefaults(pod);
    EXPECT_EQ(pod.node_policy, c.annotation.value_or(c.default_policy));
    policy.Observe(pod);
    const std::vector<NodeState> nodes = {node};
    PlacementOutcome outcome = policy.Place(pod, nodes, /*collect_reasons=*/false);
    ASSERT_TRUE(outcome.placement);
    const PodDevices devices = ToPodDevices(node, pod, outcome.placement->container_devices);
    ASSERT_EQ(devices[0].size(), 2u);
    EXPECT_EQ(devices[0][0].mig_placement, c.want[0]);
    EXPECT_EQ(devices[0][1].mig_placement, c.want[1]);
    NodeState committed = node;
    CommitPlacement(committed, pod, outcome.placement->container_devices, +1);
    EXPECT_EQ(committed.devices[0].mig_in_use, c.want);
  }
  // A bare FragPolicy (hami simulate's hami-frag-oracle) resolves an unset policy to hami-frag.
  FragPolicy frag("frag", {}, HamiFragWeights());
  PodRequest pod = testing::OneMigPod(testing::Req(1, 4000, 0));
  frag.ResolveDefaults(pod);
  EXPECT_EQ(pod.node_policy, NodePolicy::kFrag);
  EXPECT_EQ(MigRuleFor(pod), MigPlacementRule::kCompact);
}

}  // namespace
}  // namespace hami::policy
