#include "scheduler/filter.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "device/codec.h"
#include "device/config.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

DeviceInfo Dev(const std::string& id, int32_t mem = 16384) { return testing::TestDevice(id, mem); }

nlohmann::json Pod(const std::string& uid, nlohmann::json limits,
                   nlohmann::json annotations = nullptr) {
  nlohmann::json pod = {
      {"metadata", {{"name", "pod-" + uid}, {"namespace", "default"}, {"uid", uid}}},
      {"spec",
       {{"containers",
         nlohmann::json::array({{{"name", "c"}, {"resources", {{"limits", limits}}}}})}}}};
  if (!annotations.is_null()) pod["metadata"]["annotations"] = annotations;
  return pod;
}

class FilterCoreTest : public ::testing::Test {
 protected:
  FilterCoreTest()
      : registry_(std::move(*MakeVendorRegistry(DefaultDeviceConfig()))),
        core_(registry_, ledger_,
              std::make_unique<policy::HamiPolicy>("hami-default", policy::NodePolicy::kBinpack,
                                                   policy::GpuPolicy{})) {
    ledger_.SetNodeDevices("node-a", "NVIDIA", {Dev("GPU-a0"), Dev("GPU-a1")});
    ledger_.SetNodeDevices("node-b", "NVIDIA", {Dev("GPU-b0")});
  }

  ExtenderArgs Args(nlohmann::json pod,
                    std::vector<std::string> names = {"node-a", "node-b", "node-x"}) {
    ExtenderArgs args;
    args.pod = std::move(pod);
    args.node_names = std::move(names);
    return args;
  }

  VendorRegistry registry_;
  UsageLedger ledger_;
  FilterCore core_;
};

TEST_F(FilterCoreTest, ChoosesOneNodeRecordsItAndBuildsThePatch) {
  FilterDecision d = core_.Filter(Args(Pod("u1", {{"nvidia.com/gpu", "1"},
                                                  {"nvidia.com/gpumem", "3000"},
                                                  {"nvidia.com/gpucores", "30"}})),
                                  1700000000);
  ASSERT_TRUE(d.result.error.empty()) << d.result.error;
  ASSERT_TRUE(d.result.node_names.has_value());
  ASSERT_EQ(d.result.node_names->size(), 1u);
  const std::string node = (*d.result.node_names)[0];
  EXPECT_EQ(d.result.failed_nodes.at("node-x"), kNodeUnregistered);
  ASSERT_TRUE(d.decided.has_value());
  auto recorded = ledger_.GetPod("u1");
  ASSERT_TRUE(recorded.has_value());
  EXPECT_EQ(recorded->node, node);
  const nlohmann::json annotations = testing::DecisionAnnotationsOf(d);
  EXPECT_EQ(annotations["hami.io/vgpu-node"], node);
  EXPECT_EQ(annotations["hami.io/vgpu-time"], "1700000000");
  EXPECT_EQ(annotations["hami.io/vgpu-devices-allocated"],
            annotations["hami.io/vgpu-devices-to-allocate"]);
  auto devices = DecodePodDevices(annotations["hami.io/vgpu-devices-allocated"].get<std::string>());
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 1u);
  EXPECT_EQ((*devices)[0][0].used_mem_mib, 3000);
  EXPECT_EQ((*devices)[0][0].used_cores, 30);

  core_.Forget("u1");
  EXPECT_FALSE(ledger_.GetPod("u1").has_value());
}

TEST_F(FilterCoreTest, CandidateSubsetsVanishingNodesAndDuplicatesStayCorrect) {
  auto pod = [](const std::string& uid) {
    return Pod(
        uid,
        {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}, {"nvidia.com/gpucores", "10"}});
  };
  // Full set first (fills the mirror), then a subset: only the subset may be chosen.
  ASSERT_TRUE(core_.Filter(Args(pod("u1"), {"node-a", "node-b"}), 0).result.node_names.has_value());
  FilterDecision only_b = core_.Filter(Args(pod("u2"), {"node-b"}), 0);
  ASSERT_TRUE(only_b.result.node_names.has_value());
  EXPECT_EQ((*only_b.result.node_names)[0], "node-b");
  // A node that leaves the ledger is reported, never chosen from a stale mirror.
  ledger_.RemoveNode("node-b");
  FilterDecision after = core_.Filter(Args(pod("u3"), {"node-b", "node-a"}), 0);
  EXPECT_EQ(after.result.failed_nodes.at("node-b"), kNodeUnregistered);
  ASSERT_TRUE(after.result.node_names.has_value());
  EXPECT_EQ((*after.result.node_names)[0], "node-a");
  // Duplicate names and a node that comes back.
  ledger_.SetNodeDevices("node-b", "NVIDIA", {Dev("GPU-b0")});
  FilterDecision dup = core_.Filter(Args(pod("u4"), {"node-a", "node-a", "node-b"}), 0);
  EXPECT_TRUE(dup.result.node_names.has_value());
  // Usage recorded through the mirror matches a fresh snapshot.
  std::vector<std::string> names = {"node-a", "node-b"};
  int64_t used = 0;
  for (const auto& node : ledger_.Snapshot(names, nullptr)) {
    for (const auto& d : node.devices) used += d.used_mem_mib;
  }
  EXPECT_EQ(used, static_cast<int64_t>(ledger_.PodCount()) * 1000);
  EXPECT_TRUE(ledger_.CheckCapacity().ok());
}

// Property: the persistent node mirror never goes stale. After random ledger changes (nodes
// joining, leaving, re-registering, pods coming and going) and random candidate lists, a
// long-lived core decides exactly as a fresh core that builds every node from the ledger.
TEST_F(FilterCoreTest, LongLivedMirrorDecidesLikeAFreshCore) {
  std::mt19937_64 rng(3);
  auto uniform = [&](int lo, int hi) {
    return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  auto make_core = [&]() {
    return std::make_unique<FilterCore>(
        registry_, ledger_,
        std::make_unique<policy::HamiPolicy>("hami-default", policy::NodePolicy::kBinpack,
                                             policy::GpuPolicy{}));
  };
  auto long_lived = make_core();
  int next_pod = 0;
  for (int step = 0; step < 400; ++step) {
    const int node_number = uniform(0, 9);
    const std::string node = "node-" + std::to_string(node_number);
    switch (uniform(0, 4)) {
      case 0:
        ledger_.RemoveNode(node);
        break;
      case 1: {
        std::vector<DeviceInfo> devices;
        // A device keeps its size across registrations (a shrinking device could leave its
        // pods over capacity, which the scheduler cannot prevent); how many register varies.
        for (int g = uniform(1, 4); g > 0; --g) {
          devices.push_back(
              Dev("GPU-" + node + "-" + std::to_string(g), (node_number % 4 + 1) * 4096));
        }
        ledger_.SetNodeDevices(node, "NVIDIA", devices);
        break;
      }
      default: {
        // A pod decided by the long-lived core and kept (or, sometimes, ended).
        const std::string uid = "kept-" + std::to_string(next_pod++);
        FilterDecision d = long_lived->Filter(
            Args(Pod(uid, {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "2000"}}),
                 {"node-0", "node-1", "node-2", "node-3", "node-4", "node-5", "node-6", "node-7",
                  "node-8", "node-9"}),
            0);
        if (d.decided && uniform(0, 3) == 0) ledger_.RemovePod(uid);
        break;
      }
    }
    std::vector<std::string> candidates;
    for (int n = 0; n < 10; ++n) {
      if (uniform(0, 2) != 0) candidates.push_back("node-" + std::to_string(n));
    }
    const nlohmann::json probe =
        Pod("probe", {{"nvidia.com/gpu", std::to_string(uniform(1, 2))},
                      {"nvidia.com/gpumem", std::to_string(uniform(1, 8) * 1000)}});
    FilterDecision a = long_lived->Filter(Args(probe, candidates), 0);
    if (a.decided) long_lived->Forget(a.decided->uid);
    FilterDecision b = make_core()->Filter(Args(probe, candidates), 0);
    if (b.decided) long_lived->Forget(b.decided->uid);
    ASSERT_EQ(a.result.node_names, b.result.node_names) << "step " << step;
    ASSERT_EQ(a.result.failed_nodes, b.result.failed_nodes) << "step " << step;
    ASSERT_EQ(testing::DecisionAnnotationsOf(a), testing::DecisionAnnotationsOf(b))
        << "step " << step;
  }
  EXPECT_TRUE(ledger_.CheckCapacity().ok());
}

TEST_F(FilterCoreTest, NodesWithAnAllocationInFlightAreUsedLast) {
  auto pod = [](const std::string& uid, const std::string& mem) {
    return Pod(uid, {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", mem}});
  };
  // Binpack prefers node-b (fuller) once it holds a settled pod.
  ledger_.AddPod(testing::Allocation("s", "node-b", {{{"GPU-b0", "NVIDIA", 8000, 0}}}));
  FilterDecision first = core_.Filter(Args(pod("u1", "1000"), {"node-a", "node-b"}), 0);
  ASSERT_TRUE(first.result.node_names.has_value());
  EXPECT_EQ((*first.result.node_names)[0], "node-b");
  // u1 is now being bound on node-b: the next pod goes to node-a rather than wait on its lock.
  FilterDecision second = core_.Filter(Args(pod("u2", "1000"), {"node-a", "node-b"}), 0);
  ASSERT_TRUE(second.result.node_names.has_value());
  EXPECT_EQ((*second.result.node_names)[0], "node-a");
  // A pod only a busy node can take still gets it (the bind may wait, the pod is not refused).
  FilterDecision only_busy = core_.Filter(Args(pod("u4", "1000"), {"node-b"}), 0);
  ASSERT_TRUE(only_busy.result.node_names.has_value());
  EXPECT_EQ((*only_busy.result.node_names)[0], "node-b");
  // Once the device plugin reports success for every pod there, node-b is preferred again.
  for (const char* uid : {"u1", "u4"}) {
    PodAllocation done = *ledger_.GetPod(uid);
    done.in_flight = false;
    ledger_.AddPod(done);
  }
  FilterDecision after = core_.Filter(Args(pod("u5", "1000"), {"node-a", "node-b"}), 0);
  ASSERT_TRUE(after.result.node_names.has_value());
  EXPECT_EQ((*after.result.node_names)[0], "node-b");
}

TEST_F(FilterCoreTest, WithoutTheIdlePreferenceBusyNodesRankLikeAnyOther) {
  core_.set_prefer_idle_nodes(false);
  auto pod = [](const std::string& uid) {
    return Pod(uid, {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}});
  };
  FilterDecision first = core_.Filter(Args(pod("u1"), {"node-a", "node-b"}), 0);
  ASSERT_TRUE(first.result.node_names.has_value());
  // HAMi's binpack: the node the previous pod went to is now the fullest, busy or not.
  FilterDecision second = core_.Filter(Args(pod("u2"), {"node-a", "node-b"}), 0);
  ASSERT_TRUE(second.result.node_names.has_value());
  EXPECT_EQ((*second.result.node_names)[0], (*first.result.node_names)[0]);
}

TEST_F(FilterCoreTest, PodsWithoutDevicesPassThrough) {
  FilterDecision d = core_.Filter(Args(Pod("u1", {{"cpu", "1"}})), 0);
  EXPECT_EQ(d.result.node_names, (std::vector<std::string>{"node-a", "node-b", "node-x"}));
  EXPECT_FALSE(d.decided.has_value());
  EXPECT_EQ(ledger_.PodCount(), 0u);
}

TEST_F(FilterCoreTest, NothingFitsGivesReasonsAndNoNode) {
  FilterDecision d = core_.Filter(Args(Pod("u1", {{"nvidia.com/gpu", "3"}})), 0);
  EXPECT_FALSE(d.result.node_names.has_value());
  EXPECT_EQ(d.result.failed_nodes.at("node-a"),
            "1/2 NodeInsufficientDevice");  // HAMi counts the node once
  EXPECT_EQ(d.result.failed_nodes.at("node-b"), "1/1 NodeInsufficientDevice");
  EXPECT_EQ(ledger_.PodCount(), 0u);
}

TEST_F(FilterCoreTest, ExclusiveCardsAreNeverHandedOutTwice) {
  // Three whole-card pods, three GPUs: each gets one; the fourth fails.
  std::set<std::string> uuids;
  for (int i = 0; i < 3; ++i) {
    FilterDecision d =
        core_.Filter(Args(Pod("u" + std::to_string(i),
                              {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "100"}})),
                     0);
    ASSERT_TRUE(d.result.node_names.has_value()) << i;
    auto devices = DecodePodDevices(
        testing::DecisionAnnotationsOf(d)["hami.io/vgpu-devices-allocated"].get<std::string>());
    uuids.insert((*devices)[0][0].uuid);
  }
  EXPECT_EQ(uuids.size(), 3u);
  FilterDecision last =
      core_.Filter(Args(Pod("u9", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "100"}})), 0);
  EXPECT_FALSE(last.result.node_names.has_value());
  EXPECT_TRUE(ledger_.CheckCapacity().ok());
}

TEST_F(FilterCoreTest, RefilterReplacesThePreviousDecision) {
  auto pod = Pod("u1", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "16000"}});
  ASSERT_TRUE(core_.Filter(Args(pod), 0).result.node_names.has_value());
  ASSERT_TRUE(core_.Filter(Args(pod), 0).result.node_names.has_value());
  EXPECT_EQ(ledger_.PodCount(), 1u);
  EXPECT_TRUE(ledger_.CheckCapacity().ok());
}

TEST_F(FilterCoreTest, ConcurrentFiltersNeverOvercommit) {
  std::vector<std::thread> threads;
  std::atomic<int> placed{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto d = core_.Filter(
            Args(Pod(std::to_string(t) + "-" + std::to_string(i), {{"nvidia.com/gpu", "1"},
                                                                   {"nvidia.com/gpumem", "1000"},
                                                                   {"nvidia.com/gpucores", "10"}})),
            0);
        if (d.result.node_names) ++placed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(placed.load(), 30);  // 3 GPUs × 10 slots
  EXPECT_TRUE(ledger_.CheckCapacity().ok());
}

TEST_F(FilterCoreTest, BadRequestsAndAnnotationsAreErrors) {
  EXPECT_NE(core_.Filter(Args(Pod("u1", {{"nvidia.com/gpu", "x"}})), 0)
                .result.error.find("nvidia.com/gpu"),
            std::string::npos);
  EXPECT_NE(core_
                .Filter(Args(Pod("u1", {{"nvidia.com/gpu", "1"}},
                                 {{"hami.io/node-scheduler-policy", "best"}})),
                        0)
                .result.error.find("hami.io/node-scheduler-policy"),
            std::string::npos);
  auto no_uid = Pod("", {{"nvidia.com/gpu", "1"}});
  EXPECT_NE(core_.Filter(Args(no_uid), 0).result.error.find("no uid"), std::string::npos);
  ExtenderArgs neither;
  neither.pod = Pod("u2", {{"nvidia.com/gpu", "1"}});
  EXPECT_FALSE(core_.Filter(neither, 0).result.error.empty());
}

TEST_F(FilterCoreTest, SimulationModeDecidesFromNodeAnnotationsAndRecordsNothing) {
  ExtenderArgs args;
  args.pod = Pod("u1", {{"nvidia.com/gpu", "1"}});
  args.nodes = std::vector<nlohmann::json>{
      {{"metadata",
        {{"name", "sim-1"},
         {"annotations",
          {{"hami.io/node-nvidia-register", EncodeNodeDevicesJson({Dev("GPU-s1")})}}}}}},
      {{"metadata", {{"name", "sim-2"}}}}};
  FilterDecision d = core_.Filter(args, 0);
  ASSERT_TRUE(d.result.nodes.has_value());
  ASSERT_EQ(d.result.nodes->size(), 1u);
  EXPECT_EQ((*d.result.nodes)[0]["metadata"]["name"], "sim-1");
  EXPECT_EQ(d.result.failed_nodes.at("sim-2"), kNodeUnregistered);
  EXPECT_FALSE(d.decided.has_value());
  EXPECT_EQ(ledger_.PodCount(), 0u);
}

TEST_F(FilterCoreTest, SimulationModeNeverReusesScoresOfAnotherRequest) {
  // Each simulation builds node states afresh from the request's nodes; their generations
  // repeat from call to call, so nothing may be cached across calls by generation.
  ledger_.AddPod(testing::Allocation("p", "sim-1", {{{"GPU-s1", "NVIDIA", 8000, 0}}}));
  ledger_.AddPod(testing::Allocation("q", "sim-2", {{{"GPU-s2", "NVIDIA", 4000, 0}}}));
  auto simulate = [&](int32_t s1_mem) {
    ExtenderArgs args;
    args.pod = Pod("u1", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}});
    args.nodes = std::vector<nlohmann::json>{
        {{"metadata",
          {{"name", "sim-1"},
           {"annotations",
            {{"hami.io/node-nvidia-register", EncodeNodeDevicesJson({Dev("GPU-s1", s1_mem)})}}}}}},
        {{"metadata",
          {{"name", "sim-2"},
           {"annotations",
            {{"hami.io/node-nvidia-register", EncodeNodeDevicesJson({Dev("GPU-s2")})}}}}}}};
    FilterDecision d = core_.Filter(args, 0);
    return d.result.nodes && !d.result.nodes->empty()
               ? (*d.result.nodes)[0]["metadata"]["name"].get<std::string>()
               : std::string();
  };
  EXPECT_EQ(simulate(16384), "sim-1");  // binpack: 8000 of 16384 used beats 4000 of 16384
  EXPECT_EQ(simulate(65536), "sim-2");  // now 8000 of 65536 is the emptier one
}

TEST_F(FilterCoreTest, WithoutFailureReasonsTheSameDecisionsAndNoFailedNodes) {
  // hami simulate turns reasons off; what /filter decides must not change.
  VendorRegistry registry = std::move(*MakeVendorRegistry(DefaultDeviceConfig()));
  UsageLedger quiet_ledger;
  quiet_ledger.SetNodeDevices("node-a", "NVIDIA", {Dev("GPU-a0"), Dev("GPU-a1")});
  quiet_ledger.SetNodeDevices("node-b", "NVIDIA", {Dev("GPU-b0")});
  FilterCore quiet(registry, quiet_ledger,
                   std::make_unique<policy::HamiPolicy>(
                       "hami-default", policy::NodePolicy::kBinpack, policy::GpuPolicy{}));
  quiet.set_failure_reasons(false);
  for (int i = 0; i < 4; ++i) {
    const std::string uid = "u" + std::to_string(i);
    nlohmann::json pod = Pod(uid, {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "9000"}});
    FilterDecision loud = core_.Filter(Args(pod), 1);
    FilterDecision hushed = quiet.Filter(Args(pod), 1);
    EXPECT_EQ(hushed.result.node_names, loud.result.node_names) << uid;
    EXPECT_EQ(hushed.decided.has_value(), loud.decided.has_value()) << uid;
    EXPECT_EQ(loud.decided.has_value(), i < 3) << uid;
    if (!loud.decided) {
      // The fourth pod fits nowhere (three GPUs, 9000 of 16384 MiB each).
      EXPECT_EQ(i, 3);
      EXPECT_FALSE(loud.result.failed_nodes.empty());
      EXPECT_EQ(hushed.result.failed_nodes.count("node-a"), 0u);
      EXPECT_EQ(hushed.result.failed_nodes.count("node-b"), 0u);
    }
  }
}

// Counts what FilterCore tells the policy.
class CountingPolicy : public policy::HamiPolicy {
 public:
  CountingPolicy() : HamiPolicy("counting", policy::NodePolicy::kBinpack, policy::GpuPolicy{}) {}
  void Observe(const policy::PodRequest& pod) override { observed.push_back(pod); }
  std::vector<policy::PodRequest> observed;
};

TEST(FilterCoreHostTest, EachPodIsObservedOnceWithItsHostRequestWhichNodesMustHold) {
  VendorRegistry registry = std::move(*MakeVendorRegistry(DefaultDeviceConfig()));
  UsageLedger ledger;
  ledger.SetNodeDevices("node-a", "NVIDIA", {Dev("GPU-a0")});
  ledger.SetNodeDevices("node-b", "NVIDIA", {Dev("GPU-b0")});
  ledger.SetNodeHostCapacity("node-a", 1000, 4096);  // too little CPU for the pod
  ledger.SetNodeHostCapacity("node-b", 8000, 4096);
  auto counting = std::make_unique<CountingPolicy>();
  CountingPolicy* policy = counting.get();
  FilterCore core(registry, ledger, std::move(counting));
  nlohmann::json pod = Pod("u1", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}});
  pod["spec"]["containers"][0]["resources"]["requests"] = {{"cpu", "1500m"}, {"memory", "1Gi"}};
  ExtenderArgs args;
  args.pod = pod;
  args.node_names = std::vector<std::string>{"node-a", "node-b"};
  FilterDecision first = core.Filter(args, 1);
  ASSERT_TRUE(first.decided) << first.result.error;
  EXPECT_EQ(first.decided->node, "node-b");
  EXPECT_EQ(first.decided->host_cpu_milli, 1500);
  EXPECT_EQ(first.decided->host_memory_mib, 1024);
  // The decision holds its host share: node-b has 6500 millicores left.
  const std::vector<std::string> b = {"node-b"};
  EXPECT_EQ(ledger.Snapshot(b, nullptr).at(0).cpu_free_milli, 6500);
  // kube-scheduler retries the same pod: it is not counted again.
  FilterDecision again = core.Filter(args, 2);
  ASSERT_TRUE(again.decided);
  ASSERT_EQ(policy->observed.size(), 1u);
  EXPECT_EQ(policy->observed[0].cpu_milli, 1500);
  EXPECT_EQ(ledger.Snapshot(b, nullptr).at(0).cpu_free_milli, 6500);
  // When nothing fits, each node says why.
  nlohmann::json big = Pod("u2", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}});
  big["spec"]["containers"][0]["resources"]["requests"] = {{"cpu", "7"}};
  args.pod = big;
  FilterDecision refused = core.Filter(args, 3);
  EXPECT_FALSE(refused.decided);
  EXPECT_EQ(refused.result.failed_nodes["node-a"], "Insufficient host resources");
  EXPECT_EQ(refused.result.failed_nodes["node-b"], "Insufficient host resources");
  EXPECT_EQ(policy->observed.size(), 2u);
}

}  // namespace
}  // namespace hami::scheduler
