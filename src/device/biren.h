// Biren GPUs (HAMi's pkg/device/biren, vendor key "Biren"): whole-card scheduling (spec §1.4).
//
// The Biren device plugin registers its GPUs as JSON under hami.io/node-biren-register; the
// scheduler handshakes on hami.io/node-handshake-biren (HAMi's common rule) and writes
// hami.io/Biren-devices-to-allocate / hami.io/Biren-devices-allocated. Biren shares the node
// lock hami.io/mutex.lock. All functions are pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/slot_only.h"
#include "device/vendor.h"

namespace hami {

// The Biren vendor key: CommonWord, ContainerDeviceRequest::type and pod-device-string type.
inline constexpr char kBirenCommonWord[] = "Biren";

// Wire keys (HAMi's pkg/device/biren constants); never change.
inline constexpr char kBirenRegisterAnnotation[] = "hami.io/node-biren-register";
inline constexpr char kBirenHandshakeAnnotation[] = "hami.io/node-handshake-biren";
inline constexpr char kBirenToAllocateAnnotation[] = "hami.io/Biren-devices-to-allocate";
inline constexpr char kBirenAllocatedAnnotation[] = "hami.io/Biren-devices-allocated";
inline constexpr char kBirenUseUuidAnnotation[] = "birentech.com/use-gpuuuid";
inline constexpr char kBirenNoUseUuidAnnotation[] = "birentech.com/nouse-gpuuuid";

// HAMi's Biren GenerateResourceRequests: count = birentech.com/gpu, limits then requests;
// absent or 0 => no request. HAMi's Biren fit checks only task slots (never memory or cores)
// and writes 0 MiB and 0 cores per device, so the request asks for no memory and no cores: a
// card is shared by up to its registered count of containers.
// Failure (InvalidArgument): a count that is not a whole quantity, negative or beyond int32
// (HAMi silently ignores it).
Result<std::optional<ContainerDeviceRequest>> DeriveBirenRequest(const BirenConfig& config,
                                                                 const ResourceList& limits,
                                                                 const ResourceList& requests);

// HAMi's Biren vendor: a slot-only JSON vendor with Biren's keys (see slot_only.h for what each
// method does; HAMi defines type annotations for Biren that its fit never reads, nor do we).
class BirenVendor final : public SlotOnlyJsonVendor {
 public:
  // `config` should satisfy ValidateBirenConfig (MakeVendorRegistry checks it).
  explicit BirenVendor(const BirenConfig& config);
};

}  // namespace hami
