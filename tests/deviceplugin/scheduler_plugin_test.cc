// hami-scheduler and hami-device-plugin together, as in a cluster: the plugin publishes the
// node's GPUs, the scheduler filters and binds a pod over HTTP the way kube-scheduler calls
// it, and kubelet's Allocate (through the fake kubelet's client of the plugin socket) hands
// the container exactly the GPU and limits the scheduler decided. Proves the two agree on
// every annotation between them (registration, devices-to-allocate, bind-phase, node lock).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <fstream>
#include <set>

#include "device/annotations.h"
#include "device/codec.h"
#include "deviceplugin/daemon.h"
#include "scheduler/daemon.h"
#include "tests/deviceplugin/test_util.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/fake_kubelet.h"
#include "tests/scheduler/test_util.h"

namespace hami {
namespace {

using std::chrono::milliseconds;

// The fake API server with node n1, the fake kubelet, the device plugin on n1 (over the fake
// NVML described by `nvml_config`) and the scheduler, all started.
class SchedulerAndPluginTest : public ::testing::Test {
 protected:
  // `mode`: the node's operating mode ("mig": dynamic MIG on GPUs in MIG mode).
  void StartCluster(const nlohmann::json& nvml_config, const std::string& mode = "hami-core") {
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    ASSERT_TRUE(api_.Put({{"kind", "Node"},
                          {"apiVersion", "v1"},
                          {"metadata", {{"name", "n1"}}},
                          {"status", {{"allocatable", {{"nvidia.com/gpu", "20"}}}}}})
                    .ok());
    char pattern[] = "/tmp/hami_e2e_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ + "/nvml.json") << nvml_config.dump();
    setenv("HAMI_FAKE_NVML_CONFIG", (dir_ + "/nvml.json").c_str(), 1);
    kubelet_ = std::make_unique<fakes::FakeKubelet>(dir_);
    ASSERT_TRUE(kubelet_->Start().ok());

    deviceplugin::PluginDaemonOptions plugin_options;
    plugin_options.node_name = "n1";
    plugin_options.kubelet_dir = dir_;
    plugin_options.nvml_library = HAMI_FAKE_NVML_PATH;
    plugin_options.sysfs_root = dir_ + "/sys";
    plugin_options.allocate.hook_path = dir_ + "/hook";
    plugin_options.discovery.mode = mode;
    plugin_options.refresh_period = milliseconds(100);
    plugin_options.kubelet_check_period = milliseconds(20);
    plugin_ = std::make_unique<deviceplugin::PluginDaemon>(scheduler::testing::TestClient(*url, 2),
                                                           plugin_options);
    ASSERT_TRUE(plugin_->Start().ok());
    ASSERT_TRUE(kubelet_->WaitForRegistrations(1, milliseconds(5000)));

    scheduler::DaemonOptions scheduler_options;
    scheduler_options.http_port = 0;
    scheduler_options.registration_period = milliseconds(50);
    scheduler_ = std::make_unique<scheduler::SchedulerDaemon>(
        scheduler::testing::TestClient(*url, 2), scheduler_options);
    ASSERT_TRUE(scheduler_->Start().ok());
    for (int i = 0; i < 400 && !(scheduler_->Synced() && scheduler_->ledger().HasNode("n1")); ++i) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    ASSERT_TRUE(scheduler_->ledger().HasNode("n1"))
        << "the scheduler read the plugin's registration";
    http_ = std::make_unique<httplib::Client>("127.0.0.1", scheduler_->port());
    plugin_client_ = kubelet_->DialPlugin("nvidia-gpu.sock");
  }

  void TearDown() override {
    if (scheduler_) scheduler_->Stop();
    if (plugin_) plugin_->Stop();
    unsetenv("HAMI_FAKE_NVML_CONFIG");
  }

  // kube-scheduler's /filter then /bind of a new pod with `limits` (and pod `annotations`);
  // returns the pod's annotations after the bind.
  nlohmann::json FilterAndBind(const std::string& name, nlohmann::json limits,
                               nlohmann::json annotations = nlohmann::json::object()) {
    nlohmann::json object = scheduler::testing::PodObject(name, std::move(limits));
    object["metadata"]["annotations"] = std::move(annotations);
    nlohmann::json pod = *api_.Put(object);
    const std::string uid = pod["metadata"]["uid"];
    auto filtered =
        http_->Post("/filter", nlohmann::json({{"Pod", pod}, {"NodeNames", {"n1"}}}).dump(),
                    "application/json");
    EXPECT_TRUE(filtered);
    if (!filtered) return nullptr;
    EXPECT_EQ(nlohmann::json::parse(filtered->body)["NodeNames"], nlohmann::json({"n1"}))
        << filtered->body;
    auto bound = http_->Post(
        "/bind",
        nlohmann::json(
            {{"PodName", name}, {"PodNamespace", "default"}, {"PodUID", uid}, {"Node", "n1"}})
            .dump(),
        "application/json");
    EXPECT_TRUE(bound);
    if (bound) EXPECT_EQ(nlohmann::json::parse(bound->body)["Error"], "") << bound->body;
    return (*api_.Get("pods", "default", name))["metadata"]["annotations"];
  }

  // kubelet's Allocate of one container with `replicas` device IDs (any replicas: the
  // scheduler's choice is what counts).
  v1beta1::AllocateResponse Allocate(std::vector<std::string> replicas) {
    v1beta1::AllocateRequest request;
    auto* container = request.add_container_requests();
    for (const std::string& id : replicas) container->add_devices_ids(id);
    v1beta1::AllocateResponse response;
    grpc::ClientContext context;
    const grpc::Status allocated = plugin_client_->Allocate(&context, request, &response);
    EXPECT_TRUE(allocated.ok()) << allocated.error_message();
    return response;
  }

  nlohmann::json PodAnnotations(const std::string& name) {
    return (*api_.Get("pods", "default", name))["metadata"]["annotations"];
  }
  bool NodeLocked() {
    return (*api_.Get("nodes", "", "n1"))["metadata"]["annotations"].contains(kNodeLockAnnotation);
  }

  fakes::FakeApiServer api_;
  std::string dir_;
  std::unique_ptr<fakes::FakeKubelet> kubelet_;
  std::unique_ptr<deviceplugin::PluginDaemon> plugin_;
  std::unique_ptr<scheduler::SchedulerDaemon> scheduler_;
  std::unique_ptr<httplib::Client> http_;
  std::unique_ptr<v1beta1::DevicePlugin::Stub> plugin_client_;
};

TEST_F(SchedulerAndPluginTest, APodGetsTheGpuAndLimitsTheSchedulerChose) {
  char pattern[] = "/tmp/hami_t4s_XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  deviceplugin::testing::UseTwoT4s(pattern);
  std::ifstream file(std::string(pattern) + "/nvml.json");
  StartCluster(nlohmann::json::parse(file));
  for (int round = 0; round < 2; ++round) {
    const std::string name = "pod-" + std::to_string(round);
    const nlohmann::json annotations = FilterAndBind(
        name,
        {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "3000"}, {"nvidia.com/gpucores", "30"}});
    ASSERT_TRUE(annotations.is_object());
    auto decided =
        DecodePodDevices(annotations["hami.io/vgpu-devices-allocated"].get<std::string>());
    ASSERT_TRUE(decided.ok());
    const std::string chosen_gpu = (*decided)[0][0].uuid;

    const v1beta1::AllocateResponse response = Allocate({"GPU-aaa-0"});
    ASSERT_EQ(response.container_responses_size(), 1);
    const auto& envs = response.container_responses(0).envs();
    EXPECT_EQ(envs.at("NVIDIA_VISIBLE_DEVICES"), chosen_gpu);
    EXPECT_EQ(envs.at("CUDA_DEVICE_MEMORY_LIMIT_0"), "3000m");
    EXPECT_EQ(envs.at("CUDA_DEVICE_SM_LIMIT"), "30");
    const nlohmann::json after = PodAnnotations(name);
    EXPECT_EQ(after[kBindPhaseAnnotation], "success");
    EXPECT_EQ(after["hami.io/vgpu-devices-to-allocate"], ";");
    // The lock is free again, so the next round's bind can take it.
    EXPECT_FALSE(NodeLocked());
  }
}

// Static MIG end to end: the plugin registers the A100's existing instances, the scheduler
// reserves one per GPU the pod asks, and kubelet's Allocate hands out exactly those MIG devices
// and records their identity; when the instances run out the scheduler says so.
TEST_F(SchedulerAndPluginTest, AMigPodGetsTheInstancesTheSchedulerReserved) {
  StartCluster(deviceplugin::testing::T4AndMigA100());
  const nlohmann::json mig_mode = {{"nvidia.com/vgpu-mode", "mig"}};
  // Two 1g.10gb instances in one container (one GPU in MIG mode serves both).
  nlohmann::json annotations = FilterAndBind(
      "two-small", {{"nvidia.com/gpu", "2"}, {"nvidia.com/gpumem", "8000"}}, mig_mode);
  ASSERT_TRUE(annotations.is_object());
  EXPECT_EQ(annotations["hami.io/vgpu-devices-allocated"],
            "GPU-a100,NVIDIA,9856,15:GPU-a100,NVIDIA,9856,15:;");
  v1beta1::AllocateResponse response = Allocate({"GPU-a100-0", "GPU-a100-1"});
  ASSERT_EQ(response.container_responses_size(), 1);
  EXPECT_EQ(response.container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"),
            "MIG-1g-a,MIG-1g-b");
  EXPECT_EQ(response.container_responses(0).envs().count("CUDA_DEVICE_MEMORY_LIMIT_0"), 0u);
  nlohmann::json after = PodAnnotations("two-small");
  EXPECT_EQ(after[kBindPhaseAnnotation], "success");
  auto realized = DecodeMigAllocations(after[kVgpuMigAllocationsAnnotation].get<std::string>());
  ASSERT_TRUE(realized.ok()) << realized.status().message();
  ASSERT_EQ(realized->size(), 2u);
  EXPECT_EQ((*realized)[0].mig_uuid, "MIG-1g-a");
  EXPECT_EQ((*realized)[0].gpu_instance_id, 7u);
  EXPECT_EQ((*realized)[1].mig_uuid, "MIG-1g-b");
  EXPECT_FALSE(NodeLocked());

  // A larger request takes the 3g.40gb instance.
  annotations =
      FilterAndBind("big", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "30000"}}, mig_mode);
  ASSERT_TRUE(annotations.is_object());
  response = Allocate({"GPU-a100-2"});
  ASSERT_EQ(response.container_responses_size(), 1);
  EXPECT_EQ(response.container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), "MIG-3g");

  // No instance is left: the scheduler refuses rather than over-commit the A100.
  nlohmann::json pod = *api_.Put(scheduler::testing::PodObject(
      "third", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}}));
  pod["metadata"]["annotations"] = mig_mode;
  auto filtered = http_->Post(
      "/filter", nlohmann::json({{"Pod", pod}, {"NodeNames", {"n1"}}}).dump(), "application/json");
  ASSERT_TRUE(filtered);
  const nlohmann::json result = nlohmann::json::parse(filtered->body);
  EXPECT_TRUE(result["NodeNames"].is_null()) << filtered->body;
  EXPECT_NE(result["FailedNodes"]["n1"].get<std::string>().find("CardTimeSlicingExhausted"),
            std::string::npos)
      << filtered->body;
  EXPECT_TRUE(scheduler_->ledger().CheckCapacity().ok());
}

// Dynamic MIG end to end: on a "mig" node the plugin registers every profile the A100 allows
// (chart allowlist) with all its placements though no instance exists; the scheduler reserves a
// placement for each MIG pod and kubelet's Allocate creates exactly that instance.
TEST_F(SchedulerAndPluginTest, DynamicMigCreatesTheInstanceAtTheReservedPlacement) {
  const nlohmann::json config = {{"devices",
                                  {{{"uuid", "GPU-t4"},
                                    {"name", "Tesla T4"},
                                    {"memory_mib", 15360},
                                    {"bus_id", "00000000:3B:00.0"}},
                                   {{"uuid", "GPU-a100"},
                                    {"name", "NVIDIA A100-SXM4-40GB"},
                                    {"memory_mib", 40960},
                                    {"bus_id", "00000000:AF:00.0"},
                                    {"mig", true},
                                    {"mig_model", "A100-SXM4-40GB"}}}}};
  StartCluster(config, "mig");
  const nlohmann::json registered =
      (*api_.Get("nodes", "", "n1"))["metadata"]["annotations"][kNodeNvidiaRegisterAnnotation];
  auto devices = DecodeNodeDevices(registered.get<std::string>());
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].mode, "hami-core");  // MIG off: shared by HAMi-core
  const DeviceInfo& a100 = (*devices)[1];
  EXPECT_EQ(a100.mode, "mig");
  EXPECT_EQ(a100.count, 7);
  std::vector<std::string> names;
  for (const MigProfile& p : a100.mig_profiles) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb"}));
  EXPECT_EQ(a100.mig_profiles[0].placements.size(), 7u);

  // A hami-core pod never lands on the GPU in MIG mode: it gets the T4.
  nlohmann::json annotations =
      FilterAndBind("shared", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}},
                    {{"nvidia.com/vgpu-mode", "hami-core"}});
  ASSERT_TRUE(annotations.is_object());
  EXPECT_EQ(annotations["hami.io/vgpu-devices-allocated"].get<std::string>().rfind("GPU-t4,", 0),
            0u)
      << annotations.dump();
  v1beta1::AllocateResponse response = Allocate({"GPU-t4-0"});
  ASSERT_EQ(response.container_responses_size(), 1);
  EXPECT_EQ(response.container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), "GPU-t4");

  const nlohmann::json mig_mode = {{"nvidia.com/vgpu-mode", "mig"}};
  std::set<std::string> handed_out;
  for (const auto& [name, memory] : std::vector<std::pair<std::string, std::string>>{
           {"mid", "15000"}, {"small", "4000"}, {"small2", "4000"}}) {
    nlohmann::json annotations =
        FilterAndBind(name, {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", memory}}, mig_mode);
    ASSERT_TRUE(annotations.is_object()) << name;
    auto reserved =
        DecodeMigAllocations(annotations[kVgpuMigAllocationsAnnotation].get<std::string>());
    ASSERT_TRUE(reserved.ok()) << reserved.status().message();
    ASSERT_EQ(reserved->size(), 1u);
    EXPECT_EQ((*reserved)[0].gpu_uuid, "GPU-a100");  // a MIG pod only on the MIG GPU
    EXPECT_TRUE((*reserved)[0].mig_uuid.empty()) << "nothing exists yet for " << name;

    response = Allocate({"GPU-a100-0"});
    ASSERT_EQ(response.container_responses_size(), 1) << name;
    const std::string visible = response.container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES");
    EXPECT_EQ(visible.rfind("MIG-", 0), 0u) << visible;
    EXPECT_TRUE(handed_out.insert(visible).second) << "one instance per pod";
    auto realized = DecodeMigAllocations(
        PodAnnotations(name)[kVgpuMigAllocationsAnnotation].get<std::string>());
    ASSERT_TRUE(realized.ok()) << realized.status().message();
    ASSERT_EQ(realized->size(), 1u);
    EXPECT_EQ((*realized)[0].mig_uuid, visible);
    EXPECT_EQ((*realized)[0].profile, (*reserved)[0].profile);
    EXPECT_EQ((*realized)[0].placement, (*reserved)[0].placement);
    EXPECT_EQ(PodAnnotations(name)[kBindPhaseAnnotation], "success");
  }
  // A 3g.20gb and two 1g.5gb exist now, at the reserved placements (the fake NVML refuses
  // overlaps, so three instances mean three disjoint placements).
  std::ifstream file(dir_ + "/nvml.json");
  const nlohmann::json after = nlohmann::json::parse(file);
  EXPECT_EQ(after["devices"][1]["gpu_instances"].size(), 3u) << after.dump();
  EXPECT_TRUE(scheduler_->ledger().CheckCapacity().ok());
}

}  // namespace
}  // namespace hami
