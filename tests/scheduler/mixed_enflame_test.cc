// Enflame nodes in the mixed cluster, registered as Enflame's device plugins do: whole GCUs as
// status.capacity enflame.com/gcu only, DRS-shareable GCUs as the node annotation
// enflame.com/gcu-drs-capacity (the gcushare plugin's JSON: slices per card and profiles).
#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/enflame.h"
#include "scheduler/daemon.h"
#include "scheduler/state_sync.h"
#include "scheduler/webhook.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using MixedEnflameTest = testing::MixedClusterTest;

// HAMi's Enflame DRS example node: one card of 6 slices, three profiles.
constexpr char kDrsCapacity[] = R"({"devices":[{"index":"0","minor":"0","capacity":6}],)"
                                R"("profiles":{"1g.6gb":"0","3g.20gb":"1","6g.40gb":"2"}})";

TEST_F(MixedEnflameTest, GcuAndDrsPodsLandWithHamisAnnotations) {
  device_config_.enflame = EnflameConfig{};
  ASSERT_TRUE(api_.Put(testing::MixedNode("gcu-node", nlohmann::json::object(),
                                          {{"enflame.com/gcu", "2"}}, {{"enflame.com/gcu", "2"}}))
                  .ok());
  ASSERT_TRUE(
      api_.Put(testing::MixedNode("drs-node", {{kEnflameDrsCapacityAnnotation, kDrsCapacity}},
                                  {{"enflame.com/drs-gcu", "6"}}))
          .ok());
  auto daemon = StartDaemon();
  const nlohmann::json all = {"gpu-node", "dcu-node", "gcu-node", "drs-node"};

  // Two whole GCUs: both cards of gcu-node, with HAMi's 100/100 per card.
  nlohmann::json cards = *api_.Put(testing::PodObject("gcu-two", {{"enflame.com/gcu", "2"}}));
  nlohmann::json filtered = Filter(*daemon, cards, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"gcu-node"})) << filtered.dump();
  Bind(*daemon, cards, "gcu-node");
  nlohmann::json annotations = Annotations("gcu-two");
  const std::string allocated = annotations.value(kGcuAllocatedAnnotation, "");
  EXPECT_TRUE(allocated == "gcu-node-GCU-0,GCU,100,100:gcu-node-GCU-1,GCU,100,100:;" ||
              allocated == "gcu-node-GCU-1,GCU,100,100:gcu-node-GCU-0,GCU,100,100:;")
      << allocated;
  EXPECT_EQ(annotations[kGcuToAllocateAnnotation], allocated);
  nlohmann::json more = *api_.Put(testing::PodObject("gcu-more", {{"enflame.com/gcu", "1"}}));
  EXPECT_TRUE(Filter(*daemon, more, all)["NodeNames"].is_null());  // one container per card

  // DRS: 3 slices of the 6-slice card, twice; then no slice is left.
  for (const char* name : {"drs-a", "drs-b"}) {
    nlohmann::json pod = *api_.Put(testing::PodObject(name, {{"enflame.com/drs-gcu", "3"}}));
    filtered = Filter(*daemon, pod, all);
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"drs-node"})) << filtered.dump();
    Bind(*daemon, pod, "drs-node");
    annotations = Annotations(name);
    EXPECT_EQ(annotations[kEnflameDrsAllocatedAnnotation], "drs-node-enflame-drs-0,Enflame,0,3:;");
    EXPECT_EQ(annotations[kEnflameAssignedAnnotation], "false");
    EXPECT_EQ(annotations[kEnflameAssignedIndexAnnotation], "0");
    EXPECT_EQ(annotations[kEnflameAssignedIdAnnotation], "0");
    EXPECT_EQ(annotations[kEnflameAssignedMinorAnnotation], "0");
    EXPECT_EQ(annotations[kEnflameRequestSizeAnnotation], "3");
    const std::string at = annotations.value(kEnflameAssignedTimeAnnotation, "");
    EXPECT_TRUE(at.size() == 19 && at.ends_with("000000000")) << at;
    EXPECT_FALSE(annotations.contains("hami.io/enflame-vgpu-devices-to-allocate"));  // as HAMi
  }
  nlohmann::json one = *api_.Put(testing::PodObject("drs-c", {{"enflame.com/drs-gcu", "1"}}));
  filtered = Filter(*daemon, one, all);
  EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());

  ExpectTwoVendorPodRefused(*daemon, {{"enflame.com/drs-gcu", "1"}, {"nvidia.com/gpu", "1"}}, all,
                            "Enflame, NVIDIA");
  ExpectTwoVendorPodRefused(*daemon, {{"enflame.com/drs-gcu", "1"}, {"enflame.com/gcu", "1"}}, all,
                            "Enflame, GCU");
}

TEST_F(MixedEnflameTest, MalformedDrsCapacityDropsOnlyTheNodesDrsCards) {
  device_config_.enflame = EnflameConfig{};
  ASSERT_TRUE(api_.Put(testing::MixedNode("both-node",
                                          {{kNodeNvidiaRegisterAnnotation,
                                            EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})},
                                           {kEnflameDrsCapacityAnnotation,
                                            R"({"devices":[{"index":"0","capacity":6}]})"}},
                                          {{"nvidia.com/gpu", "10"}}, {{"enflame.com/gcu", "1"}}))
                  .ok());
  auto daemon = StartDaemon();
  const nlohmann::json only = {"both-node"};
  ExpectNvidiaPodFits(*daemon, "both-node");
  nlohmann::json gcu_pod = *api_.Put(testing::PodObject("gcu-pod", {{"enflame.com/gcu", "1"}}));
  EXPECT_EQ(Filter(*daemon, gcu_pod, only)["NodeNames"], only);  // its whole GCU stays
  nlohmann::json drs_pod = *api_.Put(testing::PodObject("drs-pod", {{"enflame.com/drs-gcu", "1"}}));
  EXPECT_TRUE(Filter(*daemon, drs_pod, only)["NodeNames"].is_null());

  auto errors = ApplyRegistration("both-node").actions.registration_errors;
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors["Enflame"].find("enflame.com/gcu-drs-capacity"), std::string::npos)
      << errors["Enflame"];
  EXPECT_NE(errors["Enflame"].find("profile"), std::string::npos);
}

// The webhook with the Enflame vendors: a whole-GCU limit or a DRS slice count (even only in
// requests, then copied into limits as HAMi does) makes the pod ours; a count <= 0 and the
// memory/core-only form are refused with a message.
TEST_F(MixedEnflameTest, WebhookTakesGcuAndDrsPods) {
  device_config_.enflame = EnflameConfig{};
  auto registry = MakeVendorRegistry(device_config_);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  WebhookConfig config;
  config.vendors = std::make_shared<const VendorRegistry>(std::move(*registry));

  nlohmann::json gcu = testing::PodObject("gcu", {{"enflame.com/gcu", "1"}});
  AdmissionDecision d = AdmitPod(gcu, config);
  ASSERT_TRUE(d.allowed) << d.message;
  EXPECT_EQ(gcu.patch(d.patch)["spec"]["schedulerName"], "hami-scheduler");

  nlohmann::json drs = testing::PodObject("drs", nlohmann::json::object());
  drs["spec"]["containers"][0]["resources"] = {{"requests", {{"enflame.com/drs-gcu", "3"}}}};
  d = AdmitPod(drs, config);
  ASSERT_TRUE(d.allowed) << d.message;
  nlohmann::json out = drs.patch(d.patch);
  EXPECT_EQ(out["spec"]["schedulerName"], "hami-scheduler");
  EXPECT_EQ(out["spec"]["containers"][0]["resources"]["limits"],
            (nlohmann::json{{"enflame.com/drs-gcu", "3"}}));

  for (const nlohmann::json& limits : {nlohmann::json{{"enflame.com/drs-gcu", "0"}},
                                       nlohmann::json{{"enflame.com/gcu-memory", "20"}}}) {
    nlohmann::json bad = testing::PodObject("bad", limits);
    d = AdmitPod(bad, config);
    EXPECT_FALSE(d.allowed) << limits.dump();
    EXPECT_NE(d.message.find("enflame.com/"), std::string::npos) << d.message;
  }
}

}  // namespace
}  // namespace hami::scheduler
