// The real driver and NVML behind the hooks.
//
// libvgpu is loaded before everything else, so its exports shadow the driver's. Every hook
// forwards to the function the real libcuda.so.1 / libnvidia-ml.so.1 define under the same
// versioned name, resolved with glibc's dlsym (ours is an override, see dlsym.cc). Resolution never
// fails loudly: a missing library or symbol gives nullptr and the hook answers
// CUDA_ERROR_NOT_SUPPORTED / NVML_ERROR_FUNCTION_NOT_FOUND rather than crashing.
// Thread-safe: handles are opened once (pthread_once); lookups are read-only afterwards.
#pragma once

namespace hami::vgpu::hook {

using DlsymFn = void* (*)(void*, const char*);

// glibc's dlsym (found with dlvsym, so our override is bypassed), or nullptr. glibc resolves
// RTLD_NEXT and RTLD_DEFAULT relative to the object its return address lies in: called from here
// that object is libvgpu, which is why the exported dlsym (dlsym.cc) is an assembly entry that
// jumps to the function this returns, its caller's return address intact, rather than calling
// it. Code in libvgpu passes it only library handles (and RTLD_DEFAULT for hooked names).
DlsymFn RealDlsym();

// The real libraries, opened once with RTLD_NOW | RTLD_NODELETE; nullptr when absent.
void* CudaLibrary();
void* NvmlLibrary();

// True on a thread that is inside our dlopen of the real driver or NVML (whose constructors may
// call dlsym: the override then forwards without looking at hooks, which would re-enter the
// open).
bool OpeningRealLibrary();

// The real driver's / NVML's definition of `name`, or nullptr.
void* RealCuda(const char* name);
void* RealNvml(const char* name);

// The real function of type F, resolved on first use and cached in `slot` (one slot per hook:
// a relaxed atomic load on the hot path).
template <typename F>
F Real(void* volatile* slot, const char* name, void* (*resolve)(const char*)) {
  void* p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (p == nullptr) {
    p = resolve(name);
    __atomic_store_n(slot, p, __ATOMIC_RELEASE);
  }
  return reinterpret_cast<F>(p);
}

}  // namespace hami::vgpu::hook
