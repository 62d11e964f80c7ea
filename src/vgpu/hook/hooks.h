// The table of interposed entry points: which names libvgpu answers for itself, so that the
// dlsym override and cuGetProcAddress hand out the hook instead of the driver's function.
// Pure lookups over constant tables; thread-safe.
#pragma once

namespace hami::vgpu::hook {

struct HookEntry {
  const char* name;  // the exact (versioned) exported name, e.g. "cuMemAlloc_v2"
  void* hook;        // our function of that name
};

// The hook exported under `name`, or nullptr when libvgpu does not interpose on it.
void* FindHook(const char* name);

// The hook that stands for `real_function` (a pointer the real cuGetProcAddress returned), or
// `real_function` itself when it is not one we interpose on. Because the driver has already
// resolved the caller's name, CUDA version and per-thread-stream flag to one concrete entry
// point, answering with the hook of exactly that entry keeps the caller's ABI.
void* HookForRealFunction(void* real_function);

// The tables (defined next to the hooks; see cuda_hooks.cc, nvml_hooks.cc).
extern const HookEntry kCudaHooks[];
extern const int kCudaHookCount;
extern const HookEntry kNvmlHooks[];
extern const int kNvmlHookCount;

}  // namespace hami::vgpu::hook

#define HAMI_EXPORT extern "C" __attribute__((visibility("default")))
