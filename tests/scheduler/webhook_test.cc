#include "scheduler/webhook.h"

#include <gtest/gtest.h>

namespace hami::scheduler {
namespace {

nlohmann::json GpuPod(nlohmann::json limits) {
  return {{"metadata", {{"name", "p"}, {"namespace", "default"}}},
          {"spec",
           {{"containers",
             nlohmann::json::array(
                 {{{"name", "main"}, {"image", "cuda"}, {"resources", {{"limits", limits}}}}})}}}};
}

// A webhook config whose only vendor is NVIDIA with `nvidia`.
WebhookConfig WithNvidia(const NvidiaConfig& nvidia) {
  DeviceConfig devices;
  devices.nvidia = nvidia;
  auto registry = MakeVendorRegistry(devices);
  WebhookConfig config;
  config.vendors = std::make_shared<const VendorRegistry>(std::move(*registry));
  return config;
}

nlohmann::json Apply(const nlohmann::json& pod, const AdmissionDecision& d) {
  return pod.patch(d.patch);
}

TEST(AdmitPodTest, SetsSchedulerNameAndWholeCardCores) {
  nlohmann::json pod = GpuPod({{"nvidia.com/gpu", "1"}});
  AdmissionDecision d = AdmitPod(pod, WebhookConfig{});
  ASSERT_TRUE(d.allowed) << d.message;
  nlohmann::json out = Apply(pod, d);
  EXPECT_EQ(out["spec"]["schedulerName"], "hami-scheduler");
  EXPECT_EQ(out["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpucores"], "100");
}

TEST(AdmitPodTest, SharedRequestKeepsItsCoresAndGetsDefaultCount) {
  nlohmann::json pod = GpuPod({{"nvidia.com/gpumem", "3000"}, {"nvidia.com/gpucores", "30"}});
  AdmissionDecision d = AdmitPod(pod, WebhookConfig{});
  ASSERT_TRUE(d.allowed) << d.message;
  nlohmann::json limits = Apply(pod, d)["spec"]["containers"][0]["resources"]["limits"];
  EXPECT_EQ(limits["nvidia.com/gpu"], "1");  // defaultGPUNum
  EXPECT_EQ(limits["nvidia.com/gpucores"], "30");
}

TEST(AdmitPodTest, PriorityAndCorePolicyBecomeEnv) {
  nlohmann::json pod = GpuPod(
      {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "20"}, {"nvidia.com/priority", "0"}});
  NvidiaConfig nvidia;
  nvidia.gpu_core_policy = GpuCorePolicy::kForce;
  nvidia.runtime_class_name = "nvidia";
  const WebhookConfig config = WithNvidia(nvidia);
  nlohmann::json out = Apply(pod, AdmitPod(pod, config));
  const nlohmann::json env = out["spec"]["containers"][0]["env"];
  EXPECT_EQ(env[0], (nlohmann::json{{"name", "CUDA_TASK_PRIORITY"}, {"value", "0"}}));
  EXPECT_EQ(env[1], (nlohmann::json{{"name", "GPU_CORE_UTILIZATION_POLICY"}, {"value", "force"}}));
  EXPECT_EQ(out["spec"]["runtimeClassName"], "nvidia");
}

TEST(AdmitPodTest, NonGpuPodsAreLeftAloneUnlessOverwriteEnv) {
  nlohmann::json pod = GpuPod({{"cpu", "1"}});
  AdmissionDecision d = AdmitPod(pod, WebhookConfig{});
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.patch.empty());
  NvidiaConfig nvidia;
  nvidia.overwrite_env = true;
  const WebhookConfig config = WithNvidia(nvidia);
  nlohmann::json out = Apply(pod, AdmitPod(pod, config));
  EXPECT_EQ(out["spec"]["containers"][0]["env"][0]["value"], "none");
  EXPECT_FALSE(out["spec"].contains("schedulerName"));
}

TEST(AdmitPodTest, OtherSchedulersPodsAreNotOurs) {
  nlohmann::json pod = GpuPod({{"nvidia.com/gpu", "1"}});
  pod["spec"]["schedulerName"] = "volcano";
  AdmissionDecision d = AdmitPod(pod, WebhookConfig{});
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.patch.empty());
  pod["spec"]["schedulerName"] = "default-scheduler";
  EXPECT_FALSE(AdmitPod(pod, WebhookConfig{}).patch.empty());
  WebhookConfig keep_default;
  keep_default.force_overwrite_default_scheduler = false;
  EXPECT_TRUE(AdmitPod(pod, keep_default).patch.empty());
}

TEST(AdmitPodTest, InitContainersAreMutatedToo) {
  nlohmann::json pod = GpuPod({{"cpu", "1"}});
  pod["spec"]["initContainers"] = nlohmann::json::array(
      {{{"name", "warmup"}, {"resources", {{"limits", {{"nvidia.com/gpu", "1"}}}}}}});
  nlohmann::json out = Apply(pod, AdmitPod(pod, WebhookConfig{}));
  EXPECT_EQ(out["spec"]["initContainers"][0]["resources"]["limits"]["nvidia.com/gpucores"], "100");
  EXPECT_EQ(out["spec"]["schedulerName"], "hami-scheduler");
}

TEST(AdmitPodTest, Refusals) {
  struct Case {
    const char* name;
    nlohmann::json pod;
    const char* want;
  };
  nlohmann::json privileged = GpuPod({{"nvidia.com/gpu", "1"}});
  privileged["spec"]["containers"][0]["securityContext"] = {{"privileged", true}};
  nlohmann::json preset = GpuPod({{"nvidia.com/gpu", "1"}});
  preset["spec"]["nodeName"] = "node-a";
  nlohmann::json no_containers = {{"spec", {{"containers", nlohmann::json::array()}}}};
  nlohmann::json bad_init = GpuPod({{"cpu", "1"}});
  bad_init["spec"]["initContainers"] = "x";
  const std::vector<Case> cases = {
      {"privileged", privileged, "is privileged"},
      {"preset node", preset, "pod has node assigned"},
      {"no containers", no_containers, "pod has no containers"},
      {"no spec", nlohmann::json{{"metadata", {}}}, "pod has no spec"},
      {"percentage above 100",
       GpuPod({{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "150"}}),
       "between 0 and 100"},
      {"cores above 100", GpuPod({{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "101"}}),
       "between 0 and 100"},
      {"malformed memory", GpuPod({{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "lots"}}),
       "nvidia.com/gpumem"},
      {"fractional count", GpuPod({{"nvidia.com/gpu", "0.5"}}), "nvidia.com/gpu"},
      {"init list not a list", bad_init, "initContainers is not a list"},
  };
  for (const Case& c : cases) {
    AdmissionDecision d = AdmitPod(c.pod, WebhookConfig{});
    EXPECT_FALSE(d.allowed) << c.name;
    EXPECT_EQ(d.code, 403) << c.name;
    EXPECT_NE(d.message.find(c.want), std::string::npos) << c.name << ": " << d.message;
  }
  WebhookConfig sized;
  sized.max_device_memory_mib = 16384;
  AdmissionDecision too_big =
      AdmitPod(GpuPod({{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "20000"}}), sized);
  EXPECT_FALSE(too_big.allowed);
  EXPECT_NE(too_big.message.find("more than any device"), std::string::npos);
}

TEST(HandleAdmissionReviewTest, V1RoundTrip) {
  nlohmann::json review = {{"apiVersion", "admission.k8s.io/v1"},
                           {"kind", "AdmissionReview"},
                           {"request",
                            {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
                             {"operation", "CREATE"},
                             {"object", GpuPod({{"nvidia.com/gpu", "1"}})}}}};
  auto out = HandleAdmissionReview(review.dump(), WebhookConfig{});
  ASSERT_TRUE(out.ok()) << out.status().message();
  nlohmann::json response = nlohmann::json::parse(*out);
  EXPECT_EQ(response["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(response["kind"], "AdmissionReview");
  EXPECT_EQ(response["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(response["response"]["allowed"], true);
  EXPECT_EQ(response["response"]["patchType"], "JSONPatch");
  EXPECT_FALSE(response["response"]["patch"].get<std::string>().empty());
}

TEST(HandleAdmissionReviewTest, V1beta1RefusalCarriesStatus) {
  nlohmann::json pod = GpuPod({{"nvidia.com/gpu", "1"}});
  pod["spec"]["nodeName"] = "n1";
  nlohmann::json review = {{"apiVersion", "admission.k8s.io/v1beta1"},
                           {"request", {{"uid", "u"}, {"object", pod}}}};
  auto out = HandleAdmissionReview(review.dump(), WebhookConfig{});
  ASSERT_TRUE(out.ok());
  nlohmann::json response = nlohmann::json::parse(*out);
  EXPECT_EQ(response["apiVersion"], "admission.k8s.io/v1beta1");
  EXPECT_EQ(response["response"]["allowed"], false);
  EXPECT_EQ(response["response"]["status"]["code"], 403);
  EXPECT_FALSE(response["response"].contains("patch"));
}

TEST(HandleAdmissionReviewTest, MalformedReviewsAreErrors) {
  for (const char* bad :
       {"", "[]", "{}", R"({"request":{}})", R"({"request":{"uid":"u"}})",
        R"({"request":{"uid":"","object":{}}})", R"({"request":{"uid":"u","object":[]}})"}) {
    EXPECT_FALSE(HandleAdmissionReview(bad, WebhookConfig{}).ok()) << bad;
  }
  // Wrong types deep inside the pod are refusals, never crashes.
  auto odd = HandleAdmissionReview(
      R"({"request":{"uid":"u","object":{"spec":{"schedulerName":5,"containers":[{"name":7,"resources":{"limits":"x","requests":{"nvidia.com/gpu":"1"}}}]}}}})",
      WebhookConfig{});
  ASSERT_TRUE(odd.ok()) << odd.status().message();
}

WebhookConfig WithNvidiaAndHygon() {
  DeviceConfig devices = DefaultDeviceConfig();
  devices.hygon = HygonConfig{};
  auto registry = MakeVendorRegistry(devices);
  WebhookConfig config;
  config.vendors = std::make_shared<const VendorRegistry>(std::move(*registry));
  return config;
}

// HAMi's DCU MutateAdmission: a dcunum limit makes the pod ours; nothing else changes.
TEST(AdmitPodTest, HygonPodIsOursAndOtherwiseUnchanged) {
  nlohmann::json pod = GpuPod(
      {{"hygon.com/dcunum", "1"}, {"hygon.com/dcumem", "2000"}, {"hygon.com/dcucores", "60"}});
  const WebhookConfig config = WithNvidiaAndHygon();
  AdmissionDecision d = AdmitPod(pod, config);
  ASSERT_TRUE(d.allowed) << d.message;
  EXPECT_EQ(d.patch,
            nlohmann::json::parse(
                R"([{"op":"add","path":"/spec/schedulerName","value":"hami-scheduler"}])"));
  // Without the hygon section the DCU request is not ours.
  EXPECT_TRUE(AdmitPod(pod, WebhookConfig{}).patch.empty());
  // A count only in requests is not found by HAMi's DCU webhook either.
  nlohmann::json requests_only = GpuPod(nlohmann::json::object());
  requests_only["spec"]["containers"][0]["resources"]["requests"] = {{"hygon.com/dcunum", "1"}};
  EXPECT_TRUE(AdmitPod(requests_only, config).patch.empty());

  nlohmann::json privileged = pod;
  privileged["spec"]["containers"][0]["securityContext"] = {{"privileged", true}};
  d = AdmitPod(privileged, config);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("privileged"), std::string::npos);

  d = AdmitPod(GpuPod({{"hygon.com/dcunum", "half"}}), config);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("hygon.com/dcunum"), std::string::npos) << d.message;
}

// A pod whose containers ask two vendors is refused at admission, naming both, whether one
// container asks both or each container asks one; one vendor per pod is fine.
TEST(AdmitPodTest, PodAskingTwoVendorsIsRefusedNamingThem) {
  const WebhookConfig config = WithNvidiaAndHygon();
  AdmissionDecision d =
      AdmitPod(GpuPod({{"nvidia.com/gpu", "1"}, {"hygon.com/dcunum", "1"}}), config);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("several vendors (DCU, NVIDIA)"), std::string::npos) << d.message;

  nlohmann::json split = GpuPod({{"nvidia.com/gpu", "1"}});
  nlohmann::json second = split["spec"]["containers"][0];
  second["name"] = "dcu";
  second["resources"]["limits"] = {{"hygon.com/dcunum", "1"}};
  split["spec"]["containers"].push_back(second);
  d = AdmitPod(split, config);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("all of a pod's devices must come from one vendor"), std::string::npos)
      << d.message;

  second["resources"]["limits"] = {{"nvidia.com/gpu", "1"}};
  split["spec"]["containers"][1] = second;
  EXPECT_TRUE(AdmitPod(split, config).allowed);
}

// HAMi's Iluvatar MutateAdmission: whole cards for a count above 1, the container name env
// unless the container already sets it.
TEST(AdmitPodTest, IluvatarPodGetsWholeCardsAndContainerNameEnv) {
  DeviceConfig devices = DefaultDeviceConfig();
  devices.iluvatars.push_back({"BI-V150", "BI-V150", "iluvatar.ai/BI-V150-vgpu",
                               "iluvatar.ai/BI-V150.vMem", "iluvatar.ai/BI-V150.vCore"});
  devices.enable_iluvatar = true;
  auto registry = MakeVendorRegistry(devices);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  WebhookConfig config;
  config.vendors = std::make_shared<const VendorRegistry>(std::move(*registry));

  nlohmann::json pod = GpuPod({{"iluvatar.ai/BI-V150-vgpu", "2"}});
  nlohmann::json out = Apply(pod, AdmitPod(pod, config));
  EXPECT_EQ(out["spec"]["schedulerName"], "hami-scheduler");
  const nlohmann::json& container = out["spec"]["containers"][0];
  EXPECT_EQ(container["resources"]["limits"]["iluvatar.ai/BI-V150.vCore"], "200");
  EXPECT_EQ(container["env"],
            nlohmann::json::parse(R"([{"name":"SOL_CONTINER_NAME","value":"main"}])"));

  pod["spec"]["containers"][0]["env"] =
      nlohmann::json::parse(R"([{"name":"SOL_CONTINER_NAME","value":"mine"}])");
  out = Apply(pod, AdmitPod(pod, config));
  EXPECT_EQ(out["spec"]["containers"][0]["env"][0]["value"], "mine");
}

}  // namespace
}  // namespace hami::scheduler
