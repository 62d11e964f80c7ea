// ContainerDeviceRequest::index_sets: a vendor's topology rules (Kunlunxin XPU groups, Ascend
// 910C module pairs, AWS Neuron consecutive devices per instance family) as data. Every way a
// container's devices are chosen must keep to the listed sets of the rule governing the
// devices' type: the fit, the order-free verdict, placement checks and each placement policy.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "policy/fgd.h"
#include "policy/fit.h"
#include "policy/frag.h"
#include "policy/placement.h"
#include "policy/scheduler_policy.h"
#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

using testing::Gpu;
using testing::OnePod;
using testing::Req;
using testing::Used;

using IndexSets = std::vector<std::vector<int32_t>>;

// One rule for any device type.
ContainerDeviceRequest Pairs(int32_t count, IndexSets sets) {
  ContainerDeviceRequest r = Req(count, 1000, 0);
  r.index_sets = std::make_shared<const std::vector<IndexSetRule>>(
      std::vector<IndexSetRule>{IndexSetRule{"", std::move(sets)}});
  return r;
}

// Four devices whose DeviceInfo::index is not their position, to catch a mix-up of the two.
std::vector<DeviceUsage> FourDevices() {
  return {Gpu("D-3", 3), Gpu("D-2", 2), Gpu("D-1", 1), Gpu("D-0", 0)};
}

std::vector<int> AllPositions(size_t n) {
  std::vector<int> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
  return order;
}

std::vector<int32_t> IndexesOf(const std::vector<DeviceUsage>& devices,
                               const std::vector<int>& positions) {
  std::vector<int32_t> out;
  for (int p : positions) out.push_back(devices[static_cast<size_t>(p)].info.index);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(IndexSetsTest, FitTakesTheFirstListedSetWhoseDevicesAllPass) {
  std::vector<DeviceUsage> devices = FourDevices();
  const ContainerDeviceRequest request = Pairs(2, {{0, 1}, {2, 3}});
  auto chosen = FitContainer(devices, AllPositions(4), request, {}, false, nullptr);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(IndexesOf(devices, *chosen), (std::vector<int32_t>{0, 1}));

  // Device 1 cannot take more memory: the pair (0, 1) is out, (2, 3) is next.
  devices[2] = Used(devices[2], 1, 16000, 0);
  chosen = FitContainer(devices, AllPositions(4), request, {}, false, nullptr);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(IndexesOf(devices, *chosen), (std::vector<int32_t>{2, 3}));
  EXPECT_TRUE(ContainerFitsAnyOrder(devices, request, {}, false, nullptr));

  // Devices 0 and 3 still pass one by one, but (0, 3) is not a listed pair.
  devices[1] = Used(devices[1], 1, 16000, 0);
  FitFailure failure;
  EXPECT_FALSE(FitContainer(devices, AllPositions(4), request, {}, false, &failure));
  EXPECT_EQ(failure.counts[static_cast<size_t>(FitReason::kCardInsufficientMemory)], 2);
  EXPECT_EQ(failure.counts[static_cast<size_t>(FitReason::kAllocatedCardsInsufficientRequest)], 1);
  FitFailure verdict;
  EXPECT_FALSE(ContainerFitsAnyOrder(devices, request, {}, false, &verdict));
  EXPECT_EQ(verdict.ToString(), failure.ToString());
}

TEST(IndexSetsTest, SetsOfAnotherSizeOrAbsentDevicesNeverMatch) {
  const std::vector<DeviceUsage> devices = FourDevices();
  // A set naming device 7 (not on this node) and sets of the wrong size are skipped.
  const ContainerDeviceRequest request = Pairs(2, {{3, 7}, {0}, {0, 1, 2}, {1, 2}});
  auto chosen = FitContainer(devices, AllPositions(4), request, {}, false, nullptr);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(IndexesOf(devices, *chosen), (std::vector<int32_t>{1, 2}));

  FitFailure failure;
  EXPECT_FALSE(FitContainer(devices, AllPositions(4), Pairs(8, {{0, 1, 2, 3, 4, 5, 6, 7}}), {},
                            false, &failure));
  EXPECT_EQ(failure.ToString(), "1/4 NodeInsufficientDevice");
  EXPECT_FALSE(FitContainer(devices, AllPositions(4), Pairs(2, {}), {}, false, nullptr));
}

TEST(IndexSetsTest, PlacementAllowedRefusesAnUnlistedCombination) {
  NodeState node;
  node.name = "n";
  node.devices = FourDevices();
  const PodRequest pod = OnePod(Pairs(2, {{0, 1}, {2, 3}}));
  // Positions 3 and 2 hold indexes 0 and 1; positions 3 and 0 hold 0 and 3.
  EXPECT_TRUE(PlacementAllowed(node, pod, {{3, 2}}));
  EXPECT_FALSE(PlacementAllowed(node, pod, {{3, 0}}));
}

// Each policy hami-scheduler or the simulator runs keeps to the sets, even where its own
// preference (fuller devices, least fragmentation) would pick an unlisted pair.
TEST(IndexSetsTest, EveryPolicyPlacesOnlyListedSets) {
  NodeState node;
  node.name = "n";
  node.devices = {Gpu("D-0", 0), Used(Gpu("D-1", 1), 1, 8000, 0), Gpu("D-2", 2),
                  Used(Gpu("D-3", 3), 1, 8000, 0)};
  const std::vector<NodeState> nodes = {node};
  // Binpack alone would take the two half-used devices 1 and 3.
  const PodRequest pod = OnePod(Pairs(2, {{0, 1}, {2, 3}}));

  std::vector<std::unique_ptr<PlacementPolicy>> policies;
  GpuPolicy binpack;
  binpack.chain = {GpuPolicyKey::kBinpack};
  GpuPolicy topology;
  topology.chain = {GpuPolicyKey::kTopologyAware};
  policies.push_back(std::make_unique<HamiPolicy>("binpack", NodePolicy::kBinpack, binpack));
  policies.push_back(std::make_unique<HamiPolicy>("spread", NodePolicy::kSpread, GpuPolicy{}));
  policies.push_back(std::make_unique<HamiPolicy>("topology", NodePolicy::kBinpack, topology));
  policies.push_back(std::make_unique<FgdPolicy>("fgd", std::vector<FgdTypicalPod>{}));
  policies.push_back(std::make_unique<SchedulerPolicy>(SchedulerPolicyOptions{}));
  SchedulerPolicyOptions frag_options;
  frag_options.node_policy = NodePolicy::kFrag;
  policies.push_back(std::make_unique<SchedulerPolicy>(frag_options, "hami-frag"));
  for (auto& policy : policies) {
    policy->Observe(pod);
    PlacementOutcome outcome = policy->Place(pod, nodes, true);
    ASSERT_TRUE(outcome.placement.has_value()) << policy->name();
    const std::vector<int>& chosen = outcome.placement->container_devices[0];
    const std::vector<int32_t> indexes = IndexesOf(node.devices, chosen);
    EXPECT_TRUE(indexes == (std::vector<int32_t>{0, 1}) || indexes == (std::vector<int32_t>{2, 3}))
        << policy->name() << " chose " << ::testing::PrintToString(indexes);
  }
}

// Four devices of `type`, indexes 0..3.
std::vector<DeviceUsage> FourOfType(const std::string& type) {
  std::vector<DeviceUsage> devices;
  for (int32_t i = 0; i < 4; ++i) devices.push_back(Gpu("D-" + std::to_string(i), i, 16384, type));
  return devices;
}

// A rule per device type: each node is held to the rule of its devices' type, with the same
// indexes; a type no rule names gets no allowed set.
TEST(IndexSetsTest, EachDeviceTypeGetsItsOwnRule) {
  ContainerDeviceRequest request = Req(2, 1000, 0);
  request.index_sets = std::make_shared<const std::vector<IndexSetRule>>(std::vector<IndexSetRule>{
      {"Family-A", {{2, 3}, {0, 1}}},
      {"Family-B", {{1, 2}}},
  });
  EXPECT_EQ(request.IndexSetRuleFor("Family-A"), &request.index_sets->at(0));
  EXPECT_EQ(request.IndexSetRuleFor("Family-B"), &request.index_sets->at(1));
  EXPECT_EQ(request.IndexSetRuleFor("Family-C"), nullptr);

  const std::vector<DeviceUsage> a = FourOfType("Family-A");
  auto chosen = FitContainer(a, AllPositions(4), request, {}, false, nullptr);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(IndexesOf(a, *chosen), (std::vector<int32_t>{2, 3}));
  EXPECT_TRUE(ContainerFitsAnyOrder(a, request, {}, false, nullptr));

  const std::vector<DeviceUsage> b = FourOfType("Family-B");
  chosen = FitContainer(b, AllPositions(4), request, {}, false, nullptr);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(IndexesOf(b, *chosen), (std::vector<int32_t>{1, 2}));

  // Every device passes one by one, but no rule governs Family-C.
  const std::vector<DeviceUsage> c = FourOfType("Family-C");
  FitFailure failure;
  EXPECT_FALSE(FitContainer(c, AllPositions(4), request, {}, false, &failure));
  EXPECT_EQ(failure.counts[static_cast<size_t>(FitReason::kAllocatedCardsInsufficientRequest)], 1);
  FitFailure verdict;
  EXPECT_FALSE(ContainerFitsAnyOrder(c, request, {}, false, &verdict));
  EXPECT_EQ(verdict.ToString(), failure.ToString());

  // PlacementAllowed holds each node to its own rule.
  const PodRequest pod = OnePod(request);
  NodeState node;
  node.name = "n";
  node.devices = a;
  EXPECT_TRUE(PlacementAllowed(node, pod, {{0, 1}}));
  EXPECT_FALSE(PlacementAllowed(node, pod, {{1, 2}}));
  node.devices = b;
  EXPECT_TRUE(PlacementAllowed(node, pod, {{1, 2}}));
  EXPECT_FALSE(PlacementAllowed(node, pod, {{0, 1}}));
  node.devices = c;
  EXPECT_FALSE(PlacementAllowed(node, pod, {{0, 1}}));
  // Devices of two rules never form one set: Family-B lists (1, 2), but index 1 is Family-A's.
  node.devices = {a[0], a[1], b[2], b[3]};
  EXPECT_FALSE(PlacementAllowed(node, pod, {{1, 2}}));
  EXPECT_TRUE(PlacementAllowed(node, pod, {{0, 1}}));
  chosen = FitContainer(node.devices, AllPositions(4), request, {}, false, nullptr);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(IndexesOf(node.devices, *chosen), (std::vector<int32_t>{0, 1}));

  // The scheduler's policy takes each node's own sets.
  SchedulerPolicy policy{SchedulerPolicyOptions{}};
  for (const auto& [devices, want] :
       std::vector<std::pair<std::vector<DeviceUsage>, std::vector<int32_t>>>{{a, {2, 3}},
                                                                              {b, {1, 2}}}) {
    std::vector<NodeState> one(1);
    one[0].name = "n";
    one[0].devices = devices;
    PlacementOutcome outcome = policy.Place(pod, one, true);
    ASSERT_TRUE(outcome.placement.has_value());
    EXPECT_EQ(IndexesOf(devices, outcome.placement->container_devices[0]), want);
  }
  std::vector<NodeState> none(1);
  none[0].name = "n";
  none[0].devices = c;
  EXPECT_FALSE(policy.Place(pod, none, true).placement.has_value());
}

}  // namespace
}  // namespace hami::policy
