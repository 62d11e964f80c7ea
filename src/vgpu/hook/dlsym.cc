// The dlsym override: code that resolves the driver by name (cudart's dlopen + dlsym of
// libcuda.so.1, frameworks that dlsym NVML) gets our hooks, whatever handle it passes.
#include <cstring>

#include "vgpu/hook/hooks.h"
#include "vgpu/hook/real.h"

namespace hami::vgpu::hook {
namespace {

bool MaybeHooked(const char* name) {
  return name != nullptr &&
         ((name[0] == 'c' && name[1] == 'u') || std::strncmp(name, "nvml", 4) == 0);
}

}  // namespace

void* FindHook(const char* name) {
  if (!MaybeHooked(name)) return nullptr;
  const bool cuda = name[0] == 'c';
  const HookEntry* table = cuda ? kCudaHooks : kNvmlHooks;
  const int count = cuda ? kCudaHookCount : kNvmlHookCount;
  for (int i = 0; i < count; ++i) {
    if (std::strcmp(table[i].name, name) == 0) return table[i].hook;
  }
  return nullptr;
}

}  // namespace hami::vgpu::hook

using hami::vgpu::hook::FindHook;
using hami::vgpu::hook::RealCuda;
using hami::vgpu::hook::RealDlsym;
using hami::vgpu::hook::RealNvml;

HAMI_EXPORT void* dlsym(void* handle, const char* name) {
  void* hook = hami::vgpu::hook::OpeningRealLibrary() ? nullptr : FindHook(name);
  if (hook != nullptr) {
    // Only for functions the real library has: a caller probing for an entry point must
    // still learn that this driver lacks it.
    const bool present = name[0] == 'c' ? RealCuda(name) != nullptr : RealNvml(name) != nullptr;
    if (present) return hook;
  }
  hami::vgpu::hook::DlsymFn real = RealDlsym();
  // RTLD_NEXT is resolved relative to the caller's object; forwarded from here it means "after
  // libvgpu", which for a name we do not define is the same object the caller would reach.
  return real != nullptr ? real(handle, name) : nullptr;
}
