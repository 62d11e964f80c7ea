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
    nlohmann::json filtered =
        Post(daemon->port(), "/filter", {{"Pod", pod}, {"NodeNames", {"node-a"}}});
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"node-a"})) << filtered.dump();
    nlohmann::json bound = Post(daemon->port(), "/bind",
                                {{"PodName", pod["metadata"]["name"]},
                                 {"PodNamespace", "default"},
                                 {"PodUID", pod["metadata"]["uid"]},
                                 {"Node", "node-a"}});
    ASSERT_EQ(bound["Error"], "") << bound.dump();
    // The device plugin would release the lock after Allocate; do it here.
    auto n = *api_.Get("nodes", "", "node-a");
    n["metadata"]["annotations"].erase(kNodeLockAnnotation);
    ASSERT_TRUE(api_.Put(n).ok());
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

}  // namespace
}  // namespace hami::scheduler
