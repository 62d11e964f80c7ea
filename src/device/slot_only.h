// A vendor whose HAMi fit counts only task slots (Biren, Vastai): devices registered as JSON
// (HAMi's common DeviceInfo form) under one node annotation, HAMi's common handshake, a count
// resource whose request asks no memory and no cores, and UUID selection by a use / no-use
// annotation pair (both apply, as HAMi >= 2.9's CheckUUID). All methods are pure and
// thread-safe; the vendors differ only in their keys.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// What tells one slot-only vendor from another.
struct SlotOnlyVendorKeys {
  std::string common_word;           // vendor key, request and device-string type
  std::string count_resource;        // e.g. "birentech.com/gpu"
  VendorAnnotationKeys annotations;  // register, handshake, to-allocate, allocated
  std::string use_uuid;              // e.g. "birentech.com/use-gpuuuid"
  std::string nouse_uuid;            // e.g. "birentech.com/nouse-gpuuuid"
};

class SlotOnlyJsonVendor : public Vendor {
 public:
  explicit SlotOnlyJsonVendor(SlotOnlyVendorKeys keys);

  std::string_view CommonWord() const override { return keys_.common_word; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_.annotations; }

  // SlotOnlyRequest over the count resource: that many devices, no memory, no cores.
  // Failure: as ResourceAmount (HAMi silently ignores such counts).
  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // The use and no-use UUID lists. Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // Decodes the register annotation (JSON); every device's devcore is set to 100, as HAMi
  // does (its fit ignores cores; the value only feeds its node score).
  // Failure: NotFound without the annotation; InvalidArgument (naming the key) when it does
  // not decode or lists no device.
  Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const override;

 private:
  SlotOnlyVendorKeys keys_;
  VendorResourceNames names_;
};

}  // namespace hami
