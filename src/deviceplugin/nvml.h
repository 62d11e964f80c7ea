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
#include "deviceplugin/nvml_api.h"

namespace hami::deviceplugin {

struct NvmlGpu {
  uint32_t index = 0;
  std::string uuid;
  std::string name;
  // Total memory in bytes; nullopt when NVML answers NOT_SUPPORTED (unified-memory parts).
  std::optional<uint64_t> memory_bytes;
  std::string bus_id;  // as NVML writes it, e.g. "00000000:3B:00.0"
  bool mig_enabled = false;
};

// One NVML event: the device (nullopt when NVML names none or one we do not know, which a
// health check must treat as "every device"), its type and data (the Xid).
struct NvmlEvent {
  std::optional<uint32_t> index;
  uint64_t type = 0;
  uint64_t data = 0;
};

class Nvml {
 public:
  // Opens `library` and calls nvmlInit_v2. Failure: kUnavailable (library or symbol missing,
  // init failed) with the reason.
  static Result<std::unique_ptr<Nvml>> Open(const std::string& library = "libnvidia-ml.so.1");
  ~Nvml();  // nvmlShutdown, dlclose
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  Result<std::vector<NvmlGpu>> Gpus();

  // Subscribes every GPU to Xid-critical and ECC events. A GPU that does not support events
  // is skipped (it then never turns unhealthy through events).
  Status WatchHealthEvents();
  // The next event, or nullopt when none arrived within `timeout`.
  Result<std::optional<NvmlEvent>> WaitForEvent(unsigned int timeout_ms);

 private:
  Nvml() = default;
  Status Check(nvmlReturn_t code, const std::string& call) const;

  void* handle_ = nullptr;
  nvmlShutdown_fn shutdown_ = nullptr;
  nvmlErrorString_fn error_string_ = nullptr;
  nvmlDeviceGetCount_v2_fn get_count_ = nullptr;
  nvmlDeviceGetHandleByIndex_v2_fn get_handle_ = nullptr;
  nvmlDeviceGetUUID_fn get_uuid_ = nullptr;
  nvmlDeviceGetName_fn get_name_ = nullptr;
  nvmlDeviceGetMemoryInfo_fn get_memory_ = nullptr;
  nvmlDeviceGetPciInfo_v3_fn get_pci_ = nullptr;
  nvmlDeviceGetMigMode_fn get_mig_mode_ = nullptr;  // optional: old drivers lack it
  nvmlEventSetCreate_fn event_set_create_ = nullptr;
  nvmlDeviceRegisterEvents_fn register_events_ = nullptr;
  nvmlEventSetWait_v2_fn event_wait_ = nullptr;
  nvmlEventSetFree_fn event_set_free_ = nullptr;
  nvmlEventSet_t event_set_ = nullptr;
  std::vector<nvmlDevice_t> watched_;  // index -> handle, filled by WatchHealthEvents
};

}  // namespace hami::deviceplugin
