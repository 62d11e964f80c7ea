// hami-monitor's check that a container's shared region still holds the limits its pod was
// allocated (issue 14). The region file is writable from inside the container (its processes
// must charge their usage into it), so a process there can raise its own memory or SM limit, or
// zero it (unlimited); a region file can also be stale (created for another allocation). The
// monitor compares, per device index, the region's limit[i] / sm_limit[i] with what the device
// plugin passed to the container for the pod's `hami.io/vgpu-devices-allocated` decision, and
// reports differences (a metric and a log line, see daemon.h). It never writes the limits back:
// see docs/monitor.md ("Region limit check") for why.
//
// Pairing, by index, not by UUID: the device plugin gives device i of the container's
// allocation group as CUDA_DEVICE_MEMORY_LIMIT_<i> (used_mem_mib, "m" = MiB) and the group's
// FIRST device's cores as CUDA_DEVICE_SM_LIMIT (one value for every device), and libvgpu.so /
// HAMi-core store exactly those into limit[i] / sm_limit[i] when they create the file. The
// region's UUIDs are not used: our libvgpu.so does not write them, HAMi-core writes them in the
// container's NVML order (not necessarily the allocation's), and they are as writable from inside
// the container as the limits, so they cannot prove which allocation a region belongs to.
//
// Pure and thread-compatible; untrusted input (annotations, region values) never throws.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/device.h"
#include "monitor/region_reader.h"

namespace hami::monitor {

enum class LimitKind {
  kMemory,  // bytes; 0 = unlimited
  kSm,      // percent; 0 and >= 100 both mean unthrottled
};

// The value of the metric's `limit` label: "memory_bytes" or "sm_percent" (the unit of the
// region_value / allocated_value labels).
const char* LimitKindLabel(LimitKind kind);

struct LimitMismatch {
  int vdevice_index = 0;    // index in the container's allocation group = the env's _<i>
  std::string device_uuid;  // the allocation's device at that index (from the annotation)
  LimitKind kind = LimitKind::kMemory;
  uint64_t region_value = 0;     // as stored in the region
  uint64_t allocated_value = 0;  // what the device plugin passed for the allocation
  bool operator==(const LimitMismatch&) const = default;
};

// The pod's container names in allocation-group order: spec.initContainers then
// spec.containers (the order of the pod device strings' groups). Odd JSON gives fewer names
// (a container without a name string gives ""), never an exception.
std::vector<std::string> ContainerNamesInGroupOrder(const nlohmann::json& pod);

// The NVIDIA devices the pod's `hami.io/vgpu-devices-allocated` annotation gives `container`.
// nullopt (nothing to compare with, not an error): no annotation or an empty one (the pod is
// not bound yet, or uses no vGPU), a container the pod does not list, or no group / an empty
// group for it (the container holds no vGPU). Failure (kInvalidArgument, the decoder's message):
// an annotation that does not decode.
Result<std::optional<ContainerDevices>> AllocatedDevicesOf(const nlohmann::json& pod,
                                                           const std::string& container);

// The differences between the region's limits and `allocated`, by device index, indexes
// [0, min(allocated.size(), 16)); memory first then SM per index. Memory: region limit[i] !=
// used_mem_mib * 2^20 (a zeroed, i.e. unlimited, limit is a difference too, unless the
// allocation is 0 MiB, which the plugin passes as "no limit"). SM: the two values differ once
// 0 and >= 100 are both read as "unthrottled" (libvgpu.so stores 100 where HAMi-core keeps 0);
// the allocated value is allocated.front().used_cores for every index, as the device plugin
// sets it. Empty when they agree or `allocated` is empty.
std::vector<LimitMismatch> CompareLimits(const ContainerDevices& allocated,
                                         const RegionLimits& region);

// One container's check, for the daemon: `pod` is the container's pod as the informer holds it
// (null when the monitor does not know the pod: nothing is compared).
struct ContainerLimitCheck {
  bool compared = false;                  // an allocation was found and compared
  std::string problem;                    // the annotation could not be read (compared = false)
  std::vector<LimitMismatch> mismatches;  // empty unless compared
};
ContainerLimitCheck CheckContainerLimits(const nlohmann::json* pod, const std::string& container,
                                         const RegionLimits& region);

}  // namespace hami::monitor
