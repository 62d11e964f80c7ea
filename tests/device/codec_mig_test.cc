// MIG on the wire: migProfiles in the node registration and hami.io/vgpu-mig-allocations.
#include <gtest/gtest.h>

#include "device/codec.h"

namespace hami {
namespace {

TEST(MigProfilesJsonTest, EncodesInHamiFieldOrderAndRoundTrips) {
  DeviceInfo d;
  d.id = "GPU-a";
  d.count = 3;
  d.devmem_mib = 81920;
  d.devcore = 100;
  d.type = "NVIDIA A100-SXM4-80GB";
  d.mode = kModeMig;
  d.health = true;
  d.mig_profiles = {MigProfile{"1g.10gb", 9856, 15, 1, {{0, 1}, {1, 1}}},
                    MigProfile{"3g.40gb", 40448, 43, 3, {{4, 4}}}};
  const std::string json = EncodeNodeDevicesJson({d});
  EXPECT_EQ(
      json,
      R"([{"id":"GPU-a","count":3,"devmem":81920,"devcore":100,"type":"NVIDIA A100-SXM4-80GB",)"
      R"("mode":"mig","migProfiles":[{"name":"1g.10gb","memoryMB":9856,"core":15,)"
      R"("sliceCount":1,"placements":[{"start":0,"size":1},{"start":1,"size":1}]},)"
      R"({"name":"3g.40gb","memoryMB":40448,"core":43,"sliceCount":3,)"
      R"("placements":[{"start":4,"size":4}]}],"health":true}])");
  auto back = DecodeNodeDevicesJson(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], d);
}

TEST(MigProfilesJsonTest, RefusesMalformedProfiles) {
  for (const char* bad : {
           R"([{"id":"GPU-a","migProfiles":{}}])",
           R"([{"id":"GPU-a","migProfiles":[1]}])",
           R"([{"id":"GPU-a","migProfiles":[{"memoryMB":1}]}])",
           R"([{"id":"GPU-a","migProfiles":[{"name":"1g","placements":[{"start":0}]}]}])",
           R"([{"id":"GPU-a","migProfiles":[{"name":"1g","placements":[{"start":-1,"size":1}]}]}])",
           R"([{"id":"GPU-a","migProfiles":[{"name":"1g","memoryMB":"10"}]}])",
       }) {
    auto r = DecodeNodeDevicesJson(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) EXPECT_NE(r.status().message().find("migProfiles"), std::string::npos) << bad;
  }
}

TEST(MigAllocationsTest, EncodesLikeHamiAndRoundTrips) {
  MigAllocation scheduled{1, 0, "GPU-a", "1g.10gb", {2, 1}, "", std::nullopt, std::nullopt};
  MigAllocation realized{1, 1, "GPU-a", "1g.10gb", {3, 1}, "MIG-x", 0u, 0u};
  const std::string json = EncodeMigAllocations({scheduled, realized});
  EXPECT_EQ(json, R"([{"containerIndex":1,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"1g.10gb",)"
                  R"("placement":{"start":2,"size":1}},{"containerIndex":1,"deviceIndex":1,)"
                  R"("gpuUUID":"GPU-a","profile":"1g.10gb","placement":{"start":3,"size":1},)"
                  R"("migUUID":"MIG-x","gpuInstanceID":0,"computeInstanceID":0}])");
  auto back = DecodeMigAllocations(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, (std::vector<MigAllocation>{scheduled, realized}));
  EXPECT_TRUE(DecodeMigAllocations("")->empty());
  EXPECT_TRUE(DecodeMigAllocations("null")->empty());
}

TEST(MigAllocationsTest, RefusesWhatCannotBeTrusted) {
  const std::string entry =
      R"("deviceIndex":0,"gpuUUID":"GPU-a","profile":"1g.10gb","placement":{"start":0,"size":1})";
  for (const std::string& bad : {
           std::string("{}"),
           std::string("[1]"),
           std::string("[{" + entry + "}]"),  // no containerIndex
           std::string(R"([{"containerIndex":-1,)" + entry + "}]"),
           std::string(R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"p",)"
                       R"("placement":{"start":0,"size":0}}])"),
           std::string(R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"","profile":"p",)"
                       R"("placement":{"start":0,"size":1}}])"),
           std::string(R"([{"containerIndex":0,)" + entry + R"(,"migUUID":"MIG-x"}])"),
           std::string(R"([{"containerIndex":0,)" + entry + R"(},{"containerIndex":0,)" + entry +
                       "}]"),
           std::string(R"([{"containerIndex":0,)" + entry +
                       R"(,"gpuInstanceID":-1,)"
                       R"("computeInstanceID":0,"migUUID":"MIG-x"}])"),
           std::string("[{"),
       }) {
    auto r = DecodeMigAllocations(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("hami.io/vgpu-mig-allocations"), std::string::npos)
          << r.status().message();
    }
  }
}

TEST(MigAllocationsTest, AttachAndCollectMirrorEachOther) {
  PodDevices pod = {{}, {{"GPU-a", "NVIDIA", 9856, 15}, {"GPU-b", "NVIDIA", 1000, 0}}};
  const std::vector<MigAllocation> entries = {
      {1, 0, "GPU-a", "1g.10gb", {5, 1}, "", std::nullopt, std::nullopt}};
  ASSERT_TRUE(AttachMigAllocations(entries, &pod).ok());
  EXPECT_EQ(pod[1][0].mig_profile, "1g.10gb");
  EXPECT_EQ(pod[1][0].mig_placement, (MigPlacement{5, 1}));
  EXPECT_TRUE(pod[1][1].mig_profile.empty());
  EXPECT_EQ(MigAllocationsOf(pod), entries);

  PodDevices copy = pod;
  Status wrong_gpu = AttachMigAllocations(
      {{1, 1, "GPU-a", "1g.10gb", {0, 1}, "", std::nullopt, std::nullopt}}, &copy);
  EXPECT_FALSE(wrong_gpu.ok());
  EXPECT_NE(wrong_gpu.message().find("GPU-b"), std::string::npos);
  EXPECT_FALSE(AttachMigAllocations(
                   {{2, 0, "GPU-a", "1g.10gb", {0, 1}, "", std::nullopt, std::nullopt}}, &copy)
                   .ok());
  EXPECT_FALSE(AttachMigAllocations(
                   {{0, 0, "GPU-a", "1g.10gb", {0, 1}, "", std::nullopt, std::nullopt}}, &copy)
                   .ok());
}

}  // namespace
}  // namespace hami
