#include "policy/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>

#include "policy/fgd.h"
#include "policy/frag.h"
#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

using testing::Gpu;
using testing::OnePod;
using testing::Req;
using testing::Used;

NodeState Node(const std::string& name, std::vector<DeviceUsage> devices) {
  NodeState n;
  n.name = name;
  n.devices = std::move(devices);
  return n;
}

TEST(HamiPolicyTest, BinpackPicksFullestNodeSpreadEmptiest) {
  std::vector<NodeState> nodes = {Node("n-empty", {Gpu("a", 0)}),
                                  Node("n-busy", {Used(Gpu("b", 0), 1, 4000, 20)})};
  HamiPolicy binpack("b", NodePolicy::kBinpack, GpuPolicy{});
  HamiPolicy spread("s", NodePolicy::kSpread, GpuPolicy{});
  PodRequest pod = OnePod(Req(1, 1000, 10));
  EXPECT_EQ(binpack.Place(pod, nodes, false).placement->node_index, 1);
  EXPECT_EQ(spread.Place(pod, nodes, false).placement->node_index, 0);
  pod.node_policy = NodePolicy::kSpread;  // per-pod annotation override
  EXPECT_EQ(binpack.Place(pod, nodes, false).placement->node_index, 0);
}

TEST(HamiPolicyTest, TiesGoToTheSmallestNodeName) {
  std::vector<NodeState> nodes = {Node("node-b", {Gpu("a", 0)}), Node("node-a", {Gpu("b", 0)})};
  HamiPolicy policy("b", NodePolicy::kBinpack, GpuPolicy{});
  EXPECT_EQ(policy.Place(OnePod(Req(1, 1, 1)), nodes, false).placement->node_index, 1);
}

TEST(HamiPolicyTest, FailedNodesCarryHamiReasons) {
  std::vector<NodeState> nodes = {Node("n1", {Used(Gpu("a", 0), 1, 0, 100)})};
  HamiPolicy policy("b", NodePolicy::kBinpack, GpuPolicy{});
  PlacementOutcome outcome = policy.Place(OnePod(Req(1, 1, 10)), nodes, true);
  EXPECT_FALSE(outcome.placement.has_value());
  ASSERT_EQ(outcome.failed_nodes.size(), 1u);
  EXPECT_EQ(outcome.failed_nodes[0].second, "1/1 CardInsufficientCore");
}

TEST(HamiPolicyTest, CachedVerdictsFollowNodeChangesAndRequestChanges) {
  // Verdicts are cached per (slot, generation, request): a changed node or a different request
  // is fitted again, an unchanged node is not re-read (a burst of one shape reuses them).
  std::vector<NodeState> nodes = {Node("n1", {Gpu("a", 0)}), Node("n2", {Gpu("b", 0)})};
  nodes[0].generation = 10;
  nodes[1].generation = 20;
  HamiPolicy policy("b", NodePolicy::kBinpack, GpuPolicy{});
  PlacementOutcome first = policy.Place(OnePod(Req(1, 10000, 10)), nodes, true);
  ASSERT_TRUE(first.placement.has_value());
  // n1 fills up (new generation): the same request must not see the old verdict.
  nodes[0].devices[0] = Used(Gpu("a", 0), 1, 10000, 10);
  nodes[0].generation = 11;
  PlacementOutcome second = policy.Place(OnePod(Req(1, 10000, 10)), nodes, true);
  ASSERT_TRUE(second.placement.has_value());
  EXPECT_EQ(second.placement->node_index, 1);
  ASSERT_EQ(second.failed_nodes.size(), 1u);
  EXPECT_EQ(second.failed_nodes[0].second, "1/1 CardInsufficientMemory");
  // A smaller request on the same generations fits n1 again (binpack: the fuller node).
  PlacementOutcome third = policy.Place(OnePod(Req(1, 1000, 10)), nodes, true);
  ASSERT_TRUE(third.placement.has_value());
  EXPECT_EQ(third.placement->node_index, 0);
  EXPECT_TRUE(third.failed_nodes.empty());
  // And the cached reasons come back when asked for later without being recomputed wrong.
  PlacementOutcome again = policy.Place(OnePod(Req(1, 10000, 10)), nodes, false);
  EXPECT_EQ(again.placement->node_index, 1);
}

TEST(FitPodTest, InitContainersSeeTheNodeAloneAppContainersAccumulate) {
  NodeState node = Node("n", {Gpu("a", 0, 10000)});
  PodRequest pod;
  pod.init_containers = 1;
  pod.containers = {Req(1, 8000, 10), Req(1, 6000, 10), Req(1, 4000, 10)};
  auto fit = FitPod(node, pod, GpuPolicy{}, nullptr);
  ASSERT_TRUE(fit.has_value());  // init 8000 alone; apps 6000 + 4000 = 10000
  CommitPlacement(node, pod, *fit);
  EXPECT_EQ(node.devices[0].used_mem_mib, 10000);  // max(init peak, app sum)
  EXPECT_EQ(node.devices[0].used, 2);
  pod.containers[2] = Req(1, 4001, 10);
  NodeState fresh = Node("n", {Gpu("a", 0, 10000)});
  EXPECT_FALSE(FitPod(fresh, pod, GpuPolicy{}, nullptr).has_value());
}

TEST(CommitPlacementTest, RemoveUndoesAdd) {
  NodeState node = Node("n", {Gpu("a", 0), Gpu("b", 1)});
  node.cpu_free_milli = 8000;
  node.memory_free_mib = 1000;
  PodRequest pod = OnePod(Req(2, 1000, 30));
  pod.cpu_milli = 3000;
  pod.memory_mib = 100;
  const std::vector<std::vector<int>> devices = {{0, 1}};
  CommitPlacement(node, pod, devices, +1);
  EXPECT_EQ(node.devices[1].used_cores, 30);
  EXPECT_EQ(node.cpu_free_milli, 5000);
  CommitPlacement(node, pod, devices, -1);
  EXPECT_EQ(node.devices[0].used, 0);
  EXPECT_EQ(node.devices[1].used_mem_mib, 0);
  EXPECT_EQ(node.cpu_free_milli, 8000);
  EXPECT_EQ(node.memory_free_mib, 1000);
  EXPECT_EQ(node.generation, 2u);
}

TEST(ToPodDevicesTest, RecordsResolvedDemand) {
  NodeState node = Node("n", {Gpu("GPU-a", 0, 15360), Gpu("GPU-b", 1, 15360)});
  PodRequest pod;
  pod.containers = {Req(0, 0, 0), Req(1, 0, 30, 50)};
  PodDevices devices = ToPodDevices(node, pod, {{}, {1}});
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_TRUE(devices[0].empty());
  EXPECT_EQ(devices[1][0], (ContainerDevice{"GPU-b", "NVIDIA", 7680, 30}));
}

// Property: whatever the policy, random clusters and request streams never over-commit any
// device on any dimension, never over-commit host resources, and every placement is one
// HAMi's rules allow at the moment it is made.
class NeverOvercommitTest : public ::testing::TestWithParam<int> {};

std::vector<std::unique_ptr<PlacementPolicy>> AllPolicies(const std::vector<TargetPod>& targets) {
  std::vector<std::unique_ptr<PlacementPolicy>> out;
  out.push_back(std::make_unique<HamiPolicy>("binpack", NodePolicy::kBinpack,
                                             GpuPolicy{{GpuPolicyKey::kBinpack}}));
  out.push_back(std::make_unique<HamiPolicy>("spread", NodePolicy::kSpread,
                                             GpuPolicy{{GpuPolicyKey::kSpread}}));
  out.push_back(std::make_unique<HamiPolicy>("mutex", NodePolicy::kBinpack,
                                             GpuPolicy{{GpuPolicyKey::kMutex}}));
  out.push_back(std::make_unique<FragPolicy>("frag-plain", targets, FragPolicyOptions{}));
  std::vector<FgdPodShape> shapes;
  for (const TargetPod& t : targets) {
    FgdPodShape shape;
    shape.cpu_milli = t.cpu_milli;
    shape.gpu_count = t.request.count;
    shape.gpu_milli = std::min(1000, t.request.cores_percent * 10);
    shapes.push_back(shape);
  }
  out.push_back(std::make_unique<FgdPolicy>("fgd", FgdTypicalPods(shapes)));
  FragPolicyOptions tuned;
  tuned.packing_weight = 0.02;
  tuned.stranding_weight = 2;
  tuned.device_fit_weight = 0.01;
  tuned.type_pressure_weight = 1;
  out.push_back(std::make_unique<FragPolicy>("hami-frag", targets, tuned));
  return out;
}

TEST_P(NeverOvercommitTest, RandomClustersAndPods) {
  std::mt19937_64 rng(static_cast<uint64_t>(GetParam()));
  auto uniform = [&](int lo, int hi) {
    return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  const char* types[] = {"NVIDIA-Tesla T4", "NVIDIA-A100", "NVIDIA-V100"};
  std::vector<NodeState> base;
  const int node_count = uniform(1, 12);  // node 0 is always the roomy one below
  for (int n = 0; n < node_count; ++n) {
    NodeState node = Node("node-" + std::to_string(n), {});
    const int gpus = uniform(0, 8);
    for (int g = 0; g < gpus; ++g) {
      DeviceUsage d = Gpu("GPU-" + std::to_string(n) + "-" + std::to_string(g), g,
                          uniform(1, 4) * 8192, types[uniform(0, 2)], uniform(0, 1));
      d.info.count = uniform(1, 10);
      d.info.devcore = uniform(0, 4) == 0 ? 200 : 100;
      d.info.health = uniform(0, 9) != 0;
      d.cordoned = uniform(0, 19) == 0;
      node.devices.push_back(d);
    }
    node.cpu_free_milli = uniform(0, 3) == 0 ? kUnknownHostResource : uniform(0, 64) * 1000;
    node.memory_free_mib =
        node.cpu_free_milli == kUnknownHostResource ? kUnknownHostResource : uniform(0, 256) * 1024;
    if (n == 0) {
      // One roomy, healthy node so that every seed exercises device placements.
      node.devices.clear();
      for (int g = 0; g < 4; ++g)
        node.devices.push_back(Gpu("GPU-roomy-" + std::to_string(g), g, 32768));
      node.cpu_free_milli = node.memory_free_mib = kUnknownHostResource;
    }
    node.generation = static_cast<uint64_t>(n) << 32;
    base.push_back(node);
  }
  auto random_request = [&]() {
    ContainerDeviceRequest r = Req(uniform(0, 3), 0, uniform(0, 110));
    switch (uniform(0, 2)) {
      case 0:
        r.memory_mib = uniform(1, 40000);
        break;
      case 1:
        r.memory_percent = uniform(1, 100);
        break;
      default:
        break;
    }
    return r;
  };
  std::vector<PodRequest> pods;
  std::vector<TargetPod> targets;
  for (int i = 0; i < 150; ++i) {
    PodRequest pod;
    const int containers = uniform(1, 3);
    for (int c = 0; c < containers; ++c) pod.containers.push_back(random_request());
    pod.init_containers = uniform(0, containers - 1);
    if (uniform(0, 9) == 0) pod.selectors.use_types = {"T4"};
    if (uniform(0, 9) == 0) pod.selectors.nouse_types = {"A100"};
    if (uniform(0, 14) == 0) pod.selectors.numa_bind = true;
    if (uniform(0, 14) == 0) pod.gpu_policy = GpuPolicy{{GpuPolicyKey::kBinpack}};
    pod.cpu_milli = uniform(0, 16) * 1000;
    pod.memory_mib = uniform(0, 64) * 1024;
    TargetPod t;
    t.request = pod.containers.back();
    t.allowed_types = pod.selectors.use_types;
    t.cpu_milli = pod.cpu_milli;
    t.memory_mib = pod.memory_mib;
    targets.push_back(t);
    pods.push_back(std::move(pod));
  }
  for (auto& policy : AllPolicies(targets)) {
    std::vector<NodeState> nodes = base;
    int placed = 0;
    for (const PodRequest& pod : pods) {
      PlacementOutcome outcome = policy->Place(pod, nodes, /*collect_reasons=*/(placed % 7) == 0);
      if (!outcome.placement) continue;
      NodeState& node = nodes[static_cast<size_t>(outcome.placement->node_index)];
      ASSERT_TRUE(HostFits(node, pod)) << policy->name();
      ASSERT_TRUE(PlacementAllowed(node, pod, outcome.placement->container_devices))
          << policy->name() << " placed a pod where HAMi's fit rules forbid";
      CommitPlacement(node, pod, outcome.placement->container_devices);
      if (pod.WantsDevices()) ++placed;
      for (const DeviceUsage& d : node.devices) {
        ASSERT_LE(d.used, d.info.count) << policy->name();
        ASSERT_LE(d.used_mem_mib, d.info.devmem_mib) << policy->name();
        ASSERT_LE(d.used_cores, d.info.devcore) << policy->name();
      }
      if (node.cpu_free_milli != kUnknownHostResource) {
        ASSERT_GE(node.cpu_free_milli, 0);
        ASSERT_GE(node.memory_free_mib, 0);
      }
    }
    EXPECT_GT(placed, 0) << policy->name() << " placed no pod with devices";
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, NeverOvercommitTest, ::testing::Range(1, 41));

// Property: PodFits (which skips ordering devices where it can) gives FitPod's verdict and,
// on failure, FitPod's exact reason string, for random usage, requests, selectors and policies.
TEST(PodFitsTest, AgreesWithFitPodOnRandomNodes) {
  std::mt19937_64 rng(7);
  auto uniform = [&](int lo, int hi) {
    return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  const char* types[] = {"NVIDIA-Tesla T4", "NVIDIA-A100"};
  const GpuPolicy policies[] = {
      GpuPolicy{{GpuPolicyKey::kSpread}}, GpuPolicy{{GpuPolicyKey::kBinpack}},
      GpuPolicy{{GpuPolicyKey::kMutex}}, GpuPolicy{{GpuPolicyKey::kBinpack, GpuPolicyKey::kNuma}}};
  int fits = 0, fails = 0;
  for (int round = 0; round < 20000; ++round) {
    NodeState node = Node("n", {});
    const int gpus = uniform(0, 8);
    for (int g = 0; g < gpus; ++g) {
      DeviceUsage d = Gpu("GPU-" + std::to_string(g), g, uniform(1, 4) * 8192, types[uniform(0, 1)],
                          uniform(0, 1));
      d.info.count = uniform(1, 4);
      d.info.health = uniform(0, 9) != 0;
      d.cordoned = uniform(0, 19) == 0;
      d.used = uniform(0, d.info.count);
      d.used_mem_mib = d.used == 0 ? 0 : uniform(0, d.info.devmem_mib);
      d.used_cores = d.used == 0 ? 0 : uniform(0, 100);
      node.devices.push_back(d);
    }
    PodRequest pod;
    const int containers = uniform(1, 3);
    for (int c = 0; c < containers; ++c) {
      pod.containers.push_back(
          Req(uniform(0, 3) == 0 ? 0 : uniform(1, 4), uniform(0, 20000), uniform(0, 100)));
    }
    pod.init_containers = uniform(0, containers - 1);
    if (uniform(0, 4) == 0) pod.selectors.use_types = {"T4"};
    if (uniform(0, 9) == 0) pod.selectors.nouse_uuids = {"GPU-1"};
    pod.selectors.numa_bind = uniform(0, 4) == 0;
    const GpuPolicy& policy = policies[uniform(0, 3)];
    FitFailure fast, full;
    const bool fast_fits = PodFits(node, pod, policy, &fast);
    const bool full_fits = FitPod(node, pod, policy, &full).has_value();
    ASSERT_EQ(fast_fits, full_fits) << "round " << round;
    if (!full_fits) {
      ASSERT_EQ(fast.ToString(), full.ToString()) << "round " << round;
      ++fails;
    } else {
      ++fits;
    }
  }
  EXPECT_GT(fits, 1000);  // both verdicts are well exercised
  EXPECT_GT(fails, 1000);
}

}  // namespace
}  // namespace hami::policy
