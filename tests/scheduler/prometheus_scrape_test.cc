// hami-scheduler's /metrics scraped by a real Prometheus (tests/fakes/prometheus_server.h): the
// exposition must parse with the upstream parser, and the values must read back through PromQL
// as the dashboards and alerts will read them. Skipped when /usr/bin/prometheus is missing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device/annotations.h"
#include "device/codec.h"
#include "scheduler/daemon.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/prometheus_server.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using std::chrono::milliseconds;

constexpr double kBytesPerMib = 1048576.0;

// A loopback port bound, never listened on, and closed again: connections are refused.
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

class PrometheusScrapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = fakes::PrometheusServer::Unavailable(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    nlohmann::json node = {
        {"kind", "Node"},
        {"apiVersion", "v1"},
        {"metadata", {{"name", "node-a"}, {"annotations", nlohmann::json::object()}}},
        {"status", {{"allocatable", {{"nvidia.com/gpu", "20"}}}}}};
    node["metadata"]["annotations"][kNodeNvidiaRegisterAnnotation] = EncodeNodeDevicesJson(
        {testing::TestDevice("GPU-a0", 16384), testing::TestDevice("GPU-a1", 8192)});
    ASSERT_TRUE(api_.Put(node).ok());

    DaemonOptions options;
    options.http_port = 0;
    options.metrics_host = "127.0.0.1";
    options.metrics_port = 0;
    options.registration_period = milliseconds(50);
    daemon_ = std::make_unique<SchedulerDaemon>(testing::TestClient(*url, 2), options);
    Status started = daemon_->Start();
    ASSERT_TRUE(started.ok()) << started.message();
    for (int i = 0; i < 400 && !daemon_->Synced(); ++i) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    ASSERT_TRUE(daemon_->Synced());
  }

  // POSTs /filter for a new one-GPU pod asking `mem_mib`; returns the nodes that fit.
  nlohmann::json Filter(const std::string& name, const std::string& mem_mib) {
    nlohmann::json pod = *api_.Put(testing::PodObject(
        name,
        {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", mem_mib}, {"nvidia.com/gpucores", "30"}}));
    httplib::Client http("127.0.0.1", daemon_->port());
    nlohmann::json args = {{"Pod", pod}, {"NodeNames", {"node-a"}}};
    auto res = http.Post("/filter", args.dump(), "application/json");
    EXPECT_TRUE(res);
    if (!res) return nullptr;
    return nlohmann::json::parse(res->body, nullptr, false)["NodeNames"];
  }

  fakes::FakeApiServer api_;
  std::unique_ptr<SchedulerDaemon> daemon_;
};

TEST_F(PrometheusScrapeTest, RealPrometheusParsesAndQueriesSchedulerMetrics) {
  // Known state: two devices, one pod of 4000 MiB placed, one pod that fits nowhere.
  ASSERT_EQ(Filter("p0", "4000"), nlohmann::json::array({"node-a"}));
  ASSERT_NE(Filter("huge", "100000"), nlohmann::json::array({"node-a"}));
  ASSERT_EQ(daemon_->ledger().PodCount(), 1u);

  // A second target on a closed port shows that a failed scrape is reported, not hidden.
  // (Both share one Prometheus: its discovery publishes targets ~5 s after start.)
  fakes::PrometheusServer prom;
  auto started = prom.Start(
      {{"127.0.0.1:" + std::to_string(daemon_->metrics_port()), "/metrics", "hami-scheduler"},
       {"127.0.0.1:" + std::to_string(ClosedPort()), "/metrics", "nothing"}});
  ASSERT_TRUE(started.ok()) << started.status().message();

  // The exposition parsed with the upstream parser: the target is up with no error.
  auto targets = prom.WaitForScrapes(milliseconds(15000));
  ASSERT_TRUE(targets.ok()) << targets.status().message() << "\n" << prom.LogTail();
  ASSERT_EQ(targets->size(), 2u);
  for (const fakes::PromTargetHealth& t : *targets) {
    if (t.job == "hami-scheduler") {
      EXPECT_EQ(t.health, "up") << t.last_error;
      EXPECT_EQ(t.last_error, "");
    } else {
      EXPECT_EQ(t.job, "nothing");
      EXPECT_EQ(t.health, "down");
      EXPECT_NE(t.last_error, "");
    }
  }
  auto up = prom.WaitForValue("up{job=\"hami-scheduler\"}", milliseconds(3000));
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_EQ((*up)[0].value, 1);

  // Device gauges with their labels.
  auto limit = prom.WaitForValue(
      "hami_gpu_memory_limit_bytes{node=\"node-a\",device_uuid=\"GPU-a0\"}", milliseconds(3000));
  ASSERT_TRUE(limit.ok()) << limit.status().message();
  ASSERT_EQ(limit->size(), 1u);
  EXPECT_EQ((*limit)[0].value, 16384 * kBytesPerMib);
  EXPECT_EQ((*limit)[0].labels.at("device_type"), "NVIDIA-Tesla T4");
  EXPECT_EQ((*limit)[0].labels.at("instance"),
            "127.0.0.1:" + std::to_string(daemon_->metrics_port()));
  auto total = prom.Query("sum(hami_gpu_memory_limit_bytes{node=\"node-a\"})");
  ASSERT_TRUE(total.ok()) << total.status().message();
  ASSERT_EQ(total->size(), 1u);
  EXPECT_EQ((*total)[0].value, (16384 + 8192) * kBytesPerMib);

  // Per-pod allocation.
  auto pod = prom.Query("hami_vgpu_memory_allocated_bytes{namespace=\"default\",pod=\"p0\"}");
  ASSERT_TRUE(pod.ok()) << pod.status().message();
  ASSERT_EQ(pod->size(), 1u);
  EXPECT_EQ((*pod)[0].value, 4000 * kBytesPerMib);
  EXPECT_EQ((*pod)[0].labels.at("node"), "node-a");
  EXPECT_EQ((*pod)[0].labels.at("container_index"), "0");
  auto shared = prom.Query("sum(hami_gpu_shared_count)");
  ASSERT_TRUE(shared.ok());
  ASSERT_EQ(shared->size(), 1u);
  EXPECT_EQ((*shared)[0].value, 1);

  // Histogram and counter: two filters answered, one failed for lack of room.
  auto count = prom.Query("hami_scheduler_filter_duration_seconds_count");
  ASSERT_TRUE(count.ok()) << count.status().message();
  ASSERT_EQ(count->size(), 1u);
  EXPECT_EQ((*count)[0].value, 2);
  // The buckets form a valid histogram (cumulative, le parsed): a quantile is computable.
  auto p99 = prom.Query(
      "histogram_quantile(0.99, sum by (le) (hami_scheduler_filter_duration_seconds_bucket))");
  ASSERT_TRUE(p99.ok()) << p99.status().message();
  ASSERT_EQ(p99->size(), 1u);
  EXPECT_GT((*p99)[0].value, 0);
  EXPECT_LE((*p99)[0].value, 5);
  auto failures = prom.Query("hami_scheduler_filter_failures_total");
  ASSERT_TRUE(failures.ok()) << failures.status().message();
  ASSERT_EQ(failures->size(), 1u);
  EXPECT_EQ((*failures)[0].labels.at("reason"), "no_fit");
  EXPECT_EQ((*failures)[0].value, 1);
}

TEST(PrometheusServerTest, ReportsBadQueriesAndTimeouts) {
  if (std::string why = fakes::PrometheusServer::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  fakes::PrometheusServer prom;
  auto started = prom.Start({});
  ASSERT_TRUE(started.ok()) << started.status().message();
  auto bad = prom.Query("sum(");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto scalar = prom.Query("1 + 2");
  ASSERT_TRUE(scalar.ok()) << scalar.status().message();
  ASSERT_EQ(scalar->size(), 1u);
  EXPECT_EQ((*scalar)[0].value, 3);
  auto none = prom.WaitForValue("absent_metric_name", milliseconds(200));
  EXPECT_EQ(none.status().code(), StatusCode::kDeadlineExceeded);
}

TEST(PrometheusServerTest, MissingBinaryIsReported) {
  EXPECT_NE(fakes::PrometheusServer::Unavailable("/nonexistent/prometheus"), "");
  fakes::PrometheusServer prom("/nonexistent/prometheus");
  auto started = prom.Start({});
  EXPECT_EQ(started.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hami::scheduler
