// The simulator's daemon path and hami-scheduler itself make the same decisions: a replay is
// recorded through RunExtenderReplay, then the same arrivals are played against a running
// SchedulerDaemon on the fake API server (nodes registered as the device plugin writes them,
// pods created, /filter over HTTP, the Binding's annotations written back, pods without devices
// bound where kube-scheduler put them), and every decision must match: node and devices.
//
// HAMI_PARITY_OPENB=<variant> (e.g. default) runs it on ../shared/data/openb's full cluster
// and that trace instead of the synthetic one (minutes; used for the figures in docs).
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/config.h"
#include "scheduler/daemon.h"
#include "scheduler/decision.h"
#include "sim/extender_replay.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"
#include "tests/sim/openb_data.h"

namespace hami::sim {
namespace {

using std::chrono::milliseconds;

struct Input {
  Cluster cluster;
  Workload workload;
  double inflation = 130;
};

std::optional<Input> LoadInput() {
  Input in;
  const char* variant = std::getenv("HAMI_PARITY_OPENB");
  if (variant == nullptr || *variant == '\0') {
    in.cluster = MakeSyntheticCluster(11, 40);
    in.workload = MakeSyntheticWorkload(in.cluster, 11, 400);
    return in;
  }
  std::optional<testing::OpenbTrace> openb = testing::LoadOpenb(variant);
  if (!openb) return std::nullopt;
  in.cluster = std::move(openb->cluster);
  in.workload = std::move(openb->workload);
  return in;
}

void ExpectDaemonDecidesLikeTheSimulator(const std::string& policy_name,
                                         policy::NodePolicy node_policy,
                                         policy::GpuPolicy gpu_policy) {
  std::optional<Input> input = LoadInput();
  if (!input) GTEST_SKIP() << "HAMI_PARITY_OPENB set but HAMI_SHARED_DATA/openb not readable";
  ReplayOptions options;
  options.seed = 42;
  options.inflation_percent = input->inflation;
  std::vector<RecordedArrival> record;
  auto policy = MakePolicy(policy_name, input->workload);
  ASSERT_TRUE(policy.ok());
  auto replay =
      RunExtenderReplay(input->cluster, input->workload, std::move(*policy), options, &record);
  ASSERT_TRUE(replay.ok()) << replay.status().message();

  fakes::FakeApiServer api;
  auto url = api.Start();
  ASSERT_TRUE(url.ok());
  const std::vector<policy::NodeState> states = BuildNodes(input->cluster, options.split_count);
  for (size_t i = 0; i < states.size(); ++i) {
    ASSERT_TRUE(api.Put(ToNodeJson(input->cluster.nodes[i], states[i])).ok());
  }
  scheduler::DaemonOptions daemon_options;
  daemon_options.http_port = 0;
  daemon_options.registration_period = milliseconds(50);
  daemon_options.node_policy = node_policy;
  daemon_options.gpu_policy = gpu_policy;
  scheduler::SchedulerDaemon daemon(scheduler::testing::TestClient(*url, 2), daemon_options);
  ASSERT_TRUE(daemon.Start().ok());
  ASSERT_TRUE(api.WaitUntil(
      [&] {
        if (!daemon.Synced()) return false;
        for (const policy::NodeState& s : states) {
          if (!s.devices.empty() && !daemon.ledger().HasNode(s.name)) return false;
        }
        return true;
      },
      milliseconds(10000)));
  static const VendorRegistry registry = *MakeVendorRegistry(DefaultDeviceConfig());
  httplib::Client http("127.0.0.1", daemon.port());
  size_t checked = 0;
  for (const RecordedArrival& arrival : record) {
    SCOPED_TRACE("arrival " + arrival.uid);
    nlohmann::json pod = arrival.pod;
    if (!arrival.via_extender) {
      if (arrival.node.empty()) continue;  // kube-scheduler found no room: never created
      pod["spec"]["nodeName"] = arrival.node;
      pod["status"]["phase"] = "Running";
      ASSERT_TRUE(api.Put(pod).ok());
      ASSERT_TRUE(api.WaitUntil([&] { return daemon.ledger().HasHostOnlyPod(arrival.uid); },
                                milliseconds(5000)));
      continue;
    }
    ASSERT_TRUE(api.Put(pod).ok());
    nlohmann::json body = {{"Pod", pod}, {"NodeNames", arrival.candidates}};
    auto res = http.Post("/filter", body.dump(), "application/json");
    ASSERT_TRUE(res && res->status == 200);
    nlohmann::json result = nlohmann::json::parse(res->body);
    std::string node;
    if (result["NodeNames"].is_array() && !result["NodeNames"].empty()) {
      node = result["NodeNames"][0].get<std::string>();
    }
    ASSERT_EQ(node, arrival.node) << "daemon and simulator chose differently";
    ++checked;
    if (node.empty()) continue;
    auto decided = daemon.ledger().GetPod(arrival.uid);
    ASSERT_TRUE(decided.has_value());
    ASSERT_EQ(EncodePodDevices(decided->by_vendor.at("NVIDIA")), arrival.devices);
    // What the Binding and the device plugin write: the decision, bound, allocated.
    pod["spec"]["nodeName"] = node;
    for (const auto& [key, value] : scheduler::DecisionAnnotations(registry, *decided)) {
      pod["metadata"]["annotations"][key] = value;
    }
    pod["metadata"]["annotations"][kBindPhaseAnnotation] = "success";
    pod["status"]["phase"] = "Running";
    ASSERT_TRUE(api.Put(pod).ok());
    ASSERT_TRUE(api.WaitUntil(
        [&] {
          auto p = daemon.ledger().GetPod(arrival.uid);
          return p && p->decision_written && !p->in_flight;
        },
        milliseconds(5000)));
  }
  EXPECT_GT(checked, 0u);
  EXPECT_TRUE(daemon.ledger().CheckCapacity().ok());
  daemon.Stop();
  std::cout << policy_name << ": " << checked << " /filter decisions identical, "
            << replay->unallocated_at_100 << " % unallocated at 100 % arrived\n";
}

TEST(DaemonParityTest, HamiFragDecidesInTheDaemonAsInTheSimulator) {
  ExpectDaemonDecidesLikeTheSimulator("hami-frag", policy::NodePolicy::kFrag, policy::GpuPolicy{});
}

TEST(DaemonParityTest, HamiBinpackDecidesInTheDaemonAsInTheSimulator) {
  ExpectDaemonDecidesLikeTheSimulator("hami-binpack", policy::NodePolicy::kBinpack,
                                      policy::GpuPolicy{{policy::GpuPolicyKey::kBinpack}});
}

}  // namespace
}  // namespace hami::sim
