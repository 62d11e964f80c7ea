// MetaX nodes in the mixed cluster, registered as MetaX's device plugins do: whole cards only as
// status.capacity metax-tech.com/gpu (HAMi synthesises "<node>-metax-<i>"), shared GPUs as
// MetaX's JSON list under metax-tech.com/node-gpu-devices. Neither handshakes.
#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/metax.h"
#include "scheduler/daemon.h"
#include "scheduler/state_sync.h"
#include "scheduler/webhook.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using MixedMetaxTest = testing::MixedClusterTest;

// Two sGPU cards as MetaX's sGPU plugin registers them: 4 tasks, 32 GiB, 100 % compute each.
constexpr char kSgpuRegistration[] =
    R"([{"uuid":"GPU-m0","bdf":"0000:0a:00.0","model":"C500","totalDevCount":4,)"
    R"("totalCompute":100,"totalVRam":32768,"numa":0,"healthy":true,"qosPolicy":"best-effort"},)"
    R"({"uuid":"GPU-m1","bdf":"0000:0b:00.0","model":"C500","totalDevCount":4,)"
    R"("totalCompute":100,"totalVRam":32768,"numa":0,"healthy":true,"qosPolicy":"best-effort"}])";

nlohmann::json WholeCardNode(const std::string& name, const std::string& cards,
                             nlohmann::json annotations = nlohmann::json::object()) {
  return testing::MixedNode(name, std::move(annotations), {{"metax-tech.com/gpu", cards}},
                            {{"metax-tech.com/gpu", cards}});
}

nlohmann::json SgpuNode(const std::string& name, const std::string& registration) {
  return testing::MixedNode(name, {{kMetaxSgpuRegisterAnnotation, registration}},
                            {{"metax-tech.com/sgpu", "8"}});
}

TEST_F(MixedMetaxTest, WholeCardPodsLandOnTheCapacityNode) {
  device_config_.metax = MetaxConfig{};
  ASSERT_TRUE(api_.Put(WholeCardNode("metax-node", "2")).ok());
  auto daemon = StartDaemon();
  const nlohmann::json all = {"gpu-node", "dcu-node", "metax-node"};
  std::vector<std::string> granted;
  for (const char* name : {"metax-1", "metax-2", "metax-3"}) {
    nlohmann::json pod = *api_.Put(testing::PodObject(name, {{"metax-tech.com/gpu", "1"}}));
    nlohmann::json filtered = Filter(*daemon, pod, all);
    if (std::string(name) == "metax-3") {
      // Both cards are taken whole: nothing fits.
      EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
      continue;
    }
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"metax-node"})) << filtered.dump();
    // HAMi takes no node lock for whole cards (MetaX's plugin would never release it), so the
    // second pod binds right after the first without anyone clearing a lock.
    nlohmann::json bound = Post(daemon->port(), "/bind",
                                {{"PodName", name},
                                 {"PodNamespace", "default"},
                                 {"PodUID", pod["metadata"]["uid"]},
                                 {"Node", "metax-node"}});
    ASSERT_EQ(bound["Error"], "") << bound.dump();
    EXPECT_FALSE((*api_.Get("nodes", "", "metax-node"))["metadata"]["annotations"].contains(
        kNodeLockAnnotation));
    nlohmann::json annotations = Annotations(name);
    const std::string allocated = annotations.value(kMetaxGpuAllocatedAnnotation, "");
    EXPECT_TRUE(allocated == "metax-node-metax-0,Metax-GPU,65536,100:;" ||
                allocated == "metax-node-metax-1,Metax-GPU,65536,100:;")
        << annotations.dump();
    EXPECT_EQ(annotations[kMetaxGpuToAllocateAnnotation], allocated);
    EXPECT_EQ(annotations[kVgpuNodeAnnotation], "metax-node");
    EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));
    EXPECT_FALSE(annotations.contains(kMetaxPodDevicesAnnotation));
    granted.push_back(allocated);
  }
  ASSERT_EQ(granted.size(), 2u);
  EXPECT_NE(granted[0], granted[1]);
  // No handshake or registration key is written on the node (HAMi has none for MetaX).
  auto node = *api_.Get("nodes", "", "metax-node");
  EXPECT_TRUE(node["metadata"]["annotations"].empty()) << node.dump();
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());

  // Two cards in one container: none is left.
  nlohmann::json two = *api_.Put(testing::PodObject("metax-two", {{"metax-tech.com/gpu", "2"}}));
  EXPECT_TRUE(Filter(*daemon, two, all)["NodeNames"].is_null());

  // One container asking whole MetaX cards and NVIDIA is refused clearly.
  ExpectTwoVendorPodRefused(*daemon, {{"metax-tech.com/gpu", "1"}, {"nvidia.com/gpu", "1"}}, all,
                            "Metax-GPU, NVIDIA");
}

TEST_F(MixedMetaxTest, SgpuPodsShareCardsWithMetaxsAnnotations) {
  device_config_.metax = MetaxConfig{};
  ASSERT_TRUE(api_.Put(SgpuNode("sgpu-node", kSgpuRegistration)).ok());
  auto daemon = StartDaemon();
  const nlohmann::json all = {"gpu-node", "dcu-node", "sgpu-node"};

  // HAMi's sGPU example shape: 1 sGPU, 60 % compute, 16 GiB (vmemory without a unit is GiB).
  nlohmann::json share =
      *api_.Put(testing::PodObject("sgpu-share", {{"metax-tech.com/sgpu", "1"},
                                                  {"metax-tech.com/vcore", "60"},
                                                  {"metax-tech.com/vmemory", "16"}}));
  nlohmann::json filtered = Filter(*daemon, share, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"sgpu-node"})) << filtered.dump();
  // The sGPU bind takes HAMi's node lock (MetaX's sGPU plugin releases it after Allocate).
  nlohmann::json bound = Post(daemon->port(), "/bind",
                              {{"PodName", "sgpu-share"},
                               {"PodNamespace", "default"},
                               {"PodUID", share["metadata"]["uid"]},
                               {"Node", "sgpu-node"}});
  ASSERT_EQ(bound["Error"], "") << bound.dump();
  auto locked = *api_.Get("nodes", "", "sgpu-node");
  EXPECT_TRUE(locked["metadata"]["annotations"].contains(kNodeLockAnnotation)) << locked.dump();
  locked["metadata"]["annotations"].erase(kNodeLockAnnotation);
  ASSERT_TRUE(api_.Put(locked).ok());
  nlohmann::json annotations = Annotations("sgpu-share");
  const std::string allocated = annotations.value(kMetaxSgpuAllocatedAnnotation, "");
  const bool on_m1 = allocated == "GPU-m1,Metax-SGPU,16384,60:;";
  ASSERT_TRUE(on_m1 || allocated == "GPU-m0,Metax-SGPU,16384,60:;") << annotations.dump();
  const std::string card = on_m1 ? "GPU-m1" : "GPU-m0";
  const std::string other = on_m1 ? "GPU-m0" : "GPU-m1";
  EXPECT_EQ(annotations[kMetaxSgpuToAllocateAnnotation], allocated);
  EXPECT_EQ(annotations[kMetaxPodDevicesAnnotation],
            "[[{\"uuid\":\"" + card + "\",\"compute\":60,\"vRam\":16384}]]");
  // MetaX's predicate time is the decision time in nanoseconds.
  EXPECT_EQ(annotations[kMetaxPredicateTimeAnnotation].get<std::string>(),
            annotations[kVgpuTimeAnnotation].get<std::string>() + "000000000");
  EXPECT_FALSE(annotations.contains(kMetaxGpuAllocatedAnnotation));
  EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));

  // 40 % and 16 GiB are left on that card: a second 40 % pod with 512Mi shares it (the UUID
  // selector pins it there); 100 % compute (no vcore) then only fits the untouched card.
  nlohmann::json second = testing::PodObject("sgpu-second", {{"metax-tech.com/sgpu", "1"},
                                                             {"metax-tech.com/vcore", "40"},
                                                             {"metax-tech.com/vmemory", "512Mi"}});
  second["metadata"]["annotations"] = {{kMetaxUseUuidAnnotation, card}};
  second = *api_.Put(second);
  filtered = Filter(*daemon, second, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"sgpu-node"})) << filtered.dump();
  Bind(*daemon, second, "sgpu-node");
  EXPECT_EQ(Annotations("sgpu-second")[kMetaxSgpuAllocatedAnnotation],
            card + ",Metax-SGPU,512,40:;");
  nlohmann::json whole =
      *api_.Put(testing::PodObject("sgpu-whole", {{"metax-tech.com/sgpu", "1"}}));
  filtered = Filter(*daemon, whole, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"sgpu-node"})) << filtered.dump();
  Bind(*daemon, whole, "sgpu-node");
  EXPECT_EQ(Annotations("sgpu-whole")[kMetaxSgpuAllocatedAnnotation],
            other + ",Metax-SGPU,32768,100:;");
  EXPECT_EQ(Annotations("sgpu-whole")[kMetaxPodDevicesAnnotation],
            "[[{\"uuid\":\"" + other + "\",\"compute\":100,\"vRam\":32768}]]");
  nlohmann::json more = *api_.Put(testing::PodObject("sgpu-more", {{"metax-tech.com/sgpu", "1"}}));
  EXPECT_TRUE(Filter(*daemon, more, all)["NodeNames"].is_null());
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());
  // MetaX's sGPU plugin neither handshakes nor is written to: the node keeps its one key.
  auto node = *api_.Get("nodes", "", "sgpu-node");
  EXPECT_EQ(node["metadata"]["annotations"].size(), 1u) << node.dump();

  // One container asking sGPU and NVIDIA is refused clearly.
  ExpectTwoVendorPodRefused(*daemon, {{"metax-tech.com/sgpu", "1"}, {"nvidia.com/gpu", "1"}}, all,
                            "Metax-SGPU, NVIDIA");
}

// The webhook applies HAMi's sGPU pod rules: QoS policy defaulted to best-effort or checked,
// app-class checked; whole-card pods are left alone.
TEST(MixedMetaxWebhookTest, SgpuPodsGetHamisQosDefaultAndChecks) {
  DeviceConfig config = testing::NvidiaAndHygon();
  config.metax = MetaxConfig{};
  auto registry = MakeVendorRegistry(config);
  ASSERT_TRUE(registry.ok());
  WebhookConfig webhook;
  webhook.vendors = std::make_shared<const VendorRegistry>(std::move(*registry));

  nlohmann::json pod = testing::PodObject("sgpu", {{"metax-tech.com/sgpu", "1"}});
  AdmissionDecision d = AdmitPod(pod, webhook, "default");
  ASSERT_TRUE(d.allowed) << d.message;
  nlohmann::json mutated = pod.patch(d.patch);
  EXPECT_EQ(mutated["metadata"]["annotations"],
            (nlohmann::json{{"metax-tech.com/sgpu-qos-policy", "best-effort"}}));
  EXPECT_EQ(mutated["spec"]["schedulerName"], "hami-scheduler");

  pod["metadata"]["annotations"] = {{"metax-tech.com/sgpu-qos-policy", "fixed-share"},
                                    {"keep", "me"}};
  d = AdmitPod(pod, webhook, "default");
  ASSERT_TRUE(d.allowed) << d.message;
  EXPECT_EQ(pod.patch(d.patch)["metadata"]["annotations"], pod["metadata"]["annotations"]);

  pod["metadata"]["annotations"] = {{"metax-tech.com/sgpu-qos-policy", "best-effortx"}};
  d = AdmitPod(pod, webhook, "default");
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("metax-tech.com/sgpu-qos-policy must be set one of [best-effort, "
                           "fixed-share, burst-share]"),
            std::string::npos)
      << d.message;

  nlohmann::json online = testing::PodObject("online", {{"metax-tech.com/sgpu", "2"}});
  online["metadata"]["annotations"] = {{"metax-tech.com/sgpu-app-class", "online"}};
  d = AdmitPod(online, webhook, "default");
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("app-class pod must request single device"), std::string::npos)
      << d.message;

  nlohmann::json whole = testing::PodObject("whole", {{"metax-tech.com/gpu", "1"}});
  d = AdmitPod(whole, webhook, "default");
  ASSERT_TRUE(d.allowed) << d.message;
  EXPECT_FALSE(whole.patch(d.patch)["metadata"].contains("annotations"));
}

// A node with NVIDIA GPUs and unreadable MetaX registrations keeps its GPUs; each MetaX error is
// reported for that node and that MetaX vendor only, and well-formed MetaX nodes still serve.
TEST_F(MixedMetaxTest, MalformedMetaxRegistrationsDropOnlyTheNodesMetaxDevices) {
  device_config_.metax = MetaxConfig{};
  nlohmann::json both = WholeCardNode(
      "both-node", "lots",
      {{kNodeNvidiaRegisterAnnotation, EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})},
       {kMetaxSgpuRegisterAnnotation, R"([{"uuid":"GPU-x","totalDevCount":"four"}])"}});
  both["status"]["allocatable"]["nvidia.com/gpu"] = "10";
  ASSERT_TRUE(api_.Put(both).ok());
  ASSERT_TRUE(api_.Put(WholeCardNode("metax-node", "1")).ok());
  ASSERT_TRUE(api_.Put(SgpuNode("sgpu-node", kSgpuRegistration)).ok());
  auto daemon = StartDaemon();
  ExpectNvidiaPodFits(*daemon, "both-node");
  ExpectFitsOnlyOnGoodNode(*daemon, "whole", {{"metax-tech.com/gpu", "1"}}, "both-node",
                           "metax-node");
  ExpectFitsOnlyOnGoodNode(*daemon, "share", {{"metax-tech.com/sgpu", "1"}}, "both-node",
                           "sgpu-node");

  auto pass = ApplyRegistration("both-node");
  auto& errors = pass.actions.registration_errors;
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors["Metax-GPU"].find("capacity metax-tech.com/gpu"), std::string::npos)
      << errors["Metax-GPU"];
  const std::string& sgpu_why = errors["Metax-SGPU"];
  EXPECT_NE(sgpu_why.find("metax-tech.com/node-gpu-devices"), std::string::npos) << sgpu_why;
  EXPECT_NE(sgpu_why.find("totalDevCount"), std::string::npos) << sgpu_why;
  EXPECT_EQ(pass.kept_device_ids, std::vector<std::string>{"GPU-b0"});
}

}  // namespace
}  // namespace hami::scheduler
