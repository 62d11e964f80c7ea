#include "device/mthreads.h"

#include <gtest/gtest.h>

namespace hami {
namespace {

// As Moore Threads' device plugin publishes 2 MTT S4000 cards: 16 core groups per card and
// 96 x 512 MiB of memory per card, both summed over the node.
NodeFacts MthreadsNode(std::string cores = "32", std::string memory = "192") {
  NodeFacts node;
  node.name = "mt-node";
  node.capacity = {{"mthreads.com/sgpu-core", std::move(cores)},
                   {"mthreads.com/sgpu-memory", std::move(memory)}};
  return node;
}

TEST(MthreadsRequestTest, DerivesAsHamiDoes) {
  const MthreadsConfig config;
  // HAMi's docs example: 1 vgpu, 32 x 512 MiB, 8 core groups.
  auto r = DeriveMthreadsRequest(config,
                                 {{"mthreads.com/vgpu", "1"},
                                  {"mthreads.com/sgpu-memory", "32"},
                                  {"mthreads.com/sgpu-core", "8"}},
                                 {});
  ASSERT_TRUE(r.ok() && r->has_value()) << r.status().message();
  EXPECT_EQ(**r, (ContainerDeviceRequest{1, "Mthreads", 16384, kMemoryPercentUnset, 8}));
  // Memory without cores: no cores (HAMi's default 0).
  auto no_cores = DeriveMthreadsRequest(
      config, {{"mthreads.com/vgpu", "1"}, {"mthreads.com/sgpu-memory", "4"}}, {});
  EXPECT_EQ(**no_cores, (ContainerDeviceRequest{1, "Mthreads", 2048, kMemoryPercentUnset, 0}));
  // Several cards, or one without memory: whole cards (all 16 groups, all memory).
  for (const ResourceList& whole :
       {ResourceList{{"mthreads.com/vgpu", "2"}, {"mthreads.com/sgpu-memory", "192"}},
        ResourceList{{"mthreads.com/vgpu", "1"}, {"mthreads.com/sgpu-core", "4"}}}) {
    auto w = DeriveMthreadsRequest(config, whole, {});
    ASSERT_TRUE(w.ok() && w->has_value());
    EXPECT_EQ((*w)->memory_percent, 100);
    EXPECT_EQ((*w)->memory_mib, 0);
    EXPECT_EQ((*w)->cores_percent, 16);
  }
  auto none = DeriveMthreadsRequest(config, {{"mthreads.com/vgpu", "0"}}, {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (const char* bad : {"1.5", "-2", "x"}) {
    auto b = DeriveMthreadsRequest(
        config, {{"mthreads.com/vgpu", "1"}, {"mthreads.com/sgpu-memory", bad}}, {});
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("mthreads.com/sgpu-memory"), std::string::npos);
  }
}

TEST(MthreadsRequestTest, LegalMemorySizesFollowTheCardSizes) {
  MthreadsConfig config;
  EXPECT_EQ(MthreadsLegalMemoryUnits(config), (std::vector<int64_t>{2, 4, 8, 16, 32, 64, 96}));
  config.memory_per_card_units = {96, 160};  // an S4000 + S5000 cluster: the union
  EXPECT_EQ(MthreadsLegalMemoryUnits(config),
            (std::vector<int64_t>{2, 4, 8, 16, 32, 64, 96, 128, 160}));
}

TEST(MthreadsNodeTest, SynthesisesCardsFromCapacityAsHami) {
  const MthreadsVendor vendor{MthreadsConfig{}};
  auto devices = vendor.DecodeNode(MthreadsNode());
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[1].id, "mt-node-mthreads-1");
  EXPECT_EQ((*devices)[1].index, 1);
  EXPECT_EQ((*devices)[1].count, 100);
  EXPECT_EQ((*devices)[1].devcore, 16);
  EXPECT_EQ((*devices)[1].devmem_mib, 49152);  // 192 * 512 * 16 / 32
  EXPECT_EQ((*devices)[1].type, "Mthreads");
  EXPECT_EQ(vendor.DecodeNode(NodeFacts{}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(vendor.DecodeNode(MthreadsNode("0")).status().code(), StatusCode::kNotFound);
  for (const auto& [cores, memory] : std::vector<std::pair<std::string, std::string>>{
           {"many", "192"}, {"-16", "192"}, {"32", "0.5"}, {"1e9", "1"}, {"16", "1e8"}}) {
    auto bad = vendor.DecodeNode(MthreadsNode(cores, memory));
    ASSERT_FALSE(bad.ok()) << cores << " " << memory;
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("mthreads.com/sgpu-"), std::string::npos);
  }
}

// Newer HAMi numbers cards by the physical ids of mthreads.com/sgpu.cores (sgpu_km may bind
// cards 0, 2 and 3 of four), so mthreads.com/gpu-index names the card the plugin must use.
TEST(MthreadsNodeTest, SgpuCoresLabelGivesPhysicalCardIds) {
  const MthreadsVendor vendor{MthreadsConfig{}};
  NodeFacts node = MthreadsNode("48", "288");
  node.labels[kMthreadsSgpuCoresLabel] = "0-2-3";
  auto devices = vendor.DecodeNode(node);
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 3u);
  const std::vector<std::pair<std::string, int32_t>> want = {
      {"mt-node-mthreads-0", 0}, {"mt-node-mthreads-2", 2}, {"mt-node-mthreads-3", 3}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*devices)[i].id, want[i].first);
    EXPECT_EQ((*devices)[i].index, want[i].second);
    EXPECT_EQ((*devices)[i].devmem_mib, 49152);  // 288 * 512 * 16 / 48, as without the label
    EXPECT_EQ((*devices)[i].devcore, 16);
  }
  Annotations out;
  vendor.AddDecisionAnnotations(
      {{{(*devices)[1].id, "Mthreads", 49152, 16}, {(*devices)[2].id, "Mthreads", 49152, 16}}},
      "mt-node", 1, &out);
  EXPECT_EQ(out.at("mthreads.com/gpu-index"), "2,3");
  // ',' separates too; an empty label is HAMi's fallback 0..N-1.
  node.labels[kMthreadsSgpuCoresLabel] = "1, 4,5";
  EXPECT_EQ((*vendor.DecodeNode(node))[2].id, "mt-node-mthreads-5");
  node.labels[kMthreadsSgpuCoresLabel] = "";
  EXPECT_EQ((*vendor.DecodeNode(node))[2].id, "mt-node-mthreads-2");
}

TEST(MthreadsNodeTest, MalformedOrMismatchedSgpuCoresLabelRefusesTheNodesCards) {
  const MthreadsVendor vendor{MthreadsConfig{}};
  for (const char* bad : {"0--2-3", "0-2-", "a-b-c", "0-2-x", "0-0-1", "-1-2-3", "0-2-99999999999",
                          "0 2 3", "0-1.5-2"}) {
    NodeFacts node = MthreadsNode("48", "288");
    node.labels[kMthreadsSgpuCoresLabel] = bad;
    auto r = vendor.DecodeNode(node);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("mthreads.com/sgpu.cores"), std::string::npos)
        << r.status().message();
  }
  // HAMi's strict path: the label's card count must match the core capacity exactly.
  for (const auto& [label, cores] : std::vector<std::pair<std::string, std::string>>{
           {"0-2", "48"}, {"0-1-2-3", "48"}, {"0-1-2", "40"}}) {
    NodeFacts node = MthreadsNode(cores, "288");
    node.labels[kMthreadsSgpuCoresLabel] = label;
    auto r = vendor.DecodeNode(node);
    ASSERT_FALSE(r.ok()) << label << " " << cores;
    EXPECT_NE(r.status().message().find("sgpu capacity mismatch"), std::string::npos);
    EXPECT_NE(r.status().message().find("mthreads.com/sgpu.cores"), std::string::npos);
  }
  // Without capacity there are no cards, whatever the label says.
  NodeFacts empty;
  empty.labels[kMthreadsSgpuCoresLabel] = "0-1";
  EXPECT_EQ(vendor.DecodeNode(empty).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseMthreadsCardIds("3-1-0").value(), (std::vector<int32_t>{3, 1, 0}));
}

TEST(MthreadsVendorTest, KeysAndSelectorsAreHamis) {
  const MthreadsVendor vendor{MthreadsConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "Mthreads");
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"", "", "", "hami.io/mthreads-vgpu-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(),
            (VendorResourceNames{"mthreads.com/vgpu", "mthreads.com/sgpu-memory", "",
                                 "mthreads.com/sgpu-core", ""}));
  EXPECT_EQ(vendor.ExtraNodeLockAnnotation(), "");
  auto s = vendor.ParseSelectors(
      {{"mthreads.ai/use-gpuuuid", "mt-node-mthreads-0"}, {"mthreads.ai/nouse-gpuuuid", "x"}});
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"mt-node-mthreads-0"}));
  EXPECT_EQ(s->nouse_uuids, (std::vector<std::string>{"x"}));  // both lists apply, as HAMi >= 2.9
  EXPECT_EQ(vendor.ParseSelectors({{"mthreads.ai/nouse-gpuuuid", "x"}})->nouse_uuids,
            (std::vector<std::string>{"x"}));
}

TEST(MthreadsVendorTest, WebhookGivesWholeCardsAndChecksMemorySizes) {
  const MthreadsVendor vendor{MthreadsConfig{}};
  // Two cards: 32 core groups and 2 x 96 units, as HAMi's webhook writes them.
  auto two = vendor.MutateAdmission("c", {{"mthreads.com/vgpu", "2"}}, {});
  ASSERT_TRUE(two.ok()) << two.status().message();
  EXPECT_TRUE(two->uses_device);
  EXPECT_EQ(two->limits, (ResourceList{{"mthreads.com/vgpu", "2"},
                                       {"mthreads.com/sgpu-core", "32"},
                                       {"mthreads.com/sgpu-memory", "192"}}));
  EXPECT_EQ(two->request->cores_percent, 16);
  // One card without memory: the whole card too.
  auto one = vendor.MutateAdmission("c", {{"mthreads.com/vgpu", "1"}}, {});
  EXPECT_EQ(one->limits.at("mthreads.com/sgpu-core"), "16");
  EXPECT_EQ(one->limits.at("mthreads.com/sgpu-memory"), "96");
  // A share of a legal size passes unchanged; another size is refused with the list.
  const ResourceList share = {{"mthreads.com/vgpu", "1"},
                              {"mthreads.com/sgpu-memory", "32"},
                              {"mthreads.com/sgpu-core", "8"}};
  auto ok = vendor.MutateAdmission("c", share, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->limits, share);
  auto bad = vendor.MutateAdmission(
      "c", {{"mthreads.com/vgpu", "1"}, {"mthreads.com/sgpu-memory", "3"}}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("2, 4, 8, 16, 32, 64, 96"), std::string::npos)
      << bad.status().message();
  // Whole cards of two sizes: the memory limit is left to the card.
  MthreadsConfig mixed;
  mixed.memory_per_card_units = {96, 160};
  auto two_sizes = MthreadsVendor(mixed).MutateAdmission(
      "c", {{"mthreads.com/vgpu", "2"}, {"mthreads.com/sgpu-memory", "5"}}, {});
  ASSERT_TRUE(two_sizes.ok());
  EXPECT_EQ(two_sizes->limits.count("mthreads.com/sgpu-memory"), 0u);
  EXPECT_TRUE(MthreadsVendor(mixed)
                  .MutateAdmission(
                      "c", {{"mthreads.com/vgpu", "1"}, {"mthreads.com/sgpu-memory", "128"}}, {})
                  .ok());
  // mthreads.com/gpu (whole cards outside HAMi) with sGPU resources is refused.
  auto mix =
      vendor.MutateAdmission("c", {{"mthreads.com/gpu", "1"}}, {{"mthreads.com/sgpu-memory", "4"}});
  ASSERT_FALSE(mix.ok());
  EXPECT_NE(mix.status().message().find("cannot mix mthreads.com/gpu"), std::string::npos);
  auto other = vendor.MutateAdmission("c", {{"nvidia.com/gpu", "1"}}, {});
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->uses_device);
  EXPECT_FALSE(other->request.has_value());
}

TEST(MthreadsVendorTest, DecisionAnnotationsAreHamis) {
  const MthreadsVendor vendor{MthreadsConfig{}};
  Annotations out;
  vendor.AddDecisionAnnotations({{{"mt-node-mthreads-0", "Mthreads", 49152, 16},
                                  {"mt-node-mthreads-1", "Mthreads", 49152, 16}}},
                                "mt-node", 1700000000, &out);
  EXPECT_EQ(out,
            (Annotations{
                {"hami.io/mthreads-vgpu-devices-allocated",
                 "mt-node-mthreads-0,Mthreads,49152,16:mt-node-mthreads-1,Mthreads,49152,16:;"},
                {"mthreads.com/gpu-index", "0,1"},
                {"mthreads.com/predicate-node", "mt-node"},
                {"mthreads.com/predicate-time", "1700000000000000000"},
                {"mthreads.com/request-gpu-num", "2"},
            }));
  Annotations one;
  vendor.AddDecisionAnnotations({{{"mt-node-mthreads-1", "Mthreads", 16384, 8}}}, "mt-node", 5,
                                &one);
  EXPECT_EQ(one.count("mthreads.com/request-gpu-num"), 0u);
  EXPECT_EQ(one.at("mthreads.com/gpu-index"), "1");
  EXPECT_EQ(one.at("mthreads.com/predicate-time"), "5000000000");
  Annotations none;
  vendor.AddDecisionAnnotations({{}}, "mt-node", 5, &none);
  EXPECT_TRUE(none.empty());
}

TEST(MthreadsRegistryTest, TheMthreadsSectionEnablesTheVendor) {
  DeviceConfig config = DefaultDeviceConfig();
  EXPECT_EQ(MakeVendorRegistry(config)->Find("Mthreads"), nullptr);
  config.mthreads = MthreadsConfig{};
  auto registry = MakeVendorRegistry(config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  EXPECT_NE(registry->Find("Mthreads"), nullptr);
  config.mthreads->memory_per_card_units = {0};
  EXPECT_FALSE(MakeVendorRegistry(config).ok());
}

}  // namespace
}  // namespace hami
