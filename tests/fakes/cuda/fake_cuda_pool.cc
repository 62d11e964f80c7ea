// The fake driver's stream-ordered allocator: memory pools (the per-device default pool and
// created ones), cuMemAllocAsync / cuMemFreeAsync / cuMemAllocFromPoolAsync and the pool
// attributes. A pool reserves device memory in 2 MiB granules as allocations need it; the
// reservation (not what is allocated from it) is what the process is charged. Freed memory
// stays reserved until a synchronisation (stream, context) or cuMemPoolTrimTo trims the pool to
// its release threshold, as CUDA does, so the charge can lag the allocations. A threshold (or
// cuMemPoolTrimTo size) at or above the reservation keeps all of it; UINT64_MAX, which PyTorch
// sets, never releases anything. A request too large for the device fails with OUT_OF_MEMORY.
// On a capturing stream, cuMemAllocAsync / cuMemAllocFromPoolAsync record a graph alloc node on
// the pool's device and cuMemFreeAsync a free node (fake_cuda_graph_memory.cc): nothing is
// allocated or freed until the graph is launched, as in CUDA.
#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

void PoolGrowHigh(Pool* p) {
  if (p->reserved > p->reserved_high) p->reserved_high = p->reserved;
  if (p->used > p->used_high) p->used_high = p->used;
}

// Shrinks the pool's reservation to `keep` bytes rounded up to the granule, never below what
// is in use; a `keep` of at least the reservation keeps it all.
void PoolShrinkLocked(Pool* p, uint64_t keep) {
  if (keep >= p->reserved) return;
  // Both at most the reservation, itself a multiple of the granule.
  uint64_t target = RoundUp(p->used, fakegpu::kGranularity);
  const uint64_t keep_rounded = RoundUp(keep, fakegpu::kGranularity);
  if (keep_rounded > target) target = keep_rounded;
  if (p->reserved > target) {
    UnchargeLocked(p->device, p->reserved - target);
    p->reserved = target;
  }
}

void ForgetPoolLocked(Pool* p) {
  PoolShrinkLocked(p, 0);
  auto& pools = R().pools;
  for (auto it = pools.begin(); it != pools.end(); ++it) {
    if (*it == p) {
      pools.erase(it);
      break;
    }
  }
  Unregister(p);
}

Pool* DefaultPoolLocked(int dev) {
  Runtime& r = R();
  if (r.default_pool[dev] == nullptr) {
    auto* p = new Pool();
    p->device = dev;
    p->is_default = true;
    Register(p);
    r.pools.push_back(p);
    r.default_pool[dev] = p;
    if (r.current_pool[dev] == nullptr) r.current_pool[dev] = p;
  }
  return r.default_pool[dev];
}

Pool* CurrentPoolLocked(int dev) {
  DefaultPoolLocked(dev);
  return R().current_pool[dev];
}

CUresult PoolAllocLocked(CUdeviceptr* dptr, size_t size, Pool* pool, Ctx* ctx) {
  const uint64_t span = RoundUp(size, kPoolAlign);
  if (span > Cfg().memory_bytes) return CUDA_ERROR_OUT_OF_MEMORY;  // also keeps the sums below
  uint64_t grow = 0;
  if (pool->used + span > pool->reserved) {
    grow = RoundUp(pool->used + span - pool->reserved, fakegpu::kGranularity);
  }
  if (pool->max_size != 0 && pool->reserved + grow > pool->max_size) {
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  if (grow > 0) {
    if (CUresult rc = ChargeLocked(pool->device, grow); rc != CUDA_SUCCESS) return rc;
  }
  pool->reserved += grow;
  const CUresult rc =
      NewAllocLocked(dptr, size, span, 0, ctx, AllocKind::kPool, pool, pool->device);
  if (rc != CUDA_SUCCESS) {
    PoolShrinkLocked(pool, pool->release_threshold);
    return rc;
  }
  pool->used += span;
  PoolGrowHigh(pool);
  return CUDA_SUCCESS;
}

CUresult AllocAsyncLocked(CUdeviceptr* dptr, size_t size, Pool* pool, CUstream stream) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Ctx* ctx = nullptr;
  Stream* s = nullptr;
  if (CUresult rc = ResolveStreamLocked(stream, &ctx, &s); rc != CUDA_SUCCESS) return rc;
  if (dptr == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  if (s != nullptr && s->capture != nullptr) {  // an alloc node of the captured graph
    GraphNode* node = nullptr;
    const CUresult rc = AddMemAllocNodeLocked(
        s->capture, pool != nullptr ? pool->device : ctx->device, size, &node);
    if (rc == CUDA_SUCCESS) *dptr = node->mem_dptr;
    return rc;
  }
  if (pool == nullptr) pool = CurrentPoolLocked(ctx->device);
  return PoolAllocLocked(dptr, size, pool, ctx);
}

CUresult FreeAsyncLocked(CUdeviceptr dptr, CUstream stream) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Ctx* ctx = nullptr;
  Stream* s = nullptr;
  if (CUresult rc = ResolveStreamLocked(stream, &ctx, &s); rc != CUDA_SUCCESS) return rc;
  if (s != nullptr && s->capture != nullptr) {  // a free node of the captured graph
    GraphNode* node = nullptr;
    return AddMemFreeNodeLocked(s->capture, dptr, &node);
  }
  auto it = R().allocs.find(dptr);
  if (it == R().allocs.end()) return CUDA_ERROR_INVALID_VALUE;
  // The memory goes back to its pool at once: the fake's work has no side effects to order.
  FreeAllocLocked(it);
  return CUDA_SUCCESS;
}

CUresult AllocFromPoolLocked(CUdeviceptr* dptr, size_t size, CUmemoryPool handle, CUstream stream) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Pool* pool = Lookup<Pool>(handle, Kind::kPool);
  if (pool == nullptr || pool->destroyed) return CUDA_ERROR_INVALID_VALUE;
  return AllocAsyncLocked(dptr, size, pool, stream);
}

}  // namespace

void PoolReleaseLocked(Pool* p, uint64_t span) {
  p->used -= span < p->used ? span : p->used;
  if (p->destroyed && p->used == 0) ForgetPoolLocked(p);
}

void TrimPoolsLocked(int dev) {
  std::vector<Pool*> pools = R().pools;  // ForgetPoolLocked edits the list
  for (Pool* p : pools) {
    if (p->device != dev) continue;
    if (p->destroyed && p->used == 0) {
      ForgetPoolLocked(p);
    } else {
      PoolShrinkLocked(p, p->release_threshold);
    }
  }
}

}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

// ---------------------------------------------------------------------------------------
// Stream-ordered allocation and pools

FAKE_API CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t size, CUstream stream) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return AllocAsyncLocked(dptr, size, nullptr, stream);
}

FAKE_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t size, CUstream stream) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return AllocAsyncLocked(dptr, size, nullptr, stream);
}

FAKE_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream stream) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return FreeAsyncLocked(dptr, stream);
}

FAKE_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return FreeAsyncLocked(dptr, stream);
}

FAKE_API CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t size, CUmemoryPool pool,
                                          CUstream stream) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return AllocFromPoolLocked(dptr, size, pool, stream);
}

FAKE_API CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, size_t size, CUmemoryPool pool,
                                               CUstream stream) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return AllocFromPoolLocked(dptr, size, pool, stream);
}

FAKE_API CUresult cuDeviceGetDefaultMemPool(CUmemoryPool* pool, CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDeviceLocked(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *pool = reinterpret_cast<CUmemoryPool>(DefaultPoolLocked(dev));
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuDeviceGetMemPool(CUmemoryPool* pool, CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDeviceLocked(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *pool = reinterpret_cast<CUmemoryPool>(CurrentPoolLocked(dev));
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool handle) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (!ValidDeviceLocked(dev)) return CUDA_ERROR_INVALID_DEVICE;
  Pool* pool = Lookup<Pool>(handle, Kind::kPool);
  if (pool == nullptr || pool->destroyed || pool->device != dev) return CUDA_ERROR_INVALID_VALUE;
  DefaultPoolLocked(dev);
  R().current_pool[dev] = pool;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* props) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (pool == nullptr || props == nullptr || props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (props->location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_NOT_SUPPORTED;
  if (!ValidDeviceLocked(props->location.id)) return CUDA_ERROR_INVALID_VALUE;
  auto* p = new Pool();
  p->device = props->location.id;
  p->max_size = props->maxSize;
  Register(p);
  R().pools.push_back(p);
  *pool = reinterpret_cast<CUmemoryPool>(p);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemPoolDestroy(CUmemoryPool handle) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Pool* p = Lookup<Pool>(handle, Kind::kPool);
  if (p == nullptr || p->destroyed || p->is_default) return CUDA_ERROR_INVALID_VALUE;
  Runtime& r = R();
  if (r.current_pool[p->device] == p) r.current_pool[p->device] = r.default_pool[p->device];
  p->destroyed = true;  // allocations still out keep it until they are freed
  if (p->used == 0) ForgetPoolLocked(p);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemPoolTrimTo(CUmemoryPool handle, size_t keep) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Pool* p = Lookup<Pool>(handle, Kind::kPool);
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  PoolShrinkLocked(p, keep);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemPoolGetAttribute(CUmemoryPool handle, CUmemPool_attribute attr,
                                        void* value) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Pool* p = Lookup<Pool>(handle, Kind::kPool);
  if (p == nullptr || value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto u64 = static_cast<cuuint64_t*>(value);
  switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
      *static_cast<int*>(value) = p->reuse[attr - CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES];
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
      *u64 = p->release_threshold;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
      *u64 = p->reserved;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
      *u64 = p->reserved_high;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
      *u64 = p->used;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      *u64 = p->used_high;
      return CUDA_SUCCESS;
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

FAKE_API CUresult cuMemPoolSetAttribute(CUmemoryPool handle, CUmemPool_attribute attr,
                                        void* value) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Pool* p = Lookup<Pool>(handle, Kind::kPool);
  if (p == nullptr || value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const cuuint64_t u64 = *static_cast<cuuint64_t*>(value);
  switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
      p->reuse[attr - CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES] =
          *static_cast<int*>(value) != 0;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
      p->release_threshold = u64;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:  // only a reset to the current value
      if (u64 != 0) return CUDA_ERROR_INVALID_VALUE;
      p->reserved_high = p->reserved;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      if (u64 != 0) return CUDA_ERROR_INVALID_VALUE;
      p->used_high = p->used;
      return CUDA_SUCCESS;
    default:
      return CUDA_ERROR_INVALID_VALUE;  // the CURRENT values are read-only
  }
}

FAKE_API CUresult cuMemPoolSetAccess(CUmemoryPool handle, const CUmemAccessDesc* map,
                                     size_t count) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Pool* p = Lookup<Pool>(handle, Kind::kPool);
  if (p == nullptr || (count > 0 && map == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < count; ++i) {
    if (!ValidDeviceLocation(map[i].location)) return CUDA_ERROR_INVALID_VALUE;
    if (map[i].location.id != p->device) return CUDA_ERROR_NOT_SUPPORTED;  // no peers
  }
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuMemPoolGetAccess(CUmemAccess_flags* flags, CUmemoryPool handle,
                                     CUmemLocation* location) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Pool* p = Lookup<Pool>(handle, Kind::kPool);
  if (p == nullptr || flags == nullptr || location == nullptr || !ValidDeviceLocation(*location)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *flags = location->id == p->device ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE
                                     : CU_MEM_ACCESS_FLAGS_PROT_NONE;
  return CUDA_SUCCESS;
}
