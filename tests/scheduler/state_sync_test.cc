#include "scheduler/state_sync.h"

#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/config.h"
#include "kube/objects.h"
#include "scheduler/filter.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

constexpr int64_t kNow = 1735830245;

DeviceInfo Dev(const std::string& id, int32_t mem = 16384) { return testing::TestDevice(id, mem); }

nlohmann::json NodeJson(const std::string& name, std::vector<DeviceInfo> devices,
                        std::optional<std::string> handshake,
                        const std::string& allocatable = "20") {
  nlohmann::json node = {{"metadata", {{"name", name}, {"annotations", nlohmann::json::object()}}},
                         {"status", {{"allocatable", {{"nvidia.com/gpu", allocatable}}}}}};
  node["metadata"]["annotations"][kNodeNvidiaRegisterAnnotation] = EncodeNodeDevicesJson(devices);
  if (handshake) node["metadata"]["annotations"][kNodeHandshakeAnnotation] = *handshake;
  return node;
}

nlohmann::json PodJson(const std::string& uid, std::optional<std::string> allocated,
                       const std::string& node = "n1") {
  nlohmann::json pod = {{"metadata",
                         {{"name", "p-" + uid},
                          {"namespace", "default"},
                          {"uid", uid},
                          {"annotations", nlohmann::json::object()}}},
                        {"spec", {{"containers", nlohmann::json::array({{{"name", "c"}}})}}},
                        {"status", {{"phase", "Pending"}}}};
  if (allocated) {
    pod["metadata"]["annotations"][kVgpuDevicesAllocatedAnnotation] = *allocated;
    pod["metadata"]["annotations"][kVgpuNodeAnnotation] = node;
  }
  return pod;
}

class StateSyncTest : public ::testing::Test {
 protected:
  StateSyncTest() : registry_(*MakeVendorRegistry(DefaultDeviceConfig())) {}
  VendorRegistry registry_;
  UsageLedger ledger_;
  AllocatableTracker tracker_;
};

TEST_F(StateSyncTest, PodsWithAllocationsAreTrackedUntilTheyFinish) {
  ASSERT_TRUE(ApplyPod(registry_, ledger_, PodJson("u1", "GPU-a,NVIDIA,3000,30:;")).ok());
  auto tracked = ledger_.GetPod("u1");
  ASSERT_TRUE(tracked.has_value());
  EXPECT_EQ(tracked->node, "n1");
  nlohmann::json done = PodJson("u1", "GPU-a,NVIDIA,3000,30:;");
  done["status"]["phase"] = "Succeeded";
  ASSERT_TRUE(ApplyPod(registry_, ledger_, done).ok());
  EXPECT_FALSE(ledger_.GetPod("u1").has_value());

  ASSERT_TRUE(ApplyPod(registry_, ledger_, PodJson("u2", "GPU-a,NVIDIA,1,1:;")).ok());
  nlohmann::json terminating = PodJson("u2", "GPU-a,NVIDIA,1,1:;");
  terminating["metadata"]["deletionTimestamp"] = "2025-01-02T15:04:05Z";
  ASSERT_TRUE(ApplyPod(registry_, ledger_, terminating).ok());
  // Deleted with a grace period, its containers still run on the GPU: it keeps its devices
  // until the API server drops it (or it reaches a terminal phase).
  EXPECT_TRUE(ledger_.GetPod("u2").has_value());
  ApplyPodDeleted(ledger_, terminating);
  EXPECT_FALSE(ledger_.GetPod("u2").has_value());

  ASSERT_TRUE(ApplyPod(registry_, ledger_, PodJson("u3", "GPU-a,NVIDIA,1,1:;")).ok());
  ApplyPodDeleted(ledger_, PodJson("u3", std::nullopt));
  EXPECT_EQ(ledger_.PodCount(), 0u);
}

TEST_F(StateSyncTest, AllocationIsInFlightUntilTheDevicePluginReportsTheBindPhase) {
  auto in_flight = [&](nlohmann::json pod) {
    EXPECT_TRUE(ApplyPod(registry_, ledger_, pod).ok());
    return ledger_.GetPod("u1")->in_flight;
  };
  nlohmann::json pod = PodJson("u1", "GPU-a,NVIDIA,3000,30:;");
  EXPECT_TRUE(in_flight(pod));  // decided, not bound
  pod["metadata"]["annotations"][kBindPhaseAnnotation] = "allocating";
  EXPECT_TRUE(in_flight(pod));
  pod["metadata"]["annotations"][kBindPhaseAnnotation] = "success";
  EXPECT_FALSE(in_flight(pod));
  pod["metadata"]["annotations"][kBindPhaseAnnotation] = "failed";
  EXPECT_FALSE(in_flight(pod));
  // Running pods allocated long ago (or by a scheduler that never wrote a phase) are settled.
  pod["metadata"]["annotations"].erase(kBindPhaseAnnotation);
  pod["status"]["phase"] = "Running";
  EXPECT_FALSE(in_flight(pod));
}

TEST_F(StateSyncTest, TrimmedPodsApplyExactlyLikeFullOnes) {
  nlohmann::json full = PodJson("u1", "GPU-a,NVIDIA,3000,30:;GPU-a,NVIDIA,1000,10:;");
  full["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
      std::string(4000, 'x');
  full["metadata"]["annotations"][kBindPhaseAnnotation] = "allocating";
  full["metadata"]["labels"] = {{"app", "train"}};
  full["metadata"]["managedFields"] = nlohmann::json::array({{{"manager", "kubectl"}}});
  full["spec"]["initContainers"] = nlohmann::json::array(
      {{{"name", "init"}, {"image", "busybox"}, {"resources", {{"limits", {{"cpu", "1"}}}}}}});
  full["spec"]["containers"][0]["image"] = "cuda:12";
  full["status"]["initContainerStatuses"] = nlohmann::json::array(
      {{{"name", "init"}, {"image", "busybox"}, {"state", {{"terminated", {{"exitCode", 0}}}}}}});
  full["status"]["conditions"] = nlohmann::json::array({{{"type", "Ready"}}});
  nlohmann::json trimmed = full;
  TrimPodForCache(registry_, trimmed);
  EXPECT_LT(trimmed.dump().size() * 4, full.dump().size());
  EXPECT_FALSE(trimmed["metadata"].contains("managedFields"));
  EXPECT_FALSE(trimmed["metadata"]["annotations"].contains(
      "kubectl.kubernetes.io/last-applied-configuration"));
  EXPECT_EQ(kube::ObjectKey(trimmed), kube::ObjectKey(full));

  UsageLedger from_trimmed;
  ASSERT_TRUE(ApplyPod(registry_, ledger_, full).ok());
  ASSERT_TRUE(ApplyPod(registry_, from_trimmed, trimmed).ok());
  ASSERT_TRUE(from_trimmed.GetPod("u1").has_value());
  EXPECT_EQ(*from_trimmed.GetPod("u1"), *ledger_.GetPod("u1"));
  EXPECT_TRUE(from_trimmed.GetPod("u1")->by_vendor.at("NVIDIA")[0].empty())
      << "the finished init container's devices are released in both";
  // A deletion in progress is kept in the trimmed copy (the pod still holds its devices), and
  // a terminal phase still releases them.
  full["metadata"]["deletionTimestamp"] = "2025-01-02T15:04:05Z";
  trimmed = full;
  TrimPodForCache(registry_, trimmed);
  EXPECT_EQ(trimmed["metadata"]["deletionTimestamp"], "2025-01-02T15:04:05Z");
  ASSERT_TRUE(ApplyPod(registry_, from_trimmed, trimmed).ok());
  EXPECT_TRUE(from_trimmed.GetPod("u1").has_value());
  full["status"]["phase"] = "Failed";
  trimmed = full;
  TrimPodForCache(registry_, trimmed);
  ASSERT_TRUE(ApplyPod(registry_, from_trimmed, trimmed).ok());
  EXPECT_FALSE(from_trimmed.GetPod("u1").has_value());
}

TEST_F(StateSyncTest, TrimmedNodesKeepWhatRegistrationReads) {
  nlohmann::json node = NodeJson("n1", {Dev("GPU-a")}, std::nullopt);
  node["status"]["images"] = nlohmann::json::array({{{"names", {"cuda:12"}}, {"sizeBytes", 1}}});
  node["metadata"]["managedFields"] = nlohmann::json::array({{{"manager", "kubelet"}}});
  nlohmann::json trimmed = node;
  TrimNodeForCache(trimmed);
  EXPECT_FALSE(trimmed["status"].contains("images"));
  EXPECT_FALSE(trimmed["metadata"].contains("managedFields"));
  EXPECT_EQ(trimmed["metadata"]["annotations"], node["metadata"]["annotations"]);
  EXPECT_EQ(trimmed["status"]["allocatable"], node["status"]["allocatable"]);
}

// Vendors see the node's labels (Moore Threads' card ids, AWS Neuron's instance type), also
// after the cache trimmed the node.
TEST_F(StateSyncTest, NodeFactsCarryTheLabels) {
  nlohmann::json node = NodeJson("n1", {Dev("GPU-a")}, std::nullopt);
  node["metadata"]["labels"] = {{"node.kubernetes.io/instance-type", "trn1.32xlarge"}};
  TrimNodeForCache(node);
  const NodeFacts facts = NodeFactsOf(kube::NodeView(node));
  EXPECT_EQ(facts.name, "n1");
  EXPECT_EQ(facts.labels, (Annotations{{"node.kubernetes.io/instance-type", "trn1.32xlarge"}}));
  EXPECT_FALSE(facts.annotations.empty());
}

TEST_F(StateSyncTest, AnUnannotatedEventDoesNotDropAFreshFilterDecision) {
  PodAllocation decided;
  decided.uid = "u1";
  decided.node = "n1";
  decided.by_vendor["NVIDIA"] = {{{"GPU-a", "NVIDIA", 1000, 10}}};
  ledger_.AddPod(decided);
  ASSERT_TRUE(ApplyPod(registry_, ledger_, PodJson("u1", std::nullopt)).ok());
  EXPECT_TRUE(ledger_.GetPod("u1").has_value());
}

TEST_F(StateSyncTest, FinishedInitContainersReleaseTheirPeak) {
  nlohmann::json pod = PodJson("u1", "GPU-a,NVIDIA,8000,10:;GPU-a,NVIDIA,2000,10:;");
  pod["spec"]["initContainers"] = nlohmann::json::array({{{"name", "init"}}});
  ledger_.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a")});
  ASSERT_TRUE(ApplyPod(registry_, ledger_, pod).ok());
  std::vector<std::string> names = {"n1"};
  EXPECT_EQ(ledger_.Snapshot(names, nullptr)[0].devices[0].used_mem_mib, 8000);
  pod["status"]["initContainerStatuses"] =
      nlohmann::json::array({{{"name", "init"}, {"state", {{"terminated", {{"exitCode", 0}}}}}}});
  ASSERT_TRUE(ApplyPod(registry_, ledger_, pod).ok());
  EXPECT_EQ(ledger_.Snapshot(names, nullptr)[0].devices[0].used_mem_mib, 2000);
}

TEST_F(StateSyncTest, UndecodableAllocationIsAnErrorAndNotTracked) {
  Status s = ApplyPod(registry_, ledger_, PodJson("u1", "GPU-a,NVIDIA:;"));
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(ledger_.GetPod("u1").has_value());
  EXPECT_FALSE(ApplyPod(registry_, ledger_, nlohmann::json{{"metadata", {{"name", "x"}}}}).ok());
}

TEST_F(StateSyncTest, NodeRegistrationHandshakeAndCordon) {
  // First sight: devices registered, handshake requested.
  NodeActions first =
      ApplyNode(registry_, ledger_, tracker_,
                NodeJson("n1", {Dev("GPU-a"), Dev("GPU-b")}, std::nullopt), kNow, 0);
  EXPECT_TRUE(ledger_.HasNode("n1"));
  ASSERT_EQ(first.handshake_writes.size(), 1u);
  EXPECT_EQ(first.handshake_writes[0].first, kNodeHandshakeAnnotation);
  EXPECT_EQ(first.handshake_writes[0].second->rfind("Requesting_", 0), 0u);

  // Cordon one device.
  nlohmann::json cordoned =
      NodeJson("n1", {Dev("GPU-a"), Dev("GPU-b")}, first.handshake_writes[0].second);
  cordoned["metadata"]["annotations"][kDeviceCordonAnnotation] = "GPU-b";
  NodeActions second = ApplyNode(registry_, ledger_, tracker_, cordoned, kNow + 10, 0);
  EXPECT_TRUE(second.handshake_writes.empty());
  std::vector<std::string> names = {"n1"};
  EXPECT_TRUE(ledger_.Snapshot(names, nullptr)[0].devices[1].cordoned);

  // The plugin stopped answering and the node advertises nothing: devices dropped, handshake
  // removed.
  NodeActions gone =
      ApplyNode(registry_, ledger_, tracker_,
                NodeJson("n1", {Dev("GPU-a")},
                         EncodeHandshake(HandshakeKind::kRequesting, kNow - 120, 0), "0"),
                kNow, 0);
  EXPECT_FALSE(ledger_.HasNode("n1"));
  ASSERT_EQ(gone.handshake_writes.size(), 1u);
  EXPECT_FALSE(gone.handshake_writes[0].second.has_value());
  EXPECT_FALSE(gone.log.empty());
}

TEST_F(StateSyncTest, AllocatableDroppingToZeroDropsDevicesEvenWithAFreshHandshake) {
  const std::string fresh = EncodeHandshake(HandshakeKind::kRequesting, kNow, 0);
  ApplyNode(registry_, ledger_, tracker_, NodeJson("n1", {Dev("GPU-a")}, fresh, "10"), kNow, 0);
  EXPECT_TRUE(ledger_.HasNode("n1"));
  ApplyNode(registry_, ledger_, tracker_, NodeJson("n1", {Dev("GPU-a")}, fresh, "0"), kNow, 0);
  EXPECT_FALSE(ledger_.HasNode("n1"));
}

TEST_F(StateSyncTest, BadRegistrationIsReportedAndTheNodeGetsNoDevices) {
  nlohmann::json node = NodeJson("n1", {Dev("GPU-a")}, std::nullopt);
  node["metadata"]["annotations"][kNodeNvidiaRegisterAnnotation] = "[{\"id\":5}]";
  NodeActions actions = ApplyNode(registry_, ledger_, tracker_, node, kNow, 0);
  EXPECT_FALSE(ledger_.HasNode("n1"));
  ASSERT_EQ(actions.registration_errors.size(), 1u);
  EXPECT_NE(actions.registration_errors["NVIDIA"].find(kNodeNvidiaRegisterAnnotation),
            std::string::npos);
  ApplyNodeDeleted(registry_, ledger_, tracker_, node);
  EXPECT_TRUE(ledger_.NodeNames().empty());
}

// Restart in miniature: the ledger a scheduler builds by filtering equals the one a new
// scheduler rebuilds from the pods' annotations.
TEST_F(StateSyncTest, RebuildFromAnnotationsEqualsTheLiveLedger) {
  std::vector<nlohmann::json> nodes = {NodeJson("n1", {Dev("GPU-a"), Dev("GPU-b")}, std::nullopt),
                                       NodeJson("n2", {Dev("GPU-c")}, std::nullopt)};
  for (const auto& n : nodes) ApplyNode(registry_, ledger_, tracker_, n, kNow, 0);
  FilterCore core(
      registry_, ledger_,
      std::make_unique<policy::HamiPolicy>("b", policy::NodePolicy::kBinpack, policy::GpuPolicy{}));
  std::vector<nlohmann::json> pods;
  for (int i = 0; i < 12; ++i) {
    nlohmann::json pod = PodJson("u" + std::to_string(i), std::nullopt);
    pod["spec"]["containers"][0]["resources"]["limits"] = {
        {"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "2000"}, {"nvidia.com/gpucores", "20"}};
    ExtenderArgs args;
    args.pod = pod;
    args.node_names = std::vector<std::string>{"n1", "n2"};
    FilterDecision d = core.Filter(args, kNow);
    if (d.decided) pod["metadata"]["annotations"] = testing::DecisionAnnotationsOf(d);
    pods.push_back(pod);
  }
  UsageLedger rebuilt;
  AllocatableTracker tracker;
  for (const auto& n : nodes) ApplyNode(registry_, rebuilt, tracker, n, kNow, 0);
  for (const auto& p : pods) ASSERT_TRUE(ApplyPod(registry_, rebuilt, p).ok());
  std::vector<std::string> names = {"n1", "n2"};
  auto live = ledger_.Snapshot(names, nullptr);
  auto again = rebuilt.Snapshot(names, nullptr);
  ASSERT_EQ(live.size(), again.size());
  for (size_t n = 0; n < live.size(); ++n) {
    for (size_t d = 0; d < live[n].devices.size(); ++d) {
      EXPECT_EQ(live[n].devices[d].used, again[n].devices[d].used);
      EXPECT_EQ(live[n].devices[d].used_mem_mib, again[n].devices[d].used_mem_mib);
      EXPECT_EQ(live[n].devices[d].used_cores, again[n].devices[d].used_cores);
    }
  }
  EXPECT_EQ(ledger_.PodCount(), rebuilt.PodCount());
  EXPECT_GT(rebuilt.PodCount(), 0u);
}

TEST_F(StateSyncTest, HostRequestsOfEveryBoundPodCountAgainstAllocatable) {
  nlohmann::json node = NodeJson("n1", {Dev("GPU-a")}, std::nullopt);
  node["status"]["allocatable"]["cpu"] = "8";
  node["status"]["allocatable"]["memory"] = "16Gi";
  (void)ApplyNode(registry_, ledger_, tracker_, node, kNow, 0);
  const std::vector<std::string> names = {"n1"};
  auto free_host = [&] {
    policy::NodeState state = ledger_.Snapshot(names, nullptr).at(0);
    return std::make_pair(state.cpu_free_milli, state.memory_free_mib);
  };
  EXPECT_EQ(free_host(), std::make_pair(int64_t{8000}, int64_t{16384}));

  // A pod without devices, bound by kube-scheduler: its requests take room (trimmed as the
  // watch cache keeps it).
  nlohmann::json cpu_pod = PodJson("cpu", std::nullopt);
  cpu_pod["spec"]["nodeName"] = "n1";
  cpu_pod["spec"]["containers"][0]["resources"] = {{"requests", {{"cpu", "2"}, {"memory", "4Gi"}}},
                                                   {"limits", {{"cpu", "4"}}}};
  TrimPodForCache(registry_, cpu_pod);
  ASSERT_TRUE(ApplyPod(registry_, ledger_, cpu_pod).ok());
  EXPECT_EQ(free_host(), std::make_pair(int64_t{6000}, int64_t{12288}));
  EXPECT_FALSE(ledger_.GetPod("cpu").has_value()) << "host-only pods hold no devices";

  // A GPU pod carries its host request with its allocation.
  nlohmann::json gpu_pod = PodJson("gpu", "GPU-a,NVIDIA,3000,30:;");
  gpu_pod["spec"]["nodeName"] = "n1";
  gpu_pod["spec"]["containers"][0]["resources"] = {{"requests", {{"cpu", "500m"}}}};
  ASSERT_TRUE(ApplyPod(registry_, ledger_, gpu_pod).ok());
  EXPECT_EQ(ledger_.GetPod("gpu")->host_cpu_milli, 500);
  EXPECT_EQ(free_host(), std::make_pair(int64_t{5500}, int64_t{12288}));

  // Finished or deleted pods give their room back.
  cpu_pod["status"]["phase"] = "Succeeded";
  ASSERT_TRUE(ApplyPod(registry_, ledger_, cpu_pod).ok());
  EXPECT_EQ(free_host(), std::make_pair(int64_t{7500}, int64_t{16384}));
  ApplyPodDeleted(ledger_, gpu_pod);
  EXPECT_EQ(free_host(), std::make_pair(int64_t{8000}, int64_t{16384}));

  // A node that does not report its allocatable CPU leaves host resources unknown.
  node["status"]["allocatable"].erase("cpu");
  node["status"]["allocatable"]["memory"] = "garbage";
  (void)ApplyNode(registry_, ledger_, tracker_, node, kNow, 0);
  EXPECT_EQ(free_host(),
            std::make_pair(policy::kUnknownHostResource, policy::kUnknownHostResource));
}

}  // namespace
}  // namespace hami::scheduler
