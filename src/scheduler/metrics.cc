#include "scheduler/metrics.h"

#include <algorithm>

#include "common/exposition.h"

namespace hami::scheduler {

namespace {

constexpr double kBytesPerMib = 1048576.0;

using exposition::LabelText;

const char* TypeName(MetricsRegistry::Type type) {
  switch (type) {
    case MetricsRegistry::Type::kCounter:
      return "counter";
    case MetricsRegistry::Type::kGauge:
      return "gauge";
    case MetricsRegistry::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

// The format itself lives in common/exposition.h, shared with hami-monitor.
std::string EscapeLabelValue(const std::string& value) {
  return exposition::EscapeLabelValue(value);
}

std::string FormatMetricValue(double value) { return exposition::FormatValue(value); }

bool ValidMetricName(const std::string& name) { return exposition::ValidMetricName(name); }

void MetricsRegistry::Declare(const std::string& name, const std::string& help, Type type,
                              std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Family& f : families_) {
    if (f.name == name) return;
  }
  Family family;
  family.name = name;
  family.help = help;
  family.type = type;
  std::sort(bounds.begin(), bounds.end());
  family.bounds = std::move(bounds);
  families_.push_back(std::move(family));
}

void MetricsRegistry::DeclareCounter(const std::string& name, const std::string& help) {
  Declare(name, help, Type::kCounter, {});
}

void MetricsRegistry::DeclareGauge(const std::string& name, const std::string& help) {
  Declare(name, help, Type::kGauge, {});
}

void MetricsRegistry::DeclareHistogram(const std::string& name, const std::string& help,
                                       std::vector<double> upper_bounds) {
  Declare(name, help, Type::kHistogram, std::move(upper_bounds));
}

MetricsRegistry::Family* MetricsRegistry::FindLocked(const std::string& name, Type type) {
  for (Family& f : families_) {
    if (f.name == name) return f.type == type ? &f : nullptr;
  }
  return nullptr;
}

void MetricsRegistry::CounterAdd(const std::string& name, const MetricLabels& labels,
                                 double delta) {
  if (!(delta >= 0)) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (Family* f = FindLocked(name, Type::kCounter)) f->series[labels].value += delta;
}

void MetricsRegistry::GaugeSet(const std::string& name, const MetricLabels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Family* f = FindLocked(name, Type::kGauge)) f->series[labels].value = value;
}

void MetricsRegistry::Observe(const std::string& name, const MetricLabels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = FindLocked(name, Type::kHistogram);
  if (f == nullptr) return;
  Series& s = f->series[labels];
  if (s.bucket_hits.empty()) s.bucket_hits.assign(f->bounds.size() + 1, 0);
  // The first bucket whose upper bound (inclusive) holds the value; the last one is +Inf.
  const size_t idx = static_cast<size_t>(
      std::lower_bound(f->bounds.begin(), f->bounds.end(), value) - f->bounds.begin());
  ++s.bucket_hits[idx];
  s.sum += value;
  ++s.count;
}

double MetricsRegistry::Value(const std::string& name, const MetricLabels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Family& f : families_) {
    if (f.name != name) continue;
    auto it = f.series.find(labels);
    return it == f.series.end() ? 0 : it->second.value;
  }
  return 0;
}

std::string MetricsRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP " + f.name + " " + exposition::EscapeHelp(f.help) + "\n";
    out += "# TYPE " + f.name + " " + TypeName(f.type) + "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::kHistogram) {
        out += f.name + LabelText(labels, nullptr) + " " + FormatMetricValue(s.value) + "\n";
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= f.bounds.size(); ++i) {
        cumulative += i < s.bucket_hits.size() ? s.bucket_hits[i] : 0;
        const std::pair<std::string, std::string> le = {
            "le", i < f.bounds.size() ? FormatMetricValue(f.bounds[i]) : "+Inf"};
        out +=
            f.name + "_bucket" + LabelText(labels, &le) + " " + std::to_string(cumulative) + "\n";
      }
      out += f.name + "_sum" + LabelText(labels, nullptr) + " " + FormatMetricValue(s.sum) + "\n";
      out += f.name + "_count" + LabelText(labels, nullptr) + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

std::string RenderDeviceGauges(const std::vector<policy::NodeState>& nodes,
                               const std::vector<PodAllocation>& pods) {
  MetricsRegistry r;
  r.DeclareGauge("hami_gpu_memory_limit_bytes", "Device memory registered, in bytes.");
  r.DeclareGauge("hami_gpu_core_limit_ratio", "Device cores registered (100 = one device).");
  r.DeclareGauge("hami_gpu_memory_allocated_bytes", "Device memory allocated to pods, in bytes.");
  r.DeclareGauge("hami_gpu_shared_count", "Number of containers sharing the device.");
  r.DeclareGauge("hami_gpu_core_allocated_ratio", "Device cores allocated (100 = one device).");
  r.DeclareGauge("hami_node_gpu_overview", "Device memory allocated, in bytes, with limits.");
  r.DeclareGauge("hami_node_gpu_memory_allocated_ratio",
                 "Device memory allocated over device memory registered.");
  r.DeclareGauge("hami_vgpu_memory_allocated_bytes",
                 "Device memory allocated to one container, in bytes.");
  r.DeclareGauge("hami_vgpu_core_allocated_ratio",
                 "Device cores allocated to one container (100 = one device).");
  for (const policy::NodeState& node : nodes) {
    for (const DeviceUsage& d : node.devices) {
      const std::string index = std::to_string(d.info.index);
      // device_vendor: the vendor key that registered the device ("NVIDIA", "DCU", "MLU"),
      // so one dashboard can split a heterogeneous cluster by vendor.
      const MetricLabels base = {{"node", node.name},
                                 {"device_uuid", d.info.id},
                                 {"device_index", index},
                                 {"device_type", d.info.type},
                                 {"device_vendor", d.vendor}};
      const double limit_bytes = static_cast<double>(d.info.devmem_mib) * kBytesPerMib;
      const double used_bytes = static_cast<double>(d.used_mem_mib) * kBytesPerMib;
      r.GaugeSet("hami_gpu_memory_limit_bytes", base, limit_bytes);
      r.GaugeSet("hami_gpu_core_limit_ratio", base, d.info.devcore);
      r.GaugeSet("hami_gpu_memory_allocated_bytes",
                 {{"node", node.name},
                  {"device_uuid", d.info.id},
                  {"device_index", index},
                  {"device_cores", std::to_string(d.used_cores)},
                  {"device_type", d.info.type},
                  {"device_vendor", d.vendor}},
                 used_bytes);
      r.GaugeSet("hami_gpu_shared_count", base, d.used);
      r.GaugeSet("hami_gpu_core_allocated_ratio", base, d.used_cores);
      r.GaugeSet("hami_node_gpu_overview",
                 {{"node", node.name},
                  {"device_uuid", d.info.id},
                  {"device_index", index},
                  {"device_cores", std::to_string(d.used_cores)},
                  {"device_memory_limit", std::to_string(d.info.devmem_mib)},
                  {"device_type", d.info.type},
                  {"device_vendor", d.vendor}},
                 used_bytes);
      r.GaugeSet(
          "hami_node_gpu_memory_allocated_ratio", base,
          d.info.devmem_mib > 0 ? static_cast<double>(d.used_mem_mib) / d.info.devmem_mib : 0.0);
    }
  }
  for (const PodAllocation& pod : pods) {
    for (const auto& [vendor, containers] : pod.by_vendor) {
      for (size_t c = 0; c < containers.size(); ++c) {
        for (const ContainerDevice& dev : containers[c]) {
          const MetricLabels labels = {
              {"namespace", pod.ns},     {"node", pod.node},
              {"pod", pod.name},         {"container_index", std::to_string(c)},
              {"device_uuid", dev.uuid}, {"device_vendor", vendor}};
          r.GaugeSet("hami_vgpu_memory_allocated_bytes", labels,
                     static_cast<double>(dev.used_mem_mib) * kBytesPerMib);
          r.GaugeSet("hami_vgpu_core_allocated_ratio", labels, dev.used_cores);
        }
      }
    }
  }
  return r.Render();
}

SchedulerMetrics::SchedulerMetrics() {
  const std::vector<double> latency = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,   0.25,   0.5,   1,    2.5,   5};
  registry_.DeclareHistogram(kFilterDuration, "Time to answer one /filter request.", latency);
  registry_.DeclareHistogram(kBindDuration, "Time to answer one /bind request.", latency);
  registry_.DeclareCounter(kFilterFailures, "/filter requests that placed no pod, by reason.");
}

std::string RenderQuotaGauges(const std::vector<QuotaStatus>& statuses) {
  MetricsRegistry r;
  r.DeclareGauge("hami_resource_quota_limit",
                 "ResourceQuota limit on a device resource in a namespace, as written.");
  r.DeclareGauge("hami_resource_quota_used",
                 "Device resource held by a namespace's pods (MiB or core percent).");
  for (const QuotaStatus& s : statuses) {
    const std::string limit = s.limit ? std::to_string(s.limit->limit) : "0";
    r.GaugeSet("hami_resource_quota_used",
               {{"namespace", s.ns}, {"quota_name", s.resource}, {"limit", limit}},
               static_cast<double>(s.used));
    if (s.limit) {
      r.GaugeSet("hami_resource_quota_limit", {{"namespace", s.ns}, {"quota_name", s.resource}},
                 static_cast<double>(s.limit->limit));
    }
  }
  return r.Render();
}

std::string SchedulerMetrics::Render(const UsageLedger& ledger, const QuotaTracker* quotas) const {
  const std::vector<std::string> names = ledger.NodeNames();
  const std::vector<PodAllocation> pods = ledger.Pods();
  std::string out = registry_.Render() + RenderDeviceGauges(ledger.Snapshot(names, nullptr), pods);
  if (quotas != nullptr) out += RenderQuotaGauges(quotas->Statuses(pods));
  return out;
}

}  // namespace hami::scheduler
