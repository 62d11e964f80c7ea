// MIG placement cost (issue 17): HAMi's first fit against the compact rule, for the replay's
// cross-GPU choice (16 GPUs) and for the scheduler's fit of one pod on a node of 8 MIG GPUs.
// GPUs are about half full with random instances, so every rule has choices to weigh.
#include <benchmark/benchmark.h>

#include <random>

#include "policy/mig_place.h"
#include "policy/placement.h"
#include "sim/mig_replay.h"

namespace hami::sim {
namespace {

// `gpus` GPUs of the replay's mix, each with random instances up to about half its slices.
std::vector<std::vector<MigPlacement>> HalfFull(const std::vector<DeviceInfo>& gpus,
                                                uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<MigPlacement>> occupied(gpus.size());
  for (size_t g = 0; g < gpus.size(); ++g) {
    for (int tries = 0; tries < 6; ++tries) {
      const MigProfile& p = gpus[g].mig_profiles[rng() % 4];  // 1g..3g
      const MigPlacement& pl = p.placements[rng() % p.placements.size()];
      if (policy::MigPlacementFree(pl, occupied[g], {})) occupied[g].push_back(pl);
    }
  }
  return occupied;
}

void BM_MigPlaceOnGpus(benchmark::State& state) {
  const auto rule = static_cast<policy::MigPlacementRule>(state.range(0));
  MigReplayOptions o;
  const std::vector<DeviceInfo> gpus = MakeMigCluster(o);
  const auto occupied = HalfFull(gpus, 7);
  std::vector<policy::MigGpuView> views;
  for (size_t g = 0; g < gpus.size(); ++g) views.push_back({&gpus[g], occupied[g]});
  size_t i = 0;
  for (auto _ : state) {
    auto pick = policy::PlaceMigProfileOnGpus(rule, views, kMigRequestProfiles[i++ % 3]);
    benchmark::DoNotOptimize(pick);
  }
  state.SetLabel(std::string(policy::MigPlacementRuleName(rule)));
}
BENCHMARK(BM_MigPlaceOnGpus)->Arg(0)->Arg(1);

// FitPod + ToPodDevices for a one-GPU 1g pod: arg 0 = a binpack pod (first fit), 1 = a
// hami-frag pod (compact instances, MIG GPUs ordered by headroom cost).
void BM_FitPodMig(benchmark::State& state) {
  MigReplayOptions o;
  o.a100_gpus = 4;
  o.h100_gpus = 4;
  const std::vector<DeviceInfo> gpus = MakeMigCluster(o);
  const auto occupied = HalfFull(gpus, 11);
  policy::NodeState node;
  node.name = "node";
  for (size_t g = 0; g < gpus.size(); ++g) {
    DeviceUsage d;
    d.info = gpus[g];
    d.mig_in_use = occupied[g];
    d.used = static_cast<int32_t>(occupied[g].size());
    node.devices.push_back(std::move(d));
  }
  policy::PodRequest pod;
  ContainerDeviceRequest r;
  r.count = 1;
  r.type = "NVIDIA";
  r.memory_mib = 8000;
  pod.containers.push_back(r);
  pod.selectors.vgpu_mode = kModeMig;  // MIG GPUs serve only pods that ask for mig
  pod.node_policy = state.range(0) ? policy::NodePolicy::kFrag : policy::NodePolicy::kBinpack;
  for (auto _ : state) {
    auto fit = policy::FitPod(node, pod, policy::GpuPolicy{}, nullptr);
    if (!fit) state.SkipWithError("no fit");
    auto devices = policy::ToPodDevices(node, pod, *fit);
    benchmark::DoNotOptimize(devices);
  }
  state.SetLabel(state.range(0) ? "hami-frag (compact)" : "binpack (first fit)");
}
BENCHMARK(BM_FitPodMig)->Arg(0)->Arg(1);

}  // namespace
}  // namespace hami::sim

BENCHMARK_MAIN();
