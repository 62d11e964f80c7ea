// The device plugin's gRPC side (kubelet Device Plugin API v1beta1) on its own unix socket:
// options, ListAndWatch (the advertised devices, re-sent on every change), a preferred
// allocation, Allocate (delegated to the caller) and PreStartContainer (a no-op we never ask
// for). What it advertises is HAMi's: as many replicas per physical GPU as it registered
// tasks for (its `count`: the split count, or a MIG GPU's instances), named "<GPU-UUID>-<i>", so
// kubelet can hand one GPU to several containers; which physical devices a container gets is
// the scheduler's decision, carried by the pod annotation.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/device.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace grpc {
class Server;
}

namespace hami::deviceplugin {

struct AdvertisedDevice {
  std::string id;
  bool healthy = true;
  std::optional<int64_t> numa;  // topology hint, when NUMA topology is enabled
  bool operator==(const AdvertisedDevice&) const = default;
};

inline constexpr char kHealthy[] = "Healthy";
inline constexpr char kUnhealthy[] = "Unhealthy";

// `gpu.count` replicas of each GPU ("<uuid>-0" ... "<uuid>-<count-1>"; none when the count is
// 0 or less, e.g. a MIG GPU without instances), carrying the GPU's health and, with
// `numa_topology`, its NUMA node.
std::vector<AdvertisedDevice> ReplicaDevices(std::span<const DeviceInfo> gpus, bool numa_topology);

// The physical GPU a replica ID names ("GPU-x-3" -> "GPU-x"); the ID itself when it has no
// "-<number>" suffix.
std::string PhysicalId(const std::string& replica_id);

// kubelet's GetPreferredAllocation for one container: the must-include IDs, then available
// replicas of GPUs not yet chosen (one replica per GPU while possible), then any. Returns fewer
// than `size` only when fewer are available.
std::vector<std::string> PreferReplicas(std::span<const std::string> available,
                                        std::span<const std::string> must_include, int size);

using AllocateFn =
    std::function<Result<v1beta1::AllocateResponse>(const v1beta1::AllocateRequest&)>;

class PluginServer {
 public:
  PluginServer(std::string socket_path, bool preferred_allocation, AllocateFn allocate);
  ~PluginServer();
  PluginServer(const PluginServer&) = delete;
  PluginServer& operator=(const PluginServer&) = delete;

  // Listens on the socket (removing a stale file first). kUnavailable when it cannot.
  Status Start();
  // Ends every ListAndWatch stream and stops; removes the socket.
  void Stop();
  // Replaces the advertised devices; every open ListAndWatch stream sends the new list.
  void SetDevices(std::vector<AdvertisedDevice> devices);
  int open_streams() const;

 private:
  class Service;
  friend class Service;

  const std::string socket_path_;
  const bool preferred_allocation_;
  const AllocateFn allocate_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AdvertisedDevice> devices_;  // GUARDED_BY(mu_)
  uint64_t version_ = 0;                   // GUARDED_BY(mu_), bumped by SetDevices
  bool stopping_ = false;                  // GUARDED_BY(mu_)
  int open_streams_ = 0;                   // GUARDED_BY(mu_)
};

}  // namespace hami::deviceplugin
