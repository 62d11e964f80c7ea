// MetaX GPUs (HAMi's pkg/device/metax), two vendors sharing the device config's metax: section
// (spec §1.4):
//
//  - MetaxGpuVendor, key "Metax-GPU" (HAMi's device.go): whole cards. MetaX's own device plugin
//    only publishes the extended resource metax-tech.com/gpu; the scheduler turns its capacity
//    into cards "<node>-metax-<i>" of 65536 MiB and 100 cores, one task each. No registration
//    annotation, no handshake; the scheduler writes hami.io/metax-gpu-devices-to-allocate /
//    hami.io/metax-gpu-devices-allocated.
//  - MetaxSgpuVendor, key "Metax-SGPU" (HAMi's sdevice.go, protocol.go): shared GPUs. MetaX's
//    sGPU plugin registers its cards as a JSON list in MetaX's own format under
//    metax-tech.com/node-gpu-devices; no handshake. The scheduler writes
//    hami.io/metax-sgpu-devices-to-allocate / hami.io/metax-sgpu-devices-allocated and, for
//    MetaX's plugin, metax-tech.com/gpu-devices-allocated (the grant as MetaX JSON) and
//    metax-tech.com/predicate-time.
//
// All functions are pure and thread-safe; the vendors hold an immutable MetaxConfig.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// Vendor keys: CommonWord, ContainerDeviceRequest::type and pod-device-string type.
inline constexpr char kMetaxGpuCommonWord[] = "Metax-GPU";
inline constexpr char kMetaxSgpuCommonWord[] = "Metax-SGPU";

// Wire keys (HAMi's pkg/device/metax constants); never change.
inline constexpr char kMetaxGpuToAllocateAnnotation[] = "hami.io/metax-gpu-devices-to-allocate";
inline constexpr char kMetaxGpuAllocatedAnnotation[] = "hami.io/metax-gpu-devices-allocated";
// Node annotations MetaX's plugin writes for HAMi's whole-card node score (not used here: see
// docs/vendors.md).
inline constexpr char kMetaxTopologyLossesAnnotation[] = "metax-tech.com/gpu.topology.losses";
inline constexpr char kMetaxTopologyScoresAnnotation[] = "metax-tech.com/gpu.topology.scores";
inline constexpr char kMetaxSgpuRegisterAnnotation[] = "metax-tech.com/node-gpu-devices";
inline constexpr char kMetaxSgpuToAllocateAnnotation[] = "hami.io/metax-sgpu-devices-to-allocate";
inline constexpr char kMetaxSgpuAllocatedAnnotation[] = "hami.io/metax-sgpu-devices-allocated";
inline constexpr char kMetaxPodDevicesAnnotation[] = "metax-tech.com/gpu-devices-allocated";
inline constexpr char kMetaxPredicateTimeAnnotation[] = "metax-tech.com/predicate-time";
inline constexpr char kMetaxUseUuidAnnotation[] = "metax-tech.com/use-gpuuuid";
inline constexpr char kMetaxNoUseUuidAnnotation[] = "metax-tech.com/nouse-gpuuuid";
inline constexpr char kMetaxQosPolicyAnnotation[] = "metax-tech.com/sgpu-qos-policy";
inline constexpr char kMetaxAppClassAnnotation[] = "metax-tech.com/sgpu-app-class";
// The values HAMi's sGPU webhook accepts (protocol.go).
inline constexpr char kMetaxQosBestEffort[] = "best-effort";
inline constexpr char kMetaxQosFixedShare[] = "fixed-share";
inline constexpr char kMetaxQosBurstShare[] = "burst-share";
inline constexpr char kMetaxAppClassOnline[] = "online";
inline constexpr char kMetaxAppClassOffline[] = "offline";

// What HAMi synthesises per whole card (device.go).
inline constexpr int32_t kMetaxGpuMemoryMib = 65536;
// MiB per unit of metax-tech.com/vmemory written without a unit (GiB), HAMi's MemoryFactor.
inline constexpr int32_t kMetaxSgpuMemoryFactor = 1024;

// ===== Whole cards (Metax-GPU) ===============================================================

// HAMi's GetNodeDevices for whole cards: `count` = node.capacity[`resource`] cards, card i
// being {id "<node.name>-metax-<i>", index i, count 1, 65536 MiB, 100 cores, type
// "Metax-GPU", numa 0, healthy}.
// Failure: NotFound when the capacity is absent or 0 (no MetaX cards: nothing to report);
// InvalidArgument (naming `resource`) when it is not a whole quantity, negative or above
// kMaxSynthesizedDevices (HAMi reads the first two as 0 cards and has no bound).
Result<std::vector<DeviceInfo>> MetaxGpuDevicesFromCapacity(const NodeFacts& node,
                                                            const std::string& resource);

// HAMi's whole-card GenerateResourceRequests: count = metax-tech.com/gpu, limits then requests;
// absent or 0 => no request; each card taken whole (100 % of its memory, 100 cores).
// Failure (InvalidArgument, naming the resource): a count that is not a whole quantity,
// negative or beyond int32 (HAMi silently ignores it).
Result<std::optional<ContainerDeviceRequest>> DeriveMetaxGpuRequest(const MetaxConfig& config,
                                                                    const ResourceList& limits,
                                                                    const ResourceList& requests);

class MetaxGpuVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateMetaxConfig (MakeVendorRegistry checks it).
  explicit MetaxGpuVendor(MetaxConfig config);

  std::string_view CommonWord() const override { return kMetaxGpuCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // HAMi's whole-card fit reads no selection annotation. Never fails; always empty.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // MetaxGpuDevicesFromCapacity(node, metax-tech.com/gpu); same failures.
  Result<std::vector<DeviceInfo>> DecodeNode(const NodeFacts& node) const override;

  // HAMi's whole-card health rule is the capacity being positive; the closest rule here is
  // dropping the cards when the allocatable count falls to 0.
  bool DropsDevicesWhenAllocatableFallsToZero() const override { return true; }

  // HAMi's whole-card LockNode is a no-op and MetaX's plugin never releases
  // hami.io/mutex.lock, so binding a whole-card pod does not take it.
  bool TakesNodeLock() const override { return false; }

 private:
  MetaxConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

// ===== Shared GPUs (Metax-SGPU) ==============================================================

// Decodes metax-tech.com/node-gpu-devices: a JSON array of MetaX device objects
// {"uuid","bdf","model","totalDevCount","totalCompute","totalVRam","availableDevCount",
// "availableCompute","availableVRam","numa","healthy","qosPolicy","linkZone"} (keys matched
// case-insensitively, last duplicate wins, unknown keys ignored, as Go's encoding/json).
// Device i becomes {id uuid, index i, count totalDevCount, devmem totalVRam (MiB), devcore
// totalCompute, type "Metax-SGPU", numa, health healthy}, as HAMi's
// convertMetaxSDeviceToHAMIDevice.
// Failure (InvalidArgument): not JSON, not an array (including `null`), no device, an element
// that is not an object, a field of the wrong JSON type or outside int32, a negative
// totalDevCount/totalCompute/totalVRam, an empty uuid or one containing ',', ':' or ';', a
// uuid listed twice (HAMi accepts it; usage here is per device id).
Result<std::vector<DeviceInfo>> DecodeMetaxSgpuDevices(std::string_view json);

// The value of metax-tech.com/gpu-devices-allocated for a grant (HAMi's
// convertHAMIPodDeviceToMetaxPodDevice + json.Marshal): one JSON array per container group,
// each device {"uuid":...,"compute":<cores>,"vRam":<MiB>}, compute and vRam omitted when 0,
// strings escaped as Go does. Never fails.
std::string EncodeMetaxPodDevices(const PodDevices& devices);

// HAMi's sGPU GenerateResourceRequests:
//   count  = metax-tech.com/sgpu from limits only; absent or 0 => no request.
//   cores  = metax-tech.com/vcore from limits only, percent; absent => 100.
//   memory = metax-tech.com/vmemory from limits only: written without a unit it is GiB
//            (x 1024 MiB); with a unit ("4Gi", "512Mi", "1e9") it is bytes, floored to MiB.
//            0 or absent => 100 % of the device.
// Failure (InvalidArgument, naming the resource): a value that is not a whole quantity,
// negative or beyond int32 after conversion, or cores above 100 (HAMi ignores the first kind,
// drops the request for the second and leaves the third pending forever).
Result<std::optional<ContainerDeviceRequest>> DeriveMetaxSgpuRequest(const MetaxConfig& config,
                                                                     const ResourceList& limits,
                                                                     const ResourceList& requests);

class MetaxSgpuVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateMetaxConfig (MakeVendorRegistry checks it).
  explicit MetaxSgpuVendor(MetaxConfig config);

  std::string_view CommonWord() const override { return kMetaxSgpuCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }
  // HAMi's sGPU MemoryFactor (vmemory without a unit is GiB).
  int32_t MemoryFactor() const override { return kMetaxSgpuMemoryFactor; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // metax-tech.com/use-gpuuuid and metax-tech.com/nouse-gpuuuid
  // (HAMi's CheckUUID precedence). Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // DecodeMetaxSgpuDevices of metax-tech.com/node-gpu-devices.
  // Failure: NotFound without the annotation; InvalidArgument (naming the key) otherwise as
  // DecodeMetaxSgpuDevices.
  Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const override;

  // HAMi's sGPU MutateAdmission, pod-level: metax-tech.com/sgpu-app-class, when set, must be
  // "online" or "offline" and every container asking sGPUs must ask exactly 1; unless the
  // class is "online", metax-tech.com/sgpu-qos-policy must be "best-effort", "fixed-share" or
  // "burst-share", and is set to "best-effort" when absent.
  // Failure: InvalidArgument with HAMi's message.
  Status MutatePodAdmission(const std::vector<ContainerDeviceRequest>& containers,
                            Annotations* pod_annotations) const override;

  // The default keys plus what MetaX's sGPU plugin reads (HAMi's PatchAnnotations):
  // metax-tech.com/gpu-devices-allocated = EncodeMetaxPodDevices(devices) and
  // metax-tech.com/predicate-time = the decision time in nanoseconds since the epoch (HAMi
  // writes time.Now().UnixNano(); ours is decided_unix_seconds * 10^9).
  void AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                              int64_t decided_unix_seconds, Annotations* out) const override;

 private:
  MetaxConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
