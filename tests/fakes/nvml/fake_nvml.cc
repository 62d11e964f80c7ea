// A fake libnvidia-ml.so.1 for tests: the NVML entry points the device plugin (and later
// libvgpu) call, answering from a JSON file named by $HAMI_FAKE_NVML_CONFIG, read at
// nvmlInit_v2:
//   {"init": <nvmlReturn_t nvmlInit_v2 returns, default 0>,
//    "devices": [{"uuid": "GPU-...", "name": "Tesla T4", "memory_mib": 15360 | null,
//                 "bus_id": "00000000:3B:00.0", "mig": false, "lost": false}]}
// memory_mib null answers NOT_SUPPORTED (unified memory); "lost" makes every query of that
// device answer GPU_IS_LOST. Calls before init answer UNINITIALIZED, as NVML does.
// The file is read again when it changes (checked at nvmlDeviceGetCount_v2), so a test can
// lose a GPU (or NVML altogether: "count_error") while the plugin runs.
// Events: "events_file": a path a test appends lines to, "<index|-> <xid|dbe|sbe> <data>",
// e.g. "1 xid 79" (GPU 1 fell off the bus) or "- xid 48" (no device named); the event set
// delivers each line once, in order, waiting up to its timeout for the next.
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "deviceplugin/nvml_api.h"

namespace {

struct FakeDevice {
  std::string uuid, name, bus_id;
  long long memory_mib = -1;  // -1: NOT_SUPPORTED
  bool mig = false;
  bool lost = false;
};

std::mutex mu;
bool initialized = false;
std::vector<FakeDevice> devices;
std::string events_file;
size_t events_consumed = 0;  // lines of events_file already delivered
std::string config_stamp;    // of the config file last read
nvmlReturn_t count_error = NVML_SUCCESS;

nvmlReturn_t CopyString(const std::string& value, char* out, unsigned int length) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (value.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, value.c_str(), value.size() + 1);
  return NVML_SUCCESS;
}

// The device behind a handle (handles are 1-based indexes), or an error code.
nvmlReturn_t Lookup(nvmlDevice_t handle, const FakeDevice** out) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  const auto index = reinterpret_cast<uintptr_t>(handle);
  if (index == 0 || index > devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  *out = &devices[index - 1];
  return (*out)->lost ? NVML_ERROR_GPU_IS_LOST : NVML_SUCCESS;
}

// Runs `fn(device)` under the lock for a valid, initialised, not-lost device.
template <typename Fn>
nvmlReturn_t WithDevice(nvmlDevice_t handle, Fn fn) {
  std::lock_guard<std::mutex> lock(mu);
  const FakeDevice* d = nullptr;
  if (nvmlReturn_t r = Lookup(handle, &d); r != NVML_SUCCESS) return r;
  return fn(*d);
}

// Reads the config file into the globals; returns its "init" code. Requires mu.
nvmlReturn_t LoadConfigLocked() {
  const char* path = std::getenv("HAMI_FAKE_NVML_CONFIG");
  if (path == nullptr) return NVML_ERROR_DRIVER_NOT_LOADED;
  struct stat st {};
  if (stat(path, &st) == 0) {
    config_stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                   std::to_string(st.st_mtim.tv_nsec) + std::to_string(st.st_mtim.tv_sec);
  }
  std::ifstream file(path);
  nlohmann::json config = nlohmann::json::parse(file, nullptr, false);
  if (!config.is_object()) return NVML_ERROR_UNKNOWN;
  const nvmlReturn_t init = config.value("init", NVML_SUCCESS);
  if (init != NVML_SUCCESS) return init;
  count_error = config.value("count_error", NVML_SUCCESS);
  devices.clear();
  for (const nlohmann::json& d : config.value("devices", nlohmann::json::array())) {
    FakeDevice device;
    device.uuid = d.value("uuid", "");
    device.name = d.value("name", "");
    device.bus_id = d.value("bus_id", "");
    device.memory_mib = d.contains("memory_mib") && d["memory_mib"].is_number()
                            ? d["memory_mib"].get<long long>()
                            : -1;
    device.mig = d.value("mig", false);
    device.lost = d.value("lost", false);
    devices.push_back(device);
  }
  const std::string events = config.value("events_file", "");
  if (events != events_file) {
    events_file = events;
    events_consumed = 0;
  }
  return NVML_SUCCESS;
}

// Re-reads the config when the file changed since it was read. Requires mu.
void ReloadIfChangedLocked() {
  const char* path = std::getenv("HAMI_FAKE_NVML_CONFIG");
  struct stat st {};
  if (path == nullptr || stat(path, &st) != 0) return;
  const std::string stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                            std::to_string(st.st_mtim.tv_nsec) + std::to_string(st.st_mtim.tv_sec);
  if (stamp != config_stamp) (void)LoadConfigLocked();
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) nvmlReturn_t nvmlInit_v2() {
  std::lock_guard<std::mutex> lock(mu);
  events_file.clear();
  events_consumed = 0;
  const nvmlReturn_t loaded = LoadConfigLocked();
  if (loaded != NVML_SUCCESS) return loaded;
  initialized = true;
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlShutdown() {
  std::lock_guard<std::mutex> lock(mu);
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  initialized = false;
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) const char* nvmlErrorString(nvmlReturn_t code) {
  switch (code) {
    case NVML_SUCCESS:
      return "Success";
    case NVML_ERROR_UNINITIALIZED:
      return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
      return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
      return "Not Supported";
    case NVML_ERROR_DRIVER_NOT_LOADED:
      return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST:
      return "GPU is lost";
    default:
      return "Unknown Error";
  }
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  std::lock_guard<std::mutex> lock(mu);
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  ReloadIfChangedLocked();
  if (count_error != NVML_SUCCESS) return count_error;
  *count = static_cast<unsigned int>(devices.size());
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(
    unsigned int index, nvmlDevice_t* device) {
  std::lock_guard<std::mutex> lock(mu);
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (device == nullptr || index >= devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  *device = reinterpret_cast<nvmlDevice_t>(static_cast<uintptr_t>(index) + 1);
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t handle,
                                                                      char* uuid,
                                                                      unsigned int length) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    return CopyString(d.uuid, uuid, length);
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t handle,
                                                                      char* name,
                                                                      unsigned int length) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    return CopyString(d.name, name, length);
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t handle,
                                                                            nvmlMemory_t* memory) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    if (d.memory_mib < 0) return NVML_ERROR_NOT_SUPPORTED;
    memory->total = static_cast<unsigned long long>(d.memory_mib) * 1024 * 1024;
    memory->used = 0;
    memory->free = memory->total;
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t handle,
                                                                            nvmlPciInfo_t* pci) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    std::memset(pci, 0, sizeof(*pci));
    return CopyString(d.bus_id, pci->busId, sizeof(pci->busId));
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t handle,
                                                                         unsigned int* current,
                                                                         unsigned int* pending) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (current == nullptr || pending == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    *current = *pending = d.mig ? 1 : 0;
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t* set) {
  std::lock_guard<std::mutex> lock(mu);
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (set == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *set = reinterpret_cast<nvmlEventSet_t>(static_cast<uintptr_t>(1));
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t handle,
                                                                             unsigned long long,
                                                                             nvmlEventSet_t set) {
  return WithDevice(handle, [&](const FakeDevice&) -> nvmlReturn_t {
    return set == nullptr ? NVML_ERROR_INVALID_ARGUMENT : NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set,
                                                                        nvmlEventData_t* data,
                                                                        unsigned int timeout_ms) {
  if (set == nullptr || data == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!initialized) return NVML_ERROR_UNINITIALIZED;
      std::ifstream file(events_file);
      std::string line;
      for (size_t i = 0; std::getline(file, line); ++i) {
        if (i < events_consumed || line.empty()) continue;
        events_consumed = i + 1;
        std::istringstream in(line);
        std::string index, type;
        unsigned long long value = 0;
        in >> index >> type >> value;
        std::memset(data, 0, sizeof(*data));
        if (index != "-") {
          data->device = reinterpret_cast<nvmlDevice_t>(std::stoull(index) + 1);
        }
        data->eventType = type == "xid"   ? kNvmlEventXidCriticalError
                          : type == "dbe" ? kNvmlEventDoubleBitEccError
                                          : kNvmlEventSingleBitEccError;
        data->eventData = value;
        return NVML_SUCCESS;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) return NVML_ERROR_TIMEOUT;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
  return set == nullptr ? NVML_ERROR_INVALID_ARGUMENT : NVML_SUCCESS;
}

}  // extern "C"
