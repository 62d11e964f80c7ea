// The fake driver's contexts: primary contexts (retain/release/state/flags/reset), created
// contexts, the per-thread context stack, limits and synchronisation. The first context a
// process holds on a device charges FAKEGPU_CTX_OVERHEAD there and lists the process in the
// device's table; destroying a context frees what it owns (memory, arrays, streams, modules,
// the memory its limits reserve) and trims the device's memory pools and graph memory pool.
//
// LIMITS (cuCtxGetLimit / cuCtxSetLimit) are per context; a new (or re-retained primary)
// context starts with kDefaultLimits. Two of them reserve device memory, as in CUDA:
//   CU_LIMIT_MALLOC_HEAP_SIZE  the device malloc heap: the heap size (default 8 MiB)
//   CU_LIMIT_STACK_SIZE        thread stacks: bytes per thread (default 1024) * SMs *
//                              threads per SM (FAKEGPU_SMS, FAKEGPU_THREADS_PER_SM)
// The defaults' memory is taken to be part of FAKEGPU_CTX_OVERHEAD (charging it per context
// would change every context's footprint, 224 MiB on the default GPU), so a context is charged
// only what its limits reserve beyond the defaults:
//   RoundUp(heap - 8 MiB, 2 MiB)                            when heap > 8 MiB, plus
//   RoundUp((stack - 1024) * SMs * threads_per_sm, 2 MiB)   when stack > 1024.
// cuCtxSetLimit charges the increase of that sum to the process on the context's device
// (CUDA_ERROR_OUT_OF_MEMORY, and the limit unchanged, when the device lacks it) or uncharges
// the decrease; destroying the context uncharges it. Other limits are stored and read back.
#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

// Destroys a context's resources (not the object): memory, streams, events, modules, the
// memory its limits reserve. A primary context's limits start afresh at its next retain.
void TearDownCtxLocked(Ctx* ctx) {
  FreeCtxMemoryLocked(ctx);
  FreeCtxExecLocked(ctx);
  if (ctx->limit_charged > 0) UnchargeLocked(ctx->device, ctx->limit_charged);
  ctx->limit_charged = 0;
  ctx->limits = kDefaultLimits;
  ctx->alive = false;
  DropDeviceContextLocked(ctx->device);
}

void RemoveFromStacks(Ctx* ctx) {  // this thread's stack; other threads find it dead
  std::vector<Ctx*>& stack = CtxStack();
  for (auto it = stack.begin(); it != stack.end();) {
    it = *it == ctx ? stack.erase(it) : it + 1;
  }
}

CUresult CreateCtxLocked(CUcontext* pctx, unsigned flags, CUdevice dev) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDeviceLocked(dev)) return CUDA_ERROR_INVALID_DEVICE;
  if (CUresult rc = AddDeviceContextLocked(dev); rc != CUDA_SUCCESS) return rc;
  auto* ctx = new Ctx();
  ctx->device = dev;
  ctx->flags = flags;
  ctx->alive = true;
  Register(ctx);
  CtxStack().push_back(ctx);
  *pctx = reinterpret_cast<CUcontext>(ctx);
  return CUDA_SUCCESS;
}

CUresult DestroyCtxLocked(CUcontext handle) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Ctx* ctx = Lookup<Ctx>(handle, Kind::kContext);
  if (ctx == nullptr || !ctx->alive) return CUDA_ERROR_INVALID_CONTEXT;
  if (ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;  // primaries go through Release
  TearDownCtxLocked(ctx);
  RemoveFromStacks(ctx);
  Unregister(ctx);  // the object leaks on purpose: other threads may still point at it
  return CUDA_SUCCESS;
}

CUresult PrimaryReleaseLocked(CUdevice dev) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (!ValidDeviceLocked(dev)) return CUDA_ERROR_INVALID_DEVICE;
  Ctx& p = R().primary[dev];
  if (p.refcount <= 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--p.refcount == 0) TearDownCtxLocked(&p);
  return CUDA_SUCCESS;
}

CUresult PrimaryResetLocked(CUdevice dev) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (!ValidDeviceLocked(dev)) return CUDA_ERROR_INVALID_DEVICE;
  Ctx& p = R().primary[dev];
  if (p.refcount > 0) TearDownCtxLocked(&p);
  p.refcount = 0;
  p.flags = 0;
  return CUDA_SUCCESS;
}

CUresult PrimarySetFlagsLocked(CUdevice dev, unsigned flags) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (!ValidDeviceLocked(dev)) return CUDA_ERROR_INVALID_DEVICE;
  constexpr unsigned kKnown = CU_CTX_SCHED_MASK | CU_CTX_LMEM_RESIZE_TO_MAX |
                              CU_CTX_COREDUMP_ENABLE | CU_CTX_USER_COREDUMP_ENABLE |
                              CU_CTX_SYNC_MEMOPS;
  if ((flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  R().primary[dev].flags = flags;
  return CUDA_SUCCESS;
}

CUresult PopCtxLocked(CUcontext* pctx) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  std::vector<Ctx*>& stack = CtxStack();
  if (stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (pctx != nullptr) *pctx = reinterpret_cast<CUcontext>(stack.back());
  stack.pop_back();
  return CUDA_SUCCESS;
}

CUresult PushCtxLocked(CUcontext handle) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Ctx* ctx = nullptr;
  if (CUresult rc = CheckCtxLocked(handle, &ctx); rc != CUDA_SUCCESS) return rc;
  CtxStack().push_back(ctx);
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

// ---------------------------------------------------------------------------------------
// Primary contexts

FAKE_API CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDeviceLocked(dev)) return CUDA_ERROR_INVALID_DEVICE;
  Ctx& p = R().primary[dev];
  if (p.refcount == 0) {
    if (CUresult rc = AddDeviceContextLocked(dev); rc != CUDA_SUCCESS) return rc;
    p.alive = true;
  }
  ++p.refcount;
  *pctx = reinterpret_cast<CUcontext>(&p);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PrimaryReleaseLocked(dev);
}

FAKE_API CUresult cuDevicePrimaryCtxRelease(CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PrimaryReleaseLocked(dev);
}

FAKE_API CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDeviceLocked(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *flags = R().primary[dev].flags;
  *active = R().primary[dev].refcount > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PrimarySetFlagsLocked(dev, flags);
}

FAKE_API CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PrimarySetFlagsLocked(dev, flags);
}

FAKE_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PrimaryResetLocked(dev);
}

FAKE_API CUresult cuDevicePrimaryCtxReset(CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PrimaryResetLocked(dev);
}

// ---------------------------------------------------------------------------------------
// Contexts

FAKE_API CUresult cuCtxCreate(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return CreateCtxLocked(pctx, flags, dev);
}

FAKE_API CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return CreateCtxLocked(pctx, flags, dev);
}

FAKE_API CUresult cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* params, int num_params,
                                 unsigned int flags, CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (num_params < 0 || (num_params > 0 && params == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (num_params > 0) return CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY;  // no SM partitioning
  return CreateCtxLocked(pctx, flags, dev);
}

FAKE_API CUresult cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* params, unsigned int flags,
                                 CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (params != nullptr && (params->numExecAffinityParams > 0 || params->cigParams != nullptr)) {
    return CUDA_ERROR_NOT_SUPPORTED;  // execution affinity and CIG are not simulated
  }
  return CreateCtxLocked(pctx, flags, dev);
}

FAKE_API CUresult cuCtxDestroy_v2(CUcontext ctx) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return DestroyCtxLocked(ctx);
}

FAKE_API CUresult cuCtxDestroy(CUcontext ctx) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return DestroyCtxLocked(ctx);
}

FAKE_API CUresult cuCtxGetCurrent(CUcontext* pctx) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const std::vector<Ctx*>& stack = CtxStack();
  *pctx = stack.empty() ? nullptr : reinterpret_cast<CUcontext>(stack.back());
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxSetCurrent(CUcontext handle) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  std::vector<Ctx*>& stack = CtxStack();
  if (handle == nullptr) {
    if (!stack.empty()) stack.pop_back();
    return CUDA_SUCCESS;
  }
  Ctx* ctx = nullptr;
  if (CUresult rc = CheckCtxLocked(handle, &ctx); rc != CUDA_SUCCESS) return rc;
  if (stack.empty())
    stack.push_back(ctx);
  else
    stack.back() = ctx;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PushCtxLocked(ctx);
}

FAKE_API CUresult cuCtxPushCurrent(CUcontext ctx) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PushCtxLocked(ctx);
}

FAKE_API CUresult cuCtxPopCurrent_v2(CUcontext* pctx) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PopCtxLocked(pctx);
}

FAKE_API CUresult cuCtxPopCurrent(CUcontext* pctx) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return PopCtxLocked(pctx);
}

FAKE_API CUresult cuCtxGetDevice(CUdevice* device) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *device = ctx->device;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxGetDevice_v2(CUdevice* device, CUcontext handle) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Ctx* ctx = nullptr;
  CUresult rc = handle == nullptr ? CurrentCtxLocked(&ctx) : CheckCtxLocked(handle, &ctx);
  if (rc != CUDA_SUCCESS) return rc;
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *device = ctx->device;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxGetFlags(unsigned int* flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = ctx->flags;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxGetApiVersion(CUcontext handle, unsigned int* version) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Ctx* ctx = nullptr;
  CUresult rc = handle == nullptr ? CurrentCtxLocked(&ctx) : CheckCtxLocked(handle, &ctx);
  if (rc != CUDA_SUCCESS) return rc;
  *version = 3020;  // what the driver reports for every context since CUDA 3.2
  return CUDA_SUCCESS;
}

namespace {

// Waits for all of this process's work on the context's device (NULL: the current context).
CUresult SynchronizeCtx(CUcontext handle) {
  int64_t deadline = 0;
  {
    std::lock_guard<std::mutex> lock(R().mu);
    if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
    Ctx* ctx = nullptr;
    CUresult rc = handle == nullptr ? CurrentCtxLocked(&ctx) : CheckCtxLocked(handle, &ctx);
    if (rc != CUDA_SUCCESS) return rc;
    deadline = R().device_last_end_us[ctx->device];
    TrimPoolsLocked(ctx->device);
  }
  WaitUntil(deadline);
  return CUDA_SUCCESS;
}

}  // namespace

FAKE_API CUresult cuCtxSynchronize() {
  FAKE_ENTER();
  return SynchronizeCtx(nullptr);
}

FAKE_API CUresult cuCtxSynchronize_v2(CUcontext ctx) {
  FAKE_ENTER();
  return SynchronizeCtx(ctx);
}

namespace {

// Device memory `limits` reserve beyond the default limits (see the file comment).
uint64_t LimitReserveBytes(const std::array<size_t, CU_LIMIT_MAX>& limits) {
  const uint64_t heap = limits[CU_LIMIT_MALLOC_HEAP_SIZE];
  const uint64_t stack = limits[CU_LIMIT_STACK_SIZE];
  const uint64_t default_heap = kDefaultLimits[CU_LIMIT_MALLOC_HEAP_SIZE];
  const uint64_t default_stack = kDefaultLimits[CU_LIMIT_STACK_SIZE];
  const uint64_t threads = static_cast<uint64_t>(Cfg().sms) * Cfg().threads_per_sm;
  const uint64_t heap_bytes =
      heap > default_heap ? RoundUp(heap - default_heap, fakegpu::kGranularity) : 0;
  const uint64_t stack_bytes =
      stack > default_stack ? RoundUp(MulSat(stack - default_stack, threads), fakegpu::kGranularity)
                            : 0;
  return AddSat(heap_bytes, stack_bytes);
}

// The current context and a valid limit.
CUresult CtxLimitLocked(CUlimit limit, Ctx** ctx) {
  if (CUresult rc = CurrentCtxLocked(ctx); rc != CUDA_SUCCESS) return rc;
  if (limit < 0 || limit >= CU_LIMIT_MAX) return CUDA_ERROR_UNSUPPORTED_LIMIT;
  return CUDA_SUCCESS;
}

// Sets a limit of the current context, charging or uncharging the memory it reserves.
CUresult SetLimitLocked(CUlimit limit, size_t value) {
  Ctx* ctx = nullptr;
  if (CUresult rc = CtxLimitLocked(limit, &ctx); rc != CUDA_SUCCESS) return rc;
  std::array<size_t, CU_LIMIT_MAX> next = ctx->limits;
  next[limit] = value;
  const uint64_t want = LimitReserveBytes(next);
  if (want > ctx->limit_charged) {
    if (CUresult rc = ChargeLocked(ctx->device, want - ctx->limit_charged); rc != CUDA_SUCCESS) {
      return rc;
    }
  } else if (want < ctx->limit_charged) {
    UnchargeLocked(ctx->device, ctx->limit_charged - want);
  }
  ctx->limit_charged = want;
  ctx->limits = next;
  return CUDA_SUCCESS;
}

CUfunc_cache cache_config = CU_FUNC_CACHE_PREFER_NONE;

}  // namespace

FAKE_API CUresult cuCtxGetLimit(size_t* value, CUlimit limit) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CtxLimitLocked(limit, &ctx); rc != CUDA_SUCCESS) return rc;
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *value = ctx->limits[limit];
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return SetLimitLocked(limit, value);
}

FAKE_API CUresult cuCtxGetCacheConfig(CUfunc_cache* config) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *config = cache_config;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxSetCacheConfig(CUfunc_cache config) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  cache_config = config;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxGetSharedMemConfig(CUsharedconfig* config) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *config = CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxSetSharedMemConfig(CUsharedconfig config) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  (void)config;  // a no-op since Volta
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (least != nullptr) *least = 0;
  if (greatest != nullptr) *greatest = -5;
  return CUDA_SUCCESS;
}
