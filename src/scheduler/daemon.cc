#include "scheduler/daemon.h"

#include <spdlog/spdlog.h>

#include <csignal>

#include "common/clock.h"
#include "device/annotations.h"
#include "kube/curl_transport.h"
#include "kube/objects.h"
#include "kube/paths.h"
#include "policy/scheduler_policy.h"
#include "scheduler/requeue.h"
#include "scheduler/state_sync.h"

namespace hami::scheduler {

SchedulerDaemon::SchedulerDaemon(std::shared_ptr<kube::KubeClient> client, DaemonOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

SchedulerDaemon::~SchedulerDaemon() { Stop(); }

bool SchedulerDaemon::Synced() const {
  return pods_ && nodes_ && pods_->HasSynced() && nodes_->HasSynced() && registered_once_.load() &&
         (!quotas_ || quotas_->HasSynced());
}

bool SchedulerDaemon::IsLeader() const {
  return !options_.leader_elect || (leader_ && leader_->IsLeader());
}

void SchedulerDaemon::OnNode(const nlohmann::json& node) {
  NodeActions actions;
  const kube::NodeView view(node);
  const std::string node_name(view.Name());
  std::vector<std::pair<std::string, std::string>> new_errors;  // vendor, message
  {
    std::lock_guard<std::mutex> lock(tracker_mu_);
    actions = ApplyNode(*registry_, ledger_, tracker_, node, UnixNowSeconds(),
                        options_.utc_offset_seconds);
    for (const Vendor* vendor : registry_->Vendors()) {
      const std::string vendor_key(vendor->CommonWord());
      const std::string key = node_name + "/" + vendor_key;
      auto error = actions.registration_errors.find(vendor_key);
      if (error == actions.registration_errors.end()) {
        reported_registration_errors_.erase(key);
        continue;
      }
      auto [it, inserted] = reported_registration_errors_.try_emplace(key, error->second);
      if (!inserted && it->second == error->second) continue;
      it->second = error->second;
      new_errors.emplace_back(vendor_key, error->second);
    }
  }
  for (const std::string& line : actions.log) spdlog::warn("registration {}", line);
  for (const auto& [vendor_key, message] : new_errors) {
    spdlog::warn("registration node={} vendor={} error=\"{}\" (its {} devices are dropped)",
                 node_name, vendor_key, message, vendor_key);
    if (!IsLeader()) continue;
    kube::EventSpec event;
    event.involved_kind = "Node";
    event.involved_name = node_name;
    event.involved_uid = std::string(view.Uid());
    event.type = "Warning";
    event.reason = "InvalidDeviceRegistration";
    event.message = vendor_key + " devices ignored: " + message;
    (void)client_->CreateEvent(event);  // best effort, like every Event
  }
  // Only the leader talks to the device plugins; followers keep their ledger warm.
  if (actions.handshake_writes.empty() || !IsLeader()) return;
  std::map<std::string, std::optional<std::string>> writes(actions.handshake_writes.begin(),
                                                           actions.handshake_writes.end());
  auto patched = client_->MergePatch(kube::NodePath(view.Name()), kube::AnnotationsPatch(writes));
  if (!patched.ok()) {
    spdlog::warn("handshake node={} error=\"{}\"", view.Name(), patched.status().message());
  }
}

void SchedulerDaemon::RegistrationPass() {
  if (!nodes_) return;
  for (const kube::Informer::ObjectPtr& node : nodes_->Snapshot()) OnNode(*node);
  registered_once_ = nodes_->HasSynced();
  RequeueParkedPodsOnReady();
  if (!IsLeader()) return;
  ReleaseOrphanedLocks();
  const int64_t cutoff = UnixNowSeconds() - options_.unbound_decision_ttl.count();
  for (const PodAllocation& dropped : ledger_.DropUnwrittenDecisions(cutoff)) {
    spdlog::info("decision dropped pod={}/{} node={} reason=\"no bind within {}s\"", dropped.ns,
                 dropped.name, dropped.node, options_.unbound_decision_ttl.count());
  }
}

void SchedulerDaemon::RequeueParkedPodsOnReady() {
  if (!Synced() || !IsLeader() || !pods_->HasSynced()) {
    requeued_since_ready_ = false;
    return;
  }
  if (requeued_since_ready_.exchange(true)) return;
  const int stamped =
      RequeueParkedPods(*client_, pods_->Snapshot(), options_.scheduler_name, UnixNowSeconds());
  if (stamped > 0) {
    spdlog::info("requeued pods={} reason=\"kube-scheduler parked them after an extender error\"",
                 stamped);
  }
}

void SchedulerDaemon::ReleaseOrphanedLocks() {
  // A lock left by a scheduler killed mid-bind, or by a pod filtered again onto another node,
  // would refuse every bind on its node until it expires (5 min): release it as soon as its
  // owner is seen not to be allocating there.
  for (const kube::Informer::ObjectPtr& node : nodes_->Snapshot()) {
    const kube::NodeView view(*node);
    if (!view.Annotation(kNodeLockAnnotation)) continue;
    const std::string name(view.Name());
    auto released = binder_->locker().ReleaseIfOrphaned(name);
    if (!released.ok()) {
      spdlog::warn("node lock node={} error=\"{}\"", name, released.status().message());
    } else if (!released->empty()) {
      spdlog::info("node lock released node={} reason=\"{}\"", name, *released);
    }
  }
}

Status SchedulerDaemon::StartMetricsServer() {
  if (options_.metrics_port < 0) return Status::Ok();
  metrics_endpoint_ = std::make_unique<MetricsEndpoint>(
      [this]() -> Result<std::string> { return metrics_.Render(ledger_, quota_.get()); });
  HAMI_ASSIGN_OR_RETURN(metrics_port_,
                        metrics_endpoint_->Start(options_.metrics_host, options_.metrics_port));
  spdlog::info("hami-scheduler metrics port={}", metrics_port_);
  return Status::Ok();
}

Status SchedulerDaemon::StartUiServer() {
  if (options_.ui_port < 0) return Status::Ok();
  if (!options_.ui_prometheus_url.empty()) {
    kube::ClusterConfig config;  // plain HTTP, or HTTPS with the system's CAs
    config.server = options_.ui_prometheus_url;
    PrometheusUsageOptions usage_options;
    usage_options.base_url = options_.ui_prometheus_url;
    usage_ = std::make_unique<PrometheusUsage>(std::make_shared<kube::CurlTransport>(config),
                                               usage_options);
  }
  UiSources sources;
  sources.registry = registry_.get();
  sources.ledger = &ledger_;
  sources.decisions = decisions_.get();
  sources.quota = quota_.get();
  sources.usage = usage_.get();
  sources.is_synced = [this] { return Synced(); };
  sources.is_leader = [this] { return IsLeader(); };
  sources.version = options_.version;
  ui_ = std::make_unique<UiServer>(std::move(sources));
  HAMI_ASSIGN_OR_RETURN(ui_port_, ui_->Start(options_.ui_host, options_.ui_port));
  spdlog::info("hami-scheduler web ui port={} prometheus={}", ui_port_,
               options_.ui_prometheus_url.empty() ? "none" : options_.ui_prometheus_url);
  return Status::Ok();
}

Status SchedulerDaemon::StartQuotaWatch() {
  // ResourceQuotas on device memory and cores (quota.h): /filter and the webhook enforce them,
  // and /filter waits for their first list (Synced), so a restart never decides without them.
  quota_ = std::make_unique<QuotaTracker>(*registry_);
  if (quota_->managed().empty()) return Status::Ok();
  kube::InformerOptions options;
  options.path = kube::ResourceQuotasPath("");
  quotas_ = std::make_unique<kube::Informer>(client_, options);
  auto apply = [this](const nlohmann::json& quota) {
    auto applied = quota_->Apply(quota);
    if (!applied.ok()) {
      spdlog::warn("resourcequota {} error=\"{}\"", kube::ObjectKey(quota),
                   applied.status().message());
      return;
    }
    for (const std::string& line : *applied) spdlog::warn("{}", line);
  };
  return quotas_->AddHandlers(kube::InformerHandlers{
      apply, [apply](const nlohmann::json&, const nlohmann::json& quota) { apply(quota); },
      [this](const nlohmann::json& quota) { quota_->Remove(quota); }});
}

Status SchedulerDaemon::Start() {
  auto registry = MakeVendorRegistry(options_.device_config);
  if (!registry.ok()) return registry.status();
  registry_ = std::make_unique<VendorRegistry>(std::move(*registry));

  kube::InformerOptions pod_options;
  pod_options.path = kube::PodsPath("");
  pod_options.transform = [this](nlohmann::json& pod) { TrimPodForCache(*registry_, pod); };
  pods_ = std::make_unique<kube::Informer>(client_, pod_options);
  auto apply_pod = [this](const nlohmann::json& pod) {
    Status s = ApplyPod(*registry_, ledger_, pod);
    if (!s.ok()) spdlog::warn("pod {} error=\"{}\"", kube::ObjectKey(pod), s.message());
  };
  HAMI_RETURN_IF_ERROR(pods_->AddHandlers(kube::InformerHandlers{
      apply_pod, [apply_pod](const nlohmann::json&, const nlohmann::json& pod) { apply_pod(pod); },
      [this](const nlohmann::json& pod) { ApplyPodDeleted(ledger_, pod); }}));

  kube::InformerOptions node_options;
  node_options.path = kube::NodesPath();
  node_options.label_selector = options_.node_label_selector;
  node_options.transform = TrimNodeForCache;
  nodes_ = std::make_unique<kube::Informer>(client_, node_options);
  HAMI_RETURN_IF_ERROR(nodes_->AddHandlers(kube::InformerHandlers{
      [this](const nlohmann::json& node) { OnNode(node); },
      [this](const nlohmann::json&, const nlohmann::json& node) { OnNode(node); },
      [this](const nlohmann::json& node) {
        std::lock_guard<std::mutex> lock(tracker_mu_);
        ApplyNodeDeleted(*registry_, ledger_, tracker_, node);
        const std::string prefix = std::string(kube::NodeView(node).Name()) + "/";
        std::erase_if(reported_registration_errors_,
                      [&](const auto& entry) { return entry.first.starts_with(prefix); });
      }}));

  policy::SchedulerPolicyOptions policy_options;
  policy_options.node_policy = options_.node_policy;
  policy_options.gpu_policy = options_.gpu_policy;
  policy_options.workload.half_life_pods = options_.frag_workload_half_life_pods;
  auto policy = std::make_unique<policy::SchedulerPolicy>(std::move(policy_options));
  filter_ = std::make_unique<FilterCore>(*registry_, ledger_, std::move(policy));
  filter_->set_prefer_idle_nodes(options_.prefer_idle_nodes);
  filter_->set_mig_unannotated_pods_allowed(options_.mig_unannotated_pods_allowed);
  HAMI_RETURN_IF_ERROR(StartQuotaWatch());
  filter_->set_quota(quota_.get());
  BindOptions bind_options;
  bind_options.lock.timeout_seconds = options_.node_lock_timeout_seconds;
  bind_options.lock_wait = options_.node_lock_wait;
  bind_options.pod_group_lock_wait = options_.node_lock_retry_timeout;
  bind_options.lock.utc_offset_seconds = options_.utc_offset_seconds;
  bind_options.cached_pod = [this](const std::string& ns, const std::string& name) {
    return pods_->Get(ns + "/" + name);
  };
  bind_options.lock.cached_node = [this](const std::string& name) { return nodes_->Get(name); };
  bind_options.lock.cached_pod = bind_options.cached_pod;
  if (!options_.kill_at_bind_step.empty()) {
    bind_options.after_step = [step = options_.kill_at_bind_step](std::string_view reached) {
      if (reached != step) return;
      spdlog::critical("fault injection: killing hami-scheduler after bind step {}", step);
      spdlog::default_logger()->flush();
      ::raise(SIGKILL);
    };
  }
  binder_ = std::make_unique<Binder>(*client_, *registry_, ledger_, bind_options, UnixNowSeconds);
  if (options_.leader_elect) {
    leader_ = std::make_unique<LeaderWatcher>(*client_, options_.lease_namespace,
                                              options_.lease_name, options_.identity,
                                              options_.leader_poll_period, [this](bool leader) {
                                                spdlog::info("leadership leader={}", leader);
                                                // May run on a /filter thread (recheck_leader):
                                                // leave the API writes of a new leader (requeue,
                                                // lock sweep, handshakes) to the loop.
                                                {
                                                  std::lock_guard<std::mutex> lock(loop_mu_);
                                                  wake_loop_ = true;
                                                }
                                                loop_cv_.notify_all();
                                              });
  }

  ServerHooks hooks;
  hooks.is_leader = [this] { return IsLeader(); };
  hooks.is_synced = [this] { return Synced(); };
  hooks.filter_wait = options_.filter_wait;
  if (leader_) hooks.recheck_leader = [this] { leader_->PollOnce(); };
  hooks.metrics = &metrics_;
  if (options_.ui_port >= 0) {
    decisions_ = std::make_unique<DecisionLog>(options_.ui_decisions);
    hooks.decisions = decisions_.get();
  }
  hooks.webhook_config = [this] {
    WebhookConfig config;
    config.scheduler_name = options_.scheduler_name;
    config.force_overwrite_default_scheduler = options_.force_overwrite_default_scheduler;
    // Non-owning: the registry lives as long as the daemon, which outlives its server.
    config.vendors =
        std::shared_ptr<const VendorRegistry>(std::shared_ptr<void>(), registry_.get());
    config.max_device_memory_mib = ledger_.MaxDeviceMemoryMib();
    config.check_quota = [this](const std::string& ns, const QuotaAmounts& requested) {
      return quota_->Check(ledger_, ns, requested);
    };
    return config;
  };
  server_ = std::make_unique<ExtenderServer>(*filter_, *binder_, hooks, options_.cert_file,
                                             options_.key_file);
  auto port = server_->Start(options_.http_host, options_.http_port);
  if (!port.ok()) return port.status();
  port_ = *port;
  HAMI_RETURN_IF_ERROR(StartMetricsServer());
  HAMI_RETURN_IF_ERROR(StartUiServer());

  pods_->Start();
  nodes_->Start();
  if (quotas_) quotas_->Start();
  if (leader_) leader_->Start();
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    stopping_ = false;
  }
  loop_ = std::thread([this] {
    std::unique_lock<std::mutex> guard(loop_mu_);
    while (!stopping_) {
      guard.unlock();
      if (nodes_->HasSynced()) RegistrationPass();
      guard.lock();
      // Poll quickly until the first pass over synced caches, then at the registration period.
      const auto wait = Synced() ? options_.registration_period : std::chrono::milliseconds(50);
      loop_cv_.wait_for(guard, wait, [this] { return stopping_ || wake_loop_; });
      wake_loop_ = false;
    }
  });
  spdlog::info("hami-scheduler listening port={} scheduler={}", port_, options_.scheduler_name);
  return Status::Ok();
}

void SchedulerDaemon::Stop() {
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  if (server_) server_->Stop();
  if (metrics_endpoint_) metrics_endpoint_->Stop();
  if (ui_) ui_->Stop();
  if (leader_) leader_->Stop();
  if (pods_) pods_->Stop();
  if (nodes_) nodes_->Stop();
  if (quotas_) quotas_->Stop();
}

}  // namespace hami::scheduler
