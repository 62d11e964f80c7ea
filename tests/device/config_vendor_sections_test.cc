// The device config's vendor sections beyond NVIDIA, Hygon, Iluvatar, AMD and Biren: HAMi's
// chart renders them all (charts/hami/templates/scheduler/device-configmap.yaml), so a HAMi
// device-config.yaml must load unchanged, keep every value, render back and refuse mistakes.
#include <gtest/gtest.h>

#include <string>

#include "device/chart_config.h"
#include "device/config.h"

namespace hami {
namespace {

TEST(DeviceConfigVendorSectionsTest, ChartSectionsLoadWithTheirDefaultsAndRoundTrip) {
  // The chart's rendering, as `hami config default --all-vendors` prints it.
  Result<DeviceConfig> r = LoadDeviceConfig(kChartVendorSectionsYaml);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->nvidia.has_value());
  EXPECT_EQ(r->hygon, HygonConfig{});
  EXPECT_EQ(r->amd, AmdConfig{});
  EXPECT_EQ(r->biren, BirenConfig{});
  ASSERT_EQ(r->iluvatars.size(), 4u);
  EXPECT_EQ(r->iluvatars[2].resource_memory_name, "iluvatar.ai/BI-V150.vMem");
  EXPECT_EQ(r->cambricon, CambriconConfig{});
  EXPECT_EQ(r->metax, MetaxConfig{});
  EXPECT_EQ(r->enflame, EnflameConfig{});
  EXPECT_EQ(r->mthreads, MthreadsConfig{});
  EXPECT_EQ(r->kunlun, KunlunConfig{});
  EXPECT_EQ(r->awsneuron, AwsNeuronConfig{});
  EXPECT_EQ(r->vastai, VastaiConfig{});
  ASSERT_TRUE(r->ascend.has_value());
  EXPECT_FALSE(r->ascend->hami_vnpu_core);
  ASSERT_EQ(r->ascend->configs.size(), 7u);
  const AscendChipConfig& b3 = r->ascend->configs[2];
  EXPECT_EQ(b3.chip_name, "910B3");
  EXPECT_EQ(b3.common_word, "Ascend910B3");
  EXPECT_EQ(b3.resource_name, "huawei.com/Ascend910B3");
  EXPECT_EQ(b3.resource_memory_name, "huawei.com/Ascend910B3-memory");
  EXPECT_EQ(b3.resource_core_name, "huawei.com/Ascend910B3-core");
  EXPECT_EQ(b3.memory_allocatable, 65536);
  EXPECT_EQ(b3.memory_capacity, 65536);
  EXPECT_EQ(b3.ai_core, 20);
  EXPECT_EQ(b3.ai_cpu, 7);
  EXPECT_FALSE(b3.super_pod);
  EXPECT_EQ(b3.templates, (std::vector<AscendTemplate>{{"vir05_1c_16g", 16384, 5, 1},
                                                       {"vir10_3c_32g", 32768, 10, 3}}));
  const AscendChipConfig& c = r->ascend->configs[6];
  EXPECT_EQ(c.common_word, "Ascend910C");
  EXPECT_TRUE(c.super_pod);
  EXPECT_EQ(c.memory_factor, 1);  // absent: the default

  const std::string rendered = DeviceConfigToYaml(*r);
  Result<DeviceConfig> again = LoadDeviceConfig(rendered);
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << rendered;
  EXPECT_EQ(*again, *r) << rendered;
}

TEST(DeviceConfigVendorSectionsTest, ValuesAreKeptAndScalarMemoryPerCardIsAListOfOne) {
  Result<DeviceConfig> r = LoadDeviceConfig(R"(mthreads:
  resourceMemoryName: x.io/mem
  memoryPerCard: 48
metax:
  sgpuTopologyAware: true
  resourceVCoreName:
vnpus:
  hamiVnpuCore: yes
  configs:
  - chipName: 310P3
    commonWord: Ascend310P
    resourceName: huawei.com/Ascend310P
    resourceMemoryName: huawei.com/Ascend310P-memory
    resourceCoreName: huawei.com/Ascend310P-core
    memoryAllocatable: 21527
    memoryCapacity: 24576
    memoryFactor: 0
    aiCore: 8
    templates:
)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->mthreads->resource_memory_name, "x.io/mem");
  EXPECT_EQ(r->mthreads->memory_per_card_units, std::vector<int32_t>{48});
  EXPECT_TRUE(r->metax->sgpu_topology_aware);
  EXPECT_EQ(r->metax->resource_vcore_name, "metax-tech.com/vcore");  // null keeps the default
  EXPECT_TRUE(r->ascend->hami_vnpu_core);
  EXPECT_EQ(r->ascend->configs[0].memory_factor, 1);  // HAMi: 0 = no factor
  EXPECT_TRUE(r->ascend->configs[0].templates.empty());
  EXPECT_TRUE(ValidateAscendConfig(*r->ascend).ok());
  EXPECT_TRUE(ValidateMthreadsConfig(*r->mthreads).ok());
}

// Newer HAMi charts put overwriteEnv and runtimeClassName at the vnpus level (a default for
// chips that do not set their own) and add keys only the Ascend device plugin reads.
TEST(DeviceConfigVendorSectionsTest, NewerVnpusKeysLoad) {
  Result<DeviceConfig> r = LoadDeviceConfig(R"(vnpus:
  configs:
  - chipName: 910B3
    commonWord: Ascend910B3
    resourceName: huawei.com/Ascend910B3
    resourceMemoryName: huawei.com/Ascend910B3-memory
    resourceCoreName: huawei.com/Ascend910B3-core
    memoryAllocatable: 65536
    memoryCapacity: 65536
  - chipName: 910B4
    commonWord: Ascend910B4
    resourceName: huawei.com/Ascend910B4
    resourceMemoryName: huawei.com/Ascend910B4-memory
    resourceCoreName: huawei.com/Ascend910B4-core
    memoryAllocatable: 32768
    memoryCapacity: 32768
    runtimeClassName: own
    overwriteEnv: false
  overwriteEnv: true
  runtimeClassName: ascend
  hamiVnpuMode: hami-core
  enpuPolicy: {}
  vnpuDeviceSplitCount: 10
)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const std::vector<AscendChipConfig>& chips = r->ascend->configs;
  ASSERT_EQ(chips.size(), 2u);
  EXPECT_TRUE(chips[0].overwrite_env);
  EXPECT_EQ(chips[0].runtime_class_name, "ascend");
  EXPECT_FALSE(chips[1].overwrite_env);  // its own value wins
  EXPECT_EQ(chips[1].runtime_class_name, "own");
  EXPECT_EQ(r->ignored_keys, (std::vector<std::string>{"vnpus.hamiVnpuMode", "vnpus.enpuPolicy",
                                                       "vnpus.vnpuDeviceSplitCount"}));
  EXPECT_FALSE(LoadDeviceConfig("vnpus:\n  overwriteEnv: maybe\n").ok());
}

// HAMi's legacy Enflame keys: resourceNameVGCU names the DRS resource unless
// resourceNameDRSGCU is given; resourceNameVGCUPercentage is accepted and not read.
TEST(DeviceConfigVendorSectionsTest, LegacyEnflameKeysLoad) {
  Result<DeviceConfig> r = LoadDeviceConfig(
      "enflame:\n  resourceNameVGCU: enflame.com/vgcu\n"
      "  resourceNameVGCUPercentage: enflame.com/vgcu-percentage\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->enflame->resource_name_drs_gcu, "enflame.com/vgcu");
  EXPECT_EQ(r->ignored_keys, std::vector<std::string>{"enflame.resourceNameVGCUPercentage"});
  r = LoadDeviceConfig(
      "enflame:\n  resourceNameVGCU: enflame.com/vgcu\n  resourceNameDRSGCU: x.io/drs\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->enflame->resource_name_drs_gcu, "x.io/drs");
  r = LoadDeviceConfig("enflame:\n  resourceNameGCU: x.io/gcu\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->enflame->resource_name_drs_gcu, "enflame.com/drs-gcu");
}

// Each mistake is refused with the YAML path of the offending key.
TEST(DeviceConfigVendorSectionsTest, MistakesAreRefusedNamingTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"cambricon:\n  resourceCountNam: x\n", "cambricon.resourceCountNam: unknown key"},
      {"vastai:\n  resourceCountName: \"bad name\"\n", "vastai.resourceCountName"},
      {"kunlun:\n  resourceVCountName: [a]\n", "kunlun.resourceVCountName: expected a single"},
      {"metax:\n  sgpuTopologyAware: maybe\n", "metax.sgpuTopologyAware: expected true or false"},
      {"mthreads:\n  memoryPerCard: [96, x]\n", "mthreads.memoryPerCard[1]"},
      {"mthreads:\n  memoryPerCard: [0]\n", "mthreads.memoryPerCard: entries must be > 0"},
      {"enflame:\n  resourceNameGCU: \"\"\n", "enflame.resourceNameGCU"},
      {"awsneuron: [a]\n", "awsneuron: expected a mapping"},
      {"vnpus:\n  configs: {}\n", "vnpus.configs: expected a list"},
      {"vnpus:\n  other: 1\n", "vnpus.other: unknown key"},
      {"vnpus:\n  configs:\n  - chipName: a\n    aiCores: 1\n", "vnpus.configs[0].aiCores"},
      {"vnpus:\n  configs:\n  - chipName: 910A\n    commonWord: \"Ascend 910A\"\n"
       "    resourceName: huawei.com/a\n    resourceMemoryName: huawei.com/b\n"
       "    resourceCoreName: huawei.com/c\n    memoryAllocatable: 1\n    memoryCapacity: 1\n",
       "vnpus.configs[0].commonWord"},
      {"vnpus:\n  configs:\n  - chipName: 910A\n    commonWord: Ascend910A\n"
       "    resourceName: huawei.com/a\n    resourceMemoryName: huawei.com/b\n"
       "    resourceCoreName: huawei.com/c\n    memoryAllocatable: 1\n    memoryCapacity: 1\n"
       "    templates:\n    - name: vir02\n      memory: 0\n",
       "vnpus.configs[0].templates[0].memory: must be > 0"},
      {"vnpus:\n  configs:\n  - chipName: 910A\n    commonWord: Ascend910A\n"
       "    resourceName: huawei.com/a\n    resourceMemoryName: huawei.com/b\n"
       "    resourceCoreName: huawei.com/c\n    memoryAllocatable: 1\n    memoryCapacity: 1\n"
       "  - chipName: 910A\n    commonWord: Ascend910A\n"
       "    resourceName: huawei.com/a\n    resourceMemoryName: huawei.com/b\n"
       "    resourceCoreName: huawei.com/c\n    memoryAllocatable: 1\n    memoryCapacity: 1\n",
       "vnpus.configs[1].commonWord: \"Ascend910A\" is listed twice"},
      {"vnpus:\n  configs:\n  - templates:\n    - name: a\n      size: 1\n",
       "vnpus.configs[0].templates[0].size: unknown key"},
      {"mystery:\n  a: 1\n", "mystery: unknown top-level section"},
  };
  for (const auto& [yaml, expected] : cases) {
    Result<DeviceConfig> r = LoadDeviceConfig(yaml, "cfg");
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_NE(r.status().message().find(expected), std::string::npos) << yaml << "\n"
                                                                      << r.status().message();
  }
}

}  // namespace
}  // namespace hami
