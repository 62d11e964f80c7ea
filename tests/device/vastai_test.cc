#include "device/vastai.h"

#include <gtest/gtest.h>

namespace hami {
namespace {

// HAMi's vastai device_test.go Test_GetNodeDevices "exist vastai device" registration.
constexpr char kVastaiRegistration[] =
    R"([{"id":"7-0-batch-0","count":1,"type":"Vastai","health":true,"devicepairscore":{}}])";

TEST(VastaiRequestTest, DerivesAsHamiDoes) {
  const VastaiConfig config;
  auto r = DeriveVastaiRequest(config, {{"vastaitech.com/va", "2"}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (ContainerDeviceRequest{2, kVastaiCommonWord, 0, kMemoryPercentUnset, 0}));
  auto from_requests = DeriveVastaiRequest(config, {}, {{"vastaitech.com/va", "1"}});
  ASSERT_TRUE(from_requests.ok() && from_requests->has_value());
  EXPECT_EQ((*from_requests)->count, 1);
  for (const ResourceList& none :
       {ResourceList{{"vastaitech.com/va", "0"}}, ResourceList{{"nvidia.com/gpu", "1"}}}) {
    auto n = DeriveVastaiRequest(config, none, {});
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(n->has_value());
  }
  for (const char* bad : {"0.5", "-1", "lots", "3000000000"}) {
    auto b = DeriveVastaiRequest(config, {{"vastaitech.com/va", bad}}, {});
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("vastaitech.com/va"), std::string::npos);
  }
}

TEST(VastaiVendorTest, KeysAndSelectorsAreHamis) {
  const VastaiVendor vendor{VastaiConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "Vastai");
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"hami.io/node-va-register", "hami.io/node-handshake-va",
                                  "hami.io/Vastai-devices-to-allocate",
                                  "hami.io/Vastai-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(), (VendorResourceNames{"vastaitech.com/va", "", "", "", ""}));
  auto s = vendor.ParseSelectors({{"vastaitech.com/use-gpuuuid", "va-0, va-1"},
                                  {"vastaitech.com/nouse-gpuuuid", "va-1"},
                                  {"vastaitech.com/use-va", "VA1"},
                                  {"vastaitech.com/nouse-va", "VA2"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"va-0", "va-1"}));
  EXPECT_EQ(s->nouse_uuids,
            (std::vector<std::string>{"va-1"}));  // both lists apply, as HAMi >= 2.9
  EXPECT_TRUE(s->use_types.empty());              // HAMi's fit never reads use-va / nouse-va
  EXPECT_TRUE(s->nouse_types.empty());
  auto nouse = vendor.ParseSelectors({{"vastaitech.com/nouse-gpuuuid", "va-1"}});
  ASSERT_TRUE(nouse.ok());
  EXPECT_EQ(nouse->nouse_uuids, (std::vector<std::string>{"va-1"}));
}

TEST(VastaiVendorTest, DecodesHamisExampleRegistrationWithDevcore100) {
  const VastaiVendor vendor{VastaiConfig{}};
  auto devices = vendor.DecodeRegistration({{kVastaiRegisterAnnotation, kVastaiRegistration}});
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 1u);
  const DeviceInfo& d = (*devices)[0];
  EXPECT_EQ(d.id, "7-0-batch-0");
  EXPECT_EQ(d.count, 1);
  EXPECT_EQ(d.devmem_mib, 0);
  EXPECT_EQ(d.devcore, 100);  // HAMi: "only for calscore use"
  EXPECT_EQ(d.type, "Vastai");
  EXPECT_TRUE(d.health);
  EXPECT_EQ(d.index, 0);
  EXPECT_EQ(vendor.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
}

TEST(VastaiVendorTest, RefusesMalformedRegistrationsNamingTheKey) {
  const VastaiVendor vendor{VastaiConfig{}};
  for (const char* bad :
       {"[]", "null", "", "{", "va-0,1,0,100,Vastai,0,true:", R"([{"id":"a,b","count":1}])",
        R"([{"id":"a","count":"1"}])", R"([{"id":"a","count":-1}])", "[1]"}) {
    auto r = vendor.DecodeRegistration({{kVastaiRegisterAnnotation, bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find(kVastaiRegisterAnnotation), std::string::npos)
        << r.status().message();
  }
}

TEST(VastaiVendorTest, AdmissionIsTheCountLimit) {
  const VastaiVendor vendor{VastaiConfig{}};
  auto a = vendor.MutateAdmission("c", {{"vastaitech.com/va", "1"}}, {});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->uses_device);
  EXPECT_TRUE(a->env.empty());
  EXPECT_EQ(a->limits, (ResourceList{{"vastaitech.com/va", "1"}}));
  EXPECT_TRUE(vendor.TakesNodeLock());  // released by HAMi's Vastai plugin
  auto r = vendor.MutateAdmission("c", {}, {{"vastaitech.com/va", "1"}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->uses_device);
  EXPECT_FALSE(vendor.MutateAdmission("c", {{"vastaitech.com/va", "x"}}, {}).ok());
  Annotations out;
  vendor.AddDecisionAnnotations({{{"7-0-batch-0", "Vastai", 0, 0}}}, "n", 1, &out);
  EXPECT_EQ(out, (Annotations{{"hami.io/Vastai-devices-allocated", "7-0-batch-0,Vastai,0,0:;"},
                              {"hami.io/Vastai-devices-to-allocate", "7-0-batch-0,Vastai,0,0:;"}}));
}

TEST(VastaiConfigTest, SectionEnablesVendor) {
  auto config = LoadDeviceConfig("vastai:\n  resourceCountName: vastaitech.com/va\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_TRUE(config->vastai.has_value());
  auto registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  ASSERT_NE(registry->Find("Vastai"), nullptr);
  auto again = LoadDeviceConfig(DeviceConfigToYaml(*config));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->vastai, config->vastai);
  DeviceConfig invalid;
  invalid.vastai = VastaiConfig{"bad name"};
  EXPECT_FALSE(MakeVendorRegistry(invalid).ok());
  auto none = MakeVendorRegistry(DeviceConfig{});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->Find("Vastai"), nullptr);
}

}  // namespace
}  // namespace hami
