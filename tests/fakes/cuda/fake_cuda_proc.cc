// cuGetProcAddress / cuGetProcAddress_v2 of the fake driver, and the test-only introspection
// entry points (fakegpu_*).
//
// RESOLUTION (as the driver documents it): `symbol` is a base name ("cuMemAlloc"); the entry
// with the highest version <= cudaVersion wins ("cuMemAlloc" -> cuMemAlloc_v2 from 3020;
// "cuCtxCreate" -> cuCtxCreate_v2 from 3020, _v3 from 11040, _v4 from 12050). With
// CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM the entry's _ptsz/_ptds twin is returned when
// it has one and cudaVersion reaches the twin's version (7000 for most); DEFAULT and
// LEGACY_STREAM give the legacy-stream function. Versions are the PFN suffixes of
// cudaTypedefs.h 13.0 (checked by script for every row). Not found: *pfn = NULL,
// CUDA_ERROR_NOT_FOUND and CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND; a cudaVersion below the
// first version: CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT (the fake carries none of the
// pre-3.2 32-bit legacy entry points, so e.g. "cuMemAlloc" below 3020 is not sufficient);
// cudaVersion above the driver's (13000) or unknown flags: CUDA_ERROR_INVALID_VALUE.
// "cuGraphInstantiate" resolves to the 5-argument legacy entry points only (10000, 11000);
// whether the driver maps it to cuGraphInstantiateWithFlags from 12000 is not documented.
#include "tests/fakes/cuda/fake_cuda_proc.h"

#include <cstring>

#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

const ProcEntry kProcs[] = {
    // Init, version, errors
    P("cuInit", 2000, cuInit),
    P("cuDriverGetVersion", 2020, cuDriverGetVersion),
    P("cuGetErrorString", 6000, cuGetErrorString),
    P("cuGetErrorName", 6000, cuGetErrorName),
    P("cuGetExportTable", 3000, cuGetExportTable),
    P("cuGetProcAddress", 11030, cuGetProcAddress),
    P("cuGetProcAddress", 12000, cuGetProcAddress_v2),
    // Devices
    P("cuDeviceGet", 2000, cuDeviceGet),
    P("cuDeviceGetCount", 2000, cuDeviceGetCount),
    P("cuDeviceGetName", 2000, cuDeviceGetName),
    P("cuDeviceGetAttribute", 2000, cuDeviceGetAttribute),
    P("cuDeviceGetUuid", 9020, cuDeviceGetUuid),
    P("cuDeviceGetUuid", 11040, cuDeviceGetUuid_v2),
    P("cuDeviceGetLuid", 10000, cuDeviceGetLuid),
    P("cuDeviceGetPCIBusId", 4010, cuDeviceGetPCIBusId),
    P("cuDeviceGetByPCIBusId", 4010, cuDeviceGetByPCIBusId),
    P("cuDeviceTotalMem", 3020, cuDeviceTotalMem_v2),
    P("cuDeviceCanAccessPeer", 4000, cuDeviceCanAccessPeer),
    P("cuDeviceGetP2PAttribute", 8000, cuDeviceGetP2PAttribute),
    P("cuDeviceGetDefaultMemPool", 11020, cuDeviceGetDefaultMemPool),
    P("cuDeviceGetMemPool", 11020, cuDeviceGetMemPool),
    P("cuDeviceSetMemPool", 11020, cuDeviceSetMemPool),
    P("cuDeviceGraphMemTrim", 11040, cuDeviceGraphMemTrim),
    P("cuDeviceGetGraphMemAttribute", 11040, cuDeviceGetGraphMemAttribute),
    P("cuDeviceSetGraphMemAttribute", 11040, cuDeviceSetGraphMemAttribute),
    P("cuDeviceGetTexture1DLinearMaxWidth", 11010, cuDeviceGetTexture1DLinearMaxWidth),
    P("cuFlushGPUDirectRDMAWrites", 11030, cuFlushGPUDirectRDMAWrites),
    // Primary contexts and contexts
    P("cuDevicePrimaryCtxRetain", 7000, cuDevicePrimaryCtxRetain),
    P("cuDevicePrimaryCtxRelease", 7000, cuDevicePrimaryCtxRelease),
    P("cuDevicePrimaryCtxRelease", 11000, cuDevicePrimaryCtxRelease_v2),
    P("cuDevicePrimaryCtxGetState", 7000, cuDevicePrimaryCtxGetState),
    P("cuDevicePrimaryCtxSetFlags", 7000, cuDevicePrimaryCtxSetFlags),
    P("cuDevicePrimaryCtxSetFlags", 11000, cuDevicePrimaryCtxSetFlags_v2),
    P("cuDevicePrimaryCtxReset", 7000, cuDevicePrimaryCtxReset),
    P("cuDevicePrimaryCtxReset", 11000, cuDevicePrimaryCtxReset_v2),
    P("cuCtxCreate", 2000, cuCtxCreate),
    P("cuCtxCreate", 3020, cuCtxCreate_v2),
    P("cuCtxCreate", 11040, cuCtxCreate_v3),
    P("cuCtxCreate", 12050, cuCtxCreate_v4),
    P("cuCtxDestroy", 2000, cuCtxDestroy),
    P("cuCtxDestroy", 4000, cuCtxDestroy_v2),
    P("cuCtxGetCurrent", 4000, cuCtxGetCurrent),
    P("cuCtxSetCurrent", 4000, cuCtxSetCurrent),
    P("cuCtxPushCurrent", 2000, cuCtxPushCurrent),
    P("cuCtxPushCurrent", 4000, cuCtxPushCurrent_v2),
    P("cuCtxPopCurrent", 2000, cuCtxPopCurrent),
    P("cuCtxPopCurrent", 4000, cuCtxPopCurrent_v2),
    P("cuCtxGetDevice", 2000, cuCtxGetDevice),
    P("cuCtxGetDevice", 13000, cuCtxGetDevice_v2),
    P("cuCtxGetFlags", 7000, cuCtxGetFlags),
    P("cuCtxGetApiVersion", 3020, cuCtxGetApiVersion),
    P("cuCtxGetLimit", 3010, cuCtxGetLimit),
    P("cuCtxSetLimit", 3010, cuCtxSetLimit),
    P("cuCtxGetCacheConfig", 3020, cuCtxGetCacheConfig),
    P("cuCtxSetCacheConfig", 3020, cuCtxSetCacheConfig),
    P("cuCtxGetSharedMemConfig", 4020, cuCtxGetSharedMemConfig),
    P("cuCtxSetSharedMemConfig", 4020, cuCtxSetSharedMemConfig),
    P("cuCtxGetStreamPriorityRange", 5050, cuCtxGetStreamPriorityRange),
    P("cuCtxSynchronize", 2000, cuCtxSynchronize),
    P("cuCtxSynchronize", 13000, cuCtxSynchronize_v2),
    // Memory
    P("cuMemAlloc", 3020, cuMemAlloc_v2),
    P("cuMemFree", 3020, cuMemFree_v2),
    P("cuMemGetInfo", 3020, cuMemGetInfo_v2),
    P("cuMemAllocPitch", 3020, cuMemAllocPitch_v2),
    P("cuMemAllocManaged", 6000, cuMemAllocManaged),
    P("cuMemGetAddressRange", 3020, cuMemGetAddressRange_v2),
    P("cuMemAllocHost", 3020, cuMemAllocHost_v2),
    P("cuMemHostAlloc", 2020, cuMemHostAlloc),
    P("cuMemFreeHost", 2000, cuMemFreeHost),
    P("cuMemHostRegister", 4000, cuMemHostRegister),
    P("cuMemHostRegister", 6050, cuMemHostRegister_v2),
    P("cuMemHostUnregister", 4000, cuMemHostUnregister),
    P("cuMemHostGetDevicePointer", 3020, cuMemHostGetDevicePointer_v2),
    P("cuMemHostGetFlags", 2030, cuMemHostGetFlags),
    PT("cuMemAllocAsync", 11020, cuMemAllocAsync, cuMemAllocAsync_ptsz, 11020),
    PT("cuMemFreeAsync", 11020, cuMemFreeAsync, cuMemFreeAsync_ptsz, 11020),
    PT("cuMemAllocFromPoolAsync", 11020, cuMemAllocFromPoolAsync, cuMemAllocFromPoolAsync_ptsz,
       11020),
    P("cuMemPoolCreate", 11020, cuMemPoolCreate),
    P("cuMemPoolDestroy", 11020, cuMemPoolDestroy),
    P("cuMemPoolGetAttribute", 11020, cuMemPoolGetAttribute),
    P("cuMemPoolSetAttribute", 11020, cuMemPoolSetAttribute),
    P("cuMemPoolTrimTo", 11020, cuMemPoolTrimTo),
    P("cuMemPoolSetAccess", 11020, cuMemPoolSetAccess),
    P("cuMemPoolGetAccess", 11020, cuMemPoolGetAccess),
    P("cuMemCreate", 10020, cuMemCreate),
    P("cuMemRelease", 10020, cuMemRelease),
    P("cuMemGetAllocationPropertiesFromHandle", 10020, cuMemGetAllocationPropertiesFromHandle),
    P("cuMemAddressReserve", 10020, cuMemAddressReserve),
    P("cuMemAddressFree", 10020, cuMemAddressFree),
    P("cuMemMap", 10020, cuMemMap),
    P("cuMemUnmap", 10020, cuMemUnmap),
    P("cuMemSetAccess", 10020, cuMemSetAccess),
    P("cuMemGetAllocationGranularity", 10020, cuMemGetAllocationGranularity),
    P("cuArrayCreate", 3020, cuArrayCreate_v2),
    P("cuArray3DCreate", 3020, cuArray3DCreate_v2),
    P("cuArrayDestroy", 2000, cuArrayDestroy),
    P("cuMipmappedArrayCreate", 5000, cuMipmappedArrayCreate),
    P("cuMipmappedArrayGetLevel", 5000, cuMipmappedArrayGetLevel),
    P("cuMipmappedArrayDestroy", 5000, cuMipmappedArrayDestroy),
    P("cuPointerGetAttribute", 4000, cuPointerGetAttribute),
    P("cuPointerGetAttributes", 7000, cuPointerGetAttributes),
    P("cuPointerSetAttribute", 6000, cuPointerSetAttribute),
    // Copies and sets
    PT("cuMemcpy", 4000, cuMemcpy, cuMemcpy_ptds, 7000),
    PT("cuMemcpyAsync", 4000, cuMemcpyAsync, cuMemcpyAsync_ptsz, 7000),
    PT("cuMemcpyPeer", 4000, cuMemcpyPeer, cuMemcpyPeer_ptds, 7000),
    PT("cuMemcpyPeerAsync", 4000, cuMemcpyPeerAsync, cuMemcpyPeerAsync_ptsz, 7000),
    PT("cuMemcpyHtoD", 3020, cuMemcpyHtoD_v2, cuMemcpyHtoD_v2_ptds, 7000),
    PT("cuMemcpyDtoH", 3020, cuMemcpyDtoH_v2, cuMemcpyDtoH_v2_ptds, 7000),
    PT("cuMemcpyDtoD", 3020, cuMemcpyDtoD_v2, cuMemcpyDtoD_v2_ptds, 7000),
    PT("cuMemcpyDtoA", 3020, cuMemcpyDtoA_v2, cuMemcpyDtoA_v2_ptds, 7000),
    PT("cuMemcpyAtoD", 3020, cuMemcpyAtoD_v2, cuMemcpyAtoD_v2_ptds, 7000),
    PT("cuMemcpyHtoDAsync", 3020, cuMemcpyHtoDAsync_v2, cuMemcpyHtoDAsync_v2_ptsz, 7000),
    PT("cuMemcpyDtoHAsync", 3020, cuMemcpyDtoHAsync_v2, cuMemcpyDtoHAsync_v2_ptsz, 7000),
    PT("cuMemcpyDtoDAsync", 3020, cuMemcpyDtoDAsync_v2, cuMemcpyDtoDAsync_v2_ptsz, 7000),
    PT("cuMemcpy2D", 3020, cuMemcpy2D_v2, cuMemcpy2D_v2_ptds, 7000),
    PT("cuMemcpy2DUnaligned", 3020, cuMemcpy2DUnaligned_v2, cuMemcpy2DUnaligned_v2_ptds, 7000),
    PT("cuMemcpy2DAsync", 3020, cuMemcpy2DAsync_v2, cuMemcpy2DAsync_v2_ptsz, 7000),
    PT("cuMemcpy3D", 3020, cuMemcpy3D_v2, cuMemcpy3D_v2_ptds, 7000),
    PT("cuMemcpy3DAsync", 3020, cuMemcpy3DAsync_v2, cuMemcpy3DAsync_v2_ptsz, 7000),
    PT("cuMemcpy3DPeer", 4000, cuMemcpy3DPeer, cuMemcpy3DPeer_ptds, 7000),
    PT("cuMemcpy3DPeerAsync", 4000, cuMemcpy3DPeerAsync, cuMemcpy3DPeerAsync_ptsz, 7000),
    PT("cuMemsetD8", 3020, cuMemsetD8_v2, cuMemsetD8_v2_ptds, 7000),
    PT("cuMemsetD16", 3020, cuMemsetD16_v2, cuMemsetD16_v2_ptds, 7000),
    PT("cuMemsetD32", 3020, cuMemsetD32_v2, cuMemsetD32_v2_ptds, 7000),
    PT("cuMemsetD2D8", 3020, cuMemsetD2D8_v2, cuMemsetD2D8_v2_ptds, 7000),
    PT("cuMemsetD2D16", 3020, cuMemsetD2D16_v2, cuMemsetD2D16_v2_ptds, 7000),
    PT("cuMemsetD2D32", 3020, cuMemsetD2D32_v2, cuMemsetD2D32_v2_ptds, 7000),
    PT("cuMemsetD8Async", 3020, cuMemsetD8Async, cuMemsetD8Async_ptsz, 7000),
    PT("cuMemsetD16Async", 3020, cuMemsetD16Async, cuMemsetD16Async_ptsz, 7000),
    PT("cuMemsetD32Async", 3020, cuMemsetD32Async, cuMemsetD32Async_ptsz, 7000),
    PT("cuMemsetD2D8Async", 3020, cuMemsetD2D8Async, cuMemsetD2D8Async_ptsz, 7000),
    PT("cuMemsetD2D16Async", 3020, cuMemsetD2D16Async, cuMemsetD2D16Async_ptsz, 7000),
    PT("cuMemsetD2D32Async", 3020, cuMemsetD2D32Async, cuMemsetD2D32Async_ptsz, 7000),
    // Streams and events
    P("cuStreamCreate", 2000, cuStreamCreate),
    P("cuStreamCreateWithPriority", 5050, cuStreamCreateWithPriority),
    P("cuStreamDestroy", 2000, cuStreamDestroy),
    P("cuStreamDestroy", 4000, cuStreamDestroy_v2),
    PT("cuStreamSynchronize", 2000, cuStreamSynchronize, cuStreamSynchronize_ptsz, 7000),
    PT("cuStreamQuery", 2000, cuStreamQuery, cuStreamQuery_ptsz, 7000),
    PT("cuStreamWaitEvent", 3020, cuStreamWaitEvent, cuStreamWaitEvent_ptsz, 7000),
    PT("cuStreamGetPriority", 5050, cuStreamGetPriority, cuStreamGetPriority_ptsz, 7000),
    PT("cuStreamGetFlags", 5050, cuStreamGetFlags, cuStreamGetFlags_ptsz, 7000),
    PT("cuStreamGetCtx", 9020, cuStreamGetCtx, cuStreamGetCtx_ptsz, 9020),
    PT("cuStreamGetCtx", 12050, cuStreamGetCtx_v2, cuStreamGetCtx_v2_ptsz, 12050),
    PT("cuStreamGetId", 12000, cuStreamGetId, cuStreamGetId_ptsz, 12000),
    PT("cuStreamBeginCapture", 10000, cuStreamBeginCapture, cuStreamBeginCapture_ptsz, 10000),
    PT("cuStreamBeginCapture", 10010, cuStreamBeginCapture_v2, cuStreamBeginCapture_v2_ptsz, 10010),
    PT("cuStreamEndCapture", 10000, cuStreamEndCapture, cuStreamEndCapture_ptsz, 10000),
    PT("cuStreamIsCapturing", 10000, cuStreamIsCapturing, cuStreamIsCapturing_ptsz, 10000),
    P("cuEventCreate", 2000, cuEventCreate),
    P("cuEventDestroy", 2000, cuEventDestroy),
    P("cuEventDestroy", 4000, cuEventDestroy_v2),
    PT("cuEventRecord", 2000, cuEventRecord, cuEventRecord_ptsz, 7000),
    PT("cuEventRecordWithFlags", 11010, cuEventRecordWithFlags, cuEventRecordWithFlags_ptsz, 11010),
    P("cuEventQuery", 2000, cuEventQuery),
    P("cuEventSynchronize", 2000, cuEventSynchronize),
    P("cuEventElapsedTime", 2000, cuEventElapsedTime),
    P("cuEventElapsedTime", 12080, cuEventElapsedTime_v2),
    // Modules, functions, launches
    P("cuModuleLoad", 2000, cuModuleLoad),
    P("cuModuleLoadData", 2000, cuModuleLoadData),
    P("cuModuleLoadDataEx", 2010, cuModuleLoadDataEx),
    P("cuModuleLoadFatBinary", 2000, cuModuleLoadFatBinary),
    P("cuModuleUnload", 2000, cuModuleUnload),
    P("cuModuleGetFunction", 2000, cuModuleGetFunction),
    P("cuModuleGetGlobal", 3020, cuModuleGetGlobal_v2),
    P("cuFuncGetAttribute", 2020, cuFuncGetAttribute),
    P("cuFuncSetAttribute", 9000, cuFuncSetAttribute),
    P("cuFuncSetCacheConfig", 3000, cuFuncSetCacheConfig),
    P("cuFuncSetSharedMemConfig", 4020, cuFuncSetSharedMemConfig),
    PT("cuLaunchKernel", 4000, cuLaunchKernel, cuLaunchKernel_ptsz, 7000),
    PT("cuLaunchKernelEx", 11060, cuLaunchKernelEx, cuLaunchKernelEx_ptsz, 11060),
    PT("cuLaunchCooperativeKernel", 9000, cuLaunchCooperativeKernel, cuLaunchCooperativeKernel_ptsz,
       9000),
    // Graphs
    P("cuGraphCreate", 10000, cuGraphCreate),
    P("cuGraphAddKernelNode", 12000, cuGraphAddKernelNode_v2),
    P("cuGraphAddEmptyNode", 10000, cuGraphAddEmptyNode),
    P("cuGraphGetNodes", 10000, cuGraphGetNodes),
    P("cuGraphAddMemAllocNode", 11040, cuGraphAddMemAllocNode),
    P("cuGraphMemAllocNodeGetParams", 11040, cuGraphMemAllocNodeGetParams),
    P("cuGraphAddMemFreeNode", 11040, cuGraphAddMemFreeNode),
    P("cuGraphMemFreeNodeGetParams", 11040, cuGraphMemFreeNodeGetParams),
    P("cuGraphInstantiate", 10000, cuGraphInstantiate),
    P("cuGraphInstantiate", 11000, cuGraphInstantiate_v2),
    P("cuGraphInstantiateWithFlags", 11040, cuGraphInstantiateWithFlags),
    PT("cuGraphLaunch", 10000, cuGraphLaunch, cuGraphLaunch_ptsz, 10000),
    PT("cuGraphUpload", 11010, cuGraphUpload, cuGraphUpload_ptsz, 11010),
    P("cuGraphExecDestroy", 10000, cuGraphExecDestroy),
    P("cuGraphDestroy", 10000, cuGraphDestroy),
};

void Consider(const ProcEntry& e, const char* symbol, int version, bool* seen,
              const ProcEntry** best) {
  if (strcmp(e.base, symbol) != 0) return;
  *seen = true;
  if (e.version <= version && (*best == nullptr || e.version > (*best)->version)) *best = &e;
}

CUresult GetProc(const char* symbol, void** pfn, int version, cuuint64_t flags,
                 CUdriverProcAddressQueryResult* status) {
  if (pfn != nullptr) *pfn = nullptr;
  if (symbol == nullptr || pfn == nullptr || version > CUDA_VERSION ||
      (flags & ~static_cast<cuuint64_t>(CU_GET_PROC_ADDRESS_LEGACY_STREAM |
                                        CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)) != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  bool seen = false;
  const ProcEntry* best = nullptr;
  for (const ProcEntry& e : kProcs) Consider(e, symbol, version, &seen, &best);
  for (size_t i = 0; i < kStubProcCount; ++i)
    Consider(kStubProcs[i], symbol, version, &seen, &best);
  if (best == nullptr) {
    if (status != nullptr) {
      *status =
          seen ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    }
    return CUDA_ERROR_NOT_FOUND;
  }
  const bool per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  *pfn = per_thread && best->per_thread != nullptr && version >= best->per_thread_version
             ? best->per_thread
             : best->fn;
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

FAKE_API CUresult cuGetProcAddress(const char* symbol, void** pfn, int version, cuuint64_t flags) {
  FAKE_ENTER();
  return GetProc(symbol, pfn, version, flags, nullptr);
}

FAKE_API CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int version, cuuint64_t flags,
                                      CUdriverProcAddressQueryResult* status) {
  FAKE_ENTER();
  return GetProc(symbol, pfn, version, flags, status);
}

// ---------------------------------------------------------------------------------------
// Introspection for tests (fakegpu_*): reached with dlsym on the fake's handle. Device
// indexes out of range read as 0; pids are real (not offset) pids.

namespace {

// Runs `fn(state)` under the state's mutex after reaping dead processes, attaching to the
// state file (without resetting it) if this process has not yet. Returns `fallback` when
// the state cannot be opened or `dev` is out of range.
template <typename T, typename Fn>
T Query(int dev, T fallback, Fn fn) {
  Runtime& r = R();
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.state == nullptr && AttachStateLocked(false) != CUDA_SUCCESS) return fallback;
  if (dev < 0 || dev >= r.state->config.devices) return fallback;
  fakegpu::Locked shared(r.state);
  fakegpu::ReapDeadLocked(r.state);
  return fn(r.state, r.state->devices[dev]);
}

}  // namespace

// Re-reads the environment: maps $FAKEGPU_STATE (creating it), rebuilds its contents from the
// FAKEGPU_* knobs, drops this process's driver state (cuInit is needed again) and re-reads
// FAKEGPU_FAIL. Other processes attached to the same file must not be running. 0 or -1.
FAKE_API int fakegpu_reset() {
  ReloadFaults();
  Runtime& r = R();
  std::lock_guard<std::mutex> lock(r.mu);
  ResetProcessLocked();
  return AttachStateLocked(true) == CUDA_SUCCESS ? 0 : -1;
}

FAKE_API const char* fakegpu_state_path() {
  Runtime& r = R();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.state != nullptr ? r.state_path.c_str() : nullptr;
}

FAKE_API unsigned long long fakegpu_device_used_bytes(int dev) {
  return Query<unsigned long long>(
      dev, 0, [](fakegpu::State*, fakegpu::DeviceState& d) { return d.used_bytes; });
}

FAKE_API unsigned long long fakegpu_device_peak_used_bytes(int dev) {
  return Query<unsigned long long>(
      dev, 0, [](fakegpu::State*, fakegpu::DeviceState& d) { return d.peak_used_bytes; });
}

FAKE_API unsigned long long fakegpu_pid_used_bytes(int dev, int pid) {
  return Query<unsigned long long>(dev, 0, [&](fakegpu::State*, fakegpu::DeviceState& d) {
    const fakegpu::ProcEntry* p = fakegpu::FindProc(d, pid);
    return p != nullptr ? p->used_bytes : 0ULL;
  });
}

// Contexts `pid` holds on `dev` (0: not in the device's process table).
FAKE_API int fakegpu_pid_contexts(int dev, int pid) {
  return Query<int>(dev, 0, [&](fakegpu::State*, fakegpu::DeviceState& d) {
    const fakegpu::ProcEntry* p = fakegpu::FindProc(d, pid);
    return p != nullptr ? p->contexts : 0;
  });
}

// Processes in the device's table (what NVML lists).
FAKE_API int fakegpu_process_count(int dev) {
  return Query<int>(dev, 0, [](fakegpu::State*, fakegpu::DeviceState& d) {
    int n = 0;
    for (const fakegpu::ProcEntry& p : d.procs) n += p.pid != 0 ? 1 : 0;
    return n;
  });
}

FAKE_API long long fakegpu_now_us() { return fakegpu::MonotonicUs(); }

// Microseconds `dev` was busy for `pid` (< 0: any process) in (from_us, to_us], CLOCK_MONOTONIC.
FAKE_API long long fakegpu_busy_us(int dev, int pid, long long from_us, long long to_us) {
  return Query<long long>(dev, 0, [&](fakegpu::State* s, fakegpu::DeviceState&) {
    return static_cast<long long>(fakegpu::BusyUsLocked(s, dev, pid, from_us, to_us));
  });
}

// Percent (0..100) of the last `window_us` that `dev` was busy for `pid` (< 0: any process).
FAKE_API double fakegpu_busy_percent(int dev, int pid, long long window_us) {
  if (window_us <= 0) return 0.0;
  const int64_t now = fakegpu::MonotonicUs();
  return Query<double>(dev, 0.0, [&](fakegpu::State* s, fakegpu::DeviceState&) {
    return 100.0 * static_cast<double>(fakegpu::BusyUsLocked(s, dev, pid, now - window_us, now)) /
           static_cast<double>(window_us);
  });
}

// When the work queued on `dev` ends (CLOCK_MONOTONIC µs; in the past when idle).
FAKE_API long long fakegpu_busy_until_us(int dev) {
  return Query<long long>(dev, 0,
                          [](fakegpu::State*, fakegpu::DeviceState& d) { return d.busy_until_us; });
}

FAKE_API unsigned long long fakegpu_launch_count(int dev) {
  return Query<unsigned long long>(
      dev, 0, [](fakegpu::State*, fakegpu::DeviceState& d) { return d.launches; });
}

// Changes the kernel duration model for every process using the state (0: use waves).
FAKE_API int fakegpu_set_kernel_us(long long kernel_us, long long wave_us) {
  if (kernel_us < 0 || wave_us < 0) return -1;
  return Query<int>(0, -1, [&](fakegpu::State* s, fakegpu::DeviceState&) {
    s->config.kernel_us = kernel_us;
    s->config.wave_us = wave_us;
    return 0;
  });
}

// Calls of the exported entry point `symbol` made in this process (before fault injection).
FAKE_API unsigned long long fakegpu_call_count(const char* symbol) {
  if (symbol == nullptr) return 0;
  unsigned long long n = 0;
  for (CallSite* c = FirstCallSite(); c != nullptr; c = c->next()) {
    if (strcmp(c->name(), symbol) == 0) n += c->calls();
  }
  return n;
}
