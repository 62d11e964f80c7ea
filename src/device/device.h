// The device model shared by the scheduler, the device plugin and the simulator.
//
// Units: memory in MiB, cores in percent of one device (100 = whole device, scaled by
// deviceCoreScaling on the node side). Plain value types; thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hami {

// Sentinel for "no gpumem-percentage given" (HAMi uses 101 on the wire of its request struct).
inline constexpr int32_t kMemoryPercentUnset = 101;

inline constexpr char kModeHamiCore[] = "hami-core";
inline constexpr char kModeMig[] = "mig";

// Where a MIG GPU instance sits on its GPU: memory slices [start, start + size).
struct MigPlacement {
  int32_t start = 0;
  int32_t size = 0;

  bool Overlaps(const MigPlacement& other) const {
    return start < other.start + other.size && other.start < start + size;
  }
  bool operator==(const MigPlacement&) const = default;
};

// A MIG profile a device in "mig" mode offers (node annotation `migProfiles`), with the
// placements an instance of it may take.
struct MigProfile {
  std::string name;        // e.g. "1g.10gb"
  int32_t memory_mib = 0;  // memoryMB
  int32_t core = 0;        // percent of the whole GPU's SMs, rounded up
  int32_t slice_count = 0;
  std::vector<MigPlacement> placements;

  bool operator==(const MigProfile&) const = default;
};

// One physical device as registered by a node's device plugin (node annotation).
struct DeviceInfo {
  std::string id;          // UUID, e.g. "GPU-0fc3eda5-..."; never contains ',', ':' or ';'
  int32_t index = 0;       // NVML index
  int32_t count = 0;       // max concurrent tasks (deviceSplitCount)
  int32_t devmem_mib = 0;  // total memory after deviceMemoryScaling
  int32_t devcore = 0;     // total cores, 100 * deviceCoreScaling
  std::string type;        // model, e.g. "NVIDIA-Tesla T4"
  int32_t numa = 0;
  std::string mode = kModeHamiCore;  // "hami-core" | "mig" | "mps"
  bool health = false;
  std::vector<MigProfile> mig_profiles;  // mode "mig" only

  bool operator==(const DeviceInfo&) const = default;
};

// A device plus what is already allocated on it.
struct DeviceUsage {
  DeviceInfo info;
  // The vendor key that registered the device ("NVIDIA", "DCU"); a request of another type
  // cannot use it. Empty = unknown (e.g. a simulated cluster of one vendor): no check.
  std::string vendor;
  int32_t used = 0;                      // tasks placed
  int64_t used_mem_mib = 0;              // sum of placed memory
  int32_t used_cores = 0;                // sum of placed cores
  bool cordoned = false;                 // listed in the node's hami.io/device-cordon annotation
  std::vector<MigPlacement> mig_in_use;  // mode "mig": placements of the instances handed out

  int64_t FreeMemMib() const { return info.devmem_mib - used_mem_mib; }
  int32_t FreeCores() const { return info.devcore - used_cores; }
};

// One topology rule of a vendor (Kunlunxin's XPU groups, Ascend 910C's module pairs, AWS
// Neuron's consecutive devices per instance family): the devices one container takes on a
// node are, by DeviceInfo::index, exactly one of `sets`, the first that fits in this order.
// `device_type` says which devices the rule governs: empty = any device, else devices whose
// DeviceInfo::type equals it, so one request can carry a rule per device family (AWS Neuron's
// Trainium and Inferentia) while indexes stay the devices' own. Sets of another size than the
// request's count never match; an empty `sets` fits nowhere.
struct IndexSetRule {
  std::string device_type;
  std::vector<std::vector<int32_t>> sets;

  bool operator==(const IndexSetRule&) const = default;
};

// What one container asks of one vendor (HAMi's ContainerDeviceRequest).
struct ContainerDeviceRequest {
  int32_t count = 0;                             // number of distinct devices (Nums)
  std::string type;                              // vendor key, e.g. "NVIDIA"
  int32_t memory_mib = 0;                        // per device, after memoryFactor; 0 = unset
  int32_t memory_percent = kMemoryPercentUnset;  // per device; kMemoryPercentUnset = unset
  int32_t cores_percent = 0;                     // per device, 0..100
  // A vendor's topology rules as data, so the fit stays vendor-neutral (see IndexSetRule).
  // Null = any `count` devices. Shared: requests are copied often and the rules are the
  // vendor's, not the container's.
  std::shared_ptr<const std::vector<IndexSetRule>> index_sets;

  // The rule that governs a device of `device_type`: the first of `index_sets` whose
  // device_type is empty or equal to it. Null when index_sets is null or no rule matches (such
  // a device cannot serve this request). Points into *index_sets.
  const IndexSetRule* IndexSetRuleFor(std::string_view device_type) const {
    if (!index_sets) return nullptr;
    for (const IndexSetRule& rule : *index_sets) {
      if (rule.device_type.empty() || rule.device_type == device_type) return &rule;
    }
    return nullptr;
  }

  bool operator==(const ContainerDeviceRequest& o) const {
    const bool same_sets =
        index_sets == o.index_sets || (index_sets && o.index_sets && *index_sets == *o.index_sets);
    return count == o.count && type == o.type && memory_mib == o.memory_mib &&
           memory_percent == o.memory_percent && cores_percent == o.cores_percent && same_sets;
  }

  // Memory this request takes on a device of `total_mem_mib`, as HAMi's Fit resolves it:
  // explicit MiB wins, else floor(total * percent / 100), else 0.
  int64_t ResolveMemoryMib(int64_t total_mem_mib) const {
    if (memory_mib > 0) return memory_mib;
    if (memory_percent != kMemoryPercentUnset) return total_mem_mib * memory_percent / 100;
    return 0;
  }
};

// One device granted to a container (one item of the pod device string).
struct ContainerDevice {
  std::string uuid;
  std::string type;  // vendor key as written in the pod annotation, e.g. "NVIDIA"
  int32_t used_mem_mib = 0;
  int32_t used_cores = 0;
  // On a device in "mig" mode: the MIG instance this use takes (hami.io/vgpu-mig-allocations;
  // not part of the device string). Empty profile otherwise.
  std::string mig_profile;
  MigPlacement mig_placement;

  bool operator==(const ContainerDevice&) const = default;
};

using ContainerDevices = std::vector<ContainerDevice>;
// Per container (init containers first, then app containers), the devices of one vendor.
using PodDevices = std::vector<ContainerDevices>;

// Pod-level device selection constraints, parsed from pod annotations by a vendor.
struct DeviceSelectors {
  std::vector<std::string> use_types;    // device type must contain one (case-insensitive)
  std::vector<std::string> nouse_types;  // device type must contain none
  std::vector<std::string> use_uuids;    // exact match required when non-empty
  std::vector<std::string> nouse_uuids;
  // nvidia.com/vgpu-mode. Empty: any mode but "mig" (a GPU in MIG mode serves only pods that
  // ask for it), unless mig_without_mode; else the device mode must be a substring.
  std::string vgpu_mode;
  // HAMi's rule (hami-scheduler --mig-unannotated-pods allow): an empty vgpu_mode also takes
  // devices in "mig" mode. Set by the scheduler, never by an annotation.
  bool mig_without_mode = false;
  bool numa_bind = false;

  bool operator==(const DeviceSelectors&) const = default;
};

}  // namespace hami
