#include "device/cambricon.h"

#include <gtest/gtest.h>

#include "device/synthesized.h"

namespace hami {
namespace {

// As Cambricon's device plugin publishes 4 MLU370 cards: vcore 100 per card, vmemory in units
// of 256 MiB for all cards (4 * 96 = 384 units = 24 GiB per card).
NodeFacts CambriconNode(std::string cores = "400", std::string memory = "384") {
  NodeFacts node;
  node.name = "mlu-node";
  node.capacity = {{"cambricon.com/mlu.smlu.vcore", std::move(cores)},
                   {"cambricon.com/mlu.smlu.vmemory", std::move(memory)}};
  return node;
}

TEST(CambriconRequestTest, DerivesAsHamiDoes) {
  const CambriconConfig config;
  // HAMi's docs/cambricon-mlu-support.md example: 1 vmlu, 20 x 256 MiB, 10 % of the cores.
  auto r = DeriveCambriconRequest(config,
                                  {{"cambricon.com/vmlu", "1"},
                                   {"cambricon.com/mlu.smlu.vmemory", "20"},
                                   {"cambricon.com/mlu.smlu.vcore", "10"}},
                                  {});
  ASSERT_TRUE(r.ok() && r->has_value()) << r.status().message();
  EXPECT_EQ(**r, (ContainerDeviceRequest{1, "MLU", 5120, kMemoryPercentUnset, 10}));
  // No memory: 100 % of the card; no cores: 100 (whole card). Requests count when limits lack.
  auto whole = DeriveCambriconRequest(config, {}, {{"cambricon.com/vmlu", "2"}});
  ASSERT_TRUE(whole.ok() && whole->has_value());
  EXPECT_EQ(**whole, (ContainerDeviceRequest{2, "MLU", 0, 100, 100}));
  for (const ResourceList& none :
       {ResourceList{{"cambricon.com/vmlu", "0"}}, ResourceList{{"nvidia.com/gpu", "1"}}}) {
    auto n = DeriveCambriconRequest(config, none, {});
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(n->has_value());
  }
  for (const auto& [name, bad] : std::vector<std::pair<std::string, std::string>>{
           {"cambricon.com/vmlu", "0.5"},
           {"cambricon.com/vmlu", "-1"},
           {"cambricon.com/mlu.smlu.vmemory", "lots"},
           {"cambricon.com/mlu.smlu.vmemory", "9000000"},  // beyond int32 MiB after x256
           {"cambricon.com/mlu.smlu.vcore", "-5"}}) {
    ResourceList limits = {{"cambricon.com/vmlu", "1"}};
    limits[name] = bad;
    auto b = DeriveCambriconRequest(config, limits, {});
    ASSERT_FALSE(b.ok()) << name << "=" << bad;
    EXPECT_NE(b.status().message().find(name), std::string::npos) << b.status().message();
  }
}

TEST(CambriconNodeTest, SynthesisesCardsFromCapacityAsHami) {
  const CambriconVendor vendor{CambriconConfig{}};
  auto devices = vendor.DecodeNode(CambriconNode());
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const DeviceInfo& d = (*devices)[i];
    EXPECT_EQ(d.id, "mlu-node-cambricon-mlu-" + std::to_string(i));
    EXPECT_EQ(d.index, i);
    EXPECT_EQ(d.count, 100);
    EXPECT_EQ(d.devmem_mib, 24576);  // 384 * 256 * 100 / 400
    EXPECT_EQ(d.devcore, 100);
    EXPECT_EQ(d.type, "MLU");
    EXPECT_TRUE(d.health);
  }
  // A started hundred is a card (HAMi loops while i*100 < cards): 250 -> 3 cards.
  auto partial = vendor.DecodeNode(CambriconNode("250", "300"));
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->size(), 3u);
  EXPECT_EQ((*partial)[0].devmem_mib, 300 * 256 * 100 / 250);
  // No memory capacity: cards with 0 MiB (HAMi ignores the missing value).
  NodeFacts no_memory = CambriconNode();
  no_memory.capacity.erase("cambricon.com/mlu.smlu.vmemory");
  auto zero = vendor.DecodeNode(no_memory);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ((*zero)[0].devmem_mib, 0);
}

TEST(CambriconNodeTest, MissingOrBadCapacityIsRefusedClearly) {
  const CambriconVendor vendor{CambriconConfig{}};
  EXPECT_EQ(vendor.DecodeNode(NodeFacts{}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(vendor.DecodeNode(CambriconNode("0")).status().code(), StatusCode::kNotFound);
  for (const auto& [cores, memory] :
       std::vector<std::pair<std::string, std::string>>{{"lots", "384"},
                                                        {"-100", "384"},
                                                        {"1.5", "384"},
                                                        {"400", "many"},
                                                        {"400", "-1"},
                                                        {"1e9", "1"},
                                                        {"100", "100000000"}}) {
    auto bad = vendor.DecodeNode(CambriconNode(cores, memory));
    ASSERT_FALSE(bad.ok()) << cores << " " << memory;
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("cambricon.com/mlu.smlu."), std::string::npos)
        << bad.status().message();
  }
}

TEST(CambriconVendorTest, KeysSelectorsAndLockAreHamis) {
  const CambriconVendor vendor{CambriconConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "MLU");
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"", "", "hami.io/cambricon-mlu-devices-to-allocate",
                                  "hami.io/cambricon-mlu-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(),
            (VendorResourceNames{"cambricon.com/vmlu", "cambricon.com/mlu.smlu.vmemory", "",
                                 "cambricon.com/mlu.smlu.vcore", ""}));
  EXPECT_EQ(vendor.ExtraNodeLockAnnotation(), "cambricon.com/dsmlu.lock");
  EXPECT_EQ(vendor.ExtraNodeLockExpirySeconds(), 120);
  auto s = vendor.ParseSelectors({{"cambricon.com/use-gpuuuid", "mlu-node-cambricon-mlu-1"},
                                  {"cambricon.com/nouse-gpuuuid", "x"},
                                  {"cambricon.com/use-mlutype", "MLU370"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"mlu-node-cambricon-mlu-1"}));
  EXPECT_EQ(s->nouse_uuids, (std::vector<std::string>{"x"}));  // both lists apply, as HAMi >= 2.9
  EXPECT_TRUE(s->use_types.empty());                           // HAMi's fit never reads use-mlutype
  auto nouse = vendor.ParseSelectors({{"cambricon.com/nouse-gpuuuid", "a,b"}});
  EXPECT_EQ(nouse->nouse_uuids, (std::vector<std::string>{"a", "b"}));
}

TEST(CambriconVendorTest, DecisionAnnotationsCarryTheDsmluProfile) {
  const CambriconVendor vendor{CambriconConfig{}};
  Annotations out;
  // An init container without an MLU, then one with card 2: HAMi would index the empty one.
  vendor.AddDecisionAnnotations({{}, {{"mlu-node-cambricon-mlu-2", "MLU", 5120, 10}}}, "mlu-node",
                                1700000000, &out);
  EXPECT_EQ(
      out,
      (Annotations{
          {"hami.io/cambricon-mlu-devices-to-allocate", ";mlu-node-cambricon-mlu-2,MLU,5120,10:;"},
          {"hami.io/cambricon-mlu-devices-allocated", ";mlu-node-cambricon-mlu-2,MLU,5120,10:;"},
          {"CAMBRICON_DSMLU_ASSIGNED", "false"},
          {"CAMBRICON_DSMLU_PROFILE", "2_10_20"},
      }));
  Annotations none;
  vendor.AddDecisionAnnotations({{}}, "mlu-node", 1700000000, &none);
  EXPECT_TRUE(none.empty());
}

TEST(CambriconVendorTest, WebhookTakesPodsWithTheCountLimit) {
  const CambriconVendor vendor{CambriconConfig{}};
  auto a = vendor.MutateAdmission("c", {{"cambricon.com/vmlu", "1"}}, {});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->uses_device);
  ASSERT_TRUE(a->request.has_value());
  auto only_requests = vendor.MutateAdmission("c", {}, {{"cambricon.com/vmlu", "1"}});
  ASSERT_TRUE(only_requests.ok());
  EXPECT_FALSE(only_requests->uses_device);  // HAMi looks at limits only
}

TEST(CambriconRegistryTest, TheCambriconSectionEnablesTheVendor) {
  DeviceConfig config = DefaultDeviceConfig();
  EXPECT_EQ(MakeVendorRegistry(config)->Find("MLU"), nullptr);
  config.cambricon = CambriconConfig{};
  config.cambricon->resource_count_name = "cambricon.com/mlu";
  auto registry = MakeVendorRegistry(config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  const Vendor* mlu = registry->Find("MLU");
  ASSERT_NE(mlu, nullptr);
  EXPECT_EQ(mlu->ResourceNames().count, "cambricon.com/mlu");
  config.cambricon->resource_count_name = "";
  EXPECT_FALSE(MakeVendorRegistry(config).ok());
}

TEST(SynthesizedTest, IndexFromId) {
  EXPECT_EQ(SynthesizedIndex("n-cambricon-mlu-12"), 12);
  EXPECT_EQ(SynthesizedIndex("n-GCU-0"), 0);
  EXPECT_EQ(SynthesizedIndex("n-GCU-"), std::nullopt);
  EXPECT_EQ(SynthesizedIndex("GPU"), std::nullopt);
  EXPECT_EQ(SynthesizedIndex("n-1x"), std::nullopt);
  EXPECT_EQ(SynthesizedIndex("n-99999999999"), std::nullopt);
}

}  // namespace
}  // namespace hami
