// The dlsym override: code that resolves the driver by name (cudart's dlopen + dlsym of
// libcuda.so.1, frameworks that dlsym NVML) gets our hooks.
//
// Why the exported `dlsym` is assembly: glibc resolves RTLD_NEXT ("the next definition after
// the object that called dlsym") and RTLD_DEFAULT's scope from dlsym's return address, so the
// override must reach glibc's dlsym with its caller's return address still in place. A C++
// `return real(handle, name)` does that only when the compiler happens to emit a tail call (not
// at -O0, not always with sanitizers or forced frame pointers); otherwise glibc sees libvgpu as
// the caller, and an interposer loaded after libvgpu that forwards with dlsym(RTLD_NEXT, name)
// gets itself back and recurses forever. GCC 12 has no musttail, so the entry is a few
// instructions (x86-64, aarch64) that ask HamiDlsymTarget which function answers and jump, not
// call, to it; other targets get a C++ fallback with the old limit.
//
// Which function answers:
//  - glibc's dlsym for RTLD_NEXT and for every name we do not hook. RTLD_NEXT is never replaced
//    by a hook: an object ahead of libvgpu (the program, an earlier preload) reaches libvgpu's
//    exported hooks by the ordinary search order; one behind it reaches what is behind it.
//  - For a hooked name through any other handle, our hook only where that handle's own
//    definition of the name is the real driver's (or NVML's) function we wrap: a second copy of
//    the driver opened under another path keeps its own functions. RTLD_DEFAULT (and libvgpu's
//    own handle) find our export first, which stands for the real function when there is one.
#include <dlfcn.h>

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

namespace {

// dlsym for a name libvgpu hooks, through any handle but RTLD_NEXT.
void* DlsymHooked(void* handle, const char* name) {
  void* found = RealDlsym()(handle, name);
  void* hook = FindHook(name);
  // Only for functions the real library has: a caller probing for an entry point must still
  // learn that this driver lacks it (RTLD_DEFAULT's answer, our own export, then means nothing).
  void* wrapped = name[0] == 'c' ? RealCuda(name) : RealNvml(name);
  if (wrapped == nullptr) return found == hook ? nullptr : found;
  return found == wrapped || found == hook ? hook : found;
}

void* NoDlsym(void*, const char*) { return nullptr; }

// See HamiDlsymTarget below.
DlsymFn DlsymTarget(void* handle, const char* name) {
  DlsymFn real = RealDlsym();
  if (real == nullptr) return &NoDlsym;
  if (handle == RTLD_NEXT || OpeningRealLibrary() || FindHook(name) == nullptr) return real;
  return &DlsymHooked;
}

}  // namespace
}  // namespace hami::vgpu::hook

// Which function answers dlsym(handle, name), to be entered with the caller's arguments and
// return address: glibc's dlsym for RTLD_NEXT and for every name we do not hook (so RTLD_NEXT,
// and RTLD_DEFAULT's caller-dependent scope, mean what they mean without libvgpu), DlsymHooked
// otherwise. Never nullptr. extern "C" for a stable name the assembly can call; hidden, and
// local by the version script.
extern "C" __attribute__((visibility("hidden"), used)) hami::vgpu::hook::DlsymFn HamiDlsymTarget(
    void* handle, const char* name) {
  return hami::vgpu::hook::DlsymTarget(handle, name);
}

// The exported dlsym: HamiDlsymTarget(handle, name) picks the function, which is then jumped to
// (not called) with the argument registers restored, so it sees the caller's return address.

#if defined(__x86_64__) && !defined(HAMI_VGPU_PORTABLE_DLSYM)

// On entry %rsp is 8 mod 16; two pushes and an 8-byte pad align it for the call. endbr64 is the
// IBT landing pad (a NOP without CET); glibc's dlsym, and DlsymHooked, whose address is taken,
// start with one under CET, as the indirect jump needs.
__asm__(R"(
  .pushsection .text
  .globl dlsym
  .type dlsym, @function
  .p2align 4
dlsym:
  .cfi_startproc
  endbr64
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  pushq %rsi
  .cfi_adjust_cfa_offset 8
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  call HamiDlsymTarget
  addq $8, %rsp
  .cfi_adjust_cfa_offset -8
  popq %rsi
  .cfi_adjust_cfa_offset -8
  popq %rdi
  .cfi_adjust_cfa_offset -8
  jmp *%rax
  .cfi_endproc
  .size dlsym, .-dlsym
  .popsection
)");

#elif defined(__aarch64__) && !defined(HAMI_VGPU_PORTABLE_DLSYM)

// `hint #34` is `bti c`, the BTI landing pad (a NOP without BTI; spelled as a hint so that
// assemblers without +bti take it). The frame keeps sp 16-aligned, and x30 (the caller's return
// address) is restored before the jump, which goes through x16 as a `bti c` pad requires.
__asm__(R"(
  .pushsection .text
  .globl dlsym
  .type dlsym, %function
  .p2align 4
dlsym:
  .cfi_startproc
  hint #34
  stp x29, x30, [sp, #-32]!
  .cfi_def_cfa_offset 32
  .cfi_offset 29, -32
  .cfi_offset 30, -24
  mov x29, sp
  stp x0, x1, [sp, #16]
  bl HamiDlsymTarget
  mov x16, x0
  ldp x0, x1, [sp, #16]
  ldp x29, x30, [sp], #32
  .cfi_restore 30
  .cfi_restore 29
  .cfi_def_cfa_offset 0
  br x16
  .cfi_endproc
  .size dlsym, .-dlsym
  .popsection
)");

#else

// Portable fallback (also forced with -DHAMI_VGPU_PORTABLE_DLSYM, to compile-test it). Its limit:
// it is right only where the compiler turns the call below into a tail call (optimised builds on
// most targets); otherwise glibc sees libvgpu as the caller, and an interposer loaded after libvgpu
// that asks for RTLD_NEXT gets itself back. Port the assembly entry to the target rather than rely
// on this.
HAMI_EXPORT void* dlsym(void* __restrict handle, const char* __restrict name) noexcept {
  return HamiDlsymTarget(handle, name)(handle, name);
}

#endif
