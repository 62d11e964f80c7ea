// hami-monitor's metric families (spec §6) with HAMi's names and labels, rendered in the text
// exposition format 0.0.4 by the shared writer (common/exposition.h).
//
// Units, kept as HAMi reports them so existing dashboards and alerts keep working:
//  * *_bytes are bytes;
//  * hami_container_device_utilization_ratio and hami_host_gpu_utilization_ratio are PERCENT
//    (0..100; a container's value is the sum of its processes' sm_util and may exceed 100), despite
//    the "_ratio" suffix: HAMi exports NVML's percentages unchanged;
//  * hami_container_last_kernel_elapsed_seconds is now - last_kernel_time, whole seconds, clamped
//    at 0, and absent for a container that never launched a kernel (last_kernel_time 0).
// Not rendered (later slices): hami_host_gpu_memory_controller_utilization_ratio,
// hami_container_device_memory_bytes, hami_mig_device_info, the legacy names, the `zone` label.
//
// Pure and thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/exposition.h"
#include "common/status.h"
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

// One physical device as NVML reports it.
struct HostDeviceReading {
  std::string node;
  int device_index = 0;
  std::string device_uuid;
  std::string device_type;  // e.g. "NVIDIA-NVIDIA A100-SXM4-40GB"
  uint64_t memory_used_bytes = 0;
  double utilization_percent = 0;  // NVML utilization.gpu, 0..100
};

inline constexpr const char* kHostMemoryUsed = "hami_host_gpu_memory_used_bytes";
inline constexpr const char* kHostUtilization = "hami_host_gpu_utilization_ratio";
inline constexpr const char* kVgpuMemoryUsed = "hami_vgpu_memory_used_bytes";
inline constexpr const char* kVgpuMemoryLimit = "hami_vgpu_memory_limit_bytes";
inline constexpr const char* kContainerUtilization = "hami_container_device_utilization_ratio";
inline constexpr const char* kContainerLastKernel = "hami_container_last_kernel_elapsed_seconds";
inline constexpr const char* kVgpuMemoryContext = "hami_vgpu_memory_context_bytes";
inline constexpr const char* kVgpuMemoryModule = "hami_vgpu_memory_module_bytes";
inline constexpr const char* kVgpuMemoryBuffer = "hami_vgpu_memory_buffer_bytes";

// The monitor's families, in the order above (host families first), samples in input order:
// host devices as given; containers as given, devices by vdevice index within each. Host labels:
// node, device_index, device_uuid, device_type. Container labels: namespace, pod, container,
// vdevice_index (index in the region), device_uuid. A container whose pod_uid is not in `pods` is
// skipped (its pod is gone or not yet known; it cannot be labelled). Empty families are omitted.
std::vector<exposition::Family> MonitorFamilies(const std::vector<HostDeviceReading>& hosts,
                                                const std::vector<ContainerReading>& containers,
                                                const std::map<std::string, PodRef>& pods,
                                                int64_t now_unix_s);

// MonitorFamilies rendered as text. Errors only if a family is malformed (a bug): kInvalidArgument.
Result<std::string> RenderMonitorMetrics(const std::vector<HostDeviceReading>& hosts,
                                         const std::vector<ContainerReading>& containers,
                                         const std::map<std::string, PodRef>& pods,
                                         int64_t now_unix_s);

}  // namespace hami::monitor
