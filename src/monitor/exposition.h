// hami-monitor's metric families (spec §6) with HAMi's names and labels, rendered in the text
// exposition format 0.0.4 by the shared writer (common/exposition.h).
//
// Every sample carries HAMi's constant label zone="vGPU" (HAMi wraps its registry with it).
// Units, kept as HAMi reports them so existing dashboards and alerts keep working:
//  * *_bytes are bytes;
//  * the *_utilization_ratio gauges are PERCENT (0..100; a container's value is the sum of its
//    processes' sm_util and may exceed 100), despite the "_ratio" suffix: HAMi exports NVML's
//    percentages unchanged;
//  * hami_container_last_kernel_elapsed_seconds is now - last_kernel_time, whole seconds, clamped
//    at 0, and absent for a container that never launched a kernel (last_kernel_time 0).
// With `legacy` the pre-2.5 names are rendered as well, after the current ones (HAMi's
// --legacy-metrics): HostGPUMemoryUsage, HostCoreUtilization, vGPU_device_memory_usage_in_bytes,
// vGPU_device_memory_limit_in_bytes, Device_memory_desc_of_container (context/module/data/offset
// as label values, as HAMi has them), Device_utilization_desc_of_container,
// Device_last_kernel_of_container. Not rendered: legacy MigInfo (its label set is not in the spec).
//
// Pure and thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/exposition.h"
#include "common/status.h"
#include "monitor/limit_check.h"
#include "monitor/region_reader.h"

namespace hami::monitor {

struct PodRef {
  std::string ns;
  std::string name;
};

// One container's region, read this scrape.
struct ContainerReading {
  std::string pod_uid;
  std::string container;
  RegionSnapshot snapshot;
};

// One physical device as NVML reports it; an unset value (NVML: NOT_SUPPORTED) is not rendered.
struct HostDeviceReading {
  std::string node;
  int device_index = 0;
  std::string device_uuid;
  std::string device_type;  // "NVIDIA-" + NVML's name, as in the node registration
  std::optional<uint64_t> memory_used_bytes;
  std::optional<double> utilization_percent;                    // NVML utilization.gpu
  std::optional<double> memory_controller_utilization_percent;  // NVML utilization.memory
};

// One MIG device a container holds, from the pod's hami.io/vgpu-mig-allocations (the scheduler's
// choice completed by the device plugin's runtime ids).
struct MigDeviceReading {
  std::string pod_uid;
  std::string container;
  int vdevice_index = 0;    // the allocation's deviceIndex
  std::string device_uuid;  // the parent GPU
  std::string mig_uuid;
  std::string profile;
  uint32_t gpu_instance_id = 0;
  uint32_t compute_instance_id = 0;
};

// A region limit that differs from the container's allocation (limit_check.h).
struct LimitMismatchReading {
  std::string pod_uid;
  std::string container;
  LimitMismatch mismatch;
};

// One MIG device that exists on the node (NVML, whoever made it and whether a pod holds it),
// for hami_node_gpu_mig_instance_info.
struct NodeMigInstanceReading {
  std::string node;
  int gpu_index = 0;       // NVML index of the parent GPU
  std::string gpu_uuid;    // the parent GPU
  std::string model_name;  // NVML's name of the parent GPU ("NVIDIA A100-SXM4-40GB")
  std::string mig_uuid;
  std::string profile;  // "3g.20gb"
  uint32_t gpu_instance_id = 0;
  uint32_t compute_instance_id = 0;
  int32_t placement_start = 0;  // memory slices of the GPU instance
  int32_t placement_size = 0;
};

struct MonitorReadings {
  std::vector<HostDeviceReading> hosts;
  std::vector<NodeMigInstanceReading> node_migs;
  std::vector<ContainerReading> containers;
  std::vector<MigDeviceReading> migs;
  std::vector<LimitMismatchReading> limit_mismatches;
  std::map<std::string, PodRef> pods;  // pod UID -> namespace/name
  int64_t now_unix_s = 0;
};

struct MonitorExpositionOptions {
  bool legacy = false;
  std::string zone = "vGPU";  // "" drops the label
};

inline constexpr const char* kHostMemoryUsed = "hami_host_gpu_memory_used_bytes";
inline constexpr const char* kHostUtilization = "hami_host_gpu_utilization_ratio";
inline constexpr const char* kHostMemoryControllerUtilization =
    "hami_host_gpu_memory_controller_utilization_ratio";
inline constexpr const char* kVgpuMemoryUsed = "hami_vgpu_memory_used_bytes";
inline constexpr const char* kVgpuMemoryLimit = "hami_vgpu_memory_limit_bytes";
inline constexpr const char* kContainerDeviceMemory = "hami_container_device_memory_bytes";
inline constexpr const char* kContainerUtilization = "hami_container_device_utilization_ratio";
inline constexpr const char* kContainerLastKernel = "hami_container_last_kernel_elapsed_seconds";
inline constexpr const char* kVgpuMemoryContext = "hami_vgpu_memory_context_bytes";
inline constexpr const char* kVgpuMemoryModule = "hami_vgpu_memory_module_bytes";
inline constexpr const char* kVgpuMemoryBuffer = "hami_vgpu_memory_buffer_bytes";
inline constexpr const char* kMigDeviceInfo = "hami_mig_device_info";
inline constexpr const char* kNodeMigInstanceInfo = "hami_node_gpu_mig_instance_info";
// Not in HAMi: 1 per (container, device index, limit) whose region value differs from the
// allocation; absent when they agree or cannot be compared (limit_check.h).
inline constexpr const char* kRegionLimitMismatch = "hami_container_region_limit_mismatch";

// Every family name MonitorFamilies can render (legacy ones included), for dashboards' checks.
std::vector<std::string> MonitorFamilyNames();

// The monitor's families, host families first, samples in input order (containers as given,
// devices by vdevice index within each). Host labels: node, device_index, device_uuid,
// device_type. Container labels: namespace, pod, container, vdevice_index (index in the region),
// device_uuid; hami_mig_device_info adds mig_uuid, profile, gpu_instance_id,
// compute_instance_id and, to join DCGM exporter series, UUID (the parent GPU), GPU_I_ID and
// GPU_I_PROFILE (value 1); hami_node_gpu_mig_instance_info (one per MIG device on the node,
// value 1) has DCGM's labels gpu, UUID, device ("nvidia<gpu>"), modelName, Hostname, GPU_I_ID,
// GPU_I_PROFILE, then mig_uuid, compute_instance_id, placement_start, placement_size;
// hami_container_region_limit_mismatch adds limit
// ("memory_bytes" | "sm_percent"), region_value and allocated_value (decimal, in that unit) and
// its vdevice_index / device_uuid are the allocation's (value 1). A container or MIG device whose
// pod_uid is not in `pods` is skipped (its pod is gone or not yet known; it cannot be labelled).
// Empty families are omitted.
std::vector<exposition::Family> MonitorFamilies(const MonitorReadings& readings,
                                                const MonitorExpositionOptions& options = {});

// MonitorFamilies rendered as text. Errors only if a family is malformed (a bug): kInvalidArgument.
Result<std::string> RenderMonitorMetrics(const MonitorReadings& readings,
                                         const MonitorExpositionOptions& options = {});

}  // namespace hami::monitor
