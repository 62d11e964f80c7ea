// hami-scheduler assembled: watch caches for pods and nodes feeding the usage ledger, the
// periodic registration pass (device registration, handshake), leadership, and the HTTP
// front. cmd/hami-scheduler only parses flags and runs this.
// Thread-safe for Start/Stop from one controlling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/http_endpoint.h"
#include "device/config.h"
#include "device/vendor.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "policy/score.h"
#include "scheduler/binder.h"
#include "scheduler/filter.h"
#include "scheduler/http_server.h"
#include "scheduler/leader.h"
#include "scheduler/ledger.h"
#include "scheduler/metrics.h"
#include "scheduler/node_health.h"
#include "scheduler/quota.h"
#include "scheduler/ui_server.h"
#include "scheduler/ui_usage.h"

namespace hami::scheduler {

struct DaemonOptions {
  std::string http_host = "127.0.0.1";
  int http_port = 8080;  // 0 = ephemeral (tests)
  // Prometheus /metrics listener (plain HTTP); port -1 = disabled, 0 = ephemeral (tests).
  std::string metrics_host = "0.0.0.0";
  int metrics_port = -1;
  std::string cert_file, key_file;
  std::string scheduler_name = "hami-scheduler";
  bool force_overwrite_default_scheduler = true;
  bool prefer_idle_nodes = true;  // rank nodes with an allocation in flight last
  // --mig-unannotated-pods allow: pods without nvidia.com/vgpu-mode may land on GPUs in MIG
  // mode (HAMi's rule; FilterCore::set_mig_unannotated_pods_allowed). Default: refuse.
  bool mig_unannotated_pods_allowed = false;
  policy::NodePolicy node_policy = policy::NodePolicy::kBinpack;
  policy::GpuPolicy gpu_policy;  // spread
  // hami-frag's learned workload (policy::OnlineWorkloadOptions::half_life_pods).
  double frag_workload_half_life_pods = 5000;
  std::string node_label_selector;
  int64_t node_lock_timeout_seconds = 300;
  // How long /bind waits for a node lock held by another pod being allocated (BindOptions).
  std::chrono::milliseconds node_lock_wait{20000};
  // The same for PodGroup members (BindOptions::pod_group_lock_wait; HAMi's
  // --node-lock-retry-timeout).
  std::chrono::milliseconds node_lock_retry_timeout{28000};
  bool leader_elect = false;
  std::string lease_namespace = "kube-system";
  std::string lease_name = "kube-scheduler";
  std::string identity;  // this pod's name (kube-scheduler's identity prefix)
  DeviceConfig device_config = DefaultDeviceConfig();
  std::chrono::milliseconds registration_period{15000};
  // How often the kube-scheduler Lease is read; /filter also reads it at once when it finds
  // this replica not the leader, so a new leader is seen within a request.
  std::chrono::milliseconds leader_poll_period{500};
  // How long /filter waits for the first sync and for leadership before failing (ServerHooks).
  std::chrono::milliseconds filter_wait{10000};
  // A decision /filter made whose /bind never came is dropped after this long (kube-scheduler
  // failed the pod in a later plugin, or died). Volume binding may delay a bind up to 10 min.
  std::chrono::seconds unbound_decision_ttl{600};
  // Fault injection for tests (HAMI_FAULT_KILL_AT_BIND_STEP): SIGKILL this process right after
  // that bind step ("locked" or "bound"). Empty = off.
  std::string kill_at_bind_step;
  int32_t utc_offset_seconds = 0;
  // The Web UI (ui_server.h, docs/web-ui.md): its own plain-HTTP listener; port -1 = off (the
  // default), 0 = ephemeral (tests).
  std::string ui_host = "0.0.0.0";
  int ui_port = -1;
  // Prometheus base URL for live usage; empty = none (the UI shows allocation only).
  std::string ui_prometheus_url;
  // How many /filter decisions the UI keeps (pending-pod diagnosis).
  size_t ui_decisions = 1000;
  std::string version = "dev";  // shown by the UI
};

class SchedulerDaemon {
 public:
  // Failure of construction is reported by Start() (e.g. an unusable device config).
  SchedulerDaemon(std::shared_ptr<kube::KubeClient> client, DaemonOptions options);
  ~SchedulerDaemon();

  // Starts watches, the registration loop, leadership and the HTTP server; returns once the
  // server listens (not once synced). Failure: bad config, port in use.
  Status Start();
  void Stop();

  int port() const { return port_; }
  // The bound /metrics port; -1 when disabled or not started.
  int metrics_port() const { return metrics_port_; }
  // The bound Web UI port; -1 when disabled or not started.
  int ui_port() const { return ui_port_; }
  bool Synced() const;
  bool IsLeader() const;
  UsageLedger& ledger() { return ledger_; }
  // One registration pass over the cached nodes (what the loop runs every period); as the
  // leader it also releases node locks nobody may hold any more and drops decisions whose bind
  // never came.
  void RegistrationPass();

 private:
  void OnNode(const nlohmann::json& node);
  void ReleaseOrphanedLocks();
  // Once per transition to ready (synced and leader): un-parks the pods kube-scheduler gave up
  // on while this replica could not answer (requeue.h).
  void RequeueParkedPodsOnReady();
  Status StartMetricsServer();
  Status StartQuotaWatch();
  Status StartUiServer();

  std::shared_ptr<kube::KubeClient> client_;
  DaemonOptions options_;
  std::unique_ptr<VendorRegistry> registry_;
  UsageLedger ledger_;
  std::mutex tracker_mu_;
  AllocatableTracker tracker_;  // GUARDED_BY(tracker_mu_)
  // "<node>/<vendor>" -> the registration error last reported, so a malformed registration is
  // logged and raised as an Event once per distinct message, not on every registration pass.
  std::map<std::string, std::string> reported_registration_errors_;  // GUARDED_BY(tracker_mu_)
  std::unique_ptr<kube::Informer> pods_, nodes_;
  std::unique_ptr<QuotaTracker> quota_;
  std::unique_ptr<kube::Informer> quotas_;  // ResourceQuotas feeding quota_
  std::unique_ptr<FilterCore> filter_;
  std::unique_ptr<Binder> binder_;
  std::unique_ptr<LeaderWatcher> leader_;
  std::unique_ptr<ExtenderServer> server_;
  SchedulerMetrics metrics_;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
  int metrics_port_ = -1;
  std::unique_ptr<DecisionLog> decisions_;
  std::unique_ptr<UsageSource> usage_;
  std::unique_ptr<UiServer> ui_;
  int ui_port_ = -1;
  std::atomic<bool> registered_once_{false};
  std::atomic<bool> requeued_since_ready_{false};
  int port_ = -1;
  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;   // GUARDED_BY(loop_mu_)
  bool wake_loop_ = false;  // GUARDED_BY(loop_mu_): run a pass now (leadership changed)
  std::thread loop_;
};

}  // namespace hami::scheduler
