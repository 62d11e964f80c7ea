#include "scheduler/metrics.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <thread>

#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

// Every sample line is `name{labels} value` with a valid name and properly quoted labels;
// every comment is a HELP or TYPE line.
void ExpectParses(const std::string& text) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?|\+Inf|-Inf|NaN)$)");
  static const std::regex kComment(
      R"(^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram))$)");
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) {
      EXPECT_TRUE(std::regex_match(line, kComment)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, kSample)) << line;
    }
  }
}

TEST(MetricsTest, FormatsValuesAndNames) {
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(-2), "-2");
  EXPECT_EQ(FormatMetricValue(0.25), "0.25");
  EXPECT_EQ(FormatMetricValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatMetricValue(16384.0 * 1048576), "17179869184");
  EXPECT_TRUE(ValidMetricName("hami_gpu_shared_count"));
  EXPECT_TRUE(ValidMetricName("a:b_1"));
  EXPECT_FALSE(ValidMetricName("1abc"));
  EXPECT_FALSE(ValidMetricName("a-b"));
  EXPECT_FALSE(ValidMetricName(""));
}

TEST(MetricsTest, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  MetricsRegistry r;
  r.DeclareGauge("g", "help with \\ and\nnewline");
  r.GaugeSet("g", {{"k", "x\"y\\z\n"}}, 1);
  const std::string text = r.Render();
  EXPECT_EQ(text,
            "# HELP g help with \\\\ and\\nnewline\n"
            "# TYPE g gauge\n"
            "g{k=\"x\\\"y\\\\z\\n\"} 1\n");
  ExpectParses(text);
}

TEST(MetricsTest, RendersExactExpositionText) {
  MetricsRegistry r;
  r.DeclareCounter("requests_total", "Requests.");
  r.DeclareGauge("temperature", "Degrees.");
  r.CounterAdd("requests_total", {{"code", "500"}});
  r.CounterAdd("requests_total", {{"code", "200"}}, 2);
  r.CounterAdd("requests_total", {{"code", "200"}});
  r.CounterAdd("requests_total", {{"code", "200"}}, -5);  // ignored: counters only go up
  r.GaugeSet("temperature", {}, 21.5);
  r.GaugeSet("undeclared", {}, 1);      // ignored
  r.GaugeSet("requests_total", {}, 9);  // wrong type: ignored
  EXPECT_EQ(r.Render(),
            "# HELP requests_total Requests.\n"
            "# TYPE requests_total counter\n"
            "requests_total{code=\"200\"} 3\n"
            "requests_total{code=\"500\"} 1\n"
            "# HELP temperature Degrees.\n"
            "# TYPE temperature gauge\n"
            "temperature 21.5\n");
  EXPECT_EQ(r.Value("requests_total", {{"code", "200"}}), 3);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInclusiveBounds) {
  MetricsRegistry r;
  r.DeclareHistogram("latency_seconds", "Latency.", {0.1, 1});
  r.Observe("latency_seconds", {}, 0.05);
  r.Observe("latency_seconds", {}, 0.1);  // le is inclusive
  r.Observe("latency_seconds", {}, 0.5);
  r.Observe("latency_seconds", {}, 7);
  const std::string text = r.Render();
  EXPECT_EQ(text,
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 2\n"
            "latency_seconds_bucket{le=\"1\"} 3\n"
            "latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "latency_seconds_sum 7.65\n"
            "latency_seconds_count 4\n");
  ExpectParses(text);
}

TEST(MetricsTest, LabelledHistogramPutsLeLast) {
  MetricsRegistry r;
  r.DeclareHistogram("h", "H.", {1});
  r.Observe("h", {{"verb", "bind"}}, 2);
  EXPECT_NE(r.Render().find("h_bucket{verb=\"bind\",le=\"1\"} 0\n"), std::string::npos);
  EXPECT_NE(r.Render().find("h_bucket{verb=\"bind\",le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(r.Render().find("h_count{verb=\"bind\"} 1\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  SchedulerMetrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i) {
        m.FilterFailure("no_fit");
        m.ObserveFilterSeconds(0.002);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.registry().Value(SchedulerMetrics::kFilterFailures, {{"reason", "no_fit"}}), 4000);
  UsageLedger empty;
  const std::string text = m.Render(empty);
  EXPECT_NE(text.find("hami_scheduler_filter_duration_seconds_count 4000\n"), std::string::npos);
  EXPECT_NE(text.find("hami_scheduler_filter_duration_seconds_bucket{le=\"0.001\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("hami_scheduler_filter_duration_seconds_bucket{le=\"0.0025\"} 4000\n"),
            std::string::npos);
  ExpectParses(text);
}

TEST(MetricsTest, DeviceGaugesFromLedger) {
  UsageLedger ledger;
  ledger.SetNodeDevices("node-a", "NVIDIA",
                        {testing::TestDevice("GPU-a0", 16384), testing::TestDevice("GPU-a1")});
  PodAllocation pod;
  pod.uid = "uid-1";
  pod.ns = "default";
  pod.name = "p1";
  pod.node = "node-a";
  pod.by_vendor["NVIDIA"] = {{ContainerDevice{"GPU-a0", "NVIDIA", 4000, 30}}};
  ledger.AddPod(pod);

  SchedulerMetrics m;
  const std::string text = m.Render(ledger);
  ExpectParses(text);
  auto has = [&text](const std::string& line) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << "\nin\n" << text;
  };
  const std::string a0 =
      "node=\"node-a\",device_uuid=\"GPU-a0\",device_index=\"0\",device_type=\"NVIDIA-Tesla T4\","
      "device_vendor=\"NVIDIA\"";
  has("hami_gpu_memory_limit_bytes{" + a0 + "} 17179869184");
  has("hami_gpu_core_limit_ratio{" + a0 + "} 100");
  has("hami_gpu_memory_allocated_bytes{node=\"node-a\",device_uuid=\"GPU-a0\",device_index=\"0\","
      "device_cores=\"30\",device_type=\"NVIDIA-Tesla T4\",device_vendor=\"NVIDIA\"} 4194304000");
  has("hami_gpu_shared_count{" + a0 + "} 1");
  has("hami_gpu_core_allocated_ratio{" + a0 + "} 30");
  has("hami_node_gpu_overview{node=\"node-a\",device_uuid=\"GPU-a0\",device_index=\"0\","
      "device_cores=\"30\",device_memory_limit=\"16384\",device_type=\"NVIDIA-Tesla T4\","
      "device_vendor=\"NVIDIA\"} "
      "4194304000");
  has("hami_node_gpu_memory_allocated_ratio{" + a0 + "} 0.244140625");
  has("hami_gpu_shared_count{node=\"node-a\",device_uuid=\"GPU-a1\",device_index=\"0\","
      "device_type=\"NVIDIA-Tesla T4\",device_vendor=\"NVIDIA\"} 0");
  has("hami_vgpu_memory_allocated_bytes{namespace=\"default\",node=\"node-a\",pod=\"p1\","
      "container_index=\"0\",device_uuid=\"GPU-a0\",device_vendor=\"NVIDIA\"} 4194304000");
  has("hami_vgpu_core_allocated_ratio{namespace=\"default\",node=\"node-a\",pod=\"p1\","
      "container_index=\"0\",device_uuid=\"GPU-a0\",device_vendor=\"NVIDIA\"} 30");
}

}  // namespace
}  // namespace hami::scheduler
