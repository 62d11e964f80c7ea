#include "device/vastai.h"

namespace hami {

Result<std::optional<ContainerDeviceRequest>> DeriveVastaiRequest(const VastaiConfig& config,
                                                                  const ResourceList& limits,
                                                                  const ResourceList& requests) {
  // HAMi asks for 100 % of the memory but its fit never looks at memory and records 0 MiB;
  // asking for none gives the same placements and the same device string.
  return SlotOnlyRequest(limits, requests, config.resource_count_name, kVastaiCommonWord);
}

VastaiVendor::VastaiVendor(VastaiConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  keys_.node_register = kVastaiRegisterAnnotation;
  keys_.node_handshake = kVastaiHandshakeAnnotation;
  keys_.to_allocate = kVastaiToAllocateAnnotation;
  keys_.allocated = kVastaiAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> VastaiVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveVastaiRequest(config_, limits, requests);
}

Result<DeviceSelectors> VastaiVendor::ParseSelectors(const Annotations& pod_annotations) const {
  DeviceSelectors s;
  ReadSelectorPair(pod_annotations, kVastaiUseUuidAnnotation, kVastaiNoUseUuidAnnotation,
                   SelectorPrecedence::kBoth, &s.use_uuids, &s.nouse_uuids);
  return s;
}

Result<std::vector<DeviceInfo>> VastaiVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  HAMI_ASSIGN_OR_RETURN(std::vector<DeviceInfo> devices,
                        DecodeJsonRegistration(node_annotations, keys_.node_register));
  // HAMi overwrites devcore (its fit ignores cores; the value only feeds its node score).
  for (DeviceInfo& d : devices) d.devcore = 100;
  return devices;
}

}  // namespace hami
