// Iluvatar CoreX GPUs (HAMi's pkg/device/iluvatar): one vendor per chip model of the device
// config's `iluvatars:` list, keyed by the chip's commonWord (e.g. "BI-V150"), spec §1.2, §1.4.
//
// The plugin registers in the legacy colon form under hami.io/node-<commonWord>-register; the
// scheduler handshakes on hami.io/node-handshake-<commonWord> and writes
// hami.io/<commonWord>-devices-to-allocate / -allocated. Memory is requested in units of
// 256 MiB, cores in percent. Devices are selected by UUID only (hami.io/use-<commonWord>-uuid,
// hami.io/no-use-<commonWord>-uuid). All functions are pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// MiB per unit of an Iluvatar memory resource (.vMem).
inline constexpr int32_t kIluvatarMemoryUnitMib = 256;
// The env var HAMi's Iluvatar webhook sets to the container name (its spelling, kept).
inline constexpr char kIluvatarContainerNameEnv[] = "SOL_CONTINER_NAME";

// HAMi's Iluvatar GenerateResourceRequests, each resource looked up in limits then requests:
//   count  = the chip's -vgpu resource; absent or 0 => no request.
//   memory = .vMem * 256 MiB; absent or 0 => 100 % of the device.
//   cores  = .vCore, else 0.
// Failure (InvalidArgument): a value that is not a whole quantity, negative, or beyond int32
// (after the unit); HAMi silently ignores such values.
Result<std::optional<ContainerDeviceRequest>> DeriveIluvatarRequest(const IluvatarConfig& config,
                                                                    const ResourceList& limits,
                                                                    const ResourceList& requests);

class IluvatarVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateIluvatarConfig (MakeVendorRegistry checks it).
  explicit IluvatarVendor(IluvatarConfig config);

  const IluvatarConfig& Config() const { return config_; }

  std::string_view CommonWord() const override { return config_.common_word; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }
  int32_t MemoryFactor() const override { return kIluvatarMemoryUnitMib; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // hami.io/use-<commonWord>-uuid and hami.io/no-use-<commonWord>-uuid
  // (comma lists, trimmed). No type, mode or NUMA selection. Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // Legacy colon form only; NotFound without the annotation, InvalidArgument when it does not
  // decode or lists no device.
  Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const override;

  // HAMi's Iluvatar MutateAdmission: a count in limits makes the pod ours; a count above 1
  // sets the cores limit to count * 100 (whole cards); SOL_CONTINER_NAME=<container name> is
  // added unless the container has it or has no name.
  Result<ContainerAdmission> MutateAdmission(std::string_view container_name,
                                             const ResourceList& limits,
                                             const ResourceList& requests) const override;

 private:
  IluvatarConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
  std::string use_uuid_key_;
  std::string no_use_uuid_key_;
};

}  // namespace hami
