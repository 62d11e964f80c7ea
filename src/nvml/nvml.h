// NVML opened at run time (dlopen of libnvidia-ml.so.1): the GPUs of this node as NVML reports
// them. Every failure (no library, a missing symbol, no driver, a device that stops
// answering) is an error value naming the call and NVML's own message, never a crash.
// One per plugin: Gpus() and WaitForEvent() may run on different threads (NVML is
// thread-safe), WatchHealthEvents() must come before WaitForEvent().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/device.h"
#include "nvml/nvml_api.h"

namespace hami::nvml {

// One MIG device (a compute instance inside a GPU instance) that exists on a GPU.
struct NvmlMigInstance {
  std::string uuid;  // "MIG-..."
  uint32_t gpu_instance_id = 0;
  uint32_t compute_instance_id = 0;
  // The GPU instance's profile, named as NVIDIA's tools name it ("1g.10gb"; "1c.2g.20gb" when
  // the compute instance takes fewer slices than its GPU instance).
  std::string profile;
  int32_t memory_mib = 0;  // the profile's memory
  // The GPU instance's slices (NVML's sliceCount, the "3" of "3g.40gb"); the memory slices it
  // occupies are placement.size (4 for a 3g.40gb on an A100).
  int32_t slice_count = 0;
  int32_t core_percent = 0;  // ceil(instance SMs * 100 / SMs of the whole GPU)
  MigPlacement placement;    // of the GPU instance

  bool operator==(const NvmlMigInstance&) const = default;
};

struct NvmlGpu {
  uint32_t index = 0;
  std::string uuid;
  std::string name;
  // Total memory in bytes; nullopt when NVML answers NOT_SUPPORTED (unified-memory parts).
  std::optional<uint64_t> memory_bytes;
  std::string bus_id;  // as NVML writes it, e.g. "00000000:3B:00.0"
  bool mig_enabled = false;
  // When MIG is enabled: the MIG devices that exist now (static MIG: created by the admin),
  // in NVML's MIG device index order.
  std::vector<NvmlMigInstance> mig_instances;
  // One line per MIG query that failed (that MIG device is left out of mig_instances), or why
  // the MIG devices could not be listed at all (an NVML without the MIG calls).
  std::vector<std::string> mig_errors;
};

// A MIG profile's name as NVIDIA's tools write it: "<g>g.<gb>gb" with g the GPU instance's
// slices and gb = ceil(memory_mib / 1024); "<c>c." in front when the compute instance has fewer
// slices than its GPU instance ("1c.2g.20gb"); "+me" after it for the media-extension profile
// (NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, "1g.10gb+me"). Pure.
std::string MigProfileName(unsigned int gi_profile_id, unsigned int gi_slices,
                           unsigned int ci_slices, uint64_t memory_mib);

// A GPU instance profile a MIG-mode GPU allows, and where its instances may start
// (nvmlDeviceGetGpuInstanceProfileInfo + nvmlDeviceGetGpuInstancePossiblePlacements_v2).
struct NvmlMigProfileInfo {
  // NVML_GPU_INSTANCE_PROFILE_* (the index nvmlDeviceGetGpuInstanceProfileInfo takes: 0 for
  // 1g, 2 for 3g), what CreateGpuInstance takes; the wrapper passes NVML the profile's unique
  // id (info.id, 19 for an A100's 1g) where NVML's calls want that.
  uint32_t profile_id = 0;
  std::string name;         // MigProfileName: "3g.20gb", "1g.10gb+me"
  int32_t slice_count = 0;  // GPU (compute) slices, the "3" of "3g.20gb"
  int32_t instance_count = 0;
  int32_t memory_mib = 0;
  int32_t multiprocessor_count = 0;
  std::vector<MigPlacement> placements;  // memory slices, in NVML's order

  bool operator==(const NvmlMigProfileInfo&) const = default;
};

// A GPU instance that exists on a GPU, with the ids of its compute instances.
struct NvmlGpuInstance {
  uint32_t id = 0;
  uint32_t profile_id = 0;  // NVML_GPU_INSTANCE_PROFILE_*, as NvmlMigProfileInfo::profile_id
  MigPlacement placement;
  std::vector<uint32_t> compute_instance_ids;  // ascending

  bool operator==(const NvmlGpuInstance&) const = default;
};

// What a GPU is doing now (hami-monitor's host metrics).
struct NvmlGpuUsage {
  uint32_t index = 0;
  std::string uuid;
  std::string name;
  // Bytes; nullopt when NVML answers NOT_SUPPORTED (unified-memory parts).
  std::optional<uint64_t> memory_used_bytes;
  // nvmlDeviceGetUtilizationRates, percent over NVML's last sample period; nullopt when the
  // GPU or the driver does not report it (MIG-enabled GPUs answer NOT_SUPPORTED).
  std::optional<uint32_t> gpu_utilization_percent;
  std::optional<uint32_t> memory_utilization_percent;
};

// One NVML event: the device (nullopt when NVML names none or one we do not know, which a
// health check must treat as "every device"), its type and data (the Xid).
struct NvmlEvent {
  std::optional<uint32_t> index;
  uint64_t type = 0;
  uint64_t data = 0;
};

// How GPU `from` reaches GPU `to`, as NVML reports it from `from`'s side.
struct NvmlLink {
  // nvmlDeviceGetTopologyCommonAncestor (NVML_TOPOLOGY_*); nullopt when NVML answers
  // NOT_SUPPORTED for the pair.
  std::optional<int> ancestor_level;
  // Active NVLinks of `from` whose far end is `to`; when there are none but both GPUs have
  // active links to NVSwitches, the smaller of their NVSwitch link counts (NVSwitch systems).
  int nvlinks = 0;

  bool operator==(const NvmlLink&) const = default;
};

// Every pair of GPUs NVML reports: links[from][to] (the diagonal is unused), by NVML index.
struct NvmlTopology {
  std::vector<std::string> uuids;
  std::vector<std::vector<NvmlLink>> links;
};

class Nvml {
 public:
  // Opens `library` and calls nvmlInit_v2. Failure: kUnavailable (library or symbol missing,
  // init failed) with the reason.
  static Result<std::unique_ptr<Nvml>> Open(const std::string& library = "libnvidia-ml.so.1");
  ~Nvml();  // nvmlShutdown, dlclose
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  // Every GPU NVML reports, with its MIG devices when its current MIG mode is on. Failure of
  // a GPU's basic queries (handle, UUID, name, memory, PCI) fails the call, naming the GPU; a
  // failed MIG query only leaves that MIG device out (NvmlGpu::mig_errors says why), and an
  // NVML without the MIG calls (old driver) reports no MIG devices.
  Result<std::vector<NvmlGpu>> Gpus();

  // Index, UUID, name, memory used and utilisation of every GPU NVML reports. A GPU whose
  // handle, UUID or name cannot be read fails the call, naming it; NOT_SUPPORTED memory or
  // utilisation leaves that value unset.
  Result<std::vector<NvmlGpuUsage>> Usage();

  // The PCIe and NVLink topology between every pair of GPUs (HAMi's link matrix). NVLink
  // queries a GPU or link does not support (NOT_SUPPORTED, INVALID_ARGUMENT: no such link) count
  // as no link. Failure: kUnavailable when NVML lacks the topology calls, or a GPU's handle,
  // UUID or PCI info or a topology query fails otherwise (the message names the GPUs and call).
  Result<NvmlTopology> Topology();

  // Dynamic MIG (nvml_mig.cc). `gpu_index` is NVML's index. Every failure names the GPU (index
  // and UUID), the call and, for creation, the profile and placement. All of them fail with
  // kUnavailable when this NVML lacks a dynamic-MIG call (drivers before R470), with
  // kFailedPrecondition when the GPU is not in MIG mode (checked first: NVML's own answer,
  // NOT_SUPPORTED or INVALID_ARGUMENT by call, says less), and with kUnavailable naming NVML's
  // error otherwise. Creating and destroying need root (NO_PERMISSION otherwise). Thread-safe as
  // NVML is; two callers racing for one placement get one instance and one kResourceExhausted.

  // Every GPU instance profile the GPU supports with its legal placements (profiles NVML does
  // not know or the GPU lacks are left out). Not MIG mode: kFailedPrecondition.
  Result<std::vector<NvmlMigProfileInfo>> MigProfiles(uint32_t gpu_index);

  // Every GPU instance on the GPU (all profiles), with its compute instances, by id.
  Result<std::vector<NvmlGpuInstance>> GpuInstances(uint32_t gpu_index);

  // Creates a GPU instance of `profile_id` (NVML_GPU_INSTANCE_PROFILE_*, as
  // NvmlMigProfileInfo::profile_id) at exactly `placement` (memory slices). Returns its
  // id. Failure: kInvalidArgument when the placement is not one NVML allows for the profile
  // (NVML's INVALID_ARGUMENT); kResourceExhausted when slices of it are taken
  // (INSUFFICIENT_RESOURCES); nothing is created on failure.
  Result<uint32_t> CreateGpuInstance(uint32_t gpu_index, uint32_t profile_id,
                                     MigPlacement placement);

  // Destroys GPU instance `gi_id`. Failure: kNotFound when there is none with that id;
  // kFailedPrecondition when compute instances (or processes) still use it (NVML's IN_USE).
  Status DestroyGpuInstance(uint32_t gpu_index, uint32_t gi_id);

  // Creates a compute instance that takes all of GPU instance `gi_id`'s slices (shared engines)
  // and returns the MIG device it makes (its UUID is what a container is handed). Failure:
  // kNotFound (no such GPU instance), kResourceExhausted (a compute instance already takes the
  // slices); when the MIG device cannot be read back the compute instance is destroyed again.
  Result<NvmlMigInstance> CreateComputeInstance(uint32_t gpu_index, uint32_t gi_id);

  // Destroys compute instance `ci_id` of GPU instance `gi_id`. Failure: kNotFound when either
  // does not exist; kFailedPrecondition when processes use it (IN_USE).
  Status DestroyComputeInstance(uint32_t gpu_index, uint32_t gi_id, uint32_t ci_id);

  // Subscribes every GPU to Xid-critical and ECC events. A GPU that does not support events
  // is skipped (it then never turns unhealthy through events).
  Status WatchHealthEvents();
  // The next event, or nullopt when none arrived within `timeout`.
  Result<std::optional<NvmlEvent>> WaitForEvent(unsigned int timeout_ms);

 private:
  Nvml() = default;
  Status Check(nvmlReturn_t code, const std::string& call) const;
  // Memory of GPU `index`; nullopt when NVML answers NOT_SUPPORTED (unified memory).
  Result<std::optional<nvmlMemory_t>> Memory(nvmlDevice_t device, unsigned int index) const;
  // Handle, UUID and name of GPU `index`; errors name the GPU and the call.
  Status Identify(unsigned int index, nvmlDevice_t* device, std::string* uuid,
                  std::string* name) const;
  // The far ends of `device`'s active NVLinks: PCI bus ids of GPUs (normalised) and the count
  // of links to NVSwitches.
  struct NvLinkEnds {
    std::vector<std::string> gpu_bus_ids;
    int switch_links = 0;
  };
  Result<NvLinkEnds> ReadNvLinks(nvmlDevice_t device, const std::string& where) const;
  // Fills gpu->mig_instances / gpu->mig_errors for the MIG-enabled GPU `device`.
  void ReadMigInstances(nvmlDevice_t device, NvmlGpu* gpu) const;
  // One MIG device of `parent`; `whole_sms` / `max_slices` describe the parent's largest GPU
  // instance profile (0 when unknown).
  Result<NvmlMigInstance> ReadMigInstance(nvmlDevice_t parent, nvmlDevice_t mig,
                                          unsigned int whole_sms, unsigned int max_slices) const;

  // Dynamic MIG helpers (nvml_mig.cc): the GPU's handle, "GPU i (uuid): " and its MIG mode,
  // checked; the GPU instance `gi_id`.
  struct MigGpu {
    nvmlDevice_t device = nullptr;
    std::string where;
  };
  Result<MigGpu> OpenMigGpu(uint32_t gpu_index) const;
  Result<nvmlGpuInstance_t> FindGpuInstance(const MigGpu& gpu, uint32_t gi_id) const;
  // The GPU instance profile of `device` whose unique id is `unique_id` (what
  // nvmlGpuInstanceInfo_t.profileId reports: 19 for an A100's 1g, whose index is 0), with
  // info.id set to its index (what nvmlDeviceGetGpuInstanceProfileInfo takes); the id is tried
  // as an index when no profile reports it. `where` prefixes errors.
  Result<nvmlGpuInstanceProfileInfo_t> GiProfileOf(nvmlDevice_t device, const std::string& where,
                                                   unsigned int unique_id) const;
  // Status for a failed dynamic-MIG call, its code chosen from NVML's.
  Status MigCheck(nvmlReturn_t code, const std::string& call) const;

  void* handle_ = nullptr;
  nvmlShutdown_fn shutdown_ = nullptr;
  nvmlErrorString_fn error_string_ = nullptr;
  nvmlDeviceGetCount_v2_fn get_count_ = nullptr;
  nvmlDeviceGetHandleByIndex_v2_fn get_handle_ = nullptr;
  nvmlDeviceGetUUID_fn get_uuid_ = nullptr;
  nvmlDeviceGetName_fn get_name_ = nullptr;
  nvmlDeviceGetMemoryInfo_fn get_memory_ = nullptr;
  nvmlDeviceGetPciInfo_v3_fn get_pci_ = nullptr;
  nvmlDeviceGetUtilizationRates_fn get_utilization_ = nullptr;  // optional: resolved if present
  nvmlDeviceGetMigMode_fn get_mig_mode_ = nullptr;              // optional: old drivers lack it
  // The MIG calls, all optional: a missing one means "no MIG devices known", not an error.
  nvmlDeviceGetMaxMigDeviceCount_fn get_max_mig_count_ = nullptr;
  nvmlDeviceGetMigDeviceHandleByIndex_fn get_mig_handle_ = nullptr;
  nvmlDeviceGetGpuInstanceId_fn get_gi_id_ = nullptr;
  nvmlDeviceGetComputeInstanceId_fn get_ci_id_ = nullptr;
  nvmlDeviceGetGpuInstanceById_fn get_gi_by_id_ = nullptr;
  nvmlGpuInstanceGetInfo_fn get_gi_info_ = nullptr;
  nvmlDeviceGetGpuInstanceProfileInfo_fn get_gi_profile_info_ = nullptr;
  nvmlDeviceGetAttributes_v2_fn get_attributes_ = nullptr;
  std::string missing_mig_symbol_;  // the first MIG call this NVML lacks; empty: it has all
  // Dynamic MIG calls, optional as the MIG ones.
  nvmlDeviceGetGpuInstancePossiblePlacements_v2_fn get_gi_placements_ = nullptr;
  nvmlDeviceCreateGpuInstanceWithPlacement_fn create_gi_ = nullptr;
  nvmlGpuInstanceDestroy_fn destroy_gi_ = nullptr;
  nvmlDeviceGetGpuInstances_fn get_gis_ = nullptr;
  nvmlGpuInstanceGetComputeInstanceProfileInfo_fn get_ci_profile_info_ = nullptr;
  nvmlGpuInstanceCreateComputeInstance_fn create_ci_ = nullptr;
  nvmlComputeInstanceDestroy_fn destroy_ci_ = nullptr;
  nvmlGpuInstanceGetComputeInstances_fn get_cis_ = nullptr;
  nvmlComputeInstanceGetInfo_v2_fn get_ci_info_ = nullptr;
  std::string missing_dynamic_mig_symbol_;  // the first dynamic-MIG call lacking; empty: none
  // Topology calls, all optional: Topology() fails without the first three.
  nvmlDeviceGetTopologyCommonAncestor_fn get_common_ancestor_ = nullptr;
  nvmlDeviceGetNvLinkState_fn get_nvlink_state_ = nullptr;
  nvmlDeviceGetNvLinkRemotePciInfo_v2_fn get_nvlink_remote_pci_ = nullptr;
  nvmlDeviceGetNvLinkRemoteDeviceType_fn get_nvlink_remote_type_ = nullptr;  // NVSwitch detection
  nvmlEventSetCreate_fn event_set_create_ = nullptr;
  nvmlDeviceRegisterEvents_fn register_events_ = nullptr;
  nvmlEventSetWait_v2_fn event_wait_ = nullptr;
  nvmlEventSetFree_fn event_set_free_ = nullptr;
  nvmlEventSet_t event_set_ = nullptr;
  std::vector<nvmlDevice_t> watched_;  // index -> handle, filled by WatchHealthEvents
};

}  // namespace hami::nvml
