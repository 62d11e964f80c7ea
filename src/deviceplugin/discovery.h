// From NVML's view of the GPUs to the devices this node registers (spec §1.1): HAMi's split
// count, memory and core scaling, model name prefix, NUMA node, operating mode and the node
// config's exclusions. Pure, except NumaNode which reads sysfs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "device/device.h"
#include "deviceplugin/nvml.h"

namespace hami::deviceplugin {

struct DiscoveryOptions {
  int32_t split_count = 10;     // deviceSplitCount: tasks per GPU
  double memory_scaling = 1.0;  // deviceMemoryScaling
  double core_scaling = 1.0;    // deviceCoreScaling
  std::string mode = kModeHamiCore;
  // preConfiguredDeviceMemory (MiB) for GPUs whose memory NVML cannot report; 0 = skip them.
  int32_t preconfigured_memory_mib = 0;
  std::set<std::string> exclude_uuids;  // filterdevices.uuid
  std::set<uint32_t> exclude_indexes;   // filterdevices.index
};

struct Discovered {
  std::vector<DeviceInfo> devices;
  std::vector<std::string> skipped;  // one line per GPU left out, and why
};

// `numa_of(bus_id)` gives the NUMA node of a PCI device (NumaNode below in production).
Discovered ToDeviceInfos(std::span<const NvmlGpu> gpus, const DiscoveryOptions& options,
                         const std::function<int32_t(const std::string& bus_id)>& numa_of);

// The NUMA node sysfs reports for an NVML bus id ("00000000:3B:00.0" is
// <sysfs_root>/bus/pci/devices/0000:3b:00.0/numa_node); 0 when unknown or negative.
int32_t NumaNode(const std::string& sysfs_root, const std::string& nvml_bus_id);

}  // namespace hami::deviceplugin
