// The cluster shape the scheduler benchmarks share: nodes of 8 A100-like GPUs (32 GiB, split
// count 10), as in the 5,000 nodes × 8 GPUs target.
#pragma once

#include <string>
#include <vector>

#include "device/device.h"

namespace hami::bench {

inline std::vector<DeviceInfo> EightGpus(int node_index) {
  std::vector<DeviceInfo> devices;
  for (int g = 0; g < 8; ++g) {
    DeviceInfo d;
    d.id =
        "GPU-" + std::to_string(node_index) + "-" + std::to_string(g) + "-0fc3eda5-e98b-a25b-5b0d";
    d.index = g;
    d.count = 10;
    d.devmem_mib = 32768;
    d.devcore = 100;
    d.type = "NVIDIA-A100";
    d.health = true;
    devices.push_back(d);
  }
  return devices;
}

}  // namespace hami::bench
