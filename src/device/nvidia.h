// NVIDIA: resource derivation (§2.1), selection annotations (§2.3), registration decoding
// (§1.1) and the webhook's resource defaulting (§3.4 note, §4 step 3).
//
// All functions are pure and thread-safe; NvidiaVendor holds an immutable NvidiaConfig.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/annotations.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// The NVIDIA vendor key: CommonWord, ContainerDeviceRequest::type and pod-device-string type.
inline constexpr char kNvidiaCommonWord[] = "NVIDIA";

struct NvidiaRequestDerivation {
  // nullopt: the container does not use NVIDIA (no count resource, or a count of 0).
  std::optional<ContainerDeviceRequest> request;
  // Inputs that were ignored or clamped the way HAMi silently does, one sentence each, for
  // logs/events (e.g. `nvidia.com/gpumem "1.5" ignored: ...`). Empty when nothing was.
  std::vector<std::string> warnings;
};

// HAMi's GenerateResourceRequests, each resource looked up in limits then requests:
//   count   = nvidia.com/gpu; absent or 0 => no request.
//   memory  = gpumem * memoryFactor (MiB); a value that is not an int64 quantity (in Go's
//             AsInt64 sense), negative, or over int32 after the factor is ignored (=> 0),
//             with a warning, as HAMi ignores it.
//   percent = gpumem-percentage; > 100 clamped to 100; <= 0 or unparsable => unset (101).
//   if neither memory nor percent: memory = defaultMemory when non-zero, else percent = 100.
//   cores   = gpucores, else defaultCores; > 100 clamped to 100 (HAMi clamps in Fit);
//             negative or unparsable => defaultCores, with a warning.
// Failure (InvalidArgument): a count that is not an integer quantity, negative, or > int32 max
// (HAMi would silently not schedule the container on a GPU; we say why).
Result<NvidiaRequestDerivation> DeriveNvidiaRequest(const NvidiaConfig& config,
                                                    const ResourceList& limits,
                                                    const ResourceList& requests);

// The webhook's "whole card is exclusive" rule: true when the container has a count resource,
// no cores resource, and either gpumem-percentage parses to exactly 100 or it has neither
// gpumem nor gpumem-percentage. (Presence is checked in limits, then requests.)
bool NeedsWholeCardCores(const NvidiaConfig& config, const ResourceList& limits,
                         const ResourceList& requests);

// The container limits after the webhook's NVIDIA defaulting, in HAMi's order:
//   1. no count but gpumem/gpucores/percentage present and defaultGPUNum > 0
//      => limits[count] = defaultGPUNum;
//   2. NeedsWholeCardCores => limits[cores] = "100".
// Returns a modified copy of `limits`; `requests` is only read.
ResourceList ApplyNvidiaWebhookDefaults(const NvidiaConfig& config, const ResourceList& limits,
                                        const ResourceList& requests);

// DeriveNvidiaRequest on the resources as the scheduler sees them after the webhook mutated the
// pod: DeriveNvidiaRequest(config, ApplyNvidiaWebhookDefaults(config, limits, requests),
// requests). Failure: as DeriveNvidiaRequest.
Result<NvidiaRequestDerivation> DeriveNvidiaRequestAfterWebhook(const NvidiaConfig& config,
                                                                const ResourceList& limits,
                                                                const ResourceList& requests);

// Parses the NVIDIA selection annotations (§2.3): use/nouse-gputype and use/nouse-gpuuuid as
// trimmed comma lists (empty pieces dropped), vgpu-mode trimmed, numa-bind with Go ParseBool
// after trimming (empty or absent => false).
// Failure (InvalidArgument): a numa-bind value ParseBool rejects, quoted.
Result<DeviceSelectors> ParseNvidiaSelectors(const Annotations& pod_annotations);

class NvidiaVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateNvidiaConfig (MakeVendorRegistry checks it).
  explicit NvidiaVendor(NvidiaConfig config);

  const NvidiaConfig& Config() const { return config_; }

  std::string_view CommonWord() const override { return kNvidiaCommonWord; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }
  int32_t MemoryFactor() const override { return config_.memory_factor; }

  // DeriveNvidiaRequest(Config(), ...).request; warnings are dropped (use DeriveNvidiaRequest
  // directly to report them).
  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // Decodes hami.io/node-nvidia-register (JSON, or the legacy colon form).
  Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const override;

  // HAMi's NVIDIA MutateAdmission (spec §4 step 3): a container with none of the NVIDIA
  // resources only gets NVIDIA_VISIBLE_DEVICES=none when overwriteEnv is set; otherwise
  // gpumem-percentage and gpucores must be whole numbers in 0..100, the request must derive
  // without warnings, the defaults of ApplyNvidiaWebhookDefaults are written back (when a
  // device is asked for), and CUDA_TASK_PRIORITY / GPU_CORE_UTILIZATION_POLICY env are set.
  Result<ContainerAdmission> MutateAdmission(std::string_view container_name,
                                             const ResourceList& limits,
                                             const ResourceList& requests) const override;
  std::string_view RuntimeClassName() const override { return config_.runtime_class_name; }
  bool DropsDevicesWhenAllocatableFallsToZero() const override { return true; }

  // The default, plus the MIG instances of hami.io/vgpu-mig-allocations attached to the
  // devices. A MIG value that does not decode or does not match the device string is left
  // out rather than failing the pod: its devices still count, and a MIG device used without
  // a known instance is taken out of service by the ledger.
  Result<std::optional<PodDevices>> DecodeAllocation(
      const Annotations& pod_annotations) const override;
  // The default's device strings, plus hami.io/vgpu-mig-allocations when a device is in "mig"
  // mode (the plugin creates those instances).
  void AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                              int64_t decided_unix_seconds, Annotations* out) const override;
  std::string_view PairScoresAnnotation() const override { return kNodeNvidiaScoreAnnotation; }

 private:
  NvidiaConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
