#include "device/biren.h"

#include <gtest/gtest.h>

namespace hami {
namespace {

// As HAMi's Biren device plugin registers two cards (JSON DeviceInfo form).
constexpr char kBirenRegistration[] =
    R"([{"id":"BR-0","count":4,"devmem":65536,"devcore":0,"type":"Biren-BR106","health":true},)"
    R"({"id":"BR-1","index":1,"count":4,"devmem":65536,"type":"Biren-BR106","health":true}])";

TEST(BirenRequestTest, DerivesAsHamiDoes) {
  const BirenConfig config;
  auto r = DeriveBirenRequest(config, {{"birentech.com/gpu", "2"}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (ContainerDeviceRequest{2, kBirenCommonWord, 0, kMemoryPercentUnset, 0}));
  auto from_requests = DeriveBirenRequest(config, {}, {{"birentech.com/gpu", "1"}});
  ASSERT_TRUE(from_requests.ok() && from_requests->has_value());
  EXPECT_EQ((*from_requests)->count, 1);
  for (const ResourceList& none :
       {ResourceList{{"birentech.com/gpu", "0"}}, ResourceList{{"nvidia.com/gpu", "1"}}}) {
    auto n = DeriveBirenRequest(config, none, {});
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(n->has_value());
  }
  for (const char* bad : {"0.5", "-1", "lots"}) {
    auto b = DeriveBirenRequest(config, {{"birentech.com/gpu", bad}}, {});
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("birentech.com/gpu"), std::string::npos);
  }
}

TEST(BirenVendorTest, KeysAndSelectorsAreHamis) {
  const BirenVendor vendor{BirenConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "Biren");
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"hami.io/node-biren-register", "hami.io/node-handshake-biren",
                                  "hami.io/Biren-devices-to-allocate",
                                  "hami.io/Biren-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(), (VendorResourceNames{"birentech.com/gpu", "", "", "", ""}));
  auto s = vendor.ParseSelectors({{"birentech.com/use-gpuuuid", "BR-0, BR-1"},
                                  {"birentech.com/nouse-gpuuuid", "BR-1"},
                                  {"birentech.com/use-biren", "BR106"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"BR-0", "BR-1"}));
  EXPECT_EQ(s->nouse_uuids,
            (std::vector<std::string>{"BR-1"}));  // both lists apply, as HAMi >= 2.9
  EXPECT_TRUE(s->use_types.empty());              // HAMi's fit never reads use-biren
}

TEST(BirenVendorTest, DecodesJsonRegistrationWithDevcore100) {
  const BirenVendor vendor{BirenConfig{}};
  auto devices = vendor.DecodeRegistration({{kBirenRegisterAnnotation, kBirenRegistration}});
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].devcore, 100);
  EXPECT_EQ((*devices)[1].devcore, 100);
  EXPECT_EQ((*devices)[1].index, 1);
  EXPECT_EQ((*devices)[1].count, 4);
  EXPECT_EQ(vendor.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
  for (const char* bad : {"[]", "BR-0,4,1024,100,BR106,0,true:", "{"}) {
    auto r = vendor.DecodeRegistration({{kBirenRegisterAnnotation, bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(kBirenRegisterAnnotation), std::string::npos);
  }
}

TEST(BirenVendorTest, AdmissionIsTheCountLimit) {
  const BirenVendor vendor{BirenConfig{}};
  auto a = vendor.MutateAdmission("c", {{"birentech.com/gpu", "1"}}, {});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->uses_device);
  auto r = vendor.MutateAdmission("c", {}, {{"birentech.com/gpu", "1"}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->uses_device);
}

TEST(BirenConfigTest, SectionEnablesVendorAndRoundTrips) {
  auto config = LoadDeviceConfig("biren:\n  resourceCountName: birentech.com/gpu\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_TRUE(config->biren.has_value());
  auto again = LoadDeviceConfig(DeviceConfigToYaml(*config));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->biren, config->biren);
  auto registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok());
  EXPECT_NE(registry->Find("Biren"), nullptr);
  auto unknown = LoadDeviceConfig("biren:\n  resourceMemoryName: x\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown key in the biren section"), std::string::npos)
      << unknown.status().message();
}

}  // namespace
}  // namespace hami
