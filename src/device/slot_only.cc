#include "device/slot_only.h"

#include <utility>

#include "device/uuid_selectors.h"

namespace hami {

SlotOnlyJsonVendor::SlotOnlyJsonVendor(SlotOnlyVendorKeys keys) : keys_(std::move(keys)) {
  names_.count = keys_.count_resource;
}

Result<std::optional<ContainerDeviceRequest>> SlotOnlyJsonVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return SlotOnlyRequest(limits, requests, keys_.count_resource, keys_.common_word);
}

Result<DeviceSelectors> SlotOnlyJsonVendor::ParseSelectors(
    const Annotations& pod_annotations) const {
  return UuidSelectors(pod_annotations, keys_.use_uuid, keys_.nouse_uuid);
}

Result<std::vector<DeviceInfo>> SlotOnlyJsonVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  HAMI_ASSIGN_OR_RETURN(std::vector<DeviceInfo> devices,
                        DecodeJsonRegistration(node_annotations, keys_.annotations.node_register));
  for (DeviceInfo& d : devices) d.devcore = 100;
  return devices;
}

}  // namespace hami
