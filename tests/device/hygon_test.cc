#include "device/hygon.h"

#include <gtest/gtest.h>

#include "device/codec.h"

namespace hami {
namespace {

ContainerDeviceRequest Dcu(int32_t count, int32_t memory_mib, int32_t percent, int32_t cores) {
  return ContainerDeviceRequest{count, kHygonCommonWord, memory_mib, percent, cores};
}

struct RequestCase {
  const char* name;
  ResourceList limits;
  ResourceList requests;
  int32_t memory_factor;
  std::optional<ContainerDeviceRequest> want;
};

class HygonRequestTest : public ::testing::TestWithParam<RequestCase> {};

TEST_P(HygonRequestTest, DerivesAsHamiDoes) {
  HygonConfig config;
  config.memory_factor = GetParam().memory_factor;
  auto r = DeriveHygonRequest(config, GetParam().limits, GetParam().requests);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Golden, HygonRequestTest,
    ::testing::Values(
        // HAMi docs/hygon-dcu-support.md example pod.
        RequestCase{
            "docs_example",
            {{"hygon.com/dcunum", "1"}, {"hygon.com/dcumem", "2000"}, {"hygon.com/dcucores", "60"}},
            {},
            1,
            Dcu(1, 2000, kMemoryPercentUnset, 60)},
        // No memory: the whole device's memory; no cores: the whole device (cores 100).
        RequestCase{"count_only", {{"hygon.com/dcunum", "2"}}, {}, 1, Dcu(2, 0, 100, 100)},
        RequestCase{"requests_fallback",
                    {},
                    {{"hygon.com/dcunum", "1"}, {"hygon.com/dcumem", "1k"}},
                    1,
                    Dcu(1, 1000, kMemoryPercentUnset, 100)},
        RequestCase{"memory_factor",
                    {{"hygon.com/dcunum", "1"}, {"hygon.com/dcumem", "3"}},
                    {},
                    1024,
                    Dcu(1, 3072, kMemoryPercentUnset, 100)},
        RequestCase{"zero_count", {{"hygon.com/dcunum", "0"}}, {}, 1, std::nullopt},
        RequestCase{"no_count", {{"hygon.com/dcumem", "2000"}}, {}, 1, std::nullopt},
        RequestCase{"nvidia_only", {{"nvidia.com/gpu", "1"}}, {}, 1, std::nullopt}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(HygonRequestTest, RefusesUnusableValues) {
  for (const ResourceList& limits :
       {ResourceList{{"hygon.com/dcunum", "0.5"}}, ResourceList{{"hygon.com/dcunum", "-1"}},
        ResourceList{{"hygon.com/dcunum", "1"}, {"hygon.com/dcumem", "lots"}},
        ResourceList{{"hygon.com/dcunum", "1"}, {"hygon.com/dcucores", "-5"}},
        ResourceList{{"hygon.com/dcunum", "1"}, {"hygon.com/dcumem", "3000000000"}}}) {
    auto r = DeriveHygonRequest(HygonConfig{}, limits, {});
    ASSERT_FALSE(r.ok()) << limits.begin()->second;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("hygon.com/dcu"), std::string::npos)
        << r.status().message();
  }
}

TEST(HygonSelectorsTest, UseWinsOverNoUseAsInHami) {
  DeviceSelectors s = ParseHygonSelectors({{"hygon.com/use-dcutype", "Z100, K100"},
                                           {"hygon.com/nouse-dcutype", "Z100"},
                                           {"hygon.com/nouse-gpuuuid", "DCU-a,DCU-b"}});
  EXPECT_EQ(s.use_types, (std::vector<std::string>{"Z100", "K100"}));
  EXPECT_TRUE(s.nouse_types.empty());  // ignored while use-dcutype is present
  EXPECT_TRUE(s.use_uuids.empty());
  EXPECT_EQ(s.nouse_uuids, (std::vector<std::string>{"DCU-a", "DCU-b"}));
  EXPECT_FALSE(s.numa_bind);
  EXPECT_TRUE(s.vgpu_mode.empty());
  // NVIDIA's keys mean nothing to the DCU.
  EXPECT_EQ(ParseHygonSelectors({{"nvidia.com/use-gputype", "A100"}}), DeviceSelectors{});
}

TEST(HygonVendorTest, KeysAreHamis) {
  HygonVendor v{HygonConfig{}};
  EXPECT_EQ(v.CommonWord(), "DCU");
  EXPECT_EQ(v.AnnotationKeys().node_register, "hami.io/node-dcu-register");
  EXPECT_EQ(v.AnnotationKeys().node_handshake, "hami.io/node-handshake-dcu");
  EXPECT_EQ(v.AnnotationKeys().to_allocate, "hami.io/dcu-devices-to-allocate");
  EXPECT_EQ(v.AnnotationKeys().allocated, "hami.io/dcu-devices-allocated");
  EXPECT_EQ(v.ResourceNames().count, "hygon.com/dcunum");
  EXPECT_EQ(v.ResourceNames().memory, "hygon.com/dcumem");
  EXPECT_EQ(v.ResourceNames().cores, "hygon.com/dcucores");
  EXPECT_TRUE(v.ResourceNames().memory_percentage.empty());
}

// A registration as HAMi's dcu-vgpu-device-plugin writes it (legacy colon form, §1.2).
TEST(HygonVendorTest, DecodesPluginRegistration) {
  HygonVendor v{HygonConfig{}};
  auto devices = v.DecodeRegistration(
      {{"hami.io/node-dcu-register",
        "DCU-0,4,65520,100,DCU-Z100L,0,true:DCU-1,4,65520,100,DCU-Z100L,1,false,1,hami-core:"}});
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].id, "DCU-0");
  EXPECT_EQ((*devices)[0].count, 4);
  EXPECT_EQ((*devices)[0].devmem_mib, 65520);
  EXPECT_EQ((*devices)[0].type, "DCU-Z100L");
  EXPECT_TRUE((*devices)[0].health);
  EXPECT_EQ((*devices)[1].index, 1);
  EXPECT_EQ((*devices)[1].numa, 1);
  EXPECT_FALSE((*devices)[1].health);
  EXPECT_EQ(EncodeNodeDevicesLegacy(*devices),
            "DCU-0,4,65520,100,DCU-Z100L,0,true,0,hami-core:"
            "DCU-1,4,65520,100,DCU-Z100L,1,false,1,hami-core:");
}

TEST(HygonVendorTest, RegistrationFailuresAreClear) {
  HygonVendor v{HygonConfig{}};
  EXPECT_EQ(v.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
  // NVIDIA's annotation is not the DCU's.
  EXPECT_EQ(v.DecodeRegistration({{"hami.io/node-nvidia-register", "[]"}}).status().code(),
            StatusCode::kNotFound);
  for (const char* bad : {"", "DCU-0,4,65520", "[{\"id\":\"DCU-0\"}]",
                          "DCU-0,x,1,1,Z,0,true:", "DCU-0,4,65520,100,Z100,0,maybe:", ":"}) {
    auto r = v.DecodeRegistration({{"hami.io/node-dcu-register", bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("hami.io/node-dcu-register"), std::string::npos)
        << r.status().message();
  }
}

TEST(HygonVendorTest, RegistryHasDcuWhenConfigured) {
  DeviceConfig config;
  config.hygon = HygonConfig{};
  config.hygon->memory_factor = 2;
  auto reg = MakeVendorRegistry(config);
  ASSERT_TRUE(reg.ok()) << reg.status().message();
  ASSERT_EQ(reg->Size(), 1u);
  const Vendor* dcu = reg->Find("DCU");
  ASSERT_NE(dcu, nullptr);
  EXPECT_EQ(dcu->MemoryFactor(), 2);
  config.hygon->memory_factor = 0;
  auto bad = MakeVendorRegistry(config);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("hygon.memoryFactor"), std::string::npos);
}

}  // namespace
}  // namespace hami
