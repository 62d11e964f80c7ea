// Biren GPUs (HAMi's pkg/device/biren, vendor key "Biren"): whole-card scheduling (spec §1.4).
//
// The Biren device plugin registers its GPUs as JSON under hami.io/node-biren-register; the
// scheduler handshakes on hami.io/node-handshake-biren (HAMi's common rule) and writes
// hami.io/Biren-devices-to-allocate / hami.io/Biren-devices-allocated. Biren shares the node
// lock hami.io/mutex.lock. All functions are pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// The Biren vendor key: CommonWord, ContainerDeviceRequest::type and pod-device-string type.
inline constexpr char kBirenCommonWord[] = "Biren";

// Wire keys (HAMi's pkg/device/biren constants); never change.
inline constexpr char kBirenRegisterAnnotation[] = "hami.io/node-biren-register";
inline constexpr char kBirenHandshakeAnnotation[] = "hami.io/node-handshake-biren";
inline constexpr char kBirenToAllocateAnnotation[] = "hami.io/Biren-devices-to-allocate";
inline constexpr char kBirenAllocatedAnnotation[] = "hami.io/Biren-devices-allocated";
inline constexpr char kBirenUseUuidAnnotation[] = "birentech.com/use-gpuuuid";
inline constexpr char kBirenNoUseUuidAnnotation[] = "birentech.com/nouse-gpuuuid";

// HAMi's Biren GenerateResourceRequests: count = birentech.com/gpu, limits then requests;
// absent or 0 => no request. HAMi's Biren fit checks only task slots (never memory or cores)
// and writes 0 MiB and 0 cores per device, so the request asks for no memory and no cores: a
// card is shared by up to its registered count of containers.
// Failure (InvalidArgument): a count that is not a whole quantity, negative or beyond int32
// (HAMi silently ignores it).
Result<std::optional<ContainerDeviceRequest>> DeriveBirenRequest(const BirenConfig& config,
                                                                 const ResourceList& limits,
                                                                 const ResourceList& requests);

class BirenVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateBirenConfig (MakeVendorRegistry checks it).
  explicit BirenVendor(BirenConfig config);

  std::string_view CommonWord() const override { return kBirenCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // birentech.com/use-gpuuuid and birentech.com/nouse-gpuuuid. HAMi
  // defines birentech.com/use-biren / nouse-biren but its fit never reads them, so neither do
  // we. Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // Decodes hami.io/node-biren-register (JSON); every device's devcore is set to 100, as HAMi.
  // Failure: NotFound without the annotation; InvalidArgument when it does not decode or lists
  // no device.
  Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const override;

 private:
  BirenConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
