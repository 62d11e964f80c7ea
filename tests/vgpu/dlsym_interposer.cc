// libdlsym_interposer.so: a standard LD_PRELOAD interposer, as profilers and tracing tools write
// them, for libvgpu's dlsym tests. It wraps cuCtxSetCurrent (which libvgpu does not
// hook) and cuMemAlloc_v2 (which it does), and each wrapper reaches the next definition with
// dlsym(RTLD_NEXT, name). Every call prints "dlsym_interposer <name> <count>" on stderr.
//
// Loaded after libvgpu (LD_PRELOAD="libvgpu.so libdlsym_interposer.so"), the lookup goes through
// libvgpu's dlsym; if that resolved RTLD_NEXT relative to libvgpu instead of this library, "next"
// would be this wrapper again and the call would recurse until the stack overflowed. The wrapper
// checks for exactly that and aborts with a message instead.
#include <cuda.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace {

std::atomic<int> set_current_calls{0};
std::atomic<int> alloc_calls{0};

// The next definition of `name` after this library; aborts when it is in this library.
void* Next(const char* name, std::atomic<int>* calls) {
  std::fprintf(stderr, "dlsym_interposer %s %d\n", name, ++*calls);
  void* next = dlsym(RTLD_NEXT, name);
  Dl_info found = {}, self = {};
  if (next != nullptr && dladdr(next, &found) != 0 &&
      dladdr(reinterpret_cast<void*>(&Next), &self) != 0 && found.dli_fbase == self.dli_fbase) {
    std::fprintf(stderr,
                 "dlsym_interposer: dlsym(RTLD_NEXT, %s) returned this wrapper: recursion\n", name);
    std::abort();
  }
  return next;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CUresult cuCtxSetCurrent(CUcontext ctx) {
  using Fn = CUresult (*)(CUcontext);
  auto next = reinterpret_cast<Fn>(Next("cuCtxSetCurrent", &set_current_calls));
  return next != nullptr ? next(ctx) : CUDA_ERROR_NOT_SUPPORTED;
}

extern "C" __attribute__((visibility("default"))) CUresult cuMemAlloc_v2(CUdeviceptr* dptr,
                                                                         size_t bytesize) {
  using Fn = CUresult (*)(CUdeviceptr*, size_t);
  auto next = reinterpret_cast<Fn>(Next("cuMemAlloc_v2", &alloc_calls));
  return next != nullptr ? next(dptr, bytesize) : CUDA_ERROR_NOT_SUPPORTED;
}
