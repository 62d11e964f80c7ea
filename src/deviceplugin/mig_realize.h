// Dynamic MIG at Allocate (issue 17): the MIG device the scheduler reserved in
// hami.io/vgpu-mig-allocations (GPU, profile, placement) is made real here. An instance that
// already exists at the placement with the reserved profile (a plugin restart, kubelet retrying
// Allocate, static MIG) is adopted; otherwise the GPU instance is created at exactly that
// placement with one compute instance over all of its slices. What one Allocate created is
// remembered until it commits, so a failure later in the same Allocate (another container's
// reservation, the annotation write) destroys it again: nothing is left half-created.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/device.h"
#include "deviceplugin/allocate.h"
#include "nvml/nvml.h"

namespace hami::deviceplugin {

// The NVML calls dynamic MIG needs (see nvml::Nvml for their contracts and error codes); an
// interface so tests can put a failing driver call in front of the fake NVML.
class MigDriver {
 public:
  virtual ~MigDriver() = default;
  virtual Result<std::vector<nvml::NvmlGpu>> Gpus() = 0;
  virtual Result<std::vector<nvml::NvmlMigProfileInfo>> MigProfiles(uint32_t gpu_index) = 0;
  virtual Result<std::vector<nvml::NvmlGpuInstance>> GpuInstances(uint32_t gpu_index) = 0;
  virtual Result<uint32_t> CreateGpuInstance(uint32_t gpu_index, uint32_t profile_id,
                                             MigPlacement placement) = 0;
  virtual Status DestroyGpuInstance(uint32_t gpu_index, uint32_t gi_id) = 0;
  virtual Result<nvml::NvmlMigInstance> CreateComputeInstance(uint32_t gpu_index,
                                                              uint32_t gi_id) = 0;
  virtual Status DestroyComputeInstance(uint32_t gpu_index, uint32_t gi_id, uint32_t ci_id) = 0;
};

// MigDriver over the real NVML wrapper. `nvml` must outlive it.
class NvmlMigDriver : public MigDriver {
 public:
  explicit NvmlMigDriver(nvml::Nvml& nvml) : nvml_(nvml) {}
  Result<std::vector<nvml::NvmlGpu>> Gpus() override { return nvml_.Gpus(); }
  Result<std::vector<nvml::NvmlMigProfileInfo>> MigProfiles(uint32_t gpu_index) override {
    return nvml_.MigProfiles(gpu_index);
  }
  Result<std::vector<nvml::NvmlGpuInstance>> GpuInstances(uint32_t gpu_index) override {
    return nvml_.GpuInstances(gpu_index);
  }
  Result<uint32_t> CreateGpuInstance(uint32_t gpu_index, uint32_t profile_id,
                                     MigPlacement placement) override {
    return nvml_.CreateGpuInstance(gpu_index, profile_id, placement);
  }
  Status DestroyGpuInstance(uint32_t gpu_index, uint32_t gi_id) override {
    return nvml_.DestroyGpuInstance(gpu_index, gi_id);
  }
  Result<nvml::NvmlMigInstance> CreateComputeInstance(uint32_t gpu_index, uint32_t gi_id) override {
    return nvml_.CreateComputeInstance(gpu_index, gi_id);
  }
  Status DestroyComputeInstance(uint32_t gpu_index, uint32_t gi_id, uint32_t ci_id) override {
    return nvml_.DestroyComputeInstance(gpu_index, gi_id, ci_id);
  }

 private:
  nvml::Nvml& nvml_;
};

// Thread-safe (one mutex); the Allocator uses it one Allocate at a time: Realize for each
// reserved device, then Commit on success or RollBack on failure.
class MigRealizer {
 public:
  // `driver` must outlive the realizer.
  explicit MigRealizer(MigDriver& driver) : driver_(driver) {}

  // The MIG device of `profile` at `placement` (memory slices) on GPU `gpu_uuid`: adopted when
  // one exists there with that profile (also a GPU instance of that profile at that placement
  // without a compute instance, left by a crash between the two creations: its compute
  // instance is created), else created. Failure (kFailedPrecondition unless NVML said
  // otherwise; the message names the GPU, the profile and the placement): the GPU is not on
  // this node or not in MIG mode, it has no such profile or the placement is not one NVML
  // allows for it, another instance holds any of the slices, an NVML call failed. A GPU
  // instance created by this call whose compute instance cannot be created is destroyed again
  // before returning.
  Result<MigInstanceRef> Realize(const std::string& gpu_uuid, const std::string& profile,
                                 const MigPlacement& placement);

  // Destroys, newest first, every instance created since the last Commit/RollBack (compute
  // instance, then GPU instance; an adopted one is never touched). Returns the first failure;
  // the others are still attempted, and a failure is logged with what was left.
  Status RollBack();

  // Keeps what was created (the pod's annotation now names it).
  void Commit();

  // How many instances this realizer created since the last Commit/RollBack (tests, logs).
  size_t PendingCreated() const;

 private:
  struct Created {
    uint32_t gpu_index = 0;
    uint32_t gi_id = 0;
    uint32_t ci_id = 0;
    bool gi_created = false;  // false: the GPU instance was adopted, only the CI is ours
    std::string what;         // "<profile> at slices s+n of GPU <uuid>", for logs
  };
  Result<MigInstanceRef> RealizeLocked(const std::string& gpu_uuid, const std::string& profile,
                                       const MigPlacement& placement);

  MigDriver& driver_;
  mutable std::mutex mu_;
  std::vector<Created> created_;  // GUARDED_BY(mu_)
};

}  // namespace hami::deviceplugin
