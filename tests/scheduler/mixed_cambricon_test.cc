// A Cambricon MLU node in the mixed cluster, registered as Cambricon's device plugin does: no
// annotation, only status.capacity cambricon.com/mlu.smlu.vcore (100 per card) and
// cambricon.com/mlu.smlu.vmemory (256 MiB units for all cards). HAMi synthesises the cards and
// guards binds with the extra node lock cambricon.com/dsmlu.lock.
#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/cambricon.h"
#include "device/codec.h"
#include "device/time_format.h"
#include "scheduler/daemon.h"
#include "scheduler/state_sync.h"
#include "scheduler/webhook.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using MixedCambriconTest = testing::MixedClusterTest;

// Two MLU370 cards of 24 GiB: vcore 200, vmemory 2 * 96 units.
nlohmann::json MluNode(const std::string& name,
                       nlohmann::json annotations = nlohmann::json::object(),
                       std::string vcore = "200") {
  // nvidia.com/gpu: a node that also has NVIDIA GPUs advertises them (else they are dropped).
  return testing::MixedNode(name, std::move(annotations),
                            {{"cambricon.com/vmlu", "200"}, {"nvidia.com/gpu", "10"}},
                            {{"cambricon.com/mlu.smlu.vcore", std::move(vcore)},
                             {"cambricon.com/mlu.smlu.vmemory", "192"}});
}

TEST_F(MixedCambriconTest, MluPodsLandOnTheMluNodeWithHamisAnnotationsAndDsmluLock) {
  device_config_.cambricon = CambriconConfig{};
  ASSERT_TRUE(api_.Put(MluNode("mlu-node")).ok());
  auto daemon = StartDaemon();
  const nlohmann::json all = {"gpu-node", "dcu-node", "mlu-node"};

  // HAMi's Cambricon example pod: 1 vmlu, 20 x 256 MiB, 10 % of the cores.
  nlohmann::json share =
      *api_.Put(testing::PodObject("mlu-share", {{"cambricon.com/vmlu", "1"},
                                                 {"cambricon.com/mlu.smlu.vmemory", "20"},
                                                 {"cambricon.com/mlu.smlu.vcore", "10"}}));
  nlohmann::json filtered = Filter(*daemon, share, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"mlu-node"})) << filtered.dump();
  Bind(*daemon, share, "mlu-node");
  nlohmann::json annotations = Annotations("mlu-share");
  const std::string allocated = annotations.value(kCambriconAllocatedAnnotation, "");
  const bool on_card_1 = allocated == "mlu-node-cambricon-mlu-1,MLU,5120,10:;";
  EXPECT_TRUE(on_card_1 || allocated == "mlu-node-cambricon-mlu-0,MLU,5120,10:;") << allocated;
  EXPECT_EQ(annotations[kCambriconToAllocateAnnotation], allocated);
  EXPECT_EQ(annotations["CAMBRICON_DSMLU_ASSIGNED"], "false");
  EXPECT_EQ(annotations["CAMBRICON_DSMLU_PROFILE"], on_card_1 ? "1_10_20" : "0_10_20");
  EXPECT_EQ(annotations[kVgpuNodeAnnotation], "mlu-node");
  EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));
  // The bind took HAMi's Cambricon lock, and no handshake key is written for MLU.
  auto node = *api_.Get("nodes", "", "mlu-node");
  const nlohmann::json node_annotations = node["metadata"]["annotations"];
  ASSERT_TRUE(node_annotations.contains(kCambriconLockAnnotation)) << node.dump();
  EXPECT_TRUE(ParseRfc3339(node_annotations[kCambriconLockAnnotation].get<std::string>()).ok());
  EXPECT_EQ(node_annotations.size(), 1u) << node_annotations.dump();

  // While the plugin has not released the dsmlu lock, the next MLU pod cannot bind.
  nlohmann::json whole = *api_.Put(testing::PodObject("mlu-whole", {{"cambricon.com/vmlu", "1"}}));
  filtered = Filter(*daemon, whole, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"mlu-node"})) << filtered.dump();
  nlohmann::json refused = Post(daemon->port(), "/bind",
                                {{"PodName", "mlu-whole"},
                                 {"PodNamespace", "default"},
                                 {"PodUID", whole["metadata"]["uid"]},
                                 {"Node", "mlu-node"}});
  EXPECT_NE(refused["Error"].get<std::string>().find("cambricon.com/dsmlu.lock"), std::string::npos)
      << refused.dump();
  EXPECT_FALSE((*api_.Get("nodes", "", "mlu-node"))["metadata"]["annotations"].contains(
      kNodeLockAnnotation));
  // The plugin's Allocate removes it; the pod is filtered again and binds, taking the whole
  // untouched card (HAMi: cores 100 and 100 % of the memory when none are given).
  node = *api_.Get("nodes", "", "mlu-node");
  node["metadata"]["annotations"].erase(kCambriconLockAnnotation);
  ASSERT_TRUE(api_.Put(node).ok());
  filtered = Filter(*daemon, whole, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"mlu-node"})) << filtered.dump();
  Bind(*daemon, whole, "mlu-node");
  EXPECT_EQ(Annotations("mlu-whole")[kCambriconAllocatedAnnotation],
            std::string("mlu-node-cambricon-mlu-") + (on_card_1 ? "0" : "1") + ",MLU,24576,100:;");

  // No card has a whole card left; nothing went over capacity.
  nlohmann::json third = *api_.Put(testing::PodObject("mlu-third", {{"cambricon.com/vmlu", "1"}}));
  filtered = Filter(*daemon, third, all);
  EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());

  // One container asking MLU and NVIDIA is refused clearly.
  ExpectTwoVendorPodRefused(*daemon, {{"cambricon.com/vmlu", "1"}, {"nvidia.com/gpu", "1"}}, all,
                            "MLU, NVIDIA");
}

// A node with NVIDIA GPUs and an unreadable MLU capacity keeps its GPUs; the MLU error is
// reported for that node and vendor only.
TEST_F(MixedCambriconTest, MalformedMluCapacityDropsOnlyTheNodesMlus) {
  device_config_.cambricon = CambriconConfig{};
  ASSERT_TRUE(api_.Put(MluNode("both-node",
                               {{kNodeNvidiaRegisterAnnotation,
                                 EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})}},
                               "lots"))
                  .ok());
  ASSERT_TRUE(api_.Put(MluNode("mlu-node")).ok());
  auto daemon = StartDaemon();
  ExpectNvidiaPodFits(*daemon, "both-node");
  ExpectFitsOnlyOnGoodNode(*daemon, "mlu-pod", {{"cambricon.com/vmlu", "1"}}, "both-node",
                           "mlu-node");

  auto errors = ApplyRegistration("both-node").actions.registration_errors;
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors["MLU"].find("cambricon.com/mlu.smlu.vcore"), std::string::npos) << errors["MLU"];
}

// The webhook with the Cambricon vendor: a vmlu limit makes the pod ours, nothing else changes.
TEST_F(MixedCambriconTest, WebhookTakesMluPodsUnchanged) {
  device_config_.cambricon = CambriconConfig{};
  auto registry = MakeVendorRegistry(device_config_);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  WebhookConfig config;
  config.vendors = std::make_shared<const VendorRegistry>(std::move(*registry));
  const nlohmann::json limits = {{"cambricon.com/vmlu", "1"},
                                 {"cambricon.com/mlu.smlu.vmemory", "20"},
                                 {"cambricon.com/mlu.smlu.vcore", "10"}};
  nlohmann::json pod = testing::PodObject("mlu", limits);
  AdmissionDecision d = AdmitPod(pod, config);
  ASSERT_TRUE(d.allowed) << d.message;
  nlohmann::json out = pod.patch(d.patch);
  EXPECT_EQ(out["spec"]["schedulerName"], "hami-scheduler");
  EXPECT_EQ(out["spec"]["containers"][0]["resources"]["limits"], limits);
}

}  // namespace
}  // namespace hami::scheduler
