// The fake driver's virtual memory management (cuMemCreate, cuMemAddressReserve, cuMemMap,
// cuMemSetAccess, ...), CUDA arrays and mipmapped arrays. A cuMemCreate handle is charged to its
// device when created and uncharged once released and unmapped; reservations take addresses
// from 32 TiB up and cost nothing. Arrays are charged like allocations: width * height * depth
// (0 counts as 1) * element bytes * channels, rounded up to the granule; 8-, 16- and 32-bit
// formats with 1, 2 or 4 channels are simulated, others are NOT_SUPPORTED.
//
// A mipmapped array (cuMipmappedArrayCreate) is charged the sum of its levels, rounded up to
// the granule once: level 0 is the descriptor's size, each next level halves width, height and
// depth (rounding down, at least 1; a height or depth of 0 stays 0), and the levels stop at
// numMipmapLevels (0 counts as 1) or after a 1x1x1 level, whichever comes first (CUDA clamps
// the count to 1 + floor(log2(max dimension))). That is src/vgpu/array_size.cc's
// MipmappedArrayBytes, which libvgpu charges. cuMipmappedArrayGetLevel hands out a CUarray per
// level that is charged nothing of its own, cannot be cuArrayDestroy'ed (INVALID_VALUE) and
// goes with its mipmapped array. Destroying the context destroys its arrays and mipmapped
// arrays, uncharging them.
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

// Checks an array's shape and format in the current context; `texel_bytes` = element bytes *
// channels.
CUresult CheckArrayLocked(const void* handle, size_t w, CUarray_format format, unsigned channels,
                          Ctx** ctx, uint64_t* texel_bytes) {
  if (CUresult rc = CurrentCtxLocked(ctx); rc != CUDA_SUCCESS) return rc;
  if (handle == nullptr || w == 0 || (channels != 1 && channels != 2 && channels != 4)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const size_t elem = FormatBytes(format);
  if (elem == 0) return CUDA_ERROR_NOT_SUPPORTED;
  *texel_bytes = elem * channels;
  return CUDA_SUCCESS;
}

uint64_t LevelBytes(uint64_t w, uint64_t h, uint64_t d, uint64_t texel_bytes) {
  return MulSat(MulSat(MulSat(w, h == 0 ? 1 : h), d == 0 ? 1 : d), texel_bytes);
}

Array* NewArrayLocked(Ctx* ctx, uint64_t charged, MipmappedArray* owner) {
  auto* a = new Array();
  a->ctx = ctx;
  a->device = ctx->device;
  a->charged = charged;
  a->owner = owner;
  Register(a);
  return a;
}

CUresult ArrayCreateLocked(CUarray* handle, size_t w, size_t h, size_t d, CUarray_format format,
                           unsigned channels) {
  Ctx* ctx = nullptr;
  uint64_t texel = 0;
  if (CUresult rc = CheckArrayLocked(handle, w, format, channels, &ctx, &texel);
      rc != CUDA_SUCCESS) {
    return rc;
  }
  const uint64_t charge = RoundUp(LevelBytes(w, h, d, texel), fakegpu::kGranularity);
  if (CUresult rc = ChargeLocked(ctx->device, charge); rc != CUDA_SUCCESS) return rc;
  Array* a = NewArrayLocked(ctx, charge, nullptr);
  R().arrays.push_back(a);
  *handle = reinterpret_cast<CUarray>(a);
  return CUDA_SUCCESS;
}

CUresult MipmappedArrayCreateLocked(CUmipmappedArray* handle, const CUDA_ARRAY3D_DESCRIPTOR* desc,
                                    unsigned levels) {
  if (desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Ctx* ctx = nullptr;
  uint64_t texel = 0;
  if (CUresult rc =
          CheckArrayLocked(handle, desc->Width, desc->Format, desc->NumChannels, &ctx, &texel);
      rc != CUDA_SUCCESS) {
    return rc;
  }
  uint64_t w = desc->Width, h = desc->Height, d = desc->Depth, bytes = 0;
  unsigned count = 0;
  while (count < (levels == 0 ? 1u : levels)) {
    bytes = AddSat(bytes, LevelBytes(w, h, d, texel));
    ++count;
    if (w <= 1 && h <= 1 && d <= 1) break;
    w = w / 2 > 1 ? w / 2 : 1;
    h = h == 0 ? 0 : (h / 2 > 1 ? h / 2 : 1);
    d = d == 0 ? 0 : (d / 2 > 1 ? d / 2 : 1);
  }
  const uint64_t charge = RoundUp(bytes, fakegpu::kGranularity);
  if (CUresult rc = ChargeLocked(ctx->device, charge); rc != CUDA_SUCCESS) return rc;
  auto* m = new MipmappedArray();
  m->ctx = ctx;
  m->device = ctx->device;
  m->charged = charge;
  m->levels.assign(count, nullptr);
  Register(m);
  R().mipmaps.push_back(m);
  *handle = reinterpret_cast<CUmipmappedArray>(m);
  return CUDA_SUCCESS;
}

template <typename T>
void Forget(std::vector<T*>& list, T* item) {
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (*it == item) {
      list.erase(it);
      return;
    }
  }
}

void DestroyArrayLocked(Array* a) {
  UnchargeLocked(a->device, a->charged);
  Forget(R().arrays, a);
  Unregister(a);
  delete a;
}

void DestroyMipmappedArrayLocked(MipmappedArray* m) {
  UnchargeLocked(m->device, m->charged);
  for (Array* level : m->levels) {
    if (level == nullptr) continue;
    Unregister(level);
    delete level;
  }
  Forget(R().mipmaps, m);
  Unregister(m);
  delete m;
}

}  // namespace

void DestroyCtxArraysLocked(Ctx* ctx) {
  std::vector<Array*> arrays;
  for (Array* a : R().arrays) {
    if (a->ctx == ctx) arrays.push_back(a);
  }
  for (Array* a : arrays) DestroyArrayLocked(a);
  std::vector<MipmappedArray*> mipmaps;
  for (MipmappedArray* m : R().mipmaps) {
    if (m->ctx == ctx) mipmaps.push_back(m);
  }
  for (MipmappedArray* m : mipmaps) DestroyMipmappedArrayLocked(m);
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
  if (a->owner != nullptr) return CUDA_ERROR_INVALID_VALUE;  // a level of a mipmapped array
  DestroyArrayLocked(a);
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------------------------------
// Mipmapped arrays (charged once for all their levels)

FAKE_API CUresult cuMipmappedArrayCreate(CUmipmappedArray* handle,
                                         const CUDA_ARRAY3D_DESCRIPTOR* desc, unsigned int levels) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return MipmappedArrayCreateLocked(handle, desc, levels);
}

FAKE_API CUresult cuMipmappedArrayGetLevel(CUarray* level_array, CUmipmappedArray handle,
                                           unsigned int level) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  MipmappedArray* m = Lookup<MipmappedArray>(handle, Kind::kMipmappedArray);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (level_array == nullptr || level >= m->levels.size()) return CUDA_ERROR_INVALID_VALUE;
  if (m->levels[level] == nullptr) m->levels[level] = NewArrayLocked(m->ctx, 0, m);
  *level_array = reinterpret_cast<CUarray>(m->levels[level]);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMipmappedArrayDestroy(CUmipmappedArray handle) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  MipmappedArray* m = Lookup<MipmappedArray>(handle, Kind::kMipmappedArray);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  DestroyMipmappedArrayLocked(m);
  return CUDA_SUCCESS;
}
