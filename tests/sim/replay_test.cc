#include "sim/replay.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "tests/sim/openb_data.h"

namespace hami::sim {
namespace {

Workload SmallWorkload() {
  Workload w;
  auto pod = [&](const char* name, int64_t cpu, int32_t gpus, int32_t milli) {
    SimPod p;
    p.name = name;
    p.cpu_milli = cpu;
    p.memory_mib = 1024;
    p.num_gpu = gpus;
    p.gpu_milli = milli;
    w.pods.push_back(p);
  };
  pod("whole", 8000, 1, 1000);
  pod("share", 4000, 1, 470);
  pod("multi", 16000, 2, 1000);
  pod("cpu", 2000, 0, 0);
  return w;
}

TEST(ToPodRequestTest, MapsTraceColumnsToHamiResources) {
  SimPod p;
  p.num_gpu = 1;
  p.gpu_milli = 470;
  p.cpu_milli = 6000;
  p.memory_mib = 12288;
  p.gpu_spec = {"T4", "P100"};
  policy::PodRequest r = ToPodRequest(p);
  ASSERT_EQ(r.containers.size(), 1u);
  EXPECT_EQ(r.containers[0].count, 1);
  EXPECT_EQ(r.containers[0].cores_percent, 47);
  EXPECT_EQ(r.containers[0].memory_percent, 47);
  EXPECT_EQ(r.containers[0].type, "NVIDIA");
  EXPECT_EQ(r.selectors.use_types, (std::vector<std::string>{"T4", "P100"}));
  EXPECT_EQ(r.cpu_milli, 6000);
  EXPECT_EQ(r.memory_mib, 12288);
  p.gpu_milli = 1000;
  EXPECT_EQ(ToPodRequest(p).containers[0].cores_percent, 100);  // whole card: exclusive
  p.gpu_milli = 475;  // rounds up so the request never under-asks
  EXPECT_EQ(ToPodRequest(p).containers[0].cores_percent, 48);
  SimPod cpu_only;
  EXPECT_FALSE(ToPodRequest(cpu_only).WantsDevices());
}

TEST(BuildNodesTest, OneDevicePerGpu) {
  Cluster c;
  c.nodes.push_back(SimNode{"n1", 32000, 65536, 2, "T4", 15360});
  auto nodes = BuildNodes(c, 10);
  ASSERT_EQ(nodes.size(), 1u);
  ASSERT_EQ(nodes[0].devices.size(), 2u);
  EXPECT_EQ(nodes[0].devices[1].info.id, "n1-gpu1");
  EXPECT_EQ(nodes[0].devices[1].info.type, "NVIDIA-T4");
  EXPECT_EQ(nodes[0].devices[1].info.devmem_mib, 15360);
  EXPECT_EQ(nodes[0].devices[1].info.count, 10);
  EXPECT_TRUE(nodes[0].devices[1].info.health);
  EXPECT_EQ(nodes[0].cpu_free_milli, 32000);
}

TEST(ArrivalOrderTest, ShufflesEveryPodOnceThenInflates) {
  Workload w = SmallWorkload();
  const int64_t capacity = 4000;  // the workload asks 1000 + 470 + 2000 = 3470
  std::vector<int> order = ArrivalOrder(w, capacity, 42, 130);
  ASSERT_GE(order.size(), w.pods.size());
  std::vector<int> head(order.begin(), order.begin() + static_cast<long>(w.pods.size()));
  std::sort(head.begin(), head.end());
  EXPECT_EQ(head, (std::vector<int>{0, 1, 2, 3}));
  int64_t requested = 0, before_last = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    before_last = requested;
    requested += w.pods[static_cast<size_t>(order[i])].GpuMilliTotal();
  }
  EXPECT_GE(requested, capacity * 13 / 10);
  EXPECT_LT(before_last, capacity * 13 / 10);  // stops as soon as the target is reached
  EXPECT_EQ(order, ArrivalOrder(w, capacity, 42, 130));
  EXPECT_NE(order, ArrivalOrder(w, capacity, 43, 130));
}

TEST(ArrivalOrderTest, CpuOnlyWorkloadDoesNotLoopForever) {
  Workload w;
  w.pods.push_back(SimPod{"cpu", 1000, 1024, 0, 0, {}});
  EXPECT_EQ(ArrivalOrder(w, 1000, 1, 130).size(), 1u);
}

TEST(MakePolicyTest, KnownNamesKnobsAndClearErrors) {
  Workload w = SmallWorkload();
  for (const std::string& name : PolicyNames()) EXPECT_TRUE(MakePolicy(name, w).ok()) << name;
  EXPECT_TRUE(MakePolicy("hami-frag:pack=0.1:strand=1:devfit=0", w).ok());
  auto unknown = MakePolicy("best", w);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("known: hami-frag"), std::string::npos);
  EXPECT_FALSE(MakePolicy("hami-frag:pack", w).ok());
  EXPECT_FALSE(MakePolicy("hami-frag:pack=x", w).ok());
  EXPECT_FALSE(MakePolicy("hami-frag:speed=1", w).ok());
  EXPECT_FALSE(MakePolicy("hami-binpack:pack=1", w).ok());
}

TEST(RunReplayTest, SyntheticReplayIsDeterministicVerifiedAndSane) {
  Cluster cluster = MakeSyntheticCluster(7, 60);
  Workload workload = MakeSyntheticWorkload(cluster, 7, 600);
  for (const std::string& name : PolicyNames()) {
    ReplayOptions options;
    options.seed = 42;
    options.verify = true;  // every placement re-checked against HAMi's fit rules
    auto policy = MakePolicy(name, workload);
    ASSERT_TRUE(policy.ok());
    auto a = RunReplay(cluster, workload, **policy, options);
    ASSERT_TRUE(a.ok()) << a.status().message();
    auto policy2 = MakePolicy(name, workload);
    auto b = RunReplay(cluster, workload, **policy2, options);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->unallocated_at_100, b->unallocated_at_100) << name;
    EXPECT_EQ(a->pods_failed, b->pods_failed) << name;
    EXPECT_GT(a->pods_failed, 0) << name << ": inflation to 130 % must leave pods unplaced";
    EXPECT_GE(a->unallocated_at_100, 0);
    EXPECT_LE(a->unallocated_at_100, 100);
    EXPECT_LE(a->unallocated_at_130, a->unallocated_at_100 + 1e-9) << name;
    ASSERT_EQ(a->curve.size(), static_cast<size_t>(a->pods_total));
    for (size_t i = 1; i < a->curve.size(); ++i) {
      ASSERT_GE(a->curve[i].arrived_percent, a->curve[i - 1].arrived_percent);
      ASSERT_GE(a->curve[i].allocated_percent, a->curve[i - 1].allocated_percent);
      ASSERT_LE(a->curve[i].allocated_percent, a->curve[i].arrived_percent + 1e-9);
    }
  }
}

TEST(PlaceByKubeDefaultTest, PicksTheLeastAllocatedBalancedNode) {
  Cluster c;
  c.nodes.push_back(SimNode{"busy", 64000, 262144, 8, "G2", 32768});
  c.nodes.push_back(SimNode{"idle", 64000, 262144, 8, "G2", 32768});
  c.nodes.push_back(SimNode{"small", 4000, 8192, 1, "T4", 15360});
  auto nodes = BuildNodes(c, 10);
  nodes[0].cpu_free_milli = 8000;
  policy::PodRequest pod;
  pod.containers.push_back(ContainerDeviceRequest{});
  pod.cpu_milli = 6000;
  pod.memory_mib = 4096;
  auto outcome = PlaceByKubeDefault(pod, c, nodes);
  ASSERT_TRUE(outcome.placement.has_value());
  EXPECT_EQ(outcome.placement->node_index, 1);
  pod.cpu_milli = 70000;  // fits nowhere
  EXPECT_FALSE(PlaceByKubeDefault(pod, c, nodes).placement.has_value());
}

TEST(RunReplayTest, KubeDefaultForCpuPodsStillVerifies) {
  Cluster cluster = MakeSyntheticCluster(3, 40);
  Workload workload = MakeSyntheticWorkload(cluster, 3, 400);
  ReplayOptions options;
  options.verify = true;
  options.cpu_pods_by_kube_default = true;
  auto policy = MakePolicy("hami-frag", workload);
  auto result = RunReplay(cluster, workload, **policy, options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_GT(result->pods_total, 0);
}

TEST(RunReplayTest, RejectsEmptyInputs) {
  Cluster cluster = MakeSyntheticCluster(7, 10);
  auto policy = MakePolicy("hami-binpack", Workload{});
  EXPECT_FALSE(RunReplay(cluster, Workload{}, **policy, {}).ok());
  Workload w = SmallWorkload();
  EXPECT_FALSE(RunReplay(Cluster{}, w, **policy, {}).ok());
}

// The headline claim on the real trace, one seed: the fragmentation-aware policy leaves less
// GPU unallocated than HAMi's binpack. Skipped where the shared data is absent.
TEST(RunReplayTest, OpenbDefaultHamiFragBeatsHamiBinpackAndTheArtifactsFgd) {
  std::optional<testing::OpenbTrace> openb = testing::LoadOpenb();
  if (!openb) GTEST_SKIP() << "HAMI_SHARED_DATA/openb not available";
  const Cluster* cluster = &openb->cluster;
  const Workload* workload = &openb->workload;
  ReplayOptions options;
  options.seed = 42;
  options.record_curve = false;
  auto frag = MakePolicy("hami-frag", *workload);
  auto binpack = MakePolicy("hami-binpack", *workload);
  auto a = RunReplay(*cluster, *workload, **frag, options);
  auto b = RunReplay(*cluster, *workload, **binpack, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(a->unallocated_at_100, 4.5);
  EXPECT_LT(a->unallocated_at_100, b->unallocated_at_100);
  // The artifact's FGD on the same order: near the published 4.77 (4.95 on this seed), and
  // behind hami-frag.
  auto fgd = MakePolicy("fgd", *workload);
  ASSERT_TRUE(fgd.ok());
  auto c = RunReplay(*cluster, *workload, **fgd, options);
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c->unallocated_at_100, 4.95, 0.05);
  EXPECT_LT(a->unallocated_at_100, c->unallocated_at_100);
  EXPECT_FALSE(MakePolicy("fgd:pack=1", *workload).ok()) << "the published baseline has no knobs";
}

}  // namespace
}  // namespace hami::sim
