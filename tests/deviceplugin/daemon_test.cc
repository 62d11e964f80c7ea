#include "deviceplugin/daemon.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <iterator>

#include "device/annotations.h"
#include "device/codec.h"
#include "tests/deviceplugin/test_util.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/fake_kubelet.h"
#include "tests/scheduler/test_util.h"

namespace hami::deviceplugin {
namespace {

using std::chrono::milliseconds;

class PluginDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    ASSERT_TRUE(
        api_.Put({{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "n1"}}}}).ok());
    char pattern[] = "/tmp/hami_dpd_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    testing::UseTwoT4s(dir_);
    kubelet_ = std::make_unique<fakes::FakeKubelet>(dir_);
    ASSERT_TRUE(kubelet_->Start().ok());

    options_ = testing::TestDaemonOptions(dir_);
    client_ = scheduler::testing::TestClient(*url, 2);
  }
  void TearDown() override { unsetenv("HAMI_FAKE_NVML_CONFIG"); }

  std::string Registration() {
    auto node = api_.Get("nodes", "", "n1");
    return (*node)["metadata"]
        .value("annotations", nlohmann::json::object())
        .value(kNodeNvidiaRegisterAnnotation, std::string());
  }

  fakes::FakeApiServer api_;
  std::string dir_;
  std::unique_ptr<fakes::FakeKubelet> kubelet_;
  PluginDaemonOptions options_;
  std::shared_ptr<kube::KubeClient> client_;
};

TEST_F(PluginDaemonTest, RegistersPublishesAdvertisesAndAllocates) {
  PluginDaemon daemon(client_, options_);
  Status started = daemon.Start();
  ASSERT_TRUE(started.ok()) << started.message();
  ASSERT_TRUE(kubelet_->WaitForRegistrations(1, milliseconds(5000)));
  EXPECT_EQ(kubelet_->Registrations()[0].endpoint(), "nvidia-gpu.sock");
  EXPECT_EQ(kubelet_->Registrations()[0].resource_name(), "nvidia.com/gpu");

  // The node annotation: HAMi's JSON registration the scheduler reads.
  auto devices = DecodeNodeDevicesJson(Registration());
  ASSERT_TRUE(devices.ok()) << Registration();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].id, "GPU-aaa");
  EXPECT_EQ((*devices)[0].count, 4);
  EXPECT_EQ((*devices)[0].devmem_mib, 15360);
  EXPECT_EQ((*devices)[0].type, "NVIDIA-Tesla T4");
  EXPECT_TRUE((*devices)[0].health);

  // What kubelet sees: 4 replicas per GPU.
  auto stub = kubelet_->DialPlugin("nvidia-gpu.sock");
  grpc::ClientContext context;
  auto reader = stub->ListAndWatch(&context, v1beta1::Empty());
  v1beta1::ListAndWatchResponse list;
  ASSERT_TRUE(reader->Read(&list));
  EXPECT_EQ(list.devices_size(), 8);
  EXPECT_EQ(list.devices(7).id(), "GPU-bbb-3");
  context.TryCancel();

  // A pod the scheduler bound here gets its limits.
  nlohmann::json pod = {{"kind", "Pod"},
                        {"apiVersion", "v1"},
                        {"metadata",
                         {{"name", "p1"},
                          {"namespace", "default"},
                          {"annotations",
                           {{kVgpuNodeAnnotation, "n1"},
                            {"hami.io/vgpu-devices-to-allocate", "GPU-bbb,NVIDIA,3000,30:;"},
                            {kBindPhaseAnnotation, "allocating"},
                            {kBindTimeAnnotation, "1"}}}}},
                        {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "main"}}}}}},
                        {"status", {{"phase", "Pending"}}}};
  ASSERT_TRUE(api_.Put(pod).ok());
  v1beta1::AllocateRequest request;
  request.add_container_requests()->add_devices_ids("GPU-aaa-2");
  v1beta1::AllocateResponse response;
  grpc::ClientContext allocate_context;
  grpc::Status allocated = stub->Allocate(&allocate_context, request, &response);
  ASSERT_TRUE(allocated.ok()) << allocated.error_message();
  EXPECT_EQ(response.container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), "GPU-bbb");
  EXPECT_EQ((*api_.Get("pods", "default", "p1"))["metadata"]["annotations"][kBindPhaseAnnotation],
            "success");
  daemon.Stop();
}

TEST_F(PluginDaemonTest, AMigGpuIsAdvertisedAndPublishedAsItsInstances) {
  std::ofstream(dir_ + "/nvml.json") << testing::T4AndMigA100().dump();
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  ASSERT_TRUE(kubelet_->WaitForRegistrations(1, milliseconds(5000)));
  auto devices = DecodeNodeDevicesJson(Registration());
  ASSERT_TRUE(devices.ok()) << Registration();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].mode, "hami-core");
  EXPECT_EQ((*devices)[0].count, 4);  // the split count
  EXPECT_EQ((*devices)[1].id, "GPU-a100");
  EXPECT_EQ((*devices)[1].mode, "mig");
  EXPECT_EQ((*devices)[1].count, 3);  // its MIG instances

  // kubelet sees 4 replicas of the T4 and one per MIG instance of the A100.
  auto stub = kubelet_->DialPlugin("nvidia-gpu.sock");
  grpc::ClientContext context;
  auto reader = stub->ListAndWatch(&context, v1beta1::Empty());
  v1beta1::ListAndWatchResponse list;
  ASSERT_TRUE(reader->Read(&list));
  std::vector<std::string> ids;
  for (const auto& d : list.devices()) ids.push_back(d.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"GPU-t4-0", "GPU-t4-1", "GPU-t4-2", "GPU-t4-3",
                                           "GPU-a100-0", "GPU-a100-1", "GPU-a100-2"}));
  context.TryCancel();
  daemon.Stop();
}

TEST_F(PluginDaemonTest, RegistersAgainWhenKubeletRestarts) {
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  ASSERT_TRUE(kubelet_->WaitForRegistrations(1, milliseconds(5000)));
  kubelet_->Stop();  // kubelet restarting: its socket goes away...
  kubelet_ = std::make_unique<fakes::FakeKubelet>(dir_);
  ASSERT_TRUE(kubelet_->Start().ok());  // ...and comes back as a new socket
  ASSERT_TRUE(kubelet_->WaitForRegistrations(1, milliseconds(5000)));
  // The daemon counts a registration once kubelet's answer is back.
  for (int i = 0; i < 200 && daemon.registrations() < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(daemon.registrations(), 2u);
  // And our socket serves again.
  auto stub = kubelet_->DialPlugin("nvidia-gpu.sock");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + milliseconds(2000));
  v1beta1::DevicePluginOptions plugin_options;
  EXPECT_TRUE(stub->GetDevicePluginOptions(&context, v1beta1::Empty(), &plugin_options).ok());
  daemon.Stop();
}

TEST_F(PluginDaemonTest, RepublishesOnlyWhenTheDevicesChange) {
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  std::this_thread::sleep_for(milliseconds(400));  // several refresh periods
  EXPECT_EQ(daemon.publications(), 1u);
  // One GPU disappears from NVML's view (the next refresh reads the config again on init;
  // simulate by restarting the daemon with a changed config).
  daemon.Stop();
  std::ofstream(dir_ + "/nvml.json") << nlohmann::json({{"devices",
                                                         {{{"uuid", "GPU-aaa"},
                                                           {"name", "Tesla T4"},
                                                           {"memory_mib", 15360},
                                                           {"bus_id", "00000000:3B:00.0"}}}}})
                                            .dump();
  PluginDaemon again(client_, options_);
  ASSERT_TRUE(again.Start().ok());
  auto devices = DecodeNodeDevicesJson(Registration());
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 1u);
  again.Stop();
}

TEST_F(PluginDaemonTest, CriticalXidMakesItsGpuUnhealthyEverywhere) {
  const std::string events = dir_ + "/events";
  std::ofstream(events) << "";
  nlohmann::json nvml = nlohmann::json::parse(std::ifstream(dir_ + "/nvml.json"));
  nvml["events_file"] = events;
  std::ofstream(dir_ + "/nvml.json") << nvml.dump();
  options_.event_wait_ms = 20;
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  ASSERT_TRUE(kubelet_->WaitForRegistrations(1, milliseconds(5000)));
  auto stub = kubelet_->DialPlugin("nvidia-gpu.sock");
  grpc::ClientContext context;
  auto reader = stub->ListAndWatch(&context, v1beta1::Empty());
  v1beta1::ListAndWatchResponse list;
  ASSERT_TRUE(reader->Read(&list));
  std::ofstream(events, std::ios::app) << "0 xid 13\n1 xid 79\n";  // app fault, then GPU lost
  ASSERT_TRUE(reader->Read(&list));
  for (const auto& d : list.devices()) {
    EXPECT_EQ(d.health(), d.id().rfind("GPU-bbb", 0) == 0 ? "Unhealthy" : "Healthy") << d.id();
  }
  EXPECT_EQ(daemon.unhealthy(), (std::set<uint32_t>{1}));
  for (int i = 0; i < 200; ++i) {
    auto devices = DecodeNodeDevicesJson(Registration());
    if (devices.ok() && devices->size() == 2 && !(*devices)[1].health) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto devices = DecodeNodeDevicesJson(Registration());
  ASSERT_TRUE(devices.ok());
  EXPECT_TRUE((*devices)[0].health);
  EXPECT_FALSE((*devices)[1].health) << "the scheduler stops placing pods on it";
  context.TryCancel();
  daemon.Stop();
}

TEST_F(PluginDaemonTest, NodeConfigIsAppliedAndReloadedAndABrokenEditIsNotTaken) {
  const std::string config = dir_ + "/config.json";
  std::ofstream(config) << R"({"nodeconfig":[{"name":"n1","devicesplitcount":2}]})";
  options_.node_config_file = config;
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  auto count = [&] {
    auto devices = DecodeNodeDevicesJson(Registration());
    return devices.ok() && !devices->empty() ? (*devices)[0].count : -1;
  };
  EXPECT_EQ(count(), 2);
  // Replaced the way a ConfigMap volume is: a new file renamed over the old one.
  auto replace = [&](const std::string& text) {
    std::ofstream(config + ".new") << text;
    ASSERT_EQ(std::rename((config + ".new").c_str(), config.c_str()), 0);
  };
  replace(R"({"nodeconfig":[{"name":"n1","devicesplitcount":7}]})");
  for (int i = 0; i < 300 && count() != 7; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(count(), 7);
  replace(R"({"nodeconfig":[{"name":"n1","devicesplitcount":"lots"}]})");
  std::this_thread::sleep_for(milliseconds(300));  // several refresh periods
  EXPECT_EQ(count(), 7) << "a broken edit keeps the previous configuration";
  daemon.Stop();

  PluginDaemon broken(client_, options_);
  Status started = broken.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("devicesplitcount"), std::string::npos) << started.message();
}

TEST_F(PluginDaemonTest, NvmlFailingAtRunTimeTurnsEveryGpuUnhealthyUntilItAnswersAgain) {
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  auto healthy = [&] {
    auto devices = DecodeNodeDevicesJson(Registration());
    int count = 0;
    for (const DeviceInfo& d : devices.ok() ? *devices : std::vector<DeviceInfo>{}) {
      count += d.health ? 1 : 0;
    }
    return count;
  };
  EXPECT_EQ(healthy(), 2);
  const std::string good = [&] {
    std::ifstream in(dir_ + "/nvml.json");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  nlohmann::json failing = nlohmann::json::parse(good);
  failing["count_error"] = 15;  // GPU_IS_LOST from the count query
  std::ofstream(dir_ + "/nvml.json.new") << failing.dump();
  ASSERT_EQ(std::rename((dir_ + "/nvml.json.new").c_str(), (dir_ + "/nvml.json").c_str()), 0);
  for (int i = 0; i < 300 && healthy() != 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  auto devices = DecodeNodeDevicesJson(Registration());
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 2u) << "still listed, but unhealthy";
  EXPECT_EQ(healthy(), 0);
  std::ofstream(dir_ + "/nvml.json.new") << good;
  ASSERT_EQ(std::rename((dir_ + "/nvml.json.new").c_str(), (dir_ + "/nvml.json").c_str()), 0);
  for (int i = 0; i < 300 && healthy() != 2; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(healthy(), 2);
  daemon.Stop();
}

TEST_F(PluginDaemonTest, ARestartedPluginServesAndRegistersAgain) {
  {
    PluginDaemon first(client_, options_);
    ASSERT_TRUE(first.Start().ok());
    ASSERT_TRUE(kubelet_->WaitForRegistrations(1, milliseconds(5000)));
    first.Stop();
  }
  PluginDaemon second(client_, options_);
  ASSERT_TRUE(second.Start().ok());
  ASSERT_TRUE(kubelet_->WaitForRegistrations(2, milliseconds(5000)));
  auto stub = kubelet_->DialPlugin("nvidia-gpu.sock");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + milliseconds(2000));
  v1beta1::DevicePluginOptions plugin_options;
  EXPECT_TRUE(stub->GetDevicePluginOptions(&context, v1beta1::Empty(), &plugin_options).ok());
  second.Stop();
}

TEST_F(PluginDaemonTest, NoDriverStopsTheStartWithTheReason) {
  unsetenv("HAMI_FAKE_NVML_CONFIG");
  PluginDaemon daemon(client_, options_);
  Status started = daemon.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("Driver Not Loaded"), std::string::npos) << started.message();
  options_.node_name.clear();
  PluginDaemon unnamed(client_, options_);
  EXPECT_NE(unnamed.Start().message().find("NODE_NAME"), std::string::npos);
}

}  // namespace
}  // namespace hami::deviceplugin
