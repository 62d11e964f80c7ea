// Internal to hami_vgpu: how the shared region's fields are read and written. Other processes
// write the mapping concurrently, so every access goes through std::atomic_ref.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

#include "vgpu/region_layout.h"

namespace hami::vgpu::internal {

// Shared-memory fields are accessed only through atomic_ref: other processes write them.
template <typename T>
T Ld(const T& field, std::memory_order order = std::memory_order_acquire) {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(order);
}
template <typename T>
void St(T& field, T value, std::memory_order order = std::memory_order_release) {
  std::atomic_ref<T>(field).store(value, order);
}

inline bool ValidDev(int dev) { return dev >= 0 && dev < layout::kMaxDevices; }
inline bool ValidKind(layout::ChargeKind kind) {
  int k = static_cast<int>(kind);
  return k >= 0 && k <= 2;
}

// proc_num as a loop bound: never trusted beyond [0, kMaxProcs].
inline int ClampedProcNum(const layout::Region& r) {
  int32_t n = Ld(r.proc_num);
  if (n < 0) return 0;
  return n > layout::kMaxProcs ? layout::kMaxProcs : n;
}

inline uint64_t NormalizedSm(uint64_t percent) {
  return (percent == 0 || percent >= 100) ? 100 : percent;
}

inline uint64_t NowSeconds() { return static_cast<uint64_t>(::time(nullptr)); }

inline unsigned long long Ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace hami::vgpu::internal
