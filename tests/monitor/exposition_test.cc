#include "monitor/exposition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/exposition.h"

namespace hami::monitor {
namespace {

namespace ex = hami::exposition;

TEST(ExpositionTextTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(ex::EscapeLabelValue("a\\b\"c\nd\te"), "a\\\\b\\\"c\\nd\te");
  EXPECT_EQ(ex::EscapeHelp("a\\b\"c\nd"), "a\\\\b\"c\\nd");
}

TEST(ExpositionTextTest, FormatsValues) {
  EXPECT_EQ(ex::FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(ex::FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(ex::FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(ex::FormatValue(0), "0");
  EXPECT_EQ(ex::FormatValue(-3), "-3");
  EXPECT_EQ(ex::FormatValue(4294967296.0), "4294967296");
  EXPECT_EQ(ex::FormatValue(68719476736.0 * 1024), "70368744177664");  // 64 TiB, no exponent
  EXPECT_EQ(ex::FormatValue(0.25), "0.25");
  EXPECT_EQ(ex::FormatValue(0.1), "0.1");
}

TEST(ExpositionTextTest, ValidatesNames) {
  EXPECT_TRUE(ex::ValidMetricName("hami_vgpu_memory_used_bytes"));
  EXPECT_TRUE(ex::ValidMetricName("a:b_c9"));
  EXPECT_FALSE(ex::ValidMetricName(""));
  EXPECT_FALSE(ex::ValidMetricName("9abc"));
  EXPECT_FALSE(ex::ValidMetricName("a-b"));
  EXPECT_TRUE(ex::ValidLabelName("device_uuid"));
  EXPECT_FALSE(ex::ValidLabelName("a:b"));
  EXPECT_FALSE(ex::ValidLabelName("__name"));
  EXPECT_FALSE(ex::ValidLabelName("1a"));
}

TEST(ExpositionTextTest, RenderGoldenAndErrors) {
  ex::Family a{"m_a", "Help with \\ and\nnewline.", ex::MetricType::kGauge, {}};
  a.Add({{"k", "v\"1"}}, 1);
  a.Add({}, 2.5);
  ex::Family empty{"m_empty", "nothing", ex::MetricType::kCounter, {}};
  ex::Family b{"m_b_total", "B.", ex::MetricType::kCounter, {}};
  b.Add({{"x", "1"}, {"y", "2"}}, 3);
  auto text = ex::Render({a, empty, b});
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text,
            "# HELP m_a Help with \\\\ and\\nnewline.\n"
            "# TYPE m_a gauge\n"
            "m_a{k=\"v\\\"1\"} 1\n"
            "m_a 2.5\n"
            "# HELP m_b_total B.\n"
            "# TYPE m_b_total counter\n"
            "m_b_total{x=\"1\",y=\"2\"} 3\n");

  EXPECT_FALSE(ex::Render({a, a}).ok());  // one family twice
  ex::Family bad_name{"bad-name", "", ex::MetricType::kGauge, {}};
  bad_name.Add({}, 1);
  EXPECT_FALSE(ex::Render({bad_name}).ok());
  ex::Family bad_label{"m", "", ex::MetricType::kGauge, {}};
  bad_label.Add({{"le-x", "1"}}, 1);
  EXPECT_FALSE(ex::Render({bad_label}).ok());
  ex::Family dup_label{"m", "", ex::MetricType::kGauge, {}};
  dup_label.Add({{"a", "1"}, {"a", "2"}}, 1);
  EXPECT_FALSE(ex::Render({dup_label}).ok());
}

RegionSnapshot Snap() {
  RegionSnapshot s;
  s.last_kernel_time_s = 1000;
  VDeviceUsage d0;
  d0.uuid = "GPU-a";
  d0.limit_bytes = 4294967296;
  d0.used_bytes = 1048576;
  d0.context_bytes = 524288;
  d0.module_bytes = 262144;
  d0.buffer_bytes = 262144;
  d0.sm_util_percent = 42;
  VDeviceUsage d1;
  d1.uuid = "GPU-\"b\"";
  d1.limit_bytes = 2048;
  s.devices = {d0, d1};
  return s;
}

MonitorReadings Readings() {
  MonitorReadings r;
  HostDeviceReading host{"node-1", 0, "GPU-a", "NVIDIA-A100", 2147483648, 37.5, 12};
  r.hosts = {host};
  RegionSnapshot one = Snap();
  one.devices.resize(1);
  r.containers = {{"uid-1", "main", one}};
  r.migs = {{"uid-1", "main", 0, "GPU-a", "MIG-x", "1g.10gb", 7, 0}};
  r.pods = {{"uid-1", {"ns-a", "pod-a"}}};
  r.now_unix_s = 1010;
  return r;
}

TEST(MonitorMetricsTest, Golden) {
  auto text = RenderMonitorMetrics(Readings());
  ASSERT_TRUE(text.ok()) << text.status().message();
  const std::string host =
      "{node=\"node-1\",device_index=\"0\",device_uuid=\"GPU-a\",device_type=\"NVIDIA-A100\","
      "zone=\"vGPU\"}";
  const std::string c =
      "{namespace=\"ns-a\",pod=\"pod-a\",container=\"main\",vdevice_index=\"0\","
      "device_uuid=\"GPU-a\",zone=\"vGPU\"}";
  const std::string want =
      "# HELP hami_host_gpu_memory_used_bytes GPU device memory used, in bytes.\n"
      "# TYPE hami_host_gpu_memory_used_bytes gauge\n"
      "hami_host_gpu_memory_used_bytes" +
      host +
      " 2147483648\n"
      "# HELP hami_host_gpu_utilization_ratio GPU device utilization, in percent (0-100).\n"
      "# TYPE hami_host_gpu_utilization_ratio gauge\n"
      "hami_host_gpu_utilization_ratio" +
      host +
      " 37.5\n"
      "# HELP hami_host_gpu_memory_controller_utilization_ratio GPU memory controller "
      "utilization, in percent (0-100).\n"
      "# TYPE hami_host_gpu_memory_controller_utilization_ratio gauge\n"
      "hami_host_gpu_memory_controller_utilization_ratio" +
      host +
      " 12\n"
      "# HELP hami_vgpu_memory_used_bytes vGPU device memory used by the container, in bytes.\n"
      "# TYPE hami_vgpu_memory_used_bytes gauge\n"
      "hami_vgpu_memory_used_bytes" +
      c +
      " 1048576\n"
      "# HELP hami_vgpu_memory_limit_bytes vGPU device memory limit of the container, in bytes.\n"
      "# TYPE hami_vgpu_memory_limit_bytes gauge\n"
      "hami_vgpu_memory_limit_bytes" +
      c +
      " 4294967296\n"
      "# HELP hami_container_device_memory_bytes Device memory used by the container, in bytes "
      "(as hami_vgpu_memory_used_bytes).\n"
      "# TYPE hami_container_device_memory_bytes gauge\n"
      "hami_container_device_memory_bytes" +
      c +
      " 1048576\n"
      "# HELP hami_container_device_utilization_ratio SM utilization of the container's "
      "processes on the vGPU, in percent.\n"
      "# TYPE hami_container_device_utilization_ratio gauge\n"
      "hami_container_device_utilization_ratio" +
      c +
      " 42\n"
      "# HELP hami_container_last_kernel_elapsed_seconds Seconds since the container last "
      "launched a kernel.\n"
      "# TYPE hami_container_last_kernel_elapsed_seconds gauge\n"
      "hami_container_last_kernel_elapsed_seconds" +
      c +
      " 10\n"
      "# HELP hami_vgpu_memory_context_bytes vGPU memory used by CUDA contexts, in bytes.\n"
      "# TYPE hami_vgpu_memory_context_bytes gauge\n"
      "hami_vgpu_memory_context_bytes" +
      c +
      " 524288\n"
      "# HELP hami_vgpu_memory_module_bytes vGPU memory used by loaded modules, in bytes.\n"
      "# TYPE hami_vgpu_memory_module_bytes gauge\n"
      "hami_vgpu_memory_module_bytes" +
      c +
      " 262144\n"
      "# HELP hami_vgpu_memory_buffer_bytes vGPU memory used by allocations, in bytes.\n"
      "# TYPE hami_vgpu_memory_buffer_bytes gauge\n"
      "hami_vgpu_memory_buffer_bytes" +
      c +
      " 262144\n"
      "# HELP hami_mig_device_info MIG device held by a container (value 1).\n"
      "# TYPE hami_mig_device_info gauge\n"
      "hami_mig_device_info{namespace=\"ns-a\",pod=\"pod-a\",container=\"main\","
      "vdevice_index=\"0\",device_uuid=\"GPU-a\",mig_uuid=\"MIG-x\",profile=\"1g.10gb\","
      "gpu_instance_id=\"7\",compute_instance_id=\"0\",UUID=\"GPU-a\",GPU_I_ID=\"7\","
      "GPU_I_PROFILE=\"1g.10gb\",zone=\"vGPU\"} 1\n";
  EXPECT_EQ(*text, want);
}

TEST(MonitorMetricsTest, NodeMigInstancesCarryDcgmLabels) {
  // Labels a PromQL join with DCGM exporter's series needs: on(UUID, GPU_I_ID) (plus gpu,
  // device, modelName, Hostname as DCGM exporter names them).
  MonitorReadings r;
  r.node_migs.push_back(
      {"node-1", 2, "GPU-a100", "NVIDIA A100-SXM4-40GB", "MIG-x", "3g.20gb", 1, 0, 4, 4});
  r.node_migs.push_back(
      {"node-1", 2, "GPU-a100", "NVIDIA A100-SXM4-40GB", "MIG-y", "1g.5gb", 9, 0, 0, 1});
  auto text = RenderMonitorMetrics(r);
  ASSERT_TRUE(text.ok()) << text.status().message();
  const std::string want =
      "# HELP hami_node_gpu_mig_instance_info MIG device that exists on the node, held or not "
      "(value 1).\n"
      "# TYPE hami_node_gpu_mig_instance_info gauge\n"
      "hami_node_gpu_mig_instance_info{gpu=\"2\",UUID=\"GPU-a100\",device=\"nvidia2\","
      "modelName=\"NVIDIA A100-SXM4-40GB\",Hostname=\"node-1\",GPU_I_ID=\"1\","
      "GPU_I_PROFILE=\"3g.20gb\",mig_uuid=\"MIG-x\",compute_instance_id=\"0\","
      "placement_start=\"4\",placement_size=\"4\",zone=\"vGPU\"} 1\n"
      "hami_node_gpu_mig_instance_info{gpu=\"2\",UUID=\"GPU-a100\",device=\"nvidia2\","
      "modelName=\"NVIDIA A100-SXM4-40GB\",Hostname=\"node-1\",GPU_I_ID=\"9\","
      "GPU_I_PROFILE=\"1g.5gb\",mig_uuid=\"MIG-y\",compute_instance_id=\"0\","
      "placement_start=\"0\",placement_size=\"1\",zone=\"vGPU\"} 1\n";
  EXPECT_EQ(*text, want);
  const std::vector<std::string> names = MonitorFamilyNames();
  EXPECT_NE(std::find(names.begin(), names.end(), kNodeMigInstanceInfo), names.end());
}

TEST(MonitorMetricsTest, LegacyNamesFollowTheCurrentOnes) {
  MonitorExpositionOptions options;
  options.legacy = true;
  options.zone = "";  // no zone label
  auto text = RenderMonitorMetrics(Readings(), options);
  ASSERT_TRUE(text.ok()) << text.status().message();
  const std::string c =
      "{podnamespace=\"ns-a\",podname=\"pod-a\",ctrname=\"main\",vdeviceid=\"0\","
      "deviceuuid=\"GPU-a\"}";
  for (const std::string& line : std::vector<std::string>{
           std::string("HostGPUMemoryUsage{deviceidx=\"0\",deviceuuid=\"GPU-a\","
                       "devicetype=\"NVIDIA-A100\"} 2147483648\n"),
           std::string("HostCoreUtilization{deviceidx=\"0\",deviceuuid=\"GPU-a\","
                       "devicetype=\"NVIDIA-A100\"} 37.5\n"),
           "vGPU_device_memory_usage_in_bytes" + c + " 1048576\n",
           "vGPU_device_memory_limit_in_bytes" + c + " 4294967296\n",
           "Device_memory_desc_of_container{podnamespace=\"ns-a\",podname=\"pod-a\",ctrname="
           "\"main\","
           "vdeviceid=\"0\",deviceuuid=\"GPU-a\",context=\"524288\",module=\"262144\",data="
           "\"262144\","
           "offset=\"0\"} 1048576\n",
           "Device_utilization_desc_of_container" + c + " 42\n",
           "Device_last_kernel_of_container" + c + " 10\n"}) {
    EXPECT_NE(text->find(line), std::string::npos) << line << "\n" << *text;
  }
  EXPECT_LT(text->find("hami_mig_device_info"), text->find("HostGPUMemoryUsage"));
  EXPECT_EQ(text->find("zone="), std::string::npos);
  // Every rendered family is in MonitorFamilyNames (the dashboard test relies on it).
  const std::vector<std::string> names = MonitorFamilyNames();
  for (const ex::Family& f : MonitorFamilies(Readings(), options)) {
    EXPECT_NE(std::find(names.begin(), names.end(), f.name), names.end()) << f.name;
  }
}

TEST(MonitorMetricsTest, SkipsWhatCannotBeLabelledOrWasNotMeasured) {
  MonitorReadings r = Readings();
  r.hosts[0].memory_used_bytes.reset();  // NVML: NOT_SUPPORTED
  r.hosts[0].utilization_percent.reset();
  r.containers.push_back({"uid-gone", "x", Snap()});  // pod unknown
  r.migs.push_back({"uid-gone", "x", 0, "GPU-a", "MIG-y", "1g.10gb", 8, 0});
  RegionSnapshot never = Snap();
  never.last_kernel_time_s = 0;
  r.pods["uid-2"] = {"ns-b", "idle"};
  r.containers.push_back({"uid-2", "idle", never});
  auto families = MonitorFamilies(r);
  std::map<std::string, size_t> samples;
  for (const auto& f : families) samples[f.name] = f.samples.size();
  EXPECT_EQ(samples.count(kHostMemoryUsed), 0u);
  EXPECT_EQ(samples.count(kHostUtilization), 0u);
  EXPECT_EQ(samples[kHostMemoryControllerUtilization], 1u);
  EXPECT_EQ(samples[kVgpuMemoryUsed], 3u);       // uid-1 (1 device) + uid-2 (2 devices)
  EXPECT_EQ(samples[kContainerLastKernel], 1u);  // uid-2 never launched: absent
  EXPECT_EQ(samples[kMigDeviceInfo], 1u);
}

TEST(MonitorMetricsTest, RegionLimitMismatchCarriesBothValuesAndNeedsAKnownPod) {
  MonitorReadings r = Readings();
  r.limit_mismatches = {
      {"uid-1", "main", {0, "GPU-a", LimitKind::kMemory, 0, 3145728000}},
      {"uid-1", "main", {1, "GPU-b", LimitKind::kSm, 90, 30}},
      {"uid-gone", "x", {0, "GPU-a", LimitKind::kMemory, 1, 2}},  // pod unknown: skipped
  };
  auto text = RenderMonitorMetrics(r);
  ASSERT_TRUE(text.ok()) << text.status().message();
  const std::string want =
      "# HELP hami_container_region_limit_mismatch 1 when the container's shared region holds a "
      "limit other than its allocation (tampering from inside the container, or a stale file).\n"
      "# TYPE hami_container_region_limit_mismatch gauge\n"
      "hami_container_region_limit_mismatch{namespace=\"ns-a\",pod=\"pod-a\",container=\"main\","
      "vdevice_index=\"0\",device_uuid=\"GPU-a\",limit=\"memory_bytes\",region_value=\"0\","
      "allocated_value=\"3145728000\",zone=\"vGPU\"} 1\n"
      "hami_container_region_limit_mismatch{namespace=\"ns-a\",pod=\"pod-a\",container=\"main\","
      "vdevice_index=\"1\",device_uuid=\"GPU-b\",limit=\"sm_percent\",region_value=\"90\","
      "allocated_value=\"30\",zone=\"vGPU\"} 1\n";
  EXPECT_NE(text->find(want), std::string::npos) << *text;
  EXPECT_EQ(text->find("uid-gone"), std::string::npos);
  // None found: the family is absent (alerts use `hami_container_region_limit_mismatch == 1`).
  r.limit_mismatches.clear();
  text = RenderMonitorMetrics(r);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find(kRegionLimitMismatch), std::string::npos);
  const std::vector<std::string> names = MonitorFamilyNames();
  EXPECT_NE(std::find(names.begin(), names.end(), kRegionLimitMismatch), names.end());
}

TEST(MonitorMetricsTest, LastKernelInTheFutureClampsToZeroAndEmptyInputRendersNothing) {
  MonitorReadings r = Readings();
  r.now_unix_s = 500;
  bool found = false;
  for (const auto& f : MonitorFamilies(r)) {
    if (f.name != kContainerLastKernel) continue;
    found = true;
    ASSERT_EQ(f.samples.size(), 1u);
    EXPECT_EQ(f.samples[0].value, 0);
  }
  EXPECT_TRUE(found);
  auto text = RenderMonitorMetrics(MonitorReadings{});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "");
}

}  // namespace
}  // namespace hami::monitor
