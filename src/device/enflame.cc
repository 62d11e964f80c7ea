#include "device/enflame.h"

#include <cmath>
#include <limits>
#include <set>

#include "common/strings.h"
#include "device/go_json.h"
#include "device/synthesized.h"
#include "device/uuid_selectors.h"

namespace hami {

namespace {

using go_json::JsonTypeName;
using go_json::OrderedJson;

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// Go's strconv.Atoi on a decimal string: optional sign, digits only, within int64 (we further
// limit to int32 where used). nullopt when it does not parse.
std::optional<int64_t> Atoi(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

// HAMi's parseProfile: "<slices>g.<GiB>gb" -> (slices, GiB); (0, 0) when the slice part does
// not parse, (slices, 0) when only the memory part does not.
std::pair<int64_t, int64_t> ParseProfile(std::string_view name) {
  const std::string normalized = ToLower(Trim(name));
  const size_t dot = normalized.find('.');
  if (dot == std::string::npos) return {0, 0};
  std::string_view size_part = Trim(std::string_view(normalized).substr(0, dot));
  if (size_part.ends_with('g')) size_part.remove_suffix(1);
  const std::optional<int64_t> size = Atoi(size_part);
  if (!size) return {0, 0};
  std::string_view rest = std::string_view(normalized).substr(dot + 1);
  rest = rest.substr(0, rest.find('.'));  // Go's Split: the second piece only
  rest = Trim(rest);
  if (rest.ends_with("gb")) rest.remove_suffix(2);
  const std::optional<int64_t> mem = Atoi(rest);
  return {*size, mem.value_or(0)};
}

// A device's "capacity" (Go `any`): a JSON number (truncated, as int32(float64)) or a decimal
// string.
Result<int64_t> ReadCapacity(const OrderedJson& v, const std::string& field) {
  if (v.is_number_integer() || v.is_number_unsigned()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(kInt32Max)) {
      return InvalidArgument(field + " is beyond int32");
    }
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(kInt32Max)) {
      return InvalidArgument(field + " is beyond int32");
    }
    return static_cast<int64_t>(d);
  }
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (std::optional<int64_t> n = Atoi(Trim(s))) return *n;
    return InvalidArgument(field + " " + QuoteForError(s) + " is not a whole number");
  }
  return InvalidArgument(field + ": expected a number or a string, got " + JsonTypeName(v));
}

}  // namespace

// ---- GCU (whole cards) ----

Result<std::optional<ContainerDeviceRequest>> DeriveGcuRequest(const EnflameConfig& config,
                                                               const ResourceList& limits,
                                                               const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, config.resource_name_gcu, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = kGcuCommonWord;
  req.memory_mib = 100;
  req.memory_percent = 100;
  req.cores_percent = 100;
  return std::optional<ContainerDeviceRequest>(req);
}

Result<std::vector<DeviceInfo>> SynthesizeGcuDevices(const EnflameConfig& config,
                                                     const NodeFacts& node) {
  CapacityCards spec;
  spec.count_resource = config.resource_name_gcu;  // one per card
  spec.fixed_devmem_mib = 100;
  spec.id_infix = std::string("-") + kGcuCommonWord + "-";
  spec.count = 1;
  spec.devcore = 100;
  spec.type = kGcuCommonWord;
  return SynthesizeFromCapacity(node, spec);
}

GcuVendor::GcuVendor(EnflameConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_name_gcu;
  keys_.to_allocate = kGcuToAllocateAnnotation;
  keys_.allocated = kGcuAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> GcuVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveGcuRequest(config_, limits, requests);
}

Result<DeviceSelectors> GcuVendor::ParseSelectors(const Annotations& /*pod_annotations*/) const {
  return DeviceSelectors{};
}

Result<std::vector<DeviceInfo>> GcuVendor::DecodeNode(const NodeFacts& node) const {
  return SynthesizeGcuDevices(config_, node);
}

// ---- DRS (shares of a card) ----

Result<std::optional<ContainerDeviceRequest>> DeriveEnflameDrsRequest(
    const EnflameConfig& config, const ResourceList& limits, const ResourceList& requests) {
  const std::string& name = config.resource_name_drs_gcu;
  if (const std::string* text = FindResource(limits, requests, name)) {
    HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> slices, ResourceAmount(limits, requests, name, 1));
    if (*slices <= 0) {
      return InvalidArgument(name + " " + QuoteForError(*text) + " must be greater than 0");
    }
    ContainerDeviceRequest req;
    req.count = 1;
    req.type = kEnflameDrsCommonWord;
    req.memory_mib = 0;
    req.memory_percent = kMemoryPercentUnset;
    req.cores_percent = *slices;
    return std::optional<ContainerDeviceRequest>(req);
  }
  for (const std::string* other :
       {&config.resource_name_gcu_memory, &config.resource_name_gcu_core}) {
    if (FindResource(limits, requests, *other) != nullptr) {
      std::string message = *other;
      message += " without " + name;
      message += " is not supported: ask for a number of DRS slices with " + name;
      return InvalidArgument(message);
    }
  }
  return std::optional<ContainerDeviceRequest>();
}

Result<std::vector<DeviceInfo>> DecodeEnflameDrsCapacity(std::string_view value,
                                                         const std::string& node_name) {
  OrderedJson doc;
  HAMI_RETURN_IF_ERROR(go_json::ParseDocument(value, "DRS capacity", &doc));
  if (!doc.is_object()) {
    return InvalidArgument("expected an object, got " + JsonTypeName(doc));
  }
  const OrderedJson* devices_json = nullptr;
  const OrderedJson* profiles_json = nullptr;
  for (const auto& [key, v] : doc.items()) {
    const std::string k = ToLower(key);
    if (k == "devices" && !v.is_null()) devices_json = &v;
    if (k == "profiles" && !v.is_null()) profiles_json = &v;
  }
  int64_t max_slice = 0;
  int64_t max_mem_gib = 0;
  if (profiles_json != nullptr) {
    if (!profiles_json->is_object()) {
      return InvalidArgument("profiles: expected an object, got " + JsonTypeName(*profiles_json));
    }
    for (const auto& [profile, id] : profiles_json->items()) {
      if (!id.is_string() && !id.is_null()) {
        return InvalidArgument("profiles." + profile + ": expected a string, got " +
                               JsonTypeName(id));
      }
      const auto [slices, mem_gib] = ParseProfile(profile);
      max_slice = std::max(max_slice, slices);
      max_mem_gib = std::max(max_mem_gib, mem_gib);
    }
  }
  if (max_slice <= 0) return InvalidArgument("no valid DRS profile (\"<slices>g.<GiB>gb\")");
  if (max_mem_gib <= 0) max_mem_gib = max_slice;
  if (max_mem_gib > kInt32Max / 1024) {
    return InvalidArgument("profile memory " + std::to_string(max_mem_gib) + " GiB is too large");
  }
  if (devices_json != nullptr && !devices_json->is_array()) {
    return InvalidArgument("devices: expected an array, got " + JsonTypeName(*devices_json));
  }
  std::vector<DeviceInfo> out;
  std::set<int64_t> seen;
  const size_t n = devices_json == nullptr ? 0 : devices_json->size();
  if (n > static_cast<size_t>(kMaxSynthesizedDevices)) {
    return InvalidArgument("more than " + std::to_string(kMaxSynthesizedDevices) + " devices");
  }
  for (size_t i = 0; i < n; ++i) {
    const OrderedJson& d = (*devices_json)[i];
    const std::string field = "devices[" + std::to_string(i) + "]";
    if (!d.is_object()) {
      return InvalidArgument(field + ": expected an object, got " + JsonTypeName(d));
    }
    std::string index_text;
    std::optional<int64_t> capacity;
    for (const auto& [key, v] : d.items()) {
      const std::string k = ToLower(key);
      if (k == "index") HAMI_RETURN_IF_ERROR(go_json::ReadString(v, field + ".index", &index_text));
      if (k == "capacity" && !v.is_null()) {
        HAMI_ASSIGN_OR_RETURN(capacity, ReadCapacity(v, field + ".capacity"));
      }
      if (k == "minor") {
        std::string minor;
        HAMI_RETURN_IF_ERROR(go_json::ReadString(v, field + ".minor", &minor));
      }
    }
    const int64_t index = Atoi(index_text).value_or(static_cast<int64_t>(i));
    if (index < 0 || index > kInt32Max) {
      return InvalidArgument(field + ".index " + QuoteForError(index_text) + " is out of range");
    }
    if (!seen.insert(index).second) {
      return InvalidArgument(field + ": index " + std::to_string(index) + " is listed twice");
    }
    if (!capacity || *capacity <= 0 || *capacity > kInt32Max) {
      return InvalidArgument(field + ".capacity must be a positive slice count");
    }
    DeviceInfo info;
    info.id = node_name + "-enflame-drs-" + std::to_string(index);
    info.index = static_cast<int32_t>(index);
    info.count = static_cast<int32_t>(*capacity);
    info.devmem_mib = static_cast<int32_t>(max_mem_gib * 1024);
    info.devcore = static_cast<int32_t>(*capacity);
    info.type = kEnflameDrsCommonWord;
    info.health = true;
    out.push_back(std::move(info));
  }
  if (out.empty()) return InvalidArgument("no DRS device listed");
  return out;
}

EnflameDrsVendor::EnflameDrsVendor(EnflameConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_name_drs_gcu;
  names_.memory = config_.resource_name_gcu_memory;
  names_.cores = config_.resource_name_gcu_core;
  keys_.node_register = kEnflameDrsCapacityAnnotation;
  keys_.allocated = kEnflameDrsAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> EnflameDrsVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveEnflameDrsRequest(config_, limits, requests);
}

Result<DeviceSelectors> EnflameDrsVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return UuidSelectors(pod_annotations, kEnflameUseUuidAnnotation, kEnflameNoUseUuidAnnotation);
}

Result<std::vector<DeviceInfo>> EnflameDrsVendor::DecodeNode(const NodeFacts& node) const {
  auto it = node.annotations.find(kEnflameDrsCapacityAnnotation);
  if (it == node.annotations.end()) {
    return NotFound(std::string("node has no ") + kEnflameDrsCapacityAnnotation + " annotation");
  }
  Result<std::vector<DeviceInfo>> devices = DecodeEnflameDrsCapacity(it->second, node.name);
  if (!devices.ok()) return devices.status().WithContext(kEnflameDrsCapacityAnnotation);
  return devices;
}

Result<ContainerAdmission> EnflameDrsVendor::MutateAdmission(std::string_view /*container_name*/,
                                                             const ResourceList& limits,
                                                             const ResourceList& requests) const {
  ContainerAdmission out;
  out.limits = limits;
  const std::string& name = config_.resource_name_drs_gcu;
  HAMI_ASSIGN_OR_RETURN(out.request, DeriveEnflameDrsRequest(config_, limits, requests));
  if (const std::string* text = FindResource(limits, requests, name)) {
    out.uses_device = true;
    out.limits.emplace(name, *text);  // HAMi copies a requested count into limits
  }
  return out;
}

void EnflameDrsVendor::AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                                              int64_t decided_unix_seconds,
                                              Annotations* out) const {
  for (const ContainerDevices& container : devices) {
    if (container.empty()) continue;
    const ContainerDevice& first = container.front();
    Vendor::AddDecisionAnnotations(devices, node, decided_unix_seconds, out);
    (*out)[kEnflameAssignedAnnotation] = "false";
    (*out)[kEnflameAssignedTimeAnnotation] = std::to_string(decided_unix_seconds * 1000000000);
    const std::string index = std::to_string(SynthesizedIndex(first.uuid).value_or(0));
    (*out)[kEnflameAssignedIndexAnnotation] = index;
    (*out)[kEnflameAssignedIdAnnotation] = index;
    (*out)[kEnflameAssignedMinorAnnotation] = index;
    (*out)[kEnflameRequestSizeAnnotation] = std::to_string(std::max(first.used_cores, 1));
    return;
  }
}

}  // namespace hami
