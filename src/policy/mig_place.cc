#include "policy/mig_place.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace hami::policy {

std::optional<MigPlacementRule> ParseMigPlacementRule(std::string_view name) {
  if (name == "first-fit") return MigPlacementRule::kFirstFit;
  if (name == "compact") return MigPlacementRule::kCompact;
  return std::nullopt;
}

std::string_view MigPlacementRuleName(MigPlacementRule rule) {
  switch (rule) {
    case MigPlacementRule::kFirstFit:
      return "first-fit";
    case MigPlacementRule::kCompact:
      return "compact";
  }
  return "unknown";
}

bool MigPlacementFree(const MigPlacement& placement, std::span<const MigPlacement> occupied,
                      std::span<const MigPlacement> also_occupied) {
  auto overlaps = [&](const MigPlacement& o) { return o.Overlaps(placement); };
  return std::none_of(occupied.begin(), occupied.end(), overlaps) &&
         std::none_of(also_occupied.begin(), also_occupied.end(), overlaps);
}

namespace {

int64_t Headroom(const DeviceInfo& device, std::span<const MigPlacement> occupied,
                 std::span<const MigPlacement> also_occupied, int32_t above_slices) {
  int64_t headroom = 0;
  for (const MigProfile& profile : device.mig_profiles) {
    if (profile.slice_count <= above_slices) continue;
    for (const MigPlacement& placement : profile.placements) {
      if (MigPlacementFree(placement, occupied, also_occupied)) headroom += profile.slice_count;
    }
  }
  return headroom;
}

// Memory slices the device has (the end of its furthest placement) minus those occupied.
int32_t FreeMemorySlices(const DeviceInfo& device, std::span<const MigPlacement> occupied) {
  int32_t total = 0;
  for (const MigProfile& profile : device.mig_profiles) {
    for (const MigPlacement& p : profile.placements) total = std::max(total, p.start + p.size);
  }
  for (const MigPlacement& p : occupied) total -= p.size;
  return total;
}

// Headroom lost by taking `placement` (>= 0), for the compact rule.
int64_t HeadroomLoss(const DeviceInfo& device, const MigProfile& profile,
                     const MigPlacement& placement, std::span<const MigPlacement> occupied,
                     std::span<const MigPlacement> also_occupied, int64_t before) {
  std::vector<MigPlacement> with(also_occupied.begin(), also_occupied.end());
  with.push_back(placement);
  return before - Headroom(device, occupied, with, profile.slice_count);
}

}  // namespace

int64_t MigHeadroom(const DeviceInfo& device, std::span<const MigPlacement> occupied,
                    int32_t above_slices) {
  return Headroom(device, occupied, {}, above_slices);
}

std::optional<MigPlacement> PlaceMigProfile(MigPlacementRule rule, const DeviceInfo& device,
                                            const MigProfile& profile,
                                            std::span<const MigPlacement> occupied,
                                            std::span<const MigPlacement> also_occupied) {
  std::optional<MigPlacement> best;
  int64_t best_loss = 0;
  const int64_t before = rule == MigPlacementRule::kCompact
                             ? Headroom(device, occupied, also_occupied, profile.slice_count)
                             : 0;
  for (const MigPlacement& placement : profile.placements) {
    if (!MigPlacementFree(placement, occupied, also_occupied)) continue;
    if (rule == MigPlacementRule::kFirstFit) return placement;
    const int64_t loss = HeadroomLoss(device, profile, placement, occupied, also_occupied, before);
    if (!best || loss < best_loss || (loss == best_loss && placement.start < best->start)) {
      best = placement;
      best_loss = loss;
    }
  }
  return best;
}

std::optional<MigPick> SelectMigInstanceBy(MigPlacementRule rule, const DeviceInfo& device,
                                           std::span<const MigPlacement> occupied,
                                           std::span<const MigPlacement> also_occupied,
                                           int64_t memory_mib) {
  if (rule == MigPlacementRule::kFirstFit) {
    return SelectMigInstance(device, occupied, also_occupied, memory_mib);
  }
  // The profile exactly as SelectMigInstance orders them (its first profile with a free
  // placement), so both rules succeed on the same inputs and charge the same profile.
  std::vector<const MigProfile*> candidates;
  for (const MigProfile& profile : device.mig_profiles) {
    if (profile.memory_mib >= memory_mib) candidates.push_back(&profile);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const MigProfile* a, const MigProfile* b) {
                     if (a->memory_mib != b->memory_mib) return a->memory_mib < b->memory_mib;
                     return a->slice_count < b->slice_count;
                   });
  for (const MigProfile* profile : candidates) {
    if (auto placement = PlaceMigProfile(rule, device, *profile, occupied, also_occupied)) {
      return MigPick{profile->name, profile->memory_mib, profile->core, *placement};
    }
  }
  return std::nullopt;
}

std::optional<MigGpuPick> PlaceMigProfileOnGpus(MigPlacementRule rule,
                                                std::span<const MigGpuView> gpus,
                                                std::string_view profile_name) {
  std::optional<MigGpuPick> best;
  // (loss, free memory slices, gpu index, start): lexicographically smallest wins.
  std::tuple<int64_t, int32_t, size_t, int32_t> best_key{};
  for (size_t g = 0; g < gpus.size(); ++g) {
    const DeviceInfo& device = *gpus[g].device;
    auto profile = std::find_if(device.mig_profiles.begin(), device.mig_profiles.end(),
                                [&](const MigProfile& p) { return p.name == profile_name; });
    if (profile == device.mig_profiles.end()) continue;
    if (rule == MigPlacementRule::kFirstFit) {
      if (auto placement = PlaceMigProfile(rule, device, *profile, gpus[g].occupied, {})) {
        return MigGpuPick{g, *placement};
      }
      continue;
    }
    const int64_t before = Headroom(device, gpus[g].occupied, {}, profile->slice_count);
    const int32_t free_slices = FreeMemorySlices(device, gpus[g].occupied);
    for (const MigPlacement& placement : profile->placements) {
      if (!MigPlacementFree(placement, gpus[g].occupied, {})) continue;
      const auto key =
          std::make_tuple(HeadroomLoss(device, *profile, placement, gpus[g].occupied, {}, before),
                          free_slices, g, placement.start);
      if (!best || key < best_key) {
        best = MigGpuPick{g, placement};
        best_key = key;
      }
    }
  }
  return best;
}

void OrderMigDevicesByHeadroomCost(std::span<const DeviceUsage> devices,
                                   const ContainerDeviceRequest& request, std::vector<int>& order) {
  struct Entry {
    int device;
    bool fits;
    int64_t loss;
    int32_t free_slices;
  };
  std::vector<size_t> positions;
  std::vector<Entry> entries;
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const DeviceUsage& d = devices[static_cast<size_t>(order[pos])];
    if (d.info.mode != kModeMig) continue;
    positions.push_back(pos);
    Entry e{order[pos], false, 0, FreeMemorySlices(d.info, d.mig_in_use)};
    const int64_t memory = ResolveDemand(d, request).memory_mib;
    if (auto pick =
            SelectMigInstanceBy(MigPlacementRule::kCompact, d.info, d.mig_in_use, {}, memory)) {
      const auto profile =
          std::find_if(d.info.mig_profiles.begin(), d.info.mig_profiles.end(),
                       [&](const MigProfile& p) { return p.name == pick->profile; });
      const int32_t slices = profile->slice_count;
      const MigPlacement with[] = {pick->placement};
      e.fits = true;
      e.loss =
          Headroom(d.info, d.mig_in_use, {}, slices) - Headroom(d.info, d.mig_in_use, with, slices);
    }
    entries.push_back(e);
  }
  // Tried last-to-first: the best entry must end up last, so sort worst first.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.fits != b.fits) return !a.fits;
    if (a.loss != b.loss) return a.loss > b.loss;
    return a.free_slices > b.free_slices;
  });
  for (size_t i = 0; i < positions.size(); ++i) order[positions[i]] = entries[i].device;
}

}  // namespace hami::policy
