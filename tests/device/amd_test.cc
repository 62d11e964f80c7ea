#include "device/amd.h"

#include <gtest/gtest.h>

#include "device/codec.h"

namespace hami {
namespace {

ContainerDeviceRequest Amd(int32_t count, int32_t memory_mib, int32_t percent, int32_t cores) {
  return ContainerDeviceRequest{count, kAmdCommonWord, memory_mib, percent, cores};
}

// As HAMi's AMD device plugin registers two MI300X GPUs (JSON DeviceInfo form).
constexpr char kAmdRegistration[] =
    R"([{"id":"AMD-GPU-0","count":4,"devmem":196608,"devcore":304,"type":"AMD-Instinct-MI300X",)"
    R"("health":true},{"id":"AMD-GPU-1","index":1,"count":4,"devmem":196608,"devcore":304,)"
    R"("type":"AMD-Instinct-MI300X","numa":1,"health":true}])";

struct RequestCase {
  const char* name;
  ResourceList limits;
  ResourceList requests;
  std::optional<ContainerDeviceRequest> want;
};

class AmdRequestTest : public ::testing::TestWithParam<RequestCase> {};

TEST_P(AmdRequestTest, DerivesAsHamiDoes) {
  auto r = DeriveAmdRequest(AmdConfig{}, GetParam().limits, GetParam().requests);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Golden, AmdRequestTest,
    ::testing::Values(
        RequestCase{"full",
                    {{"amd.com/gpu", "1"}, {"amd.com/gpumem", "4096"}, {"amd.com/gpucores", "50"}},
                    {},
                    Amd(1, 4096, kMemoryPercentUnset, 50)},
        // No memory: the whole device's memory; no cores: all CUs.
        RequestCase{"count_only", {{"amd.com/gpu", "2"}}, {}, Amd(2, 0, 100, 100)},
        // Count and memory come from limits only; cores fall back to requests.
        RequestCase{"cores_from_requests",
                    {{"amd.com/gpu", "1"}},
                    {{"amd.com/gpumem", "1024"}, {"amd.com/gpucores", "30"}},
                    Amd(1, 0, 100, 30)},
        RequestCase{"count_in_requests_only", {}, {{"amd.com/gpu", "1"}}, std::nullopt},
        RequestCase{"zero_count", {{"amd.com/gpu", "0"}}, {}, std::nullopt},
        RequestCase{"nvidia_only", {{"nvidia.com/gpu", "1"}}, {}, std::nullopt}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(AmdRequestTest, RefusesUnusableValues) {
  for (const ResourceList& limits :
       {ResourceList{{"amd.com/gpu", "0.5"}}, ResourceList{{"amd.com/gpu", "-1"}},
        ResourceList{{"amd.com/gpu", "1"}, {"amd.com/gpumem", "lots"}},
        ResourceList{{"amd.com/gpu", "1"}, {"amd.com/gpucores", "0"}},
        ResourceList{{"amd.com/gpu", "1"}, {"amd.com/gpucores", "101"}}}) {
    auto r = DeriveAmdRequest(AmdConfig{}, limits, {});
    ASSERT_FALSE(r.ok()) << limits.rbegin()->second;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("amd.com/gpu"), std::string::npos) << r.status().message();
  }
}

TEST(AmdSelectorsTest, TypeAndUuidListsBothApply) {
  DeviceSelectors s = ParseAmdSelectors({{"amd.com/use-gputype", "MI300X, MI250"},
                                         {"amd.com/nouse-gputype", "MI250"},
                                         {"amd.com/use-gpu-uuid", "AMD-GPU-0"},
                                         {"amd.com/nouse-gpu-uuid", "AMD-GPU-1"}});
  EXPECT_EQ(s.use_types, (std::vector<std::string>{"MI300X", "MI250"}));
  EXPECT_EQ(s.nouse_types, (std::vector<std::string>{"MI250"}));
  EXPECT_EQ(s.use_uuids, (std::vector<std::string>{"AMD-GPU-0"}));
  EXPECT_EQ(s.nouse_uuids,
            (std::vector<std::string>{"AMD-GPU-1"}));  // both lists apply, as HAMi >= 2.9
}

TEST(AmdVendorTest, KeysAreHamis) {
  const AmdVendor vendor{AmdConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "AMD");
  EXPECT_EQ(vendor.AnnotationKeys(), (VendorAnnotationKeys{"hami.io/node-amd-register", "",
                                                           "hami.io/amd-devices-to-allocate",
                                                           "hami.io/amd-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames().count, "amd.com/gpu");
  EXPECT_EQ(vendor.ResourceNames().memory, "amd.com/gpumem");
  EXPECT_EQ(vendor.ResourceNames().cores, "amd.com/gpucores");
}

TEST(AmdVendorTest, DecodesJsonRegistration) {
  const AmdVendor vendor{AmdConfig{}};
  auto devices = vendor.DecodeRegistration({{kAmdRegisterAnnotation, kAmdRegistration}});
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].id, "AMD-GPU-0");
  EXPECT_EQ((*devices)[0].devmem_mib, 196608);
  EXPECT_EQ((*devices)[0].devcore, 304);
  EXPECT_EQ((*devices)[1].index, 1);
  EXPECT_EQ((*devices)[1].numa, 1);
  EXPECT_TRUE((*devices)[1].health);
  EXPECT_EQ((*devices)[1].type, "AMD-Instinct-MI300X");
}

TEST(AmdVendorTest, RefusesBadRegistrations) {
  const AmdVendor vendor{AmdConfig{}};
  EXPECT_EQ(vendor.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
  for (const char* bad : {"[]", "null", "AMD-GPU-0,4,1024,100,MI300X,0,true:", "[{\"id\":1}]"}) {
    auto r = vendor.DecodeRegistration({{kAmdRegisterAnnotation, bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find(kAmdRegisterAnnotation), std::string::npos);
  }
}

TEST(AmdVendorTest, AdmissionAsHami) {
  const AmdVendor vendor{AmdConfig{}};
  // Memory or cores alone make the pod ours (no request without a count).
  for (const char* name : {"amd.com/gpu", "amd.com/gpumem", "amd.com/gpucores"}) {
    auto a = vendor.MutateAdmission("c", {{name, "1"}}, {});
    ASSERT_TRUE(a.ok()) << name;
    EXPECT_TRUE(a->uses_device) << name;
    EXPECT_TRUE(a->env.empty() && a->env_defaults.empty());
  }
  auto none = vendor.MutateAdmission("c", {{"nvidia.com/gpu", "1"}}, {{"amd.com/gpu", "1"}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->uses_device);
  EXPECT_FALSE(none->request.has_value());
  auto bad = vendor.MutateAdmission("c", {{"amd.com/gpu", "1"}, {"amd.com/gpucores", "150"}}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("between 1 and 100"), std::string::npos);
}

TEST(AmdConfigTest, SectionEnablesVendorAndRoundTrips) {
  auto config = LoadDeviceConfig("amd:\n  resourceMemoryName: amd.com/vram\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_TRUE(config->amd.has_value());
  EXPECT_EQ(config->amd->resource_memory_name, "amd.com/vram");
  EXPECT_EQ(config->amd->resource_count_name, "amd.com/gpu");
  auto again = LoadDeviceConfig(DeviceConfigToYaml(*config));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->amd, config->amd);
  auto registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok());
  EXPECT_NE(registry->Find("AMD"), nullptr);

  auto unknown = LoadDeviceConfig("amd:\n  memoryFactor: 2\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown key in the amd section"), std::string::npos)
      << unknown.status().message();
  auto bad_name = LoadDeviceConfig("amd:\n  resourceCoreName: \"a b\"\n");
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.status().message().find("amd.resourceCoreName"), std::string::npos)
      << bad_name.status().message();
}

}  // namespace
}  // namespace hami
