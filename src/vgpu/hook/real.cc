#include "vgpu/hook/real.h"

#include <dlfcn.h>
#include <pthread.h>

#include <initializer_list>

namespace hami::vgpu::hook {
namespace {

DlsymFn real_dlsym = nullptr;
void* cuda_library = nullptr;
void* nvml_library = nullptr;
pthread_once_t dlsym_once = PTHREAD_ONCE_INIT;
pthread_once_t cuda_once = PTHREAD_ONCE_INIT;
pthread_once_t nvml_once = PTHREAD_ONCE_INIT;

void FindRealDlsym() {
  // glibc 2.34 moved dlsym into libc under a new version; older ones have GLIBC_2.2.5
  // (x86-64) or GLIBC_2.17 (aarch64).
  for (const char* version : {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17"}) {
    if (void* p = dlvsym(RTLD_NEXT, "dlsym", version)) {
      real_dlsym = reinterpret_cast<DlsymFn>(p);
      return;
    }
  }
}

thread_local bool opening = false;

void OpenCuda() {
  opening = true;
  cuda_library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NODELETE);
  opening = false;
}
void OpenNvml() {
  opening = true;
  nvml_library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_NODELETE);
  opening = false;
}

}  // namespace

bool OpeningRealLibrary() { return opening; }

DlsymFn RealDlsym() {
  pthread_once(&dlsym_once, FindRealDlsym);
  return real_dlsym;
}

void* CudaLibrary() {
  pthread_once(&cuda_once, OpenCuda);
  return cuda_library;
}

void* NvmlLibrary() {
  pthread_once(&nvml_once, OpenNvml);
  return nvml_library;
}

void* RealCuda(const char* name) {
  void* library = CudaLibrary();
  DlsymFn dlsym_fn = RealDlsym();
  return library != nullptr && dlsym_fn != nullptr ? dlsym_fn(library, name) : nullptr;
}

void* RealNvml(const char* name) {
  void* library = NvmlLibrary();
  DlsymFn dlsym_fn = RealDlsym();
  return library != nullptr && dlsym_fn != nullptr ? dlsym_fn(library, name) : nullptr;
}

}  // namespace hami::vgpu::hook
