#include "deviceplugin/mig_realize.h"

#include <spdlog/spdlog.h>

namespace hami::deviceplugin {

namespace {

std::string Slices(const MigPlacement& p) {
  return std::to_string(p.start) + "+" + std::to_string(p.size);
}

bool Overlap(const MigPlacement& a, const MigPlacement& b) {
  return a.start < b.start + b.size && b.start < a.start + a.size;
}

}  // namespace

Result<MigInstanceRef> MigRealizer::Realize(const std::string& gpu_uuid, const std::string& profile,
                                            const MigPlacement& placement) {
  std::lock_guard<std::mutex> lock(mu_);
  auto made = RealizeLocked(gpu_uuid, profile, placement);
  if (!made.ok()) {
    return made.status().WithContext("MIG " + profile + " at slices " + Slices(placement) +
                                     " of GPU " + gpu_uuid);
  }
  return made;
}

Result<MigInstanceRef> MigRealizer::RealizeLocked(const std::string& gpu_uuid,
                                                  const std::string& profile,
                                                  const MigPlacement& placement) {
  HAMI_ASSIGN_OR_RETURN(std::vector<nvml::NvmlGpu> gpus, driver_.Gpus());
  const nvml::NvmlGpu* gpu = nullptr;
  for (const nvml::NvmlGpu& g : gpus) {
    if (g.uuid == gpu_uuid) gpu = &g;
  }
  if (gpu == nullptr) return FailedPrecondition("the GPU is not on this node");
  if (!gpu->mig_enabled) return FailedPrecondition("the GPU is not in MIG mode");
  // Already there (restart, kubelet retrying Allocate, static MIG): adopt it.
  for (const nvml::NvmlMigInstance& mig : gpu->mig_instances) {
    if (mig.profile == profile && mig.placement == placement) {
      return MigInstanceRef{mig.uuid, mig.gpu_instance_id, mig.compute_instance_id};
    }
  }
  HAMI_ASSIGN_OR_RETURN(std::vector<nvml::NvmlMigProfileInfo> profiles,
                        driver_.MigProfiles(gpu->index));
  const nvml::NvmlMigProfileInfo* info = nullptr;
  for (const nvml::NvmlMigProfileInfo& p : profiles) {
    if (p.name == profile) info = &p;
  }
  if (info == nullptr) return FailedPrecondition("the GPU has no MIG profile " + profile);
  bool legal = false;
  for (const MigPlacement& p : info->placements) legal = legal || p == placement;
  if (!legal) {
    return FailedPrecondition("NVML allows no " + profile + " instance at slices " +
                              Slices(placement));
  }
  HAMI_ASSIGN_OR_RETURN(std::vector<nvml::NvmlGpuInstance> instances,
                        driver_.GpuInstances(gpu->index));
  std::optional<uint32_t> bare_gi;  // ours to finish: right profile and place, no CI yet
  for (const nvml::NvmlGpuInstance& gi : instances) {
    if (!Overlap(gi.placement, placement)) continue;
    if (gi.placement == placement && gi.profile_id == info->profile_id &&
        gi.compute_instance_ids.empty()) {
      bare_gi = gi.id;
      continue;
    }
    return FailedPrecondition("the placement is taken: GPU instance " + std::to_string(gi.id) +
                              " (profile id " + std::to_string(gi.profile_id) + ") holds slices " +
                              Slices(gi.placement) +
                              (gi.compute_instance_ids.empty() ? "" : " with compute instances"));
  }
  const std::string what = profile + " at slices " + Slices(placement) + " of GPU " + gpu_uuid;
  uint32_t gi_id = 0;
  if (bare_gi) {
    gi_id = *bare_gi;
    spdlog::info("mig adopt gpu_instance={} what=\"{}\"", gi_id, what);
  } else {
    HAMI_ASSIGN_OR_RETURN(gi_id,
                          driver_.CreateGpuInstance(gpu->index, info->profile_id, placement));
  }
  auto ci = driver_.CreateComputeInstance(gpu->index, gi_id);
  if (!ci.ok()) {
    if (!bare_gi) {
      if (Status undone = driver_.DestroyGpuInstance(gpu->index, gi_id); !undone.ok()) {
        spdlog::error("mig rollback failed gpu_instance={} what=\"{}\" error=\"{}\"", gi_id, what,
                      undone.message());
        return ci.status().WithContext("GPU instance " + std::to_string(gi_id) +
                                       " created but left behind (" + undone.message() + ")");
      }
    }
    return ci.status();
  }
  created_.push_back({gpu->index, gi_id, ci->compute_instance_id, !bare_gi, what});
  spdlog::info("mig created uuid={} gpu_instance={} compute_instance={} what=\"{}\"", ci->uuid,
               gi_id, ci->compute_instance_id, what);
  return MigInstanceRef{ci->uuid, ci->gpu_instance_id, ci->compute_instance_id};
}

Status MigRealizer::RollBack() {
  std::lock_guard<std::mutex> lock(mu_);
  Status first = Status::Ok();
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    Status undone = driver_.DestroyComputeInstance(it->gpu_index, it->gi_id, it->ci_id);
    if (undone.ok() && it->gi_created) {
      undone = driver_.DestroyGpuInstance(it->gpu_index, it->gi_id);
    }
    if (!undone.ok()) {
      spdlog::error("mig rollback failed gpu_instance={} what=\"{}\" error=\"{}\"", it->gi_id,
                    it->what, undone.message());
      if (first.ok()) first = undone.WithContext("destroy MIG " + it->what);
    } else {
      spdlog::info("mig destroyed gpu_instance={} what=\"{}\"", it->gi_id, it->what);
    }
  }
  created_.clear();
  return first;
}

void MigRealizer::Commit() {
  std::lock_guard<std::mutex> lock(mu_);
  created_.clear();
}

size_t MigRealizer::PendingCreated() const {
  std::lock_guard<std::mutex> lock(mu_);
  return created_.size();
}

}  // namespace hami::deviceplugin
