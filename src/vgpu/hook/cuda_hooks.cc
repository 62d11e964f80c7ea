// The driver API hooks: memory accounting (every allocation path charges the container's
// region before the driver allocates, so concurrent processes can never overshoot the limit),
// the memory views (cuMemGetInfo, cuDeviceTotalMem), launches, cuInit and cuGetProcAddress.
// Names are the driver's exact versioned exports; cuda.h's macros are bypassed by naming the
// versioned symbols directly.
#include <cuda.h>
#include <pthread.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <type_traits>

// cuda.h maps cuGetProcAddress to the _v2 entry; the v1 export (4 arguments) is hooked too.
#undef cuGetProcAddress

#include "vgpu/array_size.h"
#include "vgpu/hook/charging.h"
#include "vgpu/hook/compute.h"
#include "vgpu/hook/enforcer.h"
#include "vgpu/hook/hooks.h"
#include "vgpu/hook/real.h"
#include "vgpu/hook/region_devices.h"
#include "vgpu/hook/retained.h"

namespace hami::vgpu::hook {
namespace {

inline double GridBlocks(unsigned int x, unsigned int y, unsigned int z) {
  return static_cast<double>(x) * static_cast<double>(y) * static_cast<double>(z);
}

// A limited launch: waits for the budget, then launches. Out of line, so that the unlimited
// path of every launch hook stays a load, a compare and a tail call with no prologue.
template <typename Real, typename... Args>
__attribute__((noinline)) CUresult ThrottledLaunch(double cost, Real real, Args... args) {
  ThrottleLaunch(cost);
  return real(args...);
}

// A graph launch that may reserve graph memory: the reservation the driver reports afterwards
// is charged (retained.h).
template <typename Launch>
__attribute__((noinline)) CUresult GraphLaunchWithMemory(Launch launch) {
  const CUresult result = launch();
  int device = 0;
  if (result == CUDA_SUCCESS && CurrentDevice(&device)) SettleGraphMemory(device);
  return result;
}

// The CUDA defaults of the runtime heap and per-thread stack: memory the context already has
// (measured with it); only what a larger limit adds is charged when it is set.
constexpr uint64_t kDefaultHeapBytes = 8ull << 20;
constexpr uint64_t kDefaultStackBytes = 1024;
uint64_t limit_charged[2][kMaxDevices];  // [heap, stack][device]; guarded by limit_mu
std::mutex limit_mu;

// Device memory a heap or stack limit of `value` takes beyond the default.
uint64_t LimitBytesBeyondDefault(CUlimit limit, uint64_t value, int device) {
  if (limit == CU_LIMIT_MALLOC_HEAP_SIZE) {
    return value > kDefaultHeapBytes ? value - kDefaultHeapBytes : 0;
  }
  if (value <= kDefaultStackBytes) return 0;
  // The stack is reserved for every thread the device can hold at once.
  auto attribute = HAMI_REAL(cuDeviceGetAttribute);
  int sms = 0, threads = 0;
  if (attribute == nullptr ||
      attribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device) != CUDA_SUCCESS ||
      attribute(&threads, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, device) !=
          CUDA_SUCCESS) {
    return 0;
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(value - kDefaultStackBytes,
                             static_cast<uint64_t>(sms) * static_cast<uint64_t>(threads), &bytes)) {
    return UINT64_MAX;
  }
  return bytes;
}

}  // namespace
}  // namespace hami::vgpu::hook

using namespace hami::vgpu::hook;  // NOLINT: the hooks below are the C ABI

// ---- memory ----------------------------------------------------------------------------------

HAMI_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  auto real = HAMI_REAL(cuMemAlloc_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return OnCurrentDevice(
      KeySpace::kAddress, bytesize, [&] { return real(dptr, bytesize); }, dptr);
}

HAMI_EXPORT CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  auto real = HAMI_REAL(cuMemAllocManaged);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return OnCurrentDevice(
      KeySpace::kAddress, bytesize, [&] { return real(dptr, bytesize, flags); }, dptr);
}

HAMI_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pitch, size_t width_bytes,
                                        size_t height, unsigned int element_bytes) {
  auto real = HAMI_REAL(cuMemAllocPitch_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  int device = 0;
  if (dptr == nullptr || pitch == nullptr || !CurrentDevice(&device)) {
    return real(dptr, pitch, width_bytes, height, element_bytes);
  }
  // The pitch is the driver's choice; charge an upper bound first (rows aligned to 512 bytes,
  // more than any current GPU needs), then settle on the exact pitch * height.
  const uint64_t bound = ((width_bytes + 511) / 512) * 512 * static_cast<uint64_t>(height);
  Enforcer& enforcer = Enforcer::Get();
  const CUresult result = Charged(
      KeySpace::kAddress, device, bound,
      [&] { return real(dptr, pitch, width_bytes, height, element_bytes); },
      [dptr] { return KeyOf(*dptr); });
  if (result != CUDA_SUCCESS) return result;
  const uint64_t exact = static_cast<uint64_t>(*pitch) * height;
  if (exact < bound) {
    enforcer.Forget(KeySpace::kAddress, *dptr);
    enforcer.Uncharge(device, bound - exact);
    enforcer.Remember(KeySpace::kAddress, *dptr, Allocation{device, exact});
  } else if (exact > bound) {
    if (!enforcer.Charge(device, exact - bound)) {
      Released(KeySpace::kAddress, *dptr, [&] { return HAMI_REAL(cuMemFree_v2)(*dptr); });
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    enforcer.Forget(KeySpace::kAddress, *dptr);
    enforcer.Remember(KeySpace::kAddress, *dptr, Allocation{device, exact});
  }
  return result;
}

HAMI_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
  auto real = HAMI_REAL(cuMemFree_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (dptr == 0) return real(dptr);
  return ReleasedAllocation(dptr, [&] { return real(dptr); });
}

// Stream-ordered allocation, pools and graph memory: pool_hooks.cc. VMM: vmm_hooks.cc.

// Arrays live in device memory too (HAMi-core does not charge them): the texel data is
// charged on the current device when the array is created and released when it is destroyed.

HAMI_EXPORT CUresult cuArrayCreate_v2(CUarray* handle, const CUDA_ARRAY_DESCRIPTOR* desc) {
  auto real = HAMI_REAL(cuArrayCreate_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (desc == nullptr) return real(handle, desc);
  const uint64_t bytes =
      hami::vgpu::ArrayBytes(desc->Format, desc->NumChannels, desc->Width, desc->Height, 0);
  return OnCurrentDevice(
      KeySpace::kArray, bytes, [&] { return real(handle, desc); }, handle);
}

HAMI_EXPORT CUresult cuArray3DCreate_v2(CUarray* handle, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  auto real = HAMI_REAL(cuArray3DCreate_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (desc == nullptr) return real(handle, desc);
  const uint64_t bytes = hami::vgpu::ArrayBytes(desc->Format, desc->NumChannels, desc->Width,
                                                desc->Height, desc->Depth);
  return OnCurrentDevice(
      KeySpace::kArray, bytes, [&] { return real(handle, desc); }, handle);
}

HAMI_EXPORT CUresult cuArrayDestroy(CUarray array) {
  auto real = HAMI_REAL(cuArrayDestroy);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Released(KeySpace::kArray, KeyOf(array), [&] { return real(array); });
}

HAMI_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray* handle,
                                            const CUDA_ARRAY3D_DESCRIPTOR* desc,
                                            unsigned int levels) {
  auto real = HAMI_REAL(cuMipmappedArrayCreate);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (desc == nullptr) return real(handle, desc, levels);
  const uint64_t bytes = hami::vgpu::MipmappedArrayBytes(
      desc->Format, desc->NumChannels, desc->Width, desc->Height, desc->Depth, levels);
  return OnCurrentDevice(
      KeySpace::kArray, bytes, [&] { return real(handle, desc, levels); }, handle);
}

HAMI_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray array) {
  auto real = HAMI_REAL(cuMipmappedArrayDestroy);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Released(KeySpace::kArray, KeyOf(array), [&] { return real(array); });
}

// ---- memory views ----------------------------------------------------------------------------

HAMI_EXPORT CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
  auto real = HAMI_REAL(cuMemGetInfo_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(free, total);
  int device = 0;
  if (result != CUDA_SUCCESS || free == nullptr || total == nullptr || !CurrentDevice(&device)) {
    return result;
  }
  Enforcer& enforcer = Enforcer::Get();
  const uint64_t limit = enforcer.LimitBytes(device);
  if (limit == 0) return result;
  MeasureContextMemory(device);  // the view counts this process's context memory as it is now
  // The container's view: its limit (or the GPU, if smaller) and what its processes hold.
  const uint64_t shown_total = std::min<uint64_t>(limit, *total);
  const uint64_t used = enforcer.UsageBytes(device);
  *total = static_cast<size_t>(shown_total);
  *free = static_cast<size_t>(used < shown_total ? shown_total - used : 0);
  return result;
}

HAMI_EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice device) {
  auto real = HAMI_REAL(cuDeviceTotalMem_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(bytes, device);
  if (result != CUDA_SUCCESS || bytes == nullptr) return result;
  const uint64_t limit = Enforcer::Get().LimitBytes(device);
  if (limit != 0) *bytes = static_cast<size_t>(std::min<uint64_t>(limit, *bytes));
  return result;
}

// ---- init and launches -----------------------------------------------------------------------

HAMI_EXPORT CUresult cuInit(unsigned int flags) {
  auto real = HAMI_REAL(cuInit);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(flags);
  if (result == CUDA_SUCCESS) {
    Enforcer::Get().AfterCudaInit();  // limits, region, host pid
    RecordRegionDevices();            // the GPUs by CUDA ordinal, for the monitor
  }
  return result;
}

// Launches: without a compute limit (or with the policy or the monitor's switch off) one
// relaxed load and a compare before the tail call; otherwise ThrottleLaunch (compute.h) waits
// for the device's budget first. Cost units: the grid's blocks; a graph launch costs 1 (the
// controller learns what a unit is worth). Cooperative and graph launches are limited too
// (HAMi-core lets both escape).
#define HAMI_LAUNCH(exported)                                                                    \
  HAMI_EXPORT CUresult exported(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, \
                                unsigned int bx, unsigned int by, unsigned int bz,               \
                                unsigned int shared, CUstream stream, void** params,             \
                                void** extra) {                                                  \
    auto real = HAMI_REAL_AS(cuLaunchKernel, #exported);                                         \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;                                        \
    if (__builtin_expect(!LaunchUnlimited(), 0)) {                                               \
      return ThrottledLaunch(GridBlocks(gx, gy, gz), real, f, gx, gy, gz, bx, by, bz, shared,    \
                             stream, params, extra);                                             \
    }                                                                                            \
    NoteLaunch();                                                                                \
    return real(f, gx, gy, gz, bx, by, bz, shared, stream, params, extra);                       \
  }
HAMI_LAUNCH(cuLaunchKernel)
HAMI_LAUNCH(cuLaunchKernel_ptsz)

#define HAMI_LAUNCH_EX(exported)                                                               \
  HAMI_EXPORT CUresult exported(const CUlaunchConfig* config, CUfunction f, void** params,     \
                                void** extra) {                                                \
    auto real = HAMI_REAL_AS(cuLaunchKernelEx, #exported);                                     \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;                                      \
    if (__builtin_expect(!LaunchUnlimited(), 0) && config != nullptr) {                        \
      return ThrottledLaunch(GridBlocks(config->gridDimX, config->gridDimY, config->gridDimZ), \
                             real, config, f, params, extra);                                  \
    }                                                                                          \
    NoteLaunch();                                                                              \
    return real(config, f, params, extra);                                                     \
  }
HAMI_LAUNCH_EX(cuLaunchKernelEx)
HAMI_LAUNCH_EX(cuLaunchKernelEx_ptsz)

#define HAMI_LAUNCH_COOP(exported)                                                               \
  HAMI_EXPORT CUresult exported(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, \
                                unsigned int bx, unsigned int by, unsigned int bz,               \
                                unsigned int shared, CUstream stream, void** params) {           \
    auto real = HAMI_REAL_AS(cuLaunchCooperativeKernel, #exported);                              \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;                                        \
    if (__builtin_expect(!LaunchUnlimited(), 0)) {                                               \
      return ThrottledLaunch(GridBlocks(gx, gy, gz), real, f, gx, gy, gz, bx, by, bz, shared,    \
                             stream, params);                                                    \
    }                                                                                            \
    NoteLaunch();                                                                                \
    return real(f, gx, gy, gz, bx, by, bz, shared, stream, params);                              \
  }
HAMI_LAUNCH_COOP(cuLaunchCooperativeKernel)
HAMI_LAUNCH_COOP(cuLaunchCooperativeKernel_ptsz)

#define HAMI_GRAPH_LAUNCH(exported)                                    \
  HAMI_EXPORT CUresult exported(CUgraphExec graph, CUstream stream) {  \
    auto real = HAMI_REAL_AS(cuGraphLaunch, #exported);                \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;              \
    if (__builtin_expect(!LaunchUnlimited(), 0)) {                     \
      ThrottleLaunch(1.0);                                             \
    } else {                                                           \
      NoteLaunch();                                                    \
    }                                                                  \
    if (!GraphMemoryUsed()) return real(graph, stream);                \
    return GraphLaunchWithMemory([&] { return real(graph, stream); }); \
  }
HAMI_GRAPH_LAUNCH(cuGraphLaunch)
HAMI_GRAPH_LAUNCH(cuGraphLaunch_ptsz)

// ---- contexts -------------------------------------------------------------------------------

// A new context's memory is measured at once when the host pid is known (else when it is found).
HAMI_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device) {
  auto real = HAMI_REAL(cuDevicePrimaryCtxRetain);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(context, device);
  if (result == CUDA_SUCCESS) MeasureContextMemory(device);
  return result;
}

// A larger runtime heap or stack reserves device memory: what it adds beyond the default is
// charged before the driver takes it (refused like an allocation when it does not fit), and
// given back when the limit is lowered.
HAMI_EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
  auto real = HAMI_REAL(cuCtxSetLimit);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  int device = 0;
  if ((limit != CU_LIMIT_MALLOC_HEAP_SIZE && limit != CU_LIMIT_STACK_SIZE) ||
      !CurrentDevice(&device) || device < 0 || device >= hami::vgpu::kMaxDevices) {
    return real(limit, value);
  }
  const int which = limit == CU_LIMIT_MALLOC_HEAP_SIZE ? 0 : 1;
  std::lock_guard<std::mutex> lock(limit_mu);
  Enforcer& enforcer = Enforcer::Get();
  const uint64_t had = limit_charged[which][device];
  const uint64_t has = LimitBytesBeyondDefault(limit, value, device);
  if (has > had && !enforcer.Charge(device, has - had)) return CUDA_ERROR_OUT_OF_MEMORY;
  const CUresult result = real(limit, value);
  if (result != CUDA_SUCCESS) {
    if (has > had) enforcer.Uncharge(device, has - had);
    return result;
  }
  if (has < had) enforcer.Uncharge(device, had - has);
  limit_charged[which][device] = has;
  return result;
}

// ---- cuGetProcAddress ------------------------------------------------------------------------

// The driver resolves (name, version, flags) to one entry point; we answer with our hook for
// exactly that entry (see HookForRealFunction), so an old-ABI or per-thread-stream request
// never receives another variant's hook.
HAMI_EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cuda_version,
                                         cuuint64_t flags, CUdriverProcAddressQueryResult* status) {
  auto real = HAMI_REAL(cuGetProcAddress_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(symbol, pfn, cuda_version, flags, status);
  if (result == CUDA_SUCCESS && pfn != nullptr && *pfn != nullptr) {
    *pfn = HookForRealFunction(*pfn);
  }
  return result;
}

using GetProcAddressV1 = CUresult (*)(const char*, void**, int, cuuint64_t);

HAMI_EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int cuda_version,
                                      cuuint64_t flags) {
  static void* volatile slot = nullptr;
  auto real = Real<GetProcAddressV1>(&slot, "cuGetProcAddress", RealCuda);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(symbol, pfn, cuda_version, flags);
  if (result == CUDA_SUCCESS && pfn != nullptr && *pfn != nullptr) {
    *pfn = HookForRealFunction(*pfn);
  }
  return result;
}

// ---- the table -------------------------------------------------------------------------------

// The per-thread-stream variants defined in pool_hooks.cc (cuda.h declares them only when the
// per-thread default stream is compiled in).
extern "C" {
CUresult cuMemAllocAsync_ptsz(CUdeviceptr*, size_t, CUstream);
CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr*, size_t, CUmemoryPool, CUstream);
CUresult cuMemFreeAsync_ptsz(CUdeviceptr, CUstream);
CUresult cuStreamSynchronize_ptsz(CUstream);
}

namespace hami::vgpu::hook {

#define HAMI_HOOK(name) \
  HookEntry { #name, reinterpret_cast < void*>(&::name) }
const HookEntry kCudaHooks[] = {
    HAMI_HOOK(cuInit),
    HAMI_HOOK(cuGetProcAddress),
    HAMI_HOOK(cuGetProcAddress_v2),
    HAMI_HOOK(cuMemAlloc_v2),
    HAMI_HOOK(cuMemAllocManaged),
    HAMI_HOOK(cuMemAllocPitch_v2),
    HAMI_HOOK(cuMemFree_v2),
    HAMI_HOOK(cuMemAllocAsync),
    HAMI_HOOK(cuMemAllocAsync_ptsz),
    HAMI_HOOK(cuMemAllocFromPoolAsync),
    HAMI_HOOK(cuMemAllocFromPoolAsync_ptsz),
    HAMI_HOOK(cuMemFreeAsync),
    HAMI_HOOK(cuMemFreeAsync_ptsz),
    HAMI_HOOK(cuMemPoolCreate),
    HAMI_HOOK(cuMemPoolDestroy),
    HAMI_HOOK(cuMemPoolTrimTo),
    HAMI_HOOK(cuMemPoolSetAttribute),
    HAMI_HOOK(cuCtxSynchronize),
    HAMI_HOOK(cuStreamSynchronize),
    HAMI_HOOK(cuStreamSynchronize_ptsz),
    HAMI_HOOK(cuEventSynchronize),
    HAMI_HOOK(cuGraphAddMemAllocNode),
    HAMI_HOOK(cuDeviceGraphMemTrim),
    HAMI_HOOK(cuMemCreate),
    HAMI_HOOK(cuMemRelease),
    HAMI_HOOK(cuMemMap),
    HAMI_HOOK(cuMemUnmap),
    HAMI_HOOK(cuMemAddressFree),
    HAMI_HOOK(cuDevicePrimaryCtxRetain),
    HAMI_HOOK(cuCtxSetLimit),
    HAMI_HOOK(cuArrayCreate_v2),
    HAMI_HOOK(cuArray3DCreate_v2),
    HAMI_HOOK(cuArrayDestroy),
    HAMI_HOOK(cuMipmappedArrayCreate),
    HAMI_HOOK(cuMipmappedArrayDestroy),
    HAMI_HOOK(cuMemGetInfo_v2),
    HAMI_HOOK(cuDeviceTotalMem_v2),
    HAMI_HOOK(cuLaunchKernel),
    HAMI_HOOK(cuLaunchKernel_ptsz),
    HAMI_HOOK(cuLaunchKernelEx),
    HAMI_HOOK(cuLaunchKernelEx_ptsz),
    HAMI_HOOK(cuLaunchCooperativeKernel),
    HAMI_HOOK(cuLaunchCooperativeKernel_ptsz),
    HAMI_HOOK(cuGraphLaunch),
    HAMI_HOOK(cuGraphLaunch_ptsz),
};
const int kCudaHookCount = static_cast<int>(sizeof(kCudaHooks) / sizeof(kCudaHooks[0]));

void* HookForRealFunction(void* real_function) {
  // Built once: the real driver's address of every entry we hook.
  static void* real_of[sizeof(kCudaHooks) / sizeof(kCudaHooks[0])];
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, [] {
    for (int i = 0; i < kCudaHookCount; ++i) real_of[i] = RealCuda(kCudaHooks[i].name);
  });
  for (int i = 0; i < kCudaHookCount; ++i) {
    if (real_of[i] == real_function) return kCudaHooks[i].hook;
  }
  return real_function;
}

}  // namespace hami::vgpu::hook
