// hami-scheduler end to end: the real binary (a child process) against the in-process fake
// API server, driven the way kube-scheduler drives an HTTP extender.
//
// Cluster: HAMI_E2E_NODES nodes (default 5,000) × 8 GPUs, 10 running pods per node (50,000),
// all registered and handshaken. Each repetition creates a batch of pending pods, then:
//  - one scheduling thread POSTs /filter for one pod at a time (kube-scheduler's scheduling
//    cycle is sequential) with every node name, or a sample (kube-scheduler's default
//    percentageOfNodesToScore sends ~10 % at this size);
//  - bind workers POST /bind in parallel (kube-scheduler binds asynchronously);
//  - after each successful bind the worker plays the device plugin's Allocate: bind-phase
//    success and node lock released (one merge patch each, as the plugin does).
// A pod whose bind fails (node lock contention) is filtered again, as kube-scheduler would.
//
// Counters: pods_per_s (filter+bind, wall clock over the batch), filter p50/p99 (client side,
// HTTP included), bind p50, bind failures, and the scheduler process's RSS (VmRSS) and peak
// (VmHWM) in MiB.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "bench/bench_cluster.h"
#include "device/annotations.h"
#include "device/codec.h"
#include "kube/client.h"
#include "kube/objects.h"
#include "kube/paths.h"
#include "tests/fakes/fake_apiserver.h"

namespace hami {
namespace {

using Clock = std::chrono::steady_clock;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : fallback;
}

nlohmann::json GpuPod(const std::string& name, int mem_mib, int cores) {
  return {{"kind", "Pod"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"schedulerName", "hami-scheduler"},
            {"containers",
             nlohmann::json::array({{{"name", "c"},
                                     {"resources",
                                      {{"limits",
                                        {{"nvidia.com/gpu", "1"},
                                         {"nvidia.com/gpumem", std::to_string(mem_mib)},
                                         {"nvidia.com/gpucores", std::to_string(cores)}}}}}}})}}}};
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// The cluster, the fake API server and the scheduler process, built once for all runs.
class Cluster {
 public:
  static Cluster& Get() {
    static Cluster* cluster = new Cluster();  // lives until exit; the destructor stops the child
    return *cluster;
  }

  const std::vector<std::string>& node_names() const { return node_names_; }
  int port() const { return port_; }
  double startup_seconds() const { return startup_seconds_; }
  fakes::FakeApiServer& api() { return *api_; }
  kube::KubeClient& plugin_client() { return *plugin_client_; }

  // VmRSS and VmHWM of the scheduler process, MiB.
  std::pair<double, double> SchedulerMemoryMib() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    double rss = 0, hwm = 0;
    while (std::getline(status, line)) {
      std::istringstream in(line);
      std::string key;
      double kb = 0;
      in >> key >> kb;
      if (key == "VmRSS:") rss = kb / 1024;
      if (key == "VmHWM:") hwm = kb / 1024;
    }
    return {rss, hwm};
  }

  // CPU seconds (user + system) the scheduler process has used so far.
  double SchedulerCpuSeconds() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name (which is in parentheses): utime is the 12th, stime 13th.
    std::istringstream in(content.substr(content.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 1; i <= 13 && in >> field; ++i) {
      if (i == 12 || i == 13) ticks += std::stod(field);
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

  ~Cluster() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

 private:
  Cluster() {
    fakes::FakeApiServerOptions options;
    options.history_limit = 200000;
    options.worker_threads = 48;
    api_ = std::make_unique<fakes::FakeApiServer>(options);
    const std::string url = *api_->Start();
    const int nodes = EnvInt("HAMI_E2E_NODES", 5000);
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    std::mt19937_64 rng(1);
    for (int n = 0; n < nodes; ++n) {
      const std::string name = "node-" + std::to_string(n);
      node_names_.push_back(name);
      const std::vector<DeviceInfo> devices = bench::EightGpus(n);
      nlohmann::json node = {{"kind", "Node"},
                             {"apiVersion", "v1"},
                             {"metadata", {{"name", name}}},
                             {"status", {{"allocatable", {{"nvidia.com/gpu", "80"}}}}}};
      node["metadata"]["annotations"][kNodeNvidiaRegisterAnnotation] =
          EncodeNodeDevicesJson(devices);
      node["metadata"]["annotations"][kNodeHandshakeAnnotation] =
          EncodeHandshake(HandshakeKind::kRequesting, now, 0);
      (void)api_->Put(node);
      for (int p = 0; p < 10; ++p) {
        nlohmann::json pod = GpuPod(name + "-run-" + std::to_string(p), 1024, 5);
        pod["spec"]["nodeName"] = name;
        const DeviceInfo& d = devices[rng() % 8];
        const std::string alloc = EncodePodDevices({{{d.id, "NVIDIA", 1024, 5}}});
        pod["metadata"]["annotations"] = {{kVgpuNodeAnnotation, name},
                                          {"hami.io/vgpu-devices-allocated", alloc},
                                          {"hami.io/vgpu-devices-to-allocate", ";"},
                                          {kBindPhaseAnnotation, "success"}};
        pod["status"] = {{"phase", "Running"}};
        (void)api_->Put(pod);
      }
    }

    kubeconfig_ = "/tmp/hami-e2e-kubeconfig-" + std::to_string(getpid());
    std::ofstream(kubeconfig_) << "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n"
                                  "  cluster:\n    server: "
                               << url
                               << "\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n"
                                  "- name: c\n  context:\n    cluster: fake\n    user: u\n"
                                  "current-context: c\n";
    port_ = FreePort();
    const std::string bind = "127.0.0.1:" + std::to_string(port_);
    std::vector<std::string> args = {
        HAMI_SCHEDULER_BIN, "--http_bind", bind, "--metrics-bind-address", "",
        "--kubeconfig",     kubeconfig_};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const auto start = Clock::now();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark, even when it is killed
      const int devnull = open("/dev/null", O_WRONLY);
      const int log = open("/tmp/hami-e2e-scheduler.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(devnull, 1);
      dup2(log, 2);
      execv(HAMI_SCHEDULER_BIN, argv.data());
      _exit(127);
    }
    if (pid_ < 0) {
      std::fprintf(stderr, "cannot start %s\n", HAMI_SCHEDULER_BIN);
      std::exit(1);
    }
    static pid_t child = pid_;
    std::atexit([] { kill(child, SIGTERM); });
    httplib::Client http("127.0.0.1", port_);
    for (int i = 0; i < 6000; ++i) {
      auto res = http.Get("/readyz");
      if (res && res->status == 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    startup_seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
    kube::ClusterConfig config;
    config.server = url;
    plugin_client_ = kube::KubeClient::WithCurl(config, kube::ClientOptions{});
  }

  static int FreePort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
  }

  std::unique_ptr<fakes::FakeApiServer> api_;
  std::unique_ptr<kube::KubeClient> plugin_client_;
  std::vector<std::string> node_names_;
  std::string kubeconfig_;
  pid_t pid_ = -1;
  int port_ = 0;
  double startup_seconds_ = 0;
};

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct PendingPod {
  std::string name;
  std::string uid;
  std::string pod_json;
};

// One batch: sequential filters, parallel binds, failed binds go back to the filter queue.
void BM_FilterBind(benchmark::State& state) {
  Cluster& cluster = Cluster::Get();
  const size_t candidates = static_cast<size_t>(state.range(0));
  const int batch = EnvInt("HAMI_E2E_BATCH", 2000);
  const int bind_workers = 16;
  static int batch_id = 0;

  const std::vector<std::string>& names = cluster.node_names();
  std::string names_json;
  std::vector<double> filter_ms, bind_ms;
  int64_t bind_failures = 0, filter_failures = 0, placed = 0;
  double sched_cpu = 0, other_cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::deque<PendingPod> queue;
    for (int i = 0; i < batch; ++i) {
      const std::string name = "b" + std::to_string(batch_id) + "-" + std::to_string(i);
      nlohmann::json stored = *cluster.api().Put(GpuPod(name, 2000, 10));
      queue.push_back({name, stored["metadata"]["uid"], stored.dump()});
    }
    ++batch_id;
    std::this_thread::sleep_for(std::chrono::seconds(2));  // let the scheduler's cache catch up
    state.ResumeTiming();
    const double sched_cpu_before = cluster.SchedulerCpuSeconds();
    const double self_cpu_before = SelfCpuSeconds();

    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<PendingPod, std::string>> to_bind;  // pod, node
    std::deque<PendingPod> refilter;
    int outstanding = batch;
    bool done = false;
    std::vector<std::thread> workers;
    for (int w = 0; w < bind_workers; ++w) {
      workers.emplace_back([&] {
        httplib::Client http("127.0.0.1", cluster.port());
        http.set_keep_alive(true);
        http.set_tcp_nodelay(true);
        for (;;) {
          std::pair<PendingPod, std::string> job;
          {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait(lock, [&] { return done || !to_bind.empty(); });
            if (to_bind.empty()) return;
            job = std::move(to_bind.front());
            to_bind.pop_front();
          }
          const nlohmann::json args = {{"PodName", job.first.name},
                                       {"PodNamespace", "default"},
                                       {"PodUID", job.first.uid},
                                       {"Node", job.second}};
          const auto t0 = Clock::now();
          auto res = http.Post("/bind", args.dump(), "application/json");
          const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          const bool ok =
              res && res->status == 200 &&
              nlohmann::json::parse(res->body, nullptr, false).value("Error", "x").empty();
          if (ok) {
            // The device plugin's Allocate: bind-phase success, node lock released.
            (void)cluster.plugin_client().MergePatch(
                kube::PodPath("default", job.first.name),
                kube::AnnotationsPatch({{kBindPhaseAnnotation, std::string("success")}}));
            (void)cluster.plugin_client().MergePatch(
                kube::NodePath(job.second),
                kube::AnnotationsPatch({{kNodeLockAnnotation, std::nullopt}}));
          }
          std::lock_guard<std::mutex> lock(mu);
          bind_ms.push_back(ms);
          if (ok) {
            ++placed;
            --outstanding;
          } else {
            ++bind_failures;
            refilter.push_back(std::move(job.first));
          }
          cv.notify_all();
        }
      });
    }

    httplib::Client http("127.0.0.1", cluster.port());
    http.set_keep_alive(true);
    http.set_tcp_nodelay(true);
    size_t next_start = 0;
    for (;;) {
      PendingPod pod;
      {
        std::unique_lock<std::mutex> lock(mu);
        if (queue.empty()) {
          cv.wait(lock, [&] { return outstanding == 0 || !refilter.empty(); });
          if (outstanding == 0) break;
          queue.push_back(std::move(refilter.front()));
          refilter.pop_front();
        }
        pod = std::move(queue.front());
        queue.pop_front();
      }
      if (candidates < names.size() || names_json.empty()) {
        // kube-scheduler walks the nodes from a rotating start index and stops once it has
        // found enough feasible ones.
        std::vector<std::string> window;
        for (size_t i = 0; i < std::min(candidates, names.size()); ++i) {
          window.push_back(names[(next_start + i) % names.size()]);
        }
        next_start = (next_start + window.size()) % names.size();
        names_json = nlohmann::json(window).dump();
      }
      const std::string body = "{\"Pod\":" + pod.pod_json + ",\"NodeNames\":" + names_json + "}";
      const auto t0 = Clock::now();
      auto res = http.Post("/filter", body, "application/json");
      filter_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      nlohmann::json result =
          res ? nlohmann::json::parse(res->body, nullptr, false) : nlohmann::json();
      const nlohmann::json* chosen = result.is_object() && result.contains("NodeNames") &&
                                             result["NodeNames"].is_array() &&
                                             !result["NodeNames"].empty()
                                         ? &result["NodeNames"][0]
                                         : nullptr;
      std::lock_guard<std::mutex> lock(mu);
      if (chosen == nullptr) {
        ++filter_failures;
        --outstanding;  // unschedulable: give up on it
        continue;
      }
      to_bind.emplace_back(std::move(pod), chosen->get<std::string>());
      cv.notify_all();
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    }
    for (std::thread& t : workers) t.join();
    sched_cpu += cluster.SchedulerCpuSeconds() - sched_cpu_before;
    other_cpu += SelfCpuSeconds() - self_cpu_before;
  }
  const auto [rss, hwm] = cluster.SchedulerMemoryMib();
  state.counters["pods_per_s"] =
      benchmark::Counter(static_cast<double>(placed), benchmark::Counter::kIsRate);
  state.counters["filter_p50_ms"] = Percentile(filter_ms, 0.5);
  state.counters["filter_p99_ms"] = Percentile(filter_ms, 0.99);
  state.counters["bind_p50_ms"] = Percentile(bind_ms, 0.5);
  state.counters["bind_failures"] = static_cast<double>(bind_failures);
  state.counters["unschedulable"] = static_cast<double>(filter_failures);
  state.counters["sched_rss_mib"] = rss;
  // Where the two cores went: the scheduler, and everything else (fake API server, clients).
  state.counters["sched_cpu_ms_per_pod"] = 1000 * sched_cpu / static_cast<double>(placed);
  state.counters["other_cpu_ms_per_pod"] = 1000 * other_cpu / static_cast<double>(placed);
  state.counters["sched_peak_mib"] = hwm;
  state.counters["startup_s"] = cluster.startup_seconds();
}

BENCHMARK(BM_FilterBind)
    ->Arg(5000)
    ->Arg(500)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
}  // namespace hami

BENCHMARK_MAIN();
