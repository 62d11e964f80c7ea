#include "policy/fit.h"

#include <algorithm>
#include <map>

#include "common/strings.h"
#include "policy/mig_place.h"

namespace hami::policy {

std::string_view FitReasonName(FitReason reason) {
  switch (reason) {
    case FitReason::kCardTypeMismatch:
      return "CardTypeMismatch";
    case FitReason::kCardUuidMismatch:
      return "CardUuidMismatch";
    case FitReason::kCardTimeSlicingExhausted:
      return "CardTimeSlicingExhausted";
    case FitReason::kCardComputeUnitsExhausted:
      return "CardComputeUnitsExhausted";
    case FitReason::kCardInsufficientMemory:
      return "CardInsufficientMemory";
    case FitReason::kCardInsufficientCore:
      return "CardInsufficientCore";
    case FitReason::kCardNotHealth:
      return "CardNotHealth";
    case FitReason::kCardCordoned:
      return "CardCordoned";
    case FitReason::kNumaNotFit:
      return "NumaNotFit";
    case FitReason::kExclusiveDeviceAllocateConflict:
      return "ExclusiveDeviceAllocateConflict";
    case FitReason::kNodeInsufficientDevice:
      return "NodeInsufficientDevice";
    case FitReason::kAllocatedCardsInsufficientRequest:
      return "AllocatedCardsInsufficientRequest";
    case FitReason::kCardMigTopologyInfeasible:
      return "CardMigTopologyInfeasible";
    case FitReason::kResourceQuotaNotFit:
      return "ResourceQuotaNotFit";
    case FitReason::kCardMigModeNotRequested:
      return "CardMigModeNotRequested";
    case FitReason::kCount:
      break;
  }
  return "Unknown";
}

std::string FitFailure::ToString() const {
  std::vector<std::pair<std::string_view, int32_t>> items;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0) items.emplace_back(FitReasonName(static_cast<FitReason>(i)), counts[i]);
  }
  std::sort(items.begin(), items.end());
  std::string out;
  for (const auto& [name, count] : items) {
    if (!out.empty()) out += ", ";
    out += std::to_string(count) + "/" + std::to_string(total_devices) + " " + std::string(name);
  }
  return out;
}

namespace {

bool ContainsExact(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

bool MigModeAllowed(const DeviceSelectors& selectors) {
  if (selectors.vgpu_mode.empty()) return selectors.mig_without_mode;
  return selectors.vgpu_mode.find(kModeMig) != std::string::npos;
}

bool TypeAllowed(const DeviceInfo& device, const DeviceSelectors& selectors) {
  if (device.mode == kModeMig && !MigModeAllowed(selectors)) return false;
  if (!selectors.use_types.empty()) {
    bool any =
        std::any_of(selectors.use_types.begin(), selectors.use_types.end(),
                    [&](const std::string& t) { return ContainsIgnoreCase(device.type, t); });
    if (!any) return false;
  }
  for (const std::string& t : selectors.nouse_types) {
    if (ContainsIgnoreCase(device.type, t)) return false;
  }
  // HAMi: the device mode must be a substring of the pod's vgpu-mode annotation value.
  if (!selectors.vgpu_mode.empty() && selectors.vgpu_mode.find(device.mode) == std::string::npos) {
    return false;
  }
  return true;
}

ResolvedDemand ResolveDemand(const DeviceUsage& device, const ContainerDeviceRequest& request) {
  ResolvedDemand demand;
  demand.memory_mib = request.ResolveMemoryMib(device.info.devmem_mib);
  demand.cores_percent = std::min(request.cores_percent, 100);
  return demand;
}

std::optional<MigPick> SelectMigInstance(const DeviceInfo& device,
                                         std::span<const MigPlacement> occupied,
                                         std::span<const MigPlacement> also_occupied,
                                         int64_t memory_mib) {
  std::vector<const MigProfile*> candidates;
  for (const MigProfile& profile : device.mig_profiles) {
    if (profile.memory_mib >= memory_mib) candidates.push_back(&profile);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const MigProfile* a, const MigProfile* b) {
                     if (a->memory_mib != b->memory_mib) return a->memory_mib < b->memory_mib;
                     return a->slice_count < b->slice_count;
                   });
  auto taken = [&](const MigPlacement& p) {
    auto overlaps = [&](const MigPlacement& o) { return o.Overlaps(p); };
    return std::any_of(occupied.begin(), occupied.end(), overlaps) ||
           std::any_of(also_occupied.begin(), also_occupied.end(), overlaps);
  };
  for (const MigProfile* profile : candidates) {
    for (const MigPlacement& placement : profile->placements) {
      if (!taken(placement)) {
        return MigPick{profile->name, profile->memory_mib, profile->core, placement};
      }
    }
  }
  return std::nullopt;
}

std::optional<FitReason> CheckDevice(const DeviceUsage& device,
                                     const ContainerDeviceRequest& request,
                                     const DeviceSelectors& selectors, bool mutex_policy) {
  const DeviceInfo& info = device.info;
  // Another vendor's device (HAMi fits a request only on its own vendor's devices).
  if (!device.vendor.empty() && !request.type.empty() && device.vendor != request.type) {
    return FitReason::kCardTypeMismatch;
  }
  if (!info.health) return FitReason::kCardNotHealth;
  if (device.cordoned) return FitReason::kCardCordoned;
  if (info.mode == kModeMig && !MigModeAllowed(selectors)) {
    return FitReason::kCardMigModeNotRequested;
  }
  if (!TypeAllowed(info, selectors)) return FitReason::kCardTypeMismatch;
  if (!selectors.use_uuids.empty() && !ContainsExact(selectors.use_uuids, info.id)) {
    return FitReason::kCardUuidMismatch;
  }
  if (ContainsExact(selectors.nouse_uuids, info.id)) return FitReason::kCardUuidMismatch;
  if (info.count <= device.used) return FitReason::kCardTimeSlicingExhausted;
  if (mutex_policy && device.used > 0) return FitReason::kExclusiveDeviceAllocateConflict;
  const ResolvedDemand demand = ResolveDemand(device, request);
  if (device.FreeMemMib() < demand.memory_mib) return FitReason::kCardInsufficientMemory;
  if (device.FreeCores() < demand.cores_percent) return FitReason::kCardInsufficientCore;
  if (info.devcore == 100 && demand.cores_percent == 100 && device.used > 0) {
    return FitReason::kExclusiveDeviceAllocateConflict;
  }
  if (info.devcore != 0 && device.used_cores == info.devcore && demand.cores_percent == 0) {
    return FitReason::kCardComputeUnitsExhausted;
  }
  if (info.mode == kModeMig && !SelectMigInstance(info, device.mig_in_use, {}, demand.memory_mib)) {
    return FitReason::kCardMigTopologyInfeasible;
  }
  return std::nullopt;
}

namespace {

// FitContainer under a vendor's index-set rules: each device that passes CheckDevice is
// governed by the rule its type selects (IndexSetRuleFor; none = unusable); rules are tried in
// request order, each's sets against its own devices, and the first set whose devices all pass
// wins (positions in `devices`, in the set's order). A set never mixes rules.
std::optional<std::vector<int>> FitIndexSet(std::span<const DeviceUsage> devices,
                                            std::span<const int> order,
                                            const ContainerDeviceRequest& request,
                                            const DeviceSelectors& selectors, bool mutex_policy,
                                            FitFailure* failure) {
  // Per rule: DeviceInfo::index -> position in `devices`.
  std::map<const IndexSetRule*, std::map<int32_t, int>> passing;
  int32_t passing_count = 0;
  for (const int position : order) {
    const DeviceUsage& device = devices[static_cast<size_t>(position)];
    if (auto reason = CheckDevice(device, request, selectors, mutex_policy)) {
      if (failure) failure->Add(*reason);
      continue;
    }
    ++passing_count;
    if (const IndexSetRule* rule = request.IndexSetRuleFor(device.info.type)) {
      passing[rule].emplace(device.info.index, position);
    }
  }
  for (const IndexSetRule& rule : *request.index_sets) {
    auto governed = passing.find(&rule);
    if (governed == passing.end()) continue;
    for (const std::vector<int32_t>& set : rule.sets) {
      if (static_cast<int32_t>(set.size()) != request.count) continue;
      std::vector<int> chosen;
      for (const int32_t index : set) {
        auto it = governed->second.find(index);
        if (it == governed->second.end()) break;
        chosen.push_back(it->second);
      }
      if (chosen.size() == set.size()) return chosen;
    }
  }
  if (failure && passing_count >= request.count) {
    // Enough devices pass one by one, but no allowed combination of them (or no rule governs
    // their type).
    failure->Add(FitReason::kAllocatedCardsInsufficientRequest);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<int>> FitContainer(std::span<const DeviceUsage> devices,
                                             std::span<const int> order,
                                             const ContainerDeviceRequest& request,
                                             const DeviceSelectors& selectors, bool mutex_policy,
                                             FitFailure* failure, MigPlacementRule mig_rule) {
  if (failure) failure->total_devices = static_cast<int32_t>(order.size());
  if (request.count <= 0) return std::vector<int>{};
  if (request.index_sets) {
    if (static_cast<size_t>(request.count) > order.size()) {
      if (failure) failure->Add(FitReason::kNodeInsufficientDevice);
      return std::nullopt;
    }
    return FitIndexSet(devices, order, request, selectors, mutex_policy, failure);
  }
  if (static_cast<size_t>(request.count) > order.size() && !HasMigDevice(devices, selectors)) {
    if (failure) failure->Add(FitReason::kNodeInsufficientDevice);
    return std::nullopt;
  }
  std::vector<int> chosen;
  chosen.reserve(static_cast<size_t>(request.count));
  int32_t run_numa = -1;
  for (size_t pos = order.size(); pos-- > 0;) {
    const int index = order[pos];
    const DeviceUsage& device = devices[static_cast<size_t>(index)];
    if (selectors.numa_bind && run_numa != -1 && device.info.numa != run_numa) {
      // The devices collected so far sit on another NUMA node: start a new run here.
      if (!chosen.empty() && failure) failure->Add(FitReason::kNumaNotFit);
      chosen.clear();
    }
    run_numa = device.info.numa;
    if (auto reason = CheckDevice(device, request, selectors, mutex_policy)) {
      if (failure) failure->Add(*reason);
      continue;
    }
    chosen.push_back(index);
    if (device.info.mode == kModeMig) {
      // HAMi tries a MIG device again after taking it: one GPU may serve several uses of a
      // container, one free instance each.
      const int64_t memory = ResolveDemand(device, request).memory_mib;
      std::vector<MigPlacement> taken;
      taken.push_back(
          SelectMigInstanceBy(mig_rule, device.info, device.mig_in_use, {}, memory)->placement);
      while (static_cast<int32_t>(chosen.size()) < request.count) {
        // Stricter than HAMi: the repeats count against the device's task slots too.
        if (device.used + static_cast<int32_t>(taken.size()) >= device.info.count) {
          if (failure) failure->Add(FitReason::kCardTimeSlicingExhausted);
          break;
        }
        auto more = SelectMigInstanceBy(mig_rule, device.info, device.mig_in_use, taken, memory);
        if (!more) {
          if (failure) failure->Add(FitReason::kCardMigTopologyInfeasible);
          break;
        }
        taken.push_back(more->placement);
        chosen.push_back(index);
      }
    }
    if (static_cast<int32_t>(chosen.size()) == request.count) return chosen;
  }
  // As HAMi: only when some devices were picked but too few (else the per-device reasons say
  // it all).
  if (failure && !chosen.empty()) failure->Add(FitReason::kAllocatedCardsInsufficientRequest);
  return std::nullopt;
}

std::optional<std::vector<std::optional<MigPick>>> PickMigInstances(
    std::span<const DeviceUsage> devices, std::span<const int> chosen,
    const ContainerDeviceRequest& request, MigPlacementRule mig_rule) {
  std::vector<std::optional<MigPick>> picks(chosen.size());
  std::map<int, std::vector<MigPlacement>> taken;  // by device index, this container's picks
  for (size_t i = 0; i < chosen.size(); ++i) {
    const DeviceUsage& device = devices[static_cast<size_t>(chosen[i])];
    if (device.info.mode != kModeMig) continue;
    std::vector<MigPlacement>& mine = taken[chosen[i]];
    picks[i] = SelectMigInstanceBy(mig_rule, device.info, device.mig_in_use, mine,
                                   ResolveDemand(device, request).memory_mib);
    if (!picks[i]) return std::nullopt;
    mine.push_back(picks[i]->placement);
  }
  return picks;
}

bool HasMigDevice(std::span<const DeviceUsage> devices, const DeviceSelectors& selectors) {
  return std::any_of(devices.begin(), devices.end(), [&](const DeviceUsage& d) {
    return d.info.mode == kModeMig && TypeAllowed(d.info, selectors);
  });
}

bool ContainerFitsAnyOrder(std::span<const DeviceUsage> devices,
                           const ContainerDeviceRequest& request, const DeviceSelectors& selectors,
                           bool mutex_policy, FitFailure* failure) {
  if (failure) failure->total_devices = static_cast<int32_t>(devices.size());
  if (request.count <= 0) return true;
  if (static_cast<size_t>(request.count) > devices.size()) {
    if (failure) failure->Add(FitReason::kNodeInsufficientDevice);
    return false;
  }
  if (request.index_sets) {
    std::vector<int> order(devices.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    return FitIndexSet(devices, order, request, selectors, mutex_policy, failure).has_value();
  }
  int32_t passing = 0;
  for (const DeviceUsage& device : devices) {
    if (auto reason = CheckDevice(device, request, selectors, mutex_policy)) {
      if (failure) failure->Add(*reason);
      continue;
    }
    if (++passing == request.count) return true;
  }
  if (failure && passing > 0) failure->Add(FitReason::kAllocatedCardsInsufficientRequest);
  return false;
}

void ApplyDemand(DeviceUsage& device, const ResolvedDemand& demand, int sign) {
  device.used += sign;
  device.used_mem_mib += sign * demand.memory_mib;
  device.used_cores += sign * demand.cores_percent;
}

}  // namespace hami::policy
