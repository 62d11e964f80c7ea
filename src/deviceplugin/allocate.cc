#include "deviceplugin/allocate.h"

namespace hami::deviceplugin {

namespace {

void ApplyDeviceList(DeviceListAnswer list, ContainerAllocation& out) {
  out.envs = std::move(list.envs);
  for (DeviceListMount& m : list.mounts) {
    out.mounts.push_back({std::move(m.container_path), std::move(m.host_path), m.read_only});
  }
  out.annotations = std::move(list.annotations);
  out.cdi_devices = std::move(list.cdi_devices);
}

// What HAMi-core reads (spec hami-core.md): per-device memory limits with the "m" suffix for
// MiB, one SM share for all devices, the shared region file; and the device list for the
// runtime in the configured strategies (env, mounts, CDI annotations or CDI devices).
Status AddLimits(const ContainerDevices& devices, const std::string& vgpu_dir,
                 const std::string& cache_file, const AllocateSettings& settings,
                 ContainerAllocation& out) {
  std::string_view response_id = cache_file;  // a fresh random name per container answer
  if (response_id.ends_with(".cache")) response_id.remove_suffix(6);
  HAMI_ASSIGN_OR_RETURN(DeviceListAnswer list,
                        DeviceListFor(settings.device_list, out.device_uuids, response_id));
  ApplyDeviceList(std::move(list), out);
  std::map<std::string, std::string>& envs = out.envs;
  for (size_t i = 0; i < devices.size(); ++i) {
    envs["CUDA_DEVICE_MEMORY_LIMIT_" + std::to_string(i)] =
        std::to_string(devices[i].used_mem_mib) + "m";
  }
  envs["CUDA_DEVICE_SM_LIMIT"] = std::to_string(devices.front().used_cores);
  envs["CUDA_DEVICE_MEMORY_SHARED_CACHE"] = vgpu_dir + "/" + cache_file;
  if (settings.memory_scaling > 1.0) envs["CUDA_OVERSUBSCRIBE"] = "true";
  if (!settings.log_level.empty()) envs["LIBCUDA_LOG_LEVEL"] = settings.log_level;
  if (settings.disable_core_limit) envs["GPU_CORE_UTILIZATION_POLICY"] = "disable";
  return Status::Ok();
}

// The MIG devices of group `group` (nullopt: not a MIG container), recording their runtime
// identity in `entries`.
Result<std::optional<std::vector<std::string>>> MigDevicesOf(size_t group,
                                                             const ContainerDevices& devices,
                                                             std::vector<MigAllocation>& entries,
                                                             const MigInstanceLookup& lookup) {
  std::vector<MigAllocation*> mine(devices.size(), nullptr);
  size_t found = 0;
  for (MigAllocation& entry : entries) {
    if (static_cast<size_t>(entry.container_index) != group) continue;
    const size_t k = static_cast<size_t>(entry.device_index);
    if (k >= devices.size() || devices[k].uuid != entry.gpu_uuid) {
      return FailedPrecondition("MIG reservation for device " + std::to_string(k) + " names GPU " +
                                entry.gpu_uuid + ", which is not that device of the container");
    }
    mine[k] = &entry;
    ++found;
  }
  if (found == 0) return std::optional<std::vector<std::string>>();
  if (found != devices.size()) {
    return FailedPrecondition("the container has " + std::to_string(devices.size()) +
                              " devices but MIG reservations for " + std::to_string(found) +
                              "; MIG and shared GPUs cannot be mixed in one container");
  }
  std::vector<std::string> ids;
  for (MigAllocation* entry : mine) {
    const std::string what = entry->profile + " at slices " +
                             std::to_string(entry->placement.start) + "+" +
                             std::to_string(entry->placement.size) + " of GPU " + entry->gpu_uuid;
    Result<MigInstanceRef> instance =
        lookup ? lookup(entry->gpu_uuid, entry->profile, entry->placement)
               : Result<MigInstanceRef>(NotFound("no MIG lookup"));
    if (!instance.ok() && instance.status().code() == StatusCode::kNotFound) {
      return FailedPrecondition("no MIG device " + what +
                                " exists on this node (static MIG: create it, or let the "
                                "scheduler see the node's current instances)");
    }
    if (!instance.ok()) return instance.status();
    entry->mig_uuid = instance->uuid;
    entry->gpu_instance_id = instance->gpu_instance_id;
    entry->compute_instance_id = instance->compute_instance_id;
    ids.push_back(instance->uuid);
  }
  return std::optional<std::vector<std::string>>(std::move(ids));
}

}  // namespace

Result<AllocatePlan> PlanAllocate(const PodDevices& to_allocate,
                                  std::span<const std::vector<std::string>> requested,
                                  std::span<const PodContainer> containers,
                                  const std::string& pod_uid, const AllocateSettings& settings,
                                  const std::function<std::string()>& cache_file_name,
                                  std::span<const MigAllocation> mig_allocations,
                                  const MigInstanceLookup& mig_instances) {
  AllocatePlan plan;
  plan.remaining = to_allocate;
  plan.mig_allocations.assign(mig_allocations.begin(), mig_allocations.end());
  const std::string vgpu_dir = settings.hook_path + "/vgpu";
  for (size_t r = 0; r < requested.size(); ++r) {
    // kubelet allocates containers in order, so the first group still holding devices is
    // this request's container.
    size_t group = 0;
    while (group < plan.remaining.size() && plan.remaining[group].empty()) ++group;
    if (group == plan.remaining.size()) {
      return FailedPrecondition("container request " + std::to_string(r) +
                                ": no devices left to allocate in the pod's annotation");
    }
    const ContainerDevices devices = std::move(plan.remaining[group]);
    plan.remaining[group].clear();
    if (devices.size() != requested[r].size()) {
      return FailedPrecondition("device number not matched: kubelet asks " +
                                std::to_string(requested[r].size()) +
                                " device(s) for container request " + std::to_string(r) +
                                ", the scheduler decided " + std::to_string(devices.size()));
    }
    if (group >= containers.size()) {
      return FailedPrecondition("the annotation has devices for container " +
                                std::to_string(group) + " but the pod has " +
                                std::to_string(containers.size()) + " containers");
    }
    const PodContainer& container = containers[group];
    ContainerAllocation out;
    out.container_index = group;
    for (const ContainerDevice& d : devices) out.device_uuids.push_back(d.uuid);
    auto mig = MigDevicesOf(group, devices, plan.mig_allocations, mig_instances);
    if (!mig.ok()) return mig.status().WithContext("container request " + std::to_string(r));
    const std::optional<std::vector<std::string>>& mig_ids = *mig;
    const std::string cache_file = cache_file_name();
    if (mig_ids) {
      std::string_view response_id = cache_file;
      if (response_id.ends_with(".cache")) response_id.remove_suffix(6);
      HAMI_ASSIGN_OR_RETURN(DeviceListAnswer list,
                            DeviceListFor(settings.device_list, *mig_ids, response_id));
      ApplyDeviceList(std::move(list), out);
      plan.mig_realized = true;
      plan.containers.push_back(std::move(out));
      continue;
    }
    HAMI_RETURN_IF_ERROR(AddLimits(devices, vgpu_dir, cache_file, settings, out)
                             .WithContext("container request " + std::to_string(r)));
    out.host_cache_dir = vgpu_dir + "/containers/" + pod_uid + "_" + container.name;
    out.mounts.push_back({vgpu_dir + "/libvgpu.so", settings.host_libvgpu, true});
    out.mounts.push_back({vgpu_dir, out.host_cache_dir, false});
    out.mounts.push_back({"/tmp/vgpulock", "/tmp/vgpulock", false});
    if (!container.disable_control) {
      out.mounts.push_back({"/etc/ld.so.preload", vgpu_dir + "/ld.so.preload", true});
    }
    if (settings.license_present) {
      out.mounts.push_back({"/tmp/license", vgpu_dir + "/license", true});
      out.mounts.push_back({"/usr/bin/vgpuvalidator", vgpu_dir + "/vgpuvalidator", true});
    }
    plan.containers.push_back(std::move(out));
  }
  plan.all_allocated = true;
  for (const ContainerDevices& group : plan.remaining) {
    if (!group.empty()) plan.all_allocated = false;
  }
  return plan;
}

}  // namespace hami::deviceplugin
