// Hygon DCU (HAMi's pkg/device/hygon, vendor key "DCU"): resource derivation, selection
// annotations and registration decoding (spec §1.2, §1.4).
//
// The DCU device plugin registers its devices in the legacy colon form under
// hami.io/node-dcu-register; the scheduler handshakes on hami.io/node-handshake-dcu and writes
// hami.io/dcu-devices-to-allocate / hami.io/dcu-devices-allocated. DCUs share the node lock
// hami.io/mutex.lock with NVIDIA. All functions are pure and thread-safe; HygonVendor holds an
// immutable HygonConfig.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// The Hygon vendor key: CommonWord, ContainerDeviceRequest::type and pod-device-string type.
inline constexpr char kHygonCommonWord[] = "DCU";

// Wire keys (HAMi's pkg/device/hygon constants); never change.
inline constexpr char kHygonRegisterAnnotation[] = "hami.io/node-dcu-register";
inline constexpr char kHygonHandshakeAnnotation[] = "hami.io/node-handshake-dcu";
inline constexpr char kHygonToAllocateAnnotation[] = "hami.io/dcu-devices-to-allocate";
inline constexpr char kHygonAllocatedAnnotation[] = "hami.io/dcu-devices-allocated";
inline constexpr char kHygonUseTypeAnnotation[] = "hygon.com/use-dcutype";
inline constexpr char kHygonNoUseTypeAnnotation[] = "hygon.com/nouse-dcutype";
inline constexpr char kHygonUseUuidAnnotation[] = "hygon.com/use-gpuuuid";
inline constexpr char kHygonNoUseUuidAnnotation[] = "hygon.com/nouse-gpuuuid";

// HAMi's DCU GenerateResourceRequests, each resource looked up in limits then requests:
//   count  = dcunum; absent or 0 => no request.
//   memory = dcumem * memoryFactor (MiB); absent or 0 => 100 % of the device.
//   cores  = dcucores, else 100 (a DCU asked for without cores is taken whole); > 100 is
//            clamped to 100 by the fit, as HAMi's.
// Failure (InvalidArgument): a count, memory or cores value that is not a whole quantity,
// negative, or beyond int32 (after the factor). HAMi silently ignores such values; Kubernetes
// itself refuses negative and fractional extended resources, so only a hand-made request
// reaches this.
Result<std::optional<ContainerDeviceRequest>> DeriveHygonRequest(const HygonConfig& config,
                                                                 const ResourceList& limits,
                                                                 const ResourceList& requests);

// The DCU selection annotations as HAMi reads them: hygon.com/use-dcutype (device type must
// contain one, case-insensitively) and, only when it is absent, hygon.com/nouse-dcutype;
// hygon.com/use-gpuuuid and hygon.com/nouse-gpuuuid. Comma lists,
// trimmed, empty pieces dropped. No mode or NUMA selection. Never fails.
DeviceSelectors ParseHygonSelectors(const Annotations& pod_annotations);

class HygonVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateHygonConfig (MakeVendorRegistry checks it).
  explicit HygonVendor(HygonConfig config);

  const HygonConfig& Config() const { return config_; }

  std::string_view CommonWord() const override { return kHygonCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }
  int32_t MemoryFactor() const override { return config_.memory_factor; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // Decodes hami.io/node-dcu-register (legacy colon form only, as HAMi's DCU path).
  // Failure: NotFound without the annotation; InvalidArgument when it does not decode or
  // lists no device (as HAMi refuses an empty list).
  Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const override;

 private:
  HygonConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
