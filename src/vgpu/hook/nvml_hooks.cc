// The NVML hooks: the memory a container's processes see through NVML (nvidia-smi inside the
// container shows "<used> / <limit>"), and init, which readies the limits for NVML-only tools.
#include <cstring>
#include <vector>

#include "nvml/nvml_api.h"
#include "vgpu/hook/enforcer.h"
#include "vgpu/hook/hooks.h"
#include "vgpu/hook/real.h"

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
    HAMI_NVML_HOOK(nvmlDeviceGetMemoryInfo),
    HAMI_NVML_HOOK(nvmlDeviceGetMemoryInfo_v2),
    HAMI_NVML_HOOK(nvmlDeviceGetComputeRunningProcesses),
    HAMI_NVML_HOOK(nvmlDeviceGetComputeRunningProcesses_v2),
    HAMI_NVML_HOOK(nvmlDeviceGetComputeRunningProcesses_v3),
};
const int kNvmlHookCount = static_cast<int>(sizeof(kNvmlHooks) / sizeof(kNvmlHooks[0]));

}  // namespace hami::vgpu::hook
