// ContainerDeviceRequest::index_sets: a vendor's topology rule (Kunlunxin XPU groups, Ascend
// 910C module pairs, AWS Neuron consecutive devices) as data. Every way a container's devices are
// chosen must keep to the listed sets: the fit, the order-free verdict, placement checks and
// each placement policy.
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

ContainerDeviceRequest Pairs(int32_t count, IndexSets sets) {
  ContainerDeviceRequest r = Req(count, 1000, 0);
  r.index_sets = std::make_shared<const IndexSets>(std::move(sets));
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

}  // namespace
}  // namespace hami::policy
