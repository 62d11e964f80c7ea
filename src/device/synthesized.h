// Helpers for vendors whose devices HAMi synthesises from a node's extended-resource capacity
// (Cambricon MLU, Moore Threads, Enflame GCU) instead of reading a device plugin's
// registration, and whose pod annotations carry the device index HAMi gave those devices.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "device/vendor.h"

namespace hami {

// Upper bound on the devices one node may synthesise for one vendor: HAMi loops up to the
// capacity without a bound, so a forged capacity ("1e9") would make it build a billion
// devices; no accelerator node has more than a few dozen.
inline constexpr int64_t kMaxSynthesizedDevices = 1024;

// `name`'s value in the node's status.capacity as a whole quantity (HAMi's
// Capacity.Name(...).AsInt64()). nullopt when the node does not list it.
// Failure: InvalidArgument naming the resource when the value is not a whole quantity or is
// negative (HAMi reads such a value as 0 and silently drops the node's devices).
Result<std::optional<int64_t>> CapacityAmount(const NodeFacts& node, const std::string& name);

// How HAMi synthesises one vendor's cards from node capacity: one card per started
// `per_card` of capacity `count_resource` (value C), each "<node><id_infix><i>", index i,
// the given count, devcore and type, healthy, and devmem = (capacity `memory_resource`, all
// cards together) * memory_unit_mib * per_card / C MiB, or fixed_devmem_mib when
// memory_resource is empty.
struct CapacityCards {
  std::string count_resource;
  int64_t per_card = 1;
  std::string memory_resource;
  int64_t memory_unit_mib = 1;
  int32_t fixed_devmem_mib = 0;
  std::string id_infix;
  int32_t count = 0;
  int32_t devcore = 0;
  std::string type;
};

// The cards `spec` describes on `node`.
// Failure: NotFound when count_resource is absent or 0 (HAMi: "device not found");
// InvalidArgument naming the resource for a value that is not a whole non-negative quantity,
// more than kMaxSynthesizedDevices cards, or a per-card memory beyond int32 (HAMi wraps it).
Result<std::vector<DeviceInfo>> SynthesizeFromCapacity(const NodeFacts& node,
                                                       const CapacityCards& spec);

// The device index at the end of an ID HAMi synthesises as "<prefix>-<index>" (e.g.
// "node-a-cambricon-mlu-2" -> 2), for the index lists vendors write on the pod. nullopt when
// the ID does not end in "-<digits>" or the number is beyond int32.
std::optional<int32_t> SynthesizedIndex(std::string_view id);

}  // namespace hami
