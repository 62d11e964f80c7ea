#include "policy/frag.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

using testing::Gpu;
using testing::OnePod;
using testing::Req;
using testing::Used;

TargetPod Target(int32_t count, int32_t percent, double weight, int64_t cpu = 0, int64_t mem = 0) {
  TargetPod t;
  t.request = Req(count, 0, percent, percent);
  t.weight = weight;
  t.cpu_milli = cpu;
  t.memory_mib = mem;
  return t;
}

NodeState Node(std::vector<DeviceUsage> devices, int64_t cpu = kUnknownHostResource,
               int64_t mem = kUnknownHostResource) {
  NodeState n;
  n.name = "n";
  n.devices = std::move(devices);
  n.cpu_free_milli = cpu;
  n.memory_free_mib = mem;
  return n;
}

TEST(FragModelTest, FreeStateIsTheSmallerShareAndZeroWhenUnusable) {
  DeviceUsage d = Used(Gpu("a", 0, 10000), 1, 2500, 50);
  EXPECT_EQ(FragModel::FreeState(d).free_milli, 500);
  EXPECT_FALSE(FragModel::FreeState(d).untouched);
  d.info.count = 1;  // no slot left
  EXPECT_EQ(FragModel::FreeState(d).free_milli, 0);
  DeviceUsage sick = Gpu("b", 0);
  sick.info.health = false;
  EXPECT_EQ(FragModel::FreeState(sick).free_milli, 0);
}

TEST(FragModelTest, WholeGpuWorkloadSeesPartialDevicesAsFragments) {
  FragModel model({Target(1, 100, 1.0)});
  NodeState fresh = Node({Gpu("a", 0), Gpu("b", 1)});
  EXPECT_DOUBLE_EQ(model.NodeFrag(0, fresh), 0.0);
  NodeState partial = Node({Used(Gpu("a", 0), 1, 4096, 25), Gpu("b", 1)});
  EXPECT_DOUBLE_EQ(model.NodeFrag(1, partial), 750.0);
  // Nothing fits at all: everything free is a fragment.
  NodeState both = Node({Used(Gpu("a", 0), 1, 4096, 25), Used(Gpu("b", 1), 1, 4096, 25)});
  EXPECT_DOUBLE_EQ(model.NodeFrag(2, both), 1500.0);
}

TEST(FragModelTest, MixedWorkloadIsPopularityWeighted) {
  // Half the pods want 60 %, half want a whole GPU.
  FragModel model({Target(1, 60, 1.0), Target(1, 100, 1.0)});
  NodeState node = Node({Used(Gpu("a", 0), 1, 8192, 50), Gpu("b", 1)});
  // 60 %: device a (500 free) too small -> 500; whole: device a not untouched -> 500.
  EXPECT_DOUBLE_EQ(model.NodeFrag(0, node), 0.5 * 500 + 0.5 * 500);
}

TEST(FragModelTest, HostShortageMakesEverythingFragmented) {
  FragModel model({Target(1, 50, 1.0, /*cpu=*/8000, /*mem=*/1024)});
  EXPECT_DOUBLE_EQ(model.NodeFrag(0, Node({Gpu("a", 0)}, 8000, 1024)), 0.0);
  EXPECT_DOUBLE_EQ(model.NodeFrag(1, Node({Gpu("a", 0)}, 7999, 1024)), 1000.0);
  EXPECT_DOUBLE_EQ(model.NodeFrag(2, Node({Gpu("a", 0)}, 8000, 1023)), 1000.0);
}

TEST(FragModelTest, TypeConstraintMakesNodeUnservable) {
  TargetPod t = Target(1, 50, 1.0);
  t.allowed_types = {"A100"};
  FragModel model({t});
  NodeState node = Node({Gpu("a", 0, 16384, "NVIDIA-Tesla T4")});
  EXPECT_DOUBLE_EQ(model.NodeFrag(0, node), 1000.0);
  model.UpdateTypePressure(std::span<const NodeState>(&node, 1));
  EXPECT_DOUBLE_EQ(model.TypePressure(0, node), 0.0);  // no node serves the class
}

// The 2-D prefix table must agree with a direct sum over host variants.
TEST(FragModelTest, HostTableMatchesBruteForce) {
  std::mt19937_64 rng(7);
  std::vector<TargetPod> targets;
  for (int i = 0; i < 60; ++i) {
    targets.push_back(
        Target(1, 10 * static_cast<int32_t>(1 + rng() % 10), 1.0 + static_cast<double>(rng() % 5),
               static_cast<int64_t>(rng() % 9) * 1000, static_cast<int64_t>(rng() % 7) * 1024));
  }
  FragModel model(targets);
  double total_weight = 0;
  for (const TargetPod& t : targets) total_weight += t.weight;
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t cpu = static_cast<int64_t>(rng() % 10000) - 500;
    const int64_t mem = static_cast<int64_t>(rng() % 8000) - 500;
    const int32_t used = static_cast<int32_t>(rng() % 101);
    NodeState node = Node({Used(Gpu("a", 0, 10000), used > 0 ? 1 : 0, used * 100, used)}, cpu, mem);
    const int32_t free_milli = (100 - used) * 10;
    double want = 0;
    for (const TargetPod& t : targets) {
      const bool host_ok = t.cpu_milli <= cpu && t.memory_mib <= mem;
      const int32_t demand = t.request.cores_percent * 10;
      const bool fits = host_ok && free_milli > 0 && free_milli >= demand &&
                        (t.request.cores_percent < 100 || used == 0);
      want += t.weight / total_weight * (fits ? 0 : free_milli);
    }
    EXPECT_NEAR(model.NodeFrag(trial, node), want, 1e-6) << "cpu=" << cpu << " mem=" << mem;
  }
}

TEST(FragPolicyTest, SharingPodFillsTheMatchingHole) {
  // Workload: 40 % and 60 % pods. A 60 % pod should go into the GPU that has exactly 60 % free.
  FragPolicy policy("fgd", {Target(1, 40, 1.0), Target(1, 60, 1.0)}, FragPolicyOptions{});
  NodeState a = Node({Used(Gpu("a0", 0), 1, 16384 * 40 / 100, 40), Gpu("a1", 1)});
  a.name = "a";
  NodeState b = Node({Used(Gpu("b0", 0), 1, 16384 * 30 / 100, 30), Gpu("b1", 1)});
  b.name = "b";
  std::vector<NodeState> nodes = {b, a};
  PodRequest pod = OnePod(Req(1, 0, 60, 60));
  PlacementOutcome outcome = policy.Place(pod, nodes, false);
  ASSERT_TRUE(outcome.placement.has_value());
  EXPECT_EQ(outcome.placement->node_index, 1);
  EXPECT_EQ(outcome.placement->container_devices[0], std::vector<int>{0});
}

TEST(FragPolicyTest, PerPodNodePolicyOverrideIsHonoured) {
  FragPolicy policy("hami-frag", {Target(1, 40, 1.0), Target(1, 60, 1.0)}, FragPolicyOptions{});
  NodeState busy = Node({Used(Gpu("a0", 0), 1, 16384 * 40 / 100, 40), Gpu("a1", 1)});
  busy.name = "busy";
  NodeState idle = Node({Gpu("b0", 0), Gpu("b1", 1)});
  idle.name = "idle";
  std::vector<NodeState> nodes = {busy, idle};
  PodRequest pod = OnePod(Req(1, 0, 60, 60));
  EXPECT_EQ(policy.Place(pod, nodes, false).placement->node_index, 0);  // fills the hole
  pod.node_policy = NodePolicy::kSpread;
  EXPECT_EQ(policy.Place(pod, nodes, false).placement->node_index, 1);  // as the pod asks
}

TEST(FragPolicyTest, StrandingTermAvoidsStarvingGpusOfCpu) {
  // Target: whole-GPU pods needing 8 cores each. Two nodes with 2 free GPUs: one has CPU for
  // both, one has CPU for one. A CPU-only pod of 8 cores should go where it strands nothing.
  std::vector<TargetPod> targets = {Target(1, 100, 1.0, 8000, 0)};
  FragPolicyOptions options;
  options.stranding_weight = 2;
  FragPolicy policy("hami-frag", targets, options);
  NodeState rich = Node({Gpu("r0", 0), Gpu("r1", 1)}, 40000, 100000);
  rich.name = "rich";
  NodeState tight = Node({Gpu("t0", 0), Gpu("t1", 1)}, 16000, 100000);
  tight.name = "a-tight";  // sorts first, so only the score can pick "rich"
  PodRequest cpu_only;
  cpu_only.containers.push_back(Req(0, 0, 0));
  cpu_only.cpu_milli = 8000;
  std::vector<NodeState> nodes = {tight, rich};
  EXPECT_EQ(policy.Place(cpu_only, nodes, false).placement->node_index, 1);
}

TEST(FragPolicyTest, TypePressureKeepsFlexiblePodsOffScarceTypes) {
  // 10 % of pods can only use T4 (one small T4 node), 40 % only A100 (ten nodes), 50 % any.
  // FGD sends a flexible pod to the T4 node (it is useless to the larger A100-only class);
  // type pressure sees that T4 capacity is all the T4-only pods have.
  TargetPod t4_only = Target(1, 100, 0.1);
  t4_only.allowed_types = {"T4"};
  TargetPod a100_only = Target(1, 100, 0.4);
  a100_only.allowed_types = {"A100"};
  std::vector<TargetPod> targets = {t4_only, a100_only, Target(1, 100, 0.5)};
  std::vector<NodeState> nodes;
  NodeState t4 =
      Node({Gpu("t0", 0, 16384, "NVIDIA-Tesla T4"), Gpu("t1", 1, 16384, "NVIDIA-Tesla T4")});
  t4.name = "a-t4";
  nodes.push_back(t4);
  for (int i = 0; i < 10; ++i) {
    NodeState a100 = Node({Gpu("a" + std::to_string(i) + "0", 0, 40960, "NVIDIA-A100"),
                           Gpu("a" + std::to_string(i) + "1", 1, 40960, "NVIDIA-A100")});
    a100.name = "b-a100-" + std::to_string(i);
    nodes.push_back(a100);
  }

  FragModel model(targets);
  model.UpdateTypePressure(nodes);
  EXPECT_NEAR(model.TypePressure(0, nodes[0]), 0.1 * 22000 / 2000, 1e-9);
  EXPECT_NEAR(model.TypePressure(1, nodes[1]), 0.4 * 22000 / 20000, 1e-9);

  FragPolicyOptions options;
  options.type_pressure_weight = 1;
  FragPolicy with_pressure("hami-frag", targets, options);
  FragPolicy plain("fgd", targets, FragPolicyOptions{});
  PodRequest flexible = OnePod(Req(1, 0, 100, 100));
  EXPECT_EQ(plain.Place(flexible, nodes, false).placement->node_index, 0);
  EXPECT_NE(with_pressure.Place(flexible, nodes, false).placement->node_index, 0);

  // The pressure belongs to the cluster, not to one pod's candidates: after a Place over every
  // node, a Place offered fewer nodes (the extender's list, cut by kube-scheduler's host
  // filter) leaves it as it was. Over the T4 node and one A100 node alone, the T4 share would
  // be 0.1 * 4000 / 2000.
  const std::vector<NodeState> few = {nodes[0], nodes[1]};
  (void)with_pressure.Place(flexible, few, false);
  EXPECT_NEAR(with_pressure.model().TypePressure(0, nodes[0]), 0.1 * 22000 / 2000, 1e-9);
  // New targets start over with the next list offered.
  with_pressure.SetTargets(targets);
  (void)with_pressure.Place(flexible, few, false);
  EXPECT_NEAR(with_pressure.model().TypePressure(0, nodes[0]), 0.1 * 4000 / 2000, 1e-9);
}

}  // namespace
}  // namespace hami::policy
