#include "policy/fgd.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

using testing::Gpu;
using testing::OnePod;
using testing::Req;
using testing::Used;

FgdPodShape Shape(int64_t cpu, int32_t count, int32_t milli, std::string model = "") {
  FgdPodShape s;
  s.cpu_milli = cpu;
  s.gpu_count = count;
  s.gpu_milli = milli;
  s.gpu_model = std::move(model);
  return s;
}

TEST(FgdTypicalPodsTest, MostPopularTypesUntilTheyCoverNinetyFivePercent) {
  std::vector<FgdPodShape> pods;
  for (int i = 0; i < 60; ++i) pods.push_back(Shape(4000, 1, 500));
  for (int i = 0; i < 30; ++i) pods.push_back(Shape(8000, 0, 0));  // CPU-only: a type too
  for (int i = 0; i < 6; ++i) pods.push_back(Shape(4000, 2, 1000, "V100M16|V100M32"));
  for (int i = 0; i < 4; ++i) pods.push_back(Shape(2000, 1, 1000));
  const auto typical = FgdTypicalPods(pods);
  ASSERT_EQ(typical.size(), 3u) << "60 + 30 + 6 = 96 % covers 95 %: the last type is left out";
  EXPECT_EQ(typical[0].shape.gpu_milli, 500);
  EXPECT_DOUBLE_EQ(typical[0].share, 0.6);
  EXPECT_EQ(typical[1].shape.gpu_count, 0);
  EXPECT_EQ(typical[2].models, (std::vector<std::string>{"V100M16", "V100M32"}));
}

TEST(FgdTypicalPodsTest, MemoryIsNotPartOfTheType) {
  // Same CPU, GPU milli, count and model: one type however much host memory they ask.
  const auto typical = FgdTypicalPods({Shape(1000, 1, 300), Shape(1000, 1, 300)});
  ASSERT_EQ(typical.size(), 1u);
  EXPECT_DOUBLE_EQ(typical[0].share, 1.0);
}

TEST(FgdNodeFragTest, TheArtifactsRulesPerType) {
  const int32_t free[] = {1000, 400, 0};
  const std::string model = "NVIDIA-V100M16";
  auto frag = [&](FgdPodShape shape, int64_t cpu_free) {
    FgdTypicalPod t;
    t.shape = shape;
    if (!shape.gpu_model.empty()) t.models = {shape.gpu_model};
    t.share = 1;
    return FgdNodeFrag({t}, free, 3, model, cpu_free);
  };
  EXPECT_DOUBLE_EQ(frag(Shape(1000, 0, 0), 64000), 1400) << "CPU-only: all free GPU";
  EXPECT_DOUBLE_EQ(frag(Shape(1000, 1, 500), 64000), 400) << "hosted: GPUs with too little free";
  EXPECT_DOUBLE_EQ(frag(Shape(1000, 1, 300), 64000), 0) << "every GPU with room is usable";
  EXPECT_DOUBLE_EQ(frag(Shape(1000, 1, 500), 500), 1400) << "CPU short: all free GPU";
  EXPECT_DOUBLE_EQ(frag(Shape(1000, 2, 1000), 64000), 1400) << "one whole GPU only";
  EXPECT_DOUBLE_EQ(frag(Shape(1000, 1, 1000), 64000), 400);
  EXPECT_DOUBLE_EQ(frag(Shape(1000, 1, 500, "T4"), 64000), 1400) << "another model";
  EXPECT_DOUBLE_EQ(frag(Shape(1000, 1, 500, "V100M16"), 64000), 400);
  EXPECT_DOUBLE_EQ(frag(Shape(1000, 1, 500), kUnknownHostResource), 400);
}

TEST(FgdNodeFragTest, TypesAreWeightedByTheirShare) {
  const int32_t free[] = {1000, 400};
  FgdTypicalPod a, b;
  a.shape = Shape(0, 1, 500);
  a.share = 0.75;
  b.shape = Shape(0, 0, 0);
  b.share = 0.25;
  EXPECT_DOUBLE_EQ(FgdNodeFrag({a, b}, free, 2, "x", 1000), 0.75 * 400 + 0.25 * 1400);
}

TEST(FgdScoreTest, AnIntegerSigmoidOfTheChangeSoSmallDifferencesTie) {
  EXPECT_EQ(FgdScore(500, 500), 50);
  EXPECT_EQ(FgdScore(1000, 0), 73);  // sigmoid(1) = 0.731
  EXPECT_EQ(FgdScore(0, 1000), 26);  // sigmoid(-1) = 0.269
  EXPECT_EQ(FgdScore(100, 104), FgdScore(100, 105)) << "a few milli do not change the score";
}

NodeState Node(std::string name, std::vector<DeviceUsage> devices, int64_t cpu = 64000) {
  NodeState n;
  n.name = std::move(name);
  n.devices = std::move(devices);
  n.cpu_free_milli = cpu;
  n.memory_free_mib = 1 << 20;
  return n;
}

TEST(FgdPolicyTest, PlacesWhereFragmentationGrowsLeast) {
  // The workload is all 60 % pods: on the empty GPU the pod would leave 40 % that no typical
  // pod can use; on the GPU that is 40 % used it leaves nothing behind.
  FgdTypicalPod pod_type;
  pod_type.shape = Shape(0, 1, 600);
  pod_type.share = 1;
  FgdPolicy policy("fgd", {pod_type});
  std::vector<NodeState> nodes = {
      Node("a", {Gpu("a0", 0, 10000)}),
      Node("b", {Used(Gpu("b0", 0, 10000), 1, 4000, 40)}),
  };
  for (uint64_t seed = 0; seed < 8; ++seed) {  // not a tie: no seed changes it
    policy.Reseed(seed);
    const auto outcome = policy.Place(OnePod(Req(1, 6000, 60)), nodes, false);
    ASSERT_TRUE(outcome.placement);
    EXPECT_EQ(outcome.placement->node_index, 1);
    EXPECT_EQ(outcome.placement->container_devices, (std::vector<std::vector<int>>{{0}}));
  }
}

TEST(FgdPolicyTest, InsideANodeTheFirstGpuWinsATie) {
  FgdTypicalPod whole;
  whole.shape = Shape(0, 1, 1000);
  whole.share = 1;
  FgdPolicy policy("fgd", {whole});
  std::vector<NodeState> nodes = {Node("a", {Gpu("a0", 0), Gpu("a1", 1), Gpu("a2", 2)})};
  const auto outcome = policy.Place(OnePod(Req(1, 4096, 25)), nodes, false);
  ASSERT_TRUE(outcome.placement);
  EXPECT_EQ(outcome.placement->container_devices, (std::vector<std::vector<int>>{{0}}));
}

TEST(FgdPolicyTest, TiesBetweenNodesFollowARandomOrderFixedPerSeed) {
  FgdTypicalPod whole;
  whole.shape = Shape(0, 1, 1000);
  whole.share = 1;
  std::vector<NodeState> nodes;
  for (int i = 0; i < 16; ++i) nodes.push_back(Node("node-" + std::to_string(i), {Gpu("g", 0)}));
  auto chosen = [&](uint64_t seed) {
    FgdPolicy policy("fgd", {whole});
    policy.Reseed(seed);
    return policy.Place(OnePod(Req(1, 4096, 25)), nodes, false).placement->node_index;
  };
  EXPECT_EQ(chosen(42), chosen(42)) << "the same seed, the same order";
  std::set<int> picks;
  for (uint64_t seed = 0; seed < 16; ++seed) picks.insert(chosen(seed));
  EXPECT_GT(picks.size(), 4u) << "seeds spread the ties over the nodes";
}

TEST(FgdPolicyTest, NodesThatCannotTakeThePodAreReported) {
  FgdTypicalPod whole;
  whole.shape = Shape(0, 1, 1000);
  whole.share = 1;
  FgdPolicy policy("fgd", {whole});
  std::vector<NodeState> nodes = {Node("full", {Used(Gpu("g", 0), 1, 16384, 100)}),
                                  Node("nocpu", {Gpu("g", 0)}, 0)};
  PodRequest pod = OnePod(Req(1, 4096, 25));
  pod.cpu_milli = 1000;
  const auto outcome = policy.Place(pod, nodes, true);
  EXPECT_FALSE(outcome.placement);
  EXPECT_EQ(outcome.failed_nodes.size(), 2u);
}

}  // namespace
}  // namespace hami::policy
