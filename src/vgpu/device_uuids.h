// Which GPUs libvgpu records in the shared region (device_num and uuids[]), and in which order.
//
// HAMi's monitor matches a container's region to the node's GPUs by the UUIDs recorded there,
// and reads limit[i] / usage of device i against uuids[i]. Limits are indexed by the CUDA
// ordinal the application sees (CUDA_DEVICE_MEMORY_LIMIT_<i>), so uuids[] must be too. NVML
// numbers GPUs in PCI order while CUDA may not (CUDA_DEVICE_ORDER, CUDA_VISIBLE_DEVICES), so
// NVML's list is put in CUDA's order when CUDA is initialised in the process; otherwise (an
// NVML-only tool such as nvidia-smi) NVML's order is the best guess, which is also the order
// the device plugin lists a container's GPUs in.
//
// Pure and thread-compatible.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace hami::vgpu {

struct RegionDevices {
  std::vector<std::string> uuids;  // by CUDA ordinal (cuda_order) or NVML index; at most 16
  bool cuda_order = false;         // true: indexed by CUDA ordinal, authoritative
};

// nvml_uuids[i]: NVML's UUID text ("GPU-...") of NVML device i ("" if NVML could not say).
// cuda_ordinals[i]: the CUDA ordinal whose UUID equals nvml_uuids[i], or -1 (missing entries
// count as -1). cuda_count: the number of devices CUDA sees, or <= 0 when CUDA is not
// initialised in this process.
// Returns the UUIDs by CUDA ordinal when every CUDA ordinal 0..cuda_count-1 was found among
// NVML's devices (an NVML device CUDA does not see is left out; a second NVML device claiming
// an ordinal already taken is ignored); otherwise NVML's list as given (cuda_order false).
// Either list is cut to kMaxDevices (16) entries, what the region holds.
RegionDevices DevicesByCudaOrdinal(std::span<const std::string> nvml_uuids,
                                   std::span<const int> cuda_ordinals, int cuda_count);

}  // namespace hami::vgpu
