#include "scheduler/daemon.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "device/annotations.h"
#include "device/codec.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using std::chrono::milliseconds;

DeviceInfo Dev(const std::string& id, int32_t mem = 16384) { return testing::TestDevice(id, mem); }

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    config_.server = *url;
    nlohmann::json node = {
        {"kind", "Node"},
        {"apiVersion", "v1"},
        {"metadata", {{"name", "node-a"}, {"annotations", nlohmann::json::object()}}},
        {"status", {{"allocatable", {{"nvidia.com/gpu", "20"}}}}}};
    node["metadata"]["annotations"][kNodeNvidiaRegisterAnnotation] =
        EncodeNodeDevicesJson({Dev("GPU-a0"), Dev("GPU-a1")});
    ASSERT_TRUE(api_.Put(node).ok());
  }

  std::unique_ptr<SchedulerDaemon> StartDaemon() {
    std::shared_ptr<kube::KubeClient> client = testing::TestClient(config_.server, 2);
    DaemonOptions options;
    options.http_port = 0;
    options.metrics_host = "127.0.0.1";
    options.metrics_port = 0;
    options.registration_period = milliseconds(50);
    auto daemon = std::make_unique<SchedulerDaemon>(client, options);
    Status started = daemon->Start();
    EXPECT_TRUE(started.ok()) << started.message();
    for (int i = 0; i < 400 && !daemon->Synced(); ++i) std::this_thread::sleep_for(milliseconds(5));
    EXPECT_TRUE(daemon->Synced());
    return daemon;
  }

  nlohmann::json PutPod(const std::string& name, const std::string& mem) {
    return *api_.Put(testing::PodObject(
        name,
        {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", mem}, {"nvidia.com/gpucores", "30"}}));
  }

  nlohmann::json Post(int port, const std::string& path, const nlohmann::json& body) {
    httplib::Client http("127.0.0.1", port);
    auto res = http.Post(path, body.dump(), "application/json");
    EXPECT_TRUE(res);
    return res ? nlohmann::json::parse(res->body, nullptr, false) : nlohmann::json();
  }

  // /filter then /bind; returns /filter's answer (the bind must succeed when a node was chosen).
  nlohmann::json Schedule(SchedulerDaemon& daemon, const nlohmann::json& pod) {
    nlohmann::json filtered =
        Post(daemon.port(), "/filter", {{"Pod", pod}, {"NodeNames", {"node-a"}}});
    if (filtered["NodeNames"].is_array()) {
      nlohmann::json bound = Post(daemon.port(), "/bind",
                                  {{"PodName", pod["metadata"]["name"]},
                                   {"PodNamespace", "default"},
                                   {"PodUID", pod["metadata"]["uid"]},
                                   {"Node", "node-a"}});
      EXPECT_EQ(bound["Error"], "") << bound.dump();
      // The device plugin would release the lock after Allocate; do it here.
      auto n = *api_.Get("nodes", "", "node-a");
      n["metadata"]["annotations"].erase(kNodeLockAnnotation);
      EXPECT_TRUE(api_.Put(n).ok());
    }
    return filtered;
  }

  fakes::FakeApiServer api_;
  kube::ClusterConfig config_;
};

TEST_F(DaemonTest, RegistersFiltersBindsAndRebuildsAfterRestart) {
  auto daemon = StartDaemon();
  // The leader asked the device plugin for a handshake.
  auto node = api_.WaitForObject(
      "nodes", "", "node-a",
      [](const nlohmann::json& n) {
        return n["metadata"]["annotations"].contains(kNodeHandshakeAnnotation);
      },
      milliseconds(2000));
  ASSERT_TRUE(node.has_value());

  std::vector<std::string> uids;
  for (int i = 0; i < 3; ++i) {
    nlohmann::json pod = PutPod("p" + std::to_string(i), "4000");
    uids.push_back(pod["metadata"]["uid"]);
    nlohmann::json filtered = Schedule(*daemon, pod);
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"node-a"})) << filtered.dump();
  }
  EXPECT_EQ(daemon->ledger().PodCount(), 3u);
  {
    // /metrics on its own listener shows the filtered pods' allocations and the latencies.
    ASSERT_GT(daemon->metrics_port(), 0);
    httplib::Client http("127.0.0.1", daemon->metrics_port());
    auto res = http.Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->body.find("hami_vgpu_memory_allocated_bytes{namespace=\"default\","
                             "node=\"node-a\",pod=\"p0\",container_index=\"0\""),
              std::string::npos)
        << res->body;
    EXPECT_NE(res->body.find("hami_scheduler_filter_duration_seconds_count 3\n"),
              std::string::npos);
    EXPECT_NE(res->body.find("hami_scheduler_bind_duration_seconds_count 3\n"), std::string::npos);
  }
  std::vector<std::string> names = {"node-a"};
  auto before = daemon->ledger().Snapshot(names, nullptr);
  daemon->Stop();
  daemon.reset();

  // A new replica rebuilds the same ledger from the API server alone.
  auto restarted = StartDaemon();
  ASSERT_TRUE(
      api_.WaitUntil([&] { return restarted->ledger().PodCount() == 3; }, milliseconds(2000)));
  auto after = restarted->ledger().Snapshot(names, nullptr);
  ASSERT_EQ(before.size(), after.size());
  for (size_t d = 0; d < before[0].devices.size(); ++d) {
    EXPECT_EQ(before[0].devices[d].used, after[0].devices[d].used);
    EXPECT_EQ(before[0].devices[d].used_mem_mib, after[0].devices[d].used_mem_mib);
  }
  // A deleted pod releases its devices.
  ASSERT_TRUE(api_.Delete("pods", "default", "p0").ok());
  ASSERT_TRUE(
      api_.WaitUntil([&] { return restarted->ledger().PodCount() == 2; }, milliseconds(2000)));
  EXPECT_TRUE(restarted->ledger().CheckCapacity().ok());
}

TEST_F(DaemonTest, NodeWithoutRegistrationIsUnregistered) {
  ASSERT_TRUE(
      api_.Put({{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "node-cpu"}}}})
          .ok());
  auto daemon = StartDaemon();
  nlohmann::json pod = PutPod("p", "1000");
  nlohmann::json filtered =
      Post(daemon->port(), "/filter", {{"Pod", pod}, {"NodeNames", {"node-cpu", "node-a"}}});
  EXPECT_EQ(filtered["FailedNodes"]["node-cpu"], kNodeUnregistered);
  EXPECT_EQ(filtered["NodeNames"], nlohmann::json::array({"node-a"}));
}

// ResourceQuotas on the fake API server: the watch feeds /filter, the webhook and /metrics, and
// a restarted replica rebuilds the namespace's usage exactly (quota.h).
class QuotaDaemonTest : public DaemonTest {
 protected:
  static nlohmann::json Quota(const std::string& name, nlohmann::json hard) {
    return {{"kind", "ResourceQuota"},
            {"apiVersion", "v1"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", {{"hard", std::move(hard)}}}};
  }

  // Whether /filter comes to choose a node for `pod` within 2 s (after a watch event).
  bool EventuallyFits(SchedulerDaemon& daemon, const nlohmann::json& pod) {
    return api_.WaitUntil(
        [&] {
          return Post(daemon.port(), "/filter",
                      {{"Pod", pod}, {"NodeNames", {"node-a"}}})["NodeNames"]
              .is_array();
        },
        milliseconds(2000));
  }

  std::string Metrics(SchedulerDaemon& daemon) {
    httplib::Client http("127.0.0.1", daemon.metrics_port());
    auto res = http.Get("/metrics");
    return res ? res->body : "";
  }

  static nlohmann::json Review(const nlohmann::json& pod) {
    return {{"apiVersion", "admission.k8s.io/v1"},
            {"kind", "AdmissionReview"},
            {"request", {{"uid", "r"}, {"namespace", "default"}, {"object", pod}}}};
  }
};

TEST_F(QuotaDaemonTest, EnforcesTheWatchedQuotaAndRebuildsUsageAfterRestart) {
  ASSERT_TRUE(api_.Put(Quota("gpu", {{"limits.nvidia.com/gpumem", "8000"},
                                     {"limits.cpu", "4"},
                                     {"limits.nvidia.com/gpucores", "many"}}))
                  .ok());
  auto daemon = StartDaemon();
  EXPECT_EQ(Schedule(*daemon, PutPod("p0", "4000"))["NodeNames"],
            nlohmann::json::array({"node-a"}));
  EXPECT_EQ(Schedule(*daemon, PutPod("p1", "4000"))["NodeNames"],
            nlohmann::json::array({"node-a"}));
  const nlohmann::json p2 = PutPod("p2", "1000");
  nlohmann::json refused = Schedule(*daemon, p2);
  EXPECT_TRUE(refused["NodeNames"].is_null()) << refused.dump();
  EXPECT_EQ(refused["FailedNodes"]["node-a"], "2/2 ResourceQuotaNotFit");
  // The webhook refuses what cannot fit any more.
  nlohmann::json review =
      Post(daemon->port(), "/webhook",
           Review(testing::PodObject("p3", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1"}})));
  EXPECT_EQ(review["response"]["allowed"], false) << review.dump();
  EXPECT_EQ(review["response"]["status"]["message"],
            "exceeding resource quota: limits.nvidia.com/gpumem in namespace default: used 8000 + "
            "requested 1 > limit 8000 (ResourceQuota gpu)");
  const std::string used_line =
      "hami_resource_quota_used{namespace=\"default\",quota_name=\"nvidia.com/gpumem\","
      "limit=\"8000\"} 8000\n";
  EXPECT_NE(Metrics(*daemon).find(used_line), std::string::npos) << Metrics(*daemon);
  daemon->Stop();
  daemon.reset();

  // A new replica rebuilds the same usage from pod annotations before it decides anything.
  auto restarted = StartDaemon();
  ASSERT_TRUE(
      api_.WaitUntil([&] { return restarted->ledger().PodCount() == 2; }, milliseconds(2000)));
  refused = Schedule(*restarted, p2);
  EXPECT_EQ(refused["FailedNodes"]["node-a"], "2/2 ResourceQuotaNotFit") << refused.dump();
  EXPECT_NE(Metrics(*restarted).find(used_line), std::string::npos) << Metrics(*restarted);

  // Raising the quota (a watch update) lets the pod in; deleting it lifts the limit.
  ASSERT_TRUE(api_.Put(Quota("gpu", {{"limits.nvidia.com/gpumem", "9000"}})).ok());
  EXPECT_TRUE(EventuallyFits(*restarted, p2));
  ASSERT_TRUE(api_.Delete("resourcequotas", "default", "gpu").ok());
  EXPECT_TRUE(EventuallyFits(*restarted, PutPod("p4", "5000")));
}

TEST_F(QuotaDaemonTest, ExplicitZeroBlocksFromTheFirstFilter) {
  ASSERT_TRUE(api_.Put(Quota("none", {{"limits.nvidia.com/gpucores", "0"}})).ok());
  auto daemon = StartDaemon();
  nlohmann::json refused = Schedule(*daemon, PutPod("p0", "1000"));
  EXPECT_EQ(refused["FailedNodes"]["node-a"], "2/2 ResourceQuotaNotFit") << refused.dump();
  EXPECT_NE(Metrics(*daemon).find("hami_resource_quota_limit{namespace=\"default\","
                                  "quota_name=\"nvidia.com/gpucores\"} 0\n"),
            std::string::npos);
}

TEST_F(QuotaDaemonTest, FakeApiServerServesResourceQuotas) {
  httplib::Client http(config_.server);
  const std::string collection = "/api/v1/namespaces/default/resourcequotas";
  auto created = http.Post(collection, Quota("q", {{"limits.nvidia.com/gpumem", "1"}}).dump(),
                           "application/json");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201) << created->body;
  nlohmann::json stored = nlohmann::json::parse(created->body);
  stored["spec"]["hard"]["limits.nvidia.com/gpumem"] = "2";
  auto updated = http.Put(collection + "/q", stored.dump(), "application/json");
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->status, 200) << updated->body;
  auto listed = http.Get("/api/v1/resourcequotas");
  ASSERT_TRUE(listed);
  const nlohmann::json list = nlohmann::json::parse(listed->body);
  EXPECT_EQ(list["kind"], "ResourceQuotaList");
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["spec"]["hard"]["limits.nvidia.com/gpumem"], "2");
  auto deleted = http.Delete(collection + "/q");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 200) << deleted->body;
  EXPECT_FALSE(api_.Get("resourcequotas", "default", "q").has_value());
}

}  // namespace
}  // namespace hami::scheduler
