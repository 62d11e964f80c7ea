#include "device/hygon.h"

#include <limits>

#include "common/strings.h"
#include "device/codec.h"
#include "device/quantity.h"

namespace hami {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// `name`'s value (limits, then requests) times `factor` as a non-negative int32, or nullopt
// when the container does not have it.
Result<std::optional<int32_t>> WholeAmount(const ResourceList& limits, const ResourceList& requests,
                                           const std::string& name, int32_t factor) {
  const std::string* text = FindResource(limits, requests, name);
  if (text == nullptr) return std::optional<int32_t>();
  Result<int64_t> value = ParseQuantityInt64(*text);
  if (!value.ok()) return value.status().WithContext(name + " must be a whole number");
  int64_t scaled = 0;
  if (*value < 0 || __builtin_mul_overflow(*value, int64_t{factor}, &scaled) ||
      scaled > kInt32Max) {
    return InvalidArgument(name + " " + QuoteForError(*text) + " is out of range (0.." +
                           std::to_string(kInt32Max / factor) + ")");
  }
  return std::optional<int32_t>(static_cast<int32_t>(scaled));
}

const std::string* Find(const Annotations& annotations, const char* key) {
  auto it = annotations.find(key);
  return it == annotations.end() ? nullptr : &it->second;
}

}  // namespace

Result<std::optional<ContainerDeviceRequest>> DeriveHygonRequest(const HygonConfig& config,
                                                                 const ResourceList& limits,
                                                                 const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        WholeAmount(limits, requests, config.resource_count_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_ASSIGN_OR_RETURN(
      std::optional<int32_t> memory,
      WholeAmount(limits, requests, config.resource_memory_name, config.memory_factor));
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> cores,
                        WholeAmount(limits, requests, config.resource_core_name, 1));
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = kHygonCommonWord;
  req.memory_mib = memory.value_or(0);
  // HAMi: MemPercentagereq = 100 when no memory is given (else 0, which its fit never reads).
  req.memory_percent = req.memory_mib == 0 ? 100 : kMemoryPercentUnset;
  req.cores_percent = cores.value_or(100);
  return std::optional<ContainerDeviceRequest>(req);
}

DeviceSelectors ParseHygonSelectors(const Annotations& pod_annotations) {
  DeviceSelectors s;
  if (const std::string* v = Find(pod_annotations, kHygonUseTypeAnnotation)) {
    s.use_types = SplitCommaList(*v);
  } else if (const std::string* n = Find(pod_annotations, kHygonNoUseTypeAnnotation)) {
    s.nouse_types = SplitCommaList(*n);
  }
  if (const std::string* v = Find(pod_annotations, kHygonUseUuidAnnotation)) {
    s.use_uuids = SplitCommaList(*v);
  } else if (const std::string* n = Find(pod_annotations, kHygonNoUseUuidAnnotation)) {
    s.nouse_uuids = SplitCommaList(*n);
  }
  return s;
}

HygonVendor::HygonVendor(HygonConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  names_.memory = config_.resource_memory_name;
  names_.cores = config_.resource_core_name;
  keys_.node_register = kHygonRegisterAnnotation;
  keys_.node_handshake = kHygonHandshakeAnnotation;
  keys_.to_allocate = kHygonToAllocateAnnotation;
  keys_.allocated = kHygonAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> HygonVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveHygonRequest(config_, limits, requests);
}

Result<DeviceSelectors> HygonVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return ParseHygonSelectors(pod_annotations);
}

Result<std::vector<DeviceInfo>> HygonVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  auto it = node_annotations.find(keys_.node_register);
  if (it == node_annotations.end()) {
    return NotFound("node has no " + keys_.node_register + " annotation");
  }
  Result<std::vector<DeviceInfo>> devices = DecodeNodeDevicesLegacy(it->second);
  if (!devices.ok()) return devices.status().WithContext(keys_.node_register);
  if (devices->empty()) return InvalidArgument(keys_.node_register + ": no DCU found on node");
  return devices;
}

}  // namespace hami
