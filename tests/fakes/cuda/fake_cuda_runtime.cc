// The fake driver's process runtime: per-process state, fork handling, fault injection
// (FAKEGPU_FAIL), error names, attaching to the shared state, and cuInit / cuDriverGetVersion /
// cuGetErrorString / cuGetErrorName / cuGetExportTable. See fake_cuda_internal.h for the design
// and fake_gpu_state.h for the knobs.
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <new>

#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

// ---------------------------------------------------------------------------------------
// Fault injection (FAKEGPU_FAIL)

struct FaultSpec {
  std::string symbol;
  uint64_t nth = 0;  // 0: every call
  CUresult result = CUDA_ERROR_UNKNOWN;
  uint64_t seen = 0;
};

std::mutex fault_mu;
std::vector<FaultSpec> faults;  // guarded by fault_mu
std::atomic<bool> faults_loaded{false};
std::atomic<bool> any_faults{false};
std::atomic<CallSite*> call_sites{nullptr};

// "cuMemAlloc_v2_ptsz" -> "cuMemAlloc".
std::string BaseName(const char* name) {
  std::string s = name;
  for (const char* suffix : {"_ptsz", "_ptds"}) {
    if (s.size() > 5 && s.compare(s.size() - 5, 5, suffix) == 0) s.resize(s.size() - 5);
  }
  const size_t v = s.rfind("_v");
  if (v != std::string::npos && v + 2 < s.size() &&
      s.find_first_not_of("0123456789", v + 2) == std::string::npos) {
    s.resize(v);
  }
  return s;
}

void LoadFaultsLocked() {
  faults.clear();
  const char* env = getenv("FAKEGPU_FAIL");
  if (env != nullptr) {
    std::string all = env;
    size_t start = 0;
    while (start <= all.size()) {
      size_t comma = all.find(',', start);
      if (comma == std::string::npos) comma = all.size();
      const std::string item = all.substr(start, comma - start);
      start = comma + 1;
      if (item.empty()) continue;
      const size_t c1 = item.find(':'), c2 = item.find(':', c1 == std::string::npos ? 0 : c1 + 1);
      int64_t nth = 0, code = 0;
      FaultSpec spec;
      if (c1 != std::string::npos && c2 != std::string::npos &&
          fakegpu::ParseInt(item.substr(c1 + 1, c2 - c1 - 1).c_str(), 0, INT64_C(1) << 40, &nth)) {
        const std::string result = item.substr(c2 + 1);
        if (!fakegpu::ParseInt(result.c_str(), 1, 100000, &code))
          code = ErrorCodeByName(result.c_str());
        if (code > 0) {
          spec.symbol = item.substr(0, c1);
          spec.nth = static_cast<uint64_t>(nth);
          spec.result = static_cast<CUresult>(code);
          faults.push_back(spec);
          continue;
        }
      }
      fprintf(stderr, "fakegpu: ignoring FAKEGPU_FAIL item '%s' (want symbol:nth:CUresult)\n",
              item.c_str());
    }
  }
  any_faults.store(!faults.empty());
  faults_loaded.store(true);
}

}  // namespace

CallSite::CallSite(const char* name) : name_(name) {
  CallSite* head = call_sites.load();
  do {
    next_ = head;
  } while (!call_sites.compare_exchange_weak(head, this));
}

CUresult CallSite::Enter() {
  calls_.fetch_add(1, std::memory_order_relaxed);
  if (!faults_loaded.load()) {
    std::lock_guard<std::mutex> lock(fault_mu);
    if (!faults_loaded.load()) LoadFaultsLocked();
  }
  if (!any_faults.load()) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(fault_mu);
  std::string base;
  for (FaultSpec& f : faults) {
    if (f.symbol != name_) {
      if (base.empty()) base = BaseName(name_);
      if (f.symbol != base) continue;
    }
    ++f.seen;
    if (f.nth == 0 || f.seen == f.nth) return f.result;
  }
  return CUDA_SUCCESS;
}

CallSite* FirstCallSite() { return call_sites.load(); }

void ReloadFaults() {
  std::lock_guard<std::mutex> lock(fault_mu);
  LoadFaultsLocked();
}

// ---------------------------------------------------------------------------------------
// Errors. Names are cuda.h's; descriptions are the real driver's for the common codes and a
// readable form of the name otherwise.

namespace {

struct ErrorInfo {
  int code;
  const char* name;
  const char* text;  // nullptr: derived from the name
};

#define E(name, text) \
  { name, #name, text }
constexpr ErrorInfo kErrors[] = {
    E(CUDA_SUCCESS, "no error"),
    E(CUDA_ERROR_INVALID_VALUE, "invalid argument"),
    E(CUDA_ERROR_OUT_OF_MEMORY, "out of memory"),
    E(CUDA_ERROR_NOT_INITIALIZED, "initialization error"),
    E(CUDA_ERROR_DEINITIALIZED, "driver shutting down"),
    E(CUDA_ERROR_PROFILER_DISABLED, nullptr),
    E(CUDA_ERROR_PROFILER_NOT_INITIALIZED, nullptr),
    E(CUDA_ERROR_PROFILER_ALREADY_STARTED, nullptr),
    E(CUDA_ERROR_PROFILER_ALREADY_STOPPED, nullptr),
    E(CUDA_ERROR_STUB_LIBRARY, nullptr),
    E(CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, nullptr),
    E(CUDA_ERROR_DEVICE_UNAVAILABLE, nullptr),
    E(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected"),
    E(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal"),
    E(CUDA_ERROR_DEVICE_NOT_LICENSED, nullptr),
    E(CUDA_ERROR_INVALID_IMAGE, nullptr),
    E(CUDA_ERROR_INVALID_CONTEXT, "invalid device context"),
    E(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, nullptr),
    E(CUDA_ERROR_MAP_FAILED, nullptr),
    E(CUDA_ERROR_UNMAP_FAILED, nullptr),
    E(CUDA_ERROR_ARRAY_IS_MAPPED, nullptr),
    E(CUDA_ERROR_ALREADY_MAPPED, nullptr),
    E(CUDA_ERROR_NO_BINARY_FOR_GPU, nullptr),
    E(CUDA_ERROR_ALREADY_ACQUIRED, nullptr),
    E(CUDA_ERROR_NOT_MAPPED, nullptr),
    E(CUDA_ERROR_NOT_MAPPED_AS_ARRAY, nullptr),
    E(CUDA_ERROR_NOT_MAPPED_AS_POINTER, nullptr),
    E(CUDA_ERROR_ECC_UNCORRECTABLE, nullptr),
    E(CUDA_ERROR_UNSUPPORTED_LIMIT, nullptr),
    E(CUDA_ERROR_CONTEXT_ALREADY_IN_USE, nullptr),
    E(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, nullptr),
    E(CUDA_ERROR_INVALID_PTX, nullptr),
    E(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, nullptr),
    E(CUDA_ERROR_NVLINK_UNCORRECTABLE, nullptr),
    E(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, nullptr),
    E(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, nullptr),
    E(CUDA_ERROR_JIT_COMPILATION_DISABLED, nullptr),
    E(CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY, nullptr),
    E(CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC, nullptr),
    E(CUDA_ERROR_CONTAINED, nullptr),
    E(CUDA_ERROR_INVALID_SOURCE, nullptr),
    E(CUDA_ERROR_FILE_NOT_FOUND, "file not found"),
    E(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND, nullptr),
    E(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, nullptr),
    E(CUDA_ERROR_OPERATING_SYSTEM, "OS call failed or operation not supported on this OS"),
    E(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle"),
    E(CUDA_ERROR_ILLEGAL_STATE, "the operation cannot be performed in the present state"),
    E(CUDA_ERROR_LOSSY_QUERY, nullptr),
    E(CUDA_ERROR_NOT_FOUND, "named symbol not found"),
    E(CUDA_ERROR_NOT_READY, "device not ready"),
    E(CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered"),
    E(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested for launch"),
    E(CUDA_ERROR_LAUNCH_TIMEOUT, nullptr),
    E(CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING, nullptr),
    E(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, nullptr),
    E(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, nullptr),
    E(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, "primary context active"),
    E(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed"),
    E(CUDA_ERROR_ASSERT, nullptr),
    E(CUDA_ERROR_TOO_MANY_PEERS, nullptr),
    E(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED,
      "part or all of the requested memory range is already mapped"),
    E(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED,
      "pointer does not correspond to a registered memory region"),
    E(CUDA_ERROR_HARDWARE_STACK_ERROR, nullptr),
    E(CUDA_ERROR_ILLEGAL_INSTRUCTION, nullptr),
    E(CUDA_ERROR_MISALIGNED_ADDRESS, nullptr),
    E(CUDA_ERROR_INVALID_ADDRESS_SPACE, nullptr),
    E(CUDA_ERROR_INVALID_PC, nullptr),
    E(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure"),
    E(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, "too many blocks in cooperative launch"),
    E(CUDA_ERROR_TENSOR_MEMORY_LEAK, nullptr),
    E(CUDA_ERROR_NOT_PERMITTED, "operation not permitted"),
    E(CUDA_ERROR_NOT_SUPPORTED, "operation not supported"),
    E(CUDA_ERROR_SYSTEM_NOT_READY, nullptr),
    E(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, nullptr),
    E(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, nullptr),
    E(CUDA_ERROR_MPS_CONNECTION_FAILED, nullptr),
    E(CUDA_ERROR_MPS_RPC_FAILURE, nullptr),
    E(CUDA_ERROR_MPS_SERVER_NOT_READY, nullptr),
    E(CUDA_ERROR_MPS_MAX_CLIENTS_REACHED, nullptr),
    E(CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED, nullptr),
    E(CUDA_ERROR_MPS_CLIENT_TERMINATED, nullptr),
    E(CUDA_ERROR_CDP_NOT_SUPPORTED, nullptr),
    E(CUDA_ERROR_CDP_VERSION_MISMATCH, nullptr),
    E(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "operation not permitted when stream is capturing"),
    E(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, nullptr),
    E(CUDA_ERROR_STREAM_CAPTURE_MERGE, nullptr),
    E(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, nullptr),
    E(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, nullptr),
    E(CUDA_ERROR_STREAM_CAPTURE_ISOLATION, nullptr),
    E(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, nullptr),
    E(CUDA_ERROR_CAPTURED_EVENT, nullptr),
    E(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, nullptr),
    E(CUDA_ERROR_TIMEOUT, nullptr),
    E(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, nullptr),
    E(CUDA_ERROR_EXTERNAL_DEVICE, nullptr),
    E(CUDA_ERROR_INVALID_CLUSTER_SIZE, nullptr),
    E(CUDA_ERROR_FUNCTION_NOT_LOADED, nullptr),
    E(CUDA_ERROR_INVALID_RESOURCE_TYPE, nullptr),
    E(CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION, nullptr),
    E(CUDA_ERROR_KEY_ROTATION, nullptr),
    E(CUDA_ERROR_UNKNOWN, "unknown error"),
};
#undef E
constexpr size_t kErrorCount = sizeof(kErrors) / sizeof(kErrors[0]);
static_assert(kErrorCount == 101, "every CUresult of cuda.h 13.0");

// "CUDA_ERROR_STREAM_CAPTURE_MERGE" -> "stream capture merge", built once per code.
const char* DerivedText(size_t index) {
  static std::string texts[kErrorCount];
  static std::once_flag once;
  std::call_once(once, [] {
    for (size_t i = 0; i < kErrorCount; ++i) {
      std::string s = kErrors[i].name + (strncmp(kErrors[i].name, "CUDA_ERROR_", 11) == 0 ? 11 : 5);
      for (char& c : s)
        c = c == '_' ? ' ' : static_cast<char>(tolower(static_cast<unsigned char>(c)));
      texts[i] = s;
    }
  });
  return texts[index].c_str();
}

const ErrorInfo* FindError(int code, size_t* index) {
  for (size_t i = 0; i < kErrorCount; ++i) {
    if (kErrors[i].code == code) {
      *index = i;
      return &kErrors[i];
    }
  }
  return nullptr;
}

}  // namespace

int ErrorCodeByName(const char* name) {
  for (const ErrorInfo& e : kErrors) {
    if (strcmp(e.name, name) == 0) return e.code;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------
// Runtime

namespace {

thread_local std::vector<Ctx*> tls_ctx_stack;

void AtForkChild() {
  // The child has one thread (this one); whatever the parent's threads held is gone with
  // them, so the local mutex is rebuilt rather than unlocked.
  Runtime& r = R();
  new (&r.mu) std::mutex();
  std::lock_guard<std::mutex> lock(r.mu);
  ResetProcessLocked();
}

}  // namespace

Runtime& R() {
  static Runtime* runtime = [] {
    auto* r = new Runtime();  // never destroyed: entry points may run during exit
    for (int d = 0; d < fakegpu::kMaxDevices; ++d) {
      r->primary[d].device = d;
      r->primary[d].primary = true;
      r->handles[&r->primary[d]] = Kind::kContext;
    }
    r->pid = getpid();
    pthread_atfork(nullptr, nullptr, AtForkChild);
    return r;
  }();
  return *runtime;
}

std::vector<Ctx*>& CtxStack() { return tls_ctx_stack; }

void Register(Object* o) { R().handles[o] = o->kind; }
void Unregister(Object* o) { R().handles.erase(o); }

void ResetProcessLocked() {
  Runtime& r = R();
  // Objects of the old life are dropped, not freed: a stale handle must fail lookup, and
  // some of them may be referenced from other objects being dropped too.
  r.handles.clear();
  for (int d = 0; d < fakegpu::kMaxDevices; ++d) {
    r.primary[d] = Ctx();
    r.primary[d].device = d;
    r.primary[d].primary = true;
    r.handles[&r.primary[d]] = Kind::kContext;
    r.device_contexts[d] = 0;
    r.device_last_end_us[d] = 0;
    r.default_pool[d] = r.current_pool[d] = nullptr;
    r.graph_pool[d] = GraphPool();
    r.next_graph_va[d] = 0;
  }
  // Lists of old-life objects go too: a later trim must not uncharge the new life's memory.
  r.pools.clear();
  r.arrays.clear();
  r.mipmaps.clear();
  r.graph_va.clear();
  r.allocs.clear();
  r.reservations.clear();
  r.mappings.clear();
  r.vmm.clear();
  r.host.clear();  // pinned host blocks of the old life leak; a test process is short
  r.initialized = false;
  r.pid = getpid();
  tls_ctx_stack.clear();
}

CUresult AttachStateLocked(bool reset) {
  Runtime& r = R();
  const std::string path = fakegpu::StatePathFromEnv();
  if (r.state != nullptr && (path != r.state_path || reset)) {
    munmap(r.state, sizeof(fakegpu::State));
    r.state = nullptr;
  }
  if (r.state == nullptr || reset) {
    std::string error;
    r.state = fakegpu::OpenState(path, reset, &error);
    if (r.state == nullptr) {
      fprintf(stderr, "fakegpu: %s\n", error.c_str());
      return CUDA_ERROR_OPERATING_SYSTEM;
    }
    r.state_path = path;
  }
  r.state_generation = r.state->generation;
  return CUDA_SUCCESS;
}

CUresult CheckInitLocked() {
  Runtime& r = R();
  if (!r.initialized || r.state == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return CUDA_SUCCESS;
}

bool ValidDeviceLocked(CUdevice dev) { return dev >= 0 && dev < Cfg().devices; }

CUresult CurrentCtxLocked(Ctx** out) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  std::vector<Ctx*>& stack = tls_ctx_stack;
  if (stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  Ctx* ctx = Lookup<Ctx>(stack.back(), Kind::kContext);
  if (ctx == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (!ctx->alive) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  *out = ctx;
  return CUDA_SUCCESS;
}

CUresult CheckCtxLocked(CUcontext handle, Ctx** out) {
  Ctx* ctx = Lookup<Ctx>(handle, Kind::kContext);
  if (ctx == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (!ctx->alive) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  *out = ctx;
  return CUDA_SUCCESS;
}

CUresult ChargeLocked(int dev, uint64_t bytes) {
  Runtime& r = R();
  fakegpu::Locked lock(r.state);
  return fakegpu::ChargeLocked(r.state, dev, r.pid, bytes) ? CUDA_SUCCESS
                                                           : CUDA_ERROR_OUT_OF_MEMORY;
}

void UnchargeLocked(int dev, uint64_t bytes) {
  Runtime& r = R();
  fakegpu::Locked lock(r.state);
  fakegpu::UnchargeLocked(r.state, dev, r.pid, bytes);
}

CUresult AddDeviceContextLocked(int dev) {
  Runtime& r = R();
  if (r.device_contexts[dev] > 0) {
    ++r.device_contexts[dev];
    return CUDA_SUCCESS;
  }
  fakegpu::Locked lock(r.state);
  if (!fakegpu::ChargeLocked(r.state, dev, r.pid, Cfg().ctx_overhead_bytes)) {
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  fakegpu::FindProc(r.state->devices[dev], r.pid)->contexts = 1;
  r.device_contexts[dev] = 1;
  return CUDA_SUCCESS;
}

void DropDeviceContextLocked(int dev) {
  Runtime& r = R();
  if (r.device_contexts[dev] <= 0 || --r.device_contexts[dev] > 0) return;
  fakegpu::Locked lock(r.state);
  if (fakegpu::ProcEntry* p = fakegpu::FindProc(r.state->devices[dev], r.pid)) p->contexts = 0;
  fakegpu::UnchargeLocked(r.state, dev, r.pid, Cfg().ctx_overhead_bytes);
}

// A real GPU's synchronise returns within microseconds of the work's end. A plain sleep
// returns late by the timer slack (50 µs by default) plus the scheduler's wake-up latency,
// which would leave the simulated device idle between a launch+sync loop's kernels far longer
// than a GPU does (about 8 % of the time with 1 ms kernels on a busy machine). So a wait sleeps
// with 1 µs slack until kSpinUs before the deadline and yields in a loop for the rest.
void WaitUntil(int64_t deadline_us) {
  constexpr int64_t kSpinUs = 150;
  thread_local bool slack_set = false;
  if (!slack_set) {
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    slack_set = true;
  }
  if (deadline_us - fakegpu::MonotonicUs() > kSpinUs) fakegpu::SleepUntilUs(deadline_us - kSpinUs);
  while (fakegpu::MonotonicUs() < deadline_us) sched_yield();
}

}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

// ---------------------------------------------------------------------------------------
// Init, version, errors

FAKE_API CUresult cuInit(unsigned int flags) {
  FAKE_ENTER();
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  Runtime& r = R();
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.initialized && fakegpu::StatePathFromEnv() == r.state_path) return CUDA_SUCCESS;
  if (r.initialized) ResetProcessLocked();  // pointed at another state file: a new life
  if (CUresult rc = AttachStateLocked(false); rc != CUDA_SUCCESS) return rc;
  if (Cfg().devices <= 0) return CUDA_ERROR_NO_DEVICE;
  r.initialized = true;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuDriverGetVersion(int* version) {
  FAKE_ENTER();
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;  // 13000: the headers the fake is built from
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGetErrorString(CUresult error, const char** str) {
  FAKE_ENTER();
  if (str == nullptr) return CUDA_ERROR_INVALID_VALUE;
  size_t i = 0;
  const ErrorInfo* e = FindError(error, &i);
  if (e == nullptr) {
    *str = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
  }
  *str = e->text != nullptr ? e->text : DerivedText(i);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGetErrorName(CUresult error, const char** str) {
  FAKE_ENTER();
  if (str == nullptr) return CUDA_ERROR_INVALID_VALUE;
  size_t i = 0;
  const ErrorInfo* e = FindError(error, &i);
  *str = e != nullptr ? e->name : nullptr;
  return e != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// The export tables are undocumented (cudart needs them); a fake cannot provide them.
FAKE_API CUresult cuGetExportTable(const void** table, const CUuuid* id) {
  FAKE_ENTER();
  if (table == nullptr || id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *table = nullptr;
  return CUDA_ERROR_NOT_SUPPORTED;
}
