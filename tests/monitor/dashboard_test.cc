// deploy/grafana/hami-dashboard.json against the metrics the code exports: a renamed or removed
// metric breaks this test instead of silently emptying a panel. With /usr/bin/prometheus present,
// every expression is also parsed by the real PromQL parser.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "nlohmann/json.hpp"
#include "monitor/exposition.h"
#include "scheduler/metrics.h"
#include "tests/fakes/prometheus_server.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

// Every name hami-monitor can export (src/monitor/exposition.h), legacy ones included.
const std::set<std::string>& MonitorNames() {
  static const std::set<std::string> names = [] {
    std::vector<std::string> list = monitor::MonitorFamilyNames();
    return std::set<std::string>(list.begin(), list.end());
  }();
  return names;
}

std::string DashboardPath() {
  return (std::filesystem::path(__FILE__).parent_path() /
          "../../deploy/grafana/hami-dashboard.json")
      .lexically_normal()
      .string();
}

nlohmann::json LoadDashboard() {
  std::ifstream in(DashboardPath());
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, false);
}

// Every PromQL expression in the dashboard: panel targets (rows' nested panels too) and
// template variable queries.
std::vector<std::string> Expressions(const nlohmann::json& dashboard) {
  std::vector<std::string> out;
  std::function<void(const nlohmann::json&)> visit = [&](const nlohmann::json& panels) {
    for (const nlohmann::json& p : panels) {
      for (const nlohmann::json& t : p.value("targets", nlohmann::json::array())) {
        if (t.contains("expr")) out.push_back(t["expr"].get<std::string>());
      }
      if (p.contains("panels")) visit(p["panels"]);
    }
  };
  visit(dashboard.value("panels", nlohmann::json::array()));
  for (const nlohmann::json& v : dashboard["templating"].value("list", nlohmann::json::array())) {
    if (v.value("type", "") == "query") out.push_back(v["query"].value("query", ""));
  }
  return out;
}

// hami_* identifiers in an expression (label names never start with hami_; string literals,
// where a label value could, are removed first).
std::set<std::string> MetricNames(const std::string& expr) {
  static const std::regex string_literal(R"("([^"\\]|\\.)*")");
  static const std::regex metric_name(R"(\bhami_[a-zA-Z0-9_:]*)");
  const std::string bare = std::regex_replace(expr, string_literal, "\"\"");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(bare.begin(), bare.end(), metric_name);
       it != std::sregex_iterator(); ++it) {
    out.insert(it->str());
  }
  return out;
}

// Every sample name the scheduler's /metrics can show: families from the TYPE lines of an
// exposition rendered in-process, histograms with their _bucket/_sum/_count series.
std::set<std::string> SchedulerNames() {
  UsageLedger ledger;
  ledger.SetNodeDevices("node-a", "NVIDIA", {testing::TestDevice("GPU-a0")});
  ContainerDevice device;
  device.uuid = "GPU-a0";
  device.type = "NVIDIA";
  device.used_mem_mib = 1000;
  device.used_cores = 10;
  ledger.AddPod(testing::Allocation("u1", "node-a", {{device}}));
  SchedulerMetrics metrics;
  const std::string text = metrics.Render(ledger);
  static const std::regex type_line(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$)");
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, type_line)) continue;
    out.insert(m[1]);
    if (m[2] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) out.insert(m[1].str() + suffix);
    }
  }
  return out;
}

TEST(DashboardTest, EveryMetricNameIsExported) {
  const nlohmann::json dashboard = LoadDashboard();
  ASSERT_FALSE(dashboard.is_discarded()) << "cannot parse " << DashboardPath();
  EXPECT_GE(dashboard.value("schemaVersion", 0), 36);
  const std::set<std::string> scheduler = SchedulerNames();
  ASSERT_TRUE(scheduler.contains("hami_gpu_memory_limit_bytes"));
  ASSERT_TRUE(scheduler.contains("hami_scheduler_filter_duration_seconds_bucket"));
  const std::vector<std::string> exprs = Expressions(dashboard);
  ASSERT_GE(exprs.size(), 10u);
  std::set<std::string> used;
  for (const std::string& expr : exprs) {
    const std::set<std::string> names = MetricNames(expr);
    EXPECT_FALSE(names.empty()) << "no hami_ metric in: " << expr;
    for (const std::string& name : names) {
      EXPECT_TRUE(scheduler.contains(name) || MonitorNames().contains(name))
          << name << " (in " << expr << ") is exported by neither the scheduler nor the monitor";
      used.insert(name);
    }
  }
  // The panels the dashboard promises (docs/monitor.md) are there.
  for (const char* name :
       {"hami_gpu_memory_allocated_bytes", "hami_gpu_shared_count", "hami_gpu_core_allocated_ratio",
        "hami_scheduler_bind_duration_seconds_bucket", "hami_scheduler_filter_failures_total",
        "hami_vgpu_memory_used_bytes", "hami_container_device_utilization_ratio",
        "hami_container_last_kernel_elapsed_seconds", "hami_host_gpu_memory_used_bytes",
        "hami_host_gpu_utilization_ratio"}) {
    EXPECT_TRUE(used.contains(name)) << name << " has no panel";
  }
}

TEST(DashboardTest, DatasourceIsTheImportVariable) {
  const nlohmann::json dashboard = LoadDashboard();
  ASSERT_FALSE(dashboard.is_discarded());
  for (const nlohmann::json& p : dashboard["panels"]) {
    if (p.value("type", "") == "row") continue;
    EXPECT_EQ(p["datasource"].value("uid", ""), "${DS_PROMETHEUS}") << p.value("title", "");
  }
}

TEST(DashboardTest, RealPrometheusParsesEveryExpression) {
  if (std::string why = fakes::PrometheusServer::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  const nlohmann::json dashboard = LoadDashboard();
  ASSERT_FALSE(dashboard.is_discarded());
  fakes::PrometheusServer prom;
  auto started = prom.Start({});
  ASSERT_TRUE(started.ok()) << started.status().message();
  for (std::string expr : Expressions(dashboard)) {
    if (expr.starts_with("label_values(")) continue;  // Grafana's, not PromQL
    expr = std::regex_replace(expr, std::regex(R"(\$node)"), ".*");
    auto r = prom.Query(expr);
    EXPECT_TRUE(r.ok()) << expr << ": " << r.status().message();
  }
}

}  // namespace
}  // namespace hami::scheduler
