// The Web UI listener (ui_server.h) over HTTP: routes, methods, errors, the assets fallback, and
// live usage from Prometheus (down, slow, garbage, good, and a real Prometheus when installed).
#include "scheduler/ui_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "common/http_endpoint.h"
#include "device/codec.h"
#include "kube/curl_transport.h"
#include "scheduler/daemon.h"
#include "scheduler/ui_assets.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/prometheus_server.h"
#include "tests/scheduler/ui_fixture.h"

namespace hami::scheduler {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// A stand-in Prometheus HTTP API: answers /api/v1/query and /api/v1/query_range with `body`
// after `delay`.
class FakePrometheusApi {
 public:
  FakePrometheusApi(std::function<std::string(const httplib::Request&)> body, milliseconds delay)
      : body_(std::move(body)), delay_(delay) {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      ++requests_;
      std::this_thread::sleep_for(delay_);
      res.set_content(body_(req), "application/json");
    };
    server_.Get("/api/v1/query", handler);
    server_.Get("/api/v1/query_range", handler);
    auto port = BindAndServe(server_, "127.0.0.1", 0, &thread_);
    EXPECT_TRUE(port.ok());
    url_ = "http://127.0.0.1:" + std::to_string(*port);
  }
  ~FakePrometheusApi() {
    server_.stop();
    thread_.join();
  }
  const std::string& url() const { return url_; }
  int requests() const { return requests_.load(); }

 private:
  std::function<std::string(const httplib::Request&)> body_;
  milliseconds delay_;
  httplib::Server server_;
  std::thread thread_;
  std::string url_;
  std::atomic<int> requests_{0};
};

std::string VectorAnswer(const httplib::Request& req) {
  const std::string q = req.get_param_value("query");
  if (req.path == "/api/v1/query_range") {
    return R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},)"
           R"("values":[[1700000000,"1024"],[1700000060,"2048.5"]]}]}})";
  }
  const std::string value = q == "hami_host_gpu_memory_used_bytes" ? "3221225472" : "61.5";
  return R"({"status":"success","data":{"resultType":"vector","result":[)"
         R"({"metric":{"__name__":"x","device_uuid":"GPU-1a","node":"node-1"},)"
         R"("value":[1700000000,")" +
         value + R"("]},{"metric":{"node":"node-1"},"value":[1700000000,"5"]}]}})";
}

std::shared_ptr<kube::HttpTransport> Curl() {
  return std::make_shared<kube::CurlTransport>(kube::ClusterConfig{});
}

std::unique_ptr<PrometheusUsage> Usage(const std::string& url,
                                       milliseconds timeout = milliseconds(2000)) {
  PrometheusUsageOptions options;
  options.base_url = url;
  options.timeout = timeout;
  options.now_unix_seconds = [] { return int64_t{1700003600}; };
  return std::make_unique<PrometheusUsage>(Curl(), options);
}

class UiServerTest : public ::testing::Test {
 protected:
  void StartServer(UsageSource* usage = nullptr) {
    UiSources s;
    s.registry = &cluster_.registry_;
    s.ledger = &cluster_.ledger_;
    s.decisions = &cluster_.decisions_;
    s.usage = usage;
    s.version = "9.9.9";
    s.now_unix_seconds = [] { return int64_t{1700000300}; };
    server_ = std::make_unique<UiServer>(std::move(s));
    auto port = server_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().message();
    http_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }

  httplib::Result Get(const std::string& path) { return http_->Get(path); }
  json GetJson(const std::string& path, int want_status = 200) {
    auto res = Get(path);
    EXPECT_TRUE(res) << path;
    if (!res) return nullptr;
    EXPECT_EQ(res->status, want_status) << path << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(res->body, nullptr, false);
  }

  testing::UiCluster cluster_;
  std::unique_ptr<UiServer> server_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(UiServerTest, EveryEndpointAnswersJson) {
  StartServer();
  json summary = GetJson("/api/v1/summary");
  EXPECT_EQ(summary["version"], "9.9.9");
  EXPECT_EQ(summary["pods"], json({{"allocated", 2}, {"pending", 2}}));
  EXPECT_EQ(summary["prometheus"], json({{"configured", false}, {"ok", false}}));
  EXPECT_EQ(summary["groups"].size(), 2u);
  EXPECT_GE(summary["fragmentation"]["fits"].size(), 4u);
  EXPECT_EQ(GetJson("/api/v1/nodes")["nodes"].size(), 2u);
  json node = GetJson("/api/v1/nodes/node-2");
  EXPECT_EQ(node["devices"][1]["health"], false);
  EXPECT_EQ(GetJson("/api/v1/pods?state=pending")["pods"].size(), 2u);
  EXPECT_EQ(GetJson("/api/v1/pods?namespace=team-a&limit=1")["truncated"], true);
  json diagnosis = GetJson("/api/v1/pods/team-a/big/diagnosis");
  EXPECT_EQ(diagnosis["state"], "pending");
  EXPECT_EQ(diagnosis["lastFilter"]["nodes"].size(), 3u);
  EXPECT_EQ(GetJson("/api/v1/quotas"), json({{"quotas", json::array()}}));
  json usage = GetJson("/api/v1/usage?range=1h");
  EXPECT_EQ(usage["available"], false);
  EXPECT_NE(usage["reason"].get<std::string>().find("--ui-prometheus-url"), std::string::npos);
  auto health = Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(UiServerTest, NotFoundBadRequestAndReadOnly) {
  StartServer();
  EXPECT_EQ(GetJson("/api/v1/nodes/node-9", 404)["error"], "node node-9 not found");
  EXPECT_NE(GetJson("/api/v1/pods/team-a/ghost/diagnosis", 404)["error"].get<std::string>().find(
                "never seen"),
            std::string::npos);
  for (const char* path : {"/api/v1/nope", "/api/v2/nodes", "/api/v1/nodes/a/b",
                           "/api/v1/pods/team-a/big", "/api/v1//diagnosis", "/other"}) {
    EXPECT_TRUE(GetJson(path, 404).contains("error")) << path;
  }
  EXPECT_NE(GetJson("/api/v1/pods?state=running", 400)["error"].get<std::string>().find("state"),
            std::string::npos);
  EXPECT_NE(GetJson("/api/v1/pods?limit=-1", 400)["error"].get<std::string>().find("limit"),
            std::string::npos);
  EXPECT_TRUE(GetJson("/api/v1/usage?range=forever", 400).contains("error"));
  EXPECT_TRUE(GetJson("/api/v1/usage?range=10s", 400).contains("error"));
  EXPECT_TRUE(GetJson("/api/v1/nodes?x=1", 400).contains("error"));
  EXPECT_TRUE(GetJson("/api/v1/summary?x=1", 400).contains("error"));
  // Read-only: every other method is refused, and nothing changes.
  const size_t pods = cluster_.ledger_.PodCount();
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    httplib::Request req;
    req.method = method;
    req.path = "/api/v1/pods";
    req.body = "{}";
    req.set_header("Content-Type", "application/json");
    auto res = http_->send(req);
    ASSERT_TRUE(res) << method;
    EXPECT_EQ(res->status, 405) << method;
    EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD") << method;
    EXPECT_EQ(json::parse(res->body)["error"], "read-only: only GET is allowed");
  }
  EXPECT_EQ(cluster_.ledger_.PodCount(), pods);
}

TEST_F(UiServerTest, ThePageIsServedFromTheEmbeddedAssetsOr503) {
  StartServer();
  auto index = Get("/");
  ASSERT_TRUE(index);
  const EmbeddedFile* embedded = FindEmbeddedAsset("index.html");
  if (embedded == nullptr) {
    EXPECT_EQ(index->status, 503);
    EXPECT_NE(index->body.find("UI assets not built"), std::string::npos);
  } else {
    EXPECT_EQ(index->status, 200);
    EXPECT_EQ(index->body, embedded->data);
    EXPECT_EQ(index->get_header_value("Content-Type"), embedded->content_type);
    // The page must load everything by relative URLs (it may be mounted under a sub-path).
    EXPECT_EQ(index->body.find("src=\"/"), std::string::npos);
    EXPECT_EQ(index->body.find("href=\"/"), std::string::npos);
    EXPECT_EQ(index->body.find("http://"), std::string::npos);
    EXPECT_EQ(index->body.find("https://"), std::string::npos);
  }
  if (const EmbeddedFile* js = FindEmbeddedAsset("assets/app.js")) {
    auto res = Get("/assets/app.js");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body.size(), js->data.size());
  }
  EXPECT_EQ(GetJson("/assets/none.js", 404).count("error"), 1u);
  EXPECT_EQ(GetJson("/assets/../CMakeLists.txt", 404).count("error"), 1u);
}

TEST_F(UiServerTest, LiveUsageFromPrometheus) {
  FakePrometheusApi prom(VectorAnswer, milliseconds(0));
  auto usage = Usage(prom.url());
  StartServer(usage.get());
  json summary = GetJson("/api/v1/summary");
  EXPECT_EQ(summary["prometheus"], json({{"configured", true}, {"ok", true}}));
  EXPECT_EQ(summary["groups"][1]["memoryUsedMiB"], 3072);  // GPU-1a's 3 GiB
  json node = GetJson("/api/v1/nodes/node-1");
  EXPECT_EQ(node["devices"][0]["usage"], json({{"memoryUsedMiB", 3072}, {"smUtil", 61.5}}));
  EXPECT_TRUE(node["devices"][1]["usage"].is_null());
  // Cached: the second page load asks Prometheus nothing.
  const int asked = prom.requests();
  GetJson("/api/v1/nodes/node-1");
  EXPECT_EQ(prom.requests(), asked);
  json history = GetJson("/api/v1/usage?range=1h");
  EXPECT_EQ(history["available"], true);
  ASSERT_EQ(history["series"].size(), 3u);
  std::set<std::string> names;
  for (const json& s : history["series"]) names.insert(s["name"]);
  EXPECT_EQ(names, (std::set<std::string>{"memoryMiB", "memoryAllocatedMiB", "memoryUsedMiB"}));
  EXPECT_EQ(history["series"][0]["points"], json({{1700000000, 1024.0}, {1700000060, 2048.5}}));
}

TEST_F(UiServerTest, PrometheusDownSlowOrGarbageDegradesWithoutFailingThePage) {
  struct Case {
    const char* name;
    std::function<std::string(const httplib::Request&)> body;
    milliseconds delay;
  };
  const std::vector<Case> cases = {
      {"garbage", [](const httplib::Request&) { return std::string("<html>oops</html>"); },
       milliseconds(0)},
      {"error status",
       [](const httplib::Request&) {
         return std::string(R"({"status":"error","error":"bad query"})");
       },
       milliseconds(0)},
      {"bad sample",
       [](const httplib::Request&) {
         return std::string(
             R"({"status":"success","data":{"resultType":"vector","result":[{"metric":)"
             R"({"device_uuid":"GPU-1a"},"value":[1,"not a number"]}]}})");
       },
       milliseconds(0)},
      {"slow", VectorAnswer, milliseconds(1500)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakePrometheusApi prom(c.body, c.delay);
    auto usage = Usage(prom.url(), milliseconds(300));
    StartServer(usage.get());
    const auto start = std::chrono::steady_clock::now();
    json summary = GetJson("/api/v1/summary");
    EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1400));
    EXPECT_EQ(summary["prometheus"]["configured"], true);
    EXPECT_EQ(summary["prometheus"]["ok"], false);
    EXPECT_FALSE(summary["prometheus"]["error"].get<std::string>().empty());
    EXPECT_TRUE(summary["groups"][0]["memoryUsedMiB"].is_null());
    EXPECT_TRUE(GetJson("/api/v1/nodes/node-1")["devices"][0]["usage"].is_null());
    json history = GetJson("/api/v1/usage?range=30m");
    EXPECT_EQ(history["available"], false);
    EXPECT_FALSE(history["reason"].get<std::string>().empty());
    server_.reset();
  }
  // Down: nothing listens.
  auto usage = Usage("http://127.0.0.1:1", milliseconds(300));
  StartServer(usage.get());
  json summary = GetJson("/api/v1/summary");
  EXPECT_EQ(summary["prometheus"]["ok"], false);
  EXPECT_NE(summary["prometheus"]["error"].get<std::string>().find("prometheus"),
            std::string::npos);
}

TEST(PrometheusUsageTest, ParsersRefuseWhatIsNotAnAnswer) {
  EXPECT_FALSE(PrometheusUsage::ParseVector("", "device_uuid").ok());
  EXPECT_FALSE(PrometheusUsage::ParseVector("[]", "device_uuid").ok());
  EXPECT_FALSE(
      PrometheusUsage::ParseVector(
          R"({"status":"success","data":{"resultType":"matrix","result":[]}})", "device_uuid")
          .ok());
  EXPECT_FALSE(PrometheusUsage::ParseVector(
                   R"({"status":"success","data":{"resultType":"vector","result":[{"metric":)"
                   R"({"device_uuid":"a"},"value":[1]}]}})",
                   "device_uuid")
                   .ok());
  auto empty = PrometheusUsage::ParseVector(
      R"({"status":"success","data":{"resultType":"vector","result":[]}})", "device_uuid");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(PrometheusUsage::ParseMatrix(
                   R"({"status":"success","data":{"resultType":"matrix","result":[{"values":)"
                   R"([["x","1"]]}]}})")
                   .ok());
  EXPECT_EQ(ParseUsageRange("1h")->count(), 3600);
  EXPECT_EQ(ParseUsageRange("30m")->count(), 1800);
  EXPECT_EQ(ParseUsageRange("7d")->count(), 7 * 86400);
  for (const char* bad : {"", "h", "1", "59s", "8d", "1.5h", "-1h", "1w", "999999999d"}) {
    EXPECT_FALSE(ParseUsageRange(bad)) << bad;
  }
}

// hami-monitor's metric names read back through a real Prometheus (Debian's), when installed.
TEST(PrometheusUsageTest, RealPrometheusScrapingMonitorMetrics) {
  if (std::string why = fakes::PrometheusServer::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  httplib::Server exporter;
  exporter.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "hami_host_gpu_memory_used_bytes{node=\"node-1\",device_index=\"0\","
        "device_uuid=\"GPU-1a\",device_type=\"T4\"} 2147483648\n"
        "hami_host_gpu_utilization_ratio{node=\"node-1\",device_index=\"0\","
        "device_uuid=\"GPU-1a\",device_type=\"T4\"} 37\n",
        "text/plain; version=0.0.4");
  });
  std::thread thread;
  auto port = BindAndServe(exporter, "127.0.0.1", 0, &thread);
  ASSERT_TRUE(port.ok());
  struct Join {
    httplib::Server& server;
    std::thread& thread;
    ~Join() {
      server.stop();
      thread.join();
    }
  } join{exporter, thread};
  fakes::PrometheusServer prom;
  auto url = prom.Start({{"127.0.0.1:" + std::to_string(*port)}});
  ASSERT_TRUE(url.ok()) << url.status().message();
  ASSERT_TRUE(prom.WaitForValue("hami_host_gpu_utilization_ratio", std::chrono::seconds(20)).ok())
      << prom.LogTail();
  // query_range evaluates at whole seconds up to now: let now pass the first sample.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  PrometheusUsageOptions options;
  options.base_url = *url;
  PrometheusUsage usage(Curl(), options);
  LiveUsage live = usage.Current();
  EXPECT_TRUE(live.ok) << live.error;
  ASSERT_TRUE(live.by_uuid.contains("GPU-1a"));
  EXPECT_EQ(live.by_uuid["GPU-1a"].memory_used_mib, 2048);
  EXPECT_EQ(live.by_uuid["GPU-1a"].sm_util_percent, 37);
  UsageHistory history = usage.History(std::chrono::seconds(600));
  EXPECT_TRUE(history.available) << history.reason;
  ASSERT_EQ(history.series.size(), 3u);
  EXPECT_EQ(history.series[2].name, "memoryUsedMiB");
  ASSERT_FALSE(history.series[2].points.empty());
  EXPECT_EQ(history.series[2].points.back().second, 2048);
}

// hami-scheduler with --ui-bind-address: the daemon serves the API from its own ledger and
// records /filter decisions for the diagnosis.
TEST(UiDaemonTest, TheDaemonServesTheUiWhenEnabledOnly) {
  fakes::FakeApiServer api;
  auto url = api.Start();
  ASSERT_TRUE(url.ok());
  json node = {{"kind", "Node"},
               {"apiVersion", "v1"},
               {"metadata", {{"name", "node-a"}, {"annotations", json::object()}}},
               {"status", {{"allocatable", {{"nvidia.com/gpu", "10"}}}}}};
  node["metadata"]["annotations"][kNodeNvidiaRegisterAnnotation] =
      EncodeNodeDevicesJson({testing::TestDevice("GPU-a0")});
  ASSERT_TRUE(api.Put(node).ok());
  for (bool enabled : {false, true}) {
    DaemonOptions options;
    options.http_port = 0;
    options.ui_host = "127.0.0.1";
    options.ui_port = enabled ? 0 : -1;
    options.registration_period = milliseconds(50);
    SchedulerDaemon daemon(testing::TestClient(*url, 2), options);
    ASSERT_TRUE(daemon.Start().ok());
    for (int i = 0; i < 400 && !daemon.Synced(); ++i) std::this_thread::sleep_for(milliseconds(5));
    ASSERT_TRUE(daemon.Synced());
    if (!enabled) {
      EXPECT_EQ(daemon.ui_port(), -1);
      continue;
    }
    ASSERT_GT(daemon.ui_port(), 0);
    json pod = *api.Put(
        testing::PodObject("huge", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "99999"}}));
    httplib::Client extender("127.0.0.1", daemon.port());
    auto filtered = extender.Post("/filter", json{{"Pod", pod}, {"NodeNames", {"node-a"}}}.dump(),
                                  "application/json");
    ASSERT_TRUE(filtered);
    httplib::Client ui("127.0.0.1", daemon.ui_port());
    auto nodes = ui.Get("/api/v1/nodes");
    ASSERT_TRUE(nodes);
    EXPECT_EQ(json::parse(nodes->body)["nodes"][0]["name"], "node-a");
    auto diagnosis = ui.Get("/api/v1/pods/default/huge/diagnosis");
    ASSERT_TRUE(diagnosis);
    ASSERT_EQ(diagnosis->status, 200) << diagnosis->body;
    json d = json::parse(diagnosis->body);
    EXPECT_EQ(d["state"], "pending");
    EXPECT_EQ(d["lastFilter"]["nodes"][0]["reasons"][0]["code"], "CardInsufficientMemory");
    auto summary = ui.Get("/api/v1/summary");
    ASSERT_TRUE(summary);
    EXPECT_EQ(json::parse(summary->body)["synced"], true);
    EXPECT_EQ(json::parse(summary->body)["pods"]["pending"], 1);
  }
}

}  // namespace
}  // namespace hami::scheduler
