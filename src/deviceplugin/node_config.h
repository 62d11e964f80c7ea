// The device plugin's per-node configuration (HAMi's ConfigMap `nodeConfiguration`, mounted as
// /config/config.json): {"nodeconfig":[{"name":"<node>", "devicesplitcount":10, ...}]}. The
// entry whose name is this node overrides the flags. Keys HAMi defines are type-checked, a
// wrong type is an error naming the key; keys we do not know are ignored, as HAMi's Go decoder
// does, so one ConfigMap serves both.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"
#include "deviceplugin/allocate.h"
#include "deviceplugin/discovery.h"

namespace hami::deviceplugin {

struct NodeOverrides {
  std::optional<std::string> operating_mode;  // hami-core | mig | mps
  std::optional<int32_t> split_count;
  std::optional<double> memory_scaling;
  std::optional<double> core_scaling;
  std::optional<int32_t> preconfigured_memory_mib;
  std::optional<bool> numa_topology;
  std::optional<std::string> libcuda_log_level;
  std::set<std::string> exclude_uuids;
  std::set<uint32_t> exclude_indexes;
};

// The overrides for `node`, nullopt when the file has no entry for it. Failure
// (InvalidArgument): not JSON, "nodeconfig" not an array, a value of the wrong type or out of
// range (split count 1..1000, scalings > 0, mode not one of the three).
Result<std::optional<NodeOverrides>> ParseNodeConfig(std::string_view json, std::string_view node);

// Applies overrides on top of the flag values.
void ApplyNodeOverrides(const NodeOverrides& overrides, DiscoveryOptions& discovery,
                        AllocateSettings& allocate, bool& numa_topology);

}  // namespace hami::deviceplugin
