#include "policy/online_workload.h"

#include <gtest/gtest.h>

#include <cmath>

#include "policy/scheduler_policy.h"
#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

using testing::Gpu;
using testing::Req;

PodRequest Pod(int32_t count, int32_t percent, int64_t cpu_milli = 1000,
               std::vector<std::string> types = {}) {
  PodRequest pod;
  pod.containers.push_back(Req(count, 0, percent, percent));
  pod.selectors.use_types = std::move(types);
  pod.cpu_milli = cpu_milli;
  pod.memory_mib = 1024;
  return pod;
}

double WeightOf(const std::vector<TargetPod>& targets, int32_t count, int32_t percent) {
  for (const TargetPod& t : targets) {
    if (t.request.count == count && t.request.cores_percent == percent) return t.weight;
  }
  return 0;
}

TEST(OnlineWorkloadTest, EmptyUntilAPodWithDevicesIsSeen) {
  OnlineWorkload workload;
  EXPECT_TRUE(workload.Targets().empty());
  PodRequest cpu_only;
  cpu_only.containers.push_back(Req(0, 0, 0));
  EXPECT_FALSE(workload.Observe(cpu_only));
  EXPECT_TRUE(workload.Targets().empty());
  EXPECT_EQ(workload.observed(), 0u);
}

TEST(OnlineWorkloadTest, SharesFollowCountsAndShapesKeyByRequestTypesAndHost) {
  OnlineWorkload workload(OnlineWorkloadOptions{.half_life_pods = 1e12});
  EXPECT_TRUE(workload.Observe(Pod(1, 50)));
  EXPECT_FALSE(workload.Observe(Pod(1, 50)));
  EXPECT_FALSE(workload.Observe(Pod(1, 50)));
  EXPECT_TRUE(workload.Observe(Pod(2, 100)));
  EXPECT_TRUE(workload.Observe(Pod(1, 50, 2000)));             // other CPU: other shape
  EXPECT_TRUE(workload.Observe(Pod(1, 50, 1000, {"V100"})));   // type constraint: other shape
  EXPECT_FALSE(workload.Observe(Pod(1, 50, 1000, {"V100"})));  // same again
  EXPECT_EQ(workload.shape_count(), 4u);
  const std::vector<TargetPod> targets = workload.Targets();
  ASSERT_EQ(targets.size(), 4u);
  double total = 0;
  for (const TargetPod& t : targets) total += t.weight;
  EXPECT_NEAR(total, 1.0, 1e-9);
  EXPECT_NEAR(WeightOf(targets, 2, 100), 1.0 / 7, 1e-9);
  for (const TargetPod& t : targets) {
    if (t.request.count == 1 && t.cpu_milli == 1000 && t.allowed_types.empty()) {
      EXPECT_NEAR(t.weight, 3.0 / 7, 1e-9);
    }
  }
}

TEST(OnlineWorkloadTest, OldPodsDecayByTheHalfLife) {
  OnlineWorkload workload(OnlineWorkloadOptions{.half_life_pods = 100});
  workload.Observe(Pod(1, 50));
  for (int i = 0; i < 100; ++i) workload.Observe(Pod(2, 100));
  // The first pod is 100 pods old: worth half a new one. The next 100 sum to
  // Σ 2^(-k/100), k = 0..99.
  double recent = 0;
  for (int k = 0; k < 100; ++k) recent += std::exp2(-k / 100.0);
  const std::vector<TargetPod> targets = workload.Targets();
  EXPECT_NEAR(WeightOf(targets, 1, 50), 0.5 / (0.5 + recent), 1e-9);
  // Millions of pods later the counts are still finite (rescaled) and the old shape is gone.
  for (int i = 0; i < 200000; ++i) workload.Observe(Pod(2, 100));
  const std::vector<TargetPod> later = workload.Targets();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_NEAR(later[0].weight, 1.0, 1e-12);
  EXPECT_TRUE(std::isfinite(later[0].weight));
}

TEST(OnlineWorkloadTest, KeepsAtMostMaxShapesDroppingTheLightest) {
  OnlineWorkload workload(OnlineWorkloadOptions{.half_life_pods = 1e12, .max_shapes = 3});
  for (int i = 0; i < 5; ++i) workload.Observe(Pod(1, 10));
  for (int i = 0; i < 4; ++i) workload.Observe(Pod(1, 20));
  for (int i = 0; i < 3; ++i) workload.Observe(Pod(1, 30));
  workload.Observe(Pod(1, 40));  // the lightest: dropped at once
  EXPECT_EQ(workload.shape_count(), 3u);
  const std::vector<TargetPod> targets = workload.Targets();
  EXPECT_EQ(WeightOf(targets, 1, 40), 0);
  EXPECT_GT(WeightOf(targets, 1, 10), WeightOf(targets, 1, 30));
}

NodeState Node(const std::string& name, std::vector<DeviceUsage> devices, uint64_t generation) {
  NodeState node;
  node.name = name;
  node.devices = std::move(devices);
  node.generation = generation;
  return node;
}

TEST(SchedulerPolicyTest, PodAnnotationChoosesThePolicyElseTheDefault) {
  // node-a: one GPU half used; node-b: one idle GPU. Binpack takes node-a, spread node-b.
  std::vector<NodeState> nodes = {Node("node-a", {testing::Used(Gpu("GPU-a", 0), 1, 8192, 50)}, 1),
                                  Node("node-b", {Gpu("GPU-b", 0)}, 2)};
  SchedulerPolicyOptions options;
  options.node_policy = NodePolicy::kBinpack;
  SchedulerPolicy policy(options);
  PodRequest pod = Pod(1, 30);
  policy.Observe(pod);
  auto placed = policy.Place(pod, nodes, false);
  ASSERT_TRUE(placed.placement);
  EXPECT_EQ(placed.placement->node_index, 0);
  pod.node_policy = NodePolicy::kSpread;
  placed = policy.Place(pod, nodes, false);
  ASSERT_TRUE(placed.placement);
  EXPECT_EQ(placed.placement->node_index, 1);
  EXPECT_EQ(policy.NodePolicyFor(pod), NodePolicy::kSpread);
  pod.node_policy = NodePolicy::kFrag;
  EXPECT_EQ(policy.NodePolicyFor(pod), NodePolicy::kFrag);
}

TEST(SchedulerPolicyTest, HamiFragLearnsTheWorkloadFromObservedPods) {
  // The workload is whole-GPU pods. A 50 % pod on node-a (two idle GPUs) would leave one
  // whole GPU and a half; on node-b (one GPU already half used) it fills that GPU and leaves
  // the whole ones alone: hami-frag takes node-b, binpack by node score as well, but spread
  // would not.
  std::vector<NodeState> nodes = {
      Node("node-a", {Gpu("GPU-a0", 0), Gpu("GPU-a1", 1)}, 1),
      Node("node-b", {testing::Used(Gpu("GPU-b0", 0), 1, 8192, 50), Gpu("GPU-b1", 1)}, 2)};
  SchedulerPolicyOptions options;
  options.node_policy = NodePolicy::kFrag;
  SchedulerPolicy policy(options);
  for (int i = 0; i < 50; ++i) policy.Observe(Pod(1, 100));
  PodRequest half = Pod(1, 50);
  policy.Observe(half);
  auto placed = policy.Place(half, nodes, false);
  ASSERT_TRUE(placed.placement);
  EXPECT_EQ(placed.placement->node_index, 1);
  ASSERT_EQ(placed.placement->container_devices[0].size(), 1u);
  EXPECT_EQ(placed.placement->container_devices[0][0], 0);  // the half-used GPU
  EXPECT_EQ(policy.workload().observed(), 51u);
  // Knowing nothing of the workload, every node is as good: the first name wins.
  SchedulerPolicy naive(options);
  placed = naive.Place(half, nodes, false);
  ASSERT_TRUE(placed.placement);
  EXPECT_EQ(placed.placement->node_index, 0);
}

}  // namespace
}  // namespace hami::policy
