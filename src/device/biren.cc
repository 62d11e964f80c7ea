#include "device/biren.h"

#include "common/strings.h"

namespace hami {

Result<std::optional<ContainerDeviceRequest>> DeriveBirenRequest(const BirenConfig& config,
                                                                 const ResourceList& limits,
                                                                 const ResourceList& requests) {
  return SlotOnlyRequest(limits, requests, config.resource_count_name, kBirenCommonWord);
}

BirenVendor::BirenVendor(BirenConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  keys_.node_register = kBirenRegisterAnnotation;
  keys_.node_handshake = kBirenHandshakeAnnotation;
  keys_.to_allocate = kBirenToAllocateAnnotation;
  keys_.allocated = kBirenAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> BirenVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveBirenRequest(config_, limits, requests);
}

Result<DeviceSelectors> BirenVendor::ParseSelectors(const Annotations& pod_annotations) const {
  DeviceSelectors s;
  ReadSelectorPair(pod_annotations, kBirenUseUuidAnnotation, kBirenNoUseUuidAnnotation,
                   SelectorPrecedence::kBoth, &s.use_uuids, &s.nouse_uuids);
  return s;
}

Result<std::vector<DeviceInfo>> BirenVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  HAMI_ASSIGN_OR_RETURN(std::vector<DeviceInfo> devices,
                        DecodeJsonRegistration(node_annotations, keys_.node_register));
  for (DeviceInfo& d : devices) d.devcore = 100;  // HAMi: "only for calscore use"
  return devices;
}

}  // namespace hami
