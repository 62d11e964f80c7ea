// hami-device-plugin: kubelet device plugin for shared NVIDIA GPUs (spec §5). Flags and env
// follow HAMi's device plugin; an env var, when set, wins over the flag's default.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "common/env.h"
#include "common/guarded_main.h"
#include "common/strings.h"
#include "device/config.h"
#include "deviceplugin/daemon.h"
#include "deviceplugin/device_list.h"
#include "kube/daemon_main.h"

namespace {

int Run(int argc, char** argv) {
  CLI::App app{"hami-device-plugin: kubelet device plugin for shared NVIDIA GPUs"};
  hami::deviceplugin::PluginDaemonOptions options;
  std::string kubeconfig;
  options.node_name = hami::EnvOr("NODE_NAME", "");
  options.allocate.hook_path = hami::EnvOr("HOOK_PATH", "/usr/local");
  int32_t split = 10;
  double memory_scaling = 1.0, core_scaling = 1.0;
  bool disable_core_limit = false, debug = false;
  if (auto v = hami::ParseInt32(hami::EnvOr("DEVICE_SPLIT_COUNT", ""))) split = *v;
  app.add_option("--node-name", options.node_name, "this node (env NODE_NAME)");
  app.add_option("--resource-name", options.resource_name)->capture_default_str();
  app.add_option("--device-split-count", split, "tasks per GPU (env DEVICE_SPLIT_COUNT)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--device-memory-scaling", memory_scaling, "memory oversubscription factor")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 100.0));
  app.add_option("--device-cores-scaling", core_scaling, "core scaling factor")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 100.0));
  app.add_flag("--disable-core-limit", disable_core_limit, "no compute share enforcement");
  app.add_option("--hook-path", options.allocate.hook_path, "where libvgpu lives (env HOOK_PATH)")
      ->capture_default_str();
  std::string device_list = hami::EnvOr("DEVICE_LIST_STRATEGY", "envvar");
  app.add_option("--device-list-strategy", device_list,
                 "how devices reach the runtime, comma list of envvar, volume-mounts, "
                 "cdi-annotations, cdi-cri (env DEVICE_LIST_STRATEGY)")
      ->capture_default_str();
  app.add_option("--kubelet-dir", options.kubelet_dir, "kubelet's device-plugins directory")
      ->capture_default_str();
  app.add_option("--nvml-library", options.nvml_library)->capture_default_str();
  options.node_config_file = "/config/config.json";
  app.add_option("--node-config-file", options.node_config_file,
                 "HAMi's per-node config.json (reloaded on change; absent = flags only)")
      ->capture_default_str();
  std::string device_config_file;
  app.add_option("--device-config-file", device_config_file,
                 "the scheduler's device-config.yaml; its nvidia migProfileAllowlist says which "
                 "MIG profiles a node in operating mode mig offers (absent: the chart's list)");
  app.add_option("--kubeconfig", kubeconfig,
                 "kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  std::string topology_score = hami::EnvOr("ENABLE_TOPOLOGY_SCORE", "false");
  app.add_option("--enable-topology-score", topology_score,
                 "publish the GPU link scores hami.io/node-nvidia-score for the topology-aware "
                 "GPU policy (env ENABLE_TOPOLOGY_SCORE)")
      ->capture_default_str();
  app.add_flag("--debug", debug, "verbose logs");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(debug ? spdlog::level::debug : spdlog::level::info);
  // The flag's range check does not see a value that came from DEVICE_SPLIT_COUNT.
  if (split < 1 || split > 1000) {
    std::cerr << "error: --device-split-count / DEVICE_SPLIT_COUNT " << split
              << " is outside 1..1000\n";
    return 2;
  }
  options.discovery.split_count = split;
  options.discovery.memory_scaling = memory_scaling;
  options.discovery.core_scaling = core_scaling;
  options.allocate.memory_scaling = memory_scaling;
  options.allocate.disable_core_limit = disable_core_limit;
  auto strategies = hami::deviceplugin::ParseDeviceListStrategies(device_list);
  if (!strategies.ok()) {
    std::cerr << "error: --device-list-strategy / DEVICE_LIST_STRATEGY: "
              << strategies.status().message() << "\n";
    return 2;
  }
  options.allocate.device_list = *strategies;
  const std::optional<bool> topology = hami::ParseGoBool(topology_score);
  if (!topology) {
    std::cerr << "error: --enable-topology-score / ENABLE_TOPOLOGY_SCORE: '" << topology_score
              << "' is not a boolean (true or false)\n";
    return 2;
  }
  options.topology_score = *topology;
  if (!device_config_file.empty()) {
    auto device_config = hami::LoadDeviceConfigFile(device_config_file);
    if (!device_config.ok()) {
      std::cerr << "error: --device-config-file: " << device_config.status().message() << "\n";
      return 2;
    }
    // A config without an nvidia section keeps the chart's allowlist; one with it is taken as
    // written (an empty allowlist offers no MIG profile, as HAMi).
    if (device_config->nvidia) {
      options.discovery.mig_profile_allowlist = device_config->nvidia->mig_profile_allowlist;
    }
  }
  const std::string vgpu = options.allocate.hook_path + "/vgpu";
  options.allocate.host_libvgpu = vgpu + "/libvgpu.so";
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
  };
  auto health = hami::deviceplugin::ParseHealthCheckEnv(env("DP_DISABLE_HEALTHCHECKS"),
                                                        env("DP_ENABLE_HEALTHCHECKS"));
  if (!health.ok()) {
    std::cerr << "error: " << health.status().message() << "\n";
    return 2;
  }
  options.health = *health;

  return hami::kube::RunDaemonUntilTerminated<hami::deviceplugin::PluginDaemon>(kubeconfig,
                                                                                std::move(options));
}

}  // namespace

int main(int argc, char** argv) { return hami::GuardedMain(Run, argc, argv); }
