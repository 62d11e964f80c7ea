#include "nvml/nvml.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

namespace hami::nvml {

namespace {

template <typename Fn>
Status Resolve(void* handle, const char* symbol, Fn* out) {
  *out = reinterpret_cast<Fn>(dlsym(handle, symbol));
  if (*out == nullptr) {
    return Status(StatusCode::kUnavailable, std::string("NVML has no ") + symbol);
  }
  return Status::Ok();
}

// Resolves an optional MIG call; remembers the first one missing.
template <typename Fn>
void ResolveMig(void* handle, const char* symbol, Fn* out, std::string* missing) {
  *out = reinterpret_cast<Fn>(dlsym(handle, symbol));
  if (*out == nullptr && missing->empty()) *missing = symbol;
}

// A PCI bus id in one form whichever way NVML wrote it: lower case, domain without leading
// zeros ("00000000:3B:00.0" and "0000:3b:00.0" -> "0:3b:00.0").
std::string NormalizeBusId(std::string_view bus) {
  std::string out(bus);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const size_t colon = out.find(':');
  if (colon != std::string::npos && out.find(':', colon + 1) != std::string::npos) {
    size_t zeros = 0;
    while (zeros + 1 < colon && out[zeros] == '0') ++zeros;
    out.erase(0, zeros);
  }
  return out;
}

// NVML's answer for a link the GPU does not have, or a query it does not support for it.
bool NoSuchLink(nvmlReturn_t code) {
  return code == NVML_ERROR_NOT_SUPPORTED || code == NVML_ERROR_INVALID_ARGUMENT;
}

int32_t CeilPercent(uint64_t part, uint64_t whole) {
  return static_cast<int32_t>((part * 100 + whole - 1) / whole);
}

}  // namespace

std::string MigProfileName(unsigned int gi_profile_id, unsigned int gi_slices,
                           unsigned int ci_slices, uint64_t memory_mib) {
  std::string name =
      std::to_string(gi_slices) + "g." + std::to_string((memory_mib + 1023) / 1024) + "gb";
  if (ci_slices != 0 && ci_slices < gi_slices) name = std::to_string(ci_slices) + "c." + name;
  if (gi_profile_id == kNvmlGpuInstanceProfile1SliceRev1) name += "+me";
  return name;
}

Result<std::unique_ptr<Nvml>> Nvml::Open(const std::string& library) {
  std::unique_ptr<Nvml> nvml(new Nvml());
  nvml->handle_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (nvml->handle_ == nullptr) {
    const char* why = dlerror();
    return Status(StatusCode::kUnavailable,
                  "cannot open " + library + ": " + (why != nullptr ? why : "unknown error") +
                      " (is the NVIDIA driver installed and mounted into this container?)");
  }
  nvmlInit_v2_fn init = nullptr;
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlInit_v2", &init));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlErrorString", &nvml->error_string_));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlDeviceGetCount_v2", &nvml->get_count_));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlDeviceGetHandleByIndex_v2", &nvml->get_handle_));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlDeviceGetUUID", &nvml->get_uuid_));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlDeviceGetName", &nvml->get_name_));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlDeviceGetMemoryInfo", &nvml->get_memory_));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlDeviceGetPciInfo_v3", &nvml->get_pci_));
  (void)Resolve(nvml->handle_, "nvmlDeviceGetUtilizationRates", &nvml->get_utilization_);
  (void)Resolve(nvml->handle_, "nvmlDeviceGetMigMode", &nvml->get_mig_mode_);
  std::string* missing = &nvml->missing_mig_symbol_;
  ResolveMig(nvml->handle_, "nvmlDeviceGetMaxMigDeviceCount", &nvml->get_max_mig_count_, missing);
  ResolveMig(nvml->handle_, "nvmlDeviceGetMigDeviceHandleByIndex", &nvml->get_mig_handle_, missing);
  ResolveMig(nvml->handle_, "nvmlDeviceGetGpuInstanceId", &nvml->get_gi_id_, missing);
  ResolveMig(nvml->handle_, "nvmlDeviceGetComputeInstanceId", &nvml->get_ci_id_, missing);
  ResolveMig(nvml->handle_, "nvmlDeviceGetGpuInstanceById", &nvml->get_gi_by_id_, missing);
  ResolveMig(nvml->handle_, "nvmlGpuInstanceGetInfo", &nvml->get_gi_info_, missing);
  ResolveMig(nvml->handle_, "nvmlDeviceGetGpuInstanceProfileInfo", &nvml->get_gi_profile_info_,
             missing);
  ResolveMig(nvml->handle_, "nvmlDeviceGetAttributes_v2", &nvml->get_attributes_, missing);
  std::string* dynamic = &nvml->missing_dynamic_mig_symbol_;
  if (!missing->empty()) *dynamic = *missing;  // dynamic MIG reads instances as static MIG does
  ResolveMig(nvml->handle_, "nvmlDeviceGetGpuInstancePossiblePlacements_v2",
             &nvml->get_gi_placements_, dynamic);
  ResolveMig(nvml->handle_, "nvmlDeviceCreateGpuInstanceWithPlacement", &nvml->create_gi_, dynamic);
  ResolveMig(nvml->handle_, "nvmlGpuInstanceDestroy", &nvml->destroy_gi_, dynamic);
  ResolveMig(nvml->handle_, "nvmlDeviceGetGpuInstances", &nvml->get_gis_, dynamic);
  ResolveMig(nvml->handle_, "nvmlGpuInstanceGetComputeInstanceProfileInfo",
             &nvml->get_ci_profile_info_, dynamic);
  ResolveMig(nvml->handle_, "nvmlGpuInstanceCreateComputeInstance", &nvml->create_ci_, dynamic);
  ResolveMig(nvml->handle_, "nvmlComputeInstanceDestroy", &nvml->destroy_ci_, dynamic);
  ResolveMig(nvml->handle_, "nvmlGpuInstanceGetComputeInstances", &nvml->get_cis_, dynamic);
  ResolveMig(nvml->handle_, "nvmlComputeInstanceGetInfo_v2", &nvml->get_ci_info_, dynamic);
  (void)Resolve(nvml->handle_, "nvmlDeviceGetTopologyCommonAncestor", &nvml->get_common_ancestor_);
  (void)Resolve(nvml->handle_, "nvmlDeviceGetNvLinkState", &nvml->get_nvlink_state_);
  (void)Resolve(nvml->handle_, "nvmlDeviceGetNvLinkRemotePciInfo_v2",
                &nvml->get_nvlink_remote_pci_);
  (void)Resolve(nvml->handle_, "nvmlDeviceGetNvLinkRemoteDeviceType",
                &nvml->get_nvlink_remote_type_);
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlEventSetCreate", &nvml->event_set_create_));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlDeviceRegisterEvents", &nvml->register_events_));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlEventSetWait_v2", &nvml->event_wait_));
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlEventSetFree", &nvml->event_set_free_));
  // Shutdown is resolved last: the destructor calls it only after a successful init.
  nvmlShutdown_fn shutdown = nullptr;
  HAMI_RETURN_IF_ERROR(Resolve(nvml->handle_, "nvmlShutdown", &shutdown));
  HAMI_RETURN_IF_ERROR(nvml->Check(init(), "nvmlInit_v2"));
  nvml->shutdown_ = shutdown;
  return nvml;
}

Nvml::~Nvml() {
  if (event_set_ != nullptr) event_set_free_(event_set_);
  if (shutdown_ != nullptr) shutdown_();
  if (handle_ != nullptr) dlclose(handle_);
}

Status Nvml::Check(nvmlReturn_t code, const std::string& call) const {
  if (code == NVML_SUCCESS) return Status::Ok();
  const char* text = error_string_ != nullptr ? error_string_(code) : nullptr;
  return Status(StatusCode::kUnavailable, call + ": " + (text != nullptr ? text : "NVML error") +
                                              " (" + std::to_string(code) + ")");
}

Status Nvml::Identify(unsigned int index, nvmlDevice_t* device, std::string* uuid,
                      std::string* name) const {
  const std::string where = "GPU " + std::to_string(index) + ": ";
  HAMI_RETURN_IF_ERROR(Check(get_handle_(index, device), where + "nvmlDeviceGetHandleByIndex_v2"));
  char uuid_buffer[kNvmlUuidBufferSize] = {};
  HAMI_RETURN_IF_ERROR(
      Check(get_uuid_(*device, uuid_buffer, sizeof(uuid_buffer)), where + "nvmlDeviceGetUUID"));
  uuid->assign(uuid_buffer, strnlen(uuid_buffer, sizeof(uuid_buffer)));
  char name_buffer[kNvmlNameBufferSize] = {};
  HAMI_RETURN_IF_ERROR(
      Check(get_name_(*device, name_buffer, sizeof(name_buffer)), where + "nvmlDeviceGetName"));
  name->assign(name_buffer, strnlen(name_buffer, sizeof(name_buffer)));
  return Status::Ok();
}

Result<std::optional<nvmlMemory_t>> Nvml::Memory(nvmlDevice_t device, unsigned int index) const {
  nvmlMemory_t memory{};
  const nvmlReturn_t code = get_memory_(device, &memory);
  if (code == NVML_SUCCESS) return std::optional<nvmlMemory_t>(memory);
  if (code == NVML_ERROR_NOT_SUPPORTED) return std::optional<nvmlMemory_t>();
  return Check(code, "GPU " + std::to_string(index) + ": nvmlDeviceGetMemoryInfo");
}

Result<std::vector<NvmlGpuUsage>> Nvml::Usage() {
  unsigned int count = 0;
  HAMI_RETURN_IF_ERROR(Check(get_count_(&count), "nvmlDeviceGetCount_v2"));
  std::vector<NvmlGpuUsage> gpus;
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    NvmlGpuUsage gpu;
    gpu.index = i;
    HAMI_RETURN_IF_ERROR(Identify(i, &device, &gpu.uuid, &gpu.name));
    HAMI_ASSIGN_OR_RETURN(std::optional<nvmlMemory_t> memory, Memory(device, i));
    if (memory) gpu.memory_used_bytes = memory->used;
    nvmlUtilization_t utilization{};
    if (get_utilization_ != nullptr && get_utilization_(device, &utilization) == NVML_SUCCESS) {
      gpu.gpu_utilization_percent = utilization.gpu;
      gpu.memory_utilization_percent = utilization.memory;
    }
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

Result<std::vector<NvmlGpu>> Nvml::Gpus() {
  unsigned int count = 0;
  HAMI_RETURN_IF_ERROR(Check(get_count_(&count), "nvmlDeviceGetCount_v2"));
  std::vector<NvmlGpu> gpus;
  for (unsigned int i = 0; i < count; ++i) {
    const std::string where = "GPU " + std::to_string(i) + ": ";
    nvmlDevice_t device = nullptr;
    NvmlGpu gpu;
    gpu.index = i;
    HAMI_RETURN_IF_ERROR(Identify(i, &device, &gpu.uuid, &gpu.name));
    HAMI_ASSIGN_OR_RETURN(std::optional<nvmlMemory_t> memory, Memory(device, i));
    if (memory) gpu.memory_bytes = memory->total;
    nvmlPciInfo_t pci{};
    HAMI_RETURN_IF_ERROR(Check(get_pci_(device, &pci), where + "nvmlDeviceGetPciInfo_v3"));
    gpu.bus_id.assign(pci.busId, strnlen(pci.busId, sizeof(pci.busId)));
    if (get_mig_mode_ != nullptr) {
      unsigned int current = 0, pending = 0;
      if (get_mig_mode_(device, &current, &pending) == NVML_SUCCESS) {
        gpu.mig_enabled = current == kNvmlDeviceMigEnable;
      }
    }
    if (gpu.mig_enabled) ReadMigInstances(device, &gpu);
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

void Nvml::ReadMigInstances(nvmlDevice_t device, NvmlGpu* gpu) const {
  if (!missing_mig_symbol_.empty()) {
    gpu->mig_errors.push_back("MIG devices unknown: NVML has no " + missing_mig_symbol_);
    return;
  }
  // The whole GPU's SMs are those of its largest GPU instance profile (7g on an A100: 98). The
  // probe skips ids this driver or GPU does not know (INVALID_ARGUMENT, NOT_SUPPORTED).
  unsigned int max_slices = 0;
  unsigned int whole_sms = 0;
  for (unsigned int id = 0; id < kNvmlGpuInstanceProfileCount; ++id) {
    nvmlGpuInstanceProfileInfo_t info{};
    if (get_gi_profile_info_(device, id, &info) != NVML_SUCCESS) continue;
    if (info.sliceCount > max_slices) {
      max_slices = info.sliceCount;
      whole_sms = info.multiprocessorCount;
    }
  }
  unsigned int count = 0;
  if (Status s = Check(get_max_mig_count_(device, &count), "nvmlDeviceGetMaxMigDeviceCount");
      !s.ok()) {
    gpu->mig_errors.push_back(s.message());
    return;
  }
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t mig = nullptr;
    const nvmlReturn_t code = get_mig_handle_(device, i, &mig);
    if (code == NVML_ERROR_NOT_FOUND) continue;  // no MIG device at this index
    const std::string where = "MIG device " + std::to_string(i) + ": ";
    if (code != NVML_SUCCESS) {
      gpu->mig_errors.push_back(where +
                                Check(code, "nvmlDeviceGetMigDeviceHandleByIndex").message());
      continue;
    }
    auto instance = ReadMigInstance(device, mig, whole_sms, max_slices);
    if (!instance.ok()) {
      gpu->mig_errors.push_back(where + instance.status().message());
      continue;
    }
    gpu->mig_instances.push_back(std::move(*instance));
  }
}

Result<NvmlMigInstance> Nvml::ReadMigInstance(nvmlDevice_t parent, nvmlDevice_t mig,
                                              unsigned int whole_sms,
                                              unsigned int max_slices) const {
  NvmlMigInstance out;
  char uuid[kNvmlUuidBufferSize] = {};
  HAMI_RETURN_IF_ERROR(Check(get_uuid_(mig, uuid, sizeof(uuid)), "nvmlDeviceGetUUID"));
  out.uuid.assign(uuid, strnlen(uuid, sizeof(uuid)));
  unsigned int gi_id = 0, ci_id = 0;
  HAMI_RETURN_IF_ERROR(Check(get_gi_id_(mig, &gi_id), "nvmlDeviceGetGpuInstanceId"));
  HAMI_RETURN_IF_ERROR(Check(get_ci_id_(mig, &ci_id), "nvmlDeviceGetComputeInstanceId"));
  out.gpu_instance_id = gi_id;
  out.compute_instance_id = ci_id;
  nvmlGpuInstance_t gi = nullptr;
  HAMI_RETURN_IF_ERROR(Check(get_gi_by_id_(parent, gi_id, &gi),
                             "nvmlDeviceGetGpuInstanceById(" + std::to_string(gi_id) + ")"));
  nvmlGpuInstanceInfo_t gi_info{};
  HAMI_RETURN_IF_ERROR(Check(get_gi_info_(gi, &gi_info), "nvmlGpuInstanceGetInfo"));
  // gi_info.profileId is the profile's unique id (19 for an A100's 1g), not the index
  // nvmlDeviceGetGpuInstanceProfileInfo takes; GiProfileOf finds the index.
  HAMI_ASSIGN_OR_RETURN(nvmlGpuInstanceProfileInfo_t profile,
                        GiProfileOf(parent, "", gi_info.profileId));
  nvmlDeviceAttributes_t attributes{};
  HAMI_RETURN_IF_ERROR(Check(get_attributes_(mig, &attributes), "nvmlDeviceGetAttributes_v2"));
  out.profile = MigProfileName(profile.id, profile.sliceCount, attributes.computeInstanceSliceCount,
                               profile.memorySizeMB);
  out.memory_mib = static_cast<int32_t>(profile.memorySizeMB);
  out.slice_count = static_cast<int32_t>(profile.sliceCount);
  out.placement.start = static_cast<int32_t>(gi_info.placement.start);
  out.placement.size = static_cast<int32_t>(gi_info.placement.size);
  // Share of the whole GPU's SMs, rounded up (1g on an A100: 14 of 98 SMs -> 15). When NVML
  // reports no SM counts, the compute instance's share of the largest profile's slices stands
  // in for it: an approximation (exact on an A100; an H100's 1g has 16 of 132 SMs, 13%, where
  // 1 of 7 slices gives 15%).
  const unsigned int ci_slices = attributes.computeInstanceSliceCount != 0
                                     ? attributes.computeInstanceSliceCount
                                     : profile.sliceCount;
  if (whole_sms != 0 && attributes.multiprocessorCount != 0) {
    out.core_percent = std::min(100, CeilPercent(attributes.multiprocessorCount, whole_sms));
  } else if (max_slices != 0) {
    out.core_percent = std::min(100, CeilPercent(ci_slices, max_slices));
  } else {
    return Status(StatusCode::kUnavailable, "cannot tell its share of the GPU's SMs");
  }
  return out;
}

Result<Nvml::NvLinkEnds> Nvml::ReadNvLinks(nvmlDevice_t device, const std::string& where) const {
  NvLinkEnds ends;
  for (unsigned int link = 0; link < kNvmlNvLinkMaxLinks; ++link) {
    const std::string call = where + "NVLink " + std::to_string(link) + ": ";
    nvmlEnableState_t active = 0;
    const nvmlReturn_t state = get_nvlink_state_(device, link, &active);
    if (NoSuchLink(state)) continue;
    HAMI_RETURN_IF_ERROR(Check(state, call + "nvmlDeviceGetNvLinkState"));
    if (active != kNvmlFeatureEnabled) continue;
    if (get_nvlink_remote_type_ != nullptr) {
      nvmlIntNvLinkDeviceType_t type = kNvmlNvLinkDeviceTypeGpu;
      const nvmlReturn_t typed = get_nvlink_remote_type_(device, link, &type);
      if (!NoSuchLink(typed)) {
        HAMI_RETURN_IF_ERROR(Check(typed, call + "nvmlDeviceGetNvLinkRemoteDeviceType"));
        if (type == kNvmlNvLinkDeviceTypeSwitch) {
          ++ends.switch_links;
          continue;
        }
      }
    }
    nvmlPciInfo_t remote{};
    const nvmlReturn_t pci = get_nvlink_remote_pci_(device, link, &remote);
    if (NoSuchLink(pci)) continue;
    HAMI_RETURN_IF_ERROR(Check(pci, call + "nvmlDeviceGetNvLinkRemotePciInfo_v2"));
    ends.gpu_bus_ids.push_back(NormalizeBusId(
        std::string_view(remote.busId, strnlen(remote.busId, sizeof(remote.busId)))));
  }
  return ends;
}

Result<NvmlTopology> Nvml::Topology() {
  if (get_common_ancestor_ == nullptr || get_nvlink_state_ == nullptr ||
      get_nvlink_remote_pci_ == nullptr) {
    return Status(StatusCode::kUnavailable, "NVML has no GPU topology calls (driver too old)");
  }
  unsigned int count = 0;
  HAMI_RETURN_IF_ERROR(Check(get_count_(&count), "nvmlDeviceGetCount_v2"));
  NvmlTopology topology;
  std::vector<nvmlDevice_t> handles(count, nullptr);
  std::vector<std::string> bus_ids(count);
  std::vector<NvLinkEnds> ends(count);
  for (unsigned int i = 0; i < count; ++i) {
    const std::string where = "GPU " + std::to_string(i) + ": ";
    std::string uuid, name;
    HAMI_RETURN_IF_ERROR(Identify(i, &handles[i], &uuid, &name));
    topology.uuids.push_back(std::move(uuid));
    nvmlPciInfo_t pci{};
    HAMI_RETURN_IF_ERROR(Check(get_pci_(handles[i], &pci), where + "nvmlDeviceGetPciInfo_v3"));
    bus_ids[i] = NormalizeBusId(std::string_view(pci.busId, strnlen(pci.busId, sizeof(pci.busId))));
    HAMI_ASSIGN_OR_RETURN(ends[i], ReadNvLinks(handles[i], where));
  }
  topology.links.assign(count, std::vector<NvmlLink>(count));
  for (unsigned int i = 0; i < count; ++i) {
    for (unsigned int j = 0; j < count; ++j) {
      if (i == j) continue;
      NvmlLink& link = topology.links[i][j];
      nvmlGpuTopologyLevel_t level = NVML_TOPOLOGY_SYSTEM;
      const nvmlReturn_t code = get_common_ancestor_(handles[i], handles[j], &level);
      if (code == NVML_SUCCESS) {
        link.ancestor_level = level;
      } else if (code != NVML_ERROR_NOT_SUPPORTED) {
        return Check(code, "GPUs " + std::to_string(i) + " and " + std::to_string(j) +
                               ": nvmlDeviceGetTopologyCommonAncestor");
      }
      link.nvlinks = static_cast<int>(
          std::count(ends[i].gpu_bus_ids.begin(), ends[i].gpu_bus_ids.end(), bus_ids[j]));
      if (link.nvlinks == 0 && ends[i].switch_links > 0 && ends[j].switch_links > 0) {
        link.nvlinks = std::min(ends[i].switch_links, ends[j].switch_links);
      }
    }
  }
  return topology;
}

Status Nvml::WatchHealthEvents() {
  if (event_set_ == nullptr) {
    HAMI_RETURN_IF_ERROR(Check(event_set_create_(&event_set_), "nvmlEventSetCreate"));
  }
  unsigned int count = 0;
  HAMI_RETURN_IF_ERROR(Check(get_count_(&count), "nvmlDeviceGetCount_v2"));
  watched_.assign(count, nullptr);
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    HAMI_RETURN_IF_ERROR(Check(get_handle_(i, &device), "nvmlDeviceGetHandleByIndex_v2"));
    watched_[i] = device;
    const nvmlReturn_t registered = register_events_(
        device,
        kNvmlEventXidCriticalError | kNvmlEventDoubleBitEccError | kNvmlEventSingleBitEccError,
        event_set_);
    if (registered != NVML_SUCCESS && registered != NVML_ERROR_NOT_SUPPORTED) {
      return Check(registered, "GPU " + std::to_string(i) + ": nvmlDeviceRegisterEvents");
    }
  }
  return Status::Ok();
}

Result<std::optional<NvmlEvent>> Nvml::WaitForEvent(unsigned int timeout_ms) {
  if (event_set_ == nullptr) return FailedPrecondition("WatchHealthEvents was not called");
  nvmlEventData_t data{};
  const nvmlReturn_t code = event_wait_(event_set_, &data, timeout_ms);
  if (code == NVML_ERROR_TIMEOUT) return std::optional<NvmlEvent>();
  HAMI_RETURN_IF_ERROR(Check(code, "nvmlEventSetWait_v2"));
  NvmlEvent event;
  event.type = data.eventType;
  event.data = data.eventData;
  for (size_t i = 0; i < watched_.size(); ++i) {
    if (data.device != nullptr && watched_[i] == data.device) {
      event.index = static_cast<uint32_t>(i);
    }
  }
  return std::optional<NvmlEvent>(event);
}

}  // namespace hami::nvml
