// Moore Threads nodes in the mixed cluster, registered as Moore Threads' device plugin does:
// no annotation, only status.capacity mthreads.com/sgpu-core (16 core groups per card) and
// mthreads.com/sgpu-memory (512 MiB units for all cards), from which HAMi synthesises cards.
#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/mthreads.h"
#include "scheduler/daemon.h"
#include "scheduler/state_sync.h"
#include "scheduler/webhook.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using MixedMthreadsTest = testing::MixedClusterTest;

// `cards` MTT S4000 cards (16 core groups, 96 x 512 MiB each).
nlohmann::json MtNode(const std::string& name, int cards,
                      nlohmann::json annotations = nlohmann::json::object(),
                      std::string memory = "") {
  if (memory.empty()) memory = std::to_string(96 * cards);
  return testing::MixedNode(
      name, std::move(annotations),
      {{"mthreads.com/vgpu", std::to_string(cards)}, {"nvidia.com/gpu", "10"}},
      {{"mthreads.com/sgpu-core", std::to_string(16 * cards)},
       {"mthreads.com/sgpu-memory", memory}});
}

TEST_F(MixedMthreadsTest, MthreadsPodsLandWithHamisAnnotations) {
  device_config_.mthreads = MthreadsConfig{};
  ASSERT_TRUE(api_.Put(MtNode("mt-node", 2)).ok());
  ASSERT_TRUE(api_.Put(MtNode("mt-small", 1)).ok());
  auto daemon = StartDaemon();
  const nlohmann::json all = {"gpu-node", "dcu-node", "mt-node", "mt-small"};

  // Two cards: whole cards, only mt-node has two.
  nlohmann::json two = *api_.Put(testing::PodObject("mt-two", {{"mthreads.com/vgpu", "2"}}));
  nlohmann::json filtered = Filter(*daemon, two, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"mt-node"})) << filtered.dump();
  Bind(*daemon, two, "mt-node");
  nlohmann::json annotations = Annotations("mt-two");
  const std::string allocated = annotations.value(kMthreadsAllocatedAnnotation, "");
  EXPECT_TRUE(
      allocated == "mt-node-mthreads-0,Mthreads,49152,16:mt-node-mthreads-1,Mthreads,49152,16:;" ||
      allocated == "mt-node-mthreads-1,Mthreads,49152,16:mt-node-mthreads-0,Mthreads,49152,16:;")
      << allocated;
  EXPECT_EQ(annotations[kMthreadsGpuIndexAnnotation],
            allocated.starts_with("mt-node-mthreads-0") ? "0,1" : "1,0");
  EXPECT_EQ(annotations[kMthreadsPredicateNodeAnnotation], "mt-node");
  EXPECT_TRUE(testing::IsUnixNanos(annotations[kMthreadsPredicateTimeAnnotation]))
      << annotations.dump();
  EXPECT_EQ(annotations[kMthreadsRequestGpuNumAnnotation], "2");
  EXPECT_FALSE(annotations.contains(kMthreadsToAllocateAnnotation));  // HAMi never writes it
  EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));

  // HAMi's docs example share (32 x 512 MiB, 8 core groups): only mt-small has room.
  nlohmann::json share =
      *api_.Put(testing::PodObject("mt-share", {{"mthreads.com/vgpu", "1"},
                                                {"mthreads.com/sgpu-memory", "32"},
                                                {"mthreads.com/sgpu-core", "8"}}));
  filtered = Filter(*daemon, share, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"mt-small"})) << filtered.dump();
  Bind(*daemon, share, "mt-small");
  annotations = Annotations("mt-share");
  EXPECT_EQ(annotations[kMthreadsAllocatedAnnotation], "mt-small-mthreads-0,Mthreads,16384,8:;");
  EXPECT_EQ(annotations[kMthreadsGpuIndexAnnotation], "0");
  EXPECT_EQ(annotations[kMthreadsPredicateNodeAnnotation], "mt-small");
  EXPECT_FALSE(annotations.contains(kMthreadsRequestGpuNumAnnotation));

  // A whole card no longer fits anywhere; a second share does; nothing is over capacity.
  nlohmann::json whole = *api_.Put(testing::PodObject("mt-whole", {{"mthreads.com/vgpu", "1"}}));
  filtered = Filter(*daemon, whole, all);
  EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
  nlohmann::json share2 =
      *api_.Put(testing::PodObject("mt-share-2", {{"mthreads.com/vgpu", "1"},
                                                  {"mthreads.com/sgpu-memory", "64"},
                                                  {"mthreads.com/sgpu-core", "8"}}));
  filtered = Filter(*daemon, share2, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"mt-small"})) << filtered.dump();
  Bind(*daemon, share2, "mt-small");
  nlohmann::json share3 =
      *api_.Put(testing::PodObject("mt-share-3", {{"mthreads.com/vgpu", "1"},
                                                  {"mthreads.com/sgpu-memory", "2"},
                                                  {"mthreads.com/sgpu-core", "1"}}));
  EXPECT_TRUE(Filter(*daemon, share3, all)["NodeNames"].is_null());  // memory and cores spent
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());

  ExpectTwoVendorPodRefused(*daemon, {{"mthreads.com/vgpu", "1"}, {"nvidia.com/gpu", "1"}}, all,
                            "Mthreads, NVIDIA");
}

TEST_F(MixedMthreadsTest, MalformedMthreadsCapacityDropsOnlyTheNodesCards) {
  device_config_.mthreads = MthreadsConfig{};
  ASSERT_TRUE(api_.Put(MtNode("both-node", 1,
                              {{kNodeNvidiaRegisterAnnotation,
                                EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})}},
                              "plenty"))
                  .ok());
  ASSERT_TRUE(api_.Put(MtNode("mt-node", 1)).ok());
  auto daemon = StartDaemon();
  ExpectNvidiaPodFits(*daemon, "both-node");
  ExpectFitsOnlyOnGoodNode(*daemon, "mt-pod", {{"mthreads.com/vgpu", "1"}}, "both-node", "mt-node");

  auto errors = ApplyRegistration("both-node").actions.registration_errors;
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors["Mthreads"].find("mthreads.com/sgpu-memory"), std::string::npos)
      << errors["Mthreads"];
}

// The webhook with the Moore Threads vendor, as HAMi's MutateAdmission: whole cards get 16
// core groups and memoryPerCard units per card in the JSON patch; an illegal share size and
// mthreads.com/gpu mixed with sGPU resources are refused with a message.
TEST_F(MixedMthreadsTest, WebhookMutatesAsHamisMthreadsAdmission) {
  device_config_.mthreads = MthreadsConfig{};
  auto registry = MakeVendorRegistry(device_config_);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  WebhookConfig config;
  config.vendors = std::make_shared<const VendorRegistry>(std::move(*registry));

  nlohmann::json pod = testing::PodObject("mt-two", {{"mthreads.com/vgpu", "2"}});
  AdmissionDecision d = AdmitPod(pod, config);
  ASSERT_TRUE(d.allowed) << d.message;
  nlohmann::json out = pod.patch(d.patch);
  EXPECT_EQ(out["spec"]["schedulerName"], "hami-scheduler");
  EXPECT_EQ(out["spec"]["containers"][0]["resources"]["limits"],
            (nlohmann::json{{"mthreads.com/vgpu", "2"},
                            {"mthreads.com/sgpu-core", "32"},
                            {"mthreads.com/sgpu-memory", "192"}}));

  nlohmann::json odd = testing::PodObject(
      "mt-odd", {{"mthreads.com/vgpu", "1"}, {"mthreads.com/sgpu-memory", "48"}});
  d = AdmitPod(odd, config);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("2, 4, 8, 16, 32, 64, 96"), std::string::npos) << d.message;
  nlohmann::json mix =
      testing::PodObject("mt-mix", {{"mthreads.com/gpu", "1"}, {"mthreads.com/sgpu-memory", "4"}});
  d = AdmitPod(mix, config);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("cannot mix mthreads.com/gpu"), std::string::npos) << d.message;
}

}  // namespace
}  // namespace hami::scheduler
