#include "vgpu/device_uuids.h"

#include <cstddef>
#include <utility>

#include "vgpu/env.h"

namespace hami::vgpu {

RegionDevices DevicesByCudaOrdinal(std::span<const std::string> nvml_uuids,
                                   std::span<const int> cuda_ordinals, int cuda_count) {
  RegionDevices out;
  if (cuda_count > 0) {
    std::vector<std::string> by_ordinal(static_cast<size_t>(cuda_count));
    std::vector<bool> found(static_cast<size_t>(cuda_count), false);
    for (size_t i = 0; i < nvml_uuids.size() && i < cuda_ordinals.size(); ++i) {
      const int ordinal = cuda_ordinals[i];
      if (ordinal < 0 || ordinal >= cuda_count || nvml_uuids[i].empty()) continue;
      const auto at = static_cast<size_t>(ordinal);
      if (found[at]) continue;
      found[at] = true;
      by_ordinal[at] = nvml_uuids[i];
    }
    bool complete = true;
    for (bool f : found) complete = complete && f;
    if (complete) {
      out.uuids = std::move(by_ordinal);
      out.cuda_order = true;
    }
  }
  if (!out.cuda_order) out.uuids.assign(nvml_uuids.begin(), nvml_uuids.end());
  if (out.uuids.size() > static_cast<size_t>(kMaxDevices)) {
    out.uuids.resize(static_cast<size_t>(kMaxDevices));
  }
  return out;
}

}  // namespace hami::vgpu
