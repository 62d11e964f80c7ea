#include "deviceplugin/nvml.h"

#include <dlfcn.h>

#include <cstring>

namespace hami::deviceplugin {

namespace {

template <typename Fn>
Status Resolve(void* handle, const char* symbol, Fn* out) {
  *out = reinterpret_cast<Fn>(dlsym(handle, symbol));
  if (*out == nullptr) {
    return Status(StatusCode::kUnavailable, std::string("NVML has no ") + symbol);
  }
  return Status::Ok();
}

}  // namespace

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
  (void)Resolve(nvml->handle_, "nvmlDeviceGetMigMode", &nvml->get_mig_mode_);
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

Result<std::vector<NvmlGpu>> Nvml::Gpus() {
  unsigned int count = 0;
  HAMI_RETURN_IF_ERROR(Check(get_count_(&count), "nvmlDeviceGetCount_v2"));
  std::vector<NvmlGpu> gpus;
  for (unsigned int i = 0; i < count; ++i) {
    const std::string where = "GPU " + std::to_string(i) + ": ";
    nvmlDevice_t device = nullptr;
    HAMI_RETURN_IF_ERROR(Check(get_handle_(i, &device), where + "nvmlDeviceGetHandleByIndex_v2"));
    NvmlGpu gpu;
    gpu.index = i;
    char uuid[kNvmlUuidBufferSize] = {};
    HAMI_RETURN_IF_ERROR(Check(get_uuid_(device, uuid, sizeof(uuid)), where + "nvmlDeviceGetUUID"));
    gpu.uuid.assign(uuid, strnlen(uuid, sizeof(uuid)));
    char name[kNvmlNameBufferSize] = {};
    HAMI_RETURN_IF_ERROR(Check(get_name_(device, name, sizeof(name)), where + "nvmlDeviceGetName"));
    gpu.name.assign(name, strnlen(name, sizeof(name)));
    nvmlMemory_t memory{};
    const nvmlReturn_t memory_code = get_memory_(device, &memory);
    if (memory_code == NVML_SUCCESS) {
      gpu.memory_bytes = memory.total;
    } else if (memory_code != NVML_ERROR_NOT_SUPPORTED) {
      return Check(memory_code, where + "nvmlDeviceGetMemoryInfo");
    }
    nvmlPciInfo_t pci{};
    HAMI_RETURN_IF_ERROR(Check(get_pci_(device, &pci), where + "nvmlDeviceGetPciInfo_v3"));
    gpu.bus_id.assign(pci.busId, strnlen(pci.busId, sizeof(pci.busId)));
    if (get_mig_mode_ != nullptr) {
      unsigned int current = 0, pending = 0;
      if (get_mig_mode_(device, &current, &pending) == NVML_SUCCESS) gpu.mig_enabled = current == 1;
    }
    gpus.push_back(std::move(gpu));
  }
  return gpus;
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

}  // namespace hami::deviceplugin
