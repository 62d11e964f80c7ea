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
