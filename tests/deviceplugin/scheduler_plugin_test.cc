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

#include "device/annotations.h"
#include "device/codec.h"
#include "deviceplugin/daemon.h"
#include "scheduler/daemon.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/fake_kubelet.h"
#include "tests/deviceplugin/test_util.h"
#include "tests/scheduler/test_util.h"

namespace hami {
namespace {

using std::chrono::milliseconds;

TEST(SchedulerAndPluginTest, APodGetsTheGpuAndLimitsTheSchedulerChose) {
  fakes::FakeApiServer api;
  auto url = api.Start();
  ASSERT_TRUE(url.ok());
  ASSERT_TRUE(api.Put({{"kind", "Node"},
                       {"apiVersion", "v1"},
                       {"metadata", {{"name", "n1"}}},
                       {"status", {{"allocatable", {{"nvidia.com/gpu", "20"}}}}}})
                  .ok());
  char pattern[] = "/tmp/hami_e2e_XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  deviceplugin::testing::UseTwoT4s(dir);
  fakes::FakeKubelet kubelet(dir);
  ASSERT_TRUE(kubelet.Start().ok());

  // The device plugin on n1.
  deviceplugin::PluginDaemonOptions plugin_options;
  plugin_options.node_name = "n1";
  plugin_options.kubelet_dir = dir;
  plugin_options.nvml_library = HAMI_FAKE_NVML_PATH;
  plugin_options.sysfs_root = dir + "/sys";
  plugin_options.allocate.hook_path = dir + "/hook";
  plugin_options.refresh_period = milliseconds(100);
  plugin_options.kubelet_check_period = milliseconds(20);
  deviceplugin::PluginDaemon plugin(scheduler::testing::TestClient(*url, 2), plugin_options);
  ASSERT_TRUE(plugin.Start().ok());
  ASSERT_TRUE(kubelet.WaitForRegistrations(1, milliseconds(5000)));

  // The scheduler.
  scheduler::DaemonOptions scheduler_options;
  scheduler_options.http_port = 0;
  scheduler_options.registration_period = milliseconds(50);
  scheduler::SchedulerDaemon scheduler(scheduler::testing::TestClient(*url, 2), scheduler_options);
  ASSERT_TRUE(scheduler.Start().ok());
  for (int i = 0; i < 400 && !(scheduler.Synced() && scheduler.ledger().HasNode("n1")); ++i) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(scheduler.ledger().HasNode("n1")) << "the scheduler read the plugin's registration";
  httplib::Client http("127.0.0.1", scheduler.port());
  auto plugin_client = kubelet.DialPlugin("nvidia-gpu.sock");

  for (int round = 0; round < 2; ++round) {
    const std::string name = "pod-" + std::to_string(round);
    nlohmann::json pod = *api.Put(scheduler::testing::PodObject(
        name,
        {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "3000"}, {"nvidia.com/gpucores", "30"}}));
    const std::string uid = pod["metadata"]["uid"];
    // kube-scheduler: filter, then bind.
    auto filtered =
        http.Post("/filter", nlohmann::json({{"Pod", pod}, {"NodeNames", {"n1"}}}).dump(),
                  "application/json");
    ASSERT_TRUE(filtered);
    const nlohmann::json result = nlohmann::json::parse(filtered->body);
    ASSERT_EQ(result["NodeNames"], nlohmann::json({"n1"})) << filtered->body;
    auto bound = http.Post(
        "/bind",
        nlohmann::json(
            {{"PodName", name}, {"PodNamespace", "default"}, {"PodUID", uid}, {"Node", "n1"}})
            .dump(),
        "application/json");
    ASSERT_TRUE(bound);
    ASSERT_EQ(nlohmann::json::parse(bound->body)["Error"], "") << bound->body;
    const nlohmann::json annotations =
        (*api.Get("pods", "default", name))["metadata"]["annotations"];
    auto decided =
        DecodePodDevices(annotations["hami.io/vgpu-devices-allocated"].get<std::string>());
    ASSERT_TRUE(decided.ok());
    const std::string chosen_gpu = (*decided)[0][0].uuid;

    // kubelet: Allocate one replica (any replica: the scheduler's choice is what counts).
    v1beta1::AllocateRequest request;
    request.add_container_requests()->add_devices_ids("GPU-aaa-0");
    v1beta1::AllocateResponse response;
    grpc::ClientContext context;
    const grpc::Status allocated = plugin_client->Allocate(&context, request, &response);
    ASSERT_TRUE(allocated.ok()) << allocated.error_message();
    const auto& envs = response.container_responses(0).envs();
    EXPECT_EQ(envs.at("NVIDIA_VISIBLE_DEVICES"), chosen_gpu);
    EXPECT_EQ(envs.at("CUDA_DEVICE_MEMORY_LIMIT_0"), "3000m");
    EXPECT_EQ(envs.at("CUDA_DEVICE_SM_LIMIT"), "30");
    const nlohmann::json after = (*api.Get("pods", "default", name))["metadata"]["annotations"];
    EXPECT_EQ(after[kBindPhaseAnnotation], "success");
    EXPECT_EQ(after["hami.io/vgpu-devices-to-allocate"], ";");
    // The lock is free again, so the next round's bind can take it.
    const nlohmann::json node = *api.Get("nodes", "", "n1");
    EXPECT_FALSE(node["metadata"]["annotations"].contains(kNodeLockAnnotation));
  }
  scheduler.Stop();
  plugin.Stop();
  unsetenv("HAMI_FAKE_NVML_CONFIG");
}

}  // namespace
}  // namespace hami
