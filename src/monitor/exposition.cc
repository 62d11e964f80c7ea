#include "monitor/exposition.h"

#include <cstdint>
#include <utility>

namespace hami::monitor {

using exposition::Family;
using exposition::Labels;
using exposition::MetricType;

namespace {

Family Gauge(const char* name, const char* help) {
  Family f;
  f.name = name;
  f.help = help;
  f.type = MetricType::kGauge;
  return f;
}

double D(uint64_t v) { return static_cast<double>(v); }

}  // namespace

std::vector<Family> MonitorFamilies(const std::vector<HostDeviceReading>& hosts,
                                    const std::vector<ContainerReading>& containers,
                                    const std::map<std::string, PodRef>& pods, int64_t now_unix_s) {
  Family host_mem = Gauge(kHostMemoryUsed, "GPU device memory used, in bytes.");
  Family host_util = Gauge(kHostUtilization, "GPU device utilization, in percent (0-100).");
  Family used = Gauge(kVgpuMemoryUsed, "vGPU device memory used by the container, in bytes.");
  Family limit = Gauge(kVgpuMemoryLimit, "vGPU device memory limit of the container, in bytes.");
  Family util = Gauge(kContainerUtilization,
                      "SM utilization of the container's processes on the vGPU, in percent.");
  Family last = Gauge(kContainerLastKernel, "Seconds since the container last launched a kernel.");
  Family context = Gauge(kVgpuMemoryContext, "vGPU memory used by CUDA contexts, in bytes.");
  Family module = Gauge(kVgpuMemoryModule, "vGPU memory used by loaded modules, in bytes.");
  Family buffer = Gauge(kVgpuMemoryBuffer, "vGPU memory used by allocations, in bytes.");

  for (const HostDeviceReading& h : hosts) {
    const Labels labels = {{"node", h.node},
                           {"device_index", std::to_string(h.device_index)},
                           {"device_uuid", h.device_uuid},
                           {"device_type", h.device_type}};
    host_mem.Add(labels, D(h.memory_used_bytes));
    host_util.Add(labels, h.utilization_percent);
  }
  for (const ContainerReading& c : containers) {
    auto pod = pods.find(c.pod_uid);
    if (pod == pods.end()) continue;
    const RegionSnapshot& s = c.snapshot;
    for (size_t i = 0; i < s.devices.size(); ++i) {
      const VDeviceUsage& d = s.devices[i];
      const Labels labels = {{"namespace", pod->second.ns},
                             {"pod", pod->second.name},
                             {"container", c.container},
                             {"vdevice_index", std::to_string(i)},
                             {"device_uuid", d.uuid}};
      used.Add(labels, D(d.used_bytes));
      limit.Add(labels, D(d.limit_bytes));
      util.Add(labels, D(d.sm_util_percent));
      if (s.last_kernel_time_s > 0) {
        const int64_t last_s = s.last_kernel_time_s > static_cast<uint64_t>(INT64_MAX)
                                   ? INT64_MAX
                                   : static_cast<int64_t>(s.last_kernel_time_s);
        const int64_t elapsed = now_unix_s > last_s ? now_unix_s - last_s : 0;
        last.Add(labels, static_cast<double>(elapsed));
      }
      context.Add(labels, D(d.context_bytes));
      module.Add(labels, D(d.module_bytes));
      buffer.Add(labels, D(d.buffer_bytes));
    }
  }
  std::vector<Family> out;
  for (Family* f : {&host_mem, &host_util, &used, &limit, &util, &last, &context, &module, &buffer})
    out.push_back(std::move(*f));
  return out;
}

Result<std::string> RenderMonitorMetrics(const std::vector<HostDeviceReading>& hosts,
                                         const std::vector<ContainerReading>& containers,
                                         const std::map<std::string, PodRef>& pods,
                                         int64_t now_unix_s) {
  return exposition::Render(MonitorFamilies(hosts, containers, pods, now_unix_s));
}

}  // namespace hami::monitor
