#include "device/ascend.h"

#include <gtest/gtest.h>

#include "device/chart_config.h"
#include "device/codec.h"

namespace hami {
namespace {

using IndexSets = std::vector<std::vector<int32_t>>;

// The chart's vnpus section (with its other vendor sections), loaded through the real config
// loader.
AscendConfig Chart() {
  auto config = LoadDeviceConfig(kChartVendorSectionsYaml);
  EXPECT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->ascend.has_value());
  return config.ok() && config->ascend ? *config->ascend : AscendConfig{};
}

AscendChipConfig Chip(const std::string& common_word) {
  for (const AscendChipConfig& chip : Chart().configs) {
    if (chip.common_word == common_word) return chip;
  }
  ADD_FAILURE() << "no chip " << common_word;
  return {};
}

ContainerDeviceRequest Npu(const std::string& cw, int32_t count, int32_t memory_mib,
                           int32_t percent, int32_t cores) {
  return ContainerDeviceRequest{count, cw, memory_mib, percent, cores};
}

TEST(AscendConfigTest, ChartLoadsAndNeedsTheFlag) {
  auto chart = LoadDeviceConfig(kChartVendorSectionsYaml);
  ASSERT_TRUE(chart.ok()) << chart.status().message();
  ASSERT_TRUE(chart->ascend.has_value());
  ASSERT_EQ(chart->ascend->configs.size(), 7u);
  std::optional<DeviceConfig> config = DeviceConfig{};  // the vnpus section alone
  config->ascend = chart->ascend;

  auto registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  EXPECT_TRUE(registry->IsEmpty());  // HAMi: only with --enable-ascend
  config->enable_ascend = true;
  registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  EXPECT_EQ(registry->Size(), 7u);
  for (const char* cw : {"Ascend910A", "Ascend910B2", "Ascend910B3", "Ascend910B4", "Ascend910B4-1",
                         "Ascend310P", "Ascend910C"}) {
    const Vendor* v = registry->Find(cw);
    ASSERT_NE(v, nullptr) << cw;
    EXPECT_EQ(v->ResourceNames().count, std::string("huawei.com/") + cw);
    EXPECT_EQ(v->ResourceNames().memory, std::string("huawei.com/") + cw + "-memory");
    EXPECT_EQ(v->ResourceNames().cores, std::string("huawei.com/") + cw + "-core");
  }
  const auto* c = dynamic_cast<const AscendVendor*>(registry->Find("Ascend910C"));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->PairsModules());
  EXPECT_FALSE(dynamic_cast<const AscendVendor*>(registry->Find("Ascend910B3"))->PairsModules());

  DeviceConfig only_flag = *config;
  only_flag.ascend.reset();
  registry = MakeVendorRegistry(only_flag);
  ASSERT_TRUE(registry.ok());
  EXPECT_TRUE(registry->IsEmpty());

  // An invalid section is refused by MakeVendorRegistry too, naming the field.
  config->ascend->configs[2].memory_capacity = 0;
  registry = MakeVendorRegistry(*config);
  ASSERT_FALSE(registry.ok());
  EXPECT_NE(registry.status().message().find("memoryCapacity"), std::string::npos)
      << registry.status().message();
}

TEST(AscendVendorTest, KeysFollowTheCommonWord) {
  AscendVendor v(Chip("Ascend910B3"), false);
  EXPECT_EQ(v.CommonWord(), "Ascend910B3");
  EXPECT_EQ(v.AnnotationKeys().node_register, "hami.io/node-register-Ascend910B3");
  EXPECT_EQ(v.AnnotationKeys().node_handshake, "hami.io/node-handshake-Ascend910B3");
  EXPECT_EQ(v.AnnotationKeys().to_allocate, "hami.io/Ascend910B3-devices-to-allocate");
  EXPECT_EQ(v.AnnotationKeys().allocated, "hami.io/Ascend910B3-devices-allocated");
  EXPECT_EQ(v.MemoryFactor(), 1);
  EXPECT_FALSE(v.DropsDevicesWhenAllocatableFallsToZero());
  auto s = v.ParseSelectors(
      {{"hami.io/use-Ascend910B3-uuid", "a, b"}, {"hami.io/no-use-Ascend910B3-uuid", "a"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s->nouse_uuids, (std::vector<std::string>{"a"}));  // both lists apply, as HAMi >= 2.9
  s = v.ParseSelectors({{"hami.io/no-use-Ascend910B3-uuid", "a"}});
  EXPECT_EQ(s->nouse_uuids, (std::vector<std::string>{"a"}));
  s = v.ParseSelectors({{"hami.io/use-Ascend910A-uuid", "a"}});  // another chip's key
  EXPECT_TRUE(s->use_uuids.empty());
}

TEST(AscendVendorTest, TrimsMemoryToTheSmallestTemplateAsHami) {
  AscendChipConfig chip = Chip("Ascend910A");
  std::reverse(chip.templates.begin(), chip.templates.end());  // sorted by the vendor
  AscendVendor v(chip, false);
  EXPECT_EQ(v.Config().templates.front().name, "vir02");
  struct Case {
    int64_t asked;
    std::optional<AscendMemoryTrim> want;
  };
  const Case cases[] = {
      {0, AscendMemoryTrim{2184, "vir02"}},    {1, AscendMemoryTrim{2184, "vir02"}},
      {2184, AscendMemoryTrim{2184, "vir02"}}, {2185, AscendMemoryTrim{4369, "vir04"}},
      {8738, AscendMemoryTrim{8738, "vir08"}}, {17476, AscendMemoryTrim{17476, "vir16"}},
      {17477, AscendMemoryTrim{32768, ""}},    {20000, AscendMemoryTrim{32768, ""}},
      {32768, AscendMemoryTrim{32768, ""}},    {32769, std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(v.TrimMemory(c.asked), c.want) << c.asked;

  // 310P: memoryAllocatable (21527) below memoryCapacity (24576).
  AscendVendor p(Chip("Ascend310P"), false);
  EXPECT_EQ(p.TrimMemory(12289), (AscendMemoryTrim{21527, ""}));
  EXPECT_EQ(p.TrimMemory(24576), (AscendMemoryTrim{21527, ""}));
  EXPECT_EQ(p.TrimMemory(24577), std::nullopt);
}

TEST(AscendRequestTest, DerivesAsHami) {
  AscendVendor a(Chip("Ascend910A"), false);
  struct Case {
    ResourceList limits;
    ResourceList requests;
    std::optional<ContainerDeviceRequest> want;
  };
  const Case cases[] = {
      // HAMi's Test_GenerateResourceRequests.
      {{}, {}, std::nullopt},
      {{{"huawei.com/Ascend910A", "2"}, {"huawei.com/Ascend910A-memory", "8738"}},
       {},
       Npu("Ascend910A", 2, 8738, kMemoryPercentUnset, 0)},
      {{{"huawei.com/Ascend910A", "2"}}, {}, Npu("Ascend910A", 2, 0, 100, 0)},
      // Requests when limits lack the resource; rounding up to a template.
      {{},
       {{"huawei.com/Ascend910A", "1"}, {"huawei.com/Ascend910A-memory", "3000"}},
       Npu("Ascend910A", 1, 4369, kMemoryPercentUnset, 0)},
      {{{"huawei.com/Ascend910A", "1"}, {"huawei.com/Ascend910A-memory", "20000"}},
       {},
       Npu("Ascend910A", 1, 32768, kMemoryPercentUnset, 0)},
      {{{"huawei.com/Ascend910A", "0"}}, {}, std::nullopt},
      {{{"huawei.com/Ascend910B3", "1"}}, {}, std::nullopt},  // another chip
      // -core 0 is not a hami-core request: template mode.
      {{{"huawei.com/Ascend910A", "1"},
        {"huawei.com/Ascend910A-memory", "100"},
        {"huawei.com/Ascend910A-core", "0"}},
       {},
       Npu("Ascend910A", 1, 2184, kMemoryPercentUnset, 0)},
  };
  for (const Case& c : cases) {
    auto r = a.RequestFromResources(c.limits, c.requests);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(*r, c.want);
  }
}

TEST(AscendRequestTest, MemoryFactorScalesBeforeRounding) {
  // HAMi's Test_GenerateResourceRequestsFactor: 128 x 10 -> vir02, 128 x 100 -> vir16.
  const ResourceList limits = {{"huawei.com/Ascend910A", "1"},
                               {"huawei.com/Ascend910A-memory", "128"}};
  for (auto [factor, want] : {std::pair{10, 2184}, std::pair{100, 17476}, std::pair{1, 2184}}) {
    AscendChipConfig chip = Chip("Ascend910A");
    chip.memory_factor = factor;
    AscendVendor v(chip, false);
    EXPECT_EQ(v.MemoryFactor(), factor);
    auto r = v.RequestFromResources(limits, limits);
    ASSERT_TRUE(r.ok() && r->has_value()) << factor;
    EXPECT_EQ((*r)->memory_mib, want) << factor;
  }
}

TEST(AscendRequestTest, HamiCoreKeepsMemoryAndTakesCores) {
  AscendVendor v(Chip("Ascend910B3"), /*hami_vnpu_core=*/true);
  // HAMi's Test_GenerateResourceRequests_VNPUCoreMode.
  auto r = v.RequestFromResources({{"huawei.com/Ascend910B3", "1"},
                                   {"huawei.com/Ascend910B3-core", "10"},
                                   {"huawei.com/Ascend910B3-memory", "15360"}},
                                  {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, Npu("Ascend910B3", 1, 15360, kMemoryPercentUnset, 10));
  // Cores capped at 100 (HAMi's Fit); no memory = the whole NPU's memory.
  r = v.RequestFromResources(
      {{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-core", "150"}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Npu("Ascend910B3", 1, 0, 100, 100));
  // Memory above the chip's capacity is the user's business in soft split (the fit refuses).
  r = v.RequestFromResources({{"huawei.com/Ascend910B3", "1"},
                              {"huawei.com/Ascend910B3-core", "10"},
                              {"huawei.com/Ascend910B3-memory", "70000"}},
                             {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->memory_mib, 70000);
}

TEST(AscendRequestTest, RefusesBadInput) {
  AscendVendor v(Chip("Ascend910B3"), false);
  const std::pair<ResourceList, const char*> cases[] = {
      {{{"huawei.com/Ascend910B3", "1.5"}}, "huawei.com/Ascend910B3"},
      {{{"huawei.com/Ascend910B3", "-1"}}, "huawei.com/Ascend910B3"},
      {{{"huawei.com/Ascend910B3", "x"}}, "huawei.com/Ascend910B3"},
      {{{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-memory", "1Gi"}},
       "huawei.com/Ascend910B3-memory"},  // 1073741824 MiB: beyond int32
      {{{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-memory", "-5"}},
       "huawei.com/Ascend910B3-memory"},
      {{{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-memory", "65537"}},
       "huawei.com/Ascend910B3-memory"},  // above memoryCapacity
      {{{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-core", "10"}},
       "hami-core"},  // soft split while hamiVnpuCore is off
      {{{"huawei.com/Ascend910B3", "1"}, {"huawei.com/Ascend910B3-core", "0.5"}},
       "huawei.com/Ascend910B3-core"},
  };
  for (const auto& [limits, needle] : cases) {
    auto r = v.RequestFromResources(limits, {});
    ASSERT_FALSE(r.ok()) << limits.rbegin()->second;
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  }
}

TEST(AscendRequestTest, SuperPod910CTakesWholeModules) {
  AscendVendor c(Chip("Ascend910C"), false);
  ASSERT_TRUE(c.PairsModules());
  auto two = c.RequestFromResources({{"huawei.com/Ascend910C", "2"}}, {});
  ASSERT_TRUE(two.ok() && two->has_value());
  ASSERT_NE((*two)->index_sets, nullptr);
  ASSERT_EQ((*two)->index_sets->size(), 1u);  // one rule, for any device type
  EXPECT_EQ((*two)->index_sets->front().device_type, "");
  const IndexSets& two_sets = (*two)->index_sets->front().sets;
  ASSERT_EQ(two_sets.size(), 8u);  // one per module
  EXPECT_EQ(two_sets.front(), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(two_sets.back(), (std::vector<int32_t>{14, 15}));

  auto four = c.RequestFromResources({{"huawei.com/Ascend910C", "4"}}, {});
  ASSERT_TRUE(four.ok() && four->has_value());
  const IndexSets& four_sets = (*four)->index_sets->front().sets;
  ASSERT_EQ(four_sets.size(), 28u);  // C(8, 2)
  EXPECT_EQ(four_sets.front(), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(four_sets.at(1), (std::vector<int32_t>{0, 1, 4, 5}));
  for (const auto& set : four_sets) {
    ASSERT_EQ(set.size(), 4u);
    for (size_t i = 0; i < set.size(); i += 2) {
      EXPECT_EQ(set[i] % 2, 0);
      EXPECT_EQ(set[i + 1], set[i] + 1);  // (2k, 2k+1)
    }
  }
  auto sixteen = c.RequestFromResources({{"huawei.com/Ascend910C", "16"}}, {});
  ASSERT_TRUE(sixteen.ok());
  EXPECT_EQ((*sixteen)->index_sets->front().sets.size(), 1u);
  auto eighteen = c.RequestFromResources({{"huawei.com/Ascend910C", "18"}}, {});
  ASSERT_TRUE(eighteen.ok());
  EXPECT_TRUE((*eighteen)->index_sets->front().sets.empty());  // fits nowhere

  // One NPU without the webhook: a single NPU, as HAMi's Fit for a request of 1.
  auto one = c.RequestFromResources({{"huawei.com/Ascend910C", "1"}}, {});
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->index_sets, nullptr);
  auto three = c.RequestFromResources({{"huawei.com/Ascend910C", "3"}}, {});
  ASSERT_FALSE(three.ok());
  EXPECT_NE(three.status().message().find("module pairs"), std::string::npos);

  // Without superPod (HAMi gates the pairing on it) any NPUs do.
  AscendChipConfig plain = Chip("Ascend910C");
  plain.super_pod = false;
  AscendVendor p(plain, false);
  auto three_plain = p.RequestFromResources({{"huawei.com/Ascend910C", "3"}}, {});
  ASSERT_TRUE(three_plain.ok() && three_plain->has_value());
  EXPECT_EQ((*three_plain)->index_sets, nullptr);
  // superPod on another chip is not HAMi's pairing rule.
  AscendChipConfig b3 = Chip("Ascend910B3");
  b3.super_pod = true;
  EXPECT_FALSE(AscendVendor(b3, false).PairsModules());
}

TEST(AscendVendorTest, DecodesJsonRegistrationAndRefusesBadOnes) {
  AscendVendor v(Chip("Ascend910A"), false);
  // HAMi's Test_GetNodeDevices, plus the plugin's NetworkID custom info.
  auto devices = v.DecodeRegistration(
      {{"hami.io/node-register-Ascend910A",
        R"([{"ID":"GPU-0","Count":4,"Devmem":8738,"Devcore":8,"Type":"huawei.com/Ascend910","Numa":0,"Health":true},)"
        R"({"ID":"GPU-1","Index":1,"Count":4,"Devmem":32768,"Devcore":30,"Type":"Ascend910A","Numa":0,"Health":true,"CustomInfo":{"NetworkID":3}}])"}});
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].id, "GPU-0");
  EXPECT_EQ((*devices)[0].count, 4);
  EXPECT_EQ((*devices)[0].devmem_mib, 8738);
  EXPECT_EQ((*devices)[0].devcore, 100);  // HAMi's hami-core Fit counts cores of 100
  EXPECT_EQ((*devices)[0].type, "huawei.com/Ascend910");
  EXPECT_TRUE((*devices)[0].health);
  EXPECT_EQ((*devices)[1].index, 1);

  EXPECT_EQ(v.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(v.DecodeRegistration({{"hami.io/node-register-Ascend910B3", "[]"}}).status().code(),
            StatusCode::kNotFound);
  for (const char* bad : {"", "[]", "null", "{", "[{\"ID\":5}]", "not json", "[1]",
                          "GPU-0,4,8738,8,Ascend910A,0,true:"}) {
    auto r = v.DecodeRegistration({{"hami.io/node-register-Ascend910A", bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("hami.io/node-register-Ascend910A"), std::string::npos)
        << r.status().message();
  }
}

TEST(AscendVendorTest, DecisionAnnotationsMatchHamiPatchAnnotations) {
  AscendVendor a(Chip("Ascend910A"), false);
  Annotations out;
  // HAMi's Test_PatchAnnotations: 8738 MiB is the vir08 template.
  a.AddDecisionAnnotations({{{"device-0", "Ascend910A", 8738, 0}}}, "node-a", 1700000000, &out);
  EXPECT_EQ(out, (Annotations{
                     {"hami.io/Ascend910A-devices-to-allocate", "device-0,Ascend910A,8738,0:;"},
                     {"hami.io/Ascend910A-devices-allocated", "device-0,Ascend910A,8738,0:;"},
                     {"predicate-time", "1700000000"},
                     {"huawei.com/Ascend910A", R"([{"UUID":"device-0","temp":"vir08"}])"},
                 }));

  // Whole NPUs have no template; two containers are listed in order; Go's HTML-safe escaping.
  out.clear();
  a.AddDecisionAnnotations({{{"n-0", "Ascend910A", 32768, 0}, {"n-1", "Ascend910A", 32768, 0}},
                            {},
                            {{"n<2>", "Ascend910A", 2184, 0}}},
                           "node-a", 5, &out);
  EXPECT_EQ(out["huawei.com/Ascend910A"],
            R"([{"UUID":"n-0"},{"UUID":"n-1"},{"UUID":"n\u003c2\u003e","temp":"vir02"}])");
  EXPECT_EQ(out["hami.io/Ascend910A-devices-allocated"],
            "n-0,Ascend910A,32768,0:n-1,Ascend910A,32768,0:;;n<2>,Ascend910A,2184,0:;");

  // hami-core (HAMi's Test_PatchAnnotations_VNPUCoreMode): memory and core, no template.
  AscendVendor b3(Chip("Ascend910B3"), true);
  out.clear();
  b3.AddDecisionAnnotations({{{"ascend-uuid-1", "Ascend910B3", 8192, 5}}}, "node-b", 7, &out);
  EXPECT_EQ(out["huawei.com/Ascend910B3"], R"([{"UUID":"ascend-uuid-1","memory":8192,"core":5}])");

  // Nothing placed: nothing written.
  out.clear();
  b3.AddDecisionAnnotations({{}, {}}, "node-b", 7, &out);
  EXPECT_TRUE(out.empty());
}

ContainerAdmission Admit(const AscendVendor& v, const ResourceList& limits,
                         const ResourceList& requests = {}) {
  auto r = v.MutateAdmission("c", limits, requests);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : ContainerAdmission{};
}

std::string Refusal(const AscendVendor& v, const ResourceList& limits,
                    const ResourceList& requests = {}) {
  auto r = v.MutateAdmission("c", limits, requests);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(AscendAdmissionTest, MutatesAsHami) {
  AscendVendor a(Chip("Ascend910A"), false);
  // HAMi's Test_MutateAdmission cases.
  EXPECT_FALSE(Admit(a, {}).uses_device);
  EXPECT_NE(Refusal(a, {{"huawei.com/Ascend910A", "2"}, {"huawei.com/Ascend910A-memory", "8738"}})
                .find("multiple devices"),
            std::string::npos);
  EXPECT_NE(Refusal(a, {{"huawei.com/Ascend910A", "2"}, {"huawei.com/Ascend910A-memory", "40000"}})
                .find("is invalid"),
            std::string::npos);
  ContainerAdmission whole =
      Admit(a, {{"huawei.com/Ascend910A", "1"}, {"huawei.com/Ascend910A-memory", "20000"}});
  EXPECT_TRUE(whole.uses_device);
  EXPECT_EQ(whole.limits.at("huawei.com/Ascend910A-memory"), "32768");
  EXPECT_EQ(whole.request, Npu("Ascend910A", 1, 32768, kMemoryPercentUnset, 0));

  // Rounded up to a template; no memory = the whole NPU's memoryAllocatable; two whole NPUs.
  EXPECT_EQ(Admit(a, {{"huawei.com/Ascend910A", "1"}, {"huawei.com/Ascend910A-memory", "3000"}})
                .limits.at("huawei.com/Ascend910A-memory"),
            "4369");
  ContainerAdmission none = Admit(a, {{"huawei.com/Ascend910A", "1"}});
  EXPECT_EQ(none.limits.at("huawei.com/Ascend910A-memory"), "32768");
  ContainerAdmission pair = Admit(a, {{"huawei.com/Ascend910A", "2"}});
  EXPECT_EQ(pair.request, Npu("Ascend910A", 2, 32768, kMemoryPercentUnset, 0));

  // Requests that already name the memory (the API server defaults them from limits) keep the
  // limit: the webhook cannot patch requests and a differing pair is invalid. The scheduler
  // still rounds it.
  const ResourceList asked = {{"huawei.com/Ascend910A", "1"},
                              {"huawei.com/Ascend910A-memory", "3000"}};
  ContainerAdmission kept = Admit(a, asked, asked);
  EXPECT_EQ(kept.limits, asked);
  EXPECT_EQ(kept.request, Npu("Ascend910A", 1, 4369, kMemoryPercentUnset, 0));
  const ResourceList already = {{"huawei.com/Ascend910A", "1"},
                                {"huawei.com/Ascend910A-memory", "4369"}};
  EXPECT_EQ(Admit(a, already, already).limits, already);

  // A container asking another vendor only is not touched, and gets no env.
  ContainerAdmission other = Admit(a, {{"nvidia.com/gpu", "1"}});
  EXPECT_FALSE(other.uses_device);
  EXPECT_TRUE(other.env.empty());
  EXPECT_EQ(a.RuntimeClassName(), "");
}

TEST(AscendAdmissionTest, SuperPod910CRaisesOneToAPair) {
  AscendVendor c(Chip("Ascend910C"), false);
  // HAMi's Test_MutateAdmission910C.
  ContainerAdmission one = Admit(c, {{"huawei.com/Ascend910C", "1"}});
  EXPECT_EQ(one.limits.at("huawei.com/Ascend910C"), "2");
  ASSERT_TRUE(one.request.has_value());
  EXPECT_EQ(one.request->count, 2);
  EXPECT_NE(one.request->index_sets, nullptr);
  EXPECT_EQ(Refusal(c, {{"huawei.com/Ascend910C", "3"}}),
            "Ascend910C device request must be 1 or 2*n, got 3");
  ContainerAdmission four = Admit(c, {{"huawei.com/Ascend910C", "4"}}, {});
  EXPECT_EQ(four.limits.at("huawei.com/Ascend910C"), "4");
  EXPECT_EQ(four.request->count, 4);
  // With requests naming 1 the webhook cannot raise both: refused with what to ask.
  EXPECT_NE(
      Refusal(c, {{"huawei.com/Ascend910C", "1"}}, {{"huawei.com/Ascend910C", "1"}}).find("ask 2"),
      std::string::npos);
  // Not a super-pod: 1 stays 1, 3 is fine.
  AscendChipConfig plain = Chip("Ascend910C");
  plain.super_pod = false;
  AscendVendor p(plain, false);
  EXPECT_EQ(Admit(p, {{"huawei.com/Ascend910C", "1"}}).limits.at("huawei.com/Ascend910C"), "1");
  EXPECT_TRUE(Admit(p, {{"huawei.com/Ascend910C", "3"}}).uses_device);
}

TEST(AscendAdmissionTest, HamiCoreKeepsTheAskedMemory) {
  // HAMi's Test_MutateAdmission_VNPUCoreMode.
  AscendVendor v(Chip("Ascend910B3"), /*hami_vnpu_core=*/true);
  const ResourceList limits = {{"huawei.com/Ascend910B3", "1"},
                               {"huawei.com/Ascend910B3-memory", "15360"},
                               {"huawei.com/Ascend910B3-core", "20"}};
  ContainerAdmission a = Admit(v, limits, limits);
  EXPECT_EQ(a.limits, limits);
  EXPECT_EQ(a.request, Npu("Ascend910B3", 1, 15360, kMemoryPercentUnset, 20));

  // HAMi's Test_MutateAdmission_HardSplitCoreRejected.
  AscendVendor hard(Chip("Ascend910B3"), false);
  const ResourceList base = {{"huawei.com/Ascend910B3", "1"},
                             {"huawei.com/Ascend910B3-memory", "8738"}};
  for (const char* core : {"10", "25"}) {
    ResourceList l = base;
    l["huawei.com/Ascend910B3-core"] = core;
    EXPECT_NE(Refusal(hard, l, l).find("hami-core"), std::string::npos) << core;
  }
  ResourceList zero = base;
  zero["huawei.com/Ascend910B3-core"] = "0";
  EXPECT_TRUE(Admit(hard, zero).uses_device);
  EXPECT_TRUE(Admit(hard, base).uses_device);
  EXPECT_TRUE(Admit(v, base).uses_device);  // soft split available, template asked
  EXPECT_EQ(Admit(v, base).limits.at("huawei.com/Ascend910B3-memory"), "16384");
}

TEST(AscendAdmissionTest, OverwriteEnvRuntimeClassAndFactor) {
  AscendChipConfig chip = Chip("Ascend910B4");
  chip.overwrite_env = true;
  chip.runtime_class_name = "ascend";
  AscendVendor v(chip, false);
  EXPECT_EQ(v.RuntimeClassName(), "ascend");
  ContainerAdmission plain = Admit(v, {{"cpu", "1"}});
  EXPECT_FALSE(plain.uses_device);
  EXPECT_EQ(plain.env,
            (std::vector<std::pair<std::string, std::string>>{{"ASCEND_VISIBLE_DEVICES", ""}}));
  // A container using another Ascend chip keeps its NPUs visible.
  EXPECT_TRUE(Admit(v, {{"huawei.com/Ascend910B3", "1"}}).env.empty());
  EXPECT_TRUE(Admit(v, {{"huawei.com/Ascend910B4", "1"}}).env.empty());

  // memoryFactor > 1: the limit keeps the user's units; the scheduler scales then rounds.
  chip.memory_factor = 1024;
  AscendVendor gib(chip, false);
  ContainerAdmission a =
      Admit(gib, {{"huawei.com/Ascend910B4", "1"}, {"huawei.com/Ascend910B4-memory", "7"}});
  EXPECT_EQ(a.limits.at("huawei.com/Ascend910B4-memory"), "7");
  EXPECT_EQ(a.request, Npu("Ascend910B4", 1, 8192, kMemoryPercentUnset, 0));
  EXPECT_NE(Refusal(gib, {{"huawei.com/Ascend910B4", "1"}, {"huawei.com/Ascend910B4-memory", "33"}})
                .find("is invalid"),
            std::string::npos);
}

}  // namespace
}  // namespace hami
