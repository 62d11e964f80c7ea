// The charging pattern every allocation hook shares: charge the container's region before the
// driver allocates (so concurrent processes can never overshoot the limit), undo the charge when
// the driver refuses, remember what was charged under the allocation's key, and release exactly
// that at free. Internal to the hook files.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <type_traits>

#include "vgpu/hook/enforcer.h"
#include "vgpu/hook/real.h"
#include "vgpu/hook/retained.h"

namespace hami::vgpu::hook {

// One cache slot per real entry point.
#define HAMI_REAL(name)                                     \
  ([]() {                                                   \
    static void* volatile slot = nullptr;                   \
    return Real<decltype(&::name)>(&slot, #name, RealCuda); \
  }())
#define HAMI_REAL_AS(type_of, exported)                           \
  ([]() {                                                         \
    static void* volatile slot = nullptr;                         \
    return Real<decltype(&::type_of)>(&slot, exported, RealCuda); \
  }())

using KeySpace = Enforcer::KeySpace;

// Charges `bytes` on `device`, runs `allocate`, and undoes the charge when the driver refuses;
// on success remembers the allocation under `key_of()` in `space`.
template <typename Allocate, typename Key>
CUresult Charged(KeySpace space, int device, uint64_t bytes, Allocate allocate, Key key_of) {
  Enforcer& enforcer = Enforcer::Get();
  if (!enforcer.Charge(device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  const CUresult result = allocate();
  if (result != CUDA_SUCCESS) {
    enforcer.Uncharge(device, bytes);
    return result;
  }
  enforcer.Remember(space, key_of(), Allocation{device, bytes});
  return result;
}

// Frees through `release` what `key` charged. The record is dropped before the driver frees
// (so an address the driver hands out again at once is not confused with this one) and put
// back if the driver refuses. Something we did not allocate is passed through untouched.
template <typename Release>
CUresult Released(KeySpace space, uint64_t key, Release release) {
  Enforcer& enforcer = Enforcer::Get();
  const Allocation allocation = enforcer.Forget(space, key);
  const CUresult result = release();
  if (allocation.device < 0) return result;
  if (result == CUDA_SUCCESS) {
    enforcer.Uncharge(allocation.device, allocation.bytes);
  } else {
    enforcer.Remember(space, key, allocation);
  }
  return result;
}

// A free of device memory through `free_fn` (cuMemFree, cuMemFreeAsync): a plain allocation's
// charge is released (as Released); a pool allocation's stays with its pool's reservation until
// the pool is settled (retained.h); an address libvgpu never saw is passed through.
template <typename Free>
CUresult ReleasedAllocation(CUdeviceptr dptr, Free free_fn) {
  Enforcer& enforcer = Enforcer::Get();
  const Allocation allocation = enforcer.Forget(KeySpace::kAddress, dptr);
  if (allocation.device >= 0) {
    const CUresult result = free_fn();
    if (result == CUDA_SUCCESS) {
      enforcer.Uncharge(allocation.device, allocation.bytes);
    } else {
      enforcer.Remember(KeySpace::kAddress, dptr, allocation);
    }
    return result;
  }
  const uint64_t pool = TakePoolAllocation(dptr);
  const CUresult result = free_fn();
  if (pool != 0) PoolAllocationFreed(dptr, pool, result == CUDA_SUCCESS);
  return result;
}

// A device address or an opaque handle (a pointer type) as a key.
template <typename T>
uint64_t KeyOf(T value) {
  if constexpr (std::is_pointer_v<T>) {
    return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(value));
  } else {
    return static_cast<uint64_t>(value);
  }
}

// Charged() on the current context's device, the allocation's address or handle read through
// `out`; without an `out` or a current context the driver is called uncharged (it says why).
template <typename Allocate, typename Out>
CUresult OnCurrentDevice(KeySpace space, uint64_t bytes, Allocate allocate, Out* out) {
  int device = 0;
  if (out == nullptr || !CurrentDevice(&device)) return allocate();
  return Charged(space, device, bytes, allocate, [out] { return KeyOf(*out); });
}

}  // namespace hami::vgpu::hook
