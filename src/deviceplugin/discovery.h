// From NVML's view of the GPUs to the devices this node registers (spec §1.1): HAMi's split
// count, memory and core scaling, model name prefix, NUMA node, operating mode, the node
// config's exclusions and, for GPUs in MIG mode, the MIG instances that exist (static MIG).
// Pure, except NumaNode which reads sysfs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "deviceplugin/allocate.h"
#include "nvml/nvml.h"

namespace hami::deviceplugin {

struct DiscoveryOptions {
  int32_t split_count = 10;     // deviceSplitCount: tasks per GPU
  double memory_scaling = 1.0;  // deviceMemoryScaling
  double core_scaling = 1.0;    // deviceCoreScaling
  // The node's operating mode for GPUs without MIG ("hami-core" | "mps"; "mig" publishes such
  // a GPU as "hami-core"). A GPU whose MIG mode is on is always published as "mig".
  std::string mode = kModeHamiCore;
  // preConfiguredDeviceMemory (MiB) for GPUs whose memory NVML cannot report; 0 = skip them.
  int32_t preconfigured_memory_mib = 0;
  std::set<std::string> exclude_uuids;  // filterdevices.uuid
  std::set<uint32_t> exclude_indexes;   // filterdevices.index
  // migProfileAllowlist of the device config: on a "mig" node, the MIG profiles a GPU whose
  // name contains one of an entry's models may offer (union over matching entries). nullopt:
  // the chart's default allowlist (DefaultDeviceConfig).
  std::optional<std::vector<MigProfileAllowance>> mig_profile_allowlist;
};

// What NVML says a MIG-mode GPU allows (Nvml::MigProfiles): every GPU instance profile and its
// legal placements. `gpu_index` is NVML's index.
using MigProfilesOf =
    std::function<Result<std::vector<nvml::NvmlMigProfileInfo>>(uint32_t gpu_index)>;

struct Discovered {
  std::vector<DeviceInfo> devices;
  std::vector<std::string> skipped;  // one line per GPU left out, and why
  // One line per published GPU that differs from what the node config asks, or whose MIG
  // devices are only partly known (a MIG query failed, no instance exists yet).
  std::vector<std::string> notes;
};

// `numa_of(bus_id)` gives the NUMA node of a PCI device (NumaNode below in production).
// A GPU with MIG enabled is published in mode "mig" whatever options.mode says (HAMi-core
// cannot enforce limits inside a MIG GPU): devmem = its total MiB unscaled, devcore = 100,
// count = its existing MIG instances, mig_profiles = those instances grouped by profile name
// (smallest memory first), each with the placements where an instance of it exists, sorted by
// start. The scheduler may only hand out those instances (static MIG). Other GPUs:
// count = split_count, scaled memory and cores, mode = options.mode ("hami-core" for "mig").
Discovered ToDeviceInfos(std::span<const nvml::NvmlGpu> gpus, const DiscoveryOptions& options,
                         const std::function<int32_t(const std::string& bus_id)>& numa_of);

// Dynamic MIG (HAMi v2.10): as above, except that on a node whose mode is "mig", a GPU in MIG
// mode is published with every profile `mig_profiles_of` reports that the allowlist allows for
// its model, each with all its legal placements (sorted by start), smallest memory first, and
// count = the most instances any of them can have at once; the scheduler reserves free
// placements and Allocate creates the instance (mig_realize.h). Existing instances are not
// published separately: HAMi's own are reservations in the scheduler's ledger. When
// `mig_profiles_of` fails for a GPU (an NVML without the dynamic-MIG calls) or reports no
// placement at all, the GPU falls back to its existing instances (static MIG), with a note. A
// GPU whose model no allowlist entry names, or whose allowed profiles the GPU lacks, is
// published with no profile (count 0) and a note. An empty `mig_profiles_of` is the static form above.
Discovered ToDeviceInfos(std::span<const nvml::NvmlGpu> gpus, const DiscoveryOptions& options,
                         const std::function<int32_t(const std::string& bus_id)>& numa_of,
                         const MigProfilesOf& mig_profiles_of);

// The profiles `allowlist` allows for a GPU named `gpu_name` (substring match of the model, as
// HAMi; union over matching entries), or nullopt when no entry names the model. Pure.
std::optional<std::set<std::string>> AllowedMigProfiles(
    const std::vector<MigProfileAllowance>& allowlist, const std::string& gpu_name);

// The NUMA node sysfs reports for an NVML bus id ("00000000:3B:00.0" is
// <sysfs_root>/bus/pci/devices/0000:3b:00.0/numa_node); 0 when unknown or negative.
int32_t NumaNode(const std::string& sysfs_root, const std::string& nvml_bus_id);

}  // namespace hami::deviceplugin
