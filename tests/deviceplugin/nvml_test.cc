#include "deviceplugin/nvml.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "deviceplugin/discovery.h"

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
  auto nvml = Nvml::Open(HAMI_FAKE_NVML_PATH);
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
  auto missing = Nvml::Open("/nonexistent/libnvidia-ml.so.1");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("NVIDIA driver"), std::string::npos);

  unsetenv("HAMI_FAKE_NVML_CONFIG");  // the fake then answers DRIVER_NOT_LOADED
  auto no_driver = Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_FALSE(no_driver.ok());
  EXPECT_NE(no_driver.status().message().find("nvmlInit_v2: Driver Not Loaded"), std::string::npos)
      << no_driver.status().message();
}

TEST_F(NvmlTest, LostGpuIsAnErrorNamingIt) {
  nlohmann::json config = kTwoGpus;
  config["devices"][1]["lost"] = true;
  Configure(config);
  auto nvml = Nvml::Open(HAMI_FAKE_NVML_PATH);
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
  auto nvml = Nvml::Open(HAMI_FAKE_NVML_PATH);
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
  auto nvml = Nvml::Open(HAMI_FAKE_NVML_PATH);
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

TEST(DiscoveryTest, HamiRegistrationRules) {
  std::vector<NvmlGpu> gpus = {
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
  std::vector<NvmlGpu> gpus = {
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
