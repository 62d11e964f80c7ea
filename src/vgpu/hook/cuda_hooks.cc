// The driver API hooks: memory accounting (every allocation path charges the container's
// region before the driver allocates, so concurrent processes can never overshoot the limit),
// the memory views (cuMemGetInfo, cuDeviceTotalMem), launches, cuInit and cuGetProcAddress.
// Names are the driver's exact versioned exports; cuda.h's macros are bypassed by naming the
// versioned symbols directly.
#include <cuda.h>
#include <pthread.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

// cuda.h maps cuGetProcAddress to the _v2 entry; the v1 export (4 arguments) is hooked too.
#undef cuGetProcAddress

#include "vgpu/array_size.h"
#include "vgpu/hook/compute.h"
#include "vgpu/hook/enforcer.h"
#include "vgpu/hook/hooks.h"
#include "vgpu/hook/real.h"

namespace hami::vgpu::hook {
namespace {

// One cache slot per real entry point.
#define HAMI_REAL(name)                                     \
  ([]() {                                                   \
    static void* volatile slot = nullptr;                   \
    return Real<decltype(&::name)>(&slot, #name, RealCuda); \
  }())
#define HAMI_REAL_AS(type_of, exported)                           \
  ([]() {                                                         \
    static void* volatile slot = nullptr;                         \
    return Real<decltype(&::type_of)>(&slot, exported, RealCuda); \
  }())

using KeySpace = Enforcer::KeySpace;

// Charges `bytes` on `device`, runs `allocate`, and undoes the charge when the driver refuses;
// on success remembers the allocation under `key_of()` in `space`.
template <typename Allocate, typename Key>
CUresult Charged(KeySpace space, int device, uint64_t bytes, Allocate allocate, Key key_of) {
  Enforcer& enforcer = Enforcer::Get();
  if (!enforcer.Charge(device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  const CUresult result = allocate();
  if (result != CUDA_SUCCESS) {
    enforcer.Uncharge(device, bytes);
    return result;
  }
  enforcer.Remember(space, key_of(), Allocation{device, bytes});
  return result;
}

// Frees through `release` what `key` charged. The record is dropped before the driver frees
// (so an address the driver hands out again at once is not confused with this one) and put
// back if the driver refuses. Something we did not allocate is passed through untouched.
template <typename Release>
CUresult Released(KeySpace space, uint64_t key, Release release) {
  Enforcer& enforcer = Enforcer::Get();
  const Allocation allocation = enforcer.Forget(space, key);
  const CUresult result = release();
  if (allocation.device < 0) return result;
  if (result == CUDA_SUCCESS) {
    enforcer.Uncharge(allocation.device, allocation.bytes);
  } else {
    enforcer.Remember(space, key, allocation);
  }
  return result;
}

// A device address or an opaque handle (a pointer type) as a key.
template <typename T>
uint64_t KeyOf(T value) {
  if constexpr (std::is_pointer_v<T>) {
    return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(value));
  } else {
    return static_cast<uint64_t>(value);
  }
}

// Charged() on the current context's device, the allocation's address or handle read through
// `out`; without an `out` or a current context the driver is called uncharged (it says why).
template <typename Allocate, typename Out>
CUresult OnCurrentDevice(KeySpace space, uint64_t bytes, Allocate allocate, Out* out) {
  int device = 0;
  if (out == nullptr || !CurrentDevice(&device)) return allocate();
  return Charged(space, device, bytes, allocate, [out] { return KeyOf(*out); });
}

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
  return Released(KeySpace::kAddress, dptr, [&] { return real(dptr); });
}

#define HAMI_ASYNC_ALLOC(exported)                                                         \
  HAMI_EXPORT CUresult exported(CUdeviceptr* dptr, size_t bytesize, CUstream stream) {     \
    auto real = HAMI_REAL_AS(cuMemAllocAsync, #exported);                                  \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;                                  \
    return OnCurrentDevice(                                                                \
        KeySpace::kAddress, bytesize, [&] { return real(dptr, bytesize, stream); }, dptr); \
  }
HAMI_ASYNC_ALLOC(cuMemAllocAsync)
HAMI_ASYNC_ALLOC(cuMemAllocAsync_ptsz)

#define HAMI_POOL_ALLOC(exported)                                                                \
  HAMI_EXPORT CUresult exported(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,           \
                                CUstream stream) {                                               \
    auto real = HAMI_REAL_AS(cuMemAllocFromPoolAsync, #exported);                                \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;                                        \
    return OnCurrentDevice(                                                                      \
        KeySpace::kAddress, bytesize, [&] { return real(dptr, bytesize, pool, stream); }, dptr); \
  }
HAMI_POOL_ALLOC(cuMemAllocFromPoolAsync)
HAMI_POOL_ALLOC(cuMemAllocFromPoolAsync_ptsz)

// Stream-ordered frees release the charge when enqueued: the memory returns to the pool, which
// a later allocation of this container reuses.
#define HAMI_ASYNC_FREE(exported)                                                  \
  HAMI_EXPORT CUresult exported(CUdeviceptr dptr, CUstream stream) {               \
    auto real = HAMI_REAL_AS(cuMemFreeAsync, #exported);                           \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;                          \
    return Released(KeySpace::kAddress, dptr, [&] { return real(dptr, stream); }); \
  }
HAMI_ASYNC_FREE(cuMemFreeAsync)
HAMI_ASYNC_FREE(cuMemFreeAsync_ptsz)

HAMI_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                                 const CUmemAllocationProp* prop, unsigned long long flags) {
  auto real = HAMI_REAL(cuMemCreate);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (handle == nullptr || prop == nullptr || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return real(handle, size, prop, flags);  // host memory, or an argument the driver refuses
  }
  return Charged(
      KeySpace::kVmmHandle, prop->location.id, size,
      [&] { return real(handle, size, prop, flags); },
      [handle] { return static_cast<uint64_t>(*handle); });
}

HAMI_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  auto real = HAMI_REAL(cuMemRelease);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Released(KeySpace::kVmmHandle, handle, [&] { return real(handle); });
}

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
  if (result == CUDA_SUCCESS) Enforcer::Get().AfterCudaInit();  // limits, region, host pid
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
    return real(f, gx, gy, gz, bx, by, bz, shared, stream, params);                              \
  }
HAMI_LAUNCH_COOP(cuLaunchCooperativeKernel)
HAMI_LAUNCH_COOP(cuLaunchCooperativeKernel_ptsz)

#define HAMI_GRAPH_LAUNCH(exported)                                   \
  HAMI_EXPORT CUresult exported(CUgraphExec graph, CUstream stream) { \
    auto real = HAMI_REAL_AS(cuGraphLaunch, #exported);               \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;             \
    if (__builtin_expect(!LaunchUnlimited(), 0)) {                    \
      return ThrottledLaunch(1.0, real, graph, stream);               \
    }                                                                 \
    return real(graph, stream);                                       \
  }
HAMI_GRAPH_LAUNCH(cuGraphLaunch)
HAMI_GRAPH_LAUNCH(cuGraphLaunch_ptsz)

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
    HAMI_HOOK(cuMemCreate),
    HAMI_HOOK(cuMemRelease),
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
