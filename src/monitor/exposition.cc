#include "monitor/exposition.h"

#include <cstdint>
#include <functional>
#include <utility>

namespace hami::monitor {

using exposition::Family;
using exposition::Labels;
using exposition::MetricType;

namespace {

double D(uint64_t v) { return static_cast<double>(v); }

std::optional<double> LastKernelElapsed(const RegionSnapshot& s, int64_t now_unix_s) {
  if (s.last_kernel_time_s == 0) return std::nullopt;
  const int64_t last_s = s.last_kernel_time_s > static_cast<uint64_t>(INT64_MAX)
                             ? INT64_MAX
                             : static_cast<int64_t>(s.last_kernel_time_s);
  return static_cast<double>(now_unix_s > last_s ? now_unix_s - last_s : 0);
}

// A per-device value of a container; nullopt = no sample.
using ContainerValue =
    std::function<std::optional<double>(const VDeviceUsage&, const RegionSnapshot&, int64_t)>;

struct ContainerGauge {
  const char* name;
  const char* help;
  const char* legacy_name;  // nullptr: no legacy twin
  ContainerValue value;
  // The legacy twin carries the memory breakdown as label values (HAMi's
  // Device_memory_desc_of_container).
  bool legacy_breakdown = false;
};

const std::vector<ContainerGauge>& ContainerGauges() {
  static const std::vector<ContainerGauge> gauges = {
      {kVgpuMemoryUsed, "vGPU device memory used by the container, in bytes.",
       "vGPU_device_memory_usage_in_bytes",
       [](const VDeviceUsage& d, const RegionSnapshot&, int64_t) { return D(d.used_bytes); }},
      {kVgpuMemoryLimit, "vGPU device memory limit of the container, in bytes.",
       "vGPU_device_memory_limit_in_bytes",
       [](const VDeviceUsage& d, const RegionSnapshot&, int64_t) { return D(d.limit_bytes); }},
      {kContainerDeviceMemory,
       "Device memory used by the container, in bytes (as hami_vgpu_memory_used_bytes).",
       "Device_memory_desc_of_container",
       [](const VDeviceUsage& d, const RegionSnapshot&, int64_t) { return D(d.used_bytes); },
       /*legacy_breakdown=*/true},
      {kContainerUtilization,
       "SM utilization of the container's processes on the vGPU, in percent.",
       "Device_utilization_desc_of_container",
       [](const VDeviceUsage& d, const RegionSnapshot&, int64_t) { return D(d.sm_util_percent); }},
      {kContainerLastKernel, "Seconds since the container last launched a kernel.",
       "Device_last_kernel_of_container",
       [](const VDeviceUsage&, const RegionSnapshot& s, int64_t now) {
         return LastKernelElapsed(s, now);
       }},
      {kVgpuMemoryContext, "vGPU memory used by CUDA contexts, in bytes.", nullptr,
       [](const VDeviceUsage& d, const RegionSnapshot&, int64_t) { return D(d.context_bytes); }},
      {kVgpuMemoryModule, "vGPU memory used by loaded modules, in bytes.", nullptr,
       [](const VDeviceUsage& d, const RegionSnapshot&, int64_t) { return D(d.module_bytes); }},
      {kVgpuMemoryBuffer, "vGPU memory used by allocations, in bytes.", nullptr,
       [](const VDeviceUsage& d, const RegionSnapshot&, int64_t) { return D(d.buffer_bytes); }},
  };
  return gauges;
}

using HostValue = std::function<std::optional<double>(const HostDeviceReading&)>;

struct HostGauge {
  const char* name;
  const char* help;
  const char* legacy_name;
  HostValue value;
};

const std::vector<HostGauge>& HostGauges() {
  static const std::vector<HostGauge> gauges = {
      {kHostMemoryUsed, "GPU device memory used, in bytes.", "HostGPUMemoryUsage",
       [](const HostDeviceReading& h) -> std::optional<double> {
         if (!h.memory_used_bytes) return std::nullopt;
         return D(*h.memory_used_bytes);
       }},
      {kHostUtilization, "GPU device utilization, in percent (0-100).", "HostCoreUtilization",
       [](const HostDeviceReading& h) { return h.utilization_percent; }},
      {kHostMemoryControllerUtilization, "GPU memory controller utilization, in percent (0-100).",
       nullptr, [](const HostDeviceReading& h) { return h.memory_controller_utilization_percent; }},
  };
  return gauges;
}

Family Gauge(std::string name, std::string help) {
  Family f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = MetricType::kGauge;
  return f;
}

// The labels every per-container, per-device series starts with; `extra` follows them.
Labels ContainerDeviceLabels(const PodRef& pod, const std::string& container,
                             const std::string& vdevice_index, const std::string& device_uuid,
                             Labels extra = {}) {
  Labels labels = {{"namespace", pod.ns},
                   {"pod", pod.name},
                   {"container", container},
                   {"vdevice_index", vdevice_index},
                   {"device_uuid", device_uuid}};
  for (auto& label : extra) labels.push_back(std::move(label));
  return labels;
}

Labels WithZone(Labels labels, const MonitorExpositionOptions& options) {
  if (!options.zone.empty()) labels.emplace_back("zone", options.zone);
  return labels;
}

}  // namespace

std::vector<std::string> MonitorFamilyNames() {
  std::vector<std::string> names;
  for (const HostGauge& g : HostGauges()) {
    names.push_back(g.name);
    if (g.legacy_name != nullptr) names.push_back(g.legacy_name);
  }
  for (const ContainerGauge& g : ContainerGauges()) {
    names.push_back(g.name);
    if (g.legacy_name != nullptr) names.push_back(g.legacy_name);
  }
  names.push_back(kMigDeviceInfo);
  names.push_back(kNodeMigInstanceInfo);
  names.push_back(kRegionLimitMismatch);
  return names;
}

std::vector<Family> MonitorFamilies(const MonitorReadings& readings,
                                    const MonitorExpositionOptions& options) {
  std::vector<Family> current;
  std::vector<Family> legacy;

  for (const HostGauge& g : HostGauges()) {
    const bool with_legacy = options.legacy && g.legacy_name != nullptr;
    Family f = Gauge(g.name, g.help);
    Family old = Gauge(with_legacy ? g.legacy_name : "", g.help);
    for (const HostDeviceReading& h : readings.hosts) {
      const std::optional<double> value = g.value(h);
      if (!value) continue;
      const std::string index = std::to_string(h.device_index);
      f.Add(WithZone({{"node", h.node},
                      {"device_index", index},
                      {"device_uuid", h.device_uuid},
                      {"device_type", h.device_type}},
                     options),
            *value);
      if (!with_legacy) continue;
      old.Add(
          WithZone(
              {{"deviceidx", index}, {"deviceuuid", h.device_uuid}, {"devicetype", h.device_type}},
              options),
          *value);
    }
    current.push_back(std::move(f));
    if (with_legacy) legacy.push_back(std::move(old));
  }

  for (const ContainerGauge& g : ContainerGauges()) {
    const bool with_legacy = options.legacy && g.legacy_name != nullptr;
    Family f = Gauge(g.name, g.help);
    Family old = Gauge(with_legacy ? g.legacy_name : "", g.help);
    for (const ContainerReading& c : readings.containers) {
      auto pod = readings.pods.find(c.pod_uid);
      if (pod == readings.pods.end()) continue;
      const RegionSnapshot& s = c.snapshot;
      for (size_t i = 0; i < s.devices.size(); ++i) {
        const VDeviceUsage& d = s.devices[i];
        const std::optional<double> value = g.value(d, s, readings.now_unix_s);
        if (!value) continue;
        const std::string index = std::to_string(i);
        f.Add(WithZone(ContainerDeviceLabels(pod->second, c.container, index, d.uuid), options),
              *value);
        if (!with_legacy) continue;
        Labels old_labels = {{"podnamespace", pod->second.ns},
                             {"podname", pod->second.name},
                             {"ctrname", c.container},
                             {"vdeviceid", index},
                             {"deviceuuid", d.uuid}};
        if (g.legacy_breakdown) {  // HAMi's legacy family carries the breakdown as label values
          old_labels.emplace_back("context", std::to_string(d.context_bytes));
          old_labels.emplace_back("module", std::to_string(d.module_bytes));
          old_labels.emplace_back("data", std::to_string(d.buffer_bytes));
          old_labels.emplace_back("offset", std::to_string(d.offset_bytes));
        }
        old.Add(WithZone(std::move(old_labels), options), *value);
      }
    }
    current.push_back(std::move(f));
    if (with_legacy) legacy.push_back(std::move(old));
  }

  Family mig = Gauge(kMigDeviceInfo, "MIG device held by a container (value 1).");
  for (const MigDeviceReading& m : readings.migs) {
    auto pod = readings.pods.find(m.pod_uid);
    if (pod == readings.pods.end()) continue;
    mig.Add(WithZone(ContainerDeviceLabels(
                         pod->second, m.container, std::to_string(m.vdevice_index), m.device_uuid,
                         {{"mig_uuid", m.mig_uuid},
                          {"profile", m.profile},
                          {"gpu_instance_id", std::to_string(m.gpu_instance_id)},
                          {"compute_instance_id", std::to_string(m.compute_instance_id)},
                          // DCGM exporter's names for the same instance, to join its series.
                          {"UUID", m.device_uuid},
                          {"GPU_I_ID", std::to_string(m.gpu_instance_id)},
                          {"GPU_I_PROFILE", m.profile}}),
                     options),
            1);
  }
  current.push_back(std::move(mig));

  Family node_mig =
      Gauge(kNodeMigInstanceInfo, "MIG device that exists on the node, held or not (value 1).");
  for (const NodeMigInstanceReading& m : readings.node_migs) {
    const std::string gpu = std::to_string(m.gpu_index);
    node_mig.Add(WithZone({{"gpu", gpu},
                           {"UUID", m.gpu_uuid},
                           {"device", "nvidia" + gpu},
                           {"modelName", m.model_name},
                           {"Hostname", m.node},
                           {"GPU_I_ID", std::to_string(m.gpu_instance_id)},
                           {"GPU_I_PROFILE", m.profile},
                           {"mig_uuid", m.mig_uuid},
                           {"compute_instance_id", std::to_string(m.compute_instance_id)},
                           {"placement_start", std::to_string(m.placement_start)},
                           {"placement_size", std::to_string(m.placement_size)}},
                          options),
                 1);
  }
  current.push_back(std::move(node_mig));

  Family mismatch = Gauge(kRegionLimitMismatch,
                          "1 when the container's shared region holds a limit other than its "
                          "allocation (tampering from inside the container, or a stale file).");
  for (const LimitMismatchReading& m : readings.limit_mismatches) {
    auto pod = readings.pods.find(m.pod_uid);
    if (pod == readings.pods.end()) continue;
    const LimitMismatch& x = m.mismatch;
    mismatch.Add(
        WithZone(ContainerDeviceLabels(pod->second, m.container, std::to_string(x.vdevice_index),
                                       x.device_uuid,
                                       {{"limit", LimitKindLabel(x.kind)},
                                        {"region_value", std::to_string(x.region_value)},
                                        {"allocated_value", std::to_string(x.allocated_value)}}),
                 options),
        1);
  }
  current.push_back(std::move(mismatch));

  std::vector<Family> out;
  for (std::vector<Family>* part : {&current, &legacy}) {  // legacy is empty unless asked for
    for (Family& f : *part) {
      if (!f.samples.empty()) out.push_back(std::move(f));
    }
  }
  return out;
}

Result<std::string> RenderMonitorMetrics(const MonitorReadings& readings,
                                         const MonitorExpositionOptions& options) {
  return exposition::Render(MonitorFamilies(readings, options));
}

}  // namespace hami::monitor
