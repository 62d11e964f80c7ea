// Ascend NPUs in a mixed cluster on the fake API server: an Ascend910B3 node and an Ascend910C
// super-pod node registered as HAMi's ascend-device-plugin does (JSON under
// hami.io/node-register-<cw>), next to the fixture's NVIDIA and Hygon nodes, scheduled by one
// SchedulerDaemon with the chart's vnpus section and --enable-ascend.
#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/ascend.h"
#include "device/chart_config.h"
#include "device/codec.h"
#include "scheduler/state_sync.h"
#include "scheduler/webhook.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

// As the ascend-device-plugin registers NPUs: count = vNPU slots, devmem and devcore (aiCore) of
// the chip, the NPU's network id as custom info.
nlohmann::json Npus(const std::string& prefix, const std::string& type,
                    std::initializer_list<int> indexes) {
  nlohmann::json list = nlohmann::json::array();
  for (int i : indexes) {
    nlohmann::json npu = {{"id", prefix + std::to_string(i)},
                          {"count", 4},
                          {"devmem", 65536},
                          {"devcore", 20},
                          {"type", type},
                          {"health", true},
                          {"customInfo", {{"NetworkID", 0}}}};
    if (i != 0) npu["index"] = i;
    list.push_back(std::move(npu));
  }
  return list;
}

nlohmann::json AscendPod(const std::string& name, nlohmann::json limits,
                         nlohmann::json annotations = nlohmann::json::object()) {
  nlohmann::json pod = testing::PodObject(name, std::move(limits));
  if (!annotations.empty()) pod["metadata"]["annotations"] = std::move(annotations);
  return pod;
}

class MixedAscendTest : public testing::MixedClusterTest {
 protected:
  void SetUp() override {
    MixedClusterTest::SetUp();
    auto chart = LoadDeviceConfig(kChartVendorSectionsYaml);
    ASSERT_TRUE(chart.ok()) << chart.status().message();
    device_config_.ascend = chart->ascend;
    device_config_.enable_ascend = true;
    ASSERT_TRUE(api_.Put(testing::MixedNode("b3-node",
                                            {{"hami.io/node-register-Ascend910B3",
                                              Npus("NPU-B3-", "Ascend910B3", {0, 1}).dump()}},
                                            {{"huawei.com/Ascend910B3", "2"}}))
                    .ok());
    // NPU 3 is not registered (e.g. unhealthy on the host): module 1 is incomplete.
    ASSERT_TRUE(api_.Put(testing::MixedNode("c-node",
                                            {{"hami.io/node-register-Ascend910C",
                                              Npus("NPU-C-", "Ascend910C", {0, 1, 2, 4}).dump()}},
                                            {{"huawei.com/Ascend910C", "4"}}))
                    .ok());
  }

  const nlohmann::json all_ = {"gpu-node", "dcu-node", "b3-node", "c-node"};
};

TEST_F(MixedAscendTest, VnpuTemplatesAreChargedAndAnnotatedAsHami) {
  auto daemon = StartDaemon();
  ASSERT_TRUE(WaitForHandshakeRequest("b3-node", "hami.io/node-handshake-Ascend910B3").has_value());

  // 3000 MiB rounds up to vir05_1c_16g (16384 MiB) on the NPU the pod selects.
  const nlohmann::json on_npu1 = {{"hami.io/use-Ascend910B3-uuid", "NPU-B3-1"}};
  nlohmann::json small = *api_.Put(AscendPod(
      "b3-small", {{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-memory", "3000"}},
      on_npu1));
  nlohmann::json filtered = Filter(*daemon, small, all_);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"b3-node"})) << filtered.dump();
  Bind(*daemon, small, "b3-node");
  nlohmann::json annotations = Annotations("b3-small");
  EXPECT_EQ(annotations["hami.io/Ascend910B3-devices-allocated"], "NPU-B3-1,Ascend910B3,16384,0:;");
  EXPECT_EQ(annotations["hami.io/Ascend910B3-devices-to-allocate"],
            "NPU-B3-1,Ascend910B3,16384,0:;");
  EXPECT_EQ(annotations["huawei.com/Ascend910B3"],
            R"([{"UUID":"NPU-B3-1","temp":"vir05_1c_16g"}])");
  EXPECT_EQ(annotations["predicate-time"], annotations[kVgpuTimeAnnotation]);
  EXPECT_EQ(annotations[kVgpuNodeAnnotation], "b3-node");
  EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));

  // 20000 MiB rounds up to vir10_3c_32g; then 16000 to vir05_1c_16g fills the NPU.
  for (auto [name, asked, want] :
       {std::tuple{"b3-mid", "20000", R"([{"UUID":"NPU-B3-1","temp":"vir10_3c_32g"}])"},
        std::tuple{"b3-last", "16000", R"([{"UUID":"NPU-B3-1","temp":"vir05_1c_16g"}])"}}) {
    nlohmann::json pod = *api_.Put(
        AscendPod(name, {{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-memory", asked}},
                  on_npu1));
    filtered = Filter(*daemon, pod, all_);
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"b3-node"})) << filtered.dump();
    Bind(*daemon, pod, "b3-node");
    EXPECT_EQ(Annotations(name)["huawei.com/Ascend910B3"], want);
  }
  // 1 MiB would fit in raw MiB, but it takes a whole 16 GiB template, and none is left.
  nlohmann::json tiny = *api_.Put(AscendPod(
      "b3-tiny", {{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-memory", "1"}},
      on_npu1));
  filtered = Filter(*daemon, tiny, all_);
  EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
  EXPECT_NE(filtered["FailedNodes"]["b3-node"].get<std::string>().find("CardInsufficientMemory"),
            std::string::npos)
      << filtered.dump();

  // Asking an Ascend chip and NVIDIA in one container is refused clearly.
  ExpectTwoVendorPodRefused(*daemon, {{"huawei.com/Ascend910B3", "1"}, {"nvidia.com/gpu", "1"}},
                            all_, "Ascend910B3, NVIDIA");
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());
}

TEST_F(MixedAscendTest, SuperPod910CTakesWholeModules) {
  auto daemon = StartDaemon();
  // Two whole NPUs: module 0 (NPUs 0 and 1), in that order.
  nlohmann::json pair = *api_.Put(AscendPod("c-pair", {{"huawei.com/Ascend910C", "2"}}));
  nlohmann::json filtered = Filter(*daemon, pair, all_);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"c-node"})) << filtered.dump();
  Bind(*daemon, pair, "c-node");
  nlohmann::json annotations = Annotations("c-pair");
  EXPECT_EQ(annotations["hami.io/Ascend910C-devices-allocated"],
            "NPU-C-0,Ascend910C,65536,0:NPU-C-1,Ascend910C,65536,0:;");
  EXPECT_EQ(annotations["huawei.com/Ascend910C"], R"([{"UUID":"NPU-C-0"},{"UUID":"NPU-C-1"}])");

  // NPUs 2 and 4 are free but sit on different modules: no pair fits (HAMi's 910C pairing).
  nlohmann::json second = *api_.Put(AscendPod("c-pair-2", {{"huawei.com/Ascend910C", "2"}}));
  filtered = Filter(*daemon, second, all_);
  EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
  EXPECT_NE(filtered["FailedNodes"]["c-node"].get<std::string>().find(
                "AllocatedCardsInsufficientRequest"),
            std::string::npos)
      << filtered.dump();
  // An odd count is refused with HAMi's rule in the message.
  nlohmann::json odd = *api_.Put(AscendPod("c-odd", {{"huawei.com/Ascend910C", "3"}}));
  filtered = Filter(*daemon, odd, all_);
  EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
  EXPECT_NE(filtered["Error"].get<std::string>().find("module pairs"), std::string::npos)
      << filtered.dump();
  // A single NPU (no webhook raised it) takes one NPU, as HAMi's Fit for a request of 1.
  nlohmann::json one = *api_.Put(AscendPod(
      "c-one", {{"huawei.com/Ascend910C", "1"}, {"huawei.com/Ascend910C-memory", "16384"}}));
  filtered = Filter(*daemon, one, all_);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"c-node"})) << filtered.dump();
  Bind(*daemon, one, "c-node");
  const std::string taken = Annotations("c-one")["hami.io/Ascend910C-devices-allocated"];
  EXPECT_TRUE(taken == "NPU-C-2,Ascend910C,16384,0:;" || taken == "NPU-C-4,Ascend910C,16384,0:;")
      << taken;
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());
}

// A node with NVIDIA and a malformed Ascend910B3 registration keeps its NVIDIA devices; the
// registration pass reports the Ascend key and the other Ascend node still serves.
TEST_F(MixedAscendTest, MalformedRegistrationDropsOnlyThatNodesNpus) {
  ASSERT_TRUE(
      api_.Put(testing::MixedNode("both-node",
                                  {{kNodeNvidiaRegisterAnnotation,
                                    EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})},
                                   {"hami.io/node-register-Ascend910B3", R"([{"id":5}])"}},
                                  {{"nvidia.com/gpu", "10"}, {"huawei.com/Ascend910B3", "1"}}))
          .ok());
  auto daemon = StartDaemon();
  ExpectNvidiaPodFits(*daemon, "both-node");
  ExpectFitsOnlyOnGoodNode(*daemon, "npu-pod", {{"huawei.com/Ascend910B3", "1"}}, "both-node",
                           "b3-node");

  auto pass = ApplyRegistration("both-node");
  ASSERT_EQ(pass.actions.registration_errors.size(), 1u);
  const std::string& why = pass.actions.registration_errors["Ascend910B3"];
  EXPECT_NE(why.find("hami.io/node-register-Ascend910B3"), std::string::npos) << why;
  EXPECT_EQ(pass.kept_device_ids, std::vector<std::string>{"GPU-b0"});

  // The daemon says so once, as a Warning Event on the Node.
  ASSERT_TRUE(WaitForRegistrationEvent(
      "both-node", "Ascend910B3 devices ignored: hami.io/node-register-Ascend910B3"));
}

// The webhook with the Ascend vendors: HAMi's 910C raise to a module pair, template rounding,
// runtimeClassName and overwriteEnv, written as a JSON patch the API server accepts.
TEST_F(MixedAscendTest, WebhookMutatesAsHamisAscendAdmission) {
  for (AscendChipConfig& chip : device_config_.ascend->configs) {
    chip.runtime_class_name = "ascend";
    chip.overwrite_env = chip.common_word == "Ascend910B3";
  }
  auto registry = MakeVendorRegistry(device_config_);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  WebhookConfig config;
  config.vendors = std::make_shared<const VendorRegistry>(std::move(*registry));

  nlohmann::json pod = AscendPod("c-one", {{"huawei.com/Ascend910C", "1"}});
  pod["spec"]["containers"].push_back({{"name", "sidecar"}, {"image", "busybox"}});
  AdmissionDecision d = AdmitPod(pod, config);
  ASSERT_TRUE(d.allowed) << d.message;
  nlohmann::json out = pod.patch(d.patch);
  EXPECT_EQ(out["spec"]["schedulerName"], "hami-scheduler");
  EXPECT_EQ(out["spec"]["runtimeClassName"], "ascend");
  EXPECT_EQ(
      out["spec"]["containers"][0]["resources"]["limits"],
      (nlohmann::json{{"huawei.com/Ascend910C", "2"}, {"huawei.com/Ascend910C-memory", "65536"}}));
  EXPECT_FALSE(out["spec"]["containers"][0].contains("env"));
  // The container asking no NPU gets ASCEND_VISIBLE_DEVICES="" from the 910B3 chip's overwriteEnv.
  EXPECT_EQ(out["spec"]["containers"][1]["env"],
            nlohmann::json::array({{{"name", "ASCEND_VISIBLE_DEVICES"}, {"value", ""}}}));

  nlohmann::json b3 =
      AscendPod("b3", {{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-memory", "3000"}});
  out = b3.patch(AdmitPod(b3, config).patch);
  EXPECT_EQ(out["spec"]["containers"][0]["resources"]["limits"]["huawei.com/Ascend910B3-memory"],
            "16384");

  // Requests defaulted from limits cannot be raised with them: refused with what to ask.
  nlohmann::json pinned = AscendPod("c-pinned", {{"huawei.com/Ascend910C", "1"}});
  pinned["spec"]["containers"][0]["resources"]["requests"] = {{"huawei.com/Ascend910C", "1"}};
  d = AdmitPod(pinned, config);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("ask 2"), std::string::npos) << d.message;
  nlohmann::json many = AscendPod(
      "b3-many", {{"huawei.com/Ascend910B3", "2"}, {"huawei.com/Ascend910B3-memory", "8192"}});
  d = AdmitPod(many, config);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("not supported for multiple devices"), std::string::npos) << d.message;
}

}  // namespace
}  // namespace hami::scheduler
