// Stream-ordered allocation and graph memory (retained.h). A pool keeps freed memory in reserve
// up to its release threshold (UINT64_MAX, as PyTorch sets it, keeps everything), so what the
// container really holds is each pool's reservation, not what is allocated from it: that is
// what is charged. An allocation first charges the growth it may cause (its size beyond the
// pool's free reserve, checked against the limit like any allocation), then the pool's charge
// is settled to the reservation the driver reports; a free does not uncharge (the memory stays
// reserved) until a synchronisation, trim or threshold change lets the driver release it, when
// the pool is settled again. A charge that would not fit first trims this process's pools and
// graph memory to what is in use (ReclaimRetained), as the memory would be wasted otherwise.
// Graph memory (alloc nodes, and stream-ordered allocations captured into a graph) is charged
// when a graph launch reserves it, as the driver's RESERVED_MEM_CURRENT says.
#include <cuda.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "vgpu/hook/charging.h"
#include "vgpu/hook/hooks.h"
#include "vgpu/hook/retained.h"
#include "vgpu/region_layout.h"
#include "vgpu/vmm_ledger.h"

namespace hami::vgpu::hook {
namespace {

constexpr uint64_t kPoolGranule = 2ull << 20;  // what a pool grows by at least

struct PoolRecord {
  int device = -1;
  uint64_t charged = 0;      // what the region holds for this pool's reservation
  uint64_t outstanding = 0;  // allocations not yet freed
  bool destroyed = false;    // the driver releases it with its last allocation
};

struct Pools {
  std::mutex mu;
  std::unordered_map<uint64_t, PoolRecord> pools;        // GUARDED_BY(mu), by CUmemoryPool
  std::unordered_map<uint64_t, uint64_t> pool_of;        // GUARDED_BY(mu), address -> pool
  std::unordered_map<uint64_t, int> device_of_new_pool;  // GUARDED_BY(mu), cuMemPoolCreate's
  uint64_t graph_charged[layout::kMaxDevices] = {};      // GUARDED_BY(mu)
  std::atomic<bool> dirty{false};                        // a free since the last settle
  std::atomic<bool> graph_used{false};
};

Pools& State() {
  static Pools* pools = new Pools();  // leaked: hooks may run while static destructors do
  return *pools;
}

uint64_t Key(CUmemoryPool pool) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(pool)); }

bool PoolAttribute(CUmemoryPool pool, CUmemPool_attribute attribute, uint64_t* value) {
  auto get = HAMI_REAL(cuMemPoolGetAttribute);
  cuuint64_t v = 0;
  if (get == nullptr || get(pool, attribute, &v) != CUDA_SUCCESS) return false;
  *value = v;
  return true;
}

// Moves a charge from `had` to `has` bytes: growth is memory the device already holds, so it
// is charged without the limit check (the caller decides what to do when that goes over).
void MoveCharge(int device, uint64_t had, uint64_t has) {
  Enforcer& enforcer = Enforcer::Get();
  if (has > had) enforcer.ForceCharge(device, has - had);
  if (has < had) enforcer.Uncharge(device, had - has);
}

// Settles one pool's charge to its reservation. Returns false when the pool cannot be read.
bool SettlePool(CUmemoryPool pool) {
  Pools& s = State();
  int device = -1;
  uint64_t had = 0, has = 0;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.pools.find(Key(pool));
    if (it == s.pools.end() || it->second.destroyed) return false;
    if (!PoolAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &has)) return false;
    device = it->second.device;
    had = it->second.charged;
    it->second.charged = has;
  }
  MoveCharge(device, had, has);
  return true;
}

// The pool a stream-ordered allocation on `stream` comes from: the current pool of the calling
// thread's device (CUDA: the stream's device; the same for every caller that does not allocate
// on another device's stream).
bool CurrentPool(int* device, CUmemoryPool* pool) {
  auto get_pool = HAMI_REAL(cuDeviceGetMemPool);
  return CurrentDevice(device) && get_pool != nullptr && get_pool(pool, *device) == CUDA_SUCCESS;
}

bool Capturing(CUstream stream) {
  auto is_capturing = HAMI_REAL(cuStreamIsCapturing);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  return is_capturing != nullptr && is_capturing(stream, &status) == CUDA_SUCCESS &&
         status != CU_STREAM_CAPTURE_STATUS_NONE;
}

// A stream-ordered allocation of `size` bytes from `pool` on `device` through `allocate`;
// `free_async` gives it back when its reservation would take the container over the limit. On
// a capturing stream it is a graph memory node instead, reserved when the graph is launched.
template <typename Allocate, typename FreeAsync>
CUresult PoolAllocate(CUdeviceptr* dptr, size_t size, int device, CUmemoryPool pool,
                      CUstream stream, Allocate allocate, FreeAsync free_async) {
  if (Capturing(stream)) {
    const CUresult result = allocate();
    if (result == CUDA_SUCCESS) NoteGraphMemoryUsed();
    return result;
  }
  Pools& s = State();
  Enforcer& enforcer = Enforcer::Get();
  uint64_t reserved = 0, used = 0;
  const bool known = PoolAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved) &&
                     PoolAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used);
  // The growth this allocation may cause: all of it when the pool cannot be read.
  uint64_t growth = size;
  if (known) growth = used + size > reserved ? used + size - reserved : 0;
  growth = (growth + kPoolGranule - 1) / kPoolGranule * kPoolGranule;
  if (!enforcer.Charge(device, growth)) return CUDA_ERROR_OUT_OF_MEMORY;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    PoolRecord& record = s.pools[Key(pool)];
    if (record.device < 0) {
      record.device = device;
      // First sight of a pool that already holds memory (allocated before libvgpu saw it, or
      // by a path that does not charge): it is charged at the settle below.
    }
    record.charged += growth;
  }
  const CUresult result = allocate();
  if (result == CUDA_SUCCESS) {
    std::lock_guard<std::mutex> lock(s.mu);
    ++s.pools[Key(pool)].outstanding;
    s.pool_of[*dptr] = Key(pool);
  }
  SettlePool(pool);
  if (result != CUDA_SUCCESS) return result;
  const uint64_t limit = enforcer.LimitBytes(device);
  if (limit != 0 && enforcer.UsageBytes(device) > limit) {
    // The pool grew beyond what was charged (its chunks are larger than the request) and that
    // does not fit: give the allocation back and the reserve with it.
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.pool_of.erase(*dptr);
      --s.pools[Key(pool)].outstanding;
    }
    free_async(*dptr);
    auto trim = HAMI_REAL(cuMemPoolTrimTo);
    if (trim != nullptr) trim(pool, 0);
    SettlePool(pool);
    Log(3, "refused: a pool on device %d grew past the limit", device);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  return result;
}

template <typename Allocate, typename FreeAsync>
CUresult CurrentPoolAllocate(CUdeviceptr* dptr, size_t size, CUstream stream, Allocate allocate,
                             FreeAsync free_async) {
  int device = 0;
  CUmemoryPool pool = nullptr;
  if (dptr == nullptr || !CurrentPool(&device, &pool)) return allocate();
  return PoolAllocate(dptr, size, device, pool, stream, allocate, free_async);
}

template <typename Allocate, typename FreeAsync>
CUresult FromPoolAllocate(CUdeviceptr* dptr, size_t size, CUmemoryPool pool, CUstream stream,
                          Allocate allocate, FreeAsync free_async) {
  if (dptr == nullptr || pool == nullptr) return allocate();
  int device = -1;
  {
    Pools& s = State();
    std::lock_guard<std::mutex> lock(s.mu);
    auto known = s.pools.find(Key(pool));
    if (known != s.pools.end()) device = known->second.device;
    auto made = s.device_of_new_pool.find(Key(pool));
    if (device < 0 && made != s.device_of_new_pool.end()) device = made->second;
  }
  if (device < 0 && !CurrentDevice(&device)) return allocate();
  return PoolAllocate(dptr, size, device, pool, stream, allocate, free_async);
}

template <typename Sync>
CUresult Synchronised(Sync sync) {
  const CUresult result = sync();
  if (State().dirty.exchange(false, std::memory_order_relaxed)) SettlePools();
  return result;
}

}  // namespace

void SettlePools() {
  std::vector<uint64_t> keys;
  {
    Pools& s = State();
    std::lock_guard<std::mutex> lock(s.mu);
    for (const auto& [key, record] : s.pools) keys.push_back(key);
  }
  for (uint64_t key : keys) SettlePool(reinterpret_cast<CUmemoryPool>(static_cast<uintptr_t>(key)));
}

uint64_t TakePoolAllocation(uint64_t address) {
  Pools& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.pool_of.find(address);
  if (it == s.pool_of.end()) return 0;
  const uint64_t pool = it->second;
  s.pool_of.erase(it);
  return pool;
}

void PoolAllocationFreed(uint64_t address, uint64_t pool, bool freed) {
  Pools& s = State();
  DeviceBytes gone;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!freed) {
      s.pool_of[address] = pool;
      return;
    }
    auto it = s.pools.find(pool);
    if (it != s.pools.end()) {
      if (it->second.outstanding > 0) --it->second.outstanding;
      if (it->second.destroyed && it->second.outstanding == 0) {
        gone = {it->second.device, it->second.charged};  // the driver releases it now
        s.pools.erase(it);
      }
    }
  }
  if (gone.device >= 0) Enforcer::Get().Uncharge(gone.device, gone.bytes);
  // The memory went back to its pool, whose reserve is settled at the next synchronisation.
  s.dirty.store(true, std::memory_order_relaxed);
}

void NoteGraphMemoryUsed() { State().graph_used.store(true, std::memory_order_relaxed); }
bool GraphMemoryUsed() { return State().graph_used.load(std::memory_order_relaxed); }

void SettleGraphMemory(int device) {
  if (device < 0 || device >= layout::kMaxDevices) return;
  auto get = HAMI_REAL(cuDeviceGetGraphMemAttribute);
  Pools& s = State();
  uint64_t had = 0, has = 0;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    cuuint64_t reserved = 0;
    if (get == nullptr ||
        get(device, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT, &reserved) != CUDA_SUCCESS) {
      return;
    }
    had = s.graph_charged[device];
    has = reserved;
    s.graph_charged[device] = has;
  }
  MoveCharge(device, had, has);
}

bool ReclaimRetained(int device) {
  Enforcer& enforcer = Enforcer::Get();
  const uint64_t before = enforcer.UsageBytes(device);
  std::vector<uint64_t> keys;
  {
    Pools& s = State();
    std::lock_guard<std::mutex> lock(s.mu);
    for (const auto& [key, record] : s.pools) {
      if (record.device == device && !record.destroyed && record.charged > 0) keys.push_back(key);
    }
  }
  auto trim = HAMI_REAL(cuMemPoolTrimTo);
  for (uint64_t key : keys) {
    auto pool = reinterpret_cast<CUmemoryPool>(static_cast<uintptr_t>(key));
    if (trim != nullptr) trim(pool, 0);
    SettlePool(pool);
  }
  if (GraphMemoryUsed()) {
    auto graph_trim = HAMI_REAL(cuDeviceGraphMemTrim);
    if (graph_trim != nullptr) graph_trim(device);
    SettleGraphMemory(device);
  }
  MeasureContextMemory(device);
  return enforcer.UsageBytes(device) < before;
}

void PoolsAfterForkChild() {
  Pools& s = State();
  new (&s.mu) std::mutex();
  s.pools.clear();
  s.pool_of.clear();
  s.device_of_new_pool.clear();
  for (uint64_t& charged : s.graph_charged) charged = 0;
  s.dirty.store(false);
  s.graph_used.store(false);
}

}  // namespace hami::vgpu::hook

using namespace hami::vgpu::hook;  // NOLINT: the hooks below are the C ABI
using hami::vgpu::DeviceBytes;

#define HAMI_ASYNC_ALLOC(exported, free_exported)                                          \
  HAMI_EXPORT CUresult exported(CUdeviceptr* dptr, size_t bytesize, CUstream stream) {     \
    auto real = HAMI_REAL_AS(cuMemAllocAsync, #exported);                                  \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;                                  \
    auto free_async = HAMI_REAL_AS(cuMemFreeAsync, #free_exported);                        \
    return CurrentPoolAllocate(                                                            \
        dptr, bytesize, stream, [&] { return real(dptr, bytesize, stream); },              \
        [&](CUdeviceptr p) { return free_async ? free_async(p, stream) : CUDA_SUCCESS; }); \
  }
HAMI_ASYNC_ALLOC(cuMemAllocAsync, cuMemFreeAsync)
HAMI_ASYNC_ALLOC(cuMemAllocAsync_ptsz, cuMemFreeAsync_ptsz)

#define HAMI_POOL_ALLOC(exported, free_exported)                                           \
  HAMI_EXPORT CUresult exported(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,     \
                                CUstream stream) {                                         \
    auto real = HAMI_REAL_AS(cuMemAllocFromPoolAsync, #exported);                          \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;                                  \
    auto free_async = HAMI_REAL_AS(cuMemFreeAsync, #free_exported);                        \
    return FromPoolAllocate(                                                               \
        dptr, bytesize, pool, stream, [&] { return real(dptr, bytesize, pool, stream); },  \
        [&](CUdeviceptr p) { return free_async ? free_async(p, stream) : CUDA_SUCCESS; }); \
  }
HAMI_POOL_ALLOC(cuMemAllocFromPoolAsync, cuMemFreeAsync)
HAMI_POOL_ALLOC(cuMemAllocFromPoolAsync_ptsz, cuMemFreeAsync_ptsz)

#define HAMI_ASYNC_FREE(exported)                                        \
  HAMI_EXPORT CUresult exported(CUdeviceptr dptr, CUstream stream) {     \
    auto real = HAMI_REAL_AS(cuMemFreeAsync, #exported);                 \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;                \
    return ReleasedAllocation(dptr, [&] { return real(dptr, stream); }); \
  }
HAMI_ASYNC_FREE(cuMemFreeAsync)
HAMI_ASYNC_FREE(cuMemFreeAsync_ptsz)

HAMI_EXPORT CUresult cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* props) {
  auto real = HAMI_REAL(cuMemPoolCreate);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(pool, props);
  if (result == CUDA_SUCCESS && pool != nullptr && props != nullptr &&
      props->location.type == CU_MEM_LOCATION_TYPE_DEVICE) {
    Pools& s = State();
    std::lock_guard<std::mutex> lock(s.mu);
    s.device_of_new_pool[Key(*pool)] = props->location.id;
  }
  return result;
}

HAMI_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool) {
  auto real = HAMI_REAL(cuMemPoolDestroy);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(pool);
  if (result != CUDA_SUCCESS) return result;
  Pools& s = State();
  DeviceBytes gone;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.device_of_new_pool.erase(Key(pool));
    auto it = s.pools.find(Key(pool));
    if (it != s.pools.end()) {
      if (it->second.outstanding == 0) {
        gone = {it->second.device, it->second.charged};
        s.pools.erase(it);
      } else {
        it->second.destroyed = true;  // released with its last allocation
      }
    }
  }
  if (gone.device >= 0) Enforcer::Get().Uncharge(gone.device, gone.bytes);
  return result;
}

HAMI_EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t keep) {
  auto real = HAMI_REAL(cuMemPoolTrimTo);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(pool, keep);
  if (result == CUDA_SUCCESS) SettlePool(pool);
  return result;
}

HAMI_EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attribute,
                                           void* value) {
  auto real = HAMI_REAL(cuMemPoolSetAttribute);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(pool, attribute, value);
  if (result == CUDA_SUCCESS && attribute == CU_MEMPOOL_ATTR_RELEASE_THRESHOLD) SettlePool(pool);
  return result;
}

// Synchronisations are where the driver releases a pool's reserve above its threshold.
HAMI_EXPORT CUresult cuCtxSynchronize() {
  auto real = HAMI_REAL(cuCtxSynchronize);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Synchronised([&] { return real(); });
}

#define HAMI_STREAM_SYNC(exported)                            \
  HAMI_EXPORT CUresult exported(CUstream stream) {            \
    auto real = HAMI_REAL_AS(cuStreamSynchronize, #exported); \
    if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;     \
    return Synchronised([&] { return real(stream); });        \
  }
HAMI_STREAM_SYNC(cuStreamSynchronize)
HAMI_STREAM_SYNC(cuStreamSynchronize_ptsz)

HAMI_EXPORT CUresult cuEventSynchronize(CUevent event) {
  auto real = HAMI_REAL(cuEventSynchronize);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Synchronised([&] { return real(event); });
}

// Graph memory: nodes mark the process as using it; trims settle it.
HAMI_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode* node, CUgraph graph,
                                            const CUgraphNode* dependencies, size_t count,
                                            CUDA_MEM_ALLOC_NODE_PARAMS* params) {
  auto real = HAMI_REAL(cuGraphAddMemAllocNode);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(node, graph, dependencies, count, params);
  if (result == CUDA_SUCCESS) NoteGraphMemoryUsed();
  return result;
}

HAMI_EXPORT CUresult cuDeviceGraphMemTrim(CUdevice device) {
  auto real = HAMI_REAL(cuDeviceGraphMemTrim);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult result = real(device);
  if (result == CUDA_SUCCESS) SettleGraphMemory(device);
  return result;
}
