// Shared set-up for the device plugin tests that run the daemon on the fake NVML.
#pragma once

#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "deviceplugin/daemon.h"

namespace hami::deviceplugin::testing {

// The daemon's options for node "n1" on the fake NVML with everything under `dir` (kubelet
// directory, sysfs, hook path), split count 4 and short refresh and kubelet-check periods.
inline PluginDaemonOptions TestDaemonOptions(const std::string& dir) {
  PluginDaemonOptions options;
  options.node_name = "n1";
  options.kubelet_dir = dir;
  options.nvml_library = HAMI_FAKE_NVML_PATH;
  options.sysfs_root = dir + "/sys";
  options.discovery.split_count = 4;
  options.allocate.hook_path = dir + "/hook";
  options.allocate.host_libvgpu = dir + "/hook/vgpu/libvgpu.so";
  options.refresh_period = std::chrono::milliseconds(100);
  options.retry_period = std::chrono::milliseconds(100);
  options.kubelet_check_period = std::chrono::milliseconds(20);
  return options;
}

// Writes <dir>/nvml.json describing two Tesla T4s (GPU-aaa, GPU-bbb; 15360 MiB) and points
// the fake libnvidia-ml.so.1 at it.
inline void UseTwoT4s(const std::string& dir) {
  const nlohmann::json config = {{"devices",
                                  {{{"uuid", "GPU-aaa"},
                                    {"name", "Tesla T4"},
                                    {"memory_mib", 15360},
                                    {"bus_id", "00000000:3B:00.0"}},
                                   {{"uuid", "GPU-bbb"},
                                    {"name", "Tesla T4"},
                                    {"memory_mib", 15360},
                                    {"bus_id", "00000000:3C:00.0"}}}}};
  std::ofstream(dir + "/nvml.json") << config.dump();
  setenv("HAMI_FAKE_NVML_CONFIG", (dir + "/nvml.json").c_str(), 1);
}

// The fake NVML's config for a Tesla T4 (GPU-t4, index 0, no MIG) and an A100-SXM4-80GB in MIG
// mode (GPU-a100, index 1) with three MIG devices, listed in this MIG device order:
//   index 0: MIG-3g   3g.40gb  GI 2, CI 0, placement {4, 4}
//   index 1: MIG-1g-b 1g.10gb  GI 8, CI 0, placement {1, 1}
//   index 2: MIG-1g-a 1g.10gb  GI 7, CI 0, placement {0, 1}
// with the A100-80GB's GPU instance profiles (SMs, MiB as NVML reports them).
inline nlohmann::json T4AndMigA100() {
  const nlohmann::json profiles = nlohmann::json::array({
      {{"id", 0}, {"slice_count", 1}, {"instance_count", 7}, {"sm", 14}, {"memory_mib", 9856}},
      {{"id", 1}, {"slice_count", 2}, {"instance_count", 3}, {"sm", 28}, {"memory_mib", 19968}},
      {{"id", 2}, {"slice_count", 3}, {"instance_count", 2}, {"sm", 42}, {"memory_mib", 40192}},
      {{"id", 3}, {"slice_count", 4}, {"instance_count", 1}, {"sm", 56}, {"memory_mib", 40192}},
      {{"id", 4}, {"slice_count", 7}, {"instance_count", 1}, {"sm", 98}, {"memory_mib", 81152}},
      {{"id", 7}, {"slice_count", 1}, {"instance_count", 1}, {"sm", 14}, {"memory_mib", 9856}},
  });
  const nlohmann::json instances = nlohmann::json::array({
      {{"uuid", "MIG-3g"}, {"profile_id", 2}, {"start", 4}, {"size", 4}, {"gi", 2}, {"ci", 0}},
      {{"uuid", "MIG-1g-b"}, {"profile_id", 0}, {"start", 1}, {"size", 1}, {"gi", 8}, {"ci", 0}},
      {{"uuid", "MIG-1g-a"}, {"profile_id", 0}, {"start", 0}, {"size", 1}, {"gi", 7}, {"ci", 0}},
  });
  return {{"devices",
           {{{"uuid", "GPU-t4"},
             {"name", "Tesla T4"},
             {"memory_mib", 15360},
             {"bus_id", "00000000:3B:00.0"}},
            {{"uuid", "GPU-a100"},
             {"name", "NVIDIA A100-SXM4-80GB"},
             {"memory_mib", 81920},
             {"bus_id", "00000000:AF:00.0"},
             {"mig", true},
             {"mig_profiles", profiles},
             {"mig_instances", instances}}}}};
}

}  // namespace hami::deviceplugin::testing
