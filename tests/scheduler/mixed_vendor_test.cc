// A mixed cluster on the fake API server: an NVIDIA node and a Hygon DCU node registered the way
// their device plugins do (JSON under hami.io/node-nvidia-register, the legacy colon form under
// hami.io/node-dcu-register), scheduled by one SchedulerDaemon whose device config enables both.
#include <gtest/gtest.h>
#include <httplib.h>

#include "device/amd.h"
#include "device/annotations.h"
#include "device/biren.h"
#include "device/codec.h"
#include "device/hygon.h"
#include "scheduler/daemon.h"
#include "scheduler/state_sync.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using std::chrono::milliseconds;
using MixedVendorTest = testing::MixedClusterTest;
using testing::kDcuRegistration;
using testing::NvidiaAndHygon;

nlohmann::json Node(const std::string& name, nlohmann::json annotations,
                    nlohmann::json allocatable) {
  return testing::MixedNode(name, std::move(annotations), std::move(allocatable));
}

TEST_F(MixedVendorTest, EachVendorsPodLandsOnItsNodeWithHamisAnnotations) {
  auto daemon = StartDaemon();
  // The leader handshakes with each vendor's plugin on its own key.
  auto dcu = WaitForHandshakeRequest("dcu-node", kHygonHandshakeAnnotation);
  ASSERT_TRUE(dcu.has_value());
  EXPECT_FALSE((*dcu)["metadata"]["annotations"].contains(kNodeHandshakeAnnotation));

  const nlohmann::json both = {"gpu-node", "dcu-node"};
  nlohmann::json gpu_pod = *api_.Put(testing::PodObject(
      "gpu-pod",
      {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "3000"}, {"nvidia.com/gpucores", "30"}}));
  nlohmann::json filtered = Filter(*daemon, gpu_pod, both);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"gpu-node"})) << filtered.dump();
  Bind(*daemon, gpu_pod, "gpu-node");
  nlohmann::json annotations = Annotations("gpu-pod");
  EXPECT_EQ(annotations[kVgpuDevicesAllocatedAnnotation], "GPU-a0,NVIDIA,3000,30:;");
  EXPECT_FALSE(annotations.contains(kHygonAllocatedAnnotation));

  // HAMi docs/hygon-dcu-support.md's example pod.
  nlohmann::json dcu_pod = *api_.Put(testing::PodObject(
      "dcu-pod",
      {{"hygon.com/dcunum", "1"}, {"hygon.com/dcumem", "2000"}, {"hygon.com/dcucores", "60"}}));
  filtered = Filter(*daemon, dcu_pod, both);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"dcu-node"})) << filtered.dump();
  Bind(*daemon, dcu_pod, "dcu-node");
  annotations = Annotations("dcu-pod");
  ASSERT_TRUE(annotations.contains(kHygonAllocatedAnnotation)) << annotations.dump();
  const std::string allocated = annotations[kHygonAllocatedAnnotation];
  EXPECT_TRUE(allocated == "DCU-0,DCU,2000,60:;" || allocated == "DCU-1,DCU,2000,60:;")
      << allocated;
  EXPECT_EQ(annotations[kHygonToAllocateAnnotation], allocated);
  EXPECT_EQ(annotations[kVgpuNodeAnnotation], "dcu-node");
  EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));
  EXPECT_FALSE(annotations.contains(kVgpuDevicesToAllocateAnnotation));
  EXPECT_EQ(annotations[kBindPhaseAnnotation], "allocating");

  // A DCU asked for without cores or memory is taken whole (HAMi's cores default 100, memory
  // 100 %): the untouched card takes it, and then no card has a whole card's memory left.
  for (const char* name : {"dcu-whole-1", "dcu-whole-2"}) {
    nlohmann::json pod = *api_.Put(testing::PodObject(name, {{"hygon.com/dcunum", "1"}}));
    filtered = Filter(*daemon, pod, both);
    if (std::string(name) == "dcu-whole-1") {
      ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"dcu-node"})) << filtered.dump();
      Bind(*daemon, pod, "dcu-node");
      EXPECT_NE(
          Annotations(name)[kHygonAllocatedAnnotation].get<std::string>().find(",DCU,65520,100:;"),
          std::string::npos);
    } else {
      EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
      const std::string why = filtered["FailedNodes"]["dcu-node"];
      EXPECT_NE(why.find("2/2 CardInsufficientMemory"), std::string::npos) << why;
    }
  }

  // One pod asking both vendors is refused with a clear message.
  ExpectTwoVendorPodRefused(*daemon, {{"nvidia.com/gpu", "1"}, {"hygon.com/dcunum", "1"}}, both,
                            "DCU, NVIDIA");
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());

  // A restarted replica rebuilds the DCU allocations from hami.io/dcu-devices-allocated.
  EXPECT_EQ(daemon->ledger().PodCount(), 3u);
  ExpectRestartRebuildsAllocations(daemon, 3, "dcu-whole-3", {{"hygon.com/dcunum", "1"}}, both);
}

// A node with both vendors whose DCU registration is malformed keeps its NVIDIA devices.
TEST_F(MixedVendorTest, MalformedDcuRegistrationDropsOnlyTheNodesDcus) {
  ASSERT_TRUE(api_.Put(Node("both-node",
                            {{kNodeNvidiaRegisterAnnotation,
                              EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})},
                             {kHygonRegisterAnnotation, "DCU-0,4,lots,100,DCU-Z100L,0,true:"}},
                            {{"nvidia.com/gpu", "10"}, {"hygon.com/dcunum", "4"}}))
                  .ok());
  auto daemon = StartDaemon();
  ExpectNvidiaPodFits(*daemon, "both-node");
  // The well-formed DCU node still serves DCU pods.
  ExpectFitsOnlyOnGoodNode(*daemon, "dcu-pod", {{"hygon.com/dcunum", "1"}}, "both-node",
                           "dcu-node");

  // One Warning Event on the Node says why, however many registration passes saw it.
  auto invalid = [&] {
    std::vector<nlohmann::json> found;
    for (const nlohmann::json& e : api_.List("events")) {
      if (e.value("reason", "") == "InvalidDeviceRegistration") found.push_back(e);
    }
    return found;
  };
  ASSERT_TRUE(api_.WaitUntil([&] { return !invalid().empty(); }, milliseconds(2000)));
  std::this_thread::sleep_for(milliseconds(300));  // several 50 ms registration passes
  const std::vector<nlohmann::json> events = invalid();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "Warning");
  EXPECT_EQ(events[0]["involvedObject"]["kind"], "Node");
  EXPECT_EQ(events[0]["involvedObject"]["name"], "both-node");
  const std::string message = events[0]["message"];
  EXPECT_NE(message.find("DCU devices ignored: hami.io/node-dcu-register"), std::string::npos)
      << message;
}

// The registration pass reports it per vendor: the key and the bad field, NVIDIA untouched.
TEST(MixedVendorStateTest, MalformedDcuRegistrationIsReportedAndNvidiaKept) {
  auto registry = MakeVendorRegistry(NvidiaAndHygon());
  ASSERT_TRUE(registry.ok());
  UsageLedger ledger;
  AllocatableTracker tracker;
  nlohmann::json node =
      Node("both-node",
           {{kNodeNvidiaRegisterAnnotation, EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})},
            {kHygonRegisterAnnotation, "DCU-0,4,lots,100,DCU-Z100L,0,true:"}},
           {{"nvidia.com/gpu", "10"}, {"hygon.com/dcunum", "4"}});
  NodeActions actions = ApplyNode(*registry, ledger, tracker, node, 1'700'000'000, 0);
  EXPECT_TRUE(actions.log.empty());
  ASSERT_EQ(actions.registration_errors.size(), 1u);
  const std::string& why = actions.registration_errors["DCU"];
  EXPECT_NE(why.find("hami.io/node-dcu-register"), std::string::npos) << why;
  EXPECT_NE(why.find("lots"), std::string::npos) << why;
  // Only NVIDIA's handshake is asked for: the DCU registration was refused.
  ASSERT_EQ(actions.handshake_writes.size(), 1u);
  EXPECT_EQ(actions.handshake_writes[0].first, kNodeHandshakeAnnotation);
  const std::vector<std::string> names = {"both-node"};
  auto states = ledger.Snapshot(names, nullptr);
  ASSERT_EQ(states.size(), 1u);
  ASSERT_EQ(states[0].devices.size(), 1u);
  EXPECT_EQ(states[0].devices[0].info.id, "GPU-b0");
}

// HAMi's DCU health is the common handshake rule only: a fresh handshake keeps the devices
// even when the node's dcunum count reads 0 after being positive (NVIDIA would drop them).
TEST(MixedVendorStateTest, DcuFollowsOnlyTheCommonHandshakeRule) {
  auto registry = MakeVendorRegistry(NvidiaAndHygon());
  ASSERT_TRUE(registry.ok());
  UsageLedger ledger;
  AllocatableTracker tracker;
  const int64_t now = 1'700'000'000;
  nlohmann::json node =
      Node("n",
           {{kNodeNvidiaRegisterAnnotation, EncodeNodeDevicesJson({testing::TestDevice("GPU-0")})},
            {kHygonRegisterAnnotation, kDcuRegistration}},
           {{"nvidia.com/gpu", "10"}, {"hygon.com/dcunum", "8"}});
  NodeActions first = ApplyNode(*registry, ledger, tracker, node, now, 0);
  for (const auto& [key, value] : first.handshake_writes) {
    node["metadata"]["annotations"][key] = *value;
  }
  node["status"]["allocatable"] = {{"nvidia.com/gpu", "0"}, {"hygon.com/dcunum", "0"}};
  NodeActions second = ApplyNode(*registry, ledger, tracker, node, now + 1, 0);
  const std::vector<std::string> names = {"n"};
  auto states = ledger.Snapshot(names, nullptr);
  ASSERT_EQ(states.size(), 1u);
  std::vector<std::string> ids;
  for (const DeviceUsage& d : states[0].devices) ids.push_back(d.info.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"DCU-0", "DCU-1"}));
  ASSERT_EQ(second.log.size(), 1u);
  EXPECT_NE(second.log[0].find("node n NVIDIA: devices dropped"), std::string::npos)
      << second.log[0];
}

// An AMD node registered as HAMi's AMD device plugin does (JSON under hami.io/node-amd-register,
// no handshake): an AMD pod lands there with hami.io/amd-devices-to-allocate / -allocated.
TEST_F(MixedVendorTest, AmdPodLandsOnAmdNode) {
  device_config_.amd = AmdConfig{};
  DeviceInfo gpu;
  gpu.id = "AMD-GPU-0";
  gpu.count = 4;
  gpu.devmem_mib = 196608;
  gpu.devcore = 100;
  gpu.type = "AMD-Instinct-MI300X";
  gpu.health = true;
  ASSERT_TRUE(api_.Put(Node("amd-node", {{kAmdRegisterAnnotation, EncodeNodeDevicesJson({gpu})}},
                            {{"amd.com/gpu", "1"}}))
                  .ok());
  auto daemon = StartDaemon();
  const nlohmann::json all = {"gpu-node", "dcu-node", "amd-node"};
  nlohmann::json pod = *api_.Put(testing::PodObject(
      "amd-pod", {{"amd.com/gpu", "1"}, {"amd.com/gpumem", "4096"}, {"amd.com/gpucores", "50"}}));
  nlohmann::json filtered = Filter(*daemon, pod, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"amd-node"})) << filtered.dump();
  Bind(*daemon, pod, "amd-node");
  nlohmann::json annotations = Annotations("amd-pod");
  EXPECT_EQ(annotations[kAmdAllocatedAnnotation], "AMD-GPU-0,AMD,4096,50:;") << annotations.dump();
  EXPECT_EQ(annotations[kAmdToAllocateAnnotation], annotations[kAmdAllocatedAnnotation]);
  EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));
  EXPECT_FALSE(annotations.contains(kHygonAllocatedAnnotation));
  auto node = *api_.Get("nodes", "", "amd-node");
  EXPECT_EQ(node["metadata"]["annotations"].size(), 1u) << node.dump();  // no handshake key

  ExpectTwoVendorPodRefused(*daemon, {{"amd.com/gpu", "1"}, {"hygon.com/dcunum", "1"}}, all,
                            "AMD, DCU");
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());
}

// A Biren node registered as HAMi's Biren plugin does (JSON under hami.io/node-biren-register):
// the leader handshakes on hami.io/node-handshake-biren, and Biren pods share a card up to its
// registered count with 0 MiB and 0 cores each, as HAMi's Biren fit writes them.
TEST_F(MixedVendorTest, BirenPodsLandOnBirenNode) {
  device_config_.biren = BirenConfig{};
  DeviceInfo card;
  card.id = "BR-0";
  card.count = 2;
  card.devmem_mib = 65536;
  card.type = "Biren-BR106";
  card.health = true;
  ASSERT_TRUE(
      api_.Put(Node("biren-node", {{kBirenRegisterAnnotation, EncodeNodeDevicesJson({card})}},
                    {{"birentech.com/gpu", "2"}}))
          .ok());
  auto daemon = StartDaemon();
  ASSERT_TRUE(WaitForHandshakeRequest("biren-node", kBirenHandshakeAnnotation).has_value());
  const nlohmann::json all = {"gpu-node", "dcu-node", "biren-node"};
  for (const char* name : {"biren-1", "biren-2", "biren-3"}) {
    nlohmann::json pod = *api_.Put(testing::PodObject(name, {{"birentech.com/gpu", "1"}}));
    nlohmann::json filtered = Filter(*daemon, pod, all);
    if (std::string(name) == "biren-3") {
      EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
      continue;
    }
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"biren-node"})) << filtered.dump();
    Bind(*daemon, pod, "biren-node");
    nlohmann::json annotations = Annotations(name);
    EXPECT_EQ(annotations[kBirenAllocatedAnnotation], "BR-0,Biren,0,0:;") << annotations.dump();
    EXPECT_EQ(annotations[kBirenToAllocateAnnotation], "BR-0,Biren,0,0:;");
    EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));
  }
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());
}

}  // namespace
}  // namespace hami::scheduler
