// The Web UI's cost at the scale (docs/web-ui.md): 5,000 nodes × 8 GPUs and 50,000
// pods in the ledger, plus a full decision ring (--ui-decisions 1000, of which 100 pods fit
// nowhere and carry a reason for every node).
//
// BM_UiEndpoint/<n>: one API request handled in process (UiServer::Handle, no socket), copying
//   the ledger every time (snapshot_ttl 0; the default 2 s shares one copy between requests), per
//   endpoint: 0 summary (fragmentation recomputed: its 5 s cache is off), 1 summary (cached), 2
//   nodes, 3 one node, 4 pods (limit 1000), 5 a pending pod's diagnosis, 6 quotas.
// BM_FilterUnderUi/<mode>: ExtenderServer::HandleFilter (decode, decide, record into the ring,
//   encode) while a UI client polls summary + nodes + pods: 0 no client, 1 every 100 ms, 2 as
//   fast as it can. p50/p99 of /filter as counters; compare 1 and 2 with 0.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "bench/bench_cluster.h"
#include "device/config.h"
#include "kube/client.h"
#include "scheduler/binder.h"
#include "scheduler/decision_log.h"
#include "scheduler/filter.h"
#include "scheduler/http_server.h"
#include "scheduler/ui_server.h"

namespace hami::scheduler {
namespace {

constexpr int kNodes = 5000;

struct Cluster {
  VendorRegistry registry = std::move(*MakeVendorRegistry(DefaultDeviceConfig()));
  UsageLedger ledger;
  DecisionLog decisions{1000};
  std::vector<std::string> names;
  std::unique_ptr<FilterCore> filter;
  std::unique_ptr<kube::KubeClient> client;
  std::unique_ptr<Binder> binder;
  std::unique_ptr<ExtenderServer> extender;
  std::unique_ptr<UiServer> ui;

  Cluster() {
    std::mt19937_64 rng(1);
    int pod_id = 0;
    for (int n = 0; n < kNodes; ++n) {
      const std::string name = "node-" + std::to_string(n);
      names.push_back(name);
      const std::vector<DeviceInfo> devices = bench::EightGpus(n);
      ledger.SetNodeDevices(name, "NVIDIA", devices);
      for (int p = 0; p < 10; ++p) {  // 50,000 pods
        PodAllocation pod;
        pod.uid = "pod-" + std::to_string(pod_id++);
        pod.ns = "ns-" + std::to_string(pod_id % 50);
        pod.name = pod.uid;
        pod.node = name;
        pod.decided_unix_seconds = 1700000000;
        pod.by_vendor["NVIDIA"] = {{{devices[rng() % 8].id, "NVIDIA", 1024, 5}}};
        ledger.AddPod(pod);
      }
    }
    filter = std::make_unique<FilterCore>(
        registry, ledger,
        std::make_unique<policy::HamiPolicy>("hami", policy::NodePolicy::kBinpack,
                                             policy::GpuPolicy{}));
    kube::ClusterConfig config;
    config.server = "http://127.0.0.1:1";  // never called: nothing binds
    client = kube::KubeClient::WithCurl(config);
    binder = std::make_unique<Binder>(*client, registry, ledger, BindOptions{},
                                      [] { return int64_t{1700000000}; });
    ServerHooks hooks;
    hooks.decisions = &decisions;
    extender = std::make_unique<ExtenderServer>(*filter, *binder, hooks);
    // 100 pods that fit nowhere (a reason per node each), then 900 placed decisions.
    for (int i = 0; i < 1000; ++i) {
      const bool huge = i < 100;
      const std::string body = FilterBody("fill-" + std::to_string(i), huge ? "99999" : "1000");
      extender->HandleFilter(body);
    }
    for (const PodAllocation& pod : ledger.Pods()) {
      if (pod.name.starts_with("fill-")) filter->Forget(pod.uid);
    }
  }

  std::string FilterBody(const std::string& name, const std::string& memory) const {
    nlohmann::json args = {
        {"Pod",
         {{"metadata", {{"name", name}, {"namespace", "bench"}, {"uid", "uid-" + name}}},
          {"spec",
           {{"containers", nlohmann::json::array({{{"name", "c"},
                                                   {"resources",
                                                    {{"limits",
                                                      {{"nvidia.com/gpu", "1"},
                                                       {"nvidia.com/gpumem", memory},
                                                       {"nvidia.com/gpucores", "10"}}}}}}})}}}}},
        {"NodeNames", names}};
    return args.dump();
  }

  UiServer& Ui(std::chrono::milliseconds fits_ttl, std::chrono::milliseconds snapshot_ttl) {
    UiSources s;
    s.registry = &registry;
    s.ledger = &ledger;
    s.decisions = &decisions;
    s.fits_ttl = fits_ttl;
    s.snapshot_ttl = snapshot_ttl;
    s.version = "bench";
    ui = std::make_unique<UiServer>(std::move(s));
    return *ui;
  }
};

Cluster& Shared() {
  static Cluster* cluster = new Cluster();
  return *cluster;
}

void BM_UiEndpoint(benchmark::State& state) {
  Cluster& c = Shared();
  const int which = static_cast<int>(state.range(0));
  // Every request copies the ledger (snapshot_ttl 0): the cost a request pays at most.
  UiServer& ui = c.Ui(which == 0 ? std::chrono::milliseconds(0) : std::chrono::seconds(3600),
                      std::chrono::milliseconds(0));
  const std::vector<std::string> paths = {"/api/v1/summary", "/api/v1/summary",
                                          "/api/v1/nodes",   "/api/v1/nodes/node-42",
                                          "/api/v1/pods",    "/api/v1/pods/bench/fill-7/diagnosis",
                                          "/api/v1/quotas"};
  const std::string& path = paths[static_cast<size_t>(which)];
  state.SetLabel(path + (which == 0 ? " (uncached)" : ""));
  size_t bytes = 0;
  for (auto _ : state) {
    UiResponse r = ui.Handle("GET", path, {});
    if (r.status != 200) state.SkipWithError(("HTTP " + std::to_string(r.status)).c_str());
    bytes = r.body.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["body_kib"] = static_cast<double>(bytes) / 1024.0;
}
BENCHMARK(BM_UiEndpoint)->DenseRange(0, 6)->Unit(benchmark::kMillisecond);

void BM_FilterUnderUi(benchmark::State& state) {
  Cluster& c = Shared();
  UiServer& ui = c.Ui(std::chrono::seconds(5), std::chrono::seconds(2));  // the defaults
  const int mode = static_cast<int>(state.range(0));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> polls{0};
  std::thread client;
  if (mode > 0) {
    client = std::thread([&] {
      while (!stop.load()) {
        for (const char* path : {"/api/v1/summary", "/api/v1/nodes", "/api/v1/pods"}) {
          benchmark::DoNotOptimize(ui.Handle("GET", path, {}));
        }
        ++polls;
        if (mode == 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  std::vector<double> latencies_us;
  int i = 0;
  for (auto _ : state) {
    const std::string body = c.FilterBody("p-" + std::to_string(i++), "2000");
    const auto start = std::chrono::steady_clock::now();
    std::string answer = c.extender->HandleFilter(body);
    latencies_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
    benchmark::DoNotOptimize(answer);
    state.PauseTiming();
    c.filter->Forget("uid-p-" + std::to_string(i - 1));  // keep the cluster constant
    state.ResumeTiming();
  }
  stop = true;
  if (client.joinable()) client.join();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double q) {
    return latencies_us[std::min(
        latencies_us.size() - 1,
        static_cast<size_t>(q * static_cast<double>(latencies_us.size())))];
  };
  state.counters["p50_us"] = pct(0.5);
  state.counters["p99_us"] = pct(0.99);
  state.counters["ui_polls"] = static_cast<double>(polls.load());
}
BENCHMARK(BM_FilterUnderUi)->DenseRange(0, 2)->Iterations(2000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hami::scheduler

BENCHMARK_MAIN();
