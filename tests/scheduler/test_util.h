// Builders shared by the scheduler tests.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "device/config.h"
#include "device/device.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"
#include "scheduler/decision.h"
#include "scheduler/filter.h"
#include "scheduler/ledger.h"

namespace hami::scheduler::testing {

// A healthy T4-like device with split count 10 and 100 cores.
inline DeviceInfo TestDevice(const std::string& id, int32_t mem_mib = 16384) {
  DeviceInfo d;
  d.id = id;
  d.count = 10;
  d.devmem_mib = mem_mib;
  d.devcore = 100;
  d.type = "NVIDIA-Tesla T4";
  d.health = true;
  return d;
}

// A ledger entry: pod "default/pod-<uid>" on `node` holding `devices` (NVIDIA), the first
// `init` groups being init containers.
inline PodAllocation Allocation(const std::string& uid, const std::string& node, PodDevices devices,
                                int init = 0) {
  PodAllocation p;
  p.uid = uid;
  p.ns = "default";
  p.name = "pod-" + uid;
  p.node = node;
  p.init_containers = init;
  p.by_vendor["NVIDIA"] = std::move(devices);
  return p;
}

// A v1 Pod object in namespace "default" with one container "c" whose resources.limits are
// `limits` (as stored through FakeApiServer::Put).
inline nlohmann::json PodObject(const std::string& name, nlohmann::json limits) {
  return {
      {"kind", "Pod"},
      {"apiVersion", "v1"},
      {"metadata", {{"name", name}, {"namespace", "default"}}},
      {"spec",
       {{"containers", nlohmann::json::array(
                           {{{"name", "c"}, {"resources", {{"limits", std::move(limits)}}}}})}}}};
}

// The annotations /bind's Binding writes for the decision `d` made (an empty object when it
// chose no node), with the default device config's keys.
inline nlohmann::json DecisionAnnotationsOf(const FilterDecision& d) {
  static const VendorRegistry registry = *MakeVendorRegistry(DefaultDeviceConfig());
  nlohmann::json out = nlohmann::json::object();
  if (d.decided) {
    for (const auto& [key, value] : DecisionAnnotations(registry, *d.decided)) out[key] = value;
  }
  return out;
}

// A curl client for the fake API server at `url` with `attempts` tries per request and no
// real sleeps between retries.
inline std::unique_ptr<kube::KubeClient> TestClient(const std::string& url, int attempts) {
  kube::ClusterConfig config;
  config.server = url;
  kube::ClientOptions options;
  options.retry.max_attempts = attempts;
  options.sleep = [](std::chrono::nanoseconds) {};
  return kube::KubeClient::WithCurl(config, options);
}

}  // namespace hami::scheduler::testing
