// Prometheus metrics for hami-scheduler, hand-written in the text exposition format 0.0.4
// (no Prometheus client library is packaged for Debian); escaping and number formatting are
// common/exposition.h's, shared with hami-monitor.
//
// MetricsRegistry holds counters, gauges and fixed-bucket histograms; SchedulerMetrics owns the
// scheduler's own registry (filter/bind latency, filter failures) and renders it together with
// the device allocation gauges of spec §3.11, derived from a UsageLedger snapshot at scrape time.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "policy/placement.h"
#include "scheduler/ledger.h"
#include "scheduler/quota.h"

namespace hami::scheduler {

// Label pairs in the order they are rendered.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Escapes a label value per the exposition format: backslash, double quote and newline.
std::string EscapeLabelValue(const std::string& value);
// Formats a sample value: integers without a fraction, "+Inf", "-Inf", "NaN", else the
// shortest round-trip decimal.
std::string FormatMetricValue(double value);
// Whether `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*.
bool ValidMetricName(const std::string& name);

// Thread-safe: every method takes an internal mutex. Families render in declaration order,
// series within a family in label order. Updating an undeclared family, or a family of another
// type, is ignored (metrics must never crash the scheduler).
class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a family; redeclaring a name keeps the first declaration.
  void DeclareCounter(const std::string& name, const std::string& help);
  void DeclareGauge(const std::string& name, const std::string& help);
  // `upper_bounds` in ascending order, without +Inf (always added).
  void DeclareHistogram(const std::string& name, const std::string& help,
                        std::vector<double> upper_bounds);

  // Adds `delta` (>= 0; negative deltas are ignored) to a counter series.
  void CounterAdd(const std::string& name, const MetricLabels& labels, double delta = 1);
  void GaugeSet(const std::string& name, const MetricLabels& labels, double value);
  void Observe(const std::string& name, const MetricLabels& labels, double value);

  // The value of a counter or gauge series; 0 when absent (tests).
  double Value(const std::string& name, const MetricLabels& labels) const;

  // The whole registry as exposition text (each line ends in '\n').
  std::string Render() const;

 private:
  struct Series {
    double value = 0;                   // counter, gauge
    std::vector<uint64_t> bucket_hits;  // histogram, per bound (non-cumulative) + overflow
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string name, help;
    Type type = Type::kGauge;
    std::vector<double> bounds;
    std::map<MetricLabels, Series> series;
  };
  Family* FindLocked(const std::string& name, Type type);
  void Declare(const std::string& name, const std::string& help, Type type,
               std::vector<double> bounds);

  mutable std::mutex mu_;
  std::vector<Family> families_;  // GUARDED_BY(mu_)
};

// Device allocation gauges (spec §3.11) for the given node states and pod allocations:
// hami_gpu_memory_limit_bytes, hami_gpu_core_limit_ratio, hami_gpu_memory_allocated_bytes,
// hami_gpu_shared_count, hami_gpu_core_allocated_ratio, hami_node_gpu_overview,
// hami_node_gpu_memory_allocated_ratio per device, and hami_vgpu_memory_allocated_bytes,
// hami_vgpu_core_allocated_ratio per pod container and device. Memory is MiB x 1048576; core
// values are HAMi's core units (100 = one whole device), as HAMi's metrics.go reports them;
// hami_node_gpu_memory_allocated_ratio is allocated / limit in [0, 1]. MIG gauges are not
// rendered (the ledger does not track them); the quota gauges are RenderQuotaGauges'. Pure.
std::string RenderDeviceGauges(const std::vector<policy::NodeState>& nodes,
                               const std::vector<PodAllocation>& pods);

// ResourceQuota gauges (spec §3.11, HAMi's labels): hami_resource_quota_used{namespace,
// quota_name,limit} per namespace and quota'd resource with usage or a quota (quota_name is the
// resource name, e.g. "nvidia.com/gpumem"; the value is in ledger units, MiB or core percent;
// `limit` is the binding limit as written in the ResourceQuota, "0" when none applies), and
// hami_resource_quota_limit{namespace,quota_name} only where a ResourceQuota sets one. Pure.
std::string RenderQuotaGauges(const std::vector<QuotaStatus>& statuses);

// The scheduler's metrics. Thread-safe (the handlers of several HTTP threads update it).
class SchedulerMetrics {
 public:
  static constexpr const char* kFilterDuration = "hami_scheduler_filter_duration_seconds";
  static constexpr const char* kBindDuration = "hami_scheduler_bind_duration_seconds";
  static constexpr const char* kFilterFailures = "hami_scheduler_filter_failures_total";

  SchedulerMetrics();

  void ObserveFilterSeconds(double seconds) { registry_.Observe(kFilterDuration, {}, seconds); }
  void ObserveBindSeconds(double seconds) { registry_.Observe(kBindDuration, {}, seconds); }
  // `reason` should come from a small fixed set (label cardinality).
  void FilterFailure(const std::string& reason) {
    registry_.CounterAdd(kFilterFailures, {{"reason", reason}});
  }
  const MetricsRegistry& registry() const { return registry_; }

  // The scheduler's own metrics followed by the device gauges of `ledger` (snapshot taken here)
  // and, when `quotas` is given, the ResourceQuota gauges.
  std::string Render(const UsageLedger& ledger, const QuotaTracker* quotas = nullptr) const;

 private:
  MetricsRegistry registry_;
};

}  // namespace hami::scheduler
