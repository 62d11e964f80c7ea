#include "device/enflame.h"

#include <gtest/gtest.h>

namespace hami {
namespace {

// The node annotation of HAMi's Enflame DRS example (one card of 6 slices, three profiles).
constexpr char kDrsCapacity[] = R"({"devices":[{"index":"0","minor":"0","capacity":6}],)"
                                R"("profiles":{"1g.6gb":"0","3g.20gb":"1","6g.40gb":"2"}})";

TEST(GcuRequestTest, WholeCardsAsHami) {
  const EnflameConfig config;
  auto r = DeriveGcuRequest(config, {{"enflame.com/gcu", "2"}}, {});
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, (ContainerDeviceRequest{2, "GCU", 100, 100, 100}));
  auto from_requests = DeriveGcuRequest(config, {}, {{"enflame.com/gcu", "1"}});
  EXPECT_EQ((*from_requests)->count, 1);
  EXPECT_FALSE(DeriveGcuRequest(config, {{"enflame.com/gcu", "0"}}, {})->has_value());
  EXPECT_FALSE(DeriveGcuRequest(config, {{"enflame.com/drs-gcu", "1"}}, {})->has_value());
  for (const char* bad : {"1.5", "-1", "two"}) {
    auto b = DeriveGcuRequest(config, {{"enflame.com/gcu", bad}}, {});
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("enflame.com/gcu"), std::string::npos);
  }
}

TEST(GcuNodeTest, SynthesisesCardsFromCapacityAsHami) {
  const GcuVendor vendor{EnflameConfig{}};
  NodeFacts node;
  node.name = "gcu-node";
  node.capacity = {{"enflame.com/gcu", "2"}};
  auto devices = vendor.DecodeNode(node);
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[1].id, "gcu-node-GCU-1");
  EXPECT_EQ((*devices)[1].index, 1);
  EXPECT_EQ((*devices)[1].count, 1);
  EXPECT_EQ((*devices)[1].devmem_mib, 100);
  EXPECT_EQ((*devices)[1].devcore, 100);
  EXPECT_EQ((*devices)[1].type, "GCU");
  node.capacity["enflame.com/gcu"] = "0";
  EXPECT_EQ(vendor.DecodeNode(node).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(vendor.DecodeNode(NodeFacts{}).status().code(), StatusCode::kNotFound);
  for (const char* bad : {"x", "-1", "100000", "0.5"}) {
    node.capacity["enflame.com/gcu"] = bad;
    auto b = vendor.DecodeNode(node);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(b.status().message().find("enflame.com/gcu"), std::string::npos);
  }
}

TEST(GcuVendorTest, KeysAreHamis) {
  const GcuVendor vendor{EnflameConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "GCU");
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"", "", "hami.io/enflame-gcu-devices-to-allocate",
                                  "hami.io/enflame-gcu-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(), (VendorResourceNames{"enflame.com/gcu", "", "", "", ""}));
  EXPECT_EQ(*vendor.ParseSelectors({{"enflame.com/use-gpuuuid", "x"}}), DeviceSelectors{});
  Annotations out;
  vendor.AddDecisionAnnotations({{{"gcu-node-GCU-1", "GCU", 100, 100}}}, "gcu-node", 1, &out);
  EXPECT_EQ(out, (Annotations{
                     {"hami.io/enflame-gcu-devices-to-allocate", "gcu-node-GCU-1,GCU,100,100:;"},
                     {"hami.io/enflame-gcu-devices-allocated", "gcu-node-GCU-1,GCU,100,100:;"}}));
}

TEST(EnflameDrsTest, DecodesHamisCapacityAnnotation) {
  auto devices = DecodeEnflameDrsCapacity(kDrsCapacity, "drs-node");
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 1u);
  const DeviceInfo& d = (*devices)[0];
  EXPECT_EQ(d.id, "drs-node-enflame-drs-0");
  EXPECT_EQ(d.index, 0);
  EXPECT_EQ(d.count, 6);
  EXPECT_EQ(d.devmem_mib, 40 * 1024);  // largest profile, GiB -> MiB
  EXPECT_EQ(d.devcore, 6);             // slices
  EXPECT_EQ(d.type, "Enflame");
  EXPECT_TRUE(d.health);
  // Capacity as a string, keys in any case, index falling back to the position, profiles
  // without a memory size (memory = the largest slice count in GiB, as HAMi).
  auto loose = DecodeEnflameDrsCapacity(
      R"({"Devices":[{"index":"x","capacity":" 4 "},{"index":"3","capacity":4.7}],)"
      R"("profiles":{" 2G.big ":"0","4g.":"1"}})",
      "n");
  ASSERT_TRUE(loose.ok()) << loose.status().message();
  ASSERT_EQ(loose->size(), 2u);
  EXPECT_EQ((*loose)[0].id, "n-enflame-drs-0");
  EXPECT_EQ((*loose)[0].count, 4);
  EXPECT_EQ((*loose)[1].index, 3);
  EXPECT_EQ((*loose)[1].count, 4);
  EXPECT_EQ((*loose)[1].devmem_mib, 4 * 1024);
}

TEST(EnflameDrsTest, RefusesMalformedCapacityClearly) {
  const EnflameDrsVendor vendor{EnflameConfig{}};
  NodeFacts node;
  node.name = "drs-node";
  EXPECT_EQ(vendor.DecodeNode(node).status().code(), StatusCode::kNotFound);
  for (const char* bad : {
           "",
           "not json",
           "[]",
           R"({"devices":[{"index":"0","capacity":6}]})",  // no profile
           R"({"devices":[],"profiles":{"1g.6gb":"0"}})",  // no device
           R"({"devices":[{"index":"0","capacity":0}],"profiles":{"1g.6gb":"0"}})",
           R"({"devices":[{"index":"0","capacity":"six"}],"profiles":{"1g.6gb":"0"}})",
           R"({"devices":[{"index":"0","capacity":true}],"profiles":{"1g.6gb":"0"}})",
           R"({"devices":[{"index":0,"capacity":6}],"profiles":{"1g.6gb":"0"}})",
           R"({"devices":[{"index":"-1","capacity":6}],"profiles":{"1g.6gb":"0"}})",
           R"({"devices":[{"index":"1","capacity":6},{"index":"1","capacity":6}],)"
           R"("profiles":{"1g.6gb":"0"}})",
           R"({"devices":[{"index":"0","capacity":1e12}],"profiles":{"1g.6gb":"0"}})",
           R"({"devices":{"index":"0"},"profiles":{"1g.6gb":"0"}})",
           R"({"devices":[{"index":"0","capacity":6}],"profiles":{"1g.6gb":0}})",
           R"({"devices":[{"index":"0","capacity":6}],"profiles":{"1g.9999999gb":"0"}})",
           R"({"devices":[{"index":"0","capacity":6}],"profiles":{"g.6gb":"0"}})",
       }) {
    node.annotations = {{"enflame.com/gcu-drs-capacity", bad}};
    auto r = vendor.DecodeNode(node);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("enflame.com/gcu-drs-capacity"), std::string::npos)
        << r.status().message();
  }
}

TEST(EnflameDrsTest, RequestsAreSlicesOnOneCard) {
  const EnflameConfig config;
  auto r = DeriveEnflameDrsRequest(config, {{"enflame.com/drs-gcu", "3"}}, {});
  ASSERT_TRUE(r.ok() && r->has_value()) << r.status().message();
  EXPECT_EQ(**r, (ContainerDeviceRequest{1, "Enflame", 0, kMemoryPercentUnset, 3}));
  EXPECT_EQ((*DeriveEnflameDrsRequest(config, {}, {{"enflame.com/drs-gcu", "1"}}))->cores_percent,
            1);
  EXPECT_FALSE(DeriveEnflameDrsRequest(config, {{"enflame.com/gcu", "1"}}, {})->has_value());
  for (const ResourceList& bad :
       {ResourceList{{"enflame.com/drs-gcu", "0"}}, ResourceList{{"enflame.com/drs-gcu", "-2"}},
        ResourceList{{"enflame.com/drs-gcu", "1.5"}},
        ResourceList{{"enflame.com/gcu-memory", "20"}},
        ResourceList{{"enflame.com/gcu-core", "50"}}}) {
    auto b = DeriveEnflameDrsRequest(config, bad, {});
    ASSERT_FALSE(b.ok()) << bad.begin()->first << "=" << bad.begin()->second;
    EXPECT_NE(b.status().message().find(bad.begin()->first), std::string::npos)
        << b.status().message();
  }
}

TEST(EnflameDrsTest, VendorKeysWebhookAndDecisionAnnotations) {
  const EnflameDrsVendor vendor{EnflameConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "Enflame");
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"enflame.com/gcu-drs-capacity", "", "",
                                  "hami.io/enflame-vgpu-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(),
            (VendorResourceNames{"enflame.com/drs-gcu", "enflame.com/gcu-memory", "",
                                 "enflame.com/gcu-core", ""}));
  auto s =
      vendor.ParseSelectors({{"enflame.com/use-gpuuuid", "a"}, {"enflame.com/nouse-gpuuuid", "b"}});
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"a"}));
  EXPECT_EQ(s->nouse_uuids, (std::vector<std::string>{"b"}));  // both lists apply, as HAMi >= 2.9

  // HAMi's webhook: a requested slice count makes the pod ours and is copied into limits.
  auto a = vendor.MutateAdmission("c", {}, {{"enflame.com/drs-gcu", "3"}});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->uses_device);
  EXPECT_EQ(a->limits, (ResourceList{{"enflame.com/drs-gcu", "3"}}));
  EXPECT_FALSE(vendor.MutateAdmission("c", {{"enflame.com/drs-gcu", "0"}}, {}).ok());
  auto by_memory = vendor.MutateAdmission("c", {{"enflame.com/gcu-memory", "20"}}, {});
  ASSERT_FALSE(by_memory.ok());
  EXPECT_NE(by_memory.status().message().find("enflame.com/drs-gcu"), std::string::npos);
  auto other = vendor.MutateAdmission("c", {{"nvidia.com/gpu", "1"}}, {});
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->uses_device);

  Annotations out;
  vendor.AddDecisionAnnotations({{}, {{"drs-node-enflame-drs-2", "Enflame", 0, 3}}}, "drs-node",
                                1778573037, &out);
  EXPECT_EQ(out,
            (Annotations{
                {"hami.io/enflame-vgpu-devices-allocated", ";drs-node-enflame-drs-2,Enflame,0,3:;"},
                {"enflame.com/gcu-assigned", "false"},
                {"enflame.com/gcu-assigned-time", "1778573037000000000"},
                {"enflame.com/gcu-assigned-index", "2"},
                {"enflame.com/gcu-assigned-id", "2"},
                {"enflame.com/gcu-assigned-minor", "2"},
                {"enflame.com/gcu-request-size", "3"},
            }));
}

TEST(EnflameRegistryTest, TheEnflameSectionEnablesBothVendors) {
  DeviceConfig config = DefaultDeviceConfig();
  auto plain = MakeVendorRegistry(config);
  EXPECT_EQ(plain->Find("GCU"), nullptr);
  EXPECT_EQ(plain->Find("Enflame"), nullptr);
  config.enflame = EnflameConfig{};
  auto registry = MakeVendorRegistry(config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  EXPECT_NE(registry->Find("GCU"), nullptr);
  EXPECT_NE(registry->Find("Enflame"), nullptr);
  config.enflame->resource_name_gcu = "not a name";
  EXPECT_FALSE(MakeVendorRegistry(config).ok());
}

}  // namespace
}  // namespace hami
