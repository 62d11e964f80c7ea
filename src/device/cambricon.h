// Cambricon MLU (HAMi's pkg/device/cambricon, vendor key "MLU"): devices synthesised from node
// capacity, resource derivation, selection annotations, the dsmlu node lock and the extra pod
// annotations the Cambricon device plugin reads (spec §1.4).
//
// Cambricon's device plugin publishes only extended resources: status.capacity
// cambricon.com/mlu.smlu.vcore (100 per card) and cambricon.com/mlu.smlu.vmemory (units of
// 256 MiB, all cards together); HAMi turns them into cards "<node>-cambricon-mlu-<i>". There
// is no handshake. The scheduler writes hami.io/cambricon-mlu-devices-to-allocate /
// -allocated plus CAMBRICON_DSMLU_ASSIGNED / CAMBRICON_DSMLU_PROFILE, and besides HAMi's node
// lock takes the node annotation cambricon.com/dsmlu.lock (an RFC 3339 time the plugin removes
// after Allocate). All functions are pure and thread-safe; CambriconVendor holds an immutable
// CambriconConfig.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// The Cambricon vendor key: CommonWord, ContainerDeviceRequest::type, device type and
// pod-device-string type.
inline constexpr char kCambriconCommonWord[] = "MLU";

// Wire keys (HAMi's pkg/device/cambricon constants); never change.
inline constexpr char kCambriconToAllocateAnnotation[] =
    "hami.io/cambricon-mlu-devices-to-allocate";
inline constexpr char kCambriconAllocatedAnnotation[] = "hami.io/cambricon-mlu-devices-allocated";
inline constexpr char kCambriconUseUuidAnnotation[] = "cambricon.com/use-gpuuuid";
inline constexpr char kCambriconNoUseUuidAnnotation[] = "cambricon.com/nouse-gpuuuid";
// Defined by HAMi but never read by its fit (every synthesised card has type "MLU").
inline constexpr char kCambriconUseTypeAnnotation[] = "cambricon.com/use-mlutype";
inline constexpr char kCambriconNoUseTypeAnnotation[] = "cambricon.com/nouse-mlutype";
inline constexpr char kCambriconLockAnnotation[] = "cambricon.com/dsmlu.lock";
inline constexpr int64_t kCambriconLockExpirySeconds = 120;  // HAMi: time.Minute * 2
// Pod annotations the Cambricon device plugin reads (the names are HAMi's, upper case).
inline constexpr char kCambriconDsmluAssignedAnnotation[] = "CAMBRICON_DSMLU_ASSIGNED";
inline constexpr char kCambriconDsmluProfileAnnotation[] = "CAMBRICON_DSMLU_PROFILE";
// The memory resource's unit.
inline constexpr int32_t kCambriconMemoryUnitMib = 256;

// HAMi's Cambricon GenerateResourceRequests, each resource looked up in limits then requests:
//   count  = the count resource (cambricon.com/vmlu); absent or 0 => no request.
//   memory = the memory resource * 256 MiB; absent or 0 => 100 % of the card.
//   cores  = the core resource (percent), else 100 (a card asked for without cores is taken
//            whole); above 100 the fit takes 100, as HAMi's.
// Failure (InvalidArgument, naming the resource): a value that is not a whole quantity,
// negative or beyond int32 after the unit (HAMi silently ignores such a value).
Result<std::optional<ContainerDeviceRequest>> DeriveCambriconRequest(const CambriconConfig& config,
                                                                     const ResourceList& limits,
                                                                     const ResourceList& requests);

// The cards HAMi's Cambricon GetNodeDevices synthesises for node `node.name`: one card per
// started 100 of the capacity of the core resource (`cards`), each
// "<node>-cambricon-mlu-<i>", index i, count 100, devcore 100, type "MLU", healthy, and
// devmem = vmemory * 256 * 100 / cards MiB (vmemory absent = 0).
// Failure: NotFound when the core resource is absent or 0 (HAMi: "device not found");
// InvalidArgument naming the resource for a value that is not a whole non-negative quantity,
// more than kMaxSynthesizedDevices cards, or a per-card memory beyond int32 (HAMi wraps it).
Result<std::vector<DeviceInfo>> SynthesizeCambriconDevices(const CambriconConfig& config,
                                                           const NodeFacts& node);

class CambriconVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateCambriconConfig (MakeVendorRegistry checks it).
  explicit CambriconVendor(CambriconConfig config);

  std::string_view CommonWord() const override { return kCambriconCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // cambricon.com/use-gpuuuid and cambricon.com/nouse-gpuuuid (HAMi's
  // CheckUUID). The use-/nouse-mlutype pair is not read: HAMi's fit ignores it. Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // SynthesizeCambriconDevices with this vendor's config.
  Result<std::vector<DeviceInfo>> DecodeNode(const NodeFacts& node) const override;

  // The default's to-allocate and allocated device strings, plus what HAMi's PatchAnnotations
  // adds for the plugin: CAMBRICON_DSMLU_ASSIGNED "false" and CAMBRICON_DSMLU_PROFILE
  // "<index>_<cores>_<memory/256>" of the first device granted. HAMi takes the first
  // container's first device and panics when that container has none; we take the first
  // container that has one. Writes nothing when no container has a device.
  void AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                              int64_t decided_unix_seconds, Annotations* out) const override;

  // cambricon.com/dsmlu.lock, 2 minutes (HAMi's LockNode/ReleaseNodeLock).
  std::string_view ExtraNodeLockAnnotation() const override { return kCambriconLockAnnotation; }
  int64_t ExtraNodeLockExpirySeconds() const override { return kCambriconLockExpirySeconds; }

 private:
  CambriconConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
