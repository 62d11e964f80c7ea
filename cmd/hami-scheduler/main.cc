// hami-scheduler: kube-scheduler extender (/filter, /bind) and mutating webhook (/webhook).
// Flags follow HAMi's scheduler (docs: ../../docs/scheduler.md).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "common/duration.h"
#include "common/env.h"
#include "common/guarded_main.h"
#include "common/http_endpoint.h"
#include "device/config.h"
#include "kube/daemon_main.h"
#include "scheduler/daemon.h"

namespace {

std::string Hostname() {
  if (std::string pod = hami::EnvOr("POD_NAME", ""); !pod.empty()) return pod;
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) == 0) return buffer;
  return "";
}

int Run(int argc, char** argv) {
  CLI::App app{"hami-scheduler: kube-scheduler extender and webhook for shared accelerators"};
  std::string http_bind = "127.0.0.1:8080", cert_file, key_file, scheduler_name = "hami-scheduler";
  std::string node_policy = "binpack", gpu_policy = "spread", node_label_selector;
  std::string lock_timeout = "5m", device_config_file, kubeconfig, lease_name = "kube-scheduler";
  std::string lease_namespace = "kube-system", metrics_bind = ":9395", filter_wait = "10s";
  std::string lock_wait = "20s", lock_retry_timeout = "28s", mig_unannotated = "refuse";
  bool leader_elect = false, force_overwrite = true, prefer_idle_nodes = true, debug = false;
  bool enable_iluvatar = false, enable_ascend = false;
  std::string ui_bind, ui_prometheus_url;
  int64_t ui_decisions = 1000;
  app.add_option("--http_bind", http_bind, "host:port of the extender and webhook")
      ->capture_default_str();
  app.add_option("--metrics-bind-address", metrics_bind,
                 "host:port of the Prometheus /metrics listener (empty host: all addresses; "
                 "empty value: disabled)")
      ->capture_default_str();
  app.add_option("--cert_file", cert_file, "TLS certificate (with --key_file: serve HTTPS)");
  app.add_option("--key_file", key_file, "TLS private key");
  app.add_option("--scheduler-name", scheduler_name,
                 "schedulerName set on pods that use shared devices")
      ->capture_default_str();
  app.add_option("--node-scheduler-policy", node_policy,
                 "binpack, spread or hami-frag (fragmentation-aware; default also settable in "
                 "the device config's scheduler section)")
      ->capture_default_str();
  app.add_option("--gpu-scheduler-policy", gpu_policy,
                 "binpack, spread, or a chain such as binpack,numa")
      ->capture_default_str();
  app.add_option("--mig-unannotated-pods", mig_unannotated,
                 "refuse: a GPU in MIG mode serves only pods annotated nvidia.com/vgpu-mode: mig; "
                 "allow: also pods without that annotation (HAMi's rule, for static-MIG clusters "
                 "whose pods carry none)")
      ->check(CLI::IsMember({"refuse", "allow"}))
      ->capture_default_str();
  app.add_option("--node-label-selector", node_label_selector,
                 "only nodes matching this label selector");
  app.add_option("--node-lock-timeout", lock_timeout, "Go duration after which a node lock expires")
      ->capture_default_str();
  app.add_option("--device-config-file", device_config_file,
                 "device config YAML (default: built-in)");
  app.add_flag("--enable-iluvatar", enable_iluvatar,
               "schedule the device config's iluvatars chips (HAMi's flag)");
  app.add_flag("--enable-ascend", enable_ascend,
               "schedule the device config's vnpus (Ascend) chips (HAMi's flag)");
  app.add_option("--kubeconfig", kubeconfig,
                 "kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  app.add_flag("--leader-elect", leader_elect,
               "answer only while this pod's kube-scheduler holds the Lease");
  app.add_option("--leader-elect-resource-name", lease_name)->capture_default_str();
  app.add_option("--leader-elect-resource-namespace", lease_namespace)->capture_default_str();
  app.add_option("--force-overwrite-default-scheduler", force_overwrite,
                 "take GPU pods that name default-scheduler")
      ->capture_default_str();
  app.add_option("--prefer-idle-nodes", prefer_idle_nodes,
                 "rank nodes where a pod is still being bound or allocated last (false: as HAMi)")
      ->capture_default_str();
  app.add_option("--filter-wait-timeout", filter_wait,
                 "Go duration /filter waits for the first sync and for leadership before it "
                 "fails (keep below kube-scheduler's extender httpTimeout)")
      ->capture_default_str();
  app.add_option("--node-lock-wait", lock_wait,
                 "Go duration /bind waits for a node lock held by another pod being allocated "
                 "before it fails (0s: at once; keep below the extender httpTimeout)")
      ->capture_default_str();
  app.add_option("--node-lock-retry-timeout", lock_retry_timeout,
                 "Go duration /bind waits for a node lock when the pod belongs to a PodGroup "
                 "(scheduling.x-k8s.io/pod-group, Volcano's scheduling.k8s.io/group-name): its "
                 "fellow members are bound at the same time (keep below the extender "
                 "httpTimeout)")
      ->capture_default_str();
  app.add_option("--ui-bind-address", ui_bind,
                 "host:port of the read-only Web UI and its JSON API (plain HTTP, no login: put "
                 "it behind an authenticating proxy; empty: disabled)")
      ->capture_default_str();
  app.add_option("--ui-prometheus-url", ui_prometheus_url,
                 "Prometheus base URL the Web UI reads live usage from (hami-monitor's metrics; "
                 "empty: allocation only)")
      ->capture_default_str();
  app.add_option("--ui-decisions", ui_decisions,
                 "how many of the last /filter decisions the Web UI keeps for pending-pod "
                 "diagnosis")
      ->capture_default_str();
  app.add_flag("--debug", debug, "verbose logs");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(debug ? spdlog::level::debug : spdlog::level::info);

  hami::scheduler::DaemonOptions options;
  const size_t colon = http_bind.rfind(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no port");
    options.http_host = http_bind.substr(0, colon);
    options.http_port = std::stoi(http_bind.substr(colon + 1));
  } catch (const std::exception&) {
    std::cerr << "error: --http_bind " << http_bind << " is not host:port\n";
    return 2;
  }
  if (!metrics_bind.empty()) {
    auto bind = hami::ParseBindAddress(metrics_bind);
    if (!bind.ok()) {
      std::cerr << "error: --metrics-bind-address: " << bind.status().message() << "\n";
      return 2;
    }
    options.metrics_host = bind->first;
    options.metrics_port = bind->second;
  }
  if (!ui_bind.empty()) {
    auto bind = hami::ParseBindAddress(ui_bind);
    if (!bind.ok()) {
      std::cerr << "error: --ui-bind-address: " << bind.status().message() << "\n";
      return 2;
    }
    options.ui_host = bind->first.empty() ? "0.0.0.0" : bind->first;
    options.ui_port = bind->second;
  }
  if (ui_decisions < 1 || ui_decisions > 1000000) {
    std::cerr << "error: --ui-decisions: must be from 1 to 1000000\n";
    return 2;
  }
  options.ui_decisions = static_cast<size_t>(ui_decisions);
  options.ui_prometheus_url = ui_prometheus_url;
#ifdef HAMI_VERSION
  options.version = HAMI_VERSION;
#endif
  options.cert_file = cert_file;
  options.key_file = key_file;
  options.scheduler_name = scheduler_name;
  options.force_overwrite_default_scheduler = force_overwrite;
  options.prefer_idle_nodes = prefer_idle_nodes;
  options.mig_unannotated_pods_allowed = mig_unannotated == "allow";
  options.node_label_selector = node_label_selector;
  lock_timeout = hami::EnvOr("HAMI_NODELOCK_EXPIRE", lock_timeout);
  auto timeout = hami::ParsePositiveGoDuration(lock_timeout);
  if (!timeout.ok()) {
    std::cerr << "error: node lock timeout: " << timeout.status().message() << "\n";
    return 2;
  }
  options.node_lock_timeout_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(*timeout).count();
  auto wait = hami::ParsePositiveGoDuration(filter_wait);
  if (!wait.ok()) {
    std::cerr << "error: --filter-wait-timeout: " << wait.status().message() << "\n";
    return 2;
  }
  options.filter_wait = std::chrono::duration_cast<std::chrono::milliseconds>(*wait);
  auto bind_wait = hami::ParseGoDuration(lock_wait);
  if (!bind_wait.ok() || bind_wait->count() < 0) {
    std::cerr << "error: --node-lock-wait: "
              << (bind_wait.ok() ? "must not be negative" : bind_wait.status().message()) << "\n";
    return 2;
  }
  options.node_lock_wait = std::chrono::duration_cast<std::chrono::milliseconds>(*bind_wait);
  auto retry_timeout = hami::ParseGoDuration(lock_retry_timeout);
  if (!retry_timeout.ok()) {
    std::cerr << "error: --node-lock-retry-timeout: " << retry_timeout.status().message() << "\n";
    return 2;
  }
  options.node_lock_retry_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(*retry_timeout);
  // Fault injection for the end-to-end tests (tests/e2e): never set in a deployment.
  options.kill_at_bind_step = hami::EnvOr("HAMI_FAULT_KILL_AT_BIND_STEP", "");
  if (!options.kill_at_bind_step.empty() && options.kill_at_bind_step != "locked" &&
      options.kill_at_bind_step != "bound") {
    std::cerr << "error: HAMI_FAULT_KILL_AT_BIND_STEP must be locked or bound\n";
    return 2;
  }
  if (!device_config_file.empty()) {
    auto config = hami::LoadDeviceConfigFile(device_config_file);
    if (!config.ok()) {
      std::cerr << "error: " << config.status().message() << "\n";
      return 2;
    }
    options.device_config = std::move(*config);
  }
  options.device_config.enable_iluvatar = enable_iluvatar;
  options.device_config.enable_ascend = enable_ascend;
  // Policies: an explicit flag, else the device config's scheduler section, else the default.
  if (const auto& sc = options.device_config.scheduler) {
    if (app.count("--node-scheduler-policy") == 0 && !sc->node_scheduler_policy.empty()) {
      node_policy = sc->node_scheduler_policy;
    }
    if (app.count("--gpu-scheduler-policy") == 0 && !sc->gpu_scheduler_policy.empty()) {
      gpu_policy = sc->gpu_scheduler_policy;
    }
    options.frag_workload_half_life_pods = sc->frag_workload_half_life_pods;
  }
  auto parsed_node = hami::policy::ParseNodePolicy(node_policy);
  auto parsed_gpu = hami::policy::ParseGpuPolicy(gpu_policy);
  if (!parsed_node.ok() || !parsed_gpu.ok()) {
    std::cerr << "error: "
              << (!parsed_node.ok() ? parsed_node.status() : parsed_gpu.status()).message() << "\n";
    return 2;
  }
  options.node_policy = *parsed_node;
  options.gpu_policy = *parsed_gpu;
  spdlog::info("policies node={} gpu={}", node_policy, gpu_policy);
  options.leader_elect = leader_elect;
  options.lease_name = lease_name;
  options.lease_namespace = lease_namespace;
  options.identity = Hostname();

  return hami::kube::RunDaemonUntilTerminated<hami::scheduler::SchedulerDaemon>(kubeconfig,
                                                                                std::move(options));
}

}  // namespace

int main(int argc, char** argv) { return hami::GuardedMain(Run, argc, argv); }
