#include "monitor/exposition.h"

#include <gtest/gtest.h>

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

TEST(MonitorMetricsTest, Golden) {
  std::vector<HostDeviceReading> hosts = {{"node-1", 0, "GPU-a", "NVIDIA-A100", 2147483648, 37.5}};
  RegionSnapshot never = Snap();
  never.last_kernel_time_s = 0;
  never.devices.resize(1);
  std::vector<ContainerReading> containers = {
      {"uid-1", "main", Snap()},
      {"uid-gone", "x", Snap()},  // not in the pod map: skipped
      {"uid-2", "idle", never},
  };
  std::map<std::string, PodRef> pods = {{"uid-1", {"ns-a", "pod-a"}}, {"uid-2", {"ns-b", "pod-b"}}};
  auto text = RenderMonitorMetrics(hosts, containers, pods, 1010);
  ASSERT_TRUE(text.ok()) << text.status().message();
  const std::string c0 =
      "{namespace=\"ns-a\",pod=\"pod-a\",container=\"main\",vdevice_index=\"0\","
      "device_uuid=\"GPU-a\"}";
  const std::string c1 =
      "{namespace=\"ns-a\",pod=\"pod-a\",container=\"main\",vdevice_index=\"1\","
      "device_uuid=\"GPU-\\\"b\\\"\"}";
  const std::string i0 =
      "{namespace=\"ns-b\",pod=\"pod-b\",container=\"idle\",vdevice_index=\"0\","
      "device_uuid=\"GPU-a\"}";
  const std::string host =
      "{node=\"node-1\",device_index=\"0\",device_uuid=\"GPU-a\",device_type=\"NVIDIA-A100\"}";
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
      "# HELP hami_vgpu_memory_used_bytes vGPU device memory used by the container, in bytes.\n"
      "# TYPE hami_vgpu_memory_used_bytes gauge\n"
      "hami_vgpu_memory_used_bytes" +
      c0 +
      " 1048576\n"
      "hami_vgpu_memory_used_bytes" +
      c1 +
      " 0\n"
      "hami_vgpu_memory_used_bytes" +
      i0 +
      " 1048576\n"
      "# HELP hami_vgpu_memory_limit_bytes vGPU device memory limit of the container, in bytes.\n"
      "# TYPE hami_vgpu_memory_limit_bytes gauge\n"
      "hami_vgpu_memory_limit_bytes" +
      c0 +
      " 4294967296\n"
      "hami_vgpu_memory_limit_bytes" +
      c1 +
      " 2048\n"
      "hami_vgpu_memory_limit_bytes" +
      i0 +
      " 4294967296\n"
      "# HELP hami_container_device_utilization_ratio SM utilization of the container's "
      "processes on the vGPU, in percent.\n"
      "# TYPE hami_container_device_utilization_ratio gauge\n"
      "hami_container_device_utilization_ratio" +
      c0 +
      " 42\n"
      "hami_container_device_utilization_ratio" +
      c1 +
      " 0\n"
      "hami_container_device_utilization_ratio" +
      i0 +
      " 42\n"
      "# HELP hami_container_last_kernel_elapsed_seconds Seconds since the container last "
      "launched a kernel.\n"
      "# TYPE hami_container_last_kernel_elapsed_seconds gauge\n"
      "hami_container_last_kernel_elapsed_seconds" +
      c0 +
      " 10\n"
      "hami_container_last_kernel_elapsed_seconds" +
      c1 +
      " 10\n"
      "# HELP hami_vgpu_memory_context_bytes vGPU memory used by CUDA contexts, in bytes.\n"
      "# TYPE hami_vgpu_memory_context_bytes gauge\n"
      "hami_vgpu_memory_context_bytes" +
      c0 +
      " 524288\n"
      "hami_vgpu_memory_context_bytes" +
      c1 +
      " 0\n"
      "hami_vgpu_memory_context_bytes" +
      i0 +
      " 524288\n"
      "# HELP hami_vgpu_memory_module_bytes vGPU memory used by loaded modules, in bytes.\n"
      "# TYPE hami_vgpu_memory_module_bytes gauge\n"
      "hami_vgpu_memory_module_bytes" +
      c0 +
      " 262144\n"
      "hami_vgpu_memory_module_bytes" +
      c1 +
      " 0\n"
      "hami_vgpu_memory_module_bytes" +
      i0 +
      " 262144\n"
      "# HELP hami_vgpu_memory_buffer_bytes vGPU memory used by allocations, in bytes.\n"
      "# TYPE hami_vgpu_memory_buffer_bytes gauge\n"
      "hami_vgpu_memory_buffer_bytes" +
      c0 +
      " 262144\n"
      "hami_vgpu_memory_buffer_bytes" +
      c1 +
      " 0\n"
      "hami_vgpu_memory_buffer_bytes" +
      i0 + " 262144\n";
  EXPECT_EQ(*text, want);
}

TEST(MonitorMetricsTest, LastKernelInTheFutureClampsToZeroAndEmptyInputRendersNothing) {
  std::vector<ContainerReading> containers = {{"uid-1", "main", Snap()}};
  std::map<std::string, PodRef> pods = {{"uid-1", {"ns", "p"}}};
  auto families = MonitorFamilies({}, containers, pods, 500);
  bool found = false;
  for (const auto& f : families) {
    if (f.name != kContainerLastKernel) continue;
    found = true;
    ASSERT_EQ(f.samples.size(), 2u);
    EXPECT_EQ(f.samples[0].value, 0);
  }
  EXPECT_TRUE(found);
  auto text = RenderMonitorMetrics({}, {}, {}, 0);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "");
}

}  // namespace
}  // namespace hami::monitor
