// hami-monitor: per-container GPU usage from the shared regions, host GPU metrics, and the
// priority feedback loop (spec §6; docs/monitor.md). Flags and env follow HAMi's vGPU monitor; an
// env var, when set, wins over the flag's default.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "common/duration.h"
#include "common/env.h"
#include "common/guarded_main.h"
#include "common/http_endpoint.h"
#include "kube/daemon_main.h"
#include "monitor/daemon.h"

namespace {

// A positive Go duration ("5m", "30s") in milliseconds; errors name the flag.
hami::Result<std::chrono::milliseconds> PositiveDuration(const std::string& flag,
                                                         const std::string& text) {
  auto parsed = hami::ParsePositiveGoDuration(text);
  if (!parsed.ok()) {
    return hami::Status(hami::StatusCode::kInvalidArgument,
                        flag + ": " + parsed.status().message());
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
}

int Run(int argc, char** argv) {
  CLI::App app{"hami-monitor: per-container vGPU metrics and priority feedback for HAMi nodes"};
  hami::monitor::MonitorDaemonOptions options;
  std::string kubeconfig;
  std::string metrics_bind = ":9394";
  std::string resync = hami::EnvOr("HAMI_RESYNC_INTERVAL", "5m");
  std::string feedback = "5s";
  bool debug = false;
  options.node_name = hami::EnvOr("NODE_NAME", "");
  options.hook_path = hami::EnvOr("HOOK_PATH", "/usr/local/vgpu");
  app.add_option("--node-name", options.node_name, "this node (env NODE_NAME)");
  app.add_option("--hook-path", options.hook_path,
                 "directory holding containers/<podUID>_<container>/ (env HOOK_PATH)")
      ->capture_default_str();
  app.add_option("--metrics-bind-address", metrics_bind, "address of /metrics")
      ->capture_default_str();
  app.add_flag("--legacy-metrics", options.exposition.legacy,
               "also export HAMi's pre-2.5 metric names");
  app.add_option("--resync-interval", resync,
                 "grace before a gone pod's directory is removed (env HAMI_RESYNC_INTERVAL)")
      ->capture_default_str();
  app.add_option("--feedback-interval", feedback, "period of the scan and priority feedback")
      ->capture_default_str();
  app.add_option("--nvml-library", options.nvml_library)->capture_default_str();
  app.add_option("--kubeconfig", kubeconfig,
                 "kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  app.add_flag("--debug", debug, "verbose logs");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(debug ? spdlog::level::debug : spdlog::level::info);

  auto bind = hami::ParseBindAddress(metrics_bind);
  auto grace = PositiveDuration("--resync-interval", resync);
  auto period = PositiveDuration("--feedback-interval", feedback);
  for (const hami::Status& s : {bind.status(), grace.status(), period.status()}) {
    if (!s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 2;
    }
  }
  if (options.node_name.empty()) {
    std::cerr << "error: no node name (--node-name or env NODE_NAME)\n";
    return 2;
  }
  options.metrics_host = bind->first;
  options.metrics_port = bind->second;
  options.stale_grace_s = std::chrono::duration_cast<std::chrono::seconds>(*grace).count();
  options.round_period = *period;
  return hami::kube::RunDaemonUntilTerminated<hami::monitor::MonitorDaemon>(kubeconfig,
                                                                            std::move(options));
}

}  // namespace

int main(int argc, char** argv) { return hami::GuardedMain(Run, argc, argv); }
