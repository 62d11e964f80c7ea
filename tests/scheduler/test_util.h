// Builders shared by the scheduler tests.
#pragma once

#include <string>

#include "device/device.h"

namespace hami::scheduler::testing {

// A healthy T4-like device with split count 10 and 100 cores.
inline DeviceInfo TestDevice(const std::string& id, int32_t mem_mib = 16384) {
  DeviceInfo d;
  d.id = id;
  d.count = 10;
  d.devmem_mib = mem_mib;
  d.devcore = 100;
  d.type = "NVIDIA-Tesla T4";
  d.health = true;
  return d;
}

}  // namespace hami::scheduler::testing
