// The extender's /filter decision at scale: a ledger of N nodes × 8 GPUs holding ~10 pods per
// node, and FilterCore::Filter for one pod over all node names (what kube-scheduler sends
// with nodeCacheCapable). Reports p50/p99 latency as counters. No API server involved: this
// is the in-process cost of one decision. The second argument enables every vendor of the
// chart's device config (25 vendors ask each pod for their resources) instead of NVIDIA only:
// the cost of a heterogeneous configuration for an NVIDIA pod.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "bench/bench_cluster.h"
#include "device/chart_config.h"
#include "device/config.h"
#include "scheduler/filter.h"

namespace hami::scheduler {
namespace {

void BM_FilterDecision(benchmark::State& state) {
  const int node_count = static_cast<int>(state.range(0));
  DeviceConfig config = DefaultDeviceConfig();
  if (state.range(1) != 0) {
    config = std::move(
        *LoadDeviceConfig(std::string(kDefaultDeviceConfigYaml) + kChartVendorSectionsYaml));
    config.enable_iluvatar = config.enable_ascend = true;
  }
  auto registry = std::move(*MakeVendorRegistry(config));
  state.counters["vendors"] = static_cast<double>(registry.Size());
  UsageLedger ledger;
  std::vector<std::string> names;
  std::mt19937_64 rng(1);
  int pod_id = 0;
  for (int n = 0; n < node_count; ++n) {
    const std::string name = "node-" + std::to_string(n);
    names.push_back(name);
    const std::vector<DeviceInfo> devices = bench::EightGpus(n);
    ledger.SetNodeDevices(name, "NVIDIA", devices);
    for (int p = 0; p < 10; ++p) {  // 10 pods per node: 50,000 pods at 5,000 nodes
      PodAllocation pod;
      pod.uid = "pod-" + std::to_string(pod_id++);
      pod.ns = "default";
      pod.name = pod.uid;
      pod.node = name;
      pod.by_vendor["NVIDIA"] = {{{devices[rng() % 8].id, "NVIDIA", 1024, 5}}};
      ledger.AddPod(pod);
    }
  }
  FilterCore core(registry, ledger,
                  std::make_unique<policy::HamiPolicy>("hami", policy::NodePolicy::kBinpack,
                                                       policy::GpuPolicy{}));
  ExtenderArgs args;
  args.node_names = names;
  std::vector<double> latencies_us;
  int i = 0;
  for (auto _ : state) {
    args.pod = {
        {"metadata",
         {{"name", "bench"}, {"namespace", "default"}, {"uid", "bench-" + std::to_string(i++)}}},
        {"spec",
         {{"containers", nlohmann::json::array({{{"name", "c"},
                                                 {"resources",
                                                  {{"limits",
                                                    {{"nvidia.com/gpu", "1"},
                                                     {"nvidia.com/gpumem", "2000"},
                                                     {"nvidia.com/gpucores", "10"}}}}}}})}}}};
    const auto start = std::chrono::steady_clock::now();
    FilterDecision d = core.Filter(args, 0);
    latencies_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
    benchmark::DoNotOptimize(d);
    state.PauseTiming();
    if (d.decided) core.Forget(d.decided->uid);  // keep the cluster state constant
    state.ResumeTiming();
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double q) {
    return latencies_us[std::min(
        latencies_us.size() - 1,
        static_cast<size_t>(q * static_cast<double>(latencies_us.size())))];
  };
  state.counters["p50_us"] = pct(0.5);
  state.counters["p99_us"] = pct(0.99);
}

BENCHMARK(BM_FilterDecision)
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({5000, 0})
    ->Args({5000, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hami::scheduler

BENCHMARK_MAIN();
