// Filter+score latency for one pod (the work behind one /filter call) and replay time.
//
// Each iteration places one pod on a cluster of N nodes × 8 GPUs that is about half full,
// collecting per-node failure reasons as the extender does. Latency percentiles (p50, p99)
// over the measured calls are reported as counters next to Google Benchmark's own timing.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "sim/extender_replay.h"
#include "sim/replay.h"

namespace hami::sim {
namespace {

std::vector<policy::NodeState> HalfFullCluster(int node_count, uint64_t seed) {
  Cluster cluster;
  for (int i = 0; i < node_count; ++i) {
    cluster.nodes.push_back(SimNode{"node-" + std::to_string(100000 + i), 96000, 393216, 8,
                                    i % 3 == 0 ? "T4" : "G2", i % 3 == 0 ? 15360 : 32768});
  }
  std::vector<policy::NodeState> nodes = BuildNodes(cluster, 10);
  std::mt19937_64 rng(seed);
  const int32_t shares[] = {100, 100, 81, 47, 32, 65, 23};
  for (size_t n = 0; n < nodes.size(); ++n) {
    nodes[n].generation = static_cast<uint64_t>(n) << 32;
    for (DeviceUsage& d : nodes[n].devices) {
      if (rng() % 2 == 0) continue;
      const int32_t share = shares[rng() % 7];
      d.used = 1;
      d.used_cores = share;
      d.used_mem_mib = static_cast<int64_t>(d.info.devmem_mib) * share / 100;
    }
    nodes[n].cpu_free_milli = 96000 - static_cast<int64_t>(rng() % 48) * 1000;
    nodes[n].memory_free_mib = 393216 - static_cast<int64_t>(rng() % 196608);
  }
  return nodes;
}

Workload TargetWorkload() {
  Workload w;
  const int32_t milli[] = {1000, 1000, 1000, 810, 470, 320, 650, 230};
  for (int i = 0; i < 64; ++i) {
    w.pods.push_back(
        SimPod{"p" + std::to_string(i), 4000 + (i % 5) * 2000, 16384, 1, milli[i % 8], {}});
  }
  return w;
}

void BM_FilterScore(benchmark::State& state, const char* policy_name) {
  const int node_count = static_cast<int>(state.range(0));
  std::vector<policy::NodeState> nodes = HalfFullCluster(node_count, 1);
  Workload workload = TargetWorkload();
  auto policy = MakePolicy(policy_name, workload);
  if (!policy.ok()) {
    state.SkipWithError(policy.status().message().c_str());
    return;
  }
  std::vector<policy::PodRequest> pods;
  for (const SimPod& p : workload.pods) pods.push_back(ToPodRequest(p));
  // What the scheduler has seen before (hami-frag learns its target workload from it).
  for (const policy::PodRequest& pod : pods) (*policy)->Observe(pod);
  std::vector<double> latencies_us;
  size_t i = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    policy::PlacementOutcome outcome = (*policy)->Place(pods[i++ % pods.size()], nodes, true);
    benchmark::DoNotOptimize(outcome);
    latencies_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double q) {
    return latencies_us[std::min(
        latencies_us.size() - 1,
        static_cast<size_t>(q * static_cast<double>(latencies_us.size())))];
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["nodes"] = node_count;
}

BENCHMARK_CAPTURE(BM_FilterScore, hami_default, "hami-default")
    ->Arg(1000)
    ->Arg(5000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FilterScore, hami_frag, "hami-frag")
    ->Arg(1000)
    ->Arg(5000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);

// One seed of the openb default trace (when the shared data is present), else the built-in
// synthetic cluster: the whole replay, as `hami simulate` runs it.
// `direct`: the policy places every pod itself (RunReplay, the published protocol); else the
// daemon path (RunExtenderReplay through FilterCore, hami simulate's default).
void BM_Replay(benchmark::State& state, const char* policy_name, bool direct) {
  Cluster cluster;
  Workload workload;
  const char* root = std::getenv("HAMI_SHARED_DATA");
  const std::string dir = std::string(root ? root : "../shared/data") + "/openb/";
  if (std::filesystem::exists(dir + "openb_pod_list_default.csv")) {
    cluster = *LoadOpenbNodes(dir + "openb_node_list_gpu_node.csv");
    workload = *LoadOpenbPods(dir + "openb_pod_list_default.csv");
    state.SetLabel("openb default");
  } else {
    cluster = MakeSyntheticCluster(7);
    workload = MakeSyntheticWorkload(cluster, 7);
    state.SetLabel("synthetic");
  }
  for (auto _ : state) {
    auto policy = MakePolicy(policy_name, workload);
    ReplayOptions options;
    options.seed = 42;
    options.record_curve = false;
    auto result = direct ? RunReplay(cluster, workload, **policy, options)
                         : RunExtenderReplay(cluster, workload, std::move(*policy), options);
    benchmark::DoNotOptimize(result);
  }
}

BENCHMARK_CAPTURE(BM_Replay, hami_binpack, "hami-binpack", false)
    ->Unit(benchmark::kSecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_Replay, fgd, "fgd", false)->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_Replay, hami_frag, "hami-frag", false)
    ->Unit(benchmark::kSecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_Replay, hami_frag_direct, "hami-frag", true)
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

}  // namespace
}  // namespace hami::sim

BENCHMARK_MAIN();
