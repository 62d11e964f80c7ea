// Dynamic MIG through NVML: GPU and compute instances created and destroyed at the placement the
// scheduler chose (HAMi's "flexible MIG"). Declared in nvml.h.
#include <algorithm>
#include <cstring>

#include "nvml/nvml.h"

namespace hami::nvml {

namespace {

std::string PlacementText(MigPlacement placement) {
  return "placement start " + std::to_string(placement.start) + " size " +
         std::to_string(placement.size);
}

}  // namespace

Status Nvml::MigCheck(nvmlReturn_t code, const std::string& call) const {
  if (code == NVML_SUCCESS) return Status::Ok();
  Status s = Check(code, call);
  StatusCode mapped = StatusCode::kUnavailable;
  switch (code) {
    case NVML_ERROR_INSUFFICIENT_RESOURCES:
      mapped = StatusCode::kResourceExhausted;
      break;
    case NVML_ERROR_IN_USE:
      mapped = StatusCode::kFailedPrecondition;
      break;
    case NVML_ERROR_NO_PERMISSION:
      mapped = StatusCode::kPermissionDenied;
      break;
    case NVML_ERROR_NOT_FOUND:
      mapped = StatusCode::kNotFound;
      break;
    default:
      break;
  }
  return Status(mapped, s.message());
}

Result<Nvml::MigGpu> Nvml::OpenMigGpu(uint32_t gpu_index) const {
  MigGpu gpu;
  gpu.where = "GPU " + std::to_string(gpu_index) + ": ";
  if (!missing_dynamic_mig_symbol_.empty() || get_mig_mode_ == nullptr) {
    return Status(StatusCode::kUnavailable,
                  gpu.where + "dynamic MIG needs a newer driver: NVML has no " +
                      (get_mig_mode_ == nullptr ? std::string("nvmlDeviceGetMigMode")
                                                : missing_dynamic_mig_symbol_));
  }
  std::string uuid, name;
  HAMI_RETURN_IF_ERROR(Identify(gpu_index, &gpu.device, &uuid, &name));
  gpu.where = "GPU " + std::to_string(gpu_index) + " (" + uuid + "): ";
  unsigned int current = 0, pending = 0;
  const nvmlReturn_t mode = get_mig_mode_(gpu.device, &current, &pending);
  if (mode == NVML_ERROR_NOT_SUPPORTED ||
      (mode == NVML_SUCCESS && current != kNvmlDeviceMigEnable)) {
    return FailedPrecondition(gpu.where + "not in MIG mode" +
                              (mode == NVML_ERROR_NOT_SUPPORTED ? " (the GPU has no MIG)"
                               : pending == kNvmlDeviceMigEnable
                                   ? " (enabled, pending a GPU reset)"
                                   : " (enable it with nvidia-smi -mig 1)"));
  }
  HAMI_RETURN_IF_ERROR(Check(mode, gpu.where + "nvmlDeviceGetMigMode"));
  return gpu;
}

Result<nvmlGpuInstanceProfileInfo_t> Nvml::GiProfileOf(nvmlDevice_t device,
                                                       const std::string& where,
                                                       unsigned int unique_id) const {
  // As NVIDIA's mig-parted: probe the indexes for the one whose info.id is the unique id.
  for (unsigned int index = 0; index < kNvmlGpuInstanceProfileCount; ++index) {
    nvmlGpuInstanceProfileInfo_t info{};
    if (get_gi_profile_info_(device, index, &info) == NVML_SUCCESS && info.id == unique_id) {
      info.id = index;
      return info;
    }
  }
  nvmlGpuInstanceProfileInfo_t info{};
  HAMI_RETURN_IF_ERROR(
      MigCheck(get_gi_profile_info_(device, unique_id, &info),
               where + "nvmlDeviceGetGpuInstanceProfileInfo(" + std::to_string(unique_id) + ")"));
  info.id = unique_id;
  return info;
}

Result<std::vector<NvmlMigProfileInfo>> Nvml::MigProfiles(uint32_t gpu_index) {
  HAMI_ASSIGN_OR_RETURN(MigGpu gpu, OpenMigGpu(gpu_index));
  std::vector<NvmlMigProfileInfo> profiles;
  for (unsigned int id = 0; id < kNvmlGpuInstanceProfileCount; ++id) {
    nvmlGpuInstanceProfileInfo_t info{};
    const nvmlReturn_t code = get_gi_profile_info_(gpu.device, id, &info);
    // Ids this driver does not know or this GPU lacks.
    if (code == NVML_ERROR_INVALID_ARGUMENT || code == NVML_ERROR_NOT_SUPPORTED) continue;
    const std::string call = gpu.where + "GPU instance profile " + std::to_string(id) + ": ";
    HAMI_RETURN_IF_ERROR(MigCheck(code, call + "nvmlDeviceGetGpuInstanceProfileInfo"));
    NvmlMigProfileInfo profile;
    profile.profile_id = id;
    profile.name = MigProfileName(id, info.sliceCount, 0, info.memorySizeMB);
    profile.slice_count = static_cast<int32_t>(info.sliceCount);
    profile.instance_count = static_cast<int32_t>(info.instanceCount);
    profile.memory_mib = static_cast<int32_t>(info.memorySizeMB);
    profile.multiprocessor_count = static_cast<int32_t>(info.multiprocessorCount);
    unsigned int count = 0;
    HAMI_RETURN_IF_ERROR(MigCheck(get_gi_placements_(gpu.device, info.id, nullptr, &count),
                                  call + "nvmlDeviceGetGpuInstancePossiblePlacements_v2"));
    std::vector<nvmlGpuInstancePlacement_t> placements(count);
    if (count > 0) {
      HAMI_RETURN_IF_ERROR(
          MigCheck(get_gi_placements_(gpu.device, info.id, placements.data(), &count),
                   call + "nvmlDeviceGetGpuInstancePossiblePlacements_v2"));
    }
    placements.resize(std::min<size_t>(count, placements.size()));
    for (const nvmlGpuInstancePlacement_t& p : placements) {
      profile.placements.push_back(
          MigPlacement{static_cast<int32_t>(p.start), static_cast<int32_t>(p.size)});
    }
    profiles.push_back(std::move(profile));
  }
  return profiles;
}

Result<std::vector<NvmlGpuInstance>> Nvml::GpuInstances(uint32_t gpu_index) {
  HAMI_ASSIGN_OR_RETURN(MigGpu gpu, OpenMigGpu(gpu_index));
  std::vector<NvmlGpuInstance> out;
  for (unsigned int id = 0; id < kNvmlGpuInstanceProfileCount; ++id) {
    nvmlGpuInstanceProfileInfo_t info{};
    const nvmlReturn_t code = get_gi_profile_info_(gpu.device, id, &info);
    if (code == NVML_ERROR_INVALID_ARGUMENT || code == NVML_ERROR_NOT_SUPPORTED) continue;
    const std::string call = gpu.where + "GPU instance profile " + std::to_string(id) + ": ";
    HAMI_RETURN_IF_ERROR(MigCheck(code, call + "nvmlDeviceGetGpuInstanceProfileInfo"));
    std::vector<nvmlGpuInstance_t> gis(std::max(1u, info.instanceCount));
    auto count = static_cast<unsigned int>(gis.size());
    HAMI_RETURN_IF_ERROR(MigCheck(get_gis_(gpu.device, info.id, gis.data(), &count),
                                  call + "nvmlDeviceGetGpuInstances"));
    gis.resize(std::min<size_t>(count, gis.size()));
    for (nvmlGpuInstance_t gi : gis) {
      nvmlGpuInstanceInfo_t gi_info{};
      HAMI_RETURN_IF_ERROR(MigCheck(get_gi_info_(gi, &gi_info), call + "nvmlGpuInstanceGetInfo"));
      NvmlGpuInstance instance;
      instance.id = gi_info.id;
      instance.profile_id = id;
      instance.placement = MigPlacement{static_cast<int32_t>(gi_info.placement.start),
                                        static_cast<int32_t>(gi_info.placement.size)};
      for (unsigned int ci_profile = 0; ci_profile < kNvmlComputeInstanceProfileCount;
           ++ci_profile) {
        nvmlComputeInstanceProfileInfo_t ci_info{};
        if (get_ci_profile_info_(gi, ci_profile, kNvmlComputeInstanceEngineProfileShared,
                                 &ci_info) != NVML_SUCCESS) {
          continue;  // a compute profile this GPU instance does not offer
        }
        std::vector<nvmlComputeInstance_t> cis(std::max(1u, ci_info.instanceCount));
        auto ci_count = static_cast<unsigned int>(cis.size());
        HAMI_RETURN_IF_ERROR(MigCheck(get_cis_(gi, ci_info.id, cis.data(), &ci_count),
                                      gpu.where + "GPU instance " + std::to_string(gi_info.id) +
                                          ": nvmlGpuInstanceGetComputeInstances"));
        for (unsigned int i = 0; i < ci_count && i < cis.size(); ++i) {
          nvmlComputeInstanceInfo_t ci{};
          HAMI_RETURN_IF_ERROR(MigCheck(get_ci_info_(cis[i], &ci),
                                        gpu.where + "GPU instance " + std::to_string(gi_info.id) +
                                            ": nvmlComputeInstanceGetInfo_v2"));
          instance.compute_instance_ids.push_back(ci.id);
        }
      }
      std::sort(instance.compute_instance_ids.begin(), instance.compute_instance_ids.end());
      out.push_back(std::move(instance));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const NvmlGpuInstance& a, const NvmlGpuInstance& b) { return a.id < b.id; });
  return out;
}

Result<uint32_t> Nvml::CreateGpuInstance(uint32_t gpu_index, uint32_t profile_id,
                                         MigPlacement placement) {
  HAMI_ASSIGN_OR_RETURN(MigGpu gpu, OpenMigGpu(gpu_index));
  const std::string call = gpu.where + "nvmlDeviceCreateGpuInstanceWithPlacement(profile " +
                           std::to_string(profile_id) + ", " + PlacementText(placement) + ")";
  if (placement.start < 0 || placement.size <= 0) {
    return InvalidArgument(call + ": not a placement");
  }
  // The create call takes the profile's unique id, which its info reports.
  nvmlGpuInstanceProfileInfo_t profile{};
  const nvmlReturn_t known = get_gi_profile_info_(gpu.device, profile_id, &profile);
  if (known == NVML_ERROR_INVALID_ARGUMENT || known == NVML_ERROR_NOT_SUPPORTED) {
    return InvalidArgument(Check(known, call + ": nvmlDeviceGetGpuInstanceProfileInfo").message() +
                           " (the GPU has no such profile)");
  }
  HAMI_RETURN_IF_ERROR(MigCheck(known, call + ": nvmlDeviceGetGpuInstanceProfileInfo"));
  const nvmlGpuInstancePlacement_t nvml_placement{static_cast<unsigned int>(placement.start),
                                                  static_cast<unsigned int>(placement.size)};
  nvmlGpuInstance_t gi = nullptr;
  const nvmlReturn_t code = create_gi_(gpu.device, profile.id, &nvml_placement, &gi);
  if (code == NVML_ERROR_INVALID_ARGUMENT) {
    return InvalidArgument(Check(code, call).message() +
                           " (not a placement NVML allows for this profile)");
  }
  if (code == NVML_ERROR_INSUFFICIENT_RESOURCES) {
    return Status(StatusCode::kResourceExhausted,
                  Check(code, call).message() + " (slices of the placement are taken)");
  }
  HAMI_RETURN_IF_ERROR(MigCheck(code, call));
  nvmlGpuInstanceInfo_t info{};
  if (Status s = MigCheck(get_gi_info_(gi, &info), call + ": nvmlGpuInstanceGetInfo"); !s.ok()) {
    destroy_gi_(gi);  // leave nothing half-made behind
    return s;
  }
  return info.id;
}

Result<nvmlGpuInstance_t> Nvml::FindGpuInstance(const MigGpu& gpu, uint32_t gi_id) const {
  nvmlGpuInstance_t gi = nullptr;
  const nvmlReturn_t code = get_gi_by_id_(gpu.device, gi_id, &gi);
  const std::string call =
      gpu.where + "nvmlDeviceGetGpuInstanceById(" + std::to_string(gi_id) + ")";
  if (code == NVML_ERROR_NOT_FOUND || code == NVML_ERROR_INVALID_ARGUMENT) {
    return NotFound(call + ": no GPU instance " + std::to_string(gi_id));
  }
  HAMI_RETURN_IF_ERROR(MigCheck(code, call));
  return gi;
}

Status Nvml::DestroyGpuInstance(uint32_t gpu_index, uint32_t gi_id) {
  HAMI_ASSIGN_OR_RETURN(MigGpu gpu, OpenMigGpu(gpu_index));
  HAMI_ASSIGN_OR_RETURN(nvmlGpuInstance_t gi, FindGpuInstance(gpu, gi_id));
  const nvmlReturn_t code = destroy_gi_(gi);
  const std::string call =
      gpu.where + "nvmlGpuInstanceDestroy(GPU instance " + std::to_string(gi_id) + ")";
  if (code == NVML_ERROR_IN_USE) {
    return FailedPrecondition(Check(code, call).message() +
                              " (compute instances or processes still use it)");
  }
  return MigCheck(code, call);
}

Result<NvmlMigInstance> Nvml::CreateComputeInstance(uint32_t gpu_index, uint32_t gi_id) {
  HAMI_ASSIGN_OR_RETURN(MigGpu gpu, OpenMigGpu(gpu_index));
  HAMI_ASSIGN_OR_RETURN(nvmlGpuInstance_t gi, FindGpuInstance(gpu, gi_id));
  const std::string where = gpu.where + "GPU instance " + std::to_string(gi_id) + ": ";
  nvmlGpuInstanceInfo_t gi_info{};
  HAMI_RETURN_IF_ERROR(MigCheck(get_gi_info_(gi, &gi_info), where + "nvmlGpuInstanceGetInfo"));
  HAMI_ASSIGN_OR_RETURN(nvmlGpuInstanceProfileInfo_t gi_profile,
                        GiProfileOf(gpu.device, where, gi_info.profileId));
  // The compute profile that takes every slice of the GPU instance.
  std::optional<unsigned int> full;
  for (unsigned int id = 0; id < kNvmlComputeInstanceProfileCount && !full; ++id) {
    nvmlComputeInstanceProfileInfo_t info{};
    if (get_ci_profile_info_(gi, id, kNvmlComputeInstanceEngineProfileShared, &info) ==
            NVML_SUCCESS &&
        info.sliceCount == gi_profile.sliceCount) {
      full = info.id;  // create and list take the id the info reports
    }
  }
  if (!full) {
    return Status(StatusCode::kUnavailable, where + "no compute instance profile takes its " +
                                                std::to_string(gi_profile.sliceCount) + " slices");
  }
  nvmlComputeInstance_t ci = nullptr;
  HAMI_RETURN_IF_ERROR(MigCheck(
      create_ci_(gi, *full, &ci),
      where + "nvmlGpuInstanceCreateComputeInstance(profile " + std::to_string(*full) + ")"));
  nvmlComputeInstanceInfo_t ci_info{};
  Status read = MigCheck(get_ci_info_(ci, &ci_info), where + "nvmlComputeInstanceGetInfo_v2");
  // The MIG device the new compute instance made, read as discovery reads static ones.
  if (read.ok()) {
    unsigned int whole_sms = 0, max_slices = 0;
    for (unsigned int id = 0; id < kNvmlGpuInstanceProfileCount; ++id) {
      nvmlGpuInstanceProfileInfo_t info{};
      if (get_gi_profile_info_(gpu.device, id, &info) != NVML_SUCCESS) continue;
      if (info.sliceCount > max_slices) {
        max_slices = info.sliceCount;
        whole_sms = info.multiprocessorCount;
      }
    }
    unsigned int count = 0;
    read =
        MigCheck(get_max_mig_count_(gpu.device, &count), where + "nvmlDeviceGetMaxMigDeviceCount");
    for (unsigned int i = 0; read.ok() && i < count; ++i) {
      nvmlDevice_t mig = nullptr;
      if (get_mig_handle_(gpu.device, i, &mig) != NVML_SUCCESS) continue;
      unsigned int mig_gi = 0, mig_ci = 0;
      if (get_gi_id_(mig, &mig_gi) != NVML_SUCCESS || get_ci_id_(mig, &mig_ci) != NVML_SUCCESS ||
          mig_gi != gi_id || mig_ci != ci_info.id) {
        continue;
      }
      auto instance = ReadMigInstance(gpu.device, mig, whole_sms, max_slices);
      if (instance.ok()) return instance;
      read = Status(instance.status().code(),
                    where + "MIG device " + std::to_string(i) + ": " + instance.status().message());
    }
    if (read.ok()) {
      read = Status(StatusCode::kUnavailable,
                    where + "no MIG device for compute instance " + std::to_string(ci_info.id));
    }
  }
  destroy_ci_(ci);  // a compute instance nobody can be handed is not left behind
  return read;
}

Status Nvml::DestroyComputeInstance(uint32_t gpu_index, uint32_t gi_id, uint32_t ci_id) {
  HAMI_ASSIGN_OR_RETURN(MigGpu gpu, OpenMigGpu(gpu_index));
  HAMI_ASSIGN_OR_RETURN(nvmlGpuInstance_t gi, FindGpuInstance(gpu, gi_id));
  const std::string where = gpu.where + "GPU instance " + std::to_string(gi_id) +
                            ", compute instance " + std::to_string(ci_id) + ": ";
  for (unsigned int profile = 0; profile < kNvmlComputeInstanceProfileCount; ++profile) {
    nvmlComputeInstanceProfileInfo_t info{};
    if (get_ci_profile_info_(gi, profile, kNvmlComputeInstanceEngineProfileShared, &info) !=
        NVML_SUCCESS) {
      continue;
    }
    std::vector<nvmlComputeInstance_t> cis(std::max(1u, info.instanceCount));
    auto count = static_cast<unsigned int>(cis.size());
    HAMI_RETURN_IF_ERROR(MigCheck(get_cis_(gi, info.id, cis.data(), &count),
                                  where + "nvmlGpuInstanceGetComputeInstances"));
    for (unsigned int i = 0; i < count && i < cis.size(); ++i) {
      nvmlComputeInstanceInfo_t ci{};
      HAMI_RETURN_IF_ERROR(
          MigCheck(get_ci_info_(cis[i], &ci), where + "nvmlComputeInstanceGetInfo_v2"));
      if (ci.id != ci_id) continue;
      const nvmlReturn_t code = destroy_ci_(cis[i]);
      if (code == NVML_ERROR_IN_USE) {
        return FailedPrecondition(Check(code, where + "nvmlComputeInstanceDestroy").message() +
                                  " (processes still use it)");
      }
      return MigCheck(code, where + "nvmlComputeInstanceDestroy");
    }
  }
  return NotFound(where + "no such compute instance");
}

}  // namespace hami::nvml
