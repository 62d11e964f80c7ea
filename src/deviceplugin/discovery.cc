#include "deviceplugin/discovery.h"

#include <cctype>
#include <cmath>
#include <fstream>

#include "common/strings.h"

namespace hami::deviceplugin {

Discovered ToDeviceInfos(std::span<const NvmlGpu> gpus, const DiscoveryOptions& options,
                         const std::function<int32_t(const std::string& bus_id)>& numa_of) {
  Discovered out;
  for (const NvmlGpu& gpu : gpus) {
    const std::string who = "GPU " + std::to_string(gpu.index) + " " + gpu.uuid;
    if (options.exclude_uuids.count(gpu.uuid) > 0 || options.exclude_indexes.count(gpu.index) > 0) {
      out.skipped.push_back(who + ": excluded by the node config");
      continue;
    }
    int64_t memory_mib = 0;
    if (gpu.memory_bytes) {
      memory_mib = static_cast<int64_t>(*gpu.memory_bytes / (1024 * 1024));
    } else if (options.preconfigured_memory_mib > 0) {
      memory_mib = options.preconfigured_memory_mib;
    } else {
      out.skipped.push_back(who +
                            ": NVML cannot report its memory and no "
                            "preConfiguredDeviceMemory is set");
      continue;
    }
    DeviceInfo d;
    d.id = gpu.uuid;
    d.index = static_cast<int32_t>(gpu.index);
    d.count = options.split_count;
    const bool mig = options.mode == "mig";
    d.devmem_mib = static_cast<int32_t>(
        mig || options.memory_scaling == 1.0
            ? memory_mib
            : static_cast<int64_t>(static_cast<double>(memory_mib) * options.memory_scaling));
    d.devcore = mig ? 100 : static_cast<int32_t>(options.core_scaling * 100);
    d.type = gpu.name.rfind("NVIDIA", 0) == 0 ? gpu.name : "NVIDIA-" + gpu.name;
    d.numa = std::max(0, numa_of(gpu.bus_id));
    d.mode = options.mode;
    d.health = true;
    out.devices.push_back(std::move(d));
  }
  return out;
}

int32_t NumaNode(const std::string& sysfs_root, const std::string& nvml_bus_id) {
  // NVML writes an 8-digit PCI domain in upper case; sysfs a 4-digit one in lower case.
  std::string id;
  for (char c : nvml_bus_id) id += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t colon = id.find(':');
  if (colon == 8 && id.compare(0, 4, "0000") == 0) id = id.substr(4);
  std::ifstream file(sysfs_root + "/bus/pci/devices/" + id + "/numa_node");
  std::string text;
  if (!std::getline(file, text)) return 0;
  auto value = ParseInt32(Trim(text));
  return value && *value > 0 ? *value : 0;
}

}  // namespace hami::deviceplugin
