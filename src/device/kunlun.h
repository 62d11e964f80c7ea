// Kunlunxin XPUs (HAMi's pkg/device/kunlun): two vendors from one `kunlun:` config section.
//
//  * "kunlun": whole XPUs. Kunlunxin's own device plugin only publishes status.capacity
//    kunlunxin.com/xpu; HAMi synthesises "<node>-kunlun-<i>" devices from it (no handshake, no
//    node lock) and writes only hami.io/kunlun-allocated plus BAIDU_COM_DEVICE_IDX, the index
//    list the plugin reads.
//  * "XPU": vXPUs. HAMi's Kunlun vXPU plugin registers its XPUs as JSON under
//    hami.io/node-register-xpu and handshakes on hami.io/node-handshake-xpu; the scheduler
//    writes hami.io/xpu-devices-to-allocate / -allocated. A vXPU is a quarter, a half or a
//    whole XPU (24576, 49152 or 98304 MiB).
//
// Both follow HAMi's XPU topology (topo.go): 8 XPUs in two wings of 4 (indexes 0-3 and 4-7),
// a container takes 1, 2, 4 or 8 of them, and a multi-XPU container takes devices that are
// interconnected. That rule is expressed as ContainerDeviceRequest::index_sets (see
// KunlunIndexSets). All functions are pure and thread-safe; the vendors hold an immutable
// KunlunConfig.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// Vendor keys: CommonWord, ContainerDeviceRequest::type and pod-device-string type.
inline constexpr char kKunlunCommonWord[] = "kunlun";
inline constexpr char kKunlunVxpuCommonWord[] = "XPU";

// Wire keys (HAMi's pkg/device/kunlun constants); never change.
inline constexpr char kKunlunAllocatedAnnotation[] = "hami.io/kunlun-allocated";
// Pod annotation with the XPU indexes (comma list) Kunlunxin's plugin hands to the container.
inline constexpr char kKunlunDeviceIndexAnnotation[] = "BAIDU_COM_DEVICE_IDX";
inline constexpr char kKunlunUseUuidAnnotation[] = "baidu.com/use-gpuuuid";
inline constexpr char kKunlunNoUseUuidAnnotation[] = "baidu.com/nouse-gpuuuid";
inline constexpr char kXpuRegisterAnnotation[] = "hami.io/node-register-xpu";
inline constexpr char kXpuHandshakeAnnotation[] = "hami.io/node-handshake-xpu";
inline constexpr char kXpuToAllocateAnnotation[] = "hami.io/xpu-devices-to-allocate";
inline constexpr char kXpuAllocatedAnnotation[] = "hami.io/xpu-devices-allocated";
inline constexpr char kXpuUseUuidAnnotation[] = "hami.io/use-xpu-uuid";
inline constexpr char kXpuNoUseUuidAnnotation[] = "hami.io/no-use-xpu-uuid";

// One XPU's memory as HAMi models it (MiB), and the vXPU sizes below it.
inline constexpr int32_t kKunlunXpuMemoryMib = 98304;
inline constexpr int32_t kKunlunQuarterXpuMib = 24576;
inline constexpr int32_t kKunlunHalfXpuMib = 49152;

// The device sets (by DeviceInfo::index) one container asking for `count` XPUs may take, in
// HAMi's preference order; null for a count HAMi's topology never grants (anything but 1, 2,
// 4 or 8). HAMi picks dynamically (graghSelect); this static order keeps its classes:
//   1: any single XPU, lowest index first.
//   2: a pair inside one wing (all 6 pairs of a wing are linked), left wing first; then a
//      cross-wing pair 0-4, 1-5, 2-6, 3-7 (HAMi falls back to these only when no wing has two
//      free XPUs, which is also when none of the in-wing pairs fits).
//   4: a whole wing (left, right); then HAMi's linked quads 0-1-4-5, 2-3-6-7, 0-2-4-6,
//      1-3-5-7, 0-3-4-7, 1-2-5-6.
//   8: all of 0..7.
// Where HAMi's choice depends on occupancy and a static list cannot follow it: HAMi prefers
// the wing with the fewest free XPUs that still fit (best fit, to keep the other wing whole)
// and, for 4 XPUs with 6 free, the quad that leaves a linked pair; we take the first set in
// the order above. Both stay inside HAMi's allowed sets; only the pick among them may differ.
// One rule for any device type (IndexSetRule::device_type empty) holding these sets. The
// returned object is shared and immutable.
std::shared_ptr<const std::vector<IndexSetRule>> KunlunIndexSets(int32_t count);

// The whole XPUs HAMi's Kunlun GetNodeDevices synthesises for node `node.name` from capacity
// `config.resource_count_name`: "<node>-kunlun-<i>" for i in [0, capacity), index i, count
// 100, devmem 98304, devcore 100, type "kunlun", healthy, numa 1 for the upper half
// (i >= capacity / 2), else 0.
// Failure: NotFound when the capacity is absent or 0; InvalidArgument naming the resource for
// a value that is not a whole non-negative quantity or more than kMaxSynthesizedDevices.
Result<std::vector<DeviceInfo>> SynthesizeKunlunDevices(const KunlunConfig& config,
                                                        const NodeFacts& node);

// HAMi's Kunlun GenerateResourceRequests: count = kunlunxin.com/xpu (limits then requests);
// absent or 0 => no request. An XPU is taken whole: 100 % of its memory and 100 % of its
// cores, which is what HAMi writes in the device string (<uuid>,kunlun,98304,100) and keeps
// any other container off the XPU (HAMi's FitXPU: used == 0). index_sets = KunlunIndexSets.
// Failure (InvalidArgument, naming the resource): not a whole quantity, negative, beyond
// int32, or a count other than 1, 2, 4 or 8 (HAMi accepts it and never fits it).
Result<std::optional<ContainerDeviceRequest>> DeriveKunlunRequest(const KunlunConfig& config,
                                                                  const ResourceList& limits,
                                                                  const ResourceList& requests);

// The memory HAMi gives a vXPU asking `memory_mib`: the smallest of 24576, 49152 that holds it,
// else 98304 (HAMi's trimMemory; so a request beyond one XPU still asks for one XPU).
int64_t KunlunVxpuMemoryMib(int64_t memory_mib);

// HAMi's Kunlun vXPU GenerateResourceRequests: count = kunlunxin.com/vxpu (limits then
// requests); absent or 0 => no request. memory = KunlunVxpuMemoryMib(kunlunxin.com/vxpu-memory,
// limits then requests), cores = memory * 100 / 98304 (25, 50 or 100); without a memory
// resource the vXPU is a whole XPU (98304 MiB, 100 cores). index_sets = KunlunIndexSets.
// Failure (InvalidArgument, naming the resource): a value that is not a whole quantity or
// is negative (HAMi reads a bad memory value as "no memory": a whole XPU), a count beyond
// int32, or a count other than 1, 2, 4 or 8.
// Differs from HAMi: HAMi's FitVXPU also keeps every vXPU on one XPU the same size (a second
// vXPU fits only when the XPU's used memory per vXPU equals its own); the generic counters
// cannot say that, so we may put a half and two quarters on one XPU. Memory and cores are
// never over-committed either way.
Result<std::optional<ContainerDeviceRequest>> DeriveKunlunVxpuRequest(const KunlunConfig& config,
                                                                      const ResourceList& limits,
                                                                      const ResourceList& requests);

// Whole XPUs (vendor key "kunlun").
class KunlunVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateKunlunConfig (MakeVendorRegistry checks it).
  explicit KunlunVendor(KunlunConfig config);

  std::string_view CommonWord() const override { return kKunlunCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  // Only `allocated` (hami.io/kunlun-allocated): no registration annotation, no handshake, no
  // to-allocate key.
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // baidu.com/use-gpuuuid and baidu.com/nouse-gpuuuid. Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // SynthesizeKunlunDevices.
  Result<std::vector<DeviceInfo>> DecodeNode(const NodeFacts& node) const override;

  // hami.io/kunlun-allocated = the device string, and BAIDU_COM_DEVICE_IDX = the indexes
  // ("<node>-kunlun-<i>" -> i) of the last container that got XPUs, comma-separated (HAMi
  // overwrites the key per container, so the last one wins). Nothing when no container got
  // an XPU.
  void AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                              int64_t decided_unix_seconds, Annotations* out) const override;

 private:
  KunlunConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

// vXPUs (vendor key "XPU"). The webhook uses the default MutateAdmission (a vxpu count in limits
// makes the pod ours, limits unchanged). HAMi's also rewrites the memory limit and request to
// the rounded vXPU size; the webhook patches limits only, and an extended resource whose limit
// differs from its request is refused by the API server, so the rounding happens only in the
// request (and so in the device string).
class KunlunVxpuVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateKunlunConfig (MakeVendorRegistry checks it).
  explicit KunlunVxpuVendor(KunlunConfig config);

  std::string_view CommonWord() const override { return kKunlunVxpuCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // hami.io/use-xpu-uuid and hami.io/no-use-xpu-uuid. Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // Decodes hami.io/node-register-xpu (JSON).
  // Failure: NotFound without the annotation; InvalidArgument when it does not decode or lists
  // no device.
  Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const override;

 private:
  KunlunConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
