#include "device/nvidia.h"

#include <gtest/gtest.h>

#include <string>

#include "device/annotations.h"

namespace hami {
namespace {

ContainerDeviceRequest Req(int32_t count, int32_t mem, int32_t pct, int32_t cores) {
  return ContainerDeviceRequest{count, "NVIDIA", mem, pct, cores};
}

constexpr int32_t kUnset = kMemoryPercentUnset;

struct DeriveCase {
  const char* name;
  ResourceList limits;
  ResourceList requests;
  std::optional<ContainerDeviceRequest> want;
  size_t warnings = 0;
  NvidiaConfig config = {};
};

NvidiaConfig WithFactor(int32_t f) {
  NvidiaConfig c;
  c.memory_factor = f;
  return c;
}
NvidiaConfig WithDefaults(int32_t mem, int32_t cores) {
  NvidiaConfig c;
  c.default_memory_mib = mem;
  c.default_cores_percent = cores;
  return c;
}

class DeriveTest : public ::testing::TestWithParam<DeriveCase> {};

TEST_P(DeriveTest, MatchesHamiGenerateResourceRequests) {
  const DeriveCase& tc = GetParam();
  Result<NvidiaRequestDerivation> r = DeriveNvidiaRequest(tc.config, tc.limits, tc.requests);
  ASSERT_TRUE(r.ok()) << tc.name << ": " << r.status().message();
  EXPECT_EQ(r->request, tc.want) << tc.name;
  EXPECT_EQ(r->warnings.size(), tc.warnings) << tc.name;
  for (const std::string& w : r->warnings) {
    EXPECT_FALSE(w.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DeriveTest,
    ::testing::Values(
        DeriveCase{"no gpu", {{"cpu", "1"}}, {}, std::nullopt},
        DeriveCase{"gpu zero", {{"nvidia.com/gpu", "0"}}, {}, std::nullopt},
        DeriveCase{"gpu only => 100 percent", {{"nvidia.com/gpu", "1"}}, {}, Req(1, 0, 100, 0)},
        DeriveCase{"gpu and mem",
                   {{"nvidia.com/gpu", "2"}, {"nvidia.com/gpumem", "3000"}},
                   {},
                   Req(2, 3000, kUnset, 0)},
        DeriveCase{"mem times factor",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "3000"}},
                   {},
                   Req(1, 6000, kUnset, 0),
                   0,
                   WithFactor(2)},
        DeriveCase{"mem quantity suffix",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "3k"}},
                   {},
                   Req(1, 3000, kUnset, 0)},
        DeriveCase{"mem non-integer ignored",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1.5"}},
                   {},
                   Req(1, 0, 100, 0),
                   1},
        DeriveCase{"mem negative ignored",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "-5"}},
                   {},
                   Req(1, 0, 100, 0),
                   1},
        DeriveCase{"mem int32 overflow ignored",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "3000000000"}},
                   {},
                   Req(1, 0, 100, 0),
                   1},
        DeriveCase{"mem overflow after factor ignored",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "2000000000"}},
                   {},
                   Req(1, 0, 100, 0),
                   1,
                   WithFactor(2)},
        DeriveCase{"mem zero => default rule",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "0"}},
                   {},
                   Req(1, 0, 100, 0)},
        DeriveCase{"percentage",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "50"}},
                   {},
                   Req(1, 0, 50, 0)},
        DeriveCase{"percentage clamped",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "150"}},
                   {},
                   Req(1, 0, 100, 0),
                   1},
        DeriveCase{"percentage zero is unset",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "0"}},
                   {},
                   Req(1, 0, 100, 0)},
        DeriveCase{"percentage zero with mem",
                   {{"nvidia.com/gpu", "1"},
                    {"nvidia.com/gpumem-percentage", "0"},
                    {"nvidia.com/gpumem", "100"}},
                   {},
                   Req(1, 100, kUnset, 0)},
        DeriveCase{"percentage negative",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "-3"}},
                   {},
                   Req(1, 0, 100, 0),
                   1},
        DeriveCase{"percentage garbage",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "half"}},
                   {},
                   Req(1, 0, 100, 0),
                   1},
        DeriveCase{"mem and percentage both kept",
                   {{"nvidia.com/gpu", "1"},
                    {"nvidia.com/gpumem", "1024"},
                    {"nvidia.com/gpumem-percentage", "30"}},
                   {},
                   Req(1, 1024, 30, 0)},
        DeriveCase{"default memory",
                   {{"nvidia.com/gpu", "1"}},
                   {},
                   Req(1, 1024, kUnset, 20),
                   0,
                   WithDefaults(1024, 20)},
        DeriveCase{"cores",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "30"}},
                   {},
                   Req(1, 0, 100, 30)},
        DeriveCase{"cores clamped",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "150"}},
                   {},
                   Req(1, 0, 100, 100),
                   1},
        DeriveCase{"cores negative => default",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "-1"}},
                   {},
                   Req(1, 0, 100, 20),
                   1,
                   WithDefaults(0, 20)},
        DeriveCase{"cores garbage => default",
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "30%"}},
                   {},
                   Req(1, 0, 100, 0),
                   1},
        DeriveCase{"requests fallback",
                   {},
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "10"}},
                   Req(1, 10, kUnset, 0)},
        DeriveCase{"limits win per resource",
                   {{"nvidia.com/gpu", "2"}},
                   {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "40"}},
                   Req(2, 0, 100, 40)}));

TEST(DeriveTest, CustomResourceNames) {
  NvidiaConfig c;
  c.resource_count_name = "example.com/vgpu";
  c.resource_memory_name = "example.com/vmem";
  Result<NvidiaRequestDerivation> r = DeriveNvidiaRequest(
      c, {{"example.com/vgpu", "1"}, {"example.com/vmem", "512"}, {"nvidia.com/gpu", "4"}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->request, Req(1, 512, kUnset, 0));
}

TEST(DeriveTest, BadCountIsAnError) {
  for (const char* bad : {"1.5", "-1", "abc", "3000000000", "500m", ""}) {
    Result<NvidiaRequestDerivation> r = DeriveNvidiaRequest({}, {{"nvidia.com/gpu", bad}}, {});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("nvidia.com/gpu"), std::string::npos)
        << r.status().message();
  }
}

TEST(DeriveTest, WarningsQuoteTheValue) {
  Result<NvidiaRequestDerivation> r =
      DeriveNvidiaRequest({}, {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1.5"}}, {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("nvidia.com/gpumem \"1.5\" ignored"), std::string::npos)
      << r->warnings[0];
}

struct WholeCardCase {
  const char* name;
  ResourceList limits;
  bool want;
};

class WholeCardTest : public ::testing::TestWithParam<WholeCardCase> {};

TEST_P(WholeCardTest, MirrorsWebhookRule) {
  EXPECT_EQ(NeedsWholeCardCores({}, GetParam().limits, {}), GetParam().want) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, WholeCardTest,
    ::testing::Values(
        WholeCardCase{"gpu only", {{"nvidia.com/gpu", "1"}}, true},
        WholeCardCase{"no gpu", {{"nvidia.com/gpumem", "1"}}, false},
        WholeCardCase{
            "cores given", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpucores", "0"}}, false},
        WholeCardCase{"mem given", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "100"}}, false},
        WholeCardCase{
            "pct 100", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "100"}}, true},
        WholeCardCase{"pct 100 and mem",
                      {{"nvidia.com/gpu", "1"},
                       {"nvidia.com/gpumem-percentage", "100"},
                       {"nvidia.com/gpumem", "5"}},
                      true},
        WholeCardCase{
            "pct 50", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "50"}}, false},
        WholeCardCase{"pct garbage",
                      {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "x"}},
                      false}));

TEST(WebhookDefaultsTest, InjectsCountAndWholeCardCores) {
  NvidiaConfig c;
  // gpumem only: count injected, not whole card.
  EXPECT_EQ(ApplyNvidiaWebhookDefaults(c, {{"nvidia.com/gpumem", "1000"}}, {}),
            (ResourceList{{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}}));
  // percentage 100 only: count injected, then exclusive cores.
  EXPECT_EQ(ApplyNvidiaWebhookDefaults(c, {{"nvidia.com/gpumem-percentage", "100"}}, {}),
            (ResourceList{{"nvidia.com/gpu", "1"},
                          {"nvidia.com/gpumem-percentage", "100"},
                          {"nvidia.com/gpucores", "100"}}));
  // gpu only: exclusive cores.
  EXPECT_EQ(ApplyNvidiaWebhookDefaults(c, {{"nvidia.com/gpu", "2"}}, {}),
            (ResourceList{{"nvidia.com/gpu", "2"}, {"nvidia.com/gpucores", "100"}}));
  // no GPU resources at all: unchanged.
  EXPECT_EQ(ApplyNvidiaWebhookDefaults(c, {{"cpu", "1"}}, {}), (ResourceList{{"cpu", "1"}}));
  // defaultGPUNum 0 disables injection.
  c.default_gpu_num = 0;
  EXPECT_EQ(ApplyNvidiaWebhookDefaults(c, {{"nvidia.com/gpucores", "10"}}, {}),
            (ResourceList{{"nvidia.com/gpucores", "10"}}));
  c.default_gpu_num = 3;
  EXPECT_EQ(ApplyNvidiaWebhookDefaults(c, {{"nvidia.com/gpucores", "10"}}, {}),
            (ResourceList{{"nvidia.com/gpu", "3"}, {"nvidia.com/gpucores", "10"}}));

  Result<NvidiaRequestDerivation> r =
      DeriveNvidiaRequestAfterWebhook(NvidiaConfig{}, {{"nvidia.com/gpu", "1"}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->request, Req(1, 0, 100, 100));
}

TEST(SelectorsTest, ParsesAllNvidiaAnnotations) {
  Result<DeviceSelectors> r = ParseNvidiaSelectors({
      {kNvidiaUseGpuTypeAnnotation, " A100 , V100,,"},
      {kNvidiaNoUseGpuTypeAnnotation, "T4"},
      {kNvidiaUseGpuUuidAnnotation, "GPU-a, GPU-b"},
      {kNvidiaNoUseGpuUuidAnnotation, ""},
      {kNvidiaVgpuModeAnnotation, " hami-core "},
      {kNvidiaNumaBindAnnotation, "true"},
      {"unrelated", "x"},
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->use_types, (std::vector<std::string>{"A100", "V100"}));
  EXPECT_EQ(r->nouse_types, (std::vector<std::string>{"T4"}));
  EXPECT_EQ(r->use_uuids, (std::vector<std::string>{"GPU-a", "GPU-b"}));
  EXPECT_TRUE(r->nouse_uuids.empty());
  EXPECT_EQ(r->vgpu_mode, "hami-core");
  EXPECT_TRUE(r->numa_bind);

  r = ParseNvidiaSelectors({});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->use_types.empty());
  EXPECT_FALSE(r->numa_bind);
  EXPECT_EQ(r->vgpu_mode, "");

  for (const auto& [value, want] : std::vector<std::pair<std::string, bool>>{
           {"1", true}, {"T", true}, {"False", false}, {"0", false}, {"", false}, {" t ", true}}) {
    r = ParseNvidiaSelectors({{kNvidiaNumaBindAnnotation, value}});
    ASSERT_TRUE(r.ok()) << value;
    EXPECT_EQ(r->numa_bind, want) << value;
  }
  for (const char* bad : {"yes", "on", "2", "truee"}) {
    r = ParseNvidiaSelectors({{kNvidiaNumaBindAnnotation, bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("nvidia.com/numa-bind"), std::string::npos);
    EXPECT_NE(r.status().message().find(std::string("\"") + bad + "\""), std::string::npos);
  }
}

TEST(NvidiaVendorTest, ExposesNamesKeysAndDecodesRegistration) {
  NvidiaVendor v{NvidiaConfig{}};
  EXPECT_EQ(v.CommonWord(), "NVIDIA");
  EXPECT_EQ(v.ResourceNames(), (VendorResourceNames{"nvidia.com/gpu", "nvidia.com/gpumem",
                                                    "nvidia.com/gpumem-percentage",
                                                    "nvidia.com/gpucores", "nvidia.com/priority"}));
  EXPECT_EQ(
      v.AnnotationKeys(),
      (VendorAnnotationKeys{"hami.io/node-nvidia-register", "hami.io/node-handshake",
                            "hami.io/vgpu-devices-to-allocate", "hami.io/vgpu-devices-allocated"}));

  Result<std::vector<DeviceInfo>> d = v.DecodeRegistration({});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);

  d = v.DecodeRegistration({{kNodeNvidiaRegisterAnnotation,
                             R"([{"id":"GPU-a","count":10,"devmem":1024,"devcore":100,)"
                             R"("type":"NVIDIA-T4","mode":"hami-core","health":true}])"}});
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0].devmem_mib, 1024);

  d = v.DecodeRegistration({{kNodeNvidiaRegisterAnnotation, "[{\"id\":\"a\",\"count\":\"x\"}]"}});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.status().message().rfind("hami.io/node-nvidia-register: ", 0), 0u)
      << d.status().message();

  Result<std::optional<ContainerDeviceRequest>> req =
      v.RequestFromResources({{"nvidia.com/gpu", "1"}}, {});
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(*req, Req(1, 0, 100, 0));
  req = v.RequestFromResources({}, {});
  ASSERT_TRUE(req.ok());
  EXPECT_FALSE(req->has_value());
}

}  // namespace
}  // namespace hami
