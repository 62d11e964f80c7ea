// The fake driver's virtual memory management (cuMemCreate, cuMemAddressReserve, cuMemMap,
// cuMemSetAccess, ...) and CUDA arrays. A cuMemCreate handle is charged to its device when
// created and uncharged once released and unmapped; reservations take addresses from 32 TiB up
// and cost nothing. Arrays are charged like allocations (their bytes rounded to the granule).
#include <cstring>

#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

constexpr CUdeviceptr kVmmBase = 32 * kTiB;
constexpr CUdeviceptr kVmmSize = 64 * kTiB;

void DropVmmMappingLocked(std::map<CUdeviceptr, VmmMapping>::iterator it) {
  auto h = R().vmm.find(it->second.handle);
  if (h != R().vmm.end() && --h->second.mappings == 0 && h->second.released) {
    UnchargeLocked(h->second.device, h->second.size);
    R().vmm.erase(h);
  }
  R().mappings.erase(it);
}

size_t FormatBytes(CUarray_format f) {
  switch (f) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8:
      return 1;
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF:
      return 2;
    case CU_AD_FORMAT_UNSIGNED_INT32:
    case CU_AD_FORMAT_SIGNED_INT32:
    case CU_AD_FORMAT_FLOAT:
      return 4;
    default:
      return 0;  // packed / video formats: not simulated
  }
}

CUresult ArrayCreateLocked(CUarray* handle, size_t w, size_t h, size_t d, CUarray_format format,
                           unsigned channels) {
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (handle == nullptr || w == 0 || (channels != 1 && channels != 2 && channels != 4)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const size_t elem = FormatBytes(format);
  if (elem == 0) return CUDA_ERROR_NOT_SUPPORTED;
  const uint64_t bytes =
      static_cast<uint64_t>(w) * (h == 0 ? 1 : h) * (d == 0 ? 1 : d) * elem * channels;
  const uint64_t charge = RoundUp(bytes, fakegpu::kGranularity);
  if (CUresult rc = ChargeLocked(ctx->device, charge); rc != CUDA_SUCCESS) return rc;
  auto* a = new Array();
  a->ctx = ctx;
  a->device = ctx->device;
  a->charged = charge;
  Register(a);
  R().arrays.push_back(a);
  *handle = reinterpret_cast<CUarray>(a);
  return CUDA_SUCCESS;
}

void DestroyArrayLocked(Array* a) {
  UnchargeLocked(a->device, a->charged);
  auto& arrays = R().arrays;
  for (auto it = arrays.begin(); it != arrays.end(); ++it) {
    if (*it == a) {
      arrays.erase(it);
      break;
    }
  }
  Unregister(a);
  delete a;
}

}  // namespace

void DestroyCtxArraysLocked(Ctx* ctx) {
  std::vector<Array*> doomed;
  for (Array* a : R().arrays) {
    if (a->ctx == ctx) doomed.push_back(a);
  }
  for (Array* a : doomed) DestroyArrayLocked(a);
}

bool ArrayKnownLocked(CUarray a) { return Lookup<Array>(a, Kind::kArray) != nullptr; }

}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

// ---------------------------------------------------------------------------------------
// Virtual memory management

FAKE_API CUresult cuMemGetAllocationGranularity(size_t* granularity,
                                                const CUmemAllocationProp* prop,
                                                CUmemAllocationGranularity_flags option) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (granularity == nullptr || prop == nullptr ||
      (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
       option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED) ||
      prop->type != CU_MEM_ALLOCATION_TYPE_PINNED || !ValidDeviceLocation(prop->location)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *granularity = fakegpu::kGranularity;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                              const CUmemAllocationProp* prop, unsigned long long flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (handle == nullptr || prop == nullptr || flags != 0 || size == 0 ||
      size % fakegpu::kGranularity != 0 || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_NOT_SUPPORTED;
  if (!ValidDeviceLocked(prop->location.id)) return CUDA_ERROR_INVALID_DEVICE;
  if (CUresult rc = ChargeLocked(prop->location.id, size); rc != CUDA_SUCCESS) return rc;
  const CUmemGenericAllocationHandle h = R().next_vmm_handle++;
  R().vmm[h] = VmmAllocation{size, prop->location.id, false, 0};
  *handle = h;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  auto it = R().vmm.find(handle);
  if (it == R().vmm.end() || it->second.released) return CUDA_ERROR_INVALID_VALUE;
  it->second.released = true;  // mapped memory lives on until unmapped
  if (it->second.mappings == 0) {
    UnchargeLocked(it->second.device, it->second.size);
    R().vmm.erase(it);
  }
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                         CUmemGenericAllocationHandle handle) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  auto it = R().vmm.find(handle);
  if (prop == nullptr || it == R().vmm.end() || it->second.released) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  memset(prop, 0, sizeof(*prop));
  prop->type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop->location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop->location.id = it->second.device;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment,
                                      CUdeviceptr addr, unsigned long long flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (ptr == nullptr || size == 0 || size % fakegpu::kGranularity != 0 || flags != 0 ||
      (alignment & (alignment - 1)) != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  (void)addr;  // a hint only
  const uint64_t align = alignment > fakegpu::kGranularity ? alignment : fakegpu::kGranularity;
  const CUdeviceptr base =
      FirstFit(R().reservations, kVmmBase, kVmmSize, size, align, [](size_t s) { return s; });
  if (base == 0) return CUDA_ERROR_OUT_OF_MEMORY;
  R().reservations[base] = size;
  *ptr = base;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  auto it = R().reservations.find(ptr);
  if (it == R().reservations.end() || it->second != size) return CUDA_ERROR_INVALID_VALUE;
  auto& maps = R().mappings;
  for (auto m = maps.lower_bound(ptr); m != maps.end() && m->first < ptr + size;) {
    auto next = std::next(m);
    DropVmmMappingLocked(m);
    m = next;
  }
  R().reservations.erase(it);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                           CUmemGenericAllocationHandle handle, unsigned long long flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  auto h = R().vmm.find(handle);
  if (h == R().vmm.end() || h->second.released || flags != 0 || size == 0 ||
      size % fakegpu::kGranularity != 0 || offset > h->second.size ||
      size > h->second.size - offset) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto& res = R().reservations;
  auto r = res.upper_bound(ptr);
  if (r == res.begin()) return CUDA_ERROR_INVALID_VALUE;
  --r;
  if (ptr - r->first >= r->second || size > r->second - (ptr - r->first)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto& maps = R().mappings;
  auto next = maps.lower_bound(ptr);
  if (next != maps.end() && next->first < ptr + size) return CUDA_ERROR_INVALID_VALUE;
  if (next != maps.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size > ptr) return CUDA_ERROR_INVALID_VALUE;
  }
  maps[ptr] = VmmMapping{size, handle, offset, false};
  ++h->second.mappings;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  auto& maps = R().mappings;
  bool any = false;
  for (auto m = maps.lower_bound(ptr); m != maps.end() && m->first < ptr + size;) {
    auto next = std::next(m);
    DropVmmMappingLocked(m);
    any = true;
    m = next;
  }
  return any ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FAKE_API CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc,
                                 size_t count) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < count; ++i) {
    if (!ValidDeviceLocation(desc[i].location)) return CUDA_ERROR_INVALID_DEVICE;
  }
  auto& maps = R().mappings;
  bool any = false;
  for (auto m = maps.lower_bound(ptr); m != maps.end() && m->first < ptr + size; ++m) {
    m->second.accessible = desc[count - 1].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE;
    any = true;
  }
  return any ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// ---------------------------------------------------------------------------------------
// Arrays (charged like allocations)

FAKE_API CUresult cuArrayCreate_v2(CUarray* handle, const CUDA_ARRAY_DESCRIPTOR* desc) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return ArrayCreateLocked(handle, desc->Width, desc->Height, 1, desc->Format, desc->NumChannels);
}

FAKE_API CUresult cuArray3DCreate_v2(CUarray* handle, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return ArrayCreateLocked(handle, desc->Width, desc->Height, desc->Depth, desc->Format,
                           desc->NumChannels);
}

FAKE_API CUresult cuArrayDestroy(CUarray handle) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Array* a = Lookup<Array>(handle, Kind::kArray);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  DestroyArrayLocked(a);
  return CUDA_SUCCESS;
}
