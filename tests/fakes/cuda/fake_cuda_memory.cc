// The fake driver's device memory: cuMemAlloc/Free/GetInfo/AllocPitch/AllocManaged, pinned host
// memory (allocated or registered; not charged), address ranges and pointer attributes. Device
// memory is charged to the calling process in the shared state, rounded up to the 2 MiB granule;
// an allocation that does not fit in what the device has left (sizes whose rounding would
// overflow included) fails with CUDA_ERROR_OUT_OF_MEMORY. Addresses are per process: device d
// hands out [(d+1) TiB, (d+2) TiB). Pools live in fake_cuda_pool.cc, VMM and arrays in
// fake_cuda_vmm.cc, graph allocations in fake_cuda_graph_memory.cc; a graph allocation may be
// freed here too (cuMemFree / cuMemFreeAsync), which returns it to the device's graph pool.
#include <cstdlib>
#include <cstring>

#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

constexpr uint64_t kPitchAlign = 512;  // CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT-ish

CUdeviceptr DeviceBase(int dev) { return static_cast<CUdeviceptr>(dev + 1) * kTiB; }

CUdeviceptr PlaceDeviceLocked(int dev, uint64_t span, uint64_t align) {
  return FirstFit(R().allocs, DeviceBase(dev), kTiB, span, align,
                  [](const Alloc& a) { return a.span; });
}

// Charges a device allocation rounded to the granule, in the current context.
CUresult AllocDeviceLocked(CUdeviceptr* dptr, size_t size, AllocKind kind) {
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (dptr == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t span = RoundUp(size, fakegpu::kGranularity);
  return NewAllocLocked(dptr, size, span, span, ctx, kind, nullptr, ctx->device);
}

CUresult FreeLocked(CUdeviceptr dptr, int64_t* wait_until) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  auto it = R().allocs.find(dptr);
  if (it == R().allocs.end()) return CUDA_ERROR_INVALID_VALUE;
  *wait_until = R().device_last_end_us[it->second.device];  // cuMemFree synchronises
  FreeAllocLocked(it);
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------------------------------
// Host memory

HostRange* FindHostLocked(const void* p, uintptr_t* base) {
  auto& host = R().host;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  auto it = host.upper_bound(addr);
  if (it == host.begin()) return nullptr;
  --it;
  if (addr - it->first >= it->second.size) return nullptr;
  if (base != nullptr) *base = it->first;
  return &it->second;
}

CUresult HostAllocLocked(void** pp, size_t size, unsigned flags) {
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (pp == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  constexpr unsigned kKnown =
      CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
  if ((flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  void* p = aligned_alloc(4096, RoundUp(size, 4096));
  if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  R().host[reinterpret_cast<uintptr_t>(p)] = HostRange{size, flags, false};
  *pp = p;
  return CUDA_SUCCESS;
}

CUresult HostRegisterLocked(void* p, size_t size, unsigned flags) {
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (p == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  constexpr unsigned kKnown = CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |
                              CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY;
  if ((flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  const auto lo = reinterpret_cast<uintptr_t>(p);
  auto& host = R().host;
  auto it = host.upper_bound(lo + size - 1);
  if (it != host.begin()) {
    --it;
    if (it->first + it->second.size > lo) return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
  }
  host[lo] = HostRange{size, flags, true};
  return CUDA_SUCCESS;
}

}  // namespace

// Records a device allocation of `size` bytes (taking `span` bytes of address space and
// charging `charge`) owned by `ctx`.
CUresult NewAllocLocked(CUdeviceptr* dptr, size_t size, uint64_t span, uint64_t charge, Ctx* ctx,
                        AllocKind kind, Pool* pool, int dev) {
  const CUdeviceptr base =
      PlaceDeviceLocked(dev, span, kind == AllocKind::kPool ? kPoolAlign : fakegpu::kGranularity);
  if (base == 0) return CUDA_ERROR_OUT_OF_MEMORY;
  if (charge > 0) {
    if (CUresult rc = ChargeLocked(dev, charge); rc != CUDA_SUCCESS) return rc;
  }
  Alloc a;
  a.base = base;
  a.size = size;
  a.span = span;
  a.charged = charge;
  a.device = dev;
  a.ctx = ctx;
  a.kind = kind;
  a.pool = pool;
  a.buffer_id = R().next_buffer_id++;
  R().allocs[base] = a;
  *dptr = base;
  return CUDA_SUCCESS;
}

// The allocation holding [p, p + n), or nullptr.
Alloc* FindAllocLocked(CUdeviceptr p, size_t n) {
  auto& allocs = R().allocs;
  auto it = allocs.upper_bound(p);
  if (it == allocs.begin()) return nullptr;
  --it;
  Alloc& a = it->second;
  if (p < a.base || p - a.base >= a.size || n > a.size - (p - a.base)) return nullptr;
  return &a;
}

// Frees an allocation record (the caller checked it is a base).
void FreeAllocLocked(std::map<CUdeviceptr, Alloc>::iterator it) {
  Alloc& a = it->second;
  if (a.kind == AllocKind::kPool) {
    PoolReleaseLocked(a.pool, a.span);
  } else if (a.kind == AllocKind::kGraph) {
    GraphMemReleaseLocked(a.device, a.span);
  } else if (a.charged > 0) {
    UnchargeLocked(a.device, a.charged);
  }
  R().allocs.erase(it);
}

void FreeCtxMemoryLocked(Ctx* ctx) {
  auto& allocs = R().allocs;
  for (auto it = allocs.begin(); it != allocs.end();) {
    auto next = std::next(it);
    if (it->second.ctx == ctx) FreeAllocLocked(it);
    it = next;
  }
  DestroyCtxArraysLocked(ctx);
  TrimPoolsLocked(ctx->device);
  GraphMemTrimLocked(ctx->device);
}

bool DeviceRangeOkLocked(CUdeviceptr p, size_t n) {
  if (FindAllocLocked(p, n) != nullptr) return true;
  auto& maps = R().mappings;
  auto it = maps.upper_bound(p);
  if (it == maps.begin()) return false;
  --it;
  return p - it->first < it->second.size && n <= it->second.size - (p - it->first);
}

bool HostPointerKnownLocked(const void* p) { return FindHostLocked(p, nullptr) != nullptr; }

}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

// ---------------------------------------------------------------------------------------
// Device allocations

FAKE_API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return AllocDeviceLocked(dptr, bytesize, AllocKind::kDevice);
}

FAKE_API CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  // Charged at allocation like device memory (a real GPU charges pages as they migrate in).
  return AllocDeviceLocked(dptr, bytesize, AllocKind::kManaged);
}

FAKE_API CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pitch, size_t width_bytes,
                                     size_t height, unsigned int element_bytes) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (pitch == nullptr || width_bytes == 0 || height == 0 ||
      (element_bytes != 4 && element_bytes != 8 && element_bytes != 16)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const size_t p = RoundUp(width_bytes, kPitchAlign);  // the charge follows the pitch
  const CUresult rc = AllocDeviceLocked(dptr, MulSat(p, height), AllocKind::kDevice);
  if (rc == CUDA_SUCCESS) *pitch = p;
  return rc;
}

FAKE_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
  FAKE_ENTER();
  int64_t wait_until = 0;
  {
    std::lock_guard<std::mutex> lock(R().mu);
    if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
    if (dptr == 0) return CUDA_SUCCESS;
    if (CUresult rc = FreeLocked(dptr, &wait_until); rc != CUDA_SUCCESS) return rc;
  }
  WaitUntil(wait_until);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (free_bytes == nullptr || total_bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  fakegpu::State* s = R().state;
  fakegpu::Locked shared(s);
  fakegpu::ReapDeadLocked(s);
  const uint64_t total = s->config.memory_bytes, used = s->devices[ctx->device].used_bytes;
  *total_bytes = total;
  *free_bytes = used < total ? total - used : 0;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr dptr) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  const Alloc* a = FindAllocLocked(dptr);
  if (a == nullptr) return CUDA_ERROR_NOT_FOUND;
  if (base != nullptr) *base = a->base;
  if (size != nullptr) *size = a->size;
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------------------------------
// Pinned host memory (not charged to the device)

FAKE_API CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return HostAllocLocked(pp, bytesize, 0);
}

FAKE_API CUresult cuMemHostAlloc(void** pp, size_t bytesize, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return HostAllocLocked(pp, bytesize, flags);
}

FAKE_API CUresult cuMemFreeHost(void* p) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  auto it = R().host.find(reinterpret_cast<uintptr_t>(p));
  if (p == nullptr || it == R().host.end() || it->second.registered) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  R().host.erase(it);
  free(p);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemHostRegister_v2(void* p, size_t bytesize, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return HostRegisterLocked(p, bytesize, flags);
}

FAKE_API CUresult cuMemHostRegister(void* p, size_t bytesize, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return HostRegisterLocked(p, bytesize, flags);
}

FAKE_API CUresult cuMemHostUnregister(void* p) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  auto it = R().host.find(reinterpret_cast<uintptr_t>(p));
  if (p == nullptr || it == R().host.end() || !it->second.registered) {
    return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
  }
  R().host.erase(it);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* pdptr, void* p, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (pdptr == nullptr || flags != 0 || FindHostLocked(p, nullptr) == nullptr) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *pdptr = reinterpret_cast<CUdeviceptr>(p);  // unified addressing: the same address
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemHostGetFlags(unsigned int* flags, void* p) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  const HostRange* h = FindHostLocked(p, nullptr);
  if (flags == nullptr || h == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = h->flags;
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------------------------------
// Pointer attributes

namespace {

// Writes one attribute of `ptr`; INVALID_VALUE for a pointer the fake does not know.
CUresult PointerAttributeLocked(void* data, CUpointer_attribute attr, CUdeviceptr ptr) {
  const Alloc* a = FindAllocLocked(ptr);
  uintptr_t host_base = 0;
  const HostRange* h =
      a == nullptr ? FindHostLocked(reinterpret_cast<void*>(ptr), &host_base) : nullptr;
  if (a == nullptr && h == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const bool managed = a != nullptr && a->kind == AllocKind::kManaged;
  switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
      *static_cast<CUcontext*>(data) = a != nullptr ? reinterpret_cast<CUcontext>(a->ctx) : nullptr;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
      *static_cast<unsigned*>(data) = a != nullptr ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      *static_cast<CUdeviceptr*>(data) = ptr;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      if (a != nullptr && !managed) return CUDA_ERROR_INVALID_VALUE;
      *static_cast<void**>(data) = reinterpret_cast<void*>(ptr);
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
      *static_cast<unsigned*>(data) = 0;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
      *static_cast<unsigned long long*>(data) = a != nullptr ? a->buffer_id : host_base;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
      *static_cast<unsigned*>(data) = managed ? 1 : 0;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
      *static_cast<int*>(data) = a != nullptr ? a->device : 0;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
      *static_cast<unsigned*>(data) = a != nullptr && a->kind == AllocKind::kDevice ? 1 : 0;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
      *static_cast<CUdeviceptr*>(data) = a != nullptr ? a->base : host_base;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
      *static_cast<size_t*>(data) = a != nullptr ? a->size : h->size;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MAPPED:
      *static_cast<unsigned*>(data) = 1;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
      *static_cast<unsigned*>(data) = CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
      *static_cast<CUmemoryPool*>(data) =
          a != nullptr ? reinterpret_cast<CUmemoryPool>(a->pool) : nullptr;
      return CUDA_SUCCESS;
    default:
      return CUDA_ERROR_NOT_SUPPORTED;
  }
}

}  // namespace

FAKE_API CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attr, CUdeviceptr ptr) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return PointerAttributeLocked(data, attr, ptr);
}

// Unlike cuPointerGetAttribute, an unknown pointer is not an error: the values are zeroed.
FAKE_API CUresult cuPointerGetAttributes(unsigned int count, CUpointer_attribute* attrs,
                                         void** data, CUdeviceptr ptr) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (count == 0 || attrs == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < count; ++i) {
    if (data[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
    unsigned char value[16] = {};
    const CUresult rc = PointerAttributeLocked(value, attrs[i], ptr);
    if (rc == CUDA_ERROR_NOT_SUPPORTED) return rc;
    size_t width = 4;  // unsigned / int valued attributes
    switch (attrs[i]) {
      case CU_POINTER_ATTRIBUTE_CONTEXT:
      case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      case CU_POINTER_ATTRIBUTE_BUFFER_ID:
      case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
      case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
      case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
        width = 8;
        break;
      default:
        break;
    }
    if (rc != CUDA_SUCCESS) memset(value, 0, sizeof(value));
    memcpy(data[i], value, width);
  }
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuPointerSetAttribute(const void* value, CUpointer_attribute attr,
                                        CUdeviceptr ptr) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (value == nullptr || FindAllocLocked(ptr) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return attr == CU_POINTER_ATTRIBUTE_SYNC_MEMOPS ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
