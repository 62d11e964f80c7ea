// dlsym_probe: asks dlsym for driver functions through every kind of handle, for libvgpu's dlsym
// tests (tests/vgpu/dlsym_test.cc). It runs with LD_PRELOAD=libvgpu.so and the fake driver on
// LD_LIBRARY_PATH; argv[1] is a copy of the fake libcuda.so.1 under another name.
// Each lookup prints one line "<what> <file defining the result, or -> <symbol, or ->":
//   driver         dlsym(dlopen("libcuda.so.1"), "cuMemAlloc_v2")
//   nvml           dlsym(dlopen("libnvidia-ml.so.1"), "nvmlDeviceGetMemoryInfo")
//   copy           dlsym(dlopen(argv[1]), "cuMemAlloc_v2")
//   copy-unhooked  dlsym(dlopen(argv[1]), "cuCtxSetCurrent")
//   copy-missing   dlsym(dlopen(argv[1]), "cuNoSuchFunction")
//   default        dlsym(RTLD_DEFAULT, "cuMemAlloc_v2")
//   default-missing dlsym(RTLD_DEFAULT, "cuNoSuchFunction")
//   next           dlsym(RTLD_NEXT, "cuMemAlloc_v2") from this program
//   next-puts      dlsym(RTLD_NEXT, "puts") from this program
// Exits 2 when a library cannot be opened.
#include <dlfcn.h>

#include <cstdio>

namespace {

void Print(const char* what, void* found) {
  Dl_info info = {};
  const bool known = found != nullptr && dladdr(found, &info) != 0;
  std::printf("%s %s %s\n", what, known && info.dli_fname ? info.dli_fname : "-",
              known && info.dli_sname ? info.dli_sname : "-");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: dlsym_probe <copy of libcuda.so.1>\n");
    return 2;
  }
  // The driver first: the copy has the same SONAME, and a later dlopen("libcuda.so.1") (ours or
  // libvgpu's) would otherwise match the copy by that name.
  void* driver = dlopen("libcuda.so.1", RTLD_NOW);
  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  void* copy = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (driver == nullptr || nvml == nullptr || copy == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  Print("driver", dlsym(driver, "cuMemAlloc_v2"));
  Print("nvml", dlsym(nvml, "nvmlDeviceGetMemoryInfo"));
  Print("copy", dlsym(copy, "cuMemAlloc_v2"));
  Print("copy-unhooked", dlsym(copy, "cuCtxSetCurrent"));
  Print("copy-missing", dlsym(copy, "cuNoSuchFunction"));
  Print("default", dlsym(RTLD_DEFAULT, "cuMemAlloc_v2"));
  Print("default-missing", dlsym(RTLD_DEFAULT, "cuNoSuchFunction"));
  Print("next", dlsym(RTLD_NEXT, "cuMemAlloc_v2"));
  Print("next-puts", dlsym(RTLD_NEXT, "puts"));
  return 0;
}
