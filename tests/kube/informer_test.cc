// Informer against the fake API server (sync, paging, events, bookmarks, 410 relist with
// synthetic deletes, reconnects after dropped watches, injected failures, prompt Stop) and
// against a scripted transport (HTTP 410 on the watch request, handler exceptions).
#include "kube/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "kube/paths.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/kube/scripted_transport.h"

namespace hami::kube {
namespace {

using fakes::FakeApiServer;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kWait{1500};

json Pod(const std::string& name, const std::string& ns = "default", json labels = nullptr) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"spec", {{"containers", {{{"name", "c"}}}}}}};
  if (!labels.is_null()) pod["metadata"]["labels"] = std::move(labels);
  return pod;
}

// Records handler calls as "add ns/name", "update ns/name", "delete ns/name".
class Recorder {
 public:
  InformerHandlers Handlers() {
    return {[this](const json& o) { Record("add " + ObjectKey(o)); },
            [this](const json& old_object, const json& o) {
              EXPECT_EQ(ObjectKey(old_object), ObjectKey(o));
              Record("update " + ObjectKey(o));
            },
            [this](const json& o) { Record("delete " + ObjectKey(o)); }};
  }
  // Waits until `n` calls have been recorded; returns them all.
  std::vector<std::string> Wait(size_t n, milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return calls_.size() >= n; });
    return calls_;
  }
  std::vector<std::string> Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.clear();
  }

 private:
  void Record(std::string call) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(call));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
};

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class InformerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::string> url = server_.Start();
    ASSERT_TRUE(url.ok()) << url.status().message();
    ClusterConfig config;
    config.server = *url;
    ClientOptions options;
    options.request_timeout = milliseconds(2000);
    options.retry.base_delay = milliseconds(1);
    client_ = KubeClient::WithCurl(config, options);
  }

  std::unique_ptr<Informer> MakeInformer(InformerOptions options = {}) {
    if (options.path.empty()) options.path = PodsPath("");
    options.backoff_base = milliseconds(20);
    options.backoff_max = milliseconds(200);
    auto informer = std::make_unique<Informer>(client_, options);
    EXPECT_TRUE(informer->AddHandlers(recorder_.Handlers()).ok());
    return informer;
  }

  FakeApiServer server_;
  std::shared_ptr<KubeClient> client_;
  Recorder recorder_;
};

TEST_F(InformerTest, ListsInPagesThenStreamsEvents) {
  for (const char* name : {"a", "b", "c"}) ASSERT_TRUE(server_.Put(Pod(name)).ok());
  InformerOptions options;
  options.page_size = 2;
  auto informer = MakeInformer(options);
  EXPECT_FALSE(informer->HasSynced());
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(kWait));
  EXPECT_EQ(Sorted(recorder_.Calls()),
            (std::vector<std::string>{"add default/a", "add default/b", "add default/c"}));
  EXPECT_EQ(informer->size(), 3u);
  EXPECT_GE(server_.RequestCount("list"), 2);  // paged
  auto a = informer->Get("default/a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ((*a)["kind"], "Pod");  // filled in from the list kind
  EXPECT_EQ(informer->Get("default/zzz"), nullptr);

  ASSERT_TRUE(server_.WaitForWatches(1, kWait));
  recorder_.Clear();
  ASSERT_TRUE(server_.Put(Pod("d", "other")).ok());
  json changed = Pod("a");
  changed["metadata"]["labels"] = {{"x", "y"}};
  ASSERT_TRUE(server_.Put(changed).ok());
  ASSERT_TRUE(server_.Delete("pods", "default", "b").ok());
  EXPECT_EQ(recorder_.Wait(3),
            (std::vector<std::string>{"add other/d", "update default/a", "delete default/b"}));
  EXPECT_EQ(informer->size(), 3u);
  EXPECT_EQ(PodView(*informer->Get("default/a")).Label("x"), "y");
  EXPECT_EQ(informer->resource_version(), std::to_string(server_.ResourceVersion()));
  EXPECT_EQ(informer->Snapshot().size(), 3u);
  EXPECT_EQ(informer->lists_total(), 1u);
}

TEST_F(InformerTest, SelectorsLimitTheCache) {
  ASSERT_TRUE(server_.Put(Pod("gpu", "default", {{"hami", "yes"}})).ok());
  ASSERT_TRUE(server_.Put(Pod("cpu")).ok());
  InformerOptions options;
  options.label_selector = "hami=yes";
  auto informer = MakeInformer(options);
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(kWait));
  EXPECT_EQ(informer->size(), 1u);
  ASSERT_TRUE(server_.WaitForWatches(1, kWait));
  ASSERT_TRUE(server_.Put(Pod("cpu", "default", {{"hami", "yes"}})).ok());  // enters selector
  EXPECT_EQ(recorder_.Wait(2).back(), "add default/cpu");
}

TEST_F(InformerTest, TransformAppliesToListedAndWatchedObjectsBeforeHandlersAndStore) {
  json big = Pod("listed");
  big["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  ASSERT_TRUE(server_.Put(big).ok());
  InformerOptions options;
  options.transform = [](json& object) { object["metadata"].erase("managedFields"); };
  auto informer = MakeInformer(options);
  std::atomic<int> untrimmed_seen{0};
  ASSERT_TRUE(informer
                  ->AddHandlers({[&](const json& o) {
                                   if (o["metadata"].contains("managedFields")) ++untrimmed_seen;
                                 },
                                 nullptr, nullptr})
                  .ok());
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(kWait));
  ASSERT_TRUE(server_.WaitForWatches(1, kWait));
  json watched = Pod("watched");
  watched["metadata"]["managedFields"] = json::array({{{"manager", "kubelet"}}});
  ASSERT_TRUE(server_.Put(watched).ok());
  recorder_.Wait(2);
  for (const char* key : {"default/listed", "default/watched"}) {
    auto cached = informer->Get(key);
    ASSERT_NE(cached, nullptr) << key;
    EXPECT_FALSE((*cached)["metadata"].contains("managedFields")) << key;
  }
  EXPECT_EQ(untrimmed_seen.load(), 0);
}

TEST_F(InformerTest, BookmarksAdvanceResourceVersion) {
  auto informer = MakeInformer();
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(kWait));
  ASSERT_TRUE(server_.WaitForWatches(1, kWait));
  ASSERT_TRUE(server_.Put(json{{"kind", "Node"}, {"metadata", {{"name", "n"}}}}).ok());
  server_.SendBookmarks();
  const std::string want = std::to_string(server_.ResourceVersion());
  ASSERT_TRUE(server_.WaitUntil([&] { return informer->resource_version() == want; }, kWait));
  EXPECT_TRUE(recorder_.Calls().empty());  // a node write is not a pod event
}

TEST_F(InformerTest, RelistsAfterExpiredResourceVersionWithSyntheticDeletes) {
  for (const char* name : {"keep", "change", "vanish"}) ASSERT_TRUE(server_.Put(Pod(name)).ok());
  auto informer = MakeInformer();
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(kWait));
  ASSERT_TRUE(server_.WaitForWatches(1, kWait));
  recorder_.Clear();

  // Hold the re-watch back while the world moves on and the history is compacted, so the
  // informer's resourceVersion is expired when it comes back.
  server_.SetLatency(milliseconds(300), "watch");
  server_.CloseWatches();
  ASSERT_TRUE(server_.WaitUntil([&] { return server_.ActiveWatches() == 0; }, kWait));
  json changed = Pod("change");
  changed["metadata"]["labels"] = {{"v", "2"}};
  ASSERT_TRUE(server_.Put(changed).ok());
  ASSERT_TRUE(server_.Delete("pods", "default", "vanish").ok());
  ASSERT_TRUE(server_.Put(Pod("new")).ok());
  server_.Compact();
  std::vector<std::string> calls = recorder_.Wait(3, milliseconds(1500));
  server_.SetLatency(milliseconds(0));
  EXPECT_EQ(Sorted(calls), (std::vector<std::string>{"add default/new", "delete default/vanish",
                                                     "update default/change"}));
  EXPECT_EQ(informer->lists_total(), 2u);
  EXPECT_EQ(informer->size(), 3u);
  EXPECT_EQ(informer->Get("default/vanish"), nullptr);
  EXPECT_TRUE(informer->HasSynced());
}

TEST_F(InformerTest, ReconnectsAfterDroppedWatchesWithoutRelisting) {
  auto informer = MakeInformer();
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(kWait));
  for (bool abrupt : {false, true}) {
    ASSERT_TRUE(server_.WaitForWatches(1, kWait));
    uint64_t watches = informer->watches_total();
    server_.CloseWatches(abrupt);
    ASSERT_TRUE(server_.WaitUntil([&] { return informer->watches_total() > watches; }, kWait));
    ASSERT_TRUE(server_.WaitForWatches(1, kWait));
  }
  ASSERT_TRUE(server_.Put(Pod("after")).ok());
  EXPECT_EQ(recorder_.Wait(1), (std::vector<std::string>{"add default/after"}));
  EXPECT_EQ(informer->lists_total(), 1u);  // resumed from its resourceVersion
}

TEST_F(InformerTest, SurvivesInjectedFailuresAndServerRestart) {
  ASSERT_TRUE(server_.Put(Pod("a")).ok());
  server_.FailNext(8, 500, "list");  // more than one client call's retries
  auto informer = MakeInformer();
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(kWait));
  EXPECT_FALSE(informer->last_error().ok());  // it did see the failures
  EXPECT_EQ(informer->size(), 1u);

  ASSERT_TRUE(server_.WaitForWatches(1, kWait));
  const int watches_before = server_.RequestCount("watch");
  server_.FailNext(2, 503, "watch");
  server_.CloseWatches();
  ASSERT_TRUE(server_.WaitUntil([&] { return server_.RequestCount("watch") >= watches_before + 3; },
                                kWait));
  ASSERT_TRUE(server_.WaitForWatches(1, kWait));
  ASSERT_TRUE(server_.Put(Pod("b")).ok());
  EXPECT_EQ(recorder_.Wait(2).back(), "add default/b");

  server_.Stop();  // down for a while: the informer backs off, keeps its cache
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(informer->size(), 2u);
  ASSERT_TRUE(server_.Start().ok());
  ASSERT_TRUE(server_.WaitForWatches(1, milliseconds(1500)));
  ASSERT_TRUE(server_.Put(Pod("c")).ok());
  EXPECT_EQ(recorder_.Wait(3).back(), "add default/c");
}

TEST_F(InformerTest, StopIsPromptWhileWatchingOrBackingOff) {
  auto informer = MakeInformer();
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(kWait));
  ASSERT_TRUE(server_.WaitForWatches(1, kWait));
  auto start = std::chrono::steady_clock::now();
  informer->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500));
  informer->Stop();  // idempotent

  InformerOptions options;
  options.path = NodesPath();
  auto slow = std::make_unique<Informer>(client_, options);
  server_.SetLatency(milliseconds(1500), "list");
  slow->Start();
  std::this_thread::sleep_for(milliseconds(50));
  start = std::chrono::steady_clock::now();
  slow->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500));
  EXPECT_FALSE(slow->HasSynced());
  server_.SetLatency(milliseconds(0));
}

TEST_F(InformerTest, HandlersCannotBeAddedAfterStart) {
  auto informer = MakeInformer();
  informer->Start();
  EXPECT_EQ(informer->AddHandlers({}).code(), StatusCode::kFailedPrecondition);
}

// The scripted transport answers the watch request itself with HTTP 410, then serves a list
// that lacks an object: the informer relists and reports the vanished object as deleted.
TEST(InformerScriptedTest, HttpGoneOnWatchRelistsAndHandlersMayThrow) {
  auto transport = std::make_shared<testing::ScriptedTransport>();
  ClusterConfig config;
  config.server = "http://api";
  ClientOptions client_options;
  client_options.retry.max_attempts = 1;
  auto client = std::make_shared<KubeClient>(transport, config, client_options);
  auto list = [](std::vector<std::string> names, const std::string& rv) {
    json items = json::array();
    for (const auto& n : names) {
      items.push_back({{"metadata", {{"name", n}, {"resourceVersion", "5"}}}});
    }
    return json{{"kind", "NodeList"},
                {"apiVersion", "v1"},
                {"metadata", {{"resourceVersion", rv}}},
                {"items", items}};
  };
  transport->PushJson(200, list({"n1", "n2"}, "10"));
  testing::ScriptedReply gone;
  gone.response.status = 410;
  gone.response.body = R"({"kind":"Status","code":410,"reason":"Expired"})";
  transport->Push(gone);
  transport->PushJson(200, list({"n1"}, "20"));
  transport->PushStream({R"({"type":"ERROR","object":{"kind":"Status","code":500}})"
                         "\n"});
  transport->PushStream({R"({"type":"ADDED","object":{"metadata":{"name":"n3"}}})"
                         "\n"},
                        /*hold_open=*/true);

  InformerOptions options;
  options.path = NodesPath();
  options.page_size = 0;
  options.backoff_base = milliseconds(1);
  Informer informer(client, options);
  Recorder recorder;
  ASSERT_TRUE(informer.AddHandlers(recorder.Handlers()).ok());
  InformerHandlers thrower;
  thrower.on_add = [](const json&) { throw std::runtime_error("boom"); };
  ASSERT_TRUE(informer.AddHandlers(thrower).ok());
  informer.Start();
  auto calls = recorder.Wait(4);
  EXPECT_EQ(calls, (std::vector<std::string>{"add n1", "add n2", "delete n2", "add n3"}));
  EXPECT_EQ(informer.lists_total(), 2u);
  informer.Stop();
  EXPECT_NE(informer.last_error().message().find("boom"), std::string::npos);
  auto requests = transport->requests();
  ASSERT_GE(requests.size(), 5u);
  EXPECT_EQ(requests[0].url, "http://api/api/v1/nodes");
  EXPECT_EQ(requests[1].url,
            "http://api/api/v1/nodes?watch=true&resourceVersion=10&allowWatchBookmarks=true&"
            "timeoutSeconds=300");
  EXPECT_EQ(informer.Get("n3")->at("metadata").at("name"), "n3");
}

}  // namespace
}  // namespace hami::kube
