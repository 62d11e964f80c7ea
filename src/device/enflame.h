// Enflame GCUs (HAMi's pkg/device/enflame): two vendors (spec §1.4).
//
//  - GcuVendor (gcu.go, vendor key "GCU"): whole cards synthesised from node capacity
//    enflame.com/gcu, "<node>-GCU-<i>", one container per card; the scheduler writes
//    hami.io/enflame-gcu-devices-to-allocate / -allocated.
//  - EnflameDrsVendor (device.go, vendor key "Enflame"): DRS shares of a card, read from the node
//    annotation enflame.com/gcu-drs-capacity that Enflame's gcushare device plugin writes
//    ({"devices":[{"index":"0","minor":"0","capacity":6}],"profiles":{"1g.6gb":"0",...}}:
//    per card its slice count, and the DRS profiles "<slices>g.<GiB>gb" the cards offer). A
//    container asks for a number of slices (enflame.com/drs-gcu). The scheduler writes only
//    hami.io/enflame-vgpu-devices-allocated plus the enflame.com/gcu-* pod annotations the
//    plugin reads.
//
// Neither has a handshake or a node lock of its own. All functions are pure and thread-safe;
// the vendors hold an immutable EnflameConfig.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// Vendor keys: CommonWord, ContainerDeviceRequest::type, device type and device-string type.
inline constexpr char kGcuCommonWord[] = "GCU";
inline constexpr char kEnflameDrsCommonWord[] = "Enflame";

// Wire keys (HAMi's pkg/device/enflame constants); never change.
inline constexpr char kGcuToAllocateAnnotation[] = "hami.io/enflame-gcu-devices-to-allocate";
inline constexpr char kGcuAllocatedAnnotation[] = "hami.io/enflame-gcu-devices-allocated";
inline constexpr char kEnflameDrsAllocatedAnnotation[] = "hami.io/enflame-vgpu-devices-allocated";
inline constexpr char kEnflameDrsCapacityAnnotation[] = "enflame.com/gcu-drs-capacity";
inline constexpr char kEnflameUseUuidAnnotation[] = "enflame.com/use-gpuuuid";
inline constexpr char kEnflameNoUseUuidAnnotation[] = "enflame.com/nouse-gpuuuid";
inline constexpr char kEnflameRequestSizeAnnotation[] = "enflame.com/gcu-request-size";
inline constexpr char kEnflameAssignedAnnotation[] = "enflame.com/gcu-assigned";
inline constexpr char kEnflameAssignedTimeAnnotation[] = "enflame.com/gcu-assigned-time";
inline constexpr char kEnflameAssignedIdAnnotation[] = "enflame.com/gcu-assigned-id";
inline constexpr char kEnflameAssignedIndexAnnotation[] = "enflame.com/gcu-assigned-index";
inline constexpr char kEnflameAssignedMinorAnnotation[] = "enflame.com/gcu-assigned-minor";

// HAMi's GCU GenerateResourceRequests: count = enflame.com/gcu, limits then requests; absent
// or 0 => no request. Each card is taken whole: 100 MiB of the card's registered 100, and
// 100 % of its cores (HAMi's Memreq 100, Coresreq 100).
// Failure (InvalidArgument, naming the resource): a count that is not a whole quantity,
// negative or beyond int32.
Result<std::optional<ContainerDeviceRequest>> DeriveGcuRequest(const EnflameConfig& config,
                                                               const ResourceList& limits,
                                                               const ResourceList& requests);

// HAMi's GCU GetNodeDevices: `count` = capacity enflame.com/gcu cards "<node>-GCU-<i>", index
// i, count 1, devmem 100, devcore 100, type "GCU", healthy.
// Failure: NotFound when the capacity is absent or 0; InvalidArgument naming the resource for
// a value that is not a whole non-negative quantity or more than kMaxSynthesizedDevices.
Result<std::vector<DeviceInfo>> SynthesizeGcuDevices(const EnflameConfig& config,
                                                     const NodeFacts& node);

// The DRS request: enflame.com/drs-gcu = n slices (limits, then requests) on one card; absent
// => no request. Represented as count 1, no memory, and n "cores" on a card whose devcore is
// its slice count (see DecodeEnflameDrsCapacity), so the fit takes a share only where n
// slices are free.
// Failure (InvalidArgument): a slice count that is not a whole quantity, <= 0 or beyond int32
// (HAMi's webhook refuses <= 0); a container asking by enflame.com/gcu-memory or gcu-core
// alone (HAMi then picks a profile per node; not supported here, see docs/vendors.md).
Result<std::optional<ContainerDeviceRequest>> DeriveEnflameDrsRequest(const EnflameConfig& config,
                                                                      const ResourceList& limits,
                                                                      const ResourceList& requests);

// The DRS cards of node `node_name` from the value of enflame.com/gcu-drs-capacity, as HAMi's
// GetNodeDevices reads it: profiles "<slices>g.<GiB>gb" (case and spaces ignored) give the
// largest slice count and memory; each listed device becomes "<node>-enflame-drs-<index>"
// (index from its decimal "index", else its position), count = its capacity (slices, a
// number or a decimal string), devmem = largest profile GiB * 1024 MiB (the largest slice
// count when no profile names a memory size), devcore = its capacity (slices: our
// representation of HAMi's slice accounting), type "Enflame", healthy.
// Failure: InvalidArgument for malformed JSON, a field of the wrong type, no profile naming a
// positive slice count, a capacity <= 0 or beyond int32, a negative or repeated index, memory
// beyond int32, or no device.
Result<std::vector<DeviceInfo>> DecodeEnflameDrsCapacity(std::string_view value,
                                                         const std::string& node_name);

class GcuVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateEnflameConfig (MakeVendorRegistry checks it).
  explicit GcuVendor(EnflameConfig config);

  std::string_view CommonWord() const override { return kGcuCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // None: HAMi's GCU fit reads no selection annotation. Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // SynthesizeGcuDevices with this vendor's config.
  Result<std::vector<DeviceInfo>> DecodeNode(const NodeFacts& node) const override;

 private:
  EnflameConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

class EnflameDrsVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateEnflameConfig (MakeVendorRegistry checks it).
  explicit EnflameDrsVendor(EnflameConfig config);

  std::string_view CommonWord() const override { return kEnflameDrsCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // enflame.com/use-gpuuuid and enflame.com/nouse-gpuuuid. Never
  // fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // DecodeEnflameDrsCapacity of the node's enflame.com/gcu-drs-capacity (InvalidArgument
  // prefixed with the key). NotFound without the annotation.
  Result<std::vector<DeviceInfo>> DecodeNode(const NodeFacts& node) const override;

  // HAMi's DRS MutateAdmission: enflame.com/drs-gcu in limits or requests makes the pod ours
  // (copied into limits when only requested).
  // Failure: InvalidArgument for a slice count <= 0, or a request by memory/core alone.
  Result<ContainerAdmission> MutateAdmission(std::string_view container_name,
                                             const ResourceList& limits,
                                             const ResourceList& requests) const override;

  // hami.io/enflame-vgpu-devices-allocated (no to-allocate key, as HAMi), and what HAMi's
  // PatchAnnotations adds: enflame.com/gcu-assigned "false", gcu-assigned-time (the decision
  // time in Unix nanoseconds), and from the first container that got a card:
  // gcu-assigned-index and gcu-assigned-id (the card's index), gcu-assigned-minor (the index
  // too: HAMi's default when the plugin gives no minor) and gcu-request-size (its slices).
  // HAMi's assigned-containers JSON (container names and profile IDs) is not written.
  void AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                              int64_t decided_unix_seconds, Annotations* out) const override;

 private:
  EnflameConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
