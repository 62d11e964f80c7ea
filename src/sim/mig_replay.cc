#include "sim/mig_replay.h"

#include <algorithm>
#include <iomanip>
#include <random>

namespace hami::sim {
namespace {

std::vector<MigPlacement> Ones() {
  return {{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}};
}

// The 80 GB parts share one layout (8 memory slices, 7 compute); memory per profile differs a
// little between models, which changes nothing here (requests name their profile).
DeviceInfo Mig80(const std::string& id, int32_t index, const std::string& type, int32_t one_g_mib) {
  DeviceInfo d;
  d.id = id;
  d.index = index;
  d.count = 7;
  d.type = type;
  d.mode = kModeMig;
  d.health = true;
  d.devmem_mib = one_g_mib * 8;
  d.devcore = 100;
  d.mig_profiles = {
      MigProfile{"1g.10gb", one_g_mib, 15, 1, Ones()},
      MigProfile{"1g.20gb", one_g_mib * 2, 15, 1, {{0, 2}, {2, 2}, {4, 2}, {6, 2}}},
      MigProfile{"2g.20gb", one_g_mib * 2, 29, 2, {{0, 2}, {2, 2}, {4, 2}}},
      MigProfile{"3g.40gb", one_g_mib * 4, 43, 3, {{0, 4}, {4, 4}}},
      MigProfile{"4g.40gb", one_g_mib * 4, 58, 4, {{0, 4}}},
      MigProfile{"7g.80gb", one_g_mib * 8, 100, 7, {{0, 8}}},
  };
  return d;
}

struct Live {
  int32_t departure_tick;
  size_t gpu;
  MigPlacement placement;
  int32_t slices;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

std::vector<DeviceInfo> MakeMigCluster(const MigReplayOptions& options) {
  std::vector<DeviceInfo> gpus;
  int32_t index = 0;
  for (int32_t i = 0; i < options.a100_gpus; ++i, ++index) {
    gpus.push_back(Mig80("GPU-a100-" + std::to_string(i), index, "NVIDIA A100-SXM4-80GB", 9856));
  }
  for (int32_t i = 0; i < options.h100_gpus; ++i, ++index) {
    gpus.push_back(Mig80("GPU-h100-" + std::to_string(i), index, "NVIDIA H100 80GB HBM3", 9984));
  }
  return gpus;
}

std::vector<MigRequest> MakeMigWorkload(const MigReplayOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::vector<double> weights = options.mix_percent;
  weights.resize(std::size(kMigRequestSlices), 0);
  std::discrete_distribution<size_t> kind(weights.begin(), weights.end());
  // Geometric lifetime >= 1 with the given mean.
  const double mean = std::max(1.0, options.mean_lifetime_ticks);
  std::geometric_distribution<int32_t> extra(1.0 / mean);
  std::vector<MigRequest> requests;
  requests.reserve(static_cast<size_t>(std::max(0, options.requests)));
  for (int32_t t = 0; t < options.requests; ++t) {
    const size_t k = kind(rng);
    MigRequest r;
    r.arrival_tick = t;
    r.departure_tick = t + 1 + extra(rng);
    r.slices = kMigRequestSlices[k];
    r.profile = kMigRequestProfiles[k];
    requests.push_back(r);
  }
  return requests;
}

MigReplayResult ReplayMig(std::span<const DeviceInfo> gpus, std::span<const MigRequest> requests,
                          policy::MigPlacementRule rule) {
  MigReplayResult result;
  result.rule = std::string(policy::MigPlacementRuleName(rule));
  std::vector<std::vector<MigPlacement>> occupied(gpus.size());
  std::vector<int32_t> used_slices(gpus.size(), 0);
  std::vector<int32_t> total_slices(gpus.size(), 0);
  int64_t cluster_slices = 0;
  for (size_t g = 0; g < gpus.size(); ++g) {
    for (const MigProfile& p : gpus[g].mig_profiles) {
      total_slices[g] = std::max(total_slices[g], p.slice_count);
    }
    cluster_slices += total_slices[g];
  }
  std::vector<Live> live;
  int64_t in_use = 0;
  double utilisation_sum = 0;
  for (const MigRequest& request : requests) {
    // Departures due by this arrival.
    for (auto it = live.begin(); it != live.end();) {
      if (it->departure_tick > request.arrival_tick) {
        ++it;
        continue;
      }
      auto& mine = occupied[it->gpu];
      mine.erase(std::find(mine.begin(), mine.end(), it->placement));
      used_slices[it->gpu] -= it->slices;
      in_use -= it->slices;
      it = live.erase(it);
    }
    std::vector<policy::MigGpuView> views;
    views.reserve(gpus.size());
    for (size_t g = 0; g < gpus.size(); ++g) views.push_back({&gpus[g], occupied[g]});
    const size_t klass = static_cast<size_t>(
        std::find(std::begin(kMigRequestSlices), std::end(kMigRequestSlices), request.slices) -
        std::begin(kMigRequestSlices));
    if (auto pick = policy::PlaceMigProfileOnGpus(rule, views, request.profile)) {
      // Re-check against HAMi's rules, independently of the policy.
      const DeviceInfo& gpu = gpus[pick->gpu];
      auto profile = std::find_if(gpu.mig_profiles.begin(), gpu.mig_profiles.end(),
                                  [&](const MigProfile& p) { return p.name == request.profile; });
      if (profile == gpu.mig_profiles.end() ||
          std::find(profile->placements.begin(), profile->placements.end(), pick->placement) ==
              profile->placements.end() ||
          !policy::MigPlacementFree(pick->placement, occupied[pick->gpu], {}) ||
          used_slices[pick->gpu] + request.slices > total_slices[pick->gpu]) {
        ++result.violations;
      }
      occupied[pick->gpu].push_back(pick->placement);
      used_slices[pick->gpu] += request.slices;
      in_use += request.slices;
      live.push_back({request.departure_tick, pick->gpu, pick->placement, request.slices});
      ++result.placed;
      result.slices_allocated += request.slices;
    } else {
      ++result.refused;
      if (klass < result.refused_by_class.size()) ++result.refused_by_class[klass];
      for (size_t g = 0; g < gpus.size(); ++g) {
        if (total_slices[g] - used_slices[g] >= request.slices) {
          ++result.fragmentation_refusals;
          break;
        }
      }
    }
    if (cluster_slices > 0) {
      utilisation_sum += static_cast<double>(in_use) / static_cast<double>(cluster_slices);
    }
  }
  if (!requests.empty()) {
    result.mean_slice_utilisation = utilisation_sum / static_cast<double>(requests.size());
  }
  return result;
}

std::vector<MigReplayResult> RunMigComparison(MigReplayOptions options, int32_t seeds,
                                              uint64_t first_seed, std::ostream& out) {
  const policy::MigPlacementRule rules[] = {policy::MigPlacementRule::kFirstFit,
                                            policy::MigPlacementRule::kCompact};
  std::vector<MigReplayResult> all;
  const std::vector<DeviceInfo> gpus = MakeMigCluster(options);
  for (int32_t s = 0; s < seeds; ++s) {
    options.seed = first_seed + static_cast<uint64_t>(s);
    const std::vector<MigRequest> requests = MakeMigWorkload(options);
    for (auto rule : rules) {
      MigReplayResult r = ReplayMig(gpus, requests, rule);
      r.seed = options.seed;
      all.push_back(std::move(r));
    }
  }
  // Medians per rule, and the per-seed compact/first-fit ratio's median.
  struct Column {
    const char* name;
    double (*get)(const MigReplayResult&);
  };
  const Column columns[] = {
      {"placed", [](const MigReplayResult& r) { return double(r.placed); }},
      {"refused", [](const MigReplayResult& r) { return double(r.refused); }},
      {"frag-refused", [](const MigReplayResult& r) { return double(r.fragmentation_refusals); }},
      {"refused-3g", [](const MigReplayResult& r) { return double(r.refused_by_class[2]); }},
      {"refused-4g", [](const MigReplayResult& r) { return double(r.refused_by_class[3]); }},
      {"refused-7g", [](const MigReplayResult& r) { return double(r.refused_by_class[4]); }},
      {"slices", [](const MigReplayResult& r) { return double(r.slices_allocated); }},
      {"util%", [](const MigReplayResult& r) { return 100 * r.mean_slice_utilisation; }},
  };
  out << "MIG replay: " << options.a100_gpus << " A100-80GB + " << options.h100_gpus
      << " H100-80GB in MIG mode, " << options.requests << " requests, mean lifetime "
      << options.mean_lifetime_ticks << " ticks, " << seeds << " seed(s) from " << first_seed
      << " (medians)\n";
  out << std::left << std::setw(14) << "rule";
  for (const Column& c : columns) out << std::right << std::setw(13) << c.name;
  out << "\n";
  for (size_t k = 0; k < std::size(rules); ++k) {
    out << std::left << std::setw(14) << policy::MigPlacementRuleName(rules[k]);
    for (const Column& c : columns) {
      std::vector<double> v;
      for (size_t i = k; i < all.size(); i += std::size(rules)) v.push_back(c.get(all[i]));
      out << std::right << std::setw(13) << std::fixed << std::setprecision(1) << Median(v);
    }
    out << "\n";
  }
  out << std::left << std::setw(14) << "compact/ff";
  for (const Column& c : columns) {
    std::vector<double> v;
    for (size_t i = 0; i + 1 < all.size(); i += std::size(rules)) {
      const double base = c.get(all[i]);
      const double ours = c.get(all[i + 1]);
      // 0/0 = 1 (both none); x/0 has no ratio and is left out.
      if (base != 0)
        v.push_back(ours / base);
      else if (ours == 0)
        v.push_back(1);
    }
    if (v.empty()) {
      out << std::right << std::setw(13) << "-";
    } else {
      out << std::right << std::setw(13) << std::fixed << std::setprecision(3) << Median(v);
    }
  }
  out << "\n";
  return all;
}

}  // namespace hami::sim
