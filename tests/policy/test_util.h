// Builders shared by the policy tests.
#pragma once

#include <string>

#include "device/device.h"
#include "policy/placement.h"

namespace hami::policy::testing {

inline DeviceUsage Gpu(const std::string& id, int32_t index, int32_t mem_mib = 16384,
                       const std::string& type = "NVIDIA-Tesla T4", int32_t numa = 0) {
  DeviceUsage d;
  d.info.id = id;
  d.info.index = index;
  d.info.count = 10;
  d.info.devmem_mib = mem_mib;
  d.info.devcore = 100;
  d.info.type = type;
  d.info.numa = numa;
  d.info.health = true;
  return d;
}

inline DeviceUsage Used(DeviceUsage d, int32_t tasks, int64_t mem_mib, int32_t cores) {
  d.used = tasks;
  d.used_mem_mib = mem_mib;
  d.used_cores = cores;
  return d;
}

inline ContainerDeviceRequest Req(int32_t count, int32_t mem_mib, int32_t cores,
                                  int32_t percent = kMemoryPercentUnset) {
  ContainerDeviceRequest r;
  r.count = count;
  r.type = "NVIDIA";
  r.memory_mib = mem_mib;
  r.memory_percent = percent;
  r.cores_percent = cores;
  return r;
}

inline PodRequest OnePod(ContainerDeviceRequest r) {
  PodRequest p;
  p.containers.push_back(std::move(r));
  return p;
}

// Selectors of a pod annotated nvidia.com/vgpu-mode: mig (GPUs in MIG mode serve only such pods).
inline DeviceSelectors MigSelectors() {
  DeviceSelectors s;
  s.vgpu_mode = kModeMig;
  return s;
}

inline PodRequest OneMigPod(ContainerDeviceRequest r) {
  PodRequest p = OnePod(std::move(r));
  p.selectors = MigSelectors();
  return p;
}

}  // namespace hami::policy::testing
