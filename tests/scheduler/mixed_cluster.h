// A mixed cluster on the fake API server for vendor tests: an NVIDIA node ("gpu-node") and a
// Hygon DCU node ("dcu-node") registered the way their device plugins do, and a SchedulerDaemon
// started with `device_config_` (tests add their vendor's section and nodes first), with the
// checks every vendor's test repeats.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/hygon.h"
#include "device/vendor.h"
#include "scheduler/daemon.h"
#include "scheduler/ledger.h"
#include "scheduler/state_sync.h"
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

// A Unix time in nanoseconds at second resolution, as a string (HAMi's vendor timestamps).
inline bool IsUnixNanos(const nlohmann::json& value) {
  const std::string s = value.is_string() ? value.get<std::string>() : "";
  return s.size() == 19 && s.find_first_not_of("0123456789") == std::string::npos &&
         s.ends_with("000000000");
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

  // A pod asking `limits` (two vendors in its one container) is refused by /filter on
  // `node_names` with "several vendors (<vendors>)".
  void ExpectTwoVendorPodRefused(SchedulerDaemon& daemon, const nlohmann::json& limits,
                                 const nlohmann::json& node_names, const std::string& vendors) {
    nlohmann::json greedy = *api_.Put(PodObject("greedy", limits));
    nlohmann::json filtered = Filter(daemon, greedy, node_names);
    EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
    EXPECT_NE(filtered["Error"].get<std::string>().find("several vendors (" + vendors + ")"),
              std::string::npos)
        << filtered.dump();
  }

  // `daemon` is replaced by a restarted replica, which rebuilds the allocations of `pods` pods
  // from the API server: then a pod asking `limits` does not fit on `node_names`, and the
  // rebuilt ledger is within capacity.
  void ExpectRestartRebuildsAllocations(std::unique_ptr<SchedulerDaemon>& daemon, size_t pods,
                                        const std::string& pod_name, const nlohmann::json& limits,
                                        const nlohmann::json& node_names) {
    daemon->Stop();
    daemon.reset();
    daemon = StartDaemon();
    SchedulerDaemon& restarted = *daemon;
    ASSERT_TRUE(api_.WaitUntil([&] { return restarted.ledger().PodCount() == pods; },
                               std::chrono::milliseconds(2000)))
        << restarted.ledger().PodCount() << " pods rebuilt, want " << pods;
    nlohmann::json again = *api_.Put(PodObject(pod_name, limits));
    nlohmann::json filtered = Filter(restarted, again, node_names);
    EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
    EXPECT_TRUE(restarted.ledger().CheckCapacity().ok());
  }

  // What one registration pass over the API server's `node` under `device_config_` does on a
  // fresh ledger: its actions (registration_errors: vendor key -> why those devices were
  // dropped) and the ids of the devices it kept on the node.
  struct RegistrationPass {
    NodeActions actions;
    std::vector<std::string> kept_device_ids;
  };
  RegistrationPass ApplyRegistration(const std::string& node) {
    auto registry = MakeVendorRegistry(device_config_);
    EXPECT_TRUE(registry.ok()) << registry.status().message();
    std::optional<nlohmann::json> object = api_.Get("nodes", "", node);
    EXPECT_TRUE(object.has_value()) << node;
    if (!registry.ok() || !object.has_value()) return {};
    UsageLedger ledger;
    AllocatableTracker tracker;
    RegistrationPass pass;
    pass.actions = ApplyNode(*registry, ledger, tracker, *object, 1'700'000'000, 0);
    const std::vector<std::string> names = {node};
    auto states = ledger.Snapshot(names, nullptr);
    EXPECT_EQ(states.size(), 1u) << node;
    for (const policy::NodeState& state : states) {
      for (const DeviceUsage& d : state.devices) pass.kept_device_ids.push_back(d.info.id);
    }
    return pass;
  }

  // Within 2 s the leader asks `node`'s device plugin to handshake: `key` reads
  // "Requesting_<time>". Returns the node as it then is (nullopt when the key never came).
  std::optional<nlohmann::json> WaitForHandshakeRequest(const std::string& node,
                                                        const std::string& key) {
    auto object = api_.WaitForObject(
        "nodes", "", node,
        [&](const nlohmann::json& n) { return n["metadata"]["annotations"].contains(key); },
        std::chrono::milliseconds(2000));
    EXPECT_TRUE(object.has_value()) << node << " has no " << key;
    if (object.has_value()) {
      const nlohmann::json& value = (*object)["metadata"]["annotations"][key];
      EXPECT_TRUE(value.is_string() && value.get<std::string>().starts_with("Requesting_"))
          << value.dump();
    }
    return object;
  }

  // Within 2 s, a Warning Event InvalidDeviceRegistration on `node` says `message_part`.
  bool WaitForRegistrationEvent(const std::string& node, const std::string& message_part) {
    return api_.WaitUntil(
        [&] {
          for (const nlohmann::json& e : api_.List("events")) {
            if (e.value("reason", "") == "InvalidDeviceRegistration" &&
                e["involvedObject"]["name"] == node &&
                e.value("message", "").find(message_part) != std::string::npos) {
              return true;
            }
          }
          return false;
        },
        std::chrono::milliseconds(2000));
  }

  // The NVIDIA GPUs of `node` still serve an NVIDIA pod (whatever else its registration holds).
  void ExpectNvidiaPodFits(SchedulerDaemon& daemon, const std::string& node) {
    nlohmann::json gpu_pod = *api_.Put(PodObject("gpu-pod", {{"nvidia.com/gpu", "1"}}));
    nlohmann::json filtered = Filter(daemon, gpu_pod, nlohmann::json::array({node}));
    EXPECT_EQ(filtered["NodeNames"], nlohmann::json::array({node})) << filtered.dump();
  }

  // A pod asking `limits` does not fit on `broken_node` (its devices of that vendor were
  // dropped) and lands on `good_node` when both are offered.
  void ExpectFitsOnlyOnGoodNode(SchedulerDaemon& daemon, const std::string& pod_name,
                                const nlohmann::json& limits, const std::string& broken_node,
                                const std::string& good_node) {
    nlohmann::json pod = *api_.Put(PodObject(pod_name, limits));
    nlohmann::json filtered = Filter(daemon, pod, nlohmann::json::array({broken_node}));
    EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
    filtered = Filter(daemon, pod, nlohmann::json::array({broken_node, good_node}));
    EXPECT_EQ(filtered["NodeNames"], nlohmann::json::array({good_node})) << filtered.dump();
  }

  fakes::FakeApiServer api_;
  std::string server_;
  DeviceConfig device_config_ = NvidiaAndHygon();
};

}  // namespace hami::scheduler::testing
