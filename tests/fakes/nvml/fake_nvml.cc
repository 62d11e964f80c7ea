// A fake libnvidia-ml.so.1 for tests: the NVML entry points the device plugin (and later
// libvgpu) call, answering from a JSON file named by $HAMI_FAKE_NVML_CONFIG, read at
// nvmlInit_v2:
//   {"init": <nvmlReturn_t nvmlInit_v2 returns, default 0>,
//    "devices": [{"uuid": "GPU-...", "name": "Tesla T4", "memory_mib": 15360 | null,
//                 "bus_id": "00000000:3B:00.0", "mig": false, "lost": false,
//                 "memory_used_mib": 0, "utilization": {"gpu": 0, "memory": 0} | null}]}
// memory_mib null answers NOT_SUPPORTED (unified memory); utilization null answers
// NOT_SUPPORTED for nvmlDeviceGetUtilizationRates (as a MIG-enabled GPU does); "lost" makes every
// query of that device answer GPU_IS_LOST. Calls before init answer UNINITIALIZED, as NVML does.
// Topology (fake_nvml_topology.cc) adds, per device: "nvlinks", "pcie_switches", "host_bridge",
// "cpu", "board", "topology_error".
// MIG ("mig": true is the current MIG mode) adds, per device:
//   "mig_profiles": [{"id": 0, "slice_count": 1, "instance_count": 7, "sm": 14,
//                     "memory_mib": 9856}, ...]   (GPU instance profiles, NVML's ids)
//   "mig_instances": [{"uuid": "MIG-...", "profile_id": 0, "start": 0, "size": 1, "gi": 1,
//                      "ci": 0, "ci_slices": 1, "sm": 14, "error": 0}, ...]
//   "max_mig_devices": <default: the largest instance_count, at least the instances listed>
// Instance i is MIG device index i (a higher index below max_mig_devices answers NOT_FOUND);
// "ci_slices" defaults to the profile's slice_count and "sm" to the profile's SMs scaled by
// ci_slices / slice_count; "error" makes every query of that MIG device answer that code;
// "in_use": true stands for processes running on it (destroying its compute instance answers
// IN_USE).
// MIG device handles answer nvmlDeviceGetUUID, the instance-id calls and
// nvmlDeviceGetAttributes_v2 (which, as in NVML, GPU handles do not); GPU instance handles come
// from nvmlDeviceGetGpuInstanceById. Both kinds are told apart from GPU handles by value.
// Dynamic MIG (profile tables per GPU model with their placements, GPU and compute instances
// created and destroyed, written back to this file): fake_nvml_mig.cc, which documents its keys.
// The file is read again when it changes (checked at nvmlDeviceGetCount_v2), so a test can
// lose a GPU (or NVML altogether: "count_error") while the plugin runs.
// Events: "events_file": a path a test appends lines to, "<index|-> <xid|dbe|sbe> <data>",
// e.g. "1 xid 79" (GPU 1 fell off the bus) or "- xid 48" (no device named); the event set
// delivers each line once, in order, waiting up to its timeout for the next.
//
// Fake-GPU mode: when $HAMI_FAKE_NVML_CONFIG is unset and $FAKEGPU_STATE is set, init maps
// that shared state file (tests/fakes/cuda/fake_gpu_state.h; created from the FAKEGPU_* knobs
// if missing) instead, so NVML sees the GPUs, processes and timeline of the fake libcuda.so.1:
// one device per simulated GPU (UUID, name, bus id "00000000:<hex 0x10+index>:00.0", MIG
// off), and
//   nvmlDeviceGetMemoryInfo[_v2]      total, used (every process's charge), free; reserved 0
//   nvmlDeviceGetComputeRunningProcesses (v1 16-byte entries), _v2/_v3 (24-byte, GI/CI ids
//                                     0xFFFFFFFF): processes holding a context or memory, pid
//                                     reported as pid + FAKEGPU_PID_OFFSET, usedGpuMemory in
//                                     bytes; INSUFFICIENT_SIZE (with the count) when *count is
//                                     too small; exited processes are reaped first
//   nvmlDeviceGetProcessUtilization   per pid with work in (max(lastSeen, now - 1 s), now]:
//                                     smUtil = busy percent of that window, timestamps in µs
//                                     since the epoch; NOT_FOUND when no process ran,
//                                     INSUFFICIENT_SIZE (with the count) for a short buffer
//   nvmlDeviceGetUtilizationRates     gpu = device busy percent over the last second
// Without either variable init answers DRIVER_NOT_LOADED. In JSON mode the process queries
// answer no processes / NOT_FOUND, memory and utilisation rates as configured.
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
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

#include "../cuda/fake_gpu_state.h"  // the fake GPUs shared with the fake libcuda
#include "nvml/nvml_api.h"
// Included after nvml_api.h, which it extends.
#include "../cuda/fake_nvml_abi.h"
#include "fake_nvml_state.h"

namespace fake_nvml {

// Never destroyed, as a real driver's state: other threads of the process (libvgpu's watcher)
// may still call in while the process exits and static destructors run.
std::mutex mu;
bool initialized = false;
std::vector<FakeDevice>& devices = *new std::vector<FakeDevice>();

nvmlReturn_t Lookup(nvmlDevice_t handle, const FakeDevice** out) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  const auto index = reinterpret_cast<uintptr_t>(handle);
  if (index == 0 || index > devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  *out = &devices[index - 1];
  return (*out)->lost ? NVML_ERROR_GPU_IS_LOST : NVML_SUCCESS;
}

}  // namespace fake_nvml

using namespace fake_nvml;  // NOLINT: this file is the fake's implementation

namespace {

// Fork-safe, as a library used from forked children must be: no thread of the parent holds `mu`
// across fork (libvgpu's discovery thread may be inside NVML while the application forks).
[[maybe_unused]] const int fork_handlers =
    pthread_atfork([] { mu.lock(); }, [] { mu.unlock(); }, [] { mu.unlock(); });
std::string& events_file = *new std::string();
size_t events_consumed = 0;                      // lines of events_file already delivered
std::string& config_stamp = *new std::string();  // of the config file last read
nvmlReturn_t count_error = NVML_SUCCESS;
fakegpu::State* gpu_state = nullptr;  // fake-GPU mode: the shared state (mapped for good)
std::string& gpu_state_path = *new std::string();
bool from_state = false;  // answering from gpu_state rather than the JSON config

nvmlReturn_t CopyString(const std::string& value, char* out, unsigned int length) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (value.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, value.c_str(), value.size() + 1);
  return NVML_SUCCESS;
}

// The MIG device behind a MIG handle and its parent, or an error code. Requires mu.
nvmlReturn_t LookupMig(nvmlDevice_t handle, const FakeDevice** parent,
                       const FakeMigInstance** out) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  const auto value = reinterpret_cast<uintptr_t>(handle);
  if (value < kMigHandleBase || value >= kGiHandleBase) return NVML_ERROR_INVALID_ARGUMENT;
  const uintptr_t gpu = (value - kMigHandleBase) / 0x100, index = (value - kMigHandleBase) % 0x100;
  if (gpu >= devices.size() || index >= devices[gpu].mig_instances.size()) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  *parent = &devices[gpu];
  if ((*parent)->lost) return NVML_ERROR_GPU_IS_LOST;
  *out = &devices[gpu].mig_instances[index];
  return (*out)->error;
}

bool IsMigHandle(nvmlDevice_t handle) {
  const auto value = reinterpret_cast<uintptr_t>(handle);
  return value >= kMigHandleBase && value < kGiHandleBase;
}

// Runs `fn(parent, instance)` under the lock for a valid MIG device handle.
template <typename Fn>
nvmlReturn_t WithMig(nvmlDevice_t handle, Fn fn) {
  std::lock_guard<std::mutex> lock(mu);
  const FakeDevice* parent = nullptr;
  const FakeMigInstance* instance = nullptr;
  if (nvmlReturn_t r = LookupMig(handle, &parent, &instance); r != NVML_SUCCESS) return r;
  return fn(*parent, *instance);
}

const FakeMigProfile* FindProfile(const FakeDevice& d, unsigned int id) {
  for (const FakeMigProfile& p : d.mig_profiles) {
    if (p.id == id) return &p;
  }
  return nullptr;
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
    device.memory_used_mib = d.value("memory_used_mib", 0ll);
    if (d.contains("utilization") && d["utilization"].is_null()) {
      device.utilization_gpu = -1;
    } else if (d.contains("utilization")) {
      device.utilization_gpu = d["utilization"].value("gpu", 0);
      device.utilization_memory = d["utilization"].value("memory", 0);
    }
    device.mig = d.value("mig", false);
    device.lost = d.value("lost", false);
    ReadTopology(d, &device);
    ReadMigProfiles(d, &device);  // fake_nvml_mig.cc
    for (const FakeMigProfile& profile : device.mig_profiles) {
      device.max_mig_devices = std::max(device.max_mig_devices, profile.instance_count);
    }
    for (const nlohmann::json& m : d.value("mig_instances", nlohmann::json::array())) {
      FakeMigInstance instance;
      instance.uuid = m.value("uuid", "");
      instance.profile_id = m.value("profile_id", 0u);
      instance.start = m.value("start", 0u);
      instance.size = m.value("size", 0u);
      instance.gi = m.value("gi", 0u);
      instance.ci = m.value("ci", 0u);
      const FakeMigProfile* profile = FindProfile(device, instance.profile_id);
      const unsigned int gi_slices = profile != nullptr ? profile->slice_count : 0;
      instance.ci_slices = m.value("ci_slices", gi_slices);
      instance.sm =
          m.value("sm", gi_slices == 0 ? 0u : profile->sm * instance.ci_slices / gi_slices);
      instance.error = m.value("error", NVML_SUCCESS);
      instance.in_use = m.value("in_use", false);
      device.mig_instances.push_back(instance);
    }
    ReadGpuInstances(d, &device);  // fake_nvml_mig.cc
    device.max_mig_devices =
        std::max(device.max_mig_devices, static_cast<unsigned int>(device.mig_instances.size()));
    device.max_mig_devices = d.value("max_mig_devices", device.max_mig_devices);
    devices.push_back(device);
  }
  const std::string events = config.value("events_file", "");
  if (events != events_file) {
    events_file = events;
    events_consumed = 0;
  }
  return NVML_SUCCESS;
}

// Rebuilds `devices` from the shared fake-GPU state. Requires mu and gpu_state.
void RefreshFromStateLocked() {
  fakegpu::Locked lock(gpu_state);
  const fakegpu::Config& c = gpu_state->config;
  devices.clear();
  for (int i = 0; i < c.devices && i < fakegpu::kMaxDevices; ++i) {
    FakeDevice device;
    device.uuid = fakegpu::UuidString(c, i);
    device.name = c.name;
    char bus[32];
    std::snprintf(bus, sizeof(bus), "00000000:%02X:00.0", fakegpu::PciBus(i));
    device.bus_id = bus;
    device.memory_mib = static_cast<long long>(c.memory_bytes >> 20);
    devices.push_back(device);
  }
}

// Maps $FAKEGPU_STATE (creating it from the FAKEGPU_* knobs) and answers from it. Requires mu.
nvmlReturn_t LoadStateLocked() {
  const std::string path = fakegpu::StatePathFromEnv();
  if (gpu_state == nullptr || path != gpu_state_path) {
    std::string error;
    fakegpu::State* state = fakegpu::OpenState(path, false, &error);
    if (state == nullptr) {
      std::fprintf(stderr, "fake nvml: %s\n", error.c_str());
      return NVML_ERROR_DRIVER_NOT_LOADED;
    }
    if (gpu_state != nullptr) munmap(gpu_state, sizeof(fakegpu::State));
    gpu_state = state;
    gpu_state_path = path;
  }
  from_state = true;
  count_error = NVML_SUCCESS;
  events_file.clear();
  RefreshFromStateLocked();
  return NVML_SUCCESS;
}

}  // namespace

namespace fake_nvml {

void ReloadIfChangedLocked() {
  if (from_state) {
    RefreshFromStateLocked();
    return;
  }
  const char* path = std::getenv("HAMI_FAKE_NVML_CONFIG");
  struct stat st {};
  if (path == nullptr || stat(path, &st) != 0) return;
  const std::string stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                            std::to_string(st.st_mtim.tv_nsec) + std::to_string(st.st_mtim.tv_sec);
  if (stamp != config_stamp) (void)LoadConfigLocked();
}

const char* ConfigPathLocked() {
  return from_state ? nullptr : std::getenv("HAMI_FAKE_NVML_CONFIG");
}

void NoteConfigWrittenLocked() {
  const char* path = ConfigPathLocked();
  struct stat st {};
  if (path == nullptr || stat(path, &st) != 0) return;
  config_stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                 std::to_string(st.st_mtim.tv_nsec) + std::to_string(st.st_mtim.tv_sec);
}

}  // namespace fake_nvml

namespace {

nvmlReturn_t Init() {
  std::lock_guard<std::mutex> lock(mu);
  events_file.clear();
  events_consumed = 0;
  from_state = false;
  const bool use_state =
      std::getenv("HAMI_FAKE_NVML_CONFIG") == nullptr && std::getenv("FAKEGPU_STATE") != nullptr;
  const nvmlReturn_t loaded = use_state ? LoadStateLocked() : LoadConfigLocked();
  if (loaded != NVML_SUCCESS) return loaded;
  initialized = true;
  return NVML_SUCCESS;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) nvmlReturn_t nvmlInit_v2() { return Init(); }
__attribute__((visibility("default"))) nvmlReturn_t nvmlInit() { return Init(); }
__attribute__((visibility("default"))) nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
  (void)flags;  // NVML_INIT_FLAG_NO_GPUS / _NO_ATTACH change nothing for a fake
  return Init();
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
    case NVML_ERROR_NOT_FOUND:
      return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE:
      return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED:
      return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT:
      return "Timeout";
    case kNvmlErrorArgumentVersionMismatch:
      return "Argument version mismatch";
    case NVML_ERROR_GPU_IS_LOST:
      return "GPU is lost";
    case NVML_ERROR_IN_USE:
      return "In use by another client";
    case NVML_ERROR_INSUFFICIENT_RESOURCES:
      return "Insufficient resources";
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

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetCount(unsigned int* count) {
  return nvmlDeviceGetCount_v2(count);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetHandleByIndex(
    unsigned int index, nvmlDevice_t* device) {
  return nvmlDeviceGetHandleByIndex_v2(index, device);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t handle,
                                                                       unsigned int* index) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (index == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    *index = static_cast<unsigned int>(&d - devices.data());
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t handle,
                                                                      char* uuid,
                                                                      unsigned int length) {
  if (IsMigHandle(handle)) {
    return WithMig(handle, [&](const FakeDevice&, const FakeMigInstance& m) -> nvmlReturn_t {
      return CopyString(m.uuid, uuid, length);
    });
  }
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

}  // extern "C"

namespace {

// Total and used bytes of a device: live from the fake-GPU state, else the JSON config's. Requires
// mu.
nvmlReturn_t MemoryLocked(const FakeDevice& d, unsigned long long* total,
                          unsigned long long* used) {
  if (d.memory_mib < 0) return NVML_ERROR_NOT_SUPPORTED;
  *total = static_cast<unsigned long long>(d.memory_mib) * 1024 * 1024;
  *used = static_cast<unsigned long long>(d.memory_used_mib) * 1024 * 1024;
  if (from_state) {
    const auto index = static_cast<int>(&d - devices.data());
    fakegpu::Locked lock(gpu_state);
    fakegpu::ReapDeadLocked(gpu_state);
    *total = gpu_state->config.memory_bytes;
    *used = gpu_state->devices[index].used_bytes;
  }
  return NVML_SUCCESS;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t handle,
                                                                            nvmlMemory_t* memory) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned long long total = 0, used = 0;
    if (nvmlReturn_t r = MemoryLocked(d, &total, &used); r != NVML_SUCCESS) return r;
    memory->total = total;
    memory->used = used;
    memory->free = used < total ? total - used : 0;
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(
    nvmlDevice_t handle, nvmlMemory_v2_t* memory) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != kNvmlMemoryV2) return kNvmlErrorArgumentVersionMismatch;
    unsigned long long total = 0, used = 0;
    if (nvmlReturn_t r = MemoryLocked(d, &total, &used); r != NVML_SUCCESS) return r;
    memory->total = total;
    memory->reserved = 0;
    memory->used = used;
    memory->free = used < total ? total - used : 0;
    return NVML_SUCCESS;
  });
}

}  // extern "C"

namespace {

// The processes NVML lists on a device: those holding a context or memory there, with their
// charge, after dropping exited ones. Empty in JSON mode. Requires mu.
std::vector<fakegpu::ProcEntry> ProcessesLocked(const FakeDevice& d) {
  std::vector<fakegpu::ProcEntry> out;
  if (!from_state) return out;
  const auto index = static_cast<int>(&d - devices.data());
  fakegpu::Locked lock(gpu_state);
  fakegpu::ReapDeadLocked(gpu_state);
  for (const fakegpu::ProcEntry& p : gpu_state->devices[index].procs) {
    if (p.pid != 0 && (p.contexts > 0 || p.used_bytes > 0)) out.push_back(p);
  }
  return out;
}

unsigned int ReportedPid(int pid) {
  return static_cast<unsigned int>(pid) +
         static_cast<unsigned int>(from_state ? gpu_state->config.pid_offset : 0);
}

void Fill(nvmlProcessInfo_v1_t* out, unsigned int pid, unsigned long long bytes) {
  out->pid = pid;
  out->usedGpuMemory = bytes;
}

void Fill(nvmlProcessInfo_v2_t* out, unsigned int pid, unsigned long long bytes) {
  out->pid = pid;
  out->usedGpuMemory = bytes;
  out->gpuInstanceId = kNvmlValueNotAvailable;
  out->computeInstanceId = kNvmlValueNotAvailable;
}

// The INSUFFICIENT_SIZE protocol: a short (or zero) *count gets the needed count back.
template <typename Info>
nvmlReturn_t RunningProcesses(nvmlDevice_t handle, unsigned int* count, Info* infos, bool compute) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    const std::vector<fakegpu::ProcEntry> procs =
        compute ? ProcessesLocked(d) : std::vector<fakegpu::ProcEntry>{};
    const auto n = static_cast<unsigned int>(procs.size());
    if (*count < n) {
      *count = n;
      return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (n > 0 && infos == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int i = 0; i < n; ++i) {
      Fill(&infos[i], ReportedPid(procs[i].pid), procs[i].used_bytes);
    }
    *count = n;
    return NVML_SUCCESS;
  });
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(
    nvmlDevice_t handle, unsigned int* count, nvmlProcessInfo_v1_t* infos) {
  return RunningProcesses(handle, count, infos, true);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(
    nvmlDevice_t handle, unsigned int* count, nvmlProcessInfo_v2_t* infos) {
  return RunningProcesses(handle, count, infos, true);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(
    nvmlDevice_t handle, unsigned int* count, nvmlProcessInfo_v2_t* infos) {
  return RunningProcesses(handle, count, infos, true);
}

// No graphics or MPS clients on a fake GPU.
__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(
    nvmlDevice_t handle, unsigned int* count, nvmlProcessInfo_v1_t* infos) {
  return RunningProcesses(handle, count, infos, false);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(
    nvmlDevice_t handle, unsigned int* count, nvmlProcessInfo_v2_t* infos) {
  return RunningProcesses(handle, count, infos, false);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(
    nvmlDevice_t handle, unsigned int* count, nvmlProcessInfo_v2_t* infos) {
  return RunningProcesses(handle, count, infos, false);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(
    nvmlDevice_t handle, unsigned int* count, nvmlProcessInfo_v2_t* infos) {
  return RunningProcesses(handle, count, infos, false);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetProcessUtilization(
    nvmlDevice_t handle, nvmlProcessUtilizationSample_t* samples, unsigned int* count,
    unsigned long long last_seen_us) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    if (!from_state) return NVML_ERROR_NOT_FOUND;
    const auto index = static_cast<int>(&d - devices.data());
    // The timeline is in CLOCK_MONOTONIC µs; NVML's timestamps are wall-clock µs.
    const int64_t now = fakegpu::MonotonicUs(), now_wall = fakegpu::RealtimeUs();
    int64_t from = now - 1000000;
    const auto last_seen = static_cast<int64_t>(last_seen_us) - (now_wall - now);
    if (last_seen_us != 0 && last_seen > from) from = last_seen;
    std::vector<std::pair<int, unsigned>> busy;  // pid, percent
    {
      fakegpu::Locked lock(gpu_state);
      const fakegpu::DeviceState& dev = gpu_state->devices[index];
      for (uint32_t i = 0; i < dev.interval_count; ++i) {
        const fakegpu::Interval& iv = dev.intervals[i];
        if (iv.end_us <= from || iv.start_us >= now) continue;
        bool known = false;
        for (const auto& b : busy) known = known || b.first == iv.pid;
        if (!known) busy.emplace_back(iv.pid, 0u);
      }
      for (auto& b : busy) {
        b.second = fakegpu::BusyPercentLocked(gpu_state, index, b.first, from, now);
      }
    }
    if (busy.empty()) {
      *count = 0;
      return NVML_ERROR_NOT_FOUND;
    }
    const auto n = static_cast<unsigned int>(busy.size());
    if (samples == nullptr || *count < n) {
      *count = n;
      return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int i = 0; i < n; ++i) {
      samples[i] = nvmlProcessUtilizationSample_t{};
      samples[i].pid = ReportedPid(busy[i].first);
      samples[i].timeStamp = static_cast<unsigned long long>(now_wall);
      samples[i].smUtil = busy[i].second;
    }
    *count = n;
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetUtilizationRates(
    nvmlDevice_t handle, nvmlUtilization_t* utilization) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (utilization == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    if (d.utilization_gpu < 0) return NVML_ERROR_NOT_SUPPORTED;
    utilization->gpu = static_cast<unsigned int>(d.utilization_gpu);
    utilization->memory = static_cast<unsigned int>(d.utilization_memory);
    if (from_state) {
      const auto index = static_cast<int>(&d - devices.data());
      const int64_t now = fakegpu::MonotonicUs();
      fakegpu::Locked lock(gpu_state);
      utilization->gpu = fakegpu::BusyPercentLocked(gpu_state, index, -1, now - 1000000, now);
    }
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlSystemGetDriverVersion(
    char* version, unsigned int length) {
  return CopyString("580.65.06", version, length);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* version) {
  if (version == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *version = 13000;
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(
    int* version) {
  return nvmlSystemGetCudaDriverVersion(version);
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

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(
    nvmlDevice_t handle, unsigned int* count) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    *count = d.mig ? d.max_mig_devices : 0;  // NVML: zero when MIG is off or unsupported
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(
    nvmlDevice_t handle, unsigned int index, nvmlDevice_t* mig) {
  std::lock_guard<std::mutex> lock(mu);
  const FakeDevice* d = nullptr;
  if (nvmlReturn_t r = Lookup(handle, &d); r != NVML_SUCCESS) return r;
  if (mig == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (d->mig_profiles.empty()) return NVML_ERROR_NOT_SUPPORTED;
  if (!d->mig || index >= d->max_mig_devices) return NVML_ERROR_INVALID_ARGUMENT;
  if (index >= d->mig_instances.size()) return NVML_ERROR_NOT_FOUND;
  const uintptr_t gpu = reinterpret_cast<uintptr_t>(handle) - 1;
  *mig = reinterpret_cast<nvmlDevice_t>(kMigHandleBase + gpu * 0x100 + index);
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t handle,
                                                                               unsigned int* id) {
  if (!IsMigHandle(handle)) {  // a GPU handle: NVML answers NOT_SUPPORTED
    return WithDevice(handle, [](const FakeDevice&) { return NVML_ERROR_NOT_SUPPORTED; });
  }
  return WithMig(handle, [&](const FakeDevice&, const FakeMigInstance& m) -> nvmlReturn_t {
    if (id == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    *id = m.gi;
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetComputeInstanceId(
    nvmlDevice_t handle, unsigned int* id) {
  if (!IsMigHandle(handle)) {
    return WithDevice(handle, [](const FakeDevice&) { return NVML_ERROR_NOT_SUPPORTED; });
  }
  return WithMig(handle, [&](const FakeDevice&, const FakeMigInstance& m) -> nvmlReturn_t {
    if (id == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    *id = m.ci;
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetAttributes_v2(
    nvmlDevice_t handle, nvmlDeviceAttributes_t* attributes) {
  if (!IsMigHandle(handle)) {  // NVML answers this for MIG device handles only
    return WithDevice(handle, [](const FakeDevice&) { return NVML_ERROR_NOT_SUPPORTED; });
  }
  return WithMig(handle, [&](const FakeDevice& d, const FakeMigInstance& m) -> nvmlReturn_t {
    if (attributes == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    const FakeMigProfile* profile = FindProfile(d, m.profile_id);
    if (profile == nullptr) return NVML_ERROR_UNKNOWN;  // an instance of no known profile
    std::memset(attributes, 0, sizeof(*attributes));
    attributes->multiprocessorCount = m.sm;
    attributes->gpuInstanceSliceCount = profile->slice_count;
    attributes->computeInstanceSliceCount = m.ci_slices;
    attributes->memorySizeMB = profile->memory_mib;
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(
    nvmlDevice_t handle, unsigned int profile_id, nvmlGpuInstanceProfileInfo_t* info) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (info == nullptr || profile_id >= kNvmlGpuInstanceProfileCount) {
      return NVML_ERROR_INVALID_ARGUMENT;
    }
    const FakeMigProfile* profile = FindProfile(d, profile_id);
    if (profile == nullptr) return NVML_ERROR_NOT_SUPPORTED;
    std::memset(info, 0, sizeof(*info));
    info->id = profile->unique_id;  // NVML's unique id, not the index asked for
    info->sliceCount = profile->slice_count;
    info->instanceCount = profile->instance_count;
    info->multiprocessorCount = profile->sm;
    info->memorySizeMB = profile->memory_mib;
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetGpuInstanceById(
    nvmlDevice_t handle, unsigned int id, nvmlGpuInstance_t* gi) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (gi == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    if (d.mig_profiles.empty() || !d.mig) return NVML_ERROR_NOT_SUPPORTED;
    for (const FakeGpuInstance& g : d.gpu_instances) {
      if (g.id != id) continue;
      const uintptr_t gpu = reinterpret_cast<uintptr_t>(handle) - 1;
      *gi = reinterpret_cast<nvmlGpuInstance_t>(kGiHandleBase + gpu * 0x100 + id);
      return NVML_SUCCESS;
    }
    return NVML_ERROR_NOT_FOUND;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlGpuInstanceGetInfo(
    nvmlGpuInstance_t gi, nvmlGpuInstanceInfo_t* info) {
  std::lock_guard<std::mutex> lock(mu);
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  const auto value = reinterpret_cast<uintptr_t>(gi);
  if (info == nullptr || value < kGiHandleBase || value >= kCiHandleBase) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  const uintptr_t gpu = (value - kGiHandleBase) / 0x100, id = (value - kGiHandleBase) % 0x100;
  if (gpu >= devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  if (devices[gpu].lost) return NVML_ERROR_GPU_IS_LOST;
  for (const FakeGpuInstance& g : devices[gpu].gpu_instances) {
    if (g.id != id) continue;
    info->device = reinterpret_cast<nvmlDevice_t>(gpu + 1);
    info->id = g.id;
    const FakeMigProfile* profile = FindProfile(devices[gpu], g.profile_id);
    info->profileId = profile != nullptr ? profile->unique_id : g.profile_id;  // the unique id
    info->placement = {g.start, g.size};
    return NVML_SUCCESS;
  }
  return NVML_ERROR_INVALID_ARGUMENT;  // the GPU instance is gone: a stale handle
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
