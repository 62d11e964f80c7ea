// Vastai accelerators (HAMi's pkg/device/vastai, vendor key "Vastai"): whole-device scheduling
// (spec §1.4).
//
// HAMi's Vastai device plugin registers its devices (whole cards, or the dies of a card in its
// "die" strategy) as JSON under hami.io/node-va-register; the scheduler handshakes on
// hami.io/node-handshake-va (HAMi's common rule) and writes hami.io/Vastai-devices-to-allocate /
// hami.io/Vastai-devices-allocated. Vastai shares the node lock hami.io/mutex.lock, which the
// Vastai plugin releases after Allocate. All functions are pure and thread-safe.
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

// The Vastai vendor key: CommonWord, ContainerDeviceRequest::type and pod-device-string type.
inline constexpr char kVastaiCommonWord[] = "Vastai";

// Wire keys (HAMi's pkg/device/vastai constants); never change.
inline constexpr char kVastaiRegisterAnnotation[] = "hami.io/node-va-register";
inline constexpr char kVastaiHandshakeAnnotation[] = "hami.io/node-handshake-va";
inline constexpr char kVastaiToAllocateAnnotation[] = "hami.io/Vastai-devices-to-allocate";
inline constexpr char kVastaiAllocatedAnnotation[] = "hami.io/Vastai-devices-allocated";
inline constexpr char kVastaiUseUuidAnnotation[] = "vastaitech.com/use-gpuuuid";
inline constexpr char kVastaiNoUseUuidAnnotation[] = "vastaitech.com/nouse-gpuuuid";
// Declared by HAMi but never read by its fit (its type check compares only the vendor key);
// we do not read them either.
inline constexpr char kVastaiUseTypeAnnotation[] = "vastaitech.com/use-va";
inline constexpr char kVastaiNoUseTypeAnnotation[] = "vastaitech.com/nouse-va";

// HAMi's Vastai GenerateResourceRequests: count = vastaitech.com/va, limits then requests;
// absent or 0 => no request. HAMi's Vastai fit checks only health, UUID lists and task slots
// (never memory or cores) and writes 0 MiB and 0 cores per device, so the request asks for no
// memory and no cores: a device is shared by up to its registered count of containers.
// Failure (InvalidArgument, naming the resource): a count that is not a whole quantity,
// negative or beyond int32 (HAMi silently ignores it).
Result<std::optional<ContainerDeviceRequest>> DeriveVastaiRequest(const VastaiConfig& config,
                                                                  const ResourceList& limits,
                                                                  const ResourceList& requests);

// HAMi's Vastai vendor: a slot-only JSON vendor with Vastai's keys (see slot_only.h for what each
// method does; HAMi defines type annotations for Vastai that its fit never reads, nor do we).
class VastaiVendor final : public SlotOnlyJsonVendor {
 public:
  // `config` should satisfy ValidateVastaiConfig (MakeVendorRegistry checks it).
  explicit VastaiVendor(const VastaiConfig& config);
};

}  // namespace hami
