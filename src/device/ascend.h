// Huawei Ascend NPUs (HAMi's pkg/device/ascend): one vendor per chip model of the device
// config's `vnpus.configs` list (910A, 910B2, 910B3, 910B4, 910B4-1, 910C, 310P in the chart),
// keyed by the chip's commonWord (e.g. "Ascend910B3"), spec §1.4. Scheduled only when the
// scheduler runs with --enable-ascend (DeviceConfig::enable_ascend), as in HAMi.
//
// Wire format (all keys carry the commonWord <cw>):
//   node  hami.io/node-register-<cw>        JSON DeviceInfo list (HAMi's common form)
//   node  hami.io/node-handshake-<cw>       HAMi's common handshake
//   pod   hami.io/<cw>-devices-to-allocate  device string (as every vendor)
//   pod   hami.io/<cw>-devices-allocated    device string
//   pod   huawei.com/<cw>                   per-NPU runtime info the Ascend device plugin reads:
//         [{"UUID":"<id>","temp":"<template>"}] (template mode; no "temp" for a whole NPU) or
//         [{"UUID":"<id>","memory":<MiB>,"core":<percent>}] (hami-core mode)
//   pod   predicate-time                    decision time, Unix seconds
//   pod   hami.io/use-<cw>-uuid / hami.io/no-use-<cw>-uuid  selection (use list wins)
// Resources: huawei.com/<cw> (NPUs), huawei.com/<cw>-memory (MiB x memoryFactor),
// huawei.com/<cw>-core (percent of one NPU, hami-core mode only).
//
// Two ways of sharing an NPU:
//  - template (hard split, the default): memory is rounded UP to the smallest vNPU template
//    whose memory fits (templates sorted by memory); above the largest template but within
//    memoryCapacity the container takes memoryAllocatable (the whole NPU). As in HAMi, no
//    compute is charged: the chart's templates split compute in proportion to memory, so the
//    memory bound is also the aiCore bound.
//  - hami-core (soft split, vnpus.hamiVnpuCore: true): a container asking a -core amount > 0
//    gets exactly the memory and core percent it asks for. HAMi keys this mode on the pod's
//    huawei.com/vnpu-mode annotation, which the vendor interface does not show to request
//    derivation or the webhook; like HAMi's request derivation (and its later webhook, which
//    infers the annotation from the core request) we key it on the -core request.
//
// 910C super-pod chips (commonWord Ascend910C with superPod: true) hand out NPUs in module pairs
// (2k, 2k+1): a request of 2n NPUs may take only n whole modules (ContainerDeviceRequest::
// index_sets), odd counts above 1 are refused, and the webhook raises a count of 1 to 2.
//
// All functions are pure and thread-safe (the vendor holds immutable configuration).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

inline constexpr char kAscend910CCommonWord[] = "Ascend910C";
// The pod annotation HAMi's Ascend path reads to pick the soft-split (hami-core) mode.
inline constexpr char kAscendVnpuModeAnnotation[] = "huawei.com/vnpu-mode";
// The decision-time annotation HAMi's Ascend PatchAnnotations writes (no prefix, as HAMi).
inline constexpr char kAscendPredicateTimeAnnotation[] = "predicate-time";
// Set to "" on containers that ask no huawei.com/ resource when overwriteEnv is on.
inline constexpr char kAscendVisibleDevicesEnv[] = "ASCEND_VISIBLE_DEVICES";
// NPU indexes a 910C super-pod node may expose in module pairs: 8 modules (16 NPUs), the
// Atlas A3 super-pod server. Devices with a higher index are never taken by a paired request.
inline constexpr int32_t kAscendSuperPodMaxModules = 8;

// What a memory amount rounds to on one chip (HAMi's trimMemory).
struct AscendMemoryTrim {
  int32_t memory_mib = 0;     // the template's memory, or memoryAllocatable for a whole NPU
  std::string template_name;  // "" = the whole NPU
  bool operator==(const AscendMemoryTrim&) const = default;
};

class AscendVendor final : public Vendor {
 public:
  // `chip` should satisfy ValidateAscendConfig (MakeVendorRegistry checks it); its templates are
  // sorted by memory here, as HAMi does at start-up. `hami_vnpu_core` is vnpus.hamiVnpuCore.
  AscendVendor(AscendChipConfig chip, bool hami_vnpu_core);

  // The chip configuration with templates sorted by memory (ascending, stable).
  const AscendChipConfig& Config() const { return config_; }
  bool HamiVnpuCore() const { return hami_vnpu_core_; }
  // Whether NPUs are handed out in module pairs (commonWord Ascend910C and superPod: true, as
  // HAMi gates it).
  bool PairsModules() const { return pairs_modules_; }

  std::string_view CommonWord() const override { return config_.common_word; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }
  int32_t MemoryFactor() const override { return config_.memory_factor; }
  std::string_view RuntimeClassName() const override { return config_.runtime_class_name; }

  // HAMi's trimMemory: the smallest template whose memory is >= `memory_mib`; else
  // memoryAllocatable with no template when `memory_mib` <= memoryCapacity; else nullopt (too
  // large for the chip). Negative amounts round like 0 (the smallest template).
  std::optional<AscendMemoryTrim> TrimMemory(int64_t memory_mib) const;

  // HAMi's Ascend GenerateResourceRequests, each resource looked up in limits then requests:
  //   count  = huawei.com/<cw>; absent or 0 => no request.
  //   cores  = -core amount; > 0 selects hami-core mode (percent, capped at 100 as HAMi's Fit).
  //   memory = -memory x memoryFactor; hami-core: as asked; template mode: TrimMemory's memory.
  //            Absent => 100 % of the NPU.
  //   910C super-pod, count > 1: index_sets = one rule for any device type holding every
  //   choice of count/2 whole modules, lowest module numbers first (HAMi leaves the order
  //   among whole modules to map iteration).
  // Failure (InvalidArgument, naming the resource): a count, memory or core amount that is not
  // a whole non-negative quantity fitting int32 (after memoryFactor); a -core amount > 0 while
  // hamiVnpuCore is off (a hard-split vNPU cannot enforce a core share; HAMi's webhook refuses
  // it too); template-mode memory above memoryCapacity (HAMi's webhook refuses it; its request
  // derivation would silently take the whole NPU); an odd count > 1 on a 910C super-pod.
  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // hami.io/use-<cw>-uuid and hami.io/no-use-<cw>-uuid. Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // hami.io/node-register-<cw> as JSON (HAMi's common DeviceInfo form; the plugin's CustomInfo
  // such as NetworkID is ignored). devcore is set to 100 on every NPU: HAMi's Fit counts core
  // requests against 100 in hami-core mode and charges none in template mode, whatever the
  // plugin registers (its aiCore count).
  // Failure: NotFound without the annotation; InvalidArgument (naming the key) when it does not
  // decode or lists no NPU.
  Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const override;

  // The default device strings plus HAMi's predicate-time and huawei.com/<cw> runtime info
  // (one entry per NPU taken, containers in order). A device with cores charged was placed in
  // hami-core mode (only that mode charges cores) and gets memory/core; the others get the
  // template their memory rounds to. Nothing is written when `devices` holds no NPU.
  void AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                              int64_t decided_unix_seconds, Annotations* out) const override;

  // HAMi's Ascend MutateAdmission for one container:
  //  - without the count in limits: not ours; with overwriteEnv, ASCEND_VISIBLE_DEVICES="" is
  //    set when the container asks no huawei.com/ resource at all (HAMi sets it whenever this
  //    chip is not asked, which would hide the NPUs of a container using another Ascend chip).
  //  - 910C super-pod: a count of 1 becomes 2; other odd counts are refused.
  //  - a -core amount > 0 without hamiVnpuCore is refused.
  //  - memory: hami-core keeps it; template mode rounds it with TrimMemory (too large: refused);
  //    absent: memoryAllocatable. A vNPU (anything but memoryAllocatable) for more than one NPU
  //    is refused, as in HAMi.
  //  - The rounded count and memory are written to limits only where the container's requests
  //    do not name that resource or already hold the new value: the webhook cannot patch
  //    requests, and the API server refuses an extended resource whose request and limit
  //    differ. A 910C count of 1 that cannot be raised so is refused with a message saying to
  //    ask 2. Memory is not rewritten when memoryFactor > 1 (HAMi rounds the unscaled amount
  //    there and then scales the rounded one; the scheduler's own rounding is right).
  //  runtimeClassName comes from RuntimeClassName(). HAMi's hami-core postStart hook (starting
  //  the vNPU limiter) is not injected: ContainerAdmission cannot express it.
  Result<ContainerAdmission> MutateAdmission(std::string_view container_name,
                                             const ResourceList& limits,
                                             const ResourceList& requests) const override;

 private:
  Result<bool> HamiCoreRequested(const ResourceList& limits, const ResourceList& requests) const;

  AscendChipConfig config_;
  bool hami_vnpu_core_ = false;
  bool pairs_modules_ = false;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
  std::string use_uuid_key_;
  std::string no_use_uuid_key_;
  std::string runtime_info_key_;  // huawei.com/<cw>
  // pair_sets_[k]: one rule for any device type holding every set of k whole modules' NPU
  // indexes (k = 0..kAscendSuperPodMaxModules).
  std::vector<std::shared_ptr<const std::vector<IndexSetRule>>> pair_sets_;
};

}  // namespace hami
