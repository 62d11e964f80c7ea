// AMD GPUs (HAMi's pkg/device/amd, vendor key "AMD"): resource derivation, selection
// annotations, registration decoding and webhook admission (spec §1.4).
//
// HAMi's AMD device plugin registers its GPUs as JSON (the NVIDIA DeviceInfo form) under
// hami.io/node-amd-register; there is no handshake annotation (HAMi's AMD CheckHealth reads only
// the node's amd.com/gpu count). The scheduler writes hami.io/amd-devices-to-allocate /
// hami.io/amd-devices-allocated. AMD shares the node lock hami.io/mutex.lock. All functions are
// pure and thread-safe; AmdVendor holds an immutable AmdConfig.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// The AMD vendor key: CommonWord, ContainerDeviceRequest::type and pod-device-string type.
inline constexpr char kAmdCommonWord[] = "AMD";

// Wire keys (HAMi's pkg/device/amd constants); never change.
inline constexpr char kAmdRegisterAnnotation[] = "hami.io/node-amd-register";
inline constexpr char kAmdToAllocateAnnotation[] = "hami.io/amd-devices-to-allocate";
inline constexpr char kAmdAllocatedAnnotation[] = "hami.io/amd-devices-allocated";
inline constexpr char kAmdUseTypeAnnotation[] = "amd.com/use-gputype";
inline constexpr char kAmdNoUseTypeAnnotation[] = "amd.com/nouse-gputype";
inline constexpr char kAmdUseUuidAnnotation[] = "amd.com/use-gpu-uuid";
inline constexpr char kAmdNoUseUuidAnnotation[] = "amd.com/nouse-gpu-uuid";

// HAMi's AMD GenerateResourceRequests:
//   count  = amd.com/gpu from limits only (as HAMi); absent or 0 => no request.
//   memory = amd.com/gpumem from limits only, MiB; absent or 0 => 100 % of the device.
//   cores  = amd.com/gpucores from limits, then requests; absent => 100 (all CUs).
// Failure (InvalidArgument, naming the resource): a count or memory that is not a whole
// quantity, negative or beyond int32; cores that are not a whole number in 1..100 (HAMi
// refuses these too).
Result<std::optional<ContainerDeviceRequest>> DeriveAmdRequest(const AmdConfig& config,
                                                               const ResourceList& limits,
                                                               const ResourceList& requests);

// The AMD selection annotations as HAMi reads them: amd.com/use-gputype (type must contain one,
// case-insensitively) and amd.com/nouse-gputype (must contain none) both apply;
// amd.com/use-gpu-uuid and amd.com/nouse-gpu-uuid. Comma lists,
// trimmed, empty pieces dropped. Never fails.
DeviceSelectors ParseAmdSelectors(const Annotations& pod_annotations);

class AmdVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateAmdConfig (MakeVendorRegistry checks it).
  explicit AmdVendor(AmdConfig config);

  const AmdConfig& Config() const { return config_; }

  std::string_view CommonWord() const override { return kAmdCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // Decodes hami.io/node-amd-register (JSON, as HAMi's UnMarshalNodeDevices).
  // Failure: NotFound without the annotation; InvalidArgument when it does not decode or
  // lists no device (HAMi: "no gpu found on node").
  Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const override;

  // HAMi's AMD MutateAdmission: the count, memory or cores resource in limits makes the pod
  // ours; with the count present, a cores limit must be a whole percentage in 1..100.
  // Failure: InvalidArgument for such a cores limit or an unusable request.
  Result<ContainerAdmission> MutateAdmission(std::string_view container_name,
                                             const ResourceList& limits,
                                             const ResourceList& requests) const override;

  // HAMi's AMD health rule is the node's amd.com/gpu count being positive; the closest rule
  // here is dropping the devices when the allocatable count falls to 0.
  bool DropsDevicesWhenAllocatableFallsToZero() const override { return true; }

 private:
  AmdConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
