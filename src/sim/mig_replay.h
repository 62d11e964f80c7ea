// MIG workload replay (issue 17): a synthetic cluster of A100/H100 GPUs in MIG mode and a stream
// of 1g/2g/3g/4g/7g instance requests with departures, placed by HAMi's first-fit rule or by our
// compact rule (policy/mig_place.h), to measure how often fragmentation refuses a request that
// enough free slices would have held. See docs/simulate.md ("MIG replay").
//
// Everything here is pure and deterministic for a given seed; thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "device/device.h"
#include "policy/mig_place.h"

namespace hami::sim {

struct MigReplayOptions {
  uint64_t seed = 42;
  int32_t a100_gpus = 8;    // A100-SXM4-80GB in MIG mode
  int32_t h100_gpus = 8;    // H100-SXM5-80GB in MIG mode
  int32_t requests = 4000;  // arrivals, one per tick
  // Mean lifetime of an instance, in ticks (geometric). With the default mix (mean 2.55 slices)
  // and 16 GPUs (112 slices), 48 ticks offers ~109 % of the cluster: refusals happen, and the
  // arrivals and departures fragment the GPUs.
  double mean_lifetime_ticks = 48;
  // Request mix, percent of arrivals for 1g / 2g / 3g / 4g / 7g (need not sum to 100).
  std::vector<double> mix_percent = {40, 20, 15, 15, 10};
};

// The request classes, by compute slices, and their profile names on both models (the A100-80GB
// and the H100-80GB name their profiles alike).
inline constexpr int32_t kMigRequestSlices[] = {1, 2, 3, 4, 7};
inline constexpr const char* kMigRequestProfiles[] = {"1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb",
                                                      "7g.80gb"};

// The GPUs: `a100_gpus` A100-80GB then `h100_gpus` H100-80GB, each with the profiles and
// placements NVML reports for it (1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb).
std::vector<DeviceInfo> MakeMigCluster(const MigReplayOptions& options);

struct MigRequest {
  int32_t arrival_tick = 0;
  int32_t departure_tick = 0;  // > arrival_tick
  int32_t slices = 0;          // one of kMigRequestSlices
  const char* profile = "";    // the matching kMigRequestProfiles entry
};

// `options.requests` requests, drawn from `options.mix_percent` with geometric lifetimes, seeded.
std::vector<MigRequest> MakeMigWorkload(const MigReplayOptions& options);

struct MigReplayResult {
  std::string rule;  // MigPlacementRuleName
  uint64_t seed = 0;
  int64_t placed = 0;
  int64_t refused = 0;
  // Refused although some GPU had at least the request's slices free (fragmentation failure).
  int64_t fragmentation_refusals = 0;
  int64_t slices_allocated = 0;  // sum of the placed requests' slices
  std::vector<int64_t> refused_by_class = std::vector<int64_t>(5, 0);  // per kMigRequestSlices
  double mean_slice_utilisation = 0;  // mean over ticks of slices in use / cluster slices
  // Placements found illegal when re-checked (overlap, unlisted placement, more slices in use
  // than the GPU has): always 0 unless the policy or the bookkeeping is wrong.
  int64_t violations = 0;
};

// Replays `requests` (arrival order; departures first at each tick) over `gpus` under `rule`.
// Every placement is one `policy::PlaceMigProfileOnGpus` returns, so it is a listed placement of
// the profile that overlaps no live instance; departures free exactly what was taken.
MigReplayResult ReplayMig(std::span<const DeviceInfo> gpus, std::span<const MigRequest> requests,
                          policy::MigPlacementRule rule);

// Both rules over `seeds` seeds from `first_seed`, printed as a table of medians (placed,
// refused, fragmentation refusals, refused 3g/4g/7g, slices, utilisation) and compact/first-fit
// ratios. Returns the per-seed results (first-fit then compact for each seed).
std::vector<MigReplayResult> RunMigComparison(MigReplayOptions options, int32_t seeds,
                                              uint64_t first_seed, std::ostream& out);

}  // namespace hami::sim
