// Wall-clock time as the wire formats use it (unix seconds: vgpu-time, bind-time, locks).
#pragma once

#include <chrono>
#include <cstdint>

namespace hami {

inline int64_t UnixNowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace hami
