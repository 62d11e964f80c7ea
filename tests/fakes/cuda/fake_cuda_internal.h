// Internals of the fake libcuda.so.1 (tests/fakes/cuda/fake_cuda_*.cc), a simulated NVIDIA
// driver for libvgpu's tests (spec hami-core.md §7). Not a public header: only the fake's own
// translation units include it.
//
// WHAT IT IS
//   The CUDA driver API on simulated GPUs: the devices, their memory and a kernel timeline live
//   in a file shared by every process (fake_gpu_state.h, which also lists the configuration
//   knobs); contexts, allocations' addresses, streams, events, modules, pools, VMM handles and
//   graphs live in the process, as in CUDA. Memory has no backing store: copies and memsets
//   check their pointers and sizes, wait like the real ones, and move no bytes.
//
// FILES
//   fake_gpu_state.h      the state file shared with the fake NVML; knobs; timeline maths
//   fake_nvml_abi.h       NVML structs the fake NVML answers with (and tests read)
//   fake_cuda_runtime.cc  per-process state, fork, FAKEGPU_FAIL, error names, cuInit
//   fake_cuda_device.cc   device queries
//   fake_cuda_context.cc  primary and created contexts, the context stack, context limits
//   fake_cuda_memory.cc   allocations, pinned host memory, pointer attributes
//   fake_cuda_pool.cc     memory pools, cuMemAllocAsync
//   fake_cuda_vmm.cc      cuMemCreate / cuMemMap and friends, arrays, mipmapped arrays
//   fake_cuda_copy.cc     copies and memsets
//   fake_cuda_exec.cc     launches, streams, capture, events, graph launches
//   fake_cuda_module.cc   modules, functions, graphs
//   fake_cuda_graph_memory.cc  graph memory nodes and the per-device graph memory pool
//   fake_cuda_proc.cc     cuGetProcAddress[_v2], the fakegpu_* introspection
//   fake_cuda_stubs.cc    NOT_SUPPORTED stubs for hooked but unsimulated entry points
//
// TEST-ONLY EXPORTS (fake_cuda_proc.cc; reach them with dlsym on the fake's handle)
//   int fakegpu_reset(void)                      rebuild the state from the environment
//   const char* fakegpu_state_path(void)
//   unsigned long long fakegpu_device_used_bytes(int dev), fakegpu_device_peak_used_bytes(dev)
//   unsigned long long fakegpu_pid_used_bytes(int dev, int pid)
//   int fakegpu_pid_contexts(int dev, int pid), fakegpu_process_count(int dev)
//   long long fakegpu_now_us(void), fakegpu_busy_until_us(int dev)          CLOCK_MONOTONIC
//   long long fakegpu_busy_us(int dev, int pid, long long from_us, long long to_us)
//   double fakegpu_busy_percent(int dev, int pid, long long window_us)   pid < 0: all
//   unsigned long long fakegpu_launch_count(int dev)
//   int fakegpu_set_kernel_us(long long kernel_us, long long wave_us)
//   unsigned long long fakegpu_call_count(const char* exported_symbol)  calls in this process
//
// BUILD RULES (spec §7.1)
//   Declarations come from /usr/local/cuda/include/cuda.h compiled as the driver compiles it
//   (__CUDA_API_VERSION_INTERNAL): the versioned and legacy prototypes are all visible and no
//   macro renames anything, so a definition of `cuMemAlloc_v2` is checked against the real
//   prototype and exported under that exact name. Everything is hidden except what FAKE_API
//   marks, and the library links with -Bsymbolic, so the fake's own calls and the pointers
//   cuGetProcAddress hands out stay inside the fake even when libvgpu (which exports the same
//   names) is preloaded. Entry points call internal functions only, never each other.
//
// PER-PROCESS KNOB
//   FAKEGPU_FAIL=<symbol>:<nth>:<CUresult>[,<symbol>:<nth>:<CUresult>...]
//     The nth call (1-based; 0: every call) in this process of the entry point <symbol> returns
//     <CUresult> (a number or a name such as CUDA_ERROR_OUT_OF_MEMORY) without doing anything.
//     <symbol> is the exported name (cuMemAlloc_v2) or its base name (cuMemAlloc: any version
//     or per-thread variant). Read at the first call and again by fakegpu_reset().
//
// FORK
//   A child starts with no driver state: its first call must be cuInit (as in CUDA, where a
//   child cannot use its parent's contexts), which then works (unlike CUDA, whose cuInit fails
//   in a child of an initialised parent), so tests can fork processes that use the GPU.
#pragma once

#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tests/fakes/cuda/fake_gpu_state.h"

#define FAKE_API extern "C" __attribute__((visibility("default")))

// Counts the call and applies fault injection; first statement of every CUresult entry point.
#define FAKE_ENTER()                                                                           \
  static ::fakecuda::CallSite fake_call_site_(__func__);                                       \
  if (const CUresult fake_injected_ = fake_call_site_.Enter(); fake_injected_ != CUDA_SUCCESS) \
  return fake_injected_

// An entry point and its per-thread-default-stream twin (_ptsz / _ptds), sharing one body.
#define FAKE_TWIN(name, twin, params, body) \
  FAKE_API CUresult name params {           \
    FAKE_ENTER();                           \
    body                                    \
  }                                         \
  FAKE_API CUresult twin params {           \
    FAKE_ENTER();                           \
    body                                    \
  }

namespace fakecuda {

// One per entry point: a call counter (fakegpu_call_count) and the fault-injection hook.
class CallSite {
 public:
  explicit CallSite(const char* name);
  CUresult Enter();
  const char* name() const { return name_; }
  uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  CallSite* next() const { return next_; }

 private:
  const char* name_;
  std::atomic<uint64_t> calls_{0};
  CallSite* next_ = nullptr;
};
CallSite* FirstCallSite();
void ReloadFaults();  // re-reads FAKEGPU_FAIL and restarts its counters
// The code an error name stands for (CUDA_ERROR_OUT_OF_MEMORY -> 2); -1 when unknown.
int ErrorCodeByName(const char* name);

// ---------------------------------------------------------------------------------------
// Process-local objects. Every handle the fake gives out is a pointer to one of these,
// registered in Runtime::handles; a handle is valid while registered with the right kind.

enum class Kind : uint8_t {
  kContext,
  kStream,
  kEvent,
  kModule,
  kFunction,
  kPool,
  kGraph,
  kGraphNode,
  kGraphExec,
  kArray,
  kMipmappedArray
};

struct Object {
  explicit Object(Kind k) : kind(k) {}
  Kind kind;
};

// cuCtxGetLimit's answers for a new context, by CUlimit (CU_LIMIT_STACK_SIZE: bytes per thread;
// CU_LIMIT_MALLOC_HEAP_SIZE: bytes).
inline constexpr std::array<size_t, CU_LIMIT_MAX> kDefaultLimits = {1024, 1 << 20, 8 << 20, 2, 2048,
                                                                    64,   0,       0,       0, 1};

struct Ctx : Object {
  Ctx() : Object(Kind::kContext) {}
  int device = 0;
  unsigned flags = 0;
  bool primary = false;
  bool alive = false;  // primary: retained (refcount > 0); others: not destroyed
  int refcount = 0;    // primary only
  std::array<size_t, CU_LIMIT_MAX> limits = kDefaultLimits;
  uint64_t limit_charged = 0;  // device memory the heap / stack limits reserve (context.cc)
};

struct Stream : Object {
  Stream() : Object(Kind::kStream) {}
  Ctx* ctx = nullptr;
  unsigned flags = 0;
  int priority = 0;
  uint64_t id = 0;
  int64_t last_end_us = 0;          // end of the last work queued on it (CLOCK_MONOTONIC)
  struct Graph* capture = nullptr;  // non-null while capturing
  CUstreamCaptureMode capture_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
};

struct Event : Object {
  Event() : Object(Kind::kEvent) {}
  Ctx* ctx = nullptr;
  unsigned flags = 0;
  bool recorded = false;
  int64_t time_us = 0;  // when the work before the record completes
};

struct Module;
struct Function : Object {
  Function() : Object(Kind::kFunction) {}
  Module* module = nullptr;
  std::string name;
  int64_t fixed_us = -1;  // "fakegpu_us_<N>" names run N µs
};

struct Module : Object {
  Module() : Object(Kind::kModule) {}
  Ctx* ctx = nullptr;
  std::vector<Function*> functions;
};

struct Pool : Object {
  Pool() : Object(Kind::kPool) {}
  int device = 0;
  bool is_default = false;
  bool destroyed = false;  // released once nothing is allocated from it
  uint64_t reserved = 0, used = 0, reserved_high = 0, used_high = 0;
  uint64_t release_threshold = 0;
  uint64_t max_size = 0;     // 0: up to the device
  int reuse[3] = {1, 1, 1};  // REUSE_FOLLOW_EVENT_DEPENDENCIES, _ALLOW_OPPORTUNISTIC, _INTERNAL
};

struct KernelWork {
  Function* function = nullptr;
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
};

struct Graph : Object {
  Graph() : Object(Kind::kGraph) {}
  std::vector<struct GraphNode*> nodes;
};

enum class NodeKind : uint8_t { kEmpty, kKernel, kMemAlloc, kMemFree };

struct GraphNode : Object {
  GraphNode() : Object(Kind::kGraphNode) {}
  Graph* graph = nullptr;
  NodeKind kind = NodeKind::kEmpty;
  KernelWork work;           // kKernel
  CUdeviceptr mem_dptr = 0;  // kMemAlloc: its address; kMemFree: what it frees
};

struct GraphExec : Object {
  GraphExec() : Object(Kind::kGraphExec) {}
  std::vector<KernelWork> kernels;
  std::vector<CUdeviceptr> mem_allocs;  // addresses of the graph's alloc nodes
  std::vector<CUdeviceptr> mem_frees;   // addresses its free nodes free
};

struct MipmappedArray;
struct Array : Object {
  Array() : Object(Kind::kArray) {}
  Ctx* ctx = nullptr;
  int device = 0;
  uint64_t charged = 0;
  MipmappedArray* owner = nullptr;  // a level of this mipmapped array (charged there)
};

struct MipmappedArray : Object {
  MipmappedArray() : Object(Kind::kMipmappedArray) {}
  Ctx* ctx = nullptr;
  int device = 0;
  uint64_t charged = 0;
  std::vector<Array*> levels;  // one per level; a level's handle is made when first asked for
};

// A graph allocation's address (fake_cuda_graph_memory.cc): given out when its alloc node is
// made, never reused; the memory behind it exists from a launch of the node to its free.
struct GraphVa {
  int device = 0;
  size_t size = 0;  // requested bytes
  uint64_t span = 0;
};

// The per-device graph memory pool of the process (cuDeviceGetGraphMemAttribute).
struct GraphPool {
  uint64_t reserved = 0, used = 0, reserved_high = 0, used_high = 0;
};

enum class AllocKind : uint8_t { kDevice, kManaged, kPool, kGraph };

// A device allocation (cuMemAlloc*, cuMemAllocManaged, pool allocations, live graph
// allocations).
struct Alloc {
  CUdeviceptr base = 0;
  size_t size = 0;       // requested bytes
  size_t span = 0;       // address range taken, size rounded up to the granule
  uint64_t charged = 0;  // charged to the process (0 for pool and graph ones: their pool is)
  int device = 0;
  Ctx* ctx = nullptr;
  AllocKind kind = AllocKind::kDevice;
  Pool* pool = nullptr;
  uint64_t buffer_id = 0;
};

struct VmmAllocation {  // a cuMemCreate handle
  size_t size = 0;
  int device = 0;
  bool released = false;  // cuMemRelease called; freed when its last mapping goes
  int mappings = 0;
};

struct VmmMapping {
  size_t size = 0;
  CUmemGenericAllocationHandle handle = 0;
  size_t offset = 0;
  bool accessible = false;  // cuMemSetAccess called
};

struct HostRange {
  size_t size = 0;
  unsigned flags = 0;
  bool registered = false;  // cuMemHostRegister (else allocated by the fake)
};

struct Runtime {
  std::mutex mu;  // guards every field below; taken before the state's mutex
  bool initialized = false;
  fakegpu::State* state = nullptr;
  std::string state_path;
  uint64_t state_generation = 0;
  int pid = 0;
  Ctx primary[fakegpu::kMaxDevices];
  int device_contexts[fakegpu::kMaxDevices] = {};  // live contexts per device in this process
  int64_t device_last_end_us[fakegpu::kMaxDevices] = {};  // this process's queued work
  Pool* default_pool[fakegpu::kMaxDevices] = {};
  Pool* current_pool[fakegpu::kMaxDevices] = {};
  std::vector<Pool*> pools;    // every live pool, default ones included
  std::vector<Array*> arrays;  // not the levels of mipmapped arrays
  std::vector<MipmappedArray*> mipmaps;
  GraphPool graph_pool[fakegpu::kMaxDevices];
  CUdeviceptr next_graph_va[fakegpu::kMaxDevices] = {};  // 0: none given out yet
  std::map<CUdeviceptr, GraphVa> graph_va;
  std::unordered_map<const void*, Kind> handles;
  std::map<CUdeviceptr, Alloc> allocs;
  std::map<CUdeviceptr, size_t> reservations;  // cuMemAddressReserve: base -> size
  std::map<CUdeviceptr, VmmMapping> mappings;  // cuMemMap: base -> mapping
  std::map<CUmemGenericAllocationHandle, VmmAllocation> vmm;
  std::map<uintptr_t, HostRange> host;  // pinned host memory, allocated or registered
  CUmemGenericAllocationHandle next_vmm_handle = 1;
  uint64_t next_buffer_id = 1;
  uint64_t next_stream_id = 1;
};

Runtime& R();
// Per-thread context stack (top = current).
std::vector<Ctx*>& CtxStack();

// Registers / unregisters / looks up a handle. Requires R().mu.
void Register(Object* o);
void Unregister(Object* o);
template <typename T>
T* Lookup(const void* handle, Kind kind) {
  auto it = R().handles.find(handle);
  if (handle == nullptr || it == R().handles.end() || it->second != kind) return nullptr;
  return static_cast<T*>(const_cast<void*>(handle));
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the translation units. "Locked" ones require R().mu.

inline const fakegpu::Config& Cfg() { return R().state->config; }
// `v` rounded up to a multiple of `to`; UINT64_MAX (more than any device has) when that does
// not fit, so a huge request fails instead of wrapping to a small one.
inline uint64_t RoundUp(uint64_t v, uint64_t to) {
  return v > UINT64_MAX - (to - 1) ? UINT64_MAX : (v + to - 1) / to * to;
}
inline uint64_t MulSat(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? UINT64_MAX : out;
}
inline uint64_t AddSat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

CUresult CheckInitLocked();  // NOT_INITIALIZED before cuInit
bool ValidDeviceLocked(CUdevice dev);
CUresult CurrentCtxLocked(Ctx** out);               // INVALID_CONTEXT / CONTEXT_IS_DESTROYED
CUresult CheckCtxLocked(CUcontext ctx, Ctx** out);  // a live context handle

// Charges / returns device memory for this process (OOM when it does not fit).
CUresult ChargeLocked(int dev, uint64_t bytes);
void UnchargeLocked(int dev, uint64_t bytes);
// A context of this process on `dev` comes / goes: the first charges the context overhead and
// puts the process in the device's table; the last returns it.
CUresult AddDeviceContextLocked(int dev);
void DropDeviceContextLocked(int dev);

// ---------------------------------------------------------------------------------------
// Device address space and allocation records (memory.cc), used by pools and VMM too.

inline constexpr CUdeviceptr kTiB = CUdeviceptr{1} << 40;
inline constexpr uint64_t kPoolAlign = 512;  // pool sub-allocations are 512-byte aligned

// First address in [lo, lo + size) with `span` free bytes between the entries of `map`
// (base -> something whose extent `extent(it)` gives); 0 when full.
template <typename Map, typename Extent>
inline CUdeviceptr FirstFit(const Map& map, CUdeviceptr lo, CUdeviceptr size, uint64_t span,
                            uint64_t align, Extent extent) {
  CUdeviceptr cursor = lo;
  for (auto it = map.lower_bound(lo); it != map.end() && it->first < lo + size; ++it) {
    if (it->first >= cursor && it->first - cursor >= span) return cursor;
    const CUdeviceptr end = RoundUp(it->first + extent(it->second), align);
    if (end > cursor) cursor = end;
  }
  return cursor <= lo + size && span <= lo + size - cursor ? cursor : 0;
}

// Records a device allocation of `size` bytes taking `span` bytes of address space on `dev`,
// charging `charge` (OOM when it does not fit), owned by `ctx`.
CUresult NewAllocLocked(CUdeviceptr* dptr, size_t size, uint64_t span, uint64_t charge, Ctx* ctx,
                        AllocKind kind, Pool* pool, int dev);
// The allocation holding [p, p + n), or nullptr.
Alloc* FindAllocLocked(CUdeviceptr p, size_t n = 1);
// Frees an allocation record: uncharges it, or returns it to its pool.
void FreeAllocLocked(std::map<CUdeviceptr, Alloc>::iterator it);
// A pool allocation of `span` bytes was freed (pool.cc).
void PoolReleaseLocked(Pool* p, uint64_t span);
// Destroys the arrays and mipmapped arrays a context owns (vmm.cc).
void DestroyCtxArraysLocked(Ctx* ctx);

// Graph memory (graph_memory.cc). A graph allocation of `span` bytes on `dev` was freed: its
// memory goes back to the device's graph pool, which stays reserved (charged).
void GraphMemReleaseLocked(int dev, uint64_t span);
// Returns the graph pool's reservation on `dev` beyond what live graph allocations use.
void GraphMemTrimLocked(int dev);
// Adds an alloc node of `bytes` on `dev` (its address in (*node)->mem_dptr) / a free node of a
// graph allocation's address to `g`, as cuGraphAddMem*Node and stream capture do.
CUresult AddMemAllocNodeLocked(Graph* g, int dev, size_t bytes, GraphNode** node);
CUresult AddMemFreeNodeLocked(Graph* g, CUdeviceptr dptr, GraphNode** node);
// A launch of `e` in `ctx`: reserves (charges) what its alloc nodes need beyond the graph
// pools' free reservation, then allocates them and runs its free nodes. INVALID_VALUE (when an
// allocation of a previous launch is still live, or a free node's memory is not) and
// OUT_OF_MEMORY change nothing.
CUresult GraphMemLaunchLocked(Ctx* ctx, const GraphExec* e);

inline bool ValidDeviceLocation(const CUmemLocation& loc) {
  return loc.type == CU_MEM_LOCATION_TYPE_DEVICE && ValidDeviceLocked(loc.id);
}

// Frees what a context owns when it is destroyed (memory.cc / exec.cc).
void FreeCtxMemoryLocked(Ctx* ctx);
void FreeCtxExecLocked(Ctx* ctx);
// Releases pool memory above each pool's release threshold (at synchronisation points).
void TrimPoolsLocked(int dev);

// Pointer checks for copies and sets: [p, p + n) inside one device allocation or VMM mapping;
// pinned host memory the fake knows; a live array.
bool DeviceRangeOkLocked(CUdeviceptr p, size_t n);
bool HostPointerKnownLocked(const void* p);
bool ArrayKnownLocked(CUarray a);

// The device and the completion time of a stream handle (0, CU_STREAM_LEGACY and
// CU_STREAM_PER_THREAD mean the current context's default stream).
CUresult ResolveStreamLocked(CUstream h, Ctx** ctx, Stream** stream);
int64_t StreamDoneUsLocked(Ctx* ctx, Stream* stream);

// Launch checks shared by launches and graph kernel nodes (exec.cc): dimensions within the
// device's limits, and a cooperative grid that fits on the device at once.
CUresult CheckLaunchDims(const KernelWork& w, bool cooperative);
GraphNode* AddGraphNodeLocked(Graph* g);
// The graph a cuGraphAdd*Node call adds to: INVALID_VALUE unless `ph` is non-null, `graph` is
// a graph and `deps` are `num_deps` of its nodes (module.cc).
CUresult GraphForNewNodeLocked(const CUgraphNode* ph, CUgraph graph, const CUgraphNode* deps,
                               size_t num_deps, Graph** g);
// Unloads a module and its functions (module.cc).
void ModuleDestroyLocked(Module* m);

// Blocks (without locks) until CLOCK_MONOTONIC reaches `deadline_us`.
void WaitUntil(int64_t deadline_us);

// Resets this process's driver state (after fork, on fakegpu_reset). Requires R().mu.
void ResetProcessLocked();
// Maps the state file named by the environment (re-initialising it when `reset`).
CUresult AttachStateLocked(bool reset);

}  // namespace fakecuda
