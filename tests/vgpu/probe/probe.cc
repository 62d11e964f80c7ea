// vgpu_probe: a small CUDA driver-API program for libvgpu's tests. It is linked against the
// (fake) libcuda.so.1 and run with LD_PRELOAD=libvgpu.so, so its calls take every route a real
// application's do: direct symbol binding, dlsym on the driver's handle, and cuGetProcAddress.
// Commands (one per argument, run in order; each prints one line "<command> <result...>"):
//   init                 cuInit + a primary context on device 0
//   device:<n>           make device n's primary context current
//   alloc:<bytes>        cuMemAlloc (direct)   -> "alloc <CUresult> <ptr>"
//   alloc-dlsym:<bytes>  cuMemAlloc_v2 found with dlsym(libcuda handle)
//   alloc-proc:<bytes>   cuMemAlloc found with cuGetProcAddress(version 12000)
//   alloc-managed:<bytes>, alloc-async:<bytes>, alloc-pitch:<width>x<height>
//   vmm:<bytes>          cuMemCreate on the current device; "release-vmm" releases the last one
//   vmm-map:<bytes>      the VMM idiom: cuMemAddressReserve, cuMemCreate, cuMemMap, cuMemSetAccess,
//                        then cuMemRelease of the handle while it stays mapped -> "vmm-map <rc>";
//                        "vmm-unmap" unmaps the last such range and frees its addresses
//   pool:<threshold|max> cuMemPoolCreate on device 0 with that release threshold -> "pool <rc>"
//   default-threshold:<bytes|max>  the release threshold of device 0's default pool
//   pool-alloc:<bytes>   cuMemAllocFromPoolAsync from the last pool -> "pool-alloc <rc> <ptr>"
//   free-async-last      cuMemFreeAsync of the most recent allocation
//   sync                 cuCtxSynchronize
//   heap:<bytes>, stack:<bytes>  cuCtxSetLimit of the malloc heap / per-thread stack
//   mipmap:<w>x<h>:<levels>  cuMipmappedArrayCreate (float4); "mipmap-destroy" destroys the last
//   graph-mem:<bytes>    launches a graph that allocates and frees <bytes> of graph memory and
//                        synchronises -> "graph-mem <rc>"; "graph-trim" cuDeviceGraphMemTrim(0)
//   array:<w>x<h>        cuArrayCreate of a w x h float4 array; "array-destroy" destroys the last
//   free-last            frees the most recent allocation
//   free-foreign         frees an address libvgpu never saw (allocated behind its back)
//   fill                 allocates 64 MiB chunks until refused -> "fill <count> <last CUresult>"
//   info                 cuMemGetInfo -> "info <free> <total>"
//   total                cuDeviceTotalMem -> "total <bytes>"
//   nvml                 nvmlDeviceGetMemoryInfo of NVML device 0 -> "nvml <total> <free> <used>"
//   procs                NVML's compute processes of device 0 (_v3, size protocol) ->
//                        "procs <nvmlReturn> <count> <pid>..."
//   pid                  "pid <getpid()>"
//   hold:<ms>            sleeps (keeps allocations alive)
//   launch:<n>           n x cuLaunchKernel of a fake function
//   fork-alloc:<bytes>   forks; the child initialises CUDA, allocates and prints; the parent
//                        waits
//   proc:<name>:<version>:<flags>  cuGetProcAddress_v2 -> "proc <CUresult> <file> <symbol>"
//   saturate:<ms>:<kernel_us>[:<kind>]  for <ms>, launch a <kernel_us> µs kernel (a function
//                        named fakegpu_us_<kernel_us>) and cuCtxSynchronize, in a loop; kind
//                        kernel (default), coop (cuLaunchCooperativeKernel) or graph (a captured
//                        one-kernel graph, cuGraphLaunch) -> "saturate <CUresult> <kernels>"
#include <cuda.h>
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#undef cuGetProcAddress

namespace {

std::vector<CUdeviceptr> allocations;
std::vector<CUmemGenericAllocationHandle> handles;
std::vector<CUarray> arrays;
std::vector<std::pair<CUdeviceptr, size_t>> mapped;
std::vector<CUmemoryPool> pools;
std::vector<CUmipmappedArray> mipmaps;

// "max" is UINT64_MAX (as PyTorch sets pool thresholds).
unsigned long long Threshold(const std::string& text) {
  return text == "max" ? ~0ull : std::strtoull(text.c_str(), nullptr, 10);
}

unsigned long long Number(const std::string& text) {
  return std::strtoull(text.c_str(), nullptr, 10);
}

// `r` must be computed before `p` is read (argument evaluation order is unspecified).
void Record(const char* what, CUresult r, CUdeviceptr p) {
  if (r == CUDA_SUCCESS) allocations.push_back(p);
  std::printf("%s %d %llu\n", what, static_cast<int>(r), static_cast<unsigned long long>(p));
}

using AllocFn = CUresult (*)(CUdeviceptr*, size_t);

int Run(const std::string& command) {
  const size_t colon = command.find(':');
  const std::string verb = command.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : command.substr(colon + 1);
  CUdeviceptr p = 0;
  if (verb == "init") {
    CUresult r = cuInit(0);
    CUcontext ctx = nullptr;
    if (r == CUDA_SUCCESS) r = cuDevicePrimaryCtxRetain(&ctx, 0);
    if (r == CUDA_SUCCESS) r = cuCtxSetCurrent(ctx);
    std::printf("init %d\n", static_cast<int>(r));
  } else if (verb == "device") {
    CUcontext ctx = nullptr;
    CUresult r = cuDevicePrimaryCtxRetain(&ctx, static_cast<CUdevice>(Number(arg)));
    if (r == CUDA_SUCCESS) r = cuCtxSetCurrent(ctx);
    std::printf("device %d\n", static_cast<int>(r));
  } else if (verb == "alloc") {
    {
      const CUresult r = cuMemAlloc(&p, Number(arg));
      Record("alloc", r, p);
    }
  } else if (verb == "alloc-dlsym") {
    void* driver = dlopen("libcuda.so.1", RTLD_NOW);
    auto fn = reinterpret_cast<AllocFn>(driver ? dlsym(driver, "cuMemAlloc_v2") : nullptr);
    {
      const CUresult r = fn ? fn(&p, Number(arg)) : CUDA_ERROR_NOT_FOUND;
      Record("alloc-dlsym", r, p);
    }
  } else if (verb == "alloc-proc") {
    void* fn = nullptr;
    CUdriverProcAddressQueryResult status;
    CUresult r =
        cuGetProcAddress_v2("cuMemAlloc", &fn, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &status);
    if (r == CUDA_SUCCESS) r = reinterpret_cast<AllocFn>(fn)(&p, Number(arg));
    Record("alloc-proc", r, p);
  } else if (verb == "alloc-managed") {
    {
      const CUresult r = cuMemAllocManaged(&p, Number(arg), CU_MEM_ATTACH_GLOBAL);
      Record("alloc-managed", r, p);
    }
  } else if (verb == "alloc-async") {
    const CUresult r = cuMemAllocAsync(&p, Number(arg), nullptr);
    Record("alloc-async", r, p);
  } else if (verb == "alloc-pitch") {
    const size_t x = arg.find('x');
    size_t pitch = 0;
    const CUresult r =
        cuMemAllocPitch(&p, &pitch, Number(arg.substr(0, x)), Number(arg.substr(x + 1)), 4);
    if (r == CUDA_SUCCESS) allocations.push_back(p);
    std::printf("alloc-pitch %d %zu\n", static_cast<int>(r), pitch);
  } else if (verb == "vmm") {
    CUmemAllocationProp prop = {};
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    CUmemGenericAllocationHandle h = 0;
    const CUresult r = cuMemCreate(&h, Number(arg), &prop, 0);
    if (r == CUDA_SUCCESS) handles.push_back(h);
    std::printf("vmm %d\n", static_cast<int>(r));
  } else if (verb == "release-vmm") {
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    if (!handles.empty()) {
      r = cuMemRelease(handles.back());
      handles.pop_back();
    }
    std::printf("release-vmm %d\n", static_cast<int>(r));
  } else if (verb == "vmm-map") {
    const size_t size = Number(arg);
    CUmemAllocationProp prop = {};
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    CUdeviceptr va = 0;
    CUmemGenericAllocationHandle h = 0;
    CUresult r = cuMemAddressReserve(&va, size, 0, 0, 0);
    if (r == CUDA_SUCCESS) r = cuMemCreate(&h, size, &prop, 0);
    if (r == CUDA_SUCCESS) r = cuMemMap(va, size, 0, h, 0);
    if (r == CUDA_SUCCESS) {
      CUmemAccessDesc access = {};
      access.location = prop.location;
      access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
      r = cuMemSetAccess(va, size, &access, 1);
    }
    if (r == CUDA_SUCCESS) r = cuMemRelease(h);  // the mapping keeps the memory alive
    if (r == CUDA_SUCCESS) {
      mapped.emplace_back(va, size);
    } else if (va != 0) {
      cuMemAddressFree(va, size);
    }
    std::printf("vmm-map %d\n", static_cast<int>(r));
  } else if (verb == "vmm-unmap") {
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    if (!mapped.empty()) {
      r = cuMemUnmap(mapped.back().first, mapped.back().second);
      if (r == CUDA_SUCCESS) r = cuMemAddressFree(mapped.back().first, mapped.back().second);
      mapped.pop_back();
    }
    std::printf("vmm-unmap %d\n", static_cast<int>(r));
  } else if (verb == "pool") {
    CUmemPoolProps props = {};
    props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = 0;
    CUmemoryPool pool = nullptr;
    CUresult r = cuMemPoolCreate(&pool, &props);
    cuuint64_t threshold = Threshold(arg);
    if (r == CUDA_SUCCESS) {
      pools.push_back(pool);
      r = cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold);
    }
    std::printf("pool %d\n", static_cast<int>(r));
  } else if (verb == "default-threshold") {
    CUmemoryPool pool = nullptr;
    cuuint64_t threshold = Threshold(arg);
    CUresult r = cuDeviceGetDefaultMemPool(&pool, 0);
    if (r == CUDA_SUCCESS) {
      r = cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold);
    }
    std::printf("default-threshold %d\n", static_cast<int>(r));
  } else if (verb == "pool-alloc") {
    const CUresult r = pools.empty()
                           ? CUDA_ERROR_INVALID_VALUE
                           : cuMemAllocFromPoolAsync(&p, Number(arg), pools.back(), nullptr);
    Record("pool-alloc", r, p);
  } else if (verb == "free-async-last") {
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    if (!allocations.empty()) {
      r = cuMemFreeAsync(allocations.back(), nullptr);
      allocations.pop_back();
    }
    std::printf("free-async-last %d\n", static_cast<int>(r));
  } else if (verb == "sync") {
    std::printf("sync %d\n", static_cast<int>(cuCtxSynchronize()));
  } else if (verb == "heap" || verb == "stack") {
    const CUresult r = cuCtxSetLimit(
        verb == "heap" ? CU_LIMIT_MALLOC_HEAP_SIZE : CU_LIMIT_STACK_SIZE, Number(arg));
    std::printf("%s %d\n", verb.c_str(), static_cast<int>(r));
  } else if (verb == "mipmap") {
    const size_t x = arg.find('x'), c = arg.find(':');
    CUDA_ARRAY3D_DESCRIPTOR desc = {};
    desc.Width = Number(arg.substr(0, x));
    desc.Height = Number(arg.substr(x + 1, c - x - 1));
    desc.Format = CU_AD_FORMAT_FLOAT;
    desc.NumChannels = 4;
    CUmipmappedArray mipmap = nullptr;
    const CUresult r =
        cuMipmappedArrayCreate(&mipmap, &desc, static_cast<unsigned>(Number(arg.substr(c + 1))));
    if (r == CUDA_SUCCESS) mipmaps.push_back(mipmap);
    std::printf("mipmap %d\n", static_cast<int>(r));
  } else if (verb == "mipmap-destroy") {
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    if (!mipmaps.empty()) {
      r = cuMipmappedArrayDestroy(mipmaps.back());
      mipmaps.pop_back();
    }
    std::printf("mipmap-destroy %d\n", static_cast<int>(r));
  } else if (verb == "graph-mem") {
    CUgraph graph = nullptr;
    CUgraphExec exec = nullptr;
    CUgraphNode alloc_node = nullptr, free_node = nullptr;
    CUDA_MEM_ALLOC_NODE_PARAMS params = {};
    params.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    params.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    params.poolProps.location.id = 0;
    params.bytesize = Number(arg);
    CUresult r = cuGraphCreate(&graph, 0);
    if (r == CUDA_SUCCESS) r = cuGraphAddMemAllocNode(&alloc_node, graph, nullptr, 0, &params);
    if (r == CUDA_SUCCESS)
      r = cuGraphAddMemFreeNode(&free_node, graph, &alloc_node, 1, params.dptr);
    if (r == CUDA_SUCCESS) r = cuGraphInstantiate(&exec, graph, 0);
    if (r == CUDA_SUCCESS) r = cuGraphLaunch(exec, nullptr);
    if (r == CUDA_SUCCESS) r = cuCtxSynchronize();
    std::printf("graph-mem %d\n", static_cast<int>(r));
  } else if (verb == "graph-trim") {
    std::printf("graph-trim %d\n", static_cast<int>(cuDeviceGraphMemTrim(0)));
  } else if (verb == "array") {
    const size_t x = arg.find('x');
    CUDA_ARRAY_DESCRIPTOR desc = {};
    desc.Width = Number(arg.substr(0, x));
    desc.Height = Number(arg.substr(x + 1));
    desc.Format = CU_AD_FORMAT_FLOAT;
    desc.NumChannels = 4;
    CUarray array = nullptr;
    const CUresult r = cuArrayCreate(&array, &desc);
    if (r == CUDA_SUCCESS) arrays.push_back(array);
    std::printf("array %d\n", static_cast<int>(r));
  } else if (verb == "array-destroy") {
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    if (!arrays.empty()) {
      r = cuArrayDestroy(arrays.back());
      arrays.pop_back();
    }
    std::printf("array-destroy %d\n", static_cast<int>(r));
  } else if (verb == "free-last") {
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    if (!allocations.empty()) {
      r = cuMemFree(allocations.back());
      allocations.pop_back();
    }
    std::printf("free-last %d\n", static_cast<int>(r));
  } else if (verb == "free-foreign") {
    // Allocated straight from the driver's own symbol, which libvgpu never sees.
    void* driver = dlopen("libcuda.so.1", RTLD_NOW);
    using RealDlsym = void* (*)(void*, const char*);
    auto real_dlsym = reinterpret_cast<RealDlsym>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34"));
    if (real_dlsym == nullptr)
      real_dlsym = reinterpret_cast<RealDlsym>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5"));
    auto raw = reinterpret_cast<AllocFn>(real_dlsym(driver, "cuMemAlloc_v2"));
    CUresult r = raw(&p, 1 << 20);
    if (r == CUDA_SUCCESS) r = cuMemFree(p);
    std::printf("free-foreign %d\n", static_cast<int>(r));
  } else if (verb == "fill") {
    int count = 0;
    CUresult r = CUDA_SUCCESS;
    while ((r = cuMemAlloc(&p, 64ull << 20)) == CUDA_SUCCESS) {
      allocations.push_back(p);
      ++count;
    }
    std::printf("fill %d %d\n", count, static_cast<int>(r));
  } else if (verb == "info") {
    size_t free = 0, total = 0;
    const CUresult r = cuMemGetInfo(&free, &total);
    std::printf("info %d %zu %zu\n", static_cast<int>(r), free, total);
  } else if (verb == "total") {
    size_t total = 0;
    const CUresult r = cuDeviceTotalMem(&total, 0);
    std::printf("total %d %zu\n", static_cast<int>(r), total);
  } else if (verb == "nvml") {
    void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    using Init = int (*)();
    using Handle = int (*)(unsigned int, void**);
    struct Memory {
      unsigned long long total, free, used;
    };
    using Info = int (*)(void*, Memory*);
    auto init = reinterpret_cast<Init>(nvml ? dlsym(nvml, "nvmlInit_v2") : nullptr);
    auto handle =
        reinterpret_cast<Handle>(nvml ? dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2") : nullptr);
    auto info = reinterpret_cast<Info>(nvml ? dlsym(nvml, "nvmlDeviceGetMemoryInfo") : nullptr);
    void* device = nullptr;
    Memory memory = {};
    int r = init && handle && info ? init() : -1;
    if (r == 0) r = handle(0, &device);
    if (r == 0) r = info(device, &memory);
    std::printf("nvml %d %llu %llu %llu\n", r, memory.total, memory.free, memory.used);
  } else if (verb == "procs") {
    struct Info {
      unsigned int pid;
      unsigned long long used;
      unsigned int gi, ci;
    };
    void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    using Init = int (*)();
    using Handle = int (*)(unsigned int, void**);
    using List = int (*)(void*, unsigned int*, Info*);
    auto init = reinterpret_cast<Init>(nvml ? dlsym(nvml, "nvmlInit_v2") : nullptr);
    auto handle =
        reinterpret_cast<Handle>(nvml ? dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2") : nullptr);
    auto list = reinterpret_cast<List>(nvml ? dlsym(nvml, "nvmlDeviceGetComputeRunningProcesses_v3")
                                            : nullptr);
    void* device = nullptr;
    int r = init && handle && list ? init() : -1;
    if (r == 0) r = handle(0, &device);
    unsigned int count = 0;
    std::vector<Info> infos;
    if (r == 0) {
      r = list(device, &count, nullptr);  // 7 (INSUFFICIENT_SIZE) with the count, or 0 for none
      if (r == 7) {
        infos.resize(count);
        r = list(device, &count, infos.data());
      }
    }
    std::printf("procs %d %u", r, count);
    for (unsigned int i = 0; i < count && i < infos.size(); ++i) std::printf(" %u", infos[i].pid);
    std::printf("\n");
  } else if (verb == "pid") {
    std::printf("pid %d\n", static_cast<int>(getpid()));
  } else if (verb == "hold") {
    usleep(static_cast<useconds_t>(Number(arg) * 1000));
    std::printf("hold 0\n");
  } else if (verb == "launch") {
    CUmodule module = nullptr;
    CUfunction function = nullptr;
    CUresult r = cuModuleLoadData(&module, "fake");
    if (r == CUDA_SUCCESS) r = cuModuleGetFunction(&function, module, "kernel");
    for (unsigned long long i = 0; r == CUDA_SUCCESS && i < Number(arg); ++i) {
      r = cuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr);
    }
    std::printf("launch %d\n", static_cast<int>(r));
  } else if (verb == "saturate") {
    const size_t a = arg.find(':');
    const size_t b = arg.find(':', a == std::string::npos ? a : a + 1);
    const unsigned long long ms = Number(arg.substr(0, a));
    const std::string kernel_us =
        a == std::string::npos ? "1000" : arg.substr(a + 1, b == std::string::npos ? b : b - a - 1);
    const std::string kind = b == std::string::npos ? "kernel" : arg.substr(b + 1);
    CUmodule module = nullptr;
    CUfunction function = nullptr;
    CUgraphExec exec = nullptr;
    CUresult r = cuModuleLoadData(&module, "fake");
    if (r == CUDA_SUCCESS) {
      r = cuModuleGetFunction(&function, module, ("fakegpu_us_" + kernel_us).c_str());
    }
    CUstream stream = nullptr;
    if (r == CUDA_SUCCESS && kind == "graph") {
      CUgraph graph = nullptr;
      r = cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING);
      if (r == CUDA_SUCCESS) r = cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL);
      if (r == CUDA_SUCCESS) {
        r = cuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr);
      }
      if (r == CUDA_SUCCESS) r = cuStreamEndCapture(stream, &graph);
      if (r == CUDA_SUCCESS) r = cuGraphInstantiate(&exec, graph, 0);
    }
    unsigned long long kernels = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (r == CUDA_SUCCESS && std::chrono::steady_clock::now() < end) {
      if (kind == "coop") {
        r = cuLaunchCooperativeKernel(function, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr);
      } else if (kind == "graph") {
        r = cuGraphLaunch(exec, stream);
      } else {
        r = cuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr);
      }
      if (r == CUDA_SUCCESS) r = kind == "graph" ? cuStreamSynchronize(stream) : cuCtxSynchronize();
      if (r == CUDA_SUCCESS) ++kernels;
    }
    std::printf("saturate %d %llu\n", static_cast<int>(r), kernels);
  } else if (verb == "proc") {
    const size_t a = arg.find(':'), b = arg.rfind(':');
    void* fn = nullptr;
    CUdriverProcAddressQueryResult status;
    const CUresult r = cuGetProcAddress_v2(arg.substr(0, a).c_str(), &fn,
                                           static_cast<int>(Number(arg.substr(a + 1, b - a - 1))),
                                           Number(arg.substr(b + 1)), &status);
    Dl_info info = {};
    const char* file =
        fn != nullptr && dladdr(fn, &info) != 0 && info.dli_fname ? info.dli_fname : "-";
    const char* slash = std::strrchr(file, '/');
    const char* symbol = fn != nullptr && info.dli_sname != nullptr ? info.dli_sname : "-";
    std::printf("proc %d %s %s\n", static_cast<int>(r), slash ? slash + 1 : file, symbol);
  } else if (verb == "fork-alloc") {
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {
      // A child cannot use its parent's context: it initialises and makes its own.
      CUcontext ctx = nullptr;
      CUresult r = cuInit(0);
      if (r == CUDA_SUCCESS) r = cuDevicePrimaryCtxRetain(&ctx, 0);
      if (r == CUDA_SUCCESS) r = cuCtxSetCurrent(ctx);
      if (r == CUDA_SUCCESS) r = cuMemAlloc(&p, Number(arg));
      std::printf("child-alloc %d\n", static_cast<int>(r));
      std::fflush(stdout);
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    std::printf("fork-alloc %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  } else {
    std::printf("%s unknown\n", verb.c_str());
    return 2;
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (Run(argv[i]) != 0) return 2;
  }
  return 0;
}
