// Moore Threads GPUs (HAMi's pkg/device/mthreads, vendor key "Mthreads"): sGPU devices
// synthesised from node capacity, resource derivation, webhook admission and the pod
// annotations Moore Threads' device plugin reads (spec §1.4).
//
// Moore Threads' device plugin publishes only extended resources: status.capacity
// mthreads.com/sgpu-core (16 core groups per card) and mthreads.com/sgpu-memory (units of
// 512 MiB, all cards together); HAMi turns them into cards "<node>-mthreads-<i>", i the
// physical card ids of the node label mthreads.com/sgpu.cores when present. There is no
// handshake and no node lock of its own. The scheduler writes only
// hami.io/mthreads-vgpu-devices-allocated (HAMi defines a to-allocate key but never writes it)
// plus mthreads.com/gpu-index, mthreads.com/predicate-node, mthreads.com/predicate-time and,
// for a multi-card container, mthreads.com/request-gpu-num. All functions are pure and
// thread-safe; MthreadsVendor holds an immutable MthreadsConfig.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// The Moore Threads vendor key: CommonWord, ContainerDeviceRequest::type, device type and
// pod-device-string type.
inline constexpr char kMthreadsCommonWord[] = "Mthreads";

// Wire keys (HAMi's pkg/device/mthreads constants); never change.
inline constexpr char kMthreadsAllocatedAnnotation[] = "hami.io/mthreads-vgpu-devices-allocated";
// Registered by HAMi, never written by it; kept for reference, unused.
inline constexpr char kMthreadsToAllocateAnnotation[] = "hami.io/mthreads-vgpu-devices-to-allocate";
inline constexpr char kMthreadsUseUuidAnnotation[] = "mthreads.ai/use-gpuuuid";
inline constexpr char kMthreadsNoUseUuidAnnotation[] = "mthreads.ai/nouse-gpuuuid";
inline constexpr char kMthreadsGpuIndexAnnotation[] = "mthreads.com/gpu-index";
inline constexpr char kMthreadsPredicateNodeAnnotation[] = "mthreads.com/predicate-node";
inline constexpr char kMthreadsPredicateTimeAnnotation[] = "mthreads.com/predicate-time";
inline constexpr char kMthreadsRequestGpuNumAnnotation[] = "mthreads.com/request-gpu-num";
// The whole-card resource Moore Threads' own plugin serves outside HAMi's accounting; a
// container may not mix it with sGPU resources (HAMi refuses the mix at admission).
inline constexpr char kMthreadsWholeGpuResource[] = "mthreads.com/gpu";
// Node label listing the physical ids of the cards bound to Moore Threads' sGPU driver
// (sgpu_km), '-'-separated, e.g. "0-2-3" (HAMi's SGPUCoresLabel). Its device plugin consumes
// mthreads.com/gpu-index as these ids.
inline constexpr char kMthreadsSgpuCoresLabel[] = "mthreads.com/sgpu.cores";
// Core groups per card and the memory resource's unit.
inline constexpr int32_t kMthreadsCoresPerCard = 16;
inline constexpr int32_t kMthreadsMemoryUnitMib = 512;

// HAMi's Moore Threads GenerateResourceRequests on the container as its webhook leaves it,
// each resource looked up in limits then requests:
//   count  = the count resource (mthreads.com/vgpu); absent or 0 => no request.
//   count > 1, or no memory resource => whole cards: all 16 core groups and 100 % of the
//            memory of each card (HAMi's webhook writes 16 * count core groups and
//            memoryPerCard * count units for these; the card's own memory is what that
//            stands for, also on cards of another size).
//   else   memory = the memory resource * 512 MiB, cores = the core resource (core groups,
//            default 0).
// Failure (InvalidArgument, naming the resource): a value that is not a whole quantity,
// negative or beyond int32 after the unit.
Result<std::optional<ContainerDeviceRequest>> DeriveMthreadsRequest(const MthreadsConfig& config,
                                                                    const ResourceList& limits,
                                                                    const ResourceList& requests);

// The memory resource values HAMi's webhook accepts for a one-card share: for each card size
// in config.memory_per_card_units (units of 512 MiB, see MthreadsVendor), the powers of two from
// 2 below it and the size itself; the union over sizes, ascending.
std::vector<int64_t> MthreadsLegalMemoryUnits(const MthreadsConfig& config);

// The physical card ids of a kMthreadsSgpuCoresLabel value, in its order: non-negative
// integers separated by '-' (',' is accepted too), blanks around an id ignored.
// Failure: InvalidArgument naming the label for an empty id, a non-digit, an id beyond int32
// or a repeated id.
Result<std::vector<int32_t>> ParseMthreadsCardIds(std::string_view value);

// The cards HAMi's Moore Threads GetNodeDevices synthesises for node `node.name`: one card per
// started 16 of the capacity of the core resource (`cores`), count 100, devcore 16, type
// "Mthreads", healthy, devmem = sgpu-memory * 512 * 16 / cores MiB (sgpu-memory absent = 0).
// With a non-empty kMthreadsSgpuCoresLabel, the k-th card is physical card id_k of the label:
// "<node>-mthreads-<id_k>", index id_k (so mthreads.com/gpu-index carries physical ids);
// without it (or empty), card i is "<node>-mthreads-<i>", index i (HAMi's fallback).
// Failure: NotFound when the core resource is absent or 0; InvalidArgument naming the
// resource for a value that is not a whole non-negative quantity, more than
// kMaxSynthesizedDevices cards, or a per-card memory beyond int32; InvalidArgument naming the
// label when it does not parse (ParseMthreadsCardIds) or its id count times 16 is not the core
// capacity (HAMi's "sgpu capacity mismatch").
Result<std::vector<DeviceInfo>> SynthesizeMthreadsDevices(const MthreadsConfig& config,
                                                          const NodeFacts& node);

class MthreadsVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateMthreadsConfig (MakeVendorRegistry checks it). Its
  // memory_per_card_units holds HAMi's memoryPerCard, whose unit is 512 MiB (96 = a 48 GiB MTT
  // S4000), whatever the field's name says.
  explicit MthreadsVendor(MthreadsConfig config);

  std::string_view CommonWord() const override { return kMthreadsCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // mthreads.ai/use-gpuuuid and mthreads.ai/nouse-gpuuuid. Never
  // fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // SynthesizeMthreadsDevices with this vendor's config.
  Result<std::vector<DeviceInfo>> DecodeNode(const NodeFacts& node) const override;

  // HAMi's Moore Threads MutateAdmission: the count resource in limits makes the pod ours.
  // With more than one card, or without a memory limit, the container is given whole cards:
  // the core limit becomes 16 * count and, when one card size is configured, the memory limit
  // memoryPerCard * count (with several sizes it is left unset: the fit takes each card's
  // whole memory). Otherwise the memory limit must be one of MthreadsLegalMemoryUnits.
  // Failure: InvalidArgument for an illegal memory size, for mthreads.com/gpu mixed with the
  // sGPU resources in one container, or an unusable request.
  Result<ContainerAdmission> MutateAdmission(std::string_view container_name,
                                             const ResourceList& limits,
                                             const ResourceList& requests) const override;

  // hami.io/mthreads-vgpu-devices-allocated, and for the containers that got devices (the last
  // one wins, as in HAMi): mthreads.com/gpu-index (their indexes, comma-separated),
  // mthreads.com/predicate-node (`node`), mthreads.com/predicate-time (the decision time in
  // Unix nanoseconds), and mthreads.com/request-gpu-num (the card count) when a container got
  // more than one card (HAMi's webhook writes that one; the plugin reads it after bind).
  void AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                              int64_t decided_unix_seconds, Annotations* out) const override;

 private:
  MthreadsConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
