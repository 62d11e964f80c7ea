// The topology-aware GPU policy: HAMi's choice by link scores (spec §3.4), table-driven.
#include "policy/topology.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>

#include "policy/placement.h"
#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

using testing::Gpu;
using testing::OnePod;
using testing::Req;
using testing::Used;

// HAMi's scale: NVLink count x 100 plus the PCIe path (same switch 50 ... across CPUs 10).
constexpr int32_t kTwoNvlinks = 2 * 100 + 50;
constexpr int32_t kOneNvlink = 100 + 50;
constexpr int32_t kSameCpu = 20;

std::string Uuid(int i) { return "GPU-" + std::to_string(i); }

// A node of `n` T4-sized GPUs with link scores score(a, b) (symmetric, as published).
NodeState LinkedNode(int n, const std::function<int32_t(int, int)>& score) {
  NodeState node;
  node.name = "n";
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    node.devices.push_back(Gpu(Uuid(i), i));
    ids.push_back(Uuid(i));
  }
  std::vector<DevicePairScore> published;
  for (int a = 0; a < n; ++a) {
    DevicePairScore entry{Uuid(a), {}};
    for (int b = 0; b < n; ++b) {
      if (a != b) entry.score[Uuid(b)] = score(a, b);
    }
    published.push_back(entry);
  }
  node.link_scores = LinkScores::FromAnnotation(ids, published);
  return node;
}

// 8 GPUs in two NVLink islands of 4 that interleave with the GPU index (even / odd), so that
// the plain device order alone never lands on an island.
NodeState TwoIslands() {
  return LinkedNode(8, [](int a, int b) { return a % 2 == b % 2 ? kTwoNvlinks : kSameCpu; });
}

PodRequest TopologyPod(ContainerDeviceRequest request) {
  PodRequest pod = OnePod(std::move(request));
  pod.gpu_policy = GpuPolicy{{GpuPolicyKey::kTopologyAware}};
  return pod;
}

std::vector<int> Fit(const NodeState& node, const PodRequest& pod) {
  auto fit = FitPod(node, pod, *pod.gpu_policy, nullptr);
  EXPECT_TRUE(fit.has_value());
  return fit ? fit->front() : std::vector<int>{};
}

bool SameIsland(const std::vector<int>& devices) {
  for (int d : devices) {
    if (d % 2 != devices.front() % 2) return false;
  }
  return true;
}

TEST(LinkScoresTest, MapsUuidsToDeviceIndexes) {
  const std::vector<std::string> ids = {"GPU-a", "GPU-b", "GPU-c"};
  const std::vector<DevicePairScore> published = {
      {"GPU-b", {{"GPU-a", 200}, {"GPU-zz", 7}, {"GPU-b", 9}}},  // unknown peer and self ignored
      {"GPU-b", {{"GPU-a", 1}}},                                 // a second entry: ignored
      {"GPU-gone", {{"GPU-a", 5}}},                              // a GPU the node no longer has
      {"GPU-a", {{"GPU-b", 200}, {"GPU-c", 10}}},
  };
  const LinkScores links = LinkScores::FromAnnotation(ids, published);
  ASSERT_FALSE(links.empty());
  EXPECT_EQ(links.size(), 3u);
  EXPECT_EQ(links.At(1, 0), 200);
  EXPECT_EQ(links.At(0, 1), 200);
  EXPECT_EQ(links.At(0, 2), 10);
  EXPECT_EQ(links.At(2, 0), 0);  // GPU-c published nothing
  EXPECT_EQ(links.At(1, 1), 0);
  EXPECT_EQ(links.At(7, 0), 0);  // out of range
  EXPECT_TRUE(LinkScores::FromAnnotation(ids, {}).empty());
  EXPECT_TRUE(LinkScores::FromAnnotation(ids, {{{"GPU-a", {{"GPU-b", 0}}}}}).empty());
  EXPECT_EQ(links, LinkScores::FromAnnotation(ids, published));
  EXPECT_FALSE(links == LinkScores());
}

TEST(ChooseLinkedDevicesTest, Table) {
  // Candidates are device indexes in candidate order; scores from `score`.
  struct Case {
    const char* name;
    int gpus;
    std::function<int32_t(int, int)> score;
    std::vector<int> candidates;
    int count;
    std::vector<int> want;
  };
  auto pairs = [](std::set<std::pair<int, int>> linked, int32_t linked_score, int32_t other) {
    return [=](int a, int b) {
      return linked.count({std::min(a, b), std::max(a, b)}) ? linked_score : other;
    };
  };
  const Case cases[] = {
      {"2 of 8 in two islands: the first island pair",
       8,
       [](int a, int b) { return a % 2 == b % 2 ? kTwoNvlinks : kSameCpu; },
       {7, 6, 5, 4, 3, 2, 1, 0},
       2,
       {7, 5}},
      {"4 of 8 in two islands: a whole island",
       8,
       [](int a, int b) { return a % 2 == b % 2 ? kTwoNvlinks : kSameCpu; },
       {7, 6, 5, 4, 3, 2, 1, 0},
       4,
       {7, 5, 3, 1}},
      {"more NVLinks beat fewer",
       4,
       [](int a, int b) {
         const int lo = std::min(a, b), hi = std::max(a, b);
         return lo == 0 && hi == 1 ? kOneNvlink : lo == 2 && hi == 3 ? kTwoNvlinks : kSameCpu;
       },
       {0, 1, 2, 3},
       2,
       {2, 3}},
      {"1 GPU: the one whose links to the others sum lowest",
       4,
       pairs({{2, 3}}, kTwoNvlinks, 20),
       {3, 2, 1, 0},
       1,
       {1}},
      {"1 GPU, all equal: the first candidate", 4, pairs({}, 0, 20), {3, 2, 1, 0}, 1, {3}},
      {"ties: the first combination in candidate order",
       4,
       pairs({{0, 1}, {2, 3}}, 300, 20),
       {3, 2, 1, 0},
       2,
       {3, 2}},
      {"ties follow the candidate order, not the index",
       4,
       pairs({{0, 1}, {2, 3}}, 300, 20),
       {1, 3, 0, 2},
       2,
       {1, 0}},
      {"no scores at all: the first candidates", 4, pairs({}, 0, 0), {2, 0, 3, 1}, 3, {2, 0, 3}},
  };
  for (const Case& c : cases) {
    const NodeState node = LinkedNode(c.gpus, c.score);
    EXPECT_EQ(ChooseLinkedDevices(c.candidates, c.count, node.link_scores), c.want) << c.name;
  }
}

TEST(ChooseLinkedDevicesTest, LargeNodesAreChosenGreedilyAndStillFindTheIsland) {
  // 24 GPUs, islands of 12 by parity: C(24, 12) = 2.7e6 combinations, over the bound.
  const NodeState node =
      LinkedNode(24, [](int a, int b) { return a % 2 == b % 2 ? kTwoNvlinks : kSameCpu; });
  std::vector<int> candidates;
  for (int i = 0; i < 24; ++i) candidates.push_back(i);
  const std::vector<int> chosen = ChooseLinkedDevices(candidates, 12, node.link_scores);
  ASSERT_EQ(chosen.size(), 12u);
  EXPECT_TRUE(SameIsland(chosen));
  EXPECT_TRUE(std::is_sorted(chosen.begin(), chosen.end()));  // candidate order
}

TEST(TopologyFitTest, TwoGpuPodTakesAnNvlinkPairWhereSpreadWouldNot) {
  const NodeState node = TwoIslands();
  PodRequest pod = TopologyPod(Req(2, 1000, 0));
  const std::vector<int> chosen = Fit(node, pod);
  ASSERT_EQ(chosen.size(), 2u);
  EXPECT_TRUE(SameIsland(chosen)) << chosen[0] << "," << chosen[1];
  pod.gpu_policy = GpuPolicy{{GpuPolicyKey::kSpread}};
  EXPECT_FALSE(SameIsland(Fit(node, pod)));  // what the node looks like without the policy
}

TEST(TopologyFitTest, SuccessivePodsFillTheIslandsPairByPair) {
  NodeState node = TwoIslands();
  const PodRequest pod = TopologyPod(Req(2, 0, 100));  // whole GPUs
  std::set<int> taken;
  for (int round = 0; round < 4; ++round) {
    const std::vector<int> chosen = Fit(node, pod);
    ASSERT_EQ(chosen.size(), 2u) << "round " << round;
    EXPECT_TRUE(SameIsland(chosen)) << "round " << round;
    for (int d : chosen) EXPECT_TRUE(taken.insert(d).second) << "GPU " << d << " twice";
    CommitPlacement(node, pod, {chosen});
  }
  EXPECT_FALSE(FitPod(node, pod, *pod.gpu_policy, nullptr));
}

TEST(TopologyFitTest, SingleGpuPodKeepsTheNvlinkPairWhole) {
  // GPUs 2 and 3 are an NVLink pair; 0 and 1 sit on PCIe only. spread alone would take GPU 3.
  const NodeState node = LinkedNode(4, [](int a, int b) {
    return std::min(a, b) == 2 && std::max(a, b) == 3 ? kTwoNvlinks : kSameCpu;
  });
  PodRequest pod = TopologyPod(Req(1, 1000, 0));
  const std::vector<int> chosen = Fit(node, pod);
  ASSERT_EQ(chosen.size(), 1u);
  EXPECT_LT(chosen[0], 2);
  pod.gpu_policy = GpuPolicy{{GpuPolicyKey::kSpread}};
  EXPECT_EQ(Fit(node, pod), std::vector<int>{3});
}

TEST(TopologyFitTest, ExactlyEnoughFittingDevicesAreTakenWhateverTheirLinks) {
  NodeState node = TwoIslands();
  // Only GPUs 0 and 1 (different islands) have room for the request.
  for (int i = 2; i < 8; ++i)
    node.devices[static_cast<size_t>(i)] = Used(node.devices[static_cast<size_t>(i)], 1, 16000, 0);
  const std::vector<int> chosen = Fit(node, TopologyPod(Req(2, 8000, 0)));
  EXPECT_EQ(std::set<int>(chosen.begin(), chosen.end()), (std::set<int>{0, 1}));
}

TEST(TopologyFitTest, NeverTakesADeviceTheFitRulesRefuse) {
  NodeState node = TwoIslands();
  node.devices[7] = Used(node.devices[7], 1, 0, 100);  // full cores: refused for 100 % requests
  node.devices[5].info.health = false;
  node.devices[3].cordoned = true;
  const PodRequest pod = TopologyPod(Req(2, 0, 100));
  const std::vector<int> chosen = Fit(node, pod);
  for (int d : chosen) {
    EXPECT_NE(d, 7);
    EXPECT_NE(d, 5);
    EXPECT_NE(d, 3);
  }
  EXPECT_TRUE(SameIsland(chosen));  // the even island is still whole
  EXPECT_TRUE(PlacementAllowed(node, pod, {chosen}));
}

TEST(TopologyFitTest, FailsWithHamisReasonsWhenTooFewDevicesFit) {
  NodeState node = TwoIslands();
  for (int i = 1; i < 8; ++i) node.devices[static_cast<size_t>(i)].info.health = false;
  const PodRequest pod = TopologyPod(Req(2, 1000, 0));
  FitFailure failure;
  EXPECT_FALSE(FitPod(node, pod, *pod.gpu_policy, &failure));
  EXPECT_EQ(failure.ToString(), "1/8 AllocatedCardsInsufficientRequest, 7/8 CardNotHealth");
  FitFailure too_many;
  EXPECT_FALSE(FitPod(node, TopologyPod(Req(9, 1000, 0)), GpuPolicy{{GpuPolicyKey::kTopologyAware}},
                      &too_many));
  EXPECT_EQ(too_many.ToString(), "1/8 NodeInsufficientDevice");
}

TEST(TopologyFitTest, NumaBindChoosesWithinOneNumaNode) {
  NodeState node = TwoIslands();
  // NUMA 1 holds GPUs 4..7; the walk (spread: high NUMA first) meets it first.
  for (int i = 4; i < 8; ++i) node.devices[static_cast<size_t>(i)].info.numa = 1;
  PodRequest pod = TopologyPod(Req(2, 1000, 0));
  pod.selectors.numa_bind = true;
  const std::vector<int> chosen = Fit(node, pod);
  ASSERT_EQ(chosen.size(), 2u);
  EXPECT_EQ(node.devices[static_cast<size_t>(chosen[0])].info.numa,
            node.devices[static_cast<size_t>(chosen[1])].info.numa);
  EXPECT_TRUE(SameIsland(chosen));
  // Three GPUs on NUMA 1 are full: the pod moves to NUMA 0 and its island pair there.
  for (int i = 5; i < 8; ++i) node.devices[static_cast<size_t>(i)].info.health = false;
  const std::vector<int> moved = Fit(node, pod);
  ASSERT_EQ(moved.size(), 2u);
  for (int d : moved) EXPECT_LT(d, 4);
  EXPECT_TRUE(SameIsland(moved));
}

TEST(TopologyFitTest, WithoutScoresItIsHamisPlainOrder) {
  NodeState node = TwoIslands();
  node.link_scores = LinkScores();
  PodRequest pod = TopologyPod(Req(3, 1000, 0));
  const std::vector<int> by_links = Fit(node, pod);
  pod.gpu_policy = GpuPolicy{{GpuPolicyKey::kSpread}};
  EXPECT_EQ(by_links, Fit(node, pod));
}

TEST(TopologyFitTest, HamiPolicyHonoursThePodAnnotationAndTheDefault) {
  std::vector<NodeState> nodes = {TwoIslands()};
  nodes[0].generation = 1;
  HamiPolicy by_flag("hami", NodePolicy::kBinpack, GpuPolicy{{GpuPolicyKey::kTopologyAware}});
  PlacementOutcome outcome = by_flag.Place(OnePod(Req(2, 1000, 0)), nodes, false);
  ASSERT_TRUE(outcome.placement);
  EXPECT_TRUE(SameIsland(outcome.placement->container_devices[0]));
  HamiPolicy by_default("hami", NodePolicy::kBinpack, GpuPolicy{});
  outcome = by_default.Place(TopologyPod(Req(2, 1000, 0)), nodes, false);
  ASSERT_TRUE(outcome.placement);
  EXPECT_TRUE(SameIsland(outcome.placement->container_devices[0]));
}

// Property: on random nodes, usage and link scores, the topology-aware fit agrees with PodFits
// (verdict and reasons) and only makes placements HAMi's rules allow.
TEST(TopologyFitTest, AgreesWithPodFitsAndNeverOvercommits) {
  std::mt19937_64 rng(11);
  auto uniform = [&](int lo, int hi) {
    return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  const GpuPolicy policy{{GpuPolicyKey::kTopologyAware}};
  int fits = 0;
  for (int round = 0; round < 5000; ++round) {
    const int gpus = uniform(0, 10);
    NodeState node = LinkedNode(gpus, [&](int, int) { return uniform(0, 3) * 100; });
    for (DeviceUsage& d : node.devices) {
      d.info.count = uniform(1, 4);
      d.info.numa = uniform(0, 1);
      d.info.health = uniform(0, 9) != 0;
      d.used = uniform(0, d.info.count);
      d.used_mem_mib = d.used == 0 ? 0 : uniform(0, d.info.devmem_mib);
      d.used_cores = d.used == 0 ? 0 : uniform(0, 100);
    }
    PodRequest pod;
    const int containers = uniform(1, 3);
    for (int c = 0; c < containers; ++c) {
      pod.containers.push_back(
          Req(uniform(0, 3) == 0 ? 0 : uniform(1, 5), uniform(0, 12000), uniform(0, 100)));
    }
    pod.init_containers = uniform(0, containers - 1);
    pod.selectors.numa_bind = uniform(0, 4) == 0;
    FitFailure fast, full;
    const bool fast_fits = PodFits(node, pod, policy, &fast);
    auto fit = FitPod(node, pod, policy, &full);
    ASSERT_EQ(fast_fits, fit.has_value()) << "round " << round;
    if (!fit) {
      ASSERT_EQ(fast.ToString(), full.ToString()) << "round " << round;
      continue;
    }
    ++fits;
    ASSERT_TRUE(PlacementAllowed(node, pod, *fit)) << "round " << round;
  }
  EXPECT_GT(fits, 500);
}

}  // namespace
}  // namespace hami::policy
