// hami-monitor assembled (spec §6): a pod informer limited to this node (pod UID -> namespace/name,
// the live set for cleanup, MIG allocations, vGPU allocations), the round every feedback period
// (scan the containers directory, delete the directories of gone pods, keep the region mappings
// in step, run the priority feedback loop, check the regions' limits against the allocations),
// NVML for the host's devices, and /metrics.
//
// Region limit check (limit_check.h): every round, a region whose limit differs from its
// container's allocation is logged once per (container, device index, limit) when it appears or
// its values change, and once at info level when it agrees again; /metrics exports
// hami_container_region_limit_mismatch from the regions as read at scrape time. Report only: the
// monitor never rewrites a limit (docs/monitor.md says why).
// cmd/hami-monitor only parses flags and runs this. Start/Stop from one controlling thread.
//
// Failure behaviour: NVML missing or failing leaves the host families out (logged once per
// reason; the container families still work) and is retried every round; an API server that
// is down keeps the last pod list (no directory of a pod we still know is deleted, and nothing is
// deleted before the first list); a corrupt region file is reported and skipped.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/http_endpoint.h"
#include "common/status.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "monitor/exposition.h"
#include "monitor/region_set.h"
#include "nvml/nvml.h"

namespace hami::monitor {

struct MonitorDaemonOptions {
  std::string node_name;                      // required: the pods of this node are watched
  std::string hook_path = "/usr/local/vgpu";  // scans <hook_path>/containers
  std::string metrics_host = "0.0.0.0";
  int metrics_port = 9394;  // 0: an ephemeral port (tests)
  std::string nvml_library = "libnvidia-ml.so.1";
  std::chrono::milliseconds round_period{5000};  // HAMi's feedback interval
  // false: no background rounds, only RunRound() calls (tests that count rounds).
  bool background_rounds = true;
  int64_t stale_grace_s = 300;  // HAMI_RESYNC_INTERVAL
  MonitorExpositionOptions exposition;
  std::function<int64_t()> now_unix_s;  // default: the system clock
};

class MonitorDaemon {
 public:
  MonitorDaemon(std::shared_ptr<kube::KubeClient> client, MonitorDaemonOptions options);
  ~MonitorDaemon();
  MonitorDaemon(const MonitorDaemon&) = delete;
  MonitorDaemon& operator=(const MonitorDaemon&) = delete;

  // Starts the pod informer, the metrics server and the round loop. Failure: kInvalidArgument
  // without a node name, kUnavailable when the metrics address cannot be bound.
  Status Start();
  void Stop();

  int metrics_port() const { return metrics_port_; }
  // One round (the loop runs one every round_period, the first as soon as the pod list has
  // arrived; tests call it directly). Rounds never overlap. Returns false when
  // the pod list has not been received yet (nothing scanned).
  bool RunRound();
  // What /metrics answers.
  Result<std::string> RenderMetrics();
  uint64_t rounds() const { return rounds_.load(); }
  size_t open_regions() const { return regions_.size(); }

 private:
  void Loop();
  std::vector<HostDeviceReading> ReadHosts();
  // The MIG devices that exist on the node's GPUs (NVML), for hami_node_gpu_mig_instance_info;
  // empty when NVML is not open or cannot list the GPUs (ReadHosts reports that).
  std::vector<NodeMigInstanceReading> ReadNodeMigs();
  int64_t Now() const;
  void ReportOnce(const std::string& key, const std::string& message);
  using PodsByUid = std::map<std::string, std::shared_ptr<const nlohmann::json>>;
  // The round's limit check and its change-only logging. Caller holds round_mu_.
  void CheckRegionLimits(const std::vector<OpenRegion>& open, const PodsByUid& pods);

  std::shared_ptr<kube::KubeClient> client_;
  MonitorDaemonOptions options_;
  std::unique_ptr<kube::Informer> pods_;
  RegionSet regions_;
  std::mutex nvml_mu_;
  std::unique_ptr<nvml::Nvml> nvml_;  // GUARDED_BY(nvml_mu_); null until it opens
  std::mutex report_mu_;
  std::map<std::string, std::string> reported_;  // key -> last message; GUARDED_BY(report_mu_)
  std::mutex round_mu_;                          // one round at a time
  std::set<std::string> scan_problems_;          // last round's; GUARDED_BY(round_mu_)
  struct LimitFinding {
    std::string subject;  // who and which limit, for the line saying it agrees again
    std::string line;     // the warning logged
  };
  // Last round's limit findings by (region dir, "" for an unreadable allocation or the
  // mismatch's subject). GUARDED_BY(round_mu_)
  std::map<std::pair<std::string, std::string>, LimitFinding> limit_findings_;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
  int metrics_port_ = -1;
  std::atomic<uint64_t> rounds_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread loop_;
};

// The pod fields the monitor reads, everything else dropped (the informer's transform):
// metadata name/namespace/uid/resourceVersion, the hami.io/vgpu-mig-allocations and
// hami.io/vgpu-devices-allocated annotations, and the names of the init containers and
// containers (the allocation groups are in that order).
void TrimPodForMonitor(nlohmann::json& pod);

// The MIG devices the pods' hami.io/vgpu-mig-allocations annotations give their containers (only
// entries the device plugin completed with runtime ids; a malformed annotation is skipped).
std::vector<MigDeviceReading> MigReadingsFromPods(
    const std::vector<std::shared_ptr<const nlohmann::json>>& pods);

}  // namespace hami::monitor
