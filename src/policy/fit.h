// HAMi's per-container device fit (spec §3.4), as pure functions.
//
// The rules decide *which* devices may serve a request; they are the only place that
// decides feasibility, so every placement policy (HAMi's and ours) calls them and can
// never place a container where HAMi would not. Thread-safe: no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "device/device.h"

namespace hami::policy {

// Why a device (or node) could not take a request. Names are the strings kube-scheduler
// shows in FailedNodes, identical to HAMi's.
enum class FitReason : uint8_t {
  kCardTypeMismatch,
  kCardUuidMismatch,
  kCardTimeSlicingExhausted,
  kCardComputeUnitsExhausted,
  kCardInsufficientMemory,
  kCardInsufficientCore,
  kCardNotHealth,
  kCardCordoned,
  kNumaNotFit,
  kExclusiveDeviceAllocateConflict,
  kNodeInsufficientDevice,
  kAllocatedCardsInsufficientRequest,
  kCardMigTopologyInfeasible,
  kResourceQuotaNotFit,  // the pod would take its namespace over a ResourceQuota (scheduler)
  // Ours, not HAMi's: the GPU is in MIG mode and the pod's nvidia.com/vgpu-mode does not name
  // mig (see MigModeAllowed).
  kCardMigModeNotRequested,
  kCount,  // not a reason
};

std::string_view FitReasonName(FitReason reason);

// Per-reason counts over the devices of one node; renders as HAMi's
// "<cnt>/<total> <Reason>, ..." (reasons sorted by name).
struct FitFailure {
  std::array<int32_t, static_cast<size_t>(FitReason::kCount)> counts{};
  int32_t total_devices = 0;

  void Add(FitReason reason) { ++counts[static_cast<size_t>(reason)]; }
  std::string ToString() const;
};

// The MIG instance a use of a device in "mig" mode takes (HAMi's selectMigCandidate): among
// the device's profiles with at least the requested memory, smallest memory first, then fewest
// slices, the first placement of that profile that overlaps no occupied placement.
// Which placement of the chosen profile a new instance takes (policy/mig_place.h): HAMi's first
// free one, or the one that keeps free slices contiguous. Both choose the same profile and
// succeed on the same device states.
enum class MigPlacementRule : uint8_t {
  kFirstFit,  // HAMi's selectMigCandidate: first free placement in NVML's order
  kCompact,   // least headroom lost for larger profiles, then lowest start
};

struct MigPick {
  std::string profile;
  int32_t memory_mib = 0;  // the profile's: what the use is charged
  int32_t core = 0;
  MigPlacement placement;
};
// `occupied` and `also_occupied` together are the placements already taken.
std::optional<MigPick> SelectMigInstance(const DeviceInfo& device,
                                         std::span<const MigPlacement> occupied,
                                         std::span<const MigPlacement> also_occupied,
                                         int64_t memory_mib);

// Checks one device against one request: vendor (DeviceUsage::vendor vs request.type, as
// CardTypeMismatch), health, cordon, a device in "mig" mode the pod does not ask for
// (CardMigModeNotRequested), type/mode, UUID, task slots,
// mutex policy, memory, cores, the exclusive (cores == 100) rule, exhausted compute and, on a
// device in "mig" mode, a free MIG instance (CardMigTopologyInfeasible).
// NUMA is a property of a device *set* and is handled by FitContainer.
// Returns nullopt when the device can take the request.
std::optional<FitReason> CheckDevice(const DeviceUsage& device,
                                     const ContainerDeviceRequest& request,
                                     const DeviceSelectors& selectors, bool mutex_policy);

// Whether the device's type and mode pass the selectors (used by CheckDevice; exposed for
// policies that pre-filter devices by type). Includes MigModeAllowed.
bool TypeAllowed(const DeviceInfo& device, const DeviceSelectors& selectors);

// Whether a pod with these selectors may use a device in "mig" mode: its vgpu_mode names mig,
// or it is empty and selectors.mig_without_mode (HAMi's rule, hami-scheduler
// --mig-unannotated-pods allow). Stricter than HAMi by default: an unannotated pod never lands
// on a MIG GPU.
bool MigModeAllowed(const DeviceSelectors& selectors);

// Memory and cores a request takes on `device` (cores clamped to 100).
struct ResolvedDemand {
  int64_t memory_mib = 0;
  int32_t cores_percent = 0;
};
ResolvedDemand ResolveDemand(const DeviceUsage& device, const ContainerDeviceRequest& request);

// HAMi's container fit: `order` lists device indexes in policy order (see score.h); devices
// are tried from the last element of `order` to the first and the first `request.count`
// that pass are chosen (one container never gets the same device twice, except a device in
// "mig" mode, which serves as many uses as it has free instances, as in HAMi). With
// `selectors.numa_bind`, a run of candidates that crosses a NUMA boundary restarts.
// `mig_rule` places the repeated instances of a MIG device (as PickMigInstances must later).
// On success returns the chosen device indexes (in choice order); on failure fills
// `failure` (if non-null) and returns nullopt.
std::optional<std::vector<int>> FitContainer(
    std::span<const DeviceUsage> devices, std::span<const int> order,
    const ContainerDeviceRequest& request, const DeviceSelectors& selectors, bool mutex_policy,
    FitFailure* failure, MigPlacementRule mig_rule = MigPlacementRule::kFirstFit);

// FitContainer's verdict without choosing devices: whether at least `request.count` devices
// pass CheckDevice. Without `selectors.numa_bind` the verdict and, on failure, `failure` are
// the same as FitContainer's under every order (a failing walk visits every device), so a
// policy can rank nodes before it pays for ordering the devices of the one it picks.
// Must not be used with numa_bind (NUMA runs depend on the order) nor on devices in "mig"
// mode (one device may serve several uses).
bool ContainerFitsAnyOrder(std::span<const DeviceUsage> devices,
                           const ContainerDeviceRequest& request, const DeviceSelectors& selectors,
                           bool mutex_policy, FitFailure* failure);

// The MIG instances `chosen` (one container's devices, in choice order) take, given the
// placements each device already has in use, placed by `mig_rule`: nullopt for devices not in
// "mig" mode. Fails (returns nullopt) when a MIG device has no free instance left for its use.
std::optional<std::vector<std::optional<MigPick>>> PickMigInstances(
    std::span<const DeviceUsage> devices, std::span<const int> chosen,
    const ContainerDeviceRequest& request, MigPlacementRule mig_rule = MigPlacementRule::kFirstFit);

// Whether a device in "mig" mode that `selectors` may use (TypeAllowed) is among `devices` (HAMi
// skips the "more devices asked than the node has" check for such nodes: one MIG GPU can serve
// several).
bool HasMigDevice(std::span<const DeviceUsage> devices, const DeviceSelectors& selectors);

// Adds (sign = +1) or removes (sign = -1) a request's resolved demand on a device.
void ApplyDemand(DeviceUsage& device, const ResolvedDemand& demand, int sign);

}  // namespace hami::policy
