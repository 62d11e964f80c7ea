#include "device/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace hami {
namespace {

TEST(DeviceConfigTest, DefaultsMatchSpecSection22) {
  NvidiaConfig c;
  EXPECT_EQ(c.resource_count_name, "nvidia.com/gpu");
  EXPECT_EQ(c.resource_memory_name, "nvidia.com/gpumem");
  EXPECT_EQ(c.resource_memory_percentage_name, "nvidia.com/gpumem-percentage");
  EXPECT_EQ(c.resource_core_name, "nvidia.com/gpucores");
  EXPECT_EQ(c.resource_priority_name, "nvidia.com/priority");
  EXPECT_FALSE(c.overwrite_env);
  EXPECT_EQ(c.default_memory_mib, 0);
  EXPECT_EQ(c.default_cores_percent, 0);
  EXPECT_EQ(c.default_gpu_num, 1);
  EXPECT_EQ(c.memory_factor, 1);
  EXPECT_EQ(c.device_split_count, 10);
  EXPECT_EQ(c.device_memory_scaling, 1.0);
  EXPECT_EQ(c.device_core_scaling, 1.0);
  EXPECT_EQ(c.preconfigured_device_memory_mib, 0);
  EXPECT_FALSE(c.enable_numa_topology);
  EXPECT_EQ(c.lib_cuda_log_level, "");
  EXPECT_EQ(c.gpu_core_policy, GpuCorePolicy::kDefault);
  EXPECT_EQ(c.runtime_class_name, "");
  EXPECT_FALSE(c.disable_core_limit);
  EXPECT_TRUE(ValidateNvidiaConfig(c).ok());
}

TEST(DeviceConfigTest, EmbeddedChartDefaultLoads) {
  Result<DeviceConfig> r = LoadDeviceConfig(kDefaultDeviceConfigYaml);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->nvidia.has_value());
  NvidiaConfig want;
  want.mig_profile_allowlist = r->nvidia->mig_profile_allowlist;
  EXPECT_EQ(*r->nvidia, want);  // every scalar is the struct default
  ASSERT_EQ(r->nvidia->mig_profile_allowlist.size(), 9u);
  EXPECT_EQ(r->nvidia->mig_profile_allowlist[0],
            (MigProfileAllowance{{"A30"}, {"1g.6gb", "2g.12gb", "4g.24gb"}}));
  EXPECT_EQ(r->nvidia->mig_profile_allowlist[5].models[1], "H100 on GH200");
  EXPECT_EQ(*r, DefaultDeviceConfig());
}

TEST(DeviceConfigTest, ReadsEveryKey) {
  Result<DeviceConfig> r = LoadDeviceConfig(R"(
nvidia:
  resourceCountName: example.com/vgpu
  resourceMemoryName: example.com/vmem
  resourceMemoryPercentageName: example.com/vmem-pct
  resourceCoreName: example.com/vcores
  resourcePriorityName: example.com/prio
  overwriteEnv: true
  defaultMemory: 2048
  defaultCores: 25
  defaultGPUNum: 2
  memoryFactor: 4
  deviceSplitCount: 20
  deviceMemoryScaling: 1.5
  deviceCoreScaling: 2
  preConfiguredDeviceMemory: 131072
  enableNumaTopology: yes
  libCudaLogLevel: 3
  gpuCorePolicy: force
  runtimeClassName: nvidia
  disableCoreLimit: True
  migProfileAllowlist:
    - models: [A30]
      profiles: [1g.6gb]
)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const NvidiaConfig& c = *r->nvidia;
  EXPECT_EQ(c.resource_count_name, "example.com/vgpu");
  EXPECT_EQ(c.resource_memory_name, "example.com/vmem");
  EXPECT_EQ(c.resource_memory_percentage_name, "example.com/vmem-pct");
  EXPECT_EQ(c.resource_core_name, "example.com/vcores");
  EXPECT_EQ(c.resource_priority_name, "example.com/prio");
  EXPECT_TRUE(c.overwrite_env);
  EXPECT_EQ(c.default_memory_mib, 2048);
  EXPECT_EQ(c.default_cores_percent, 25);
  EXPECT_EQ(c.default_gpu_num, 2);
  EXPECT_EQ(c.memory_factor, 4);
  EXPECT_EQ(c.device_split_count, 20);
  EXPECT_EQ(c.device_memory_scaling, 1.5);
  EXPECT_EQ(c.device_core_scaling, 2.0);
  EXPECT_EQ(c.preconfigured_device_memory_mib, 131072);
  EXPECT_TRUE(c.enable_numa_topology);
  EXPECT_EQ(c.lib_cuda_log_level, "3");
  EXPECT_EQ(c.gpu_core_policy, GpuCorePolicy::kForce);
  EXPECT_EQ(c.runtime_class_name, "nvidia");
  EXPECT_TRUE(c.disable_core_limit);
  EXPECT_EQ(c.mig_profile_allowlist, (std::vector<MigProfileAllowance>{{{"A30"}, {"1g.6gb"}}}));

  // Round trip through the renderer.
  Result<DeviceConfig> again = LoadDeviceConfig(DeviceConfigToYaml(*r));
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << DeviceConfigToYaml(*r);
  EXPECT_EQ(again->nvidia, r->nvidia);
}

TEST(DeviceConfigTest, NullValuesKeepDefaultsAndOtherVendorSectionsLoad) {
  Result<DeviceConfig> r = LoadDeviceConfig(R"(nvidia:
  resourceCountName:
  libCudaLogLevel:
  gpuCorePolicy:
  deviceSplitCount: ~
  migProfileAllowlist:
  knownMigGeometries:
    - models: [A100]
cambricon:
  resourceCountName: cambricon.com/vmlu
kunlun:
  resourceCountName: kunlunxin.com/xpu
vnpus:
  configs: []
)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r->nvidia, NvidiaConfig{});
  EXPECT_EQ(r->cambricon, CambriconConfig{});
  EXPECT_EQ(r->kunlun, KunlunConfig{});
  EXPECT_EQ(r->ascend, AscendConfig{});
  EXPECT_EQ(r->ignored_keys, (std::vector<std::string>{"nvidia.knownMigGeometries"}));

  r = LoadDeviceConfig("nvidia:\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r->nvidia, NvidiaConfig{});

  r = LoadDeviceConfig("%YAML 1.2\n---\n# comment\nnvidia: {}\n...\n");
  ASSERT_TRUE(r.ok()) << r.status().message();

  r = LoadDeviceConfig("hygon:\n  memoryFactor: 1\n");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->nvidia.has_value());  // NVIDIA disabled: its section is absent
  ASSERT_TRUE(r->hygon.has_value());
  EXPECT_EQ(*r->hygon, HygonConfig{});
}

// The chart's device-config.yaml hygon section (HAMi docs/hygon-dcu-support.md).
TEST(DeviceConfigTest, HygonSectionEnablesDcuAndRoundTrips) {
  Result<DeviceConfig> r = LoadDeviceConfig(R"(hygon:
  resourceCountName: hygon.com/dcunum
  resourceMemoryName: hygon.com/dcumem
  resourceCoreName: hygon.com/dcucores
)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->hygon.has_value());
  EXPECT_EQ(*r->hygon, HygonConfig{});

  r = LoadDeviceConfig(
      "nvidia: {}\nhygon:\n  resourceCountName: x.io/dcu\n  resourceMemoryName:\n"
      "  memoryFactor: 0\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->hygon->resource_count_name, "x.io/dcu");
  EXPECT_EQ(r->hygon->resource_memory_name, "hygon.com/dcumem");  // null keeps the default
  EXPECT_EQ(r->hygon->memory_factor, 1);                          // HAMi: 0 = no factor
  r->hygon->memory_factor = 4;
  Result<DeviceConfig> again = LoadDeviceConfig(DeviceConfigToYaml(*r));
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << DeviceConfigToYaml(*r);
  EXPECT_EQ(again->hygon, r->hygon);
  EXPECT_EQ(again->nvidia, r->nvidia);

  // Without an nvidia section the hygon one is still rendered.
  DeviceConfig only_hygon;
  only_hygon.hygon = HygonConfig{};
  again = LoadDeviceConfig(DeviceConfigToYaml(only_hygon));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->hygon, only_hygon.hygon);
  EXPECT_FALSE(again->nvidia.has_value());

  EXPECT_TRUE(ValidateHygonConfig(HygonConfig{}).ok());
  HygonConfig bad;
  bad.resource_core_name = "has space";
  EXPECT_NE(ValidateHygonConfig(bad).message().find("hygon.resourceCoreName"), std::string::npos);
}

struct BadConfig {
  const char* yaml;
  std::vector<const char*> message_parts;
};

class DeviceConfigBadTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(DeviceConfigBadTest, RejectsWithKeyAndLine) {
  Result<DeviceConfig> r = LoadDeviceConfig(GetParam().yaml, "cfg.yaml");
  ASSERT_FALSE(r.ok()) << GetParam().yaml;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("cfg.yaml", 0), 0u) << r.status().message();
  for (const char* part : GetParam().message_parts) {
    EXPECT_NE(r.status().message().find(part), std::string::npos)
        << "missing \"" << part << "\" in: " << r.status().message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DeviceConfigBadTest,
    ::testing::Values(
        BadConfig{"hygon:\n  resourceVMemoryName: x\n",
                  {"line 2", "hygon.resourceVMemoryName", "unknown key in the hygon section"}},
        BadConfig{"hygon:\n  memoryFactor: -2\n", {"hygon.memoryFactor", "must be >= 1"}},
        BadConfig{"hygon:\n  resourceCountName: \"a b\"\n", {"hygon.resourceCountName"}},
        BadConfig{"hygon: [1]\n", {"hygon"}},
        BadConfig{"nvidia:\n  deviceSplitCount: 0\n",
                  {"line 2, column 21", "nvidia.deviceSplitCount", "1..1000, got 0"}},
        BadConfig{"nvidia:\n  deviceSplitCount: 1001\n", {"1..1000"}},
        BadConfig{"nvidia:\n  foo: 1\n", {"line 2, column 3", "nvidia.foo", "unknown key"}},
        BadConfig{"nvidia: {}\nbogus: 1\n", {"line 2", "bogus", "unknown top-level section"}},
        BadConfig{"nvidia:\n  gpuCorePolicy: fast\n",
                  {"nvidia.gpuCorePolicy", "\"fast\" is not one of default, force, disable"}},
        BadConfig{"nvidia:\n  memoryFactor: 0\n", {"nvidia.memoryFactor", "must be >= 1"}},
        BadConfig{"nvidia:\n  defaultCores: 101\n", {"nvidia.defaultCores", "0..100"}},
        BadConfig{"nvidia:\n  defaultMemory: -1\n", {"nvidia.defaultMemory", ">= 0"}},
        BadConfig{"nvidia:\n  defaultGPUNum: -1\n", {"nvidia.defaultGPUNum"}},
        BadConfig{"nvidia:\n  preConfiguredDeviceMemory: -1\n", {"preConfiguredDeviceMemory"}},
        BadConfig{"nvidia:\n  deviceMemoryScaling: 0\n", {"deviceMemoryScaling", "> 0"}},
        BadConfig{"nvidia:\n  deviceCoreScaling: -1\n", {"deviceCoreScaling", "> 0"}},
        BadConfig{"nvidia:\n  deviceCoreScaling: .inf\n", {"expected a number"}},
        BadConfig{"nvidia:\n  deviceMemoryScaling: abc\n",
                  {"line 2, column 24", "expected a number, got \"abc\""}},
        BadConfig{"nvidia:\n  deviceSplitCount: 1.5\n", {"expected a decimal 32-bit integer"}},
        BadConfig{"nvidia:\n  deviceSplitCount: 0x10\n", {"expected a decimal 32-bit integer"}},
        BadConfig{"nvidia:\n  deviceSplitCount: [1]\n", {"expected a single value"}},
        BadConfig{"nvidia:\n  overwriteEnv: maybe\n", {"expected true or false"}},
        BadConfig{"nvidia:\n  resourceCountName: \"\"\n", {"resourceCountName", "non-empty"}},
        BadConfig{"nvidia:\n  resourceCoreName: a b\n", {"resourceCoreName", "may only contain"}},
        BadConfig{"nvidia:\n  runtimeClassName: Bad_Name\n", {"runtimeClassName", "DNS"}},
        BadConfig{"nvidia:\n  libCudaLogLevel: 7\n", {"libCudaLogLevel", "0, 1, 2, 3, 4"}},
        BadConfig{"nvidia:\n  migProfileAllowlist:\n    - model: [A30]\n",
                  {"line 3", "migProfileAllowlist[0].model", "unknown key"}},
        BadConfig{"nvidia:\n  migProfileAllowlist: {a: 1}\n", {"expected a list"}},
        BadConfig{"nvidia:\n  migProfileAllowlist:\n    - models: A30\n", {"list of strings"}},
        BadConfig{"nvidia:\n  deviceSplitCount: 5\n  deviceSplitCount: 6\n",
                  {"line 3", "duplicate key"}},
        BadConfig{"nvidia: [\n", {"YAML syntax error"}},
        BadConfig{"nvidia:\n  a: b\n c: d\n", {"YAML syntax error", "line"}},
        BadConfig{"", {"document is empty"}}, BadConfig{"# only a comment\n", {"empty"}},
        BadConfig{"- nvidia\n", {"expected a mapping"}},
        BadConfig{"nvidia: 5\n", {"nvidia", "expected a mapping"}},
        BadConfig{"nvidia: {}\n---\nnvidia: {}\n", {"line 2", "second YAML document"}},
        BadConfig{",", {"document is empty"}},
        BadConfig{"? [a]\n: 1\n", {"keys must be plain strings"}}));

TEST(DeviceConfigTest, LoadsFromFileAndReportsMissingFile) {
  const std::string path = ::testing::TempDir() + "/hami_device_config_test.yaml";
  {
    std::ofstream out(path);
    out << "nvidia:\n  deviceSplitCount: 4\n";
  }
  Result<DeviceConfig> r = LoadDeviceConfigFile(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->nvidia->device_split_count, 4);
  {
    std::ofstream out(path);
    out << "nvidia:\n  deviceSplitCount: 0\n";
  }
  r = LoadDeviceConfigFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path + ": line 2"), std::string::npos)
      << r.status().message();
  std::remove(path.c_str());
  r = LoadDeviceConfigFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("cannot be opened"), std::string::npos);
}

TEST(DeviceConfigTest, ValidateNamesTheKey) {
  NvidiaConfig c;
  c.device_split_count = 0;
  Status s = ValidateNvidiaConfig(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "nvidia.deviceSplitCount: must be 1..1000, got 0");
  EXPECT_EQ(GpuCorePolicyName(GpuCorePolicy::kDisable), "disable");
}

TEST(DeviceConfigTest, SchedulerSectionSetsPolicyDefaultsAndRoundTrips) {
  auto config = LoadDeviceConfig(
      "nvidia:\n  deviceSplitCount: 4\nscheduler:\n  nodeSchedulerPolicy: hami-frag\n"
      "  gpuSchedulerPolicy: binpack,numa\n  fragWorkloadHalfLifePods: 2000\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_TRUE(config->scheduler.has_value());
  EXPECT_EQ(config->scheduler->node_scheduler_policy, "hami-frag");
  EXPECT_EQ(config->scheduler->gpu_scheduler_policy, "binpack,numa");
  EXPECT_EQ(config->scheduler->frag_workload_half_life_pods, 2000);
  auto again = LoadDeviceConfig(DeviceConfigToYaml(*config));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->scheduler, config->scheduler);
  EXPECT_EQ(again->nvidia, config->nvidia);
  EXPECT_FALSE(LoadDeviceConfig("nvidia: {}\n")->scheduler.has_value());
}

TEST(DeviceConfigTest, SchedulerSectionRefusesUnknownPoliciesAndKeys) {
  const std::pair<const char*, const char*> cases[] = {
      {"scheduler:\n  nodeSchedulerPolicy: fullest\n", "scheduler.nodeSchedulerPolicy"},
      {"scheduler:\n  gpuSchedulerPolicy: spread,best\n", "scheduler.gpuSchedulerPolicy"},
      {"scheduler:\n  fragWorkloadHalfLifePods: 0\n", "scheduler.fragWorkloadHalfLifePods"},
      {"scheduler:\n  policy: binpack\n", "scheduler.policy"},
  };
  for (const auto& [yaml, key] : cases) {
    auto config = LoadDeviceConfig(std::string("nvidia: {}\n") + yaml);
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_NE(config.status().message().find(key), std::string::npos) << config.status().message();
  }
}

}  // namespace
}  // namespace hami
