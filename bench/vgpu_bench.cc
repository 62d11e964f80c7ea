// What libvgpu.so adds to the driver calls it intercepts: nanoseconds per cuLaunchKernel and per
// cuMemAlloc + cuMemFree through libvgpu's hooks, against calling the (fake) driver directly, in
// the same process and run. No compute limit is set, so the launch hook's cost is its whole
// fast path (target: <= 20 ns added per launch). The memory pair includes the cross-process
// charge that makes the limit exact (target: <= 1 us added per pair; issue 14).
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "vgpu/shared_region.h"

#if defined(HAMI_FAKE_CUDA_PATH) && defined(HAMI_LIBVGPU_PATH)
#include <cuda.h>

namespace {

using LaunchFn = CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                              unsigned, unsigned, CUstream, void**, void**);
using AllocFn = CUresult (*)(CUdeviceptr*, size_t);
using FreeFn = CUresult (*)(CUdeviceptr);

struct Driver {
  LaunchFn launch = nullptr;
  AllocFn alloc = nullptr;
  FreeFn free = nullptr;
};

struct Setup {
  Driver direct, hooked;
  CUfunction function = nullptr;
  bool ok = false;

  Setup() {
    const std::string dir = "/tmp/hami_vgpu_bench_" + std::to_string(getpid());
    std::string mkdir = "mkdir -p " + dir;
    if (std::system(mkdir.c_str()) != 0) return;
    setenv("FAKEGPU_STATE", (dir + "/fakegpu.state").c_str(), 1);
    setenv("FAKEGPU_KERNEL_US", "0", 1);
    setenv("FAKEGPU_WAVE_US", "0", 1);  // kernels take no device time: frees never wait
    setenv("FAKEGPU_CTX_OVERHEAD", "0", 1);
    setenv("CUDA_DEVICE_MEMORY_SHARED_CACHE", (dir + "/region.cache").c_str(), 1);
    setenv("CUDA_DEVICE_MEMORY_LIMIT", "8g", 1);
    // The fake first, by path: libvgpu's dlopen("libcuda.so.1") then finds it by soname.
    void* fake = dlopen(HAMI_FAKE_CUDA_PATH, RTLD_NOW | RTLD_GLOBAL);
    void* vgpu = dlopen(HAMI_LIBVGPU_PATH, RTLD_NOW | RTLD_LOCAL);
    if (fake == nullptr || vgpu == nullptr) return;
    auto bind = [](void* lib, Driver* d) {
      d->launch = reinterpret_cast<LaunchFn>(dlsym(lib, "cuLaunchKernel"));
      d->alloc = reinterpret_cast<AllocFn>(dlsym(lib, "cuMemAlloc_v2"));
      d->free = reinterpret_cast<FreeFn>(dlsym(lib, "cuMemFree_v2"));
    };
    bind(fake, &direct);
    bind(vgpu, &hooked);
    using Init = CUresult (*)(unsigned);
    using Retain = CUresult (*)(CUcontext*, CUdevice);
    using SetCurrent = CUresult (*)(CUcontext);
    using Load = CUresult (*)(CUmodule*, const void*);
    using GetFunction = CUresult (*)(CUfunction*, CUmodule, const char*);
    CUcontext ctx = nullptr;
    CUmodule module = nullptr;
    ok =
        reinterpret_cast<Init>(dlsym(vgpu, "cuInit"))(0) == CUDA_SUCCESS &&
        reinterpret_cast<Retain>(dlsym(fake, "cuDevicePrimaryCtxRetain"))(&ctx, 0) ==
            CUDA_SUCCESS &&
        reinterpret_cast<SetCurrent>(dlsym(fake, "cuCtxSetCurrent"))(ctx) == CUDA_SUCCESS &&
        reinterpret_cast<Load>(dlsym(fake, "cuModuleLoadData"))(&module, "bench") == CUDA_SUCCESS &&
        reinterpret_cast<GetFunction>(dlsym(fake, "cuModuleGetFunction"))(&function, module, "k") ==
            CUDA_SUCCESS;
  }
};

Setup& Get() {
  static Setup setup;
  return setup;
}

void Launch(benchmark::State& state, bool through_libvgpu) {
  Setup& s = Get();
  if (!s.ok) {
    state.SkipWithError("fake driver or libvgpu did not load");
    return;
  }
  const LaunchFn launch = through_libvgpu ? s.hooked.launch : s.direct.launch;
  for (auto _ : state) {
    benchmark::DoNotOptimize(launch(s.function, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr));
  }
}

void AllocFree(benchmark::State& state, bool through_libvgpu) {
  Setup& s = Get();
  if (!s.ok) {
    state.SkipWithError("fake driver or libvgpu did not load");
    return;
  }
  const Driver& d = through_libvgpu ? s.hooked : s.direct;
  for (auto _ : state) {
    CUdeviceptr p = 0;
    benchmark::DoNotOptimize(d.alloc(&p, 1 << 20));
    benchmark::DoNotOptimize(d.free(p));
  }
}

// The region's charge + uncharge alone (what each allocate + free pair adds), with the lock a
// region created today has (the sidecar's robust mutex) and with the record lock a region made
// without the sidecar keeps (two fcntl() calls per lock), in the same run.
void RegionChargePair(benchmark::State& state, bool record_lock) {
  const std::string path =
      "/tmp/hami_vgpu_bench_region_" + std::to_string(getpid()) + (record_lock ? "_fcntl" : "");
  hami::vgpu::RegionInit init;
  init.memory_limit_bytes[0] = 8ull << 30;
  { auto created = hami::vgpu::SharedRegion::Open(path, init); }
  if (record_lock) ::unlink(hami::vgpu::RegionMutex::PathFor(path).c_str());
  auto opened = hami::vgpu::SharedRegion::Open(path, init);
  if (!opened.ok() || opened.value()->uses_fast_lock() == record_lock) {
    state.SkipWithError("region did not open with the lock asked for");
    return;
  }
  hami::vgpu::SharedRegion& region = *opened.value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(region.TryCharge(0, 1 << 20, hami::vgpu::ChargeKind::kData).ok());
    benchmark::DoNotOptimize(region.Uncharge(0, 1 << 20, hami::vgpu::ChargeKind::kData).ok());
  }
  ::unlink(path.c_str());
  ::unlink(hami::vgpu::RegionMutex::PathFor(path).c_str());
}

BENCHMARK_CAPTURE(RegionChargePair, robust_mutex, false);
BENCHMARK_CAPTURE(RegionChargePair, record_lock, true);
BENCHMARK_CAPTURE(Launch, direct, false);
BENCHMARK_CAPTURE(Launch, libvgpu, true);
BENCHMARK_CAPTURE(AllocFree, direct, false);
BENCHMARK_CAPTURE(AllocFree, libvgpu, true);

}  // namespace

#endif

BENCHMARK_MAIN();
