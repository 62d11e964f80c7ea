// How the daemon path (extender_replay.h) turns a trace pod of any vendor into the v1.Pod
// hami-scheduler receives: through the vendor's own extended resources (Vendor::ResourceNames),
// never by naming a vendor, so a vendor added to the registry is simulated without changes here.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "device/config.h"
#include "device/vendor.h"
#include "sim/trace.h"

namespace hami::sim {

// The device config the daemon path schedules with: the chart's (the built-in NVIDIA section
// plus every vendor section of device/chart_config.h, Iluvatar and Ascend enabled), NVIDIA's
// deviceSplitCount set to `split_count`. Failure: the config's own validation errors.
Result<DeviceConfig> SimDeviceConfig(int32_t split_count);

// One vendor's request shape, fixed for a replay.
struct VendorPodPlan {
  const Vendor* vendor = nullptr;  // owned by the registry
  // MiB one unit of the vendor's memory resource stands for: the memory_mib of the vendor's
  // own request for {count: 1, memory: "1"}. 0 = the vendor asks memory as a percentage
  // (it has a memory-percentage resource: NVIDIA) or has no usable memory resource.
  int32_t memory_unit_mib = 0;
  // Whether memory quantities scale linearly (2 units = twice 1 unit); a vendor that rounds
  // (e.g. up to its partition templates) is not.
  bool memory_linear = false;
  // The smallest per-GPU memory among the vendor's nodes (0 = no node of that vendor): a
  // pod's gpu_milli is that share of it.
  int32_t reference_memory_mib = 0;
  // Whether the vendor accepts its cores / memory resources in a plain request (count 1, some
  // memory, cores 50 read as 50 %): a vendor refuses e.g. a cores resource its config turned
  // off, or reads cores as something else than a percent; such a resource is then left out of
  // every pod rather than failing or misstating every pod.
  bool asks_cores = false;
  bool asks_memory = false;
};

// The plans of every vendor named by `cluster` or `workload`.
// Failure: InvalidArgument naming a vendor key the registry lacks (with the node or pod that
// uses it) and listing the registry's keys. `registry` must outlive the result.
Result<std::map<std::string, VendorPodPlan>> PlanVendorPods(const VendorRegistry& registry,
                                                            const Cluster& cluster,
                                                            const Workload& workload);

// The container limits a pod asks of its vendor (empty for a pod without GPUs):
//   count resource = num_gpu;
//   cores resource (when asks_cores) = ceil(gpu_milli / 10);
//   memory-percentage resource (when asks_memory and the vendor has one; NVIDIA) =
//     ceil(gpu_milli / 10);
//   else the memory resource (when asks_memory and its unit is known) = MemoryQuantity.
// Pure.
ResourceList VendorLimits(const SimPod& pod, const VendorPodPlan& plan);

// The quantity of the vendor's memory resource a pod of `gpu_milli` asks per device, where the
// target is gpu_milli / 1000 of reference_memory_mib (rounded up to a MiB):
//   linear vendors: ceil(target / memory_unit_mib), but no more than the smallest device holds
//     (floor(reference / unit)), at least 1;
//   vendors that round: the smallest quantity whose memory (as the vendor derives it) covers
//     the target; when that exceeds the smallest device, the largest quantity within it (at
//     least 1).
// 0 when the plan has no memory unit or no reference. Pure.
int64_t MemoryQuantity(const VendorPodPlan& plan, int32_t gpu_milli);

// The v1.Pod of `pod` (see ToPodJson) with `limits` as its container limits; gpu_spec becomes
// nvidia.com/use-gputype when `nvidia_type_selector` is set (other vendors ignore gpu_spec).
nlohmann::json PodJsonWithLimits(const SimPod& pod, const std::string& uid,
                                 const ResourceList& limits, bool nvidia_type_selector);

}  // namespace hami::sim
