// A mixed cluster on the fake API server for vendor tests: an NVIDIA node ("gpu-node") and a
// Hygon DCU node ("dcu-node") registered the way their device plugins do, and a SchedulerDaemon
// started with `device_config_` (tests add their vendor's section and nodes first).
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/hygon.h"
#include "scheduler/daemon.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler::testing {

// As HAMi's dcu-vgpu-device-plugin registers two Z100L cards (§1.2, 9-field form).
inline constexpr char kDcuRegistration[] =
    "DCU-0,4,65520,100,DCU-Z100L,0,true,0,hami-core:DCU-1,4,65520,100,DCU-Z100L,0,true,1,"
    "hami-core:";

// A v1 Node with these annotations and status.allocatable (and status.capacity, when given:
// some vendors' devices come from node capacity).
inline nlohmann::json MixedNode(const std::string& name, nlohmann::json annotations,
                                nlohmann::json allocatable,
                                nlohmann::json capacity = nlohmann::json()) {
  nlohmann::json status = {{"allocatable", std::move(allocatable)}};
  if (!capacity.is_null()) status["capacity"] = std::move(capacity);
  return {{"kind", "Node"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", name}, {"annotations", std::move(annotations)}}},
          {"status", std::move(status)}};
}

inline DeviceConfig NvidiaAndHygon() {
  DeviceConfig config = DefaultDeviceConfig();
  config.hygon = HygonConfig{};
  return config;
}

class MixedClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    server_ = *url;
    ASSERT_TRUE(api_.Put(MixedNode("gpu-node",
                                   {{kNodeNvidiaRegisterAnnotation,
                                     EncodeNodeDevicesJson({TestDevice("GPU-a0")})}},
                                   {{"nvidia.com/gpu", "10"}}))
                    .ok());
    ASSERT_TRUE(api_.Put(MixedNode("dcu-node", {{kHygonRegisterAnnotation, kDcuRegistration}},
                                   {{"hygon.com/dcunum", "8"}}))
                    .ok());
  }

  std::unique_ptr<SchedulerDaemon> StartDaemon() {
    DaemonOptions options;
    options.http_port = 0;
    options.metrics_host = "127.0.0.1";
    options.metrics_port = 0;
    options.registration_period = std::chrono::milliseconds(50);
    options.device_config = device_config_;
    auto daemon = std::make_unique<SchedulerDaemon>(TestClient(server_, 2), options);
    Status started = daemon->Start();
    EXPECT_TRUE(started.ok()) << started.message();
    for (int i = 0; i < 400 && !daemon->Synced(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(daemon->Synced());
    return daemon;
  }

  nlohmann::json Post(int port, const std::string& path, const nlohmann::json& body) {
    httplib::Client http("127.0.0.1", port);
    auto res = http.Post(path, body.dump(), "application/json");
    EXPECT_TRUE(res);
    return res ? nlohmann::json::parse(res->body, nullptr, false) : nlohmann::json();
  }

  nlohmann::json Filter(SchedulerDaemon& daemon, const nlohmann::json& pod,
                        nlohmann::json node_names) {
    return Post(daemon.port(), "/filter", {{"Pod", pod}, {"NodeNames", std::move(node_names)}});
  }

  // Binds and then releases the node lock as the device plugin's Allocate would.
  void Bind(SchedulerDaemon& daemon, const nlohmann::json& pod, const std::string& node) {
    nlohmann::json bound = Post(daemon.port(), "/bind",
                                {{"PodName", pod["metadata"]["name"]},
                                 {"PodNamespace", "default"},
                                 {"PodUID", pod["metadata"]["uid"]},
                                 {"Node", node}});
    EXPECT_EQ(bound["Error"], "") << bound.dump();
    auto n = *api_.Get("nodes", "", node);
    n["metadata"]["annotations"].erase(kNodeLockAnnotation);
    EXPECT_TRUE(api_.Put(n).ok());
  }

  nlohmann::json Annotations(const std::string& pod) {
    return (*api_.Get("pods", "default", pod))["metadata"]["annotations"];
  }

  fakes::FakeApiServer api_;
  std::string server_;
  DeviceConfig device_config_ = NvidiaAndHygon();
};

}  // namespace hami::scheduler::testing
