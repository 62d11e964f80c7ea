// Property tests of the assembled scheduler against the fake API server:
//  - ConcurrencyTest: many kube-scheduler-like clients filter and bind in parallel over HTTP
//    while the API server fails, conflicts and lags; no device is ever over-committed, no pod
//    is bound twice, no lock outlives a failed bind, and the ledger equals the annotations.
//  - RestartTest: the daemon is stopped at random points of a seeded operation sequence and a
//    new one must rebuild exactly the usage the API server's pods describe.
//  - RestartRefilterTest: a re-filter whose decision is not written (patch failure, no fit)
//    keeps the reservation the pod's annotations still name.
// The "device plugin" (LockReleaser) releases node locks of bound pods.
#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "device/annotations.h"
#include "device/codec.h"
#include "nodelock/node_locker.h"
#include "scheduler/binder.h"
#include "scheduler/daemon.h"
#include "scheduler/ledger.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// What testing::TestDevice registers.
constexpr int32_t kTasksPerDevice = 10;
constexpr int32_t kDeviceMemMib = 16384;
constexpr int32_t kDeviceCores = 100;

// "pod-007": fixed width, so that the path "/pods/<name>" matches no other pod's path.
std::string PodName(size_t i) {
  char name[16];
  std::snprintf(name, sizeof(name), "pod-%03zu", i);
  return name;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Polls `pred` every 2 ms until it holds or `timeout` passes; returns its last result.
template <typename Pred>
bool PollUntil(Pred pred, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

std::string Annotation(const json& object, const std::string& key) {
  const json* annotations = object.contains("metadata") && object["metadata"].is_object() &&
                                    object["metadata"].contains("annotations")
                                ? &object["metadata"]["annotations"]
                                : nullptr;
  if (annotations == nullptr || !annotations->is_object() || !annotations->contains(key) ||
      !(*annotations)[key].is_string()) {
    return "";
  }
  return (*annotations)[key].get<std::string>();
}

std::string NodeNameOf(const json& pod) {
  if (!pod.contains("spec") || !pod["spec"].is_object()) return "";
  return pod["spec"].value("nodeName", std::string());
}

// A terminating pod is not finished: its containers, and their GPU memory, live until the
// deletion is confirmed.
bool Finished(const json& pod) {
  const std::string phase =
      pod.contains("status") && pod["status"].is_object() ? pod["status"].value("phase", "") : "";
  return phase == "Succeeded" || phase == "Failed";
}

// Usage of one device: tasks, memory (MiB), cores (percent).
struct Usage {
  int64_t used = 0;
  int64_t mem_mib = 0;
  int64_t cores = 0;
  bool operator==(const Usage&) const = default;
};
using UsageMap = std::map<std::string, Usage>;  // by device uuid; only devices in use

std::string Describe(const UsageMap& usage) {
  std::string out;
  for (const auto& [uuid, u] : usage) {
    out += uuid + "{" + std::to_string(u.used) + "," + std::to_string(u.mem_mib) + "," +
           std::to_string(u.cores) + "} ";
  }
  return out;
}

// The usage the API server's pods describe, computed without the scheduler's code beyond the
// pod device codec: every pod that carries an allocation and has not finished (or, with
// `bound_only`, only pods bound to a node). With `decisions`, an unbound pod for which that
// ledger holds a decision /filter made in memory (not written yet: /bind writes it) counts
// that decision instead of its annotations.
UsageMap TruthUsage(const fakes::FakeApiServer& api, bool bound_only,
                    const UsageLedger* decisions = nullptr) {
  UsageMap usage;
  for (const json& pod : api.ListPods()) {
    if (Finished(pod)) continue;
    if (bound_only && NodeNameOf(pod).empty()) continue;
    std::string allocated = Annotation(pod, kVgpuDevicesAllocatedAnnotation);
    if (decisions != nullptr && NodeNameOf(pod).empty()) {
      auto decided = decisions->GetPod(pod["metadata"].value("uid", ""));
      if (decided && !decided->decision_written) {
        allocated = EncodePodDevices(decided->by_vendor.at("NVIDIA"));
      }
    }
    if (allocated.empty()) continue;
    auto devices = DecodePodDevices(allocated);
    EXPECT_TRUE(devices.ok()) << allocated;
    if (!devices.ok()) continue;
    for (const ContainerDevices& container : *devices) {
      for (const ContainerDevice& device : container) {
        Usage& u = usage[device.uuid];
        u.used += 1;
        u.mem_mib += device.used_mem_mib;
        u.cores += device.used_cores;
      }
    }
  }
  return usage;
}

UsageMap LedgerUsage(const UsageLedger& ledger) {
  UsageMap usage;
  const std::vector<std::string> names = ledger.NodeNames();
  for (const policy::NodeState& node : ledger.Snapshot(names, nullptr)) {
    for (const DeviceUsage& device : node.devices) {
      if (device.used == 0 && device.used_mem_mib == 0 && device.used_cores == 0) continue;
      usage[device.info.id] = {device.used, device.used_mem_mib, device.used_cores};
    }
  }
  return usage;
}

// "" when every device in `usage` is registered and within its capacity, else a description.
std::string CapacityViolations(const UsageMap& usage, const std::set<std::string>& registered) {
  std::string out;
  for (const auto& [uuid, u] : usage) {
    if (!registered.contains(uuid)) out += uuid + " is not registered; ";
    if (u.used > kTasksPerDevice || u.mem_mib > kDeviceMemMib || u.cores > kDeviceCores) {
      out += uuid + " over capacity: tasks=" + std::to_string(u.used) +
             " mem=" + std::to_string(u.mem_mib) + " cores=" + std::to_string(u.cores) + "; ";
    }
  }
  return out;
}

// Plays the device plugin's part of the lock protocol: once a lock's owner is bound (the
// plugin has allocated its devices) or gone, the lock is released with the same conditional
// patch the binder uses, so a lock taken meanwhile by another pod is never removed.
class LockReleaser {
 public:
  LockReleaser(fakes::FakeApiServer& api, const kube::ClusterConfig& config) : api_(api) {
    kube::ClientOptions options;
    options.retry.max_attempts = 4;
    options.retry.base_delay = milliseconds(2);
    options.retry.max_delay = milliseconds(20);
    client_ = kube::KubeClient::WithCurl(config, options);
    locker_ =
        std::make_unique<nodelock::NodeLocker>(*client_, nodelock::NodeLockerOptions{}, NowSeconds);
    thread_ = std::thread([this] {
      while (!stop_) {
        api_.WaitUntil([this] { return stop_ || !Releasable().empty(); }, milliseconds(20));
        for (const auto& [node, owner] : Releasable()) {
          (void)locker_->Release(node, owner.first, owner.second, /*force=*/false);
        }
      }
    });
  }
  ~LockReleaser() {
    stop_ = true;
    thread_.join();
  }

  // Locks (node -> owner ns/name) whose owner is bound or no longer exists.
  std::map<std::string, std::pair<std::string, std::string>> Releasable() const {
    std::map<std::string, std::pair<std::string, std::string>> out;
    for (const auto& [node, owner] : Locks(api_)) {
      auto pod = api_.Get("pods", owner.first, owner.second);
      if (!pod || !NodeNameOf(*pod).empty()) out[node] = owner;
    }
    return out;
  }

  bool WaitIdle(milliseconds timeout) const {
    return PollUntil([this] { return Releasable().empty(); }, timeout);
  }

  // Every node lock (node -> owner ns/name); unreadable values are reported with owner "?".
  static std::map<std::string, std::pair<std::string, std::string>> Locks(
      const fakes::FakeApiServer& api) {
    std::map<std::string, std::pair<std::string, std::string>> out;
    for (const json& node : api.List("nodes")) {
      const std::string value = Annotation(node, kNodeLockAnnotation);
      if (value.empty()) continue;
      auto lock = ParseNodeLock(value);
      out[node["metadata"]["name"].get<std::string>()] =
          lock.ok() ? std::make_pair(lock->ns, lock->name) : std::make_pair("?", value);
    }
    return out;
  }

 private:
  fakes::FakeApiServer& api_;
  std::shared_ptr<kube::KubeClient> client_;
  std::unique_ptr<nodelock::NodeLocker> locker_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class ClusterFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_level_ = spdlog::get_level();
    spdlog::set_level(spdlog::level::err);  // injected faults make the daemon log warnings
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    config_.server = *url;
  }
  void TearDown() override { spdlog::set_level(saved_level_); }

  void AddNodes(int nodes, int gpus_per_node) {
    for (int n = 0; n < nodes; ++n) {
      const std::string name = "node-" + std::to_string(n);
      std::vector<DeviceInfo> devices;
      for (int g = 0; g < gpus_per_node; ++g) {
        DeviceInfo d = testing::TestDevice("GPU-" + std::to_string(n) + "-" + std::to_string(g),
                                           kDeviceMemMib);
        d.index = g;
        devices.push_back(d);
        registered_.insert(d.id);
      }
      json node = {{"kind", "Node"},
                   {"apiVersion", "v1"},
                   {"metadata", {{"name", name}, {"annotations", json::object()}}},
                   {"status",
                    {{"allocatable",
                      {{"nvidia.com/gpu", std::to_string(gpus_per_node * kTasksPerDevice)}}}}}};
      node["metadata"]["annotations"][kNodeNvidiaRegisterAnnotation] =
          EncodeNodeDevicesJson(devices);
      ASSERT_TRUE(api_.Put(node).ok());
      node_names_.push_back(name);
    }
  }

  std::unique_ptr<SchedulerDaemon> StartDaemon(policy::NodePolicy node_policy) {
    kube::ClientOptions client_options;
    client_options.retry.max_attempts = 3;
    client_options.retry.base_delay = milliseconds(2);
    client_options.retry.max_delay = milliseconds(20);
    DaemonOptions options;
    options.http_port = 0;
    options.registration_period = milliseconds(50);
    options.node_policy = node_policy;
    // kube-scheduler's retries are what these tests drive: a contended lock fails the bind.
    options.node_lock_wait = milliseconds(0);
    auto daemon = std::make_unique<SchedulerDaemon>(
        kube::KubeClient::WithCurl(config_, client_options), options);
    Status started = daemon->Start();
    EXPECT_TRUE(started.ok()) << started.message();
    EXPECT_TRUE(PollUntil([&] { return daemon->Synced(); }, milliseconds(3000)));
    return daemon;
  }

  // A pod asking for one GPU: a random share, or (1 in `whole_card_one_in`) a whole card.
  json PutPod(const std::string& name, std::mt19937& rng, int whole_card_one_in) {
    json limits = {{"nvidia.com/gpu", "1"}};
    if (std::uniform_int_distribution<int>(1, whole_card_one_in)(rng) == 1) {
      limits["nvidia.com/gpucores"] = "100";
    } else {
      limits["nvidia.com/gpumem"] =
          std::to_string(std::uniform_int_distribution<int>(1000, 8000)(rng));
      limits["nvidia.com/gpucores"] =
          std::to_string(std::uniform_int_distribution<int>(10, 60)(rng));
    }
    return PutPod(name, limits);
  }

  json PutPod(const std::string& name, const json& limits) {
    auto stored = api_.Put(testing::PodObject(name, limits));
    EXPECT_TRUE(stored.ok());
    return stored.ok() ? *stored : json();
  }

  static std::optional<json> Post(httplib::Client& http, const std::string& path,
                                  const json& body) {
    auto res = http.Post(path, body.dump(), "application/json");
    if (!res || res->status != 200) return std::nullopt;
    json parsed = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return std::nullopt;
    return parsed;
  }

  static std::unique_ptr<httplib::Client> Http(int port) {
    auto http = std::make_unique<httplib::Client>("127.0.0.1", port);
    http->set_connection_timeout(2, 0);
    http->set_read_timeout(10, 0);
    http->set_write_timeout(10, 0);
    return http;
  }

  enum class FilterOutcome { kChosen, kNoFit, kError };
  // /filter for the pod as the API server has it now; sets `node` when one was chosen.
  // `candidates` defaults to every node.
  FilterOutcome Filter(httplib::Client& http, const std::string& name, std::string* node,
                       const std::vector<std::string>* candidates = nullptr) {
    auto pod = api_.Get("pods", "default", name);
    if (!pod) return FilterOutcome::kError;
    auto result = Post(http, "/filter",
                       {{"Pod", *pod}, {"NodeNames", candidates ? *candidates : node_names_}});
    if (!result) return FilterOutcome::kError;
    if (!result->value("Error", std::string()).empty()) return FilterOutcome::kError;
    const json& names = (*result)["NodeNames"];
    if (!names.is_array() || names.empty()) return FilterOutcome::kNoFit;
    EXPECT_EQ(names.size(), 1u) << result->dump();
    *node = names[0].get<std::string>();
    return FilterOutcome::kChosen;
  }

  // /bind; nullopt when no answer came back, else the error ("" = bound).
  std::optional<std::string> Bind(httplib::Client& http, const std::string& name,
                                  const std::string& node) {
    auto pod = api_.Get("pods", "default", name);
    if (!pod) return std::string("pod gone");
    auto result = Post(http, "/bind",
                       {{"PodName", name},
                        {"PodNamespace", "default"},
                        {"PodUID", (*pod)["metadata"]["uid"]},
                        {"Node", node}});
    if (!result) return std::nullopt;
    return result->value("Error", std::string("no Error field"));
  }

  // Waits until `ledger` equals the usage the API server's live pods describe, with the
  // decisions it holds in memory in place of those pods' annotations.
  ::testing::AssertionResult LedgerMatchesTruth(const UsageLedger& ledger, milliseconds timeout) {
    UsageMap truth, seen;
    const bool equal = PollUntil(
        [&] {
          truth = TruthUsage(api_, /*bound_only=*/false, &ledger);
          seen = LedgerUsage(ledger);
          return truth == seen;
        },
        timeout);
    if (equal) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "ledger: " << Describe(seen) << "\napi server: " << Describe(truth);
  }

  fakes::FakeApiServer api_;
  kube::ClusterConfig config_;
  std::vector<std::string> node_names_;
  std::set<std::string> registered_;
  spdlog::level::level_enum saved_level_ = spdlog::level::info;
};

// ---------------------------------------------------------------------------------------------

class ConcurrencyTest : public ClusterFixture {};

struct PodRecord {
  std::string name;
  int bind_successes = 0;
  std::string bound_node;  // the node /filter chose for the attempt whose /bind succeeded
  int attempts = 0;
  bool lost_answer = false;
};

TEST_F(ConcurrencyTest, ParallelFilterBindUnderFaultsNeverOvercommits) {
  constexpr int kNodes = 6, kGpusPerNode = 4, kThreads = 8, kPodsPerThread = 30;
  constexpr int kPods = kThreads * kPodsPerThread;
  constexpr int kAttempts = 4;  // the first try and three kube-scheduler retries
  AddNodes(kNodes, kGpusPerNode);
  auto daemon = StartDaemon(policy::NodePolicy::kSpread);
  ASSERT_TRUE(daemon->Synced());
  LockReleaser releaser(api_, config_);

  std::vector<PodRecord> records(kPods);
  for (size_t i = 0; i < records.size(); ++i) records[i].name = PodName(i);

  // One filter+bind try for record `r`; true when the pod is bound or does not fit anywhere.
  // `rng` (null: no faults of its own) decides whether this try's pod patches fail for longer
  // than the daemon's client retries, so that the decision or the bind marks are not written.
  auto attempt = [&](httplib::Client& http, PodRecord& r, std::mt19937* rng) {
    auto maybe_fail_pod_patches = [&] {
      if (rng == nullptr || std::uniform_int_distribution<int>(0, 5)(*rng) != 0) return;
      api_.FailNext(std::uniform_int_distribution<int>(3, 5)(*rng), 500, "patch",
                    "/pods/" + r.name);
    };
    ++r.attempts;
    std::string node;
    maybe_fail_pod_patches();
    const FilterOutcome filtered = Filter(http, r.name, &node);
    if (filtered == FilterOutcome::kNoFit) return true;
    if (filtered == FilterOutcome::kError) return false;
    maybe_fail_pod_patches();
    std::optional<std::string> error = Bind(http, r.name, node);
    if (!error) {
      r.lost_answer = true;
      return false;
    }
    if (!error->empty()) return false;
    ++r.bind_successes;
    r.bound_node = node;
    return true;
  };

  // Chaos: every few milliseconds a fresh set of faults, seeded.
  std::atomic<bool> chaos_done{false};
  std::thread chaos([&] {
    std::mt19937 rng(7);
    int round = 0;
    while (!chaos_done) {
      api_.ClearFaults();
      auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
      if (pick(2) == 0) api_.FailNext(1, 500, "patch", "/namespaces/default/pods/");
      if (pick(3) == 0) api_.FailNext(1, 500, "create", "/binding");
      if (pick(4) == 0) api_.FailNext(1, 500, "patch", "/nodes/");
      if (pick(6) == 0) api_.FailNext(1, 500, "create", "/events");
      api_.InjectConflict("nodes", "", node_names_[static_cast<size_t>(pick(kNodes))], 1 + pick(2));
      api_.SetLatency(milliseconds(pick(3)), pick(2) == 0 ? "patch" : "");
      if (++round % 40 == 0) api_.CloseWatches(/*abrupt=*/false);
      std::this_thread::sleep_for(milliseconds(5 + pick(10)));
    }
    api_.ClearFaults();
  });

  // The kubelet's part: bound pods run to completion or are deleted, freeing their devices
  // while filters run.
  std::mutex gone_mu;
  std::set<std::string> gone;  // deleted pods
  std::thread kubelet([&] {
    std::mt19937 rng(11);
    while (!chaos_done) {
      std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(2, 6)(rng)));
      std::vector<json> running;
      for (json& pod : api_.ListPods()) {
        if (!NodeNameOf(pod).empty() && !Finished(pod)) running.push_back(std::move(pod));
      }
      if (running.empty()) continue;
      json pod = running[std::uniform_int_distribution<size_t>(0, running.size() - 1)(rng)];
      const std::string name = pod["metadata"]["name"];
      if (std::uniform_int_distribution<int>(0, 1)(rng) == 0) {
        pod["status"]["phase"] = "Succeeded";
        EXPECT_TRUE(api_.Put(pod).ok());
      } else {
        std::lock_guard<std::mutex> lock(gone_mu);
        gone.insert(name);
        EXPECT_TRUE(api_.Delete("pods", "default", name).ok());
      }
    }
  });

  std::vector<std::thread> workers;
  workers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(1000 + t);
      auto http = Http(daemon->port());
      for (int p = 0; p < kPodsPerThread; ++p) {
        PodRecord& r = records[static_cast<size_t>(t) * kPodsPerThread + p];
        if (PutPod(r.name, rng, /*whole_card_one_in=*/8).is_null()) continue;
        for (int a = 0; a < kAttempts && !attempt(*http, r, &rng); ++a) {
          std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(1, 4)(rng)));
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  chaos_done = true;
  chaos.join();
  kubelet.join();

  // kube-scheduler keeps retrying: with the faults gone, every pod ends bound or unschedulable.
  {
    auto http = Http(daemon->port());
    for (PodRecord& r : records) {
      auto pod = api_.Get("pods", "default", r.name);
      if (!pod || !NodeNameOf(*pod).empty()) continue;
      for (int a = 0; a < kAttempts; ++a) {
        EXPECT_TRUE(releaser.WaitIdle(milliseconds(2000)));
        if (attempt(*http, r, nullptr)) break;
      }
    }
  }
  ASSERT_TRUE(releaser.WaitIdle(milliseconds(2000)));

  // Every successful /bind bound the pod to the node /filter chose, once; nothing else is bound.
  int bound = 0;
  for (const PodRecord& r : records) {
    EXPECT_FALSE(r.lost_answer) << r.name;
    EXPECT_LE(r.bind_successes, 1) << r.name;
    if (!r.bound_node.empty()) ++bound;
    if (gone.contains(r.name)) continue;
    auto pod = api_.Get("pods", "default", r.name);
    ASSERT_TRUE(pod.has_value()) << r.name;
    EXPECT_EQ(NodeNameOf(*pod), r.bound_node) << r.name;
    if (!r.bound_node.empty()) {
      EXPECT_EQ(Annotation(*pod, kVgpuNodeAnnotation), r.bound_node) << r.name;
    }
  }
  std::map<std::string, int> success_events;
  for (const json& event : api_.List("events")) {
    if (event.value("reason", std::string()) == "BindingSucceed") {
      ++success_events[event["involvedObject"].value("name", std::string())];
    }
  }
  for (const auto& [name, count] : success_events) EXPECT_LE(count, 1) << name;
  // The cluster fills up; a good share of the pods must have made it despite the faults.
  EXPECT_GE(bound, kNodes * kGpusPerNode * 2) << "too few pods bound";

  // No device is over-committed, by the pods' own annotations and by the ledger.
  EXPECT_EQ(CapacityViolations(TruthUsage(api_, /*bound_only=*/true), registered_), "");
  EXPECT_EQ(CapacityViolations(TruthUsage(api_, /*bound_only=*/false), registered_), "");
  Status capacity = daemon->ledger().CheckCapacity();
  EXPECT_TRUE(capacity.ok()) << capacity.message();
  EXPECT_TRUE(LedgerMatchesTruth(daemon->ledger(), milliseconds(3000)));

  // Locks of bound pods were released by the "device plugin"; any other lock is a leak.
  for (const auto& [node, owner] : LockReleaser::Locks(api_)) {
    ADD_FAILURE() << "node " << node << " still locked by " << owner.first << "/" << owner.second;
  }
  daemon->Stop();
}

// ---------------------------------------------------------------------------------------------

class RestartTest : public ClusterFixture {};

TEST_F(RestartTest, RebuiltLedgerEqualsApiServerAtRandomStopPoints) {
  constexpr int kIterations = 20;
  AddNodes(/*nodes=*/3, /*gpus_per_node=*/2);
  LockReleaser releaser(api_, config_);
  std::mt19937 rng(20240601);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  auto pick_from = [&](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
  };

  std::vector<std::string> pods;  // pods that exist, in creation order
  // pod -> the daemon generation whose /filter chose a node, and that node
  std::map<std::string, std::pair<int, std::string>> filtered_by;
  size_t next_pod = 0;
  int binds = 0;

  auto unbound_pods = [&] {
    std::vector<std::string> out;
    for (const std::string& name : pods) {
      auto pod = api_.Get("pods", "default", name);
      if (pod && NodeNameOf(*pod).empty() && !Finished(*pod)) out.push_back(name);
    }
    return out;
  };
  auto bound_pods = [&] {
    std::vector<std::string> out;
    for (const std::string& name : pods) {
      auto pod = api_.Get("pods", "default", name);
      if (pod && !NodeNameOf(*pod).empty() && !Finished(*pod)) out.push_back(name);
    }
    return out;
  };
  auto forget = [&](const std::string& name) {
    std::erase(pods, name);
    filtered_by.erase(name);
  };
  auto filter_pod = [&](httplib::Client& http, int generation, const std::string& name) {
    std::string node;
    const FilterOutcome outcome = Filter(http, name, &node);
    if (outcome == FilterOutcome::kChosen) {
      filtered_by[name] = {generation, node};
    } else {
      filtered_by.erase(name);
    }
  };
  // kube-scheduler's bind cycle: a pod this daemon did not filter is filtered again first.
  auto bind_pod = [&](httplib::Client& http, int generation, const std::string& name) {
    auto it = filtered_by.find(name);
    if (it == filtered_by.end() || it->second.first != generation) {
      filter_pod(http, generation, name);
    }
    auto pod = api_.Get("pods", "default", name);
    if (!filtered_by.contains(name) || !pod) return;
    EXPECT_TRUE(releaser.WaitIdle(milliseconds(2000)));
    const std::string decided = filtered_by[name].second;
    // Now and then the decision cannot be written (the pod keeps its previous one).
    if (pick(8) == 0) api_.FailNext(5, 500, "patch", "/pods/" + name);
    auto error = Bind(http, name, decided);
    api_.ClearFaults();
    ASSERT_TRUE(error.has_value()) << name;
    if (error->empty()) ++binds;
  };
  // One random operation, as kube-scheduler, users and kubelet would do them.
  auto operate = [&](httplib::Client& http, int generation) {
    const int op = pick(20);
    if (op < 8 || pods.empty()) {  // a new pod, filtered at once
      const std::string name = PodName(next_pod++);
      if (PutPod(name, rng, /*whole_card_one_in=*/6).is_null()) return;
      pods.push_back(name);
      filter_pod(http, generation, name);
    } else if (op < 14) {
      auto candidates = unbound_pods();
      if (!candidates.empty()) bind_pod(http, generation, pick_from(candidates));
    } else if (op < 17) {  // deleted, bound or not
      const std::string name = pick_from(pods);
      EXPECT_TRUE(api_.Delete("pods", "default", name).ok());
      forget(name);
    } else if (op < 18) {  // a bound pod ran to completion
      auto candidates = bound_pods();
      if (candidates.empty()) return;
      auto pod = api_.Get("pods", "default", pick_from(candidates));
      (*pod)["status"]["phase"] = "Succeeded";
      EXPECT_TRUE(api_.Put(*pod).ok());
    } else {  // kube-scheduler filters a pending pod again
      auto candidates = unbound_pods();
      if (!candidates.empty()) filter_pod(http, generation, pick_from(candidates));
    }
  };

  for (int generation = 0; generation < kIterations; ++generation) {
    SCOPED_TRACE("generation " + std::to_string(generation));
    auto daemon =
        StartDaemon(pick(2) == 0 ? policy::NodePolicy::kBinpack : policy::NodePolicy::kSpread);
    ASSERT_TRUE(daemon->Synced());
    // The rebuilt ledger is exactly what the API server's pods say, and within capacity.
    ASSERT_TRUE(LedgerMatchesTruth(daemon->ledger(), milliseconds(3000)));
    ASSERT_EQ(CapacityViolations(TruthUsage(api_, false), registered_), "");
    Status capacity = daemon->ledger().CheckCapacity();
    ASSERT_TRUE(capacity.ok()) << capacity.message();

    auto http = Http(daemon->port());
    const int ops = pick(9);
    for (int i = 0; i < ops; ++i) {
      operate(*http, generation);
      // The live ledger follows the API server too, not only a rebuilt one.
      ASSERT_TRUE(LedgerMatchesTruth(daemon->ledger(), milliseconds(1000)));
    }
    const std::vector<std::string> pending = unbound_pods();
    if (pick(4) == 0 && !pending.empty()) {
      // Stop while a request is in flight: its outcome is whatever reached the API server.
      const std::string name = pick_from(pending);
      const bool binding = pick(2) == 0;
      auto pod = api_.Get("pods", "default", name);
      std::thread in_flight([&, pod] {
        auto client = Http(daemon->port());
        if (!pod) return;
        if (binding) {
          (void)Post(*client, "/bind",
                     {{"PodName", name},
                      {"PodNamespace", "default"},
                      {"PodUID", (*pod)["metadata"]["uid"]},
                      {"Node", filtered_by.contains(name) ? filtered_by.at(name).second : ""}});
        } else {
          (void)Post(*client, "/filter", {{"Pod", *pod}, {"NodeNames", node_names_}});
        }
      });
      std::this_thread::sleep_for(milliseconds(pick(3)));
      daemon->Stop();
      in_flight.join();
    } else {
      daemon->Stop();
    }
    daemon.reset();
  }

  // A last replica schedules whatever is left; nothing may be over-committed.
  auto daemon = StartDaemon(policy::NodePolicy::kBinpack);
  ASSERT_TRUE(LedgerMatchesTruth(daemon->ledger(), milliseconds(3000)));
  auto http = Http(daemon->port());
  for (const std::string& name : unbound_pods()) bind_pod(*http, kIterations, name);
  EXPECT_GT(binds, 10);
  EXPECT_EQ(CapacityViolations(TruthUsage(api_, false), registered_), "");
  EXPECT_TRUE(LedgerMatchesTruth(daemon->ledger(), milliseconds(3000)));
  Status capacity = daemon->ledger().CheckCapacity();
  EXPECT_TRUE(capacity.ok()) << capacity.message();
  daemon->Stop();
}

// A bind that fails (the node lock is held by another pod being allocated there, or the
// Binding is refused) leaves no decision on the pod and drops it from the ledger: a pod that
// runs nowhere must not keep a device reserved, neither in this replica nor in one rebuilt
// from the annotations after a restart.
class FailedBindTest : public ClusterFixture {
 protected:
  void Run(bool binding_fails) {
    AddNodes(/*nodes=*/1, /*gpus_per_node=*/1);
    auto daemon = StartDaemon(policy::NodePolicy::kBinpack);
    auto http = Http(daemon->port());
    const json whole_card = {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "100"}};
    PutPod("first", whole_card);
    std::string node;
    ASSERT_EQ(Filter(*http, "first", &node), FilterOutcome::kChosen);
    EXPECT_EQ(Annotation(*api_.Get("pods", "default", "first"), kVgpuNodeAnnotation), "")
        << "/filter writes nothing";
    ASSERT_TRUE(LedgerMatchesTruth(daemon->ledger(), milliseconds(2000)));
    if (binding_fails) {
      api_.FailNext(5, 500, "create", "/binding");
    } else {
      // Another pod is being allocated on the node: its lock is legitimate.
      json holder = testing::PodObject("holder", json::object());
      holder["metadata"]["annotations"] = {{kVgpuNodeAnnotation, node},
                                           {kBindPhaseAnnotation, "allocating"}};
      ASSERT_TRUE(api_.Put(holder).ok());
      json node_json = *api_.Get("nodes", "", node);
      node_json["metadata"]["annotations"][kNodeLockAnnotation] =
          EncodeNodeLock(NodeLock{NowSeconds(), "default", "holder", false}, 0);
      ASSERT_TRUE(api_.Put(node_json).ok());
    }
    auto error = Bind(*http, "first", node);
    ASSERT_TRUE(error.has_value());
    EXPECT_FALSE(error->empty());
    api_.ClearFaults();
    const json first = *api_.Get("pods", "default", "first");
    EXPECT_EQ(Annotation(first, kVgpuNodeAnnotation), "");
    EXPECT_EQ(Annotation(first, kVgpuDevicesAllocatedAnnotation), "");
    EXPECT_FALSE(daemon->ledger().GetPod(first["metadata"]["uid"]).has_value());
    EXPECT_TRUE(LedgerMatchesTruth(daemon->ledger(), milliseconds(1000)));
    daemon->Stop();

    // A restarted replica holds nothing for it either, and the card is free.
    auto restarted = StartDaemon(policy::NodePolicy::kBinpack);
    EXPECT_TRUE(LedgerMatchesTruth(restarted->ledger(), milliseconds(2000)));
    EXPECT_EQ(restarted->ledger().PodCount(), 0u);
    auto again = Http(restarted->port());
    PutPod("second", whole_card);
    std::string second_node;
    EXPECT_EQ(Filter(*again, "second", &second_node), FilterOutcome::kChosen);
    restarted->Stop();
  }
};

TEST_F(FailedBindTest, LockHeldByAnotherPodLeavesNoDecision) { Run(false); }

TEST_F(FailedBindTest, RefusedBindingLeavesNoDecision) { Run(true); }

}  // namespace
}  // namespace hami::scheduler
