#include "nvml/nvml.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "deviceplugin/discovery.h"
#include "tests/deviceplugin/test_util.h"

namespace hami::deviceplugin {
namespace {

// Writes the fake NVML's config and points the library at it for this test.
class NvmlTest : public ::testing::Test {
 protected:
  void Configure(const nlohmann::json& config) {
    char pattern[] = "/tmp/hami_nvml_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    const std::string path = std::string(pattern) + "/nvml.json";
    std::ofstream(path) << config.dump();
    setenv("HAMI_FAKE_NVML_CONFIG", path.c_str(), 1);
  }
  void TearDown() override { unsetenv("HAMI_FAKE_NVML_CONFIG"); }
};

const nlohmann::json kTwoGpus = {{"devices",
                                  {{{"uuid", "GPU-aaa"},
                                    {"name", "Tesla T4"},
                                    {"memory_mib", 15360},
                                    {"bus_id", "00000000:3B:00.0"}},
                                   {{"uuid", "GPU-bbb"},
                                    {"name", "NVIDIA A100-SXM4-40GB"},
                                    {"memory_mib", 40960},
                                    {"bus_id", "00000000:AF:00.0"},
                                    {"mig", true}}}}};

TEST_F(NvmlTest, ListsTheGpusNvmlReports) {
  Configure(kTwoGpus);
  auto nvml = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml.ok()) << nvml.status().message();
  auto gpus = (*nvml)->Gpus();
  ASSERT_TRUE(gpus.ok()) << gpus.status().message();
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_EQ((*gpus)[0].uuid, "GPU-aaa");
  EXPECT_EQ((*gpus)[0].name, "Tesla T4");
  EXPECT_EQ((*gpus)[0].memory_bytes, 15360ull * 1024 * 1024);
  EXPECT_EQ((*gpus)[0].bus_id, "00000000:3B:00.0");
  EXPECT_FALSE((*gpus)[0].mig_enabled);
  EXPECT_EQ((*gpus)[1].index, 1u);
  EXPECT_TRUE((*gpus)[1].mig_enabled);
}

TEST_F(NvmlTest, MissingLibraryAndFailedInitAreErrorsThatSayWhy) {
  auto missing = nvml::Nvml::Open("/nonexistent/libnvidia-ml.so.1");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("NVIDIA driver"), std::string::npos);

  unsetenv("HAMI_FAKE_NVML_CONFIG");  // the fake then answers DRIVER_NOT_LOADED
  auto no_driver = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_FALSE(no_driver.ok());
  EXPECT_NE(no_driver.status().message().find("nvmlInit_v2: Driver Not Loaded"), std::string::npos)
      << no_driver.status().message();
}

TEST_F(NvmlTest, LostGpuIsAnErrorNamingIt) {
  nlohmann::json config = kTwoGpus;
  config["devices"][1]["lost"] = true;
  Configure(config);
  auto nvml = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml.ok());
  auto gpus = (*nvml)->Gpus();
  ASSERT_FALSE(gpus.ok());
  EXPECT_NE(gpus.status().message().find("GPU 1: nvmlDeviceGetUUID: GPU is lost"),
            std::string::npos)
      << gpus.status().message();
}

TEST_F(NvmlTest, UnsupportedMemoryIsReportedAsUnknown) {
  Configure({{"devices",
              {{{"uuid", "GPU-gb10"},
                {"name", "NVIDIA GB10"},
                {"memory_mib", nullptr},
                {"bus_id", "00000000:01:00.0"}}}}});
  auto nvml = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml.ok());
  auto gpus = (*nvml)->Gpus();
  ASSERT_TRUE(gpus.ok()) << gpus.status().message();
  EXPECT_FALSE((*gpus)[0].memory_bytes.has_value());
}

TEST_F(NvmlTest, HealthEventsArriveWithTheirDeviceOrTimeOut) {
  char pattern[] = "/tmp/hami_ev_XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string events = std::string(pattern) + "/events";
  std::ofstream(events) << "1 xid 79\n- xid 48\n";
  nlohmann::json config = kTwoGpus;
  config["events_file"] = events;
  Configure(config);
  auto nvml = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml.ok());
  EXPECT_FALSE((*nvml)->WaitForEvent(10).ok()) << "no subscription yet";
  ASSERT_TRUE((*nvml)->WatchHealthEvents().ok());
  auto first = (*nvml)->WaitForEvent(100);
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status().message();
  EXPECT_EQ((*first)->index, 1u);
  EXPECT_EQ((*first)->type, kNvmlEventXidCriticalError);
  EXPECT_EQ((*first)->data, 79u);
  auto second = (*nvml)->WaitForEvent(100);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_FALSE((*second)->index.has_value());
  auto none = (*nvml)->WaitForEvent(20);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

nvml::NvmlMigInstance Mig(const std::string& uuid, uint32_t gi, const std::string& profile,
                          int32_t memory_mib, int32_t slices, int32_t core,
                          MigPlacement placement) {
  nvml::NvmlMigInstance m;
  m.uuid = uuid;
  m.gpu_instance_id = gi;
  m.compute_instance_id = 0;
  m.profile = profile;
  m.memory_mib = memory_mib;
  m.slice_count = slices;
  m.core_percent = core;
  m.placement = placement;
  return m;
}

// What NVML reports for testing::T4AndMigA100(), in MIG device order. Cores: 42 and 14 of the
// 7g profile's 98 SMs, rounded up.
const std::vector<nvml::NvmlMigInstance> kA100Instances = {
    Mig("MIG-3g", 2, "3g.40gb", 40192, 3, 43, {4, 4}),
    Mig("MIG-1g-b", 8, "1g.10gb", 9856, 1, 15, {1, 1}),
    Mig("MIG-1g-a", 7, "1g.10gb", 9856, 1, 15, {0, 1})};

TEST_F(NvmlTest, ListsTheMigDevicesOfAGpuInMigMode) {
  Configure(testing::T4AndMigA100());
  auto nvml = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml.ok()) << nvml.status().message();
  auto gpus = (*nvml)->Gpus();
  ASSERT_TRUE(gpus.ok()) << gpus.status().message();
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_FALSE((*gpus)[0].mig_enabled);
  EXPECT_TRUE((*gpus)[0].mig_instances.empty());
  const nvml::NvmlGpu& a100 = (*gpus)[1];
  EXPECT_TRUE(a100.mig_enabled);
  EXPECT_EQ(a100.mig_instances, kA100Instances);
  EXPECT_TRUE(a100.mig_errors.empty()) << a100.mig_errors[0];
}

TEST_F(NvmlTest, AComputeInstanceSmallerThanItsGpuInstanceIsNamedAndCountedByItsSlices) {
  nlohmann::json config = testing::T4AndMigA100();
  // One 2g.20gb GPU instance holding a 1-slice compute instance (14 of its 28 SMs).
  config["devices"][1]["mig_instances"] = {{{"uuid", "MIG-1c"},
                                            {"profile_id", 1},
                                            {"start", 2},
                                            {"size", 2},
                                            {"gi", 5},
                                            {"ci", 1},
                                            {"ci_slices", 1}}};
  Configure(config);
  auto nvml = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml.ok());
  auto gpus = (*nvml)->Gpus();
  ASSERT_TRUE(gpus.ok()) << gpus.status().message();
  nvml::NvmlMigInstance expected = Mig("MIG-1c", 5, "1c.2g.20gb", 19968, 2, 15, {2, 2});
  expected.compute_instance_id = 1;
  ASSERT_EQ((*gpus)[1].mig_instances.size(), 1u);
  EXPECT_EQ((*gpus)[1].mig_instances[0], expected);
}

TEST_F(NvmlTest, AFailingMigDeviceIsLeftOutAndTheRestDiscovered) {
  nlohmann::json config = testing::T4AndMigA100();
  config["devices"][1]["mig_instances"][1]["error"] = 999;  // MIG-1g-b stops answering
  Configure(config);
  auto nvml = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml.ok());
  auto gpus = (*nvml)->Gpus();
  ASSERT_TRUE(gpus.ok()) << gpus.status().message();
  ASSERT_EQ(gpus->size(), 2u);
  const nvml::NvmlGpu& a100 = (*gpus)[1];
  EXPECT_EQ(a100.mig_instances,
            (std::vector<nvml::NvmlMigInstance>{kA100Instances[0], kA100Instances[2]}));
  ASSERT_EQ(a100.mig_errors.size(), 1u);
  EXPECT_EQ(a100.mig_errors[0], "MIG device 1: nvmlDeviceGetUUID: Unknown Error (999)");

  // Published with the two instances it knows, and a note on the one it does not.
  Discovered found = ToDeviceInfos(*gpus, DiscoveryOptions{}, [](const std::string&) { return 0; });
  ASSERT_EQ(found.devices.size(), 2u);
  EXPECT_EQ(found.devices[1].count, 2);
  ASSERT_EQ(found.devices[1].mig_profiles.size(), 2u);
  EXPECT_EQ(found.devices[1].mig_profiles[0].placements, (std::vector<MigPlacement>{{0, 1}}));
  bool noted = false;
  for (const std::string& note : found.notes) {
    noted |= note.find("GPU-a100: MIG device left out: MIG device 1: nvmlDeviceGetUUID") !=
             std::string::npos;
  }
  EXPECT_TRUE(noted);
}

// A copy of the fake NVML that no longer exports `symbols`, as an older driver's library:
// each name is changed in the file's string tables, so dlsym no longer finds it.
std::string FakeNvmlWithout(const std::vector<std::string>& symbols) {
  std::ifstream in(HAMI_FAKE_NVML_PATH, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string& symbol : symbols) {
    const std::string name = symbol + '\0';
    size_t renamed = 0;
    for (size_t at = bytes.find(name); at != std::string::npos; at = bytes.find(name, at)) {
      bytes[at] = 'X';
      ++renamed;
    }
    EXPECT_GT(renamed, 0u) << symbol << " is not in the fake NVML";
  }
  char pattern[] = "/tmp/hami_oldnvml_XXXXXX";
  EXPECT_NE(mkdtemp(pattern), nullptr);
  const std::string path = std::string(pattern) + "/libnvidia-ml.so.1";
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST_F(NvmlTest, AnNvmlWithoutTheMigCallsStillListsTheGpus) {
  Configure(testing::T4AndMigA100());
  // Before MIG (R450): neither the MIG mode nor the MIG device calls exist.
  const std::string pre_mig = FakeNvmlWithout(
      {"nvmlDeviceGetMigMode", "nvmlDeviceGetMaxMigDeviceCount",
       "nvmlDeviceGetMigDeviceHandleByIndex", "nvmlDeviceGetGpuInstanceId",
       "nvmlDeviceGetComputeInstanceId", "nvmlDeviceGetGpuInstanceById", "nvmlGpuInstanceGetInfo",
       "nvmlDeviceGetGpuInstanceProfileInfo", "nvmlDeviceGetAttributes_v2"});
  {
    auto nvml = nvml::Nvml::Open(pre_mig);
    ASSERT_TRUE(nvml.ok()) << nvml.status().message();
    auto gpus = (*nvml)->Gpus();
    ASSERT_TRUE(gpus.ok()) << gpus.status().message();
    ASSERT_EQ(gpus->size(), 2u);
    EXPECT_EQ((*gpus)[1].uuid, "GPU-a100");
    EXPECT_FALSE((*gpus)[1].mig_enabled);
    EXPECT_TRUE((*gpus)[1].mig_instances.empty());
    EXPECT_TRUE((*gpus)[1].mig_errors.empty());
  }
  // MIG mode known, one MIG device call missing: the GPU is in MIG mode, its devices unknown.
  const std::string partial = FakeNvmlWithout({"nvmlDeviceGetAttributes_v2"});
  auto nvml = nvml::Nvml::Open(partial);
  ASSERT_TRUE(nvml.ok()) << nvml.status().message();
  auto gpus = (*nvml)->Gpus();
  ASSERT_TRUE(gpus.ok()) << gpus.status().message();
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_TRUE((*gpus)[1].mig_enabled);
  EXPECT_TRUE((*gpus)[1].mig_instances.empty());
  EXPECT_EQ(
      (*gpus)[1].mig_errors,
      std::vector<std::string>{"MIG devices unknown: NVML has no nvmlDeviceGetAttributes_v2"});
}

TEST(MigProfileNameTest, NamesProfilesAsNvidiaDoes) {
  struct Case {
    unsigned int gi_profile_id, gi_slices, ci_slices;
    uint64_t memory_mib;
    std::string name;
  };
  const std::vector<Case> cases = {
      {0, 1, 1, 9856, "1g.10gb"},      // A100-80GB
      {0, 1, 1, 4864, "1g.5gb"},       // A100-40GB
      {2, 3, 3, 40192, "3g.40gb"},     // 39.25 GiB rounds up
      {4, 7, 7, 81152, "7g.80gb"},     //
      {1, 2, 1, 19968, "1c.2g.20gb"},  // compute instance smaller than its GPU instance
      {7, 1, 1, 9856, "1g.10gb+me"},   // NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1
      {0, 1, 0, 9856, "1g.10gb"},      // compute slices unknown: as the GPU instance
      {0, 1, 1, 10240, "1g.10gb"},     // exactly 10 GiB
      {0, 1, 1, 10241, "1g.11gb"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(nvml::MigProfileName(c.gi_profile_id, c.gi_slices, c.ci_slices, c.memory_mib), c.name)
        << c.name;
  }
}

TEST(DiscoveryTest, AMigGpuIsPublishedAsItsExistingInstances) {
  std::vector<nvml::NvmlGpu> gpus = {
      {0, "GPU-t4", "Tesla T4", 15360ull * 1024 * 1024, "00000000:3B:00.0", false, {}, {}},
      {1,
       "GPU-a100",
       "NVIDIA A100-SXM4-80GB",
       81920ull * 1024 * 1024,
       "00000000:AF:00.0",
       true,
       kA100Instances,
       {}}};
  DiscoveryOptions options;  // a hami-core node
  options.split_count = 10;
  options.memory_scaling = 2;
  options.core_scaling = 1.5;
  Discovered found = ToDeviceInfos(gpus, options, [](const std::string&) { return 0; });
  ASSERT_EQ(found.devices.size(), 2u);
  const DeviceInfo& t4 = found.devices[0];
  EXPECT_EQ(t4.mode, "hami-core");
  EXPECT_EQ(t4.count, 10);
  EXPECT_EQ(t4.devmem_mib, 30720);
  EXPECT_EQ(t4.devcore, 150);
  EXPECT_TRUE(t4.mig_profiles.empty());

  const DeviceInfo& a100 = found.devices[1];
  EXPECT_EQ(a100.mode, "mig");
  EXPECT_EQ(a100.count, 3);
  EXPECT_EQ(a100.devmem_mib, 81920);  // unscaled
  EXPECT_EQ(a100.devcore, 100);
  EXPECT_TRUE(a100.health);
  EXPECT_EQ(a100.type, "NVIDIA A100-SXM4-80GB");
  const std::vector<MigProfile> expected = {
      {"1g.10gb", 9856, 15, 1, {{0, 1}, {1, 1}}},
      {"3g.40gb", 40192, 43, 3, {{4, 4}}},
  };
  EXPECT_EQ(a100.mig_profiles, expected);
  EXPECT_TRUE(found.skipped.empty());
  ASSERT_EQ(found.notes.size(), 1u);
  EXPECT_EQ(found.notes[0], "GPU 1 GPU-a100: MIG mode is on: published as mode mig, not hami-core");
}

TEST(DiscoveryTest, OnAMigNodeAGpuWithoutMigIsSharedByHamiCore) {
  std::vector<nvml::NvmlGpu> gpus = {
      {0, "GPU-t4", "Tesla T4", 15360ull * 1024 * 1024, "00000000:3B:00.0", false, {}, {}},
      {1,
       "GPU-new",
       "NVIDIA A100-SXM4-80GB",
       81920ull * 1024 * 1024,
       "00000000:AF:00.0",
       true,
       {},
       {}}};
  DiscoveryOptions options;
  options.mode = "mig";
  options.split_count = 5;
  options.memory_scaling = 1.5;
  Discovered found = ToDeviceInfos(gpus, options, [](const std::string&) { return 0; });
  ASSERT_EQ(found.devices.size(), 2u);
  EXPECT_EQ(found.devices[0].mode, "hami-core");
  EXPECT_EQ(found.devices[0].count, 5);
  EXPECT_EQ(found.devices[0].devmem_mib, 23040);
  // MIG on, no instance created yet: listed, healthy, nothing to hand out.
  EXPECT_EQ(found.devices[1].mode, "mig");
  EXPECT_EQ(found.devices[1].count, 0);
  EXPECT_TRUE(found.devices[1].health);
  EXPECT_TRUE(found.devices[1].mig_profiles.empty());
  EXPECT_EQ(found.notes,
            (std::vector<std::string>{
                "GPU 0 GPU-t4: MIG mode is off: published as mode hami-core, not mig",
                "GPU 1 GPU-new: MIG mode is on but no MIG instance exists: nothing to hand out"}));
}

TEST(DiscoveryTest, HamiRegistrationRules) {
  std::vector<nvml::NvmlGpu> gpus = {
      {0, "GPU-aaa", "Tesla T4", 15360ull * 1024 * 1024 + 5, "00000000:3B:00.0", false},
      {1, "GPU-bbb", "NVIDIA A100-SXM4-40GB", 40960ull * 1024 * 1024, "00000000:AF:00.0", false},
      {2, "GPU-ccc", "NVIDIA GB10", std::nullopt, "00000000:01:00.0", false},
      {3, "GPU-ddd", "Tesla T4", 15360ull * 1024 * 1024, "00000000:3C:00.0", false}};
  DiscoveryOptions options;
  options.split_count = 4;
  options.memory_scaling = 1.5;
  options.core_scaling = 2;
  options.exclude_indexes = {3};
  auto numa = [](const std::string& bus) { return bus == "00000000:AF:00.0" ? 1 : -1; };
  Discovered found = ToDeviceInfos(gpus, options, numa);
  ASSERT_EQ(found.devices.size(), 2u);
  const DeviceInfo& t4 = found.devices[0];
  EXPECT_EQ(t4.type, "NVIDIA-Tesla T4");  // prefixed
  EXPECT_EQ(t4.devmem_mib, 23040);        // floor(15360.x MiB) * 1.5
  EXPECT_EQ(t4.devcore, 200);
  EXPECT_EQ(t4.count, 4);
  EXPECT_EQ(t4.numa, 0);  // negative -> 0
  EXPECT_TRUE(t4.health);
  EXPECT_EQ(found.devices[1].type, "NVIDIA A100-SXM4-40GB");  // already NVIDIA...
  EXPECT_EQ(found.devices[1].numa, 1);
  EXPECT_EQ(found.devices[1].index, 1);
  ASSERT_EQ(found.skipped.size(), 2u);  // GB10 without preconfigured memory, index 3 excluded
  options.preconfigured_memory_mib = 128000;
  options.memory_scaling = 1.0;
  options.exclude_indexes.clear();
  options.exclude_uuids = {"GPU-aaa"};
  found = ToDeviceInfos(gpus, options, numa);
  ASSERT_EQ(found.devices.size(), 3u);
  EXPECT_EQ(found.devices[1].id, "GPU-ccc");
  EXPECT_EQ(found.devices[1].devmem_mib, 128000);
}

TEST(DiscoveryTest, MigModeKeepsMemoryAndAWholeDevicesCores) {
  std::vector<nvml::NvmlGpu> gpus = {
      {0, "GPU-aaa", "NVIDIA A100", 40960ull * 1024 * 1024, "00000000:3B:00.0", true}};
  DiscoveryOptions options;
  options.mode = "mig";
  options.memory_scaling = 2;
  options.core_scaling = 3;
  Discovered found = ToDeviceInfos(gpus, options, [](const std::string&) { return 0; });
  ASSERT_EQ(found.devices.size(), 1u);
  EXPECT_EQ(found.devices[0].devmem_mib, 40960);
  EXPECT_EQ(found.devices[0].devcore, 100);
  EXPECT_EQ(found.devices[0].mode, "mig");
}

TEST(NumaNodeTest, ReadsSysfsWithTheKernelsBusIdForm) {
  char pattern[] = "/tmp/hami_sysfs_XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string root = pattern;
  std::filesystem::create_directories(root + "/bus/pci/devices/0000:3b:00.0");
  std::ofstream(root + "/bus/pci/devices/0000:3b:00.0/numa_node") << "1\n";
  std::filesystem::create_directories(root + "/bus/pci/devices/0000:af:00.0");
  std::ofstream(root + "/bus/pci/devices/0000:af:00.0/numa_node") << "-1\n";
  EXPECT_EQ(NumaNode(root, "00000000:3B:00.0"), 1);
  EXPECT_EQ(NumaNode(root, "00000000:AF:00.0"), 0);
  EXPECT_EQ(NumaNode(root, "00000000:99:00.0"), 0);  // unknown device
}

}  // namespace
}  // namespace hami::deviceplugin
