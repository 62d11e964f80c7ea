// MIG placement rules (issue 17): which placement of a MIG profile, and which of a node's MIG
// GPUs, a new instance takes.
//
// HAMi's rule (kFirstFit, SelectMigInstance in fit.h) takes the first free placement in NVML's
// order. That packs the low slices first and is blind to what the choice leaves behind: on an
// A100 a 1g instance at slice 0 followed by a 2g at 2 leaves room for no 4g instance although
// four slices are free. kCompact keeps the free slices contiguous: among the free placements it
// takes the one after which the most placements of *larger* profiles remain free (each weighted
// by its slice count), tie-break lowest start; across GPUs it takes the GPU whose headroom the
// instance costs least (which is, as a rule, the fullest GPU that still has a snug hole).
//
// Both rules choose the *profile* exactly as HAMi does (smallest memory that holds the request,
// then fewest slices) and only ever return a placement NVML lists for that profile that
// overlaps nothing occupied, so kCompact succeeds exactly when kFirstFit does and never places
// where HAMi's rules forbid. Pure functions; thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "device/device.h"
#include "policy/fit.h"

namespace hami::policy {

// MigPlacementRule (kFirstFit, kCompact) is declared in fit.h, whose fit takes it.

// "first-fit" / "compact"; nullopt for anything else.
std::optional<MigPlacementRule> ParseMigPlacementRule(std::string_view name);
std::string_view MigPlacementRuleName(MigPlacementRule rule);

// Whether `placement` overlaps none of `occupied` and none of `also_occupied`.
bool MigPlacementFree(const MigPlacement& placement, std::span<const MigPlacement> occupied,
                      std::span<const MigPlacement> also_occupied);

// How much room for profiles with more than `above_slices` slices `device` has left with
// `occupied` taken: the sum, over those profiles, of slice_count x the number of their
// placements that are free. Higher = more contiguous free space. 0 when nothing larger fits.
int64_t MigHeadroom(const DeviceInfo& device, std::span<const MigPlacement> occupied,
                    int32_t above_slices);

// The placement `profile` takes under `rule` on a device offering `device.mig_profiles`, with
// `occupied` and `also_occupied` taken; nullopt when every placement of the profile overlaps.
std::optional<MigPlacement> PlaceMigProfile(MigPlacementRule rule, const DeviceInfo& device,
                                            const MigProfile& profile,
                                            std::span<const MigPlacement> occupied,
                                            std::span<const MigPlacement> also_occupied);

// SelectMigInstance (fit.h) under `rule`: the profile as HAMi chooses it (the first, by memory
// then slices, with any free placement), the placement by `rule`. kFirstFit returns exactly
// SelectMigInstance's answer.
std::optional<MigPick> SelectMigInstanceBy(MigPlacementRule rule, const DeviceInfo& device,
                                           std::span<const MigPlacement> occupied,
                                           std::span<const MigPlacement> also_occupied,
                                           int64_t memory_mib);

// One MIG GPU a request may go to: its profiles and the placements it has in use.
struct MigGpuView {
  const DeviceInfo* device = nullptr;  // not owned; must outlive the call
  std::span<const MigPlacement> occupied;
};

// Where an instance of the profile named `profile_name` goes among `gpus` (an index into
// `gpus`, and the placement). kFirstFit: the first GPU (in the given order) with a free
// placement, the first such placement (HAMi tries devices in its score order and takes the
// first that fits). kCompact: over every GPU and free placement, the least headroom lost
// (MigHeadroom above the profile's slices, before minus after), then the GPU with fewer free
// memory slices (best fit), then the lower GPU index, then the lower start. GPUs not offering the
// profile are skipped. nullopt when no GPU has a free placement of it.
struct MigGpuPick {
  size_t gpu = 0;
  MigPlacement placement;
};
std::optional<MigGpuPick> PlaceMigProfileOnGpus(MigPlacementRule rule,
                                                std::span<const MigGpuView> gpus,
                                                std::string_view profile_name);

// For the scheduler's fit under kCompact: permutes the MIG devices within `order` (which
// FitContainer tries from its last element) so that the device whose next instance for
// `request` costs the least headroom (as PlaceMigProfileOnGpus: then fewer free memory slices)
// is tried first; a MIG device with no instance for it goes to the far end. Devices not in "mig"
// mode keep their positions and equal-cost devices their relative order, so the GPU policy still
// breaks ties. `order` holds indexes into `devices`.
void OrderMigDevicesByHeadroomCost(std::span<const DeviceUsage> devices,
                                   const ContainerDeviceRequest& request, std::vector<int>& order);

}  // namespace hami::policy
