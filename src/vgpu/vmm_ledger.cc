#include "vgpu/vmm_ledger.h"

namespace hami::vgpu {

void VmmLedger::Created(uint64_t handle, int device, uint64_t bytes) {
  handles_[handle] = Handle{device, bytes, 0, false};
}

DeviceBytes VmmLedger::Released(uint64_t handle) {
  auto it = handles_.find(handle);
  if (it == handles_.end()) return {};
  if (it->second.mappings > 0) {
    it->second.released = true;
    return {};
  }
  const DeviceBytes freed{it->second.device, it->second.bytes};
  handles_.erase(it);
  return freed;
}

void VmmLedger::Mapped(uint64_t va, uint64_t size, uint64_t handle) {
  auto it = handles_.find(handle);
  if (it == handles_.end()) return;
  ++it->second.mappings;
  mappings_[va] = Mapping{size, handle};
}

std::vector<DeviceBytes> VmmLedger::Unmapped(uint64_t va, uint64_t size) {
  std::vector<DeviceBytes> freed;
  const uint64_t end = size > UINT64_MAX - va ? UINT64_MAX : va + size;
  for (auto m = mappings_.lower_bound(va); m != mappings_.end() && m->first < end;) {
    auto h = handles_.find(m->second.handle);
    if (h != handles_.end() && h->second.mappings > 0 && --h->second.mappings == 0 &&
        h->second.released) {
      freed.push_back({h->second.device, h->second.bytes});
      handles_.erase(h);
    }
    m = mappings_.erase(m);
  }
  return freed;
}

uint64_t VmmLedger::charged_bytes(int device) const {
  uint64_t sum = 0;
  for (const auto& [handle, h] : handles_) {
    if (h.device == device) sum += h.bytes;
  }
  return sum;
}

}  // namespace hami::vgpu
