// hami-device-plugin assembled (spec §1.1, §5): discovers the GPUs through NVML, serves the
// Device Plugin API on its socket, registers with kubelet (again whenever kubelet restarts:
// its socket is recreated and ours removed), publishes the devices in the node's
// hami.io/node-nvidia-register annotation (only when the text changes; with topology_score also
// the GPU link scores, hami.io/node-nvidia-score), and answers Allocate
// through the Allocator. cmd/hami-device-plugin only parses flags and runs this.
// Start/Stop from one controlling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/status.h"
#include "deviceplugin/allocator.h"
#include "deviceplugin/discovery.h"
#include "deviceplugin/health.h"
#include "deviceplugin/mig_realize.h"
#include "deviceplugin/mig_reconcile.h"
#include "deviceplugin/node_config.h"
#include "deviceplugin/plugin_server.h"
#include "deviceplugin/topology.h"
#include "kube/client.h"
#include "nvml/nvml.h"

namespace hami::deviceplugin {

struct PluginDaemonOptions {
  std::string node_name;
  std::string resource_name = "nvidia.com/gpu";
  std::string kubelet_dir = "/var/lib/kubelet/device-plugins";
  std::string socket_name = "nvidia-gpu.sock";
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string sysfs_root = "/sys";
  DiscoveryOptions discovery;
  AllocateSettings allocate;
  nodelock::NodeLockerOptions lock;
  // Re-discovery and annotation refresh: every refresh_period, or retry_period after an error.
  std::chrono::milliseconds refresh_period{30000};
  std::chrono::milliseconds retry_period{5000};
  // How often kubelet's socket is checked for a restart.
  std::chrono::milliseconds kubelet_check_period{1000};
  std::chrono::milliseconds register_timeout{5000};
  HealthCheckConfig health;
  bool numa_topology = false;  // advertise each replica's NUMA node to kubelet
  // HAMi's per-node config.json; empty = none. Re-read when it changes (a broken edit is
  // reported and the previous configuration kept); a broken file at start stops the start.
  std::string node_config_file;
  unsigned int event_wait_ms = 1000;  // one NVML event wait; bounds how long Stop() takes
  // ENABLE_TOPOLOGY_SCORE: also publish the GPU link scores (hami.io/node-nvidia-score) for the
  // topology-aware scheduler policy; an asymmetric link makes a node Warning event
  // (AsymmetricGPUP2PLink), at most once per topology_warning_interval.
  bool topology_score = false;
  std::chrono::milliseconds topology_warning_interval{std::chrono::hours(1)};
};

class PluginDaemon {
 public:
  PluginDaemon(std::shared_ptr<kube::KubeClient> client, PluginDaemonOptions options);
  ~PluginDaemon();

  // Opens NVML and discovers the GPUs (an error here stops the binary with the reason),
  // starts the plugin socket and the loop that registers, publishes and watches kubelet.
  Status Start();
  void Stop();

  uint64_t registrations() const { return registrations_.load(); }
  uint64_t publications() const { return publications_.load(); }
  // GPU indexes an Xid event made unhealthy (they stay so until the plugin restarts, as in
  // HAMi: a GPU that fell off the bus does not come back by itself).
  std::set<uint32_t> unhealthy() const;

 private:
  void Loop();
  // One dynamic-MIG reconcile pass (mig_reconcile.h), serialised; failures are logged.
  void ReconcileMig();
  void WatchHealth();
  // Re-discovers, updates ListAndWatch and, when changed, the node annotations.
  Status Refresh();
  // The link score annotation for `devices` (topology_score on); nullopt when NVML's topology
  // cannot be read (logged; the last published value stays). Warns about asymmetric links.
  std::optional<std::string> LinkScores(const std::vector<DeviceInfo>& devices);
  // Re-reads the node config file if it changed; applies it over the flag values.
  Status LoadNodeConfig();
  // (Re)starts our socket and registers; true on success.
  bool Register();
  // Identifies the current kubelet.sock (inode and change time); 0 when absent.
  uint64_t KubeletSocketIdentity() const;

  std::shared_ptr<kube::KubeClient> client_;
  PluginDaemonOptions options_;
  std::unique_ptr<nvml::Nvml> nvml_;
  // Dynamic MIG at Allocate: reserved instances adopted or created (after nvml_, before
  // allocator_, which points at it).
  std::unique_ptr<NvmlMigDriver> mig_driver_;
  std::unique_ptr<MigRealizer> mig_realizer_;
  // Made in Start; passes run on the loop thread and, when a reserved instance cannot be
  // created, on the Allocate thread (ReconcileMig), one at a time.
  std::unique_ptr<MigReconciler> mig_reconciler_;
  std::mutex mig_reconcile_mu_;
  std::unique_ptr<Allocator> allocator_;
  std::unique_ptr<PluginServer> server_;
  std::string last_published_;
  std::string last_published_scores_;     // hami.io/node-nvidia-score as last sent
  std::vector<DeviceInfo> last_devices_;  // as last discovered (loop thread)
  // The flag values, and what is in effect after the node config. Loop thread only (and
  // Start before it).
  DiscoveryOptions flag_discovery_;
  AllocateSettings flag_allocate_;
  bool flag_numa_topology_ = false;
  WarningThrottle topology_warnings_;  // loop thread (and Start before it)
  std::string node_config_stamp_;
  std::atomic<uint64_t> registrations_{0};
  std::atomic<uint64_t> publications_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  mutable std::mutex health_mu_;
  std::set<uint32_t> unhealthy_;  // GUARDED_BY(health_mu_)
  bool all_unhealthy_ = false;    // GUARDED_BY(health_mu_)
  // Healthy GPUs as last refreshed: what Allocate may hand out. GUARDED_BY(health_mu_)
  std::set<std::string> usable_;
  bool stopping_ = false;     // GUARDED_BY(mu_)
  bool refresh_now_ = false;  // GUARDED_BY(mu_)
  std::thread loop_;
  std::thread health_;
};

// A fresh random "<uuid>.cache" name for a container's shared region.
std::string RandomCacheFileName();

}  // namespace hami::deviceplugin
