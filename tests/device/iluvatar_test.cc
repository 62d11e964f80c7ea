#include "device/iluvatar.h"

#include <gtest/gtest.h>

#include "device/codec.h"

namespace hami {
namespace {

// The chart's BI-V150 entry (HAMi docs/iluvatar-gpu-support.md).
IluvatarConfig BiV150() {
  return IluvatarConfig{"BI-V150", "BI-V150", "iluvatar.ai/BI-V150-vgpu",
                        "iluvatar.ai/BI-V150.vMem", "iluvatar.ai/BI-V150.vCore"};
}

ContainerDeviceRequest Gpu(int32_t count, int32_t memory_mib, int32_t percent, int32_t cores) {
  return ContainerDeviceRequest{count, "BI-V150", memory_mib, percent, cores};
}

TEST(IluvatarRequestTest, DerivesAsHamiDoes) {
  struct Case {
    ResourceList limits;
    std::optional<ContainerDeviceRequest> want;
  };
  const Case cases[] = {
      // HAMi docs example: 1 vGPU, 64 x 256 MiB, 50 % cores.
      {{{"iluvatar.ai/BI-V150-vgpu", "1"},
        {"iluvatar.ai/BI-V150.vMem", "64"},
        {"iluvatar.ai/BI-V150.vCore", "50"}},
       Gpu(1, 16384, kMemoryPercentUnset, 50)},
      {{{"iluvatar.ai/BI-V150-vgpu", "2"}}, Gpu(2, 0, 100, 0)},
      {{{"iluvatar.ai/BI-V150-vgpu", "0"}}, std::nullopt},
      {{{"iluvatar.ai/MR-V100-vgpu", "1"}}, std::nullopt},  // another chip's resource
  };
  for (const Case& c : cases) {
    auto r = DeriveIluvatarRequest(BiV150(), c.limits, {});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(*r, c.want) << c.limits.begin()->first;
  }
  auto bad = DeriveIluvatarRequest(
      BiV150(), {{"iluvatar.ai/BI-V150-vgpu", "1"}, {"iluvatar.ai/BI-V150.vMem", "1.5"}}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("iluvatar.ai/BI-V150.vMem"), std::string::npos);
}

TEST(IluvatarVendorTest, KeysFollowTheCommonWord) {
  IluvatarVendor v(BiV150());
  EXPECT_EQ(v.CommonWord(), "BI-V150");
  EXPECT_EQ(v.AnnotationKeys().node_register, "hami.io/node-BI-V150-register");
  EXPECT_EQ(v.AnnotationKeys().node_handshake, "hami.io/node-handshake-BI-V150");
  EXPECT_EQ(v.AnnotationKeys().to_allocate, "hami.io/BI-V150-devices-to-allocate");
  EXPECT_EQ(v.AnnotationKeys().allocated, "hami.io/BI-V150-devices-allocated");
  EXPECT_EQ(v.MemoryFactor(), 256);
  auto s = v.ParseSelectors(
      {{"hami.io/use-BI-V150-uuid", "a, b"}, {"hami.io/no-use-BI-V150-uuid", "a"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s->nouse_uuids, (std::vector<std::string>{"a"}));  // both lists apply, as HAMi >= 2.9
  s = v.ParseSelectors({{"hami.io/no-use-BI-V150-uuid", "a"}});
  EXPECT_EQ(s->nouse_uuids, (std::vector<std::string>{"a"}));
}

TEST(IluvatarVendorTest, DecodesLegacyRegistrationAndRefusesBadOnes) {
  IluvatarVendor v(BiV150());
  auto devices = v.DecodeRegistration(
      {{"hami.io/node-BI-V150-register",
        "GPU-ilu-0,100,32768,100,BI-V150,0,true:GPU-ilu-1,100,32768,100,BI-V150,0,true:"}});
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[1].id, "GPU-ilu-1");
  EXPECT_EQ((*devices)[1].count, 100);
  EXPECT_EQ(v.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
  auto bad = v.DecodeRegistration({{"hami.io/node-BI-V150-register", "GPU-ilu-0,100"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("hami.io/node-BI-V150-register"), std::string::npos);
}

TEST(IluvatarVendorTest, MutateAdmissionAsHami) {
  IluvatarVendor v(BiV150());
  auto one = v.MutateAdmission("main", {{"iluvatar.ai/BI-V150-vgpu", "1"}}, {});
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one->uses_device);
  EXPECT_EQ(one->limits.count("iluvatar.ai/BI-V150.vCore"), 0u);
  EXPECT_EQ(one->env_defaults,
            (std::vector<std::pair<std::string, std::string>>{{"SOL_CONTINER_NAME", "main"}}));
  auto two = v.MutateAdmission("", {{"iluvatar.ai/BI-V150-vgpu", "2"}}, {});
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->limits.at("iluvatar.ai/BI-V150.vCore"), "200");
  EXPECT_TRUE(two->env_defaults.empty());
  ASSERT_TRUE(two->request.has_value());
  EXPECT_EQ(two->request->cores_percent, 200);  // whole cards (the fit clamps to 100)
  auto none = v.MutateAdmission("main", {}, {{"iluvatar.ai/BI-V150-vgpu", "1"}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->uses_device);
}

TEST(IluvatarConfigTest, ChartListLoadsAndNeedsTheFlag) {
  auto config = LoadDeviceConfig(R"(iluvatars:
  - chipName: MR-V100
    commonWord: MR-V100
    resourceCountName: iluvatar.ai/MR-V100-vgpu
    resourceMemoryName: iluvatar.ai/MR-V100.vMem
    resourceCoreName: iluvatar.ai/MR-V100.vCore
  - chipName: BI-V150
    commonWord: BI-V150
    resourceCountName: iluvatar.ai/BI-V150-vgpu
    resourceMemoryName: iluvatar.ai/BI-V150.vMem
    resourceCoreName: iluvatar.ai/BI-V150.vCore
)");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->iluvatars.size(), 2u);
  EXPECT_EQ(config->iluvatars[1], BiV150());
  auto again = LoadDeviceConfig(DeviceConfigToYaml(*config));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->iluvatars, config->iluvatars);

  auto registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok());
  EXPECT_TRUE(registry->IsEmpty());  // HAMi: only with --enable-iluvatar
  config->enable_iluvatar = true;
  registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  EXPECT_EQ(registry->Size(), 2u);
  EXPECT_NE(registry->Find("BI-V150"), nullptr);

  for (const char* bad :
       {"iluvatars:\n  - chipName: X\n    commonWord: \"a/b\"\n",
        "iluvatars:\n  - commonWord: X\n    resourceCountName: a\n",
        "iluvatars:\n  - commonWord: X\n    vMem: a\n", "iluvatars:\n  chipName: X\n"}) {
    auto r = LoadDeviceConfig(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("iluvatars"), std::string::npos) << r.status().message();
  }
  auto twice = LoadDeviceConfig(
      "iluvatars:\n"
      "  - {chipName: A, commonWord: A, resourceCountName: a, resourceMemoryName: b, "
      "resourceCoreName: c}\n"
      "  - {chipName: A, commonWord: A, resourceCountName: a, resourceMemoryName: b, "
      "resourceCoreName: c}\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("listed twice"), std::string::npos);
}

}  // namespace
}  // namespace hami
