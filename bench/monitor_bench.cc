// hami-monitor's per-scrape and per-round costs: rendering /metrics for N containers (current
// names, and with the legacy names as well), one region snapshot, and a whole round (scan of
// N container directories, keeping the mappings, feedback) over real region files in a temp dir.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "monitor/container_scan.h"
#include "monitor/exposition.h"
#include "monitor/feedback.h"
#include "monitor/region_set.h"
#include "vgpu/shared_region.h"

namespace {

using namespace hami::monitor;

MonitorReadings Readings(int containers) {
  MonitorReadings r;
  r.now_unix_s = 1'800'000'000;
  for (int g = 0; g < 8; ++g) {
    HostDeviceReading h{"node-1", g, "GPU-" + std::to_string(g), "NVIDIA-A100", 1ull << 30, 50, 20};
    r.hosts.push_back(h);
  }
  for (int i = 0; i < containers; ++i) {
    const std::string uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f" + std::to_string(i);
    RegionSnapshot s;
    s.last_kernel_time_s = 1'799'999'990;
    VDeviceUsage d;
    d.uuid = "GPU-" + std::to_string(i % 8);
    d.limit_bytes = 3000ull << 20;
    d.used_bytes = 1234ull << 20;
    d.context_bytes = 300ull << 20;
    d.buffer_bytes = 934ull << 20;
    d.sm_util_percent = 27;
    s.devices = {d};
    r.containers.push_back({uid, "main", s});
    r.pods[uid] = {"team-" + std::to_string(i % 10), "pod-" + std::to_string(i)};
  }
  return r;
}

void BM_RenderMetrics(benchmark::State& state) {
  const MonitorReadings readings = Readings(static_cast<int>(state.range(0)));
  MonitorExpositionOptions options;
  options.legacy = state.range(1) != 0;
  size_t bytes = 0;
  for (auto _ : state) {
    auto text = RenderMonitorMetrics(readings, options);
    bytes = text->size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetLabel(options.legacy ? "current+legacy" : "current");
}
BENCHMARK(BM_RenderMetrics)->ArgsProduct({{10, 100, 1000}, {0, 1}})->Unit(benchmark::kMicrosecond);

// A hook directory with N containers, each with a region holding one process's charges.
class HookDir {
 public:
  explicit HookDir(int containers) {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/hami_mon_bench_XXXXXX";
    root_ = ::mkdtemp(tmpl.data());
    for (int i = 0; i < containers; ++i) {
      const std::string uid = "uid-" + std::to_string(i);
      const std::string dir = root_ + "/containers/" + uid + "_main";
      std::filesystem::create_directories(dir);
      hami::vgpu::RegionInit init;
      init.memory_limit_bytes[0] = 3000ull << 20;
      init.priority = i % 2;
      auto region = hami::vgpu::SharedRegion::Open(dir + "/r.cache", init);
      const std::string_view uuids[] = {"GPU-0"};
      (void)(*region)->SetDevices(uuids);
      (void)(*region)->TryCharge(0, 100ull << 20, hami::vgpu::layout::ChargeKind::kData);
      (*region)->SetRecentKernel(3);
      live_.insert(uid);
      regions_.push_back(std::move(*region));
    }
  }
  ~HookDir() { std::filesystem::remove_all(root_); }
  const std::string& root() const { return root_; }
  const std::set<std::string>& live() const { return live_; }

 private:
  std::string root_;
  std::set<std::string> live_;
  std::vector<std::unique_ptr<hami::vgpu::SharedRegion>> regions_;  // keep the writers' slots
};

void BM_Round(benchmark::State& state) {
  HookDir hook(static_cast<int>(state.range(0)));
  RegionSet set;
  ScanOptions scan_options;
  scan_options.now_unix_s = 1'800'000'000;
  for (auto _ : state) {
    auto scan = ScanContainers(hook.root(), hook.live(), scan_options);
    set.Reconcile(scan->containers);
    std::vector<OpenRegion> open = set.Entries();
    std::vector<FeedbackInput> inputs;
    for (const OpenRegion& r : open) inputs.push_back(FeedbackInputFrom(*r.region));
    const std::vector<FeedbackOutput> outputs = ComputeFeedback(inputs);
    for (size_t i = 0; i < open.size(); ++i) ApplyFeedback(*open[i].region, inputs[i], outputs[i]);
  }
}
BENCHMARK(BM_Round)->Arg(10)->Arg(100)->Unit(benchmark::kMicrosecond);

void BM_Snapshot(benchmark::State& state) {
  HookDir hook(1);
  RegionSet set;
  set.Reconcile(ScanContainers(hook.root(), hook.live(), {})->containers);
  const std::shared_ptr<MappedRegion> region = set.Entries().at(0).region;
  for (auto _ : state) benchmark::DoNotOptimize(region->Snapshot());
}
BENCHMARK(BM_Snapshot)->Unit(benchmark::kMicrosecond);

}  // namespace
BENCHMARK_MAIN();
