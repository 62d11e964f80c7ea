#include "deviceplugin/node_config.h"

#include <nlohmann/json.hpp>

namespace hami::deviceplugin {

namespace {

using nlohmann::json;

Status WrongType(const std::string& key, const char* want) {
  return InvalidArgument("node config: \"" + key + "\" must be " + want);
}

}  // namespace

Result<std::optional<NodeOverrides>> ParseNodeConfig(std::string_view text, std::string_view node) {
  const json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return InvalidArgument("node config: not a JSON object");
  }
  auto list = root.find("nodeconfig");
  if (list == root.end()) return std::optional<NodeOverrides>();
  if (!list->is_array()) return WrongType("nodeconfig", "an array");
  for (const json& entry : *list) {
    if (!entry.is_object()) return WrongType("nodeconfig[]", "objects");
    auto name = entry.find("name");
    if (name == entry.end() || !name->is_string() || name->get<std::string>() != node) continue;
    NodeOverrides out;
    for (const auto& [key, value] : entry.items()) {
      if (key == "name") continue;
      if (key == "operatingmode") {
        if (!value.is_string()) return WrongType(key, "a string");
        const std::string mode = value.get<std::string>();
        if (mode != "hami-core" && mode != "mig" && mode != "mps") {
          return InvalidArgument("node config: operatingmode \"" + mode +
                                 "\" is not hami-core, mig or mps");
        }
        out.operating_mode = mode;
      } else if (key == "devicesplitcount") {
        if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 1000) {
          return WrongType(key, "an integer from 1 to 1000");
        }
        out.split_count = value.get<int32_t>();
      } else if (key == "devicememoryscaling" || key == "devicecorescaling") {
        if (!value.is_number() || value.get<double>() <= 0) {
          return WrongType(key, "a number above 0");
        }
        (key == "devicememoryscaling" ? out.memory_scaling : out.core_scaling) =
            value.get<double>();
      } else if (key == "preconfigureddevicememory") {
        if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
            value.get<int64_t>() > INT32_MAX) {
          return WrongType(key, "a non-negative integer (MiB)");
        }
        out.preconfigured_memory_mib = value.get<int32_t>();
      } else if (key == "enablenumatopology") {
        if (!value.is_boolean()) return WrongType(key, "true or false");
        out.numa_topology = value.get<bool>();
      } else if (key == "libcudaloglevel") {
        if (!value.is_string()) return WrongType(key, "a string");
        out.libcuda_log_level = value.get<std::string>();
      } else if (key == "filterdevices") {
        if (!value.is_object()) return WrongType(key, "an object");
        for (const json& uuid : value.value("uuid", json::array())) {
          if (!uuid.is_string()) return WrongType("filterdevices.uuid", "a list of strings");
          out.exclude_uuids.insert(uuid.get<std::string>());
        }
        for (const json& index : value.value("index", json::array())) {
          if (!index.is_number_unsigned()) {
            return WrongType("filterdevices.index", "a list of GPU indexes");
          }
          out.exclude_indexes.insert(index.get<uint32_t>());
        }
      }
      // Other keys (migstrategy, enablegetpreferredallocation, ...) are HAMi's and not ours
      // to act on yet; they are ignored like any unknown key.
    }
    return std::optional<NodeOverrides>(std::move(out));
  }
  return std::optional<NodeOverrides>();
}

void ApplyNodeOverrides(const NodeOverrides& overrides, DiscoveryOptions& discovery,
                        AllocateSettings& allocate, bool& numa_topology) {
  if (overrides.operating_mode) discovery.mode = *overrides.operating_mode;
  if (overrides.split_count) discovery.split_count = *overrides.split_count;
  if (overrides.memory_scaling) {
    discovery.memory_scaling = *overrides.memory_scaling;
    allocate.memory_scaling = *overrides.memory_scaling;
  }
  if (overrides.core_scaling) discovery.core_scaling = *overrides.core_scaling;
  if (overrides.preconfigured_memory_mib) {
    discovery.preconfigured_memory_mib = *overrides.preconfigured_memory_mib;
  }
  if (overrides.numa_topology) numa_topology = *overrides.numa_topology;
  if (overrides.libcuda_log_level) allocate.log_level = *overrides.libcuda_log_level;
  discovery.exclude_uuids = overrides.exclude_uuids;
  discovery.exclude_indexes = overrides.exclude_indexes;
}

}  // namespace hami::deviceplugin
