// A Vastai node in the mixed cluster, registered as HAMi's Vastai device plugin does (JSON under
// hami.io/node-va-register); the leader handshakes on hami.io/node-handshake-va.
#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/vastai.h"
#include "scheduler/daemon.h"
#include "scheduler/state_sync.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using MixedVastaiTest = testing::MixedClusterTest;

// Two whole cards, one task each, in the form of HAMi's Vastai test registration.
constexpr char kVaRegistration[] =
    R"([{"id":"7-0-batch-0","count":1,"type":"Vastai","health":true,"devicepairscore":{}},)"
    R"({"id":"7-1-batch-0","index":1,"count":1,"type":"Vastai","health":true}])";

nlohmann::json VaNode(const std::string& name, nlohmann::json annotations) {
  return testing::MixedNode(name, std::move(annotations), {{"vastaitech.com/va", "2"}});
}

TEST_F(MixedVastaiTest, VastaiPodsLandOnTheVaNodeWithHamisAnnotations) {
  device_config_.vastai = VastaiConfig{};
  ASSERT_TRUE(api_.Put(VaNode("va-node", {{kVastaiRegisterAnnotation, kVaRegistration}})).ok());
  auto daemon = StartDaemon();
  auto node = WaitForHandshakeRequest("va-node", kVastaiHandshakeAnnotation);
  ASSERT_TRUE(node.has_value());
  EXPECT_FALSE((*node)["metadata"]["annotations"].contains(kNodeHandshakeAnnotation));

  const nlohmann::json all = {"gpu-node", "dcu-node", "va-node"};
  std::vector<std::string> granted;
  for (const char* name : {"va-1", "va-2", "va-3"}) {
    nlohmann::json pod = *api_.Put(testing::PodObject(name, {{"vastaitech.com/va", "1"}}));
    nlohmann::json filtered = Filter(*daemon, pod, all);
    if (std::string(name) == "va-3") {
      EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
      continue;
    }
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"va-node"})) << filtered.dump();
    Bind(*daemon, pod, "va-node");
    nlohmann::json annotations = Annotations(name);
    const std::string allocated = annotations.value(kVastaiAllocatedAnnotation, "");
    EXPECT_TRUE(allocated == "7-0-batch-0,Vastai,0,0:;" || allocated == "7-1-batch-0,Vastai,0,0:;")
        << annotations.dump();
    EXPECT_EQ(annotations[kVastaiToAllocateAnnotation], allocated);
    EXPECT_EQ(annotations[kVgpuNodeAnnotation], "va-node");
    EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));
    granted.push_back(allocated);
  }
  ASSERT_EQ(granted.size(), 2u);
  EXPECT_NE(granted[0], granted[1]);
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());

  // The UUID selector: with both cards taken, asking for one by UUID still finds nothing, and
  // a pod refusing both has nowhere to go even on an empty cluster's view.
  nlohmann::json pinned = testing::PodObject("va-pinned", {{"vastaitech.com/va", "1"}});
  pinned["metadata"]["annotations"] = {{kVastaiNoUseUuidAnnotation, "7-0-batch-0,7-1-batch-0"}};
  pinned = *api_.Put(pinned);
  EXPECT_TRUE(Filter(*daemon, pinned, all)["NodeNames"].is_null());

  // One container asking Vastai and NVIDIA is refused clearly.
  ExpectTwoVendorPodRefused(*daemon, {{"vastaitech.com/va", "1"}, {"nvidia.com/gpu", "1"}}, all,
                            "NVIDIA, Vastai");
}

// The UUID selectors steer placement: nouse-gpuuuid keeps a pod off a card.
TEST_F(MixedVastaiTest, NoUseUuidKeepsThePodOffTheCard) {
  device_config_.vastai = VastaiConfig{};
  ASSERT_TRUE(api_.Put(VaNode("va-node", {{kVastaiRegisterAnnotation, kVaRegistration}})).ok());
  auto daemon = StartDaemon();
  nlohmann::json pod = testing::PodObject("va-avoid", {{"vastaitech.com/va", "1"}});
  pod["metadata"]["annotations"] = {{kVastaiNoUseUuidAnnotation, "7-0-batch-0"}};
  pod = *api_.Put(pod);
  nlohmann::json filtered = Filter(*daemon, pod, {"va-node"});
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"va-node"})) << filtered.dump();
  Bind(*daemon, pod, "va-node");
  EXPECT_EQ(Annotations("va-avoid")[kVastaiAllocatedAnnotation], "7-1-batch-0,Vastai,0,0:;");
}

// A node with NVIDIA GPUs and a malformed Vastai registration keeps its GPUs; the Vastai error
// is reported for that node and vendor only, and the well-formed Vastai node still serves.
TEST_F(MixedVastaiTest, MalformedVaRegistrationDropsOnlyTheNodesVastaiDevices) {
  device_config_.vastai = VastaiConfig{};
  nlohmann::json both = VaNode(
      "both-node",
      {{kNodeNvidiaRegisterAnnotation, EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})},
       {kVastaiRegisterAnnotation, R"([{"id":"va-x","count":"one"}])"}});
  both["status"]["allocatable"]["nvidia.com/gpu"] = "10";
  ASSERT_TRUE(api_.Put(both).ok());
  ASSERT_TRUE(api_.Put(VaNode("va-node", {{kVastaiRegisterAnnotation, kVaRegistration}})).ok());
  auto daemon = StartDaemon();
  ExpectNvidiaPodFits(*daemon, "both-node");
  ExpectFitsOnlyOnGoodNode(*daemon, "va-pod", {{"vastaitech.com/va", "1"}}, "both-node", "va-node");

  NodeActions actions = ApplyRegistration("both-node").actions;
  ASSERT_EQ(actions.registration_errors.size(), 1u);
  const std::string& why = actions.registration_errors["Vastai"];
  EXPECT_NE(why.find("hami.io/node-va-register"), std::string::npos) << why;
  EXPECT_NE(why.find("count"), std::string::npos) << why;
  // No Vastai handshake is asked for: the registration was refused.
  for (const auto& [key, value] : actions.handshake_writes) {
    EXPECT_NE(key, kVastaiHandshakeAnnotation);
  }
  EXPECT_FALSE((*api_.Get("nodes", "", "both-node"))["metadata"]["annotations"].contains(
      kVastaiHandshakeAnnotation));
}

}  // namespace
}  // namespace hami::scheduler
