// What the device plugin answers to kubelet's Allocate for one pod (spec §5.2), as a pure
// function: which container group of the scheduler's `hami.io/vgpu-devices-to-allocate`
// each kubelet container request takes, the environment (HAMi-core's limits) and mounts
// (libvgpu.so, ld.so.preload, the per-container cache directory, the lock directory) it gets,
// and the annotation that remains. The caller finds the pod, resolves host paths and random
// names, and writes the results (see spec §5.2 steps 5–6).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/codec.h"
#include "device/device.h"
#include "deviceplugin/device_list.h"

namespace hami::deviceplugin {

struct AllocateSettings {
  std::string hook_path = "/usr/local";  // HOOK_PATH: libvgpu lives under <hook>/vgpu
  // Host file mounted as <hook>/vgpu/libvgpu.so (libvgpu.so.<version>, or libvgpu.so).
  std::string host_libvgpu;
  double memory_scaling = 1.0;      // > 1 lets containers oversubscribe: CUDA_OVERSUBSCRIBE
  bool disable_core_limit = false;  // GPU_CORE_UTILIZATION_POLICY=disable
  std::string log_level;            // LIBCUDA_LOG_LEVEL when set
  bool license_present = false;     // host <hook>/vgpu/license exists
  // How the devices reach the runtime (DEVICE_LIST_STRATEGY; default envvar).
  DeviceListStrategies device_list;
};

// One container of the pod, in annotation order (init containers first).
struct PodContainer {
  std::string name;
  // The container's env CUDA_DISABLE_CONTROL parses true: no ld.so.preload (the user turned
  // interception off for this container).
  bool disable_control = false;
};

struct MountPlan {
  std::string container_path;
  std::string host_path;
  bool read_only = false;
  bool operator==(const MountPlan&) const = default;
};

struct ContainerAllocation {
  size_t container_index = 0;             // into the pod's containers (init first)
  std::vector<std::string> device_uuids;  // the physical GPUs, in the annotation's order
  std::map<std::string, std::string> envs;
  std::vector<MountPlan> mounts;
  // Container annotations and CDI device names from the CDI device-list strategies.
  std::map<std::string, std::string> annotations;
  std::vector<std::string> cdi_devices;
  // Host directory to create (0777, emptied first) before the container starts.
  std::string host_cache_dir;
};

// A MIG device on this node (static MIG: created by the admin; dynamic MIG: by MigRealizer).
struct MigInstanceRef {
  std::string uuid;  // "MIG-..."
  uint32_t gpu_instance_id = 0;
  uint32_t compute_instance_id = 0;
};
// The MIG device of `profile` at `placement` on GPU `gpu_uuid`: found (static MIG) or made
// (dynamic MIG, MigRealizer::Realize). kNotFound: no such device exists (static MIG); any other
// failure is passed to kubelet as it is (its message names GPU, profile and placement).
using MigInstanceLookup = std::function<Result<MigInstanceRef>(
    const std::string& gpu_uuid, const std::string& profile, const MigPlacement& placement)>;

struct AllocatePlan {
  // One per kubelet container request, in request order.
  std::vector<ContainerAllocation> containers;
  // The pod's hami.io/vgpu-mig-allocations with the runtime identity (MIG UUID, GPU and
  // compute instance ids) filled in for the instances this call handed out; `mig_realized`
  // says whether any was, i.e. whether the annotation must be written back.
  std::vector<MigAllocation> mig_allocations;
  bool mig_realized = false;
  // The `to-allocate` groups after this call: the taken groups emptied.
  PodDevices remaining;
  // No group of this vendor is left: the plugin sets bind-phase success and releases the lock.
  bool all_allocated = false;
};

// `to_allocate`: the pod's decoded devices-to-allocate for this vendor; `requested`: per
// kubelet container request, the device IDs kubelet chose (only their number matters: the
// scheduler chose the physical devices); `containers`: the pod's containers, init first;
// `cache_file_name` returns a fresh file name for each container's shared region
// ("<random uuid>.cache"); its stem also makes the container's CDI annotation key unique.
// Failure (FailedPrecondition, message for kubelet): no group left for a request, a group
// whose device count differs from the request ("device number not matched"), a group index
// with no container; InvalidArgument: a device id the device-list strategies cannot express
// (see DeviceListFor).
//
// MIG: a container whose devices have entries in `mig_allocations` (the pod's
// hami.io/vgpu-mig-allocations) gets the MIG devices `mig_instances` finds at those placements
// as its device list, and nothing of HAMi-core (no limits, libvgpu, preload or cache dir: the
// hardware partitions the GPU). Failure (FailedPrecondition): a container mixing MIG and
// non-MIG devices, or a reserved instance that does not exist on the node (static MIG: the
// admin creates the instances; the scheduler only reserves ones the plugin registered); a
// lookup that fails otherwise (dynamic MIG could not create the instance) fails with its status.
Result<AllocatePlan> PlanAllocate(const PodDevices& to_allocate,
                                  std::span<const std::vector<std::string>> requested,
                                  std::span<const PodContainer> containers,
                                  const std::string& pod_uid, const AllocateSettings& settings,
                                  const std::function<std::string()>& cache_file_name,
                                  std::span<const MigAllocation> mig_allocations = {},
                                  const MigInstanceLookup& mig_instances = nullptr);

}  // namespace hami::deviceplugin
