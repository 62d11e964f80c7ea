// The NVML hooks: the memory a container's processes see through NVML (nvidia-smi inside the
// container shows "<used> / <limit>"), the container's processes, and init, which records the
// container's GPUs in the shared region (region_devices.h).
#include <cuda.h>
#include <pthread.h>

#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nvml/nvml_api.h"
#include "vgpu/device_uuids.h"
#include "vgpu/env.h"
#include "vgpu/hook/enforcer.h"
#include "vgpu/hook/hooks.h"
#include "vgpu/hook/real.h"
#include "vgpu/hook/region_devices.h"
#include "vgpu/shared_region.h"

namespace hami::vgpu::hook {
namespace {

// nvmlMemory_v2_t (nvmlDeviceGetMemoryInfo_v2): versioned, with the driver's reservation.
struct NvmlMemoryV2 {
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
};

constexpr nvmlReturn_t kNvmlFunctionNotFound = 13;  // NVML_ERROR_FUNCTION_NOT_FOUND

template <typename F>
F RealNvmlFn(void* volatile* slot, const char* name) {
  return Real<F>(slot, name, RealNvml);
}

// The CUDA ordinal of an NVML device (its UUID against the GPUs the container's CUDA
// processes registered), or -1 when unknown.
int DeviceOf(nvmlDevice_t device) {
  static void* volatile slot = nullptr;
  using GetUuid = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
  auto get_uuid = RealNvmlFn<GetUuid>(&slot, "nvmlDeviceGetUUID");
  char uuid[kNvmlUuidBufferSize] = {};
  if (get_uuid == nullptr || get_uuid(device, uuid, sizeof(uuid)) != NVML_SUCCESS) return -1;
  const int ordinal = Enforcer::Get().DeviceOfUuidText(uuid);
  if (ordinal >= 0) return ordinal;
  // No CUDA in this process (nvidia-smi): inside a container the visible GPUs are numbered
  // alike by NVML and CUDA in PCI order, which is how the device plugin lists them.
  static void* volatile index_slot = nullptr;
  using GetIndex = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
  auto get_index = RealNvmlFn<GetIndex>(&index_slot, "nvmlDeviceGetIndex");
  unsigned int index = 0;
  if (get_index == nullptr || get_index(device, &index) != NVML_SUCCESS) return -1;
  return static_cast<int>(index);
}

// Rewrites total/free/used with the container's limit and usage when the device is limited.
template <typename Memory>
void ShowContainerView(nvmlDevice_t device, Memory* memory) {
  const int ordinal = DeviceOf(device);
  if (ordinal < 0) return;
  Enforcer& enforcer = Enforcer::Get();
  const uint64_t limit = enforcer.LimitBytes(ordinal);
  const uint64_t used = enforcer.UsageBytes(ordinal);
  if (limit == 0) {
    memory->used = used;
    return;
  }
  const uint64_t total = limit < memory->total ? limit : memory->total;
  memory->total = total;
  memory->used = used;
  memory->free = used < total ? total - used : 0;  // never wraps (upstream's did)
}

// nvmlProcessInfo_v1_t (16 bytes) and nvmlProcessInfo_t of the _v2/_v3 calls (24 bytes).
struct ProcessInfoV1 {
  unsigned int pid;
  unsigned long long usedGpuMemory;
};
struct ProcessInfoV2 {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
static_assert(sizeof(ProcessInfoV1) == 16 && sizeof(ProcessInfoV2) == 24);

// The driver's process list narrowed to the container's processes (their host pids, found by
// each process at cuInit), with NVML's size protocol: a caller whose buffer is too small gets
// INSUFFICIENT_SIZE and the count it needs. HAMi-core lists every process on the GPU, other
// containers' included.
template <typename Entry>
nvmlReturn_t ContainerProcesses(nvmlReturn_t (*real)(nvmlDevice_t, unsigned int*, Entry*),
                                nvmlDevice_t device, unsigned int* count, Entry* infos) {
  if (real == nullptr) return kNvmlFunctionNotFound;
  if (count == nullptr) return real(device, count, infos);
  std::vector<Entry> all(16);
  nvmlReturn_t result = NVML_ERROR_UNKNOWN;
  for (int attempt = 0; attempt < 4; ++attempt) {
    unsigned int n = static_cast<unsigned int>(all.size());
    result = real(device, &n, all.data());
    if (result == NVML_SUCCESS) {
      all.resize(n);
      break;
    }
    if (result != NVML_ERROR_INSUFFICIENT_SIZE) return result;
    all.resize(n + 8);
  }
  if (result != NVML_SUCCESS) return result;
  int32_t pids[1024];
  const int known = Enforcer::Get().ContainerHostPids(pids, 1024);
  std::vector<Entry> mine;
  for (const Entry& e : all) {
    for (int i = 0; i < known; ++i) {
      if (static_cast<int32_t>(e.pid) == pids[i]) {
        mine.push_back(e);
        break;
      }
    }
  }
  const unsigned int capacity = *count;
  *count = static_cast<unsigned int>(mine.size());
  if (capacity < mine.size() || (infos == nullptr && !mine.empty())) {
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  for (size_t i = 0; i < mine.size(); ++i) infos[i] = mine[i];
  return NVML_SUCCESS;
}

// --- the GPUs in the shared region (RecordRegionDevices) -----------------------------------

// The region the GPUs are recorded in: the Enforcer's (a private fallback region, which no
// monitor reads, takes them harmlessly).
SharedRegion* DevicesRegion() { return Enforcer::Get().Region(); }

// NVML's UUID text of every GPU, by NVML index ("" where NVML cannot say); empty without NVML.
// Leaves NVML initialised.
std::vector<std::string> NvmlUuids() {
  using Init = nvmlReturn_t (*)();
  using Count = nvmlReturn_t (*)(unsigned int*);
  using Handle = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
  using Uuid = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
  static void* volatile init_slot = nullptr;
  static void* volatile count_slot = nullptr;
  static void* volatile handle_slot = nullptr;
  static void* volatile uuid_slot = nullptr;
  auto init = RealNvmlFn<Init>(&init_slot, "nvmlInit_v2");
  auto count = RealNvmlFn<Count>(&count_slot, "nvmlDeviceGetCount_v2");
  auto handle = RealNvmlFn<Handle>(&handle_slot, "nvmlDeviceGetHandleByIndex_v2");
  auto uuid = RealNvmlFn<Uuid>(&uuid_slot, "nvmlDeviceGetUUID");
  std::vector<std::string> uuids;
  if (init == nullptr || count == nullptr || handle == nullptr || uuid == nullptr) {
    Log(3, "no GPUs recorded: no NVML");
    return uuids;
  }
  // Never shut down again, as the rest of libvgpu (compute.cc): NVML counts inits, but a fake or
  // an old library that does not would be shut down under the application.
  const nvmlReturn_t initialised = init();
  if (initialised != NVML_SUCCESS) {
    Log(3, "no GPUs recorded: nvmlInit_v2 answered %d", initialised);
    return uuids;
  }
  unsigned int n = 0;
  if (count(&n) == NVML_SUCCESS) {
    for (unsigned int i = 0; i < n && i < static_cast<unsigned int>(kMaxDevices); ++i) {
      nvmlDevice_t device = nullptr;
      char text[kNvmlUuidBufferSize] = {};
      if (handle(i, &device) != NVML_SUCCESS || uuid(device, text, sizeof(text)) != NVML_SUCCESS) {
        text[0] = '\0';
      }
      uuids.emplace_back(text, strnlen(text, sizeof(text)));
    }
  }
  return uuids;
}

// The number of devices CUDA sees, or -1 when CUDA is not initialised in this process.
int CudaDeviceCount() {
  static void* volatile slot = nullptr;
  auto get_count = Real<CUresult (*)(int*)>(&slot, "cuDeviceGetCount", RealCuda);
  int count = 0;
  if (get_count == nullptr || get_count(&count) != CUDA_SUCCESS) return -1;
  return count;
}

enum class Recorded { kNothing, kNvmlOrder, kCudaOrder };
std::mutex record_mu;
Recorded recorded = Recorded::kNothing;  // GUARDED_BY(record_mu)
thread_local bool recording = false;     // this thread is inside RecordRegionDevices
pthread_once_t record_fork_once = PTHREAD_ONCE_INIT;

// fork() never happens while another thread holds record_mu (its child could not record).
void LockRecordMu() { record_mu.lock(); }
void UnlockRecordMu() { record_mu.unlock(); }
void RegisterRecordFork() { pthread_atfork(LockRecordMu, UnlockRecordMu, UnlockRecordMu); }

}  // namespace

void RecordRegionDevices() {
  if (recording) return;  // the real NVML's init came back into our hooks
  SharedRegion* const region = DevicesRegion();
  if (region == nullptr) return;
  pthread_once(&record_fork_once, RegisterRecordFork);  // after the Enforcer's (DevicesRegion)
  std::lock_guard<std::mutex> lock(record_mu);
  if (recorded == Recorded::kCudaOrder) return;
  const int cuda_count = CudaDeviceCount();
  if (recorded == Recorded::kNvmlOrder && cuda_count <= 0) return;
  recording = true;
  const std::vector<std::string> nvml_uuids = NvmlUuids();
  Enforcer& enforcer = Enforcer::Get();
  std::vector<int> ordinals;
  for (const std::string& uuid : nvml_uuids) {
    ordinals.push_back(cuda_count > 0 ? enforcer.DeviceOfUuidText(uuid.c_str()) : -1);
  }
  recording = false;
  if (nvml_uuids.empty()) return;
  const RegionDevices devices = DevicesByCudaOrdinal(nvml_uuids, ordinals, cuda_count);
  // NVML's order is a guess: never over what a process of the container recorded already.
  if (!devices.cuda_order && region->device_num() > 0) {
    recorded = Recorded::kNvmlOrder;
    return;
  }
  const std::vector<std::string_view> views(devices.uuids.begin(), devices.uuids.end());
  const Status written = region->SetDevices(views);
  if (!written.ok()) {
    Log(2, "warning: GPUs not recorded in the region: %s", written.message());
    return;
  }
  recorded = devices.cuda_order ? Recorded::kCudaOrder : Recorded::kNvmlOrder;
  Log(4, "recorded %zu GPUs in the region (%s order)", views.size(),
      devices.cuda_order ? "CUDA" : "NVML");
}

namespace {

// nvmlInit, nvmlInit_v2 and nvmlInitWithFlags: the real init, then the GPUs into the region.
nvmlReturn_t InitThenRecord(nvmlReturn_t result, bool record) {
  if (result == NVML_SUCCESS && record) RecordRegionDevices();
  return result;
}

}  // namespace
}  // namespace hami::vgpu::hook

using namespace hami::vgpu::hook;  // NOLINT: the hooks below are the C ABI

#define HAMI_NVML_PROCESSES(exported, Entry)                                                  \
  HAMI_EXPORT nvmlReturn_t exported(nvmlDevice_t device, unsigned int* count, Entry* infos) { \
    static void* volatile slot = nullptr;                                                     \
    auto real =                                                                               \
        RealNvmlFn<nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, Entry*)>(&slot, #exported);  \
    return ContainerProcesses(real, device, count, infos);                                    \
  }
HAMI_NVML_PROCESSES(nvmlDeviceGetComputeRunningProcesses, ProcessInfoV1)
HAMI_NVML_PROCESSES(nvmlDeviceGetComputeRunningProcesses_v2, ProcessInfoV2)
HAMI_NVML_PROCESSES(nvmlDeviceGetComputeRunningProcesses_v3, ProcessInfoV2)

HAMI_EXPORT nvmlReturn_t nvmlInit_v2() {
  static void* volatile slot = nullptr;
  auto real = RealNvmlFn<nvmlReturn_t (*)()>(&slot, "nvmlInit_v2");
  return real == nullptr ? kNvmlFunctionNotFound : InitThenRecord(real(), true);
}

HAMI_EXPORT nvmlReturn_t nvmlInit() {
  static void* volatile slot = nullptr;
  auto real = RealNvmlFn<nvmlReturn_t (*)()>(&slot, "nvmlInit");
  return real == nullptr ? kNvmlFunctionNotFound : InitThenRecord(real(), true);
}

// With flags (NVML_INIT_FLAG_NO_GPUS, _NO_ATTACH) the application asked NVML not to attach to
// the GPUs: recording them would, so it waits for a plain init or cuInit.
HAMI_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
  static void* volatile slot = nullptr;
  auto real = RealNvmlFn<nvmlReturn_t (*)(unsigned int)>(&slot, "nvmlInitWithFlags");
  return real == nullptr ? kNvmlFunctionNotFound : InitThenRecord(real(flags), flags == 0);
}

HAMI_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  static void* volatile slot = nullptr;
  auto real =
      RealNvmlFn<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*)>(&slot, "nvmlDeviceGetMemoryInfo");
  if (real == nullptr) return kNvmlFunctionNotFound;
  const nvmlReturn_t result = real(device, memory);
  if (result == NVML_SUCCESS && memory != nullptr) ShowContainerView(device, memory);
  return result;
}

HAMI_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, NvmlMemoryV2* memory) {
  static void* volatile slot = nullptr;
  auto real = RealNvmlFn<nvmlReturn_t (*)(nvmlDevice_t, NvmlMemoryV2*)>(
      &slot, "nvmlDeviceGetMemoryInfo_v2");
  if (real == nullptr) return kNvmlFunctionNotFound;
  const nvmlReturn_t result = real(device, memory);
  if (result == NVML_SUCCESS && memory != nullptr) ShowContainerView(device, memory);
  return result;
}

namespace hami::vgpu::hook {

#define HAMI_NVML_HOOK(name) \
  HookEntry { #name, reinterpret_cast < void*>(&::name) }
const HookEntry kNvmlHooks[] = {
    HAMI_NVML_HOOK(nvmlInit),
    HAMI_NVML_HOOK(nvmlInit_v2),
    HAMI_NVML_HOOK(nvmlInitWithFlags),
    HAMI_NVML_HOOK(nvmlDeviceGetMemoryInfo),
    HAMI_NVML_HOOK(nvmlDeviceGetMemoryInfo_v2),
    HAMI_NVML_HOOK(nvmlDeviceGetComputeRunningProcesses),
    HAMI_NVML_HOOK(nvmlDeviceGetComputeRunningProcesses_v2),
    HAMI_NVML_HOOK(nvmlDeviceGetComputeRunningProcesses_v3),
};
const int kNvmlHookCount = static_cast<int>(sizeof(kNvmlHooks) / sizeof(kNvmlHooks[0]));

}  // namespace hami::vgpu::hook
