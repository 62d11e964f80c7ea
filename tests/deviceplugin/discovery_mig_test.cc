// Dynamic MIG discovery: on a "mig" node a GPU in MIG mode publishes every profile NVML allows
// that the device config's migProfileAllowlist allows for its model, with all legal placements.
#include <gtest/gtest.h>

#include "device/codec.h"
#include "deviceplugin/discovery.h"

namespace hami::deviceplugin {
namespace {

std::vector<MigPlacement> Every(int32_t size, std::initializer_list<int32_t> starts) {
  std::vector<MigPlacement> out;
  for (int32_t start : starts) out.push_back(MigPlacement{start, size});
  return out;
}

// An A100-SXM4-40GB's GPU instance profiles as NVML lists them (placements in NVML's order,
// which is not always ascending).
std::vector<nvml::NvmlMigProfileInfo> A100Profiles() {
  return {
      {0, "1g.5gb", 1, 7, 4864, 14, Every(1, {6, 5, 4, 3, 2, 1, 0})},
      {1, "2g.10gb", 2, 3, 9856, 28, Every(2, {0, 2, 4})},
      {2, "3g.20gb", 3, 2, 19968, 42, Every(4, {4, 0})},
      {3, "4g.20gb", 4, 1, 19968, 56, Every(4, {0})},
      {4, "7g.40gb", 7, 1, 40192, 98, Every(8, {0})},
      {7, "1g.5gb+me", 1, 1, 4864, 14, Every(1, {0, 1, 2, 3, 4, 5, 6})},
  };
}

std::vector<nvml::NvmlGpu> OneA100() {
  nvml::NvmlGpu gpu;
  gpu.index = 0;
  gpu.uuid = "GPU-a100";
  gpu.name = "NVIDIA A100-SXM4-40GB";
  gpu.memory_bytes = 40960ull * 1024 * 1024;
  gpu.bus_id = "00000000:3B:00.0";
  gpu.mig_enabled = true;
  nvml::NvmlMigInstance existing;
  existing.uuid = "MIG-static";
  existing.profile = "3g.20gb";
  existing.memory_mib = 19968;
  existing.slice_count = 3;
  existing.core_percent = 43;
  existing.placement = {0, 4};
  gpu.mig_instances = {existing};
  return {gpu};
}

int32_t NoNuma(const std::string&) { return 0; }

TEST(DynamicMigDiscoveryTest, PublishesEveryAllowedProfileWithAllItsPlacements) {
  DiscoveryOptions options;
  options.mode = "mig";  // the chart's default allowlist
  const auto gpus = OneA100();
  Discovered found = ToDeviceInfos(gpus, options, NoNuma, [](uint32_t index) {
    EXPECT_EQ(index, 0u);
    return Result<std::vector<nvml::NvmlMigProfileInfo>>(A100Profiles());
  });
  ASSERT_EQ(found.devices.size(), 1u);
  const DeviceInfo& d = found.devices[0];
  EXPECT_EQ(d.mode, "mig");
  EXPECT_EQ(d.count, 7);  // seven 1g.5gb at most
  EXPECT_EQ(d.devmem_mib, 40960);
  EXPECT_EQ(d.devcore, 100);
  // The chart allows 1g.5gb, 2g.10gb, 3g.20gb and 7g.40gb on this model; not 4g.20gb, +me.
  const std::vector<MigProfile> want = {
      {"1g.5gb", 4864, 15, 1, Every(1, {0, 1, 2, 3, 4, 5, 6})},
      {"2g.10gb", 9856, 29, 2, Every(2, {0, 2, 4})},
      {"3g.20gb", 19968, 43, 3, Every(4, {0, 4})},
      {"7g.40gb", 40192, 100, 7, Every(8, {0})},
  };
  EXPECT_EQ(d.mig_profiles, want);
  EXPECT_TRUE(found.notes.empty());

  // The registration carries them in HAMi's shape, and decodes back to the same profiles.
  const std::string encoded = EncodeNodeDevicesJson(found.devices);
  EXPECT_NE(encoded.find("\"migProfiles\":[{\"name\":\"1g.5gb\",\"memoryMB\":4864,\"core\":15,"
                         "\"sliceCount\":1,\"placements\":[{\"start\":0,\"size\":1},"),
            std::string::npos)
      << encoded;
  auto decoded = DecodeNodeDevices(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ((*decoded)[0].mig_profiles, want);
}

TEST(DynamicMigDiscoveryTest, TheAllowlistMatchesModelSubstringsAndUnitesEntries) {
  DiscoveryOptions options;
  options.mode = "mig";
  options.mig_profile_allowlist = std::vector<MigProfileAllowance>{
      {{"H100"}, {"1g.5gb", "7g.40gb"}},  // another model: ignored
      {{"A100-SXM4"}, {"2g.10gb"}},
      {{"A30", "SXM4-40GB"}, {"4g.20gb", "no-such-profile"}},
  };
  const auto gpus = OneA100();
  Discovered found = ToDeviceInfos(gpus, options, NoNuma, [](uint32_t) {
    return Result<std::vector<nvml::NvmlMigProfileInfo>>(A100Profiles());
  });
  ASSERT_EQ(found.devices.size(), 1u);
  ASSERT_EQ(found.devices[0].mig_profiles.size(), 2u);
  EXPECT_EQ(found.devices[0].mig_profiles[0].name, "2g.10gb");
  EXPECT_EQ(found.devices[0].mig_profiles[1].name, "4g.20gb");
  EXPECT_EQ(found.devices[0].mig_profiles[1].placements, Every(4, {0}));
  EXPECT_EQ(found.devices[0].count, 3);

  EXPECT_EQ(AllowedMigProfiles(*options.mig_profile_allowlist, "NVIDIA T4"), std::nullopt);
  EXPECT_EQ(AllowedMigProfiles({{{""}, {"1g.5gb"}}}, "NVIDIA A100"), std::nullopt);
}

TEST(DynamicMigDiscoveryTest, AModelNoEntryNamesOffersNothing) {
  DiscoveryOptions options;
  options.mode = "mig";
  options.mig_profile_allowlist = std::vector<MigProfileAllowance>{{{"H100"}, {"1g.10gb"}}};
  const auto gpus = OneA100();
  Discovered found = ToDeviceInfos(gpus, options, NoNuma, [](uint32_t) {
    return Result<std::vector<nvml::NvmlMigProfileInfo>>(A100Profiles());
  });
  ASSERT_EQ(found.devices.size(), 1u);
  EXPECT_EQ(found.devices[0].mode, "mig");
  EXPECT_EQ(found.devices[0].count, 0);
  EXPECT_TRUE(found.devices[0].mig_profiles.empty());
  EXPECT_EQ(found.notes,
            (std::vector<std::string>{"GPU 0 GPU-a100: no migProfileAllowlist entry names model "
                                      "NVIDIA A100-SXM4-40GB: no MIG profile offered"}));
}

TEST(DynamicMigDiscoveryTest, FallsBackToTheExistingInstancesWithoutDynamicMig) {
  const auto gpus = OneA100();
  const std::vector<MigProfile> existing = {{"3g.20gb", 19968, 43, 3, Every(4, {0})}};
  DiscoveryOptions options;
  options.mode = "mig";
  // An NVML without the dynamic-MIG calls.
  Discovered found = ToDeviceInfos(gpus, options, NoNuma, [](uint32_t) {
    return Result<std::vector<nvml::NvmlMigProfileInfo>>(
        Status(StatusCode::kUnavailable, "no nvmlDeviceCreateGpuInstanceWithPlacement"));
  });
  ASSERT_EQ(found.devices.size(), 1u);
  EXPECT_EQ(found.devices[0].mig_profiles, existing);
  EXPECT_EQ(found.devices[0].count, 1);
  ASSERT_EQ(found.notes.size(), 1u);
  EXPECT_NE(found.notes[0].find("dynamic MIG unavailable"), std::string::npos);
  // A GPU whose profiles have no placement.
  found = ToDeviceInfos(gpus, options, NoNuma, [](uint32_t) {
    auto profiles = A100Profiles();
    for (auto& p : profiles) p.placements.clear();
    return Result<std::vector<nvml::NvmlMigProfileInfo>>(profiles);
  });
  EXPECT_EQ(found.devices[0].mig_profiles, existing);
  // A hami-core node: static MIG, NVML's profile table not asked.
  options.mode = "hami-core";
  found = ToDeviceInfos(gpus, options, NoNuma, [](uint32_t) {
    ADD_FAILURE() << "asked for the profiles on a hami-core node";
    return Result<std::vector<nvml::NvmlMigProfileInfo>>(A100Profiles());
  });
  EXPECT_EQ(found.devices[0].mig_profiles, existing);
}

}  // namespace
}  // namespace hami::deviceplugin
