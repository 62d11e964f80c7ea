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

// Checks one device against one request: health, cordon, type/mode, UUID, task slots,
// mutex policy, memory, cores, the exclusive (cores == 100) rule and exhausted compute.
// NUMA is a property of a device *set* and is handled by FitContainer.
// Returns nullopt when the device can take the request.
std::optional<FitReason> CheckDevice(const DeviceUsage& device,
                                     const ContainerDeviceRequest& request,
                                     const DeviceSelectors& selectors, bool mutex_policy);

// Whether the device's type and mode pass the selectors (used by CheckDevice; exposed for
// policies that pre-filter devices by type).
bool TypeAllowed(const DeviceInfo& device, const DeviceSelectors& selectors);

// Memory and cores a request takes on `device` (cores clamped to 100).
struct ResolvedDemand {
  int64_t memory_mib = 0;
  int32_t cores_percent = 0;
};
ResolvedDemand ResolveDemand(const DeviceUsage& device, const ContainerDeviceRequest& request);

// HAMi's container fit: `order` lists device indexes in policy order (see score.h); devices
// are tried from the last element of `order` to the first and the first `request.count`
// that pass are chosen (one container never gets the same device twice). With
// `selectors.numa_bind`, a run of candidates that crosses a NUMA boundary restarts.
// On success returns the chosen device indexes (in choice order); on failure fills
// `failure` (if non-null) and returns nullopt.
std::optional<std::vector<int>> FitContainer(std::span<const DeviceUsage> devices,
                                             std::span<const int> order,
                                             const ContainerDeviceRequest& request,
                                             const DeviceSelectors& selectors, bool mutex_policy,
                                             FitFailure* failure);

// FitContainer's verdict without choosing devices: whether at least `request.count` devices
// pass CheckDevice. Without `selectors.numa_bind` the verdict and, on failure, `failure` are
// the same as FitContainer's under every order (a failing walk visits every device), so a
// policy can rank nodes before it pays for ordering the devices of the one it picks.
// Must not be used with numa_bind (NUMA runs depend on the order).
bool ContainerFitsAnyOrder(std::span<const DeviceUsage> devices,
                           const ContainerDeviceRequest& request, const DeviceSelectors& selectors,
                           bool mutex_policy, FitFailure* failure);

// Adds (sign = +1) or removes (sign = -1) a request's resolved demand on a device.
void ApplyDemand(DeviceUsage& device, const ResolvedDemand& demand, int sign);

}  // namespace hami::policy
