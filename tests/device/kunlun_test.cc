#include "device/kunlun.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "device/codec.h"

namespace hami {
namespace {

using IndexSets = std::vector<std::vector<int32_t>>;

NodeFacts XpuNode(const std::string& name, const std::string& capacity) {
  NodeFacts node;
  node.name = name;
  node.capacity = {{"kunlunxin.com/xpu", capacity}};
  return node;
}

// HAMi's topo.go: the links between XPUs (GroupConnection inside a wing, InterGroupConnection
// across the wings) and the linked quads (InterGroupConnection2).
const std::set<std::pair<int32_t, int32_t>>& HamiLinks() {
  static const auto* const kLinks = new std::set<std::pair<int32_t, int32_t>>{
      {0, 4}, {1, 5}, {2, 6}, {3, 7}, {0, 1}, {0, 2}, {0, 3}, {1, 2},
      {1, 3}, {2, 3}, {4, 5}, {4, 6}, {4, 7}, {5, 6}, {5, 7}, {6, 7}};
  return *kLinks;
}

TEST(KunlunTopologyTest, IndexSetsFollowHamisGroupsInItsOrder) {
  ASSERT_TRUE(KunlunIndexSets(1));
  // One rule, for any device type.
  ASSERT_EQ(KunlunIndexSets(1)->size(), 1u);
  EXPECT_EQ(KunlunIndexSets(1)->front().device_type, "");
  EXPECT_EQ(KunlunIndexSets(1)->front().sets, (IndexSets{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}));
  EXPECT_EQ(KunlunIndexSets(8)->front().sets, (IndexSets{{0, 1, 2, 3, 4, 5, 6, 7}}));
  EXPECT_EQ(KunlunIndexSets(4)->front().sets, (IndexSets{{0, 1, 2, 3},
                                                         {4, 5, 6, 7},
                                                         {0, 1, 4, 5},
                                                         {2, 3, 6, 7},
                                                         {0, 2, 4, 6},
                                                         {1, 3, 5, 7},
                                                         {0, 3, 4, 7},
                                                         {1, 2, 5, 6}}));
  // Pairs: in-wing pairs (left wing first), then the cross-wing links; every pair is one of
  // HAMi's links and every link is offered exactly once.
  const IndexSets& pairs = KunlunIndexSets(2)->front().sets;
  ASSERT_EQ(pairs.size(), HamiLinks().size());
  std::set<std::pair<int32_t, int32_t>> seen;
  for (const std::vector<int32_t>& p : pairs) {
    ASSERT_EQ(p.size(), 2u);
    EXPECT_TRUE(HamiLinks().count({p[0], p[1]})) << p[0] << "-" << p[1];
    seen.insert({p[0], p[1]});
  }
  EXPECT_EQ(seen.size(), pairs.size());
  EXPECT_EQ(pairs.front(), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(pairs[6], (std::vector<int32_t>{4, 5}));
  EXPECT_EQ(IndexSets(pairs.end() - 4, pairs.end()), (IndexSets{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  // HAMi grants no other group size.
  for (int32_t count : {0, 3, 5, 6, 7, 9, 16, -1}) EXPECT_FALSE(KunlunIndexSets(count)) << count;
  // Shared, not rebuilt per request.
  EXPECT_EQ(KunlunIndexSets(2).get(), KunlunIndexSets(2).get());
}

TEST(KunlunXpuTest, SynthesisesDevicesFromCapacityAsHami) {
  const KunlunConfig config;
  auto devices = SynthesizeKunlunDevices(config, XpuNode("node-a", "8"));
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 8u);
  for (int32_t i = 0; i < 8; ++i) {
    const DeviceInfo& d = (*devices)[static_cast<size_t>(i)];
    EXPECT_EQ(d.id, "node-a-kunlun-" + std::to_string(i));
    EXPECT_EQ(d.index, i);
    EXPECT_EQ(d.count, 100);
    EXPECT_EQ(d.devmem_mib, 98304);
    EXPECT_EQ(d.devcore, 100);
    EXPECT_EQ(d.type, "kunlun");
    EXPECT_EQ(d.numa, i >= 4 ? 1 : 0);
    EXPECT_TRUE(d.health);
  }
  // Odd counts: HAMi's numa split is i >= cards / 2 (integer division).
  auto three = SynthesizeKunlunDevices(config, XpuNode("n", "3"));
  ASSERT_TRUE(three.ok());
  EXPECT_EQ((*three)[0].numa, 0);
  EXPECT_EQ((*three)[1].numa, 1);
  // A renamed resource is read instead of the default.
  KunlunConfig renamed;
  renamed.resource_count_name = "example.com/xpu";
  NodeFacts node = XpuNode("n", "8");
  node.capacity["example.com/xpu"] = "2";
  auto two = SynthesizeKunlunDevices(renamed, node);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
}

TEST(KunlunXpuTest, CapacityAbsentZeroOrMalformedIsRefused) {
  const KunlunConfig config;
  NodeFacts none;
  none.name = "n";
  EXPECT_EQ(SynthesizeKunlunDevices(config, none).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(SynthesizeKunlunDevices(config, XpuNode("n", "0")).status().code(),
            StatusCode::kNotFound);
  for (const char* bad : {"lots", "-1", "1.5", "", "100000"}) {
    auto r = SynthesizeKunlunDevices(config, XpuNode("n", bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("kunlunxin.com/xpu"), std::string::npos)
        << r.status().message();
  }
}

TEST(KunlunXpuTest, RequestTakesWholeXpusInHamisGroups) {
  const KunlunConfig config;
  for (int32_t count : {1, 2, 4, 8}) {
    auto r = DeriveKunlunRequest(config, {{"kunlunxin.com/xpu", std::to_string(count)}}, {});
    ASSERT_TRUE(r.ok() && r->has_value()) << count;
    const ContainerDeviceRequest& req = **r;
    EXPECT_EQ(req.count, count);
    EXPECT_EQ(req.type, "kunlun");
    EXPECT_EQ(req.memory_mib, 0);
    EXPECT_EQ(req.memory_percent, 100);
    EXPECT_EQ(req.cores_percent, 100);
    EXPECT_EQ(req.index_sets, KunlunIndexSets(count));
    // HAMi's device string for an XPU: its whole memory and cores.
    EXPECT_EQ(req.ResolveMemoryMib(98304), 98304);
  }
  auto from_requests = DeriveKunlunRequest(config, {}, {{"kunlunxin.com/xpu", "2"}});
  ASSERT_TRUE(from_requests.ok() && from_requests->has_value());
  EXPECT_EQ((*from_requests)->count, 2);
  // Limits win over requests.
  auto limits_win =
      DeriveKunlunRequest(config, {{"kunlunxin.com/xpu", "4"}}, {{"kunlunxin.com/xpu", "1"}});
  ASSERT_TRUE(limits_win.ok() && limits_win->has_value());
  EXPECT_EQ((*limits_win)->count, 4);
  for (const ResourceList& none :
       {ResourceList{{"kunlunxin.com/xpu", "0"}}, ResourceList{{"kunlunxin.com/vxpu", "1"}}}) {
    auto n = DeriveKunlunRequest(config, none, {});
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(n->has_value());
  }
  for (const char* bad : {"3", "5", "16", "0.5", "-1", "lots"}) {
    auto b = DeriveKunlunRequest(config, {{"kunlunxin.com/xpu", bad}}, {});
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("kunlunxin.com/xpu"), std::string::npos)
        << b.status().message();
  }
  auto three = DeriveKunlunRequest(config, {{"kunlunxin.com/xpu", "3"}}, {});
  EXPECT_NE(three.status().message().find("1, 2, 4 or 8"), std::string::npos);
}

TEST(KunlunXpuTest, KeysSelectorsAndAdmissionAreHamis) {
  const KunlunVendor vendor{KunlunConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "kunlun");
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"", "", "", "hami.io/kunlun-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(), (VendorResourceNames{"kunlunxin.com/xpu", "", "", "", ""}));
  auto s = vendor.ParseSelectors({{"baidu.com/use-gpuuuid", "n-kunlun-0,n-kunlun-1"},
                                  {"baidu.com/nouse-gpuuuid", "n-kunlun-1"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"n-kunlun-0", "n-kunlun-1"}));
  EXPECT_EQ(s->nouse_uuids,
            (std::vector<std::string>{"n-kunlun-1"}));  // both lists apply, as HAMi >= 2.9
  auto nouse = vendor.ParseSelectors({{"baidu.com/nouse-gpuuuid", "n-kunlun-1"}});
  ASSERT_TRUE(nouse.ok());
  EXPECT_EQ(nouse->nouse_uuids, (std::vector<std::string>{"n-kunlun-1"}));
  // Registration comes from capacity only.
  EXPECT_EQ(vendor.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
  auto node = vendor.DecodeNode(XpuNode("n", "8"));
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->size(), 8u);
  // HAMi's MutateAdmission: the count in limits makes the pod ours; requests alone do not.
  auto ours = vendor.MutateAdmission("c", {{"kunlunxin.com/xpu", "1"}}, {});
  ASSERT_TRUE(ours.ok());
  EXPECT_TRUE(ours->uses_device);
  auto requests_only = vendor.MutateAdmission("c", {}, {{"kunlunxin.com/xpu", "1"}});
  ASSERT_TRUE(requests_only.ok());
  EXPECT_FALSE(requests_only->uses_device);
  EXPECT_FALSE(vendor.MutateAdmission("c", {{"kunlunxin.com/xpu", "3"}}, {}).ok());
}

TEST(KunlunXpuTest, DecisionWritesAllocatedAndTheLastContainersIndexes) {
  const KunlunVendor vendor{KunlunConfig{}};
  const PodDevices devices = {
      {{"node-a-kunlun-0", "kunlun", 98304, 100}, {"node-a-kunlun-1", "kunlun", 98304, 100}},
      {},
      {{"node-a-kunlun-4", "kunlun", 98304, 100}}};
  Annotations out;
  vendor.AddDecisionAnnotations(devices, "node-a", 1'700'000'000, &out);
  EXPECT_EQ(out, (Annotations{{"hami.io/kunlun-allocated",
                               "node-a-kunlun-0,kunlun,98304,100:node-a-kunlun-1,kunlun,98304,"
                               "100:;;node-a-kunlun-4,kunlun,98304,100:;"},
                              {"BAIDU_COM_DEVICE_IDX", "4"}}));
  Annotations one;
  vendor.AddDecisionAnnotations({{{"n-kunlun-2", "kunlun", 98304, 100}}}, "n", 0, &one);
  EXPECT_EQ(one["BAIDU_COM_DEVICE_IDX"], "2");
  EXPECT_EQ(one.count("hami.io/kunlun-devices-to-allocate"), 0u);
  Annotations nothing;
  vendor.AddDecisionAnnotations({{}, {}}, "n", 0, &nothing);
  EXPECT_TRUE(nothing.empty());
}

TEST(KunlunVxpuTest, MemoryRoundsUpToHamisVxpuSizes) {
  // HAMi's trimMemory.
  EXPECT_EQ(KunlunVxpuMemoryMib(0), 24576);
  EXPECT_EQ(KunlunVxpuMemoryMib(1), 24576);
  EXPECT_EQ(KunlunVxpuMemoryMib(24576), 24576);
  EXPECT_EQ(KunlunVxpuMemoryMib(24577), 49152);
  EXPECT_EQ(KunlunVxpuMemoryMib(49152), 49152);
  EXPECT_EQ(KunlunVxpuMemoryMib(49153), 98304);
  EXPECT_EQ(KunlunVxpuMemoryMib(98304), 98304);
  EXPECT_EQ(KunlunVxpuMemoryMib(1'000'000), 98304);
}

TEST(KunlunVxpuTest, RequestIsAVxpuOfTheRoundedSize) {
  const KunlunConfig config;
  struct Case {
    ResourceList limits;
    int32_t count, memory, cores;
  } cases[] = {
      {{{"kunlunxin.com/vxpu", "1"}, {"kunlunxin.com/vxpu-memory", "20000"}}, 1, 24576, 25},
      {{{"kunlunxin.com/vxpu", "1"}, {"kunlunxin.com/vxpu-memory", "24577"}}, 1, 49152, 50},
      {{{"kunlunxin.com/vxpu", "2"}, {"kunlunxin.com/vxpu-memory", "60000"}}, 2, 98304, 100},
      // Without memory: a whole XPU (HAMi: memory 98304, percent 100, cores 100).
      {{{"kunlunxin.com/vxpu", "4"}}, 4, 98304, 100},
      // Beyond one XPU is still one XPU.
      {{{"kunlunxin.com/vxpu", "1"}, {"kunlunxin.com/vxpu-memory", "24Gi"}}, 1, 98304, 100},
  };
  for (const Case& c : cases) {
    auto r = DeriveKunlunVxpuRequest(config, c.limits, {});
    ASSERT_TRUE(r.ok() && r->has_value()) << r.status().message();
    EXPECT_EQ((*r)->count, c.count);
    EXPECT_EQ((*r)->type, "XPU");
    EXPECT_EQ((*r)->memory_mib, c.memory);
    EXPECT_EQ((*r)->memory_percent, kMemoryPercentUnset);
    EXPECT_EQ((*r)->cores_percent, c.cores);
    EXPECT_EQ((*r)->index_sets, KunlunIndexSets(c.count));
  }
  // Memory from requests when limits lack it.
  auto split = DeriveKunlunVxpuRequest(config, {{"kunlunxin.com/vxpu", "1"}},
                                       {{"kunlunxin.com/vxpu-memory", "40000"}});
  ASSERT_TRUE(split.ok() && split->has_value());
  EXPECT_EQ((*split)->memory_mib, 49152);
  auto none = DeriveKunlunVxpuRequest(config, {{"kunlunxin.com/vxpu-memory", "40000"}}, {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (const ResourceList& bad : {
           ResourceList{{"kunlunxin.com/vxpu", "3"}},
           ResourceList{{"kunlunxin.com/vxpu", "x"}},
           ResourceList{{"kunlunxin.com/vxpu", "1"}, {"kunlunxin.com/vxpu-memory", "-5"}},
           ResourceList{{"kunlunxin.com/vxpu", "1"}, {"kunlunxin.com/vxpu-memory", "0.5"}},
           ResourceList{{"kunlunxin.com/vxpu", "1"}, {"kunlunxin.com/vxpu-memory", "lots"}},
       }) {
    auto b = DeriveKunlunVxpuRequest(config, bad, {});
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.status().message().find("kunlunxin.com/vxpu"), std::string::npos)
        << b.status().message();
  }
}

TEST(KunlunVxpuTest, RegistrationKeysAndSelectorsAreHamis) {
  const KunlunVxpuVendor vendor{KunlunConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "XPU");
  EXPECT_EQ(
      vendor.AnnotationKeys(),
      (VendorAnnotationKeys{"hami.io/node-register-xpu", "hami.io/node-handshake-xpu",
                            "hami.io/xpu-devices-to-allocate", "hami.io/xpu-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(),
            (VendorResourceNames{"kunlunxin.com/vxpu", "kunlunxin.com/vxpu-memory", "", "", ""}));
  DeviceInfo xpu;
  xpu.id = "XPU-0";
  xpu.count = 4;
  xpu.devmem_mib = 98304;
  xpu.devcore = 100;
  xpu.type = "P800";
  xpu.health = true;
  auto devices =
      vendor.DecodeRegistration({{"hami.io/node-register-xpu", EncodeNodeDevicesJson({xpu})}});
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 1u);
  EXPECT_EQ((*devices)[0], xpu);
  EXPECT_EQ(vendor.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
  for (const char* bad : {"", "[]", "not json", "[{\"id\":1}]"}) {
    auto r = vendor.DecodeRegistration({{"hami.io/node-register-xpu", bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("hami.io/node-register-xpu"), std::string::npos);
  }
  auto s = vendor.ParseSelectors(
      {{"hami.io/use-xpu-uuid", "XPU-0"}, {"hami.io/no-use-xpu-uuid", "XPU-0"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"XPU-0"}));
  EXPECT_EQ(s->nouse_uuids,
            (std::vector<std::string>{"XPU-0"}));  // both lists apply, as HAMi >= 2.9
  // Default admission: the vxpu limit makes the pod ours; the memory limit is left as given.
  auto admission = vendor.MutateAdmission(
      "c", {{"kunlunxin.com/vxpu", "1"}, {"kunlunxin.com/vxpu-memory", "20000"}}, {});
  ASSERT_TRUE(admission.ok());
  EXPECT_TRUE(admission->uses_device);
  EXPECT_EQ(admission->limits.at("kunlunxin.com/vxpu-memory"), "20000");
  ASSERT_TRUE(admission->request.has_value());
  EXPECT_EQ(admission->request->memory_mib, 24576);
  // The default decision annotations: both keys carry the device string.
  Annotations out;
  vendor.AddDecisionAnnotations({{{"XPU-0", "XPU", 24576, 25}}}, "n", 0, &out);
  EXPECT_EQ(out, (Annotations{{"hami.io/xpu-devices-to-allocate", "XPU-0,XPU,24576,25:;"},
                              {"hami.io/xpu-devices-allocated", "XPU-0,XPU,24576,25:;"}}));
}

TEST(KunlunConfigTest, SectionEnablesBothVendors) {
  DeviceConfig config;
  auto empty = MakeVendorRegistry(config);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->Find("kunlun"), nullptr);
  config.kunlun = KunlunConfig{};
  auto registry = MakeVendorRegistry(config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  ASSERT_NE(registry->Find("kunlun"), nullptr);
  ASSERT_NE(registry->Find("XPU"), nullptr);
  auto requests = RequestsForContainer(*registry, {{"kunlunxin.com/xpu", "2"}}, {});
  ASSERT_TRUE(requests.ok());
  ASSERT_EQ(requests->size(), 1u);
  EXPECT_EQ((*requests)[0].type, "kunlun");
  config.kunlun->resource_vmemory_name = "";
  auto invalid = MakeVendorRegistry(config);
  EXPECT_FALSE(invalid.ok());
}

}  // namespace
}  // namespace hami
