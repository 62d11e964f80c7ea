#include "device/synthesized.h"

#include <limits>

#include "common/strings.h"
#include "device/quantity.h"

namespace hami {

Result<std::optional<int64_t>> CapacityAmount(const NodeFacts& node, const std::string& name) {
  auto it = node.capacity.find(name);
  if (name.empty() || it == node.capacity.end()) return std::optional<int64_t>();
  Result<int64_t> value = ParseQuantityInt64(it->second);
  if (!value.ok()) {
    return value.status().WithContext("capacity " + name + " must be a whole number");
  }
  if (*value < 0) {
    return InvalidArgument("capacity " + name + " " + QuoteForError(it->second) + " is negative");
  }
  return std::optional<int64_t>(*value);
}

Result<std::vector<DeviceInfo>> SynthesizeFromCapacity(const NodeFacts& node,
                                                       const CapacityCards& spec) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> total, CapacityAmount(node, spec.count_resource));
  if (!total || *total == 0) return NotFound("node has no " + spec.count_resource + " capacity");
  const int64_t cards = (*total + spec.per_card - 1) / spec.per_card;  // a started one counts
  if (cards > kMaxSynthesizedDevices) {
    return InvalidArgument("capacity " + spec.count_resource + " " + std::to_string(*total) +
                           " means more than " + std::to_string(kMaxSynthesizedDevices) + " cards");
  }
  int64_t devmem = spec.fixed_devmem_mib;
  if (!spec.memory_resource.empty()) {
    HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> memory,
                          CapacityAmount(node, spec.memory_resource));
    // An overflow of the product means far more than int32 MiB per card.
    int64_t product = 0;
    const bool overflow =
        __builtin_mul_overflow(memory.value_or(0), spec.memory_unit_mib * spec.per_card, &product);
    devmem = overflow ? std::numeric_limits<int64_t>::max() : product / *total;
    if (devmem > std::numeric_limits<int32_t>::max()) {
      return InvalidArgument("capacity " + spec.memory_resource +
                             " gives more than int32 MiB per card");
    }
  }
  std::vector<DeviceInfo> devices;
  devices.reserve(static_cast<size_t>(cards));
  for (int32_t i = 0; i < cards; ++i) {
    DeviceInfo d;
    d.id = node.name + spec.id_infix + std::to_string(i);
    d.index = i;
    d.count = spec.count;
    d.devmem_mib = static_cast<int32_t>(devmem);
    d.devcore = spec.devcore;
    d.type = spec.type;
    d.health = true;
    devices.push_back(std::move(d));
  }
  return devices;
}

std::optional<int32_t> SynthesizedIndex(std::string_view id) {
  const size_t dash = id.rfind('-');
  if (dash == std::string_view::npos || dash + 1 == id.size()) return std::nullopt;
  int64_t value = 0;
  for (char c : id.substr(dash + 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > std::numeric_limits<int32_t>::max()) return std::nullopt;
  }
  return static_cast<int32_t>(value);
}

}  // namespace hami
