#include "device/hygon.h"

#include "common/strings.h"

namespace hami {
Result<std::optional<ContainerDeviceRequest>> DeriveHygonRequest(const HygonConfig& config,
                                                                 const ResourceList& limits,
                                                                 const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, config.resource_count_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_ASSIGN_OR_RETURN(
      std::optional<int32_t> memory,
      ResourceAmount(limits, requests, config.resource_memory_name, config.memory_factor));
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> cores,
                        ResourceAmount(limits, requests, config.resource_core_name, 1));
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
  ReadSelectorPair(pod_annotations, kHygonUseTypeAnnotation, kHygonNoUseTypeAnnotation,
                   SelectorPrecedence::kUseWins, &s.use_types, &s.nouse_types);
  ReadSelectorPair(pod_annotations, kHygonUseUuidAnnotation, kHygonNoUseUuidAnnotation,
                   SelectorPrecedence::kBoth, &s.use_uuids, &s.nouse_uuids);
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
  return DecodeLegacyRegistration(node_annotations, keys_.node_register);
}

}  // namespace hami
