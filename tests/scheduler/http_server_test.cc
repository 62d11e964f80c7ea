#include "scheduler/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "device/annotations.h"
#include "device/config.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

DeviceInfo Dev(const std::string& id, int32_t mem = 16384) { return testing::TestDevice(id, mem); }

class ExtenderServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    client_ = testing::TestClient(*url, 1);
    registry_ = std::make_unique<VendorRegistry>(*MakeVendorRegistry(DefaultDeviceConfig()));
    ledger_.SetNodeDevices("node-a", "NVIDIA", {Dev("GPU-a")});
    ASSERT_TRUE(
        api_.Put({{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "node-a"}}}})
            .ok());
    filter_ =
        std::make_unique<FilterCore>(*registry_, ledger_,
                                     std::make_unique<policy::HamiPolicy>(
                                         "d", policy::NodePolicy::kBinpack, policy::GpuPolicy{}));
    binder_ = std::make_unique<Binder>(*client_, *registry_, ledger_, BindOptions{},
                                       [] { return int64_t{1735830245}; });
    ServerHooks hooks;
    hooks.is_leader = [this] { return leader_.load(); };
    server_ = std::make_unique<ExtenderServer>(*filter_, *binder_, hooks);
    auto port = server_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().message();
    http_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }

  nlohmann::json PutPod(const std::string& name) {
    return *api_.Put(testing::PodObject(
        name,
        {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "3000"}, {"nvidia.com/gpucores", "30"}}));
  }

  nlohmann::json Post(const std::string& path, const nlohmann::json& body) {
    auto res = http_->Post(path, body.dump(), "application/json");
    EXPECT_TRUE(res);
    if (!res) return nullptr;
    EXPECT_EQ(res->status, 200) << res->body;
    return nlohmann::json::parse(res->body, nullptr, false);
  }

  fakes::FakeApiServer api_;
  std::unique_ptr<kube::KubeClient> client_;
  std::unique_ptr<VendorRegistry> registry_;
  UsageLedger ledger_;
  std::unique_ptr<FilterCore> filter_;
  std::unique_ptr<Binder> binder_;
  std::atomic<bool> leader_{true};
  std::unique_ptr<ExtenderServer> server_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(ExtenderServerTest, FilterThenBindOverHttp) {
  nlohmann::json pod = PutPod("p1");
  nlohmann::json filtered = Post("/filter", {{"Pod", pod}, {"NodeNames", {"node-a"}}});
  EXPECT_EQ(filtered["NodeNames"], nlohmann::json::array({"node-a"}));
  EXPECT_EQ(filtered["Error"], "");
  // The scheduling cycle writes nothing: the decision is in the ledger only.
  EXPECT_EQ(api_.RequestCount("patch"), 0);
  EXPECT_EQ(api_.RequestCount("create"), 0);
  EXPECT_FALSE(ledger_.GetPod(pod["metadata"]["uid"])->decision_written);

  nlohmann::json bound = Post("/bind", {{"PodName", "p1"},
                                        {"PodNamespace", "default"},
                                        {"PodUID", pod["metadata"]["uid"]},
                                        {"Node", "node-a"}});
  EXPECT_EQ(bound["Error"], "");
  auto stored = api_.Get("pods", "default", "p1");
  EXPECT_EQ((*stored)["spec"]["nodeName"], "node-a");
  EXPECT_EQ((*stored)["metadata"]["annotations"][kVgpuNodeAnnotation], "node-a");
  EXPECT_EQ((*stored)["metadata"]["annotations"][kVgpuDevicesAllocatedAnnotation],
            "GPU-a,NVIDIA,3000,30:;");
}

TEST_F(ExtenderServerTest, AFailedBindingLeavesNothingBehind) {
  nlohmann::json pod = PutPod("p1");
  nlohmann::json filtered = Post("/filter", {{"Pod", pod}, {"NodeNames", {"node-a"}}});
  EXPECT_EQ(filtered["NodeNames"], nlohmann::json::array({"node-a"}));
  api_.FailNext(1, 500, "create", "/binding");
  nlohmann::json bound = Post("/bind", {{"PodName", "p1"},
                                        {"PodNamespace", "default"},
                                        {"PodUID", pod["metadata"]["uid"]},
                                        {"Node", "node-a"}});
  EXPECT_NE(bound["Error"].get<std::string>().find("bind pod default/p1"), std::string::npos);
  auto stored = api_.Get("pods", "default", "p1");
  EXPECT_EQ((*stored)["spec"].value("nodeName", ""), "");
  EXPECT_FALSE((*stored)["metadata"].contains("annotations"));
  EXPECT_EQ(ledger_.PodCount(), 0u);
  // kube-scheduler filters it again: the in-memory decision is simply replaced.
  filtered = Post("/filter", {{"Pod", pod}, {"NodeNames", {"node-a"}}});
  EXPECT_EQ(filtered["NodeNames"], nlohmann::json::array({"node-a"}));
  EXPECT_EQ(ledger_.PodCount(), 1u);
}

TEST_F(ExtenderServerTest, FilterWaitsForLeadershipAndSyncInsteadOfFailing) {
  // kube-scheduler parks a pod whose filter fails for up to 5 minutes: a replica that becomes
  // leader (or finishes its first sync) within the wait answers normally.
  std::atomic<bool> synced{false};
  std::atomic<int> rechecks{0};
  ServerHooks hooks;
  hooks.is_leader = [this] { return leader_.load(); };
  hooks.is_synced = [&] { return synced.load(); };
  hooks.filter_wait = std::chrono::milliseconds(5000);
  hooks.recheck_leader = [&] { ++rechecks; };
  server_->Stop();
  server_ = std::make_unique<ExtenderServer>(*filter_, *binder_, hooks);
  auto port = server_->Start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  http_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  leader_ = false;
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    leader_ = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    synced = true;
  });
  nlohmann::json pod = PutPod("p1");
  const auto start = std::chrono::steady_clock::now();
  nlohmann::json filtered = Post("/filter", {{"Pod", pod}, {"NodeNames", {"node-a"}}});
  const auto waited = std::chrono::steady_clock::now() - start;
  later.join();
  EXPECT_EQ(filtered["Error"], "");
  EXPECT_EQ(filtered["NodeNames"], nlohmann::json::array({"node-a"}));
  EXPECT_GE(waited, std::chrono::milliseconds(550));
  EXPECT_GE(rechecks.load(), 1) << "the Lease is read again while waiting for leadership";

  // The wait is bounded: a replica that never becomes ready answers with the reason.
  synced = false;
  hooks.filter_wait = std::chrono::milliseconds(200);
  server_->Stop();
  server_ = std::make_unique<ExtenderServer>(*filter_, *binder_, hooks);
  port = server_->Start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  http_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  filtered = Post("/filter", {{"Pod", PutPod("p2")}, {"NodeNames", {"node-a"}}});
  EXPECT_NE(filtered["Error"].get<std::string>().find("first node registration pass"),
            std::string::npos);
}

TEST_F(ExtenderServerTest, FollowersRefuseAndBadBodiesAreReported) {
  leader_ = false;
  nlohmann::json pod = PutPod("p1");
  EXPECT_NE(
      Post("/filter", {{"Pod", pod}, {"NodeNames", {"node-a"}}})["Error"].get<std::string>().find(
          "not the leader"),
      std::string::npos);
  EXPECT_NE(
      Post("/bind", {{"PodName", "p1"}, {"PodNamespace", "default"}, {"Node", "node-a"}})["Error"]
          .get<std::string>()
          .find("not the leader"),
      std::string::npos);
  leader_ = true;
  EXPECT_NE(
      Post("/filter", {{"NodeNames", {"node-a"}}})["Error"].get<std::string>().find("missing Pod"),
      std::string::npos);
  auto empty = http_->Post("/filter", "", "application/json");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  auto bad_review = http_->Post("/webhook", "{}", "application/json");
  ASSERT_TRUE(bad_review);
  EXPECT_EQ(bad_review->status, 400);
}

TEST_F(ExtenderServerTest, WebhookAndProbes) {
  nlohmann::json review = {{"apiVersion", "admission.k8s.io/v1"},
                           {"request", {{"uid", "r1"}, {"object", PutPod("p1")}}}};
  nlohmann::json response = Post("/webhook", review);
  EXPECT_EQ(response["response"]["uid"], "r1");
  EXPECT_EQ(response["response"]["allowed"], true);
  auto health = http_->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = http_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "ok: leader");
}

}  // namespace
}  // namespace hami::scheduler
