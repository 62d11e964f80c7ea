#include "deviceplugin/device_list.h"

#include <gtest/gtest.h>

namespace hami::deviceplugin {
namespace {

DeviceListStrategies Only(bool envvar, bool volume_mounts, bool cdi_annotations, bool cdi_cri) {
  return DeviceListStrategies{envvar, volume_mounts, cdi_annotations, cdi_cri};
}

TEST(ParseDeviceListStrategiesTest, ValidListsAreSets) {
  const struct {
    const char* text;
    DeviceListStrategies want;
  } cases[] = {
      {"envvar", Only(true, false, false, false)},
      {"volume-mounts", Only(false, true, false, false)},
      {"cdi-annotations", Only(false, false, true, false)},
      {"cdi-cri", Only(false, false, false, true)},
      {"envvar,cdi-cri", Only(true, false, false, true)},
      {"cdi-cri,cdi-annotations", Only(false, false, true, true)},
      {"volume-mounts,envvar,cdi-annotations,cdi-cri", Only(true, true, true, true)},
      {" envvar , cdi-annotations ", Only(true, false, true, false)},
      {"\tcdi-cri\n", Only(false, false, false, true)},
      {"cdi-cri,cdi-cri", Only(false, false, false, true)},  // repeats allowed, as upstream
  };
  for (const auto& c : cases) {
    auto parsed = ParseDeviceListStrategies(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().message();
    EXPECT_EQ(*parsed, c.want) << c.text;
  }
}

TEST(ParseDeviceListStrategiesTest, DefaultIsEnvvar) {
  EXPECT_EQ(DeviceListStrategies{}, Only(true, false, false, false));
}

TEST(ParseDeviceListStrategiesTest, InvalidValuesSayWhatAndWhatIsAccepted) {
  const struct {
    const char* text;
    const char* want;
  } cases[] = {
      {"bogus",
       "unknown device list strategy \"bogus\" in \"bogus\" (want one or more of envvar, "
       "volume-mounts, cdi-annotations, cdi-cri, comma-separated)"},
      {"envvar,cdi",
       "unknown device list strategy \"cdi\" in \"envvar,cdi\" (want one or more of envvar, "
       "volume-mounts, cdi-annotations, cdi-cri, comma-separated)"},
      {"EnvVar",
       "unknown device list strategy \"EnvVar\" in \"EnvVar\" (want one or more of envvar, "
       "volume-mounts, cdi-annotations, cdi-cri, comma-separated)"},
      {"",
       "no device list strategy in \"\" (want one or more of envvar, volume-mounts, "
       "cdi-annotations, cdi-cri, comma-separated)"},
      {"  ",
       "no device list strategy in \"  \" (want one or more of envvar, volume-mounts, "
       "cdi-annotations, cdi-cri, comma-separated)"},
      {"envvar,",
       "empty device list strategy name in \"envvar,\" (want one or more of envvar, "
       "volume-mounts, cdi-annotations, cdi-cri, comma-separated)"},
      {"envvar, ,cdi-cri",
       "empty device list strategy name in \"envvar, ,cdi-cri\" (want one or more of envvar, "
       "volume-mounts, cdi-annotations, cdi-cri, comma-separated)"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseDeviceListStrategies(c.text);
    ASSERT_FALSE(parsed.ok()) << "accepted \"" << c.text << "\"";
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(), c.want);
  }
}

TEST(DeviceListStrategiesTest, CdiPredicates) {
  EXPECT_FALSE(Only(true, true, false, false).AnyCdi());
  EXPECT_TRUE(Only(true, false, false, true).AnyCdi());
  EXPECT_FALSE(Only(true, false, false, true).OnlyCdi());
  EXPECT_FALSE(Only(false, true, true, false).OnlyCdi());
  EXPECT_TRUE(Only(false, false, true, true).OnlyCdi());
  EXPECT_FALSE(Only(false, false, false, false).OnlyCdi());
}

constexpr char kKey[] = "cdi.k8s.io/nvidia-device-plugin_0b1c2d3e-aaaa-4bbb-8ccc-123456789abc";
constexpr char kResponseId[] = "0b1c2d3e-aaaa-4bbb-8ccc-123456789abc";

Result<DeviceListAnswer> For(const DeviceListStrategies& strategies, std::vector<std::string> ids) {
  return DeviceListFor(strategies, ids, kResponseId);
}

TEST(DeviceListForTest, EnvvarListsTheIds) {
  auto one = For(Only(true, false, false, false), {"GPU-a"});
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(*one, (DeviceListAnswer{{{"NVIDIA_VISIBLE_DEVICES", "GPU-a"}}, {}, {}, {}}));
  auto two = For(Only(true, false, false, false), {"GPU-a", "GPU-b"});
  ASSERT_TRUE(two.ok()) << two.status().message();
  EXPECT_EQ(*two, (DeviceListAnswer{{{"NVIDIA_VISIBLE_DEVICES", "GPU-a,GPU-b"}}, {}, {}, {}}));
}

TEST(DeviceListForTest, VolumeMountsListTheIdsAsFileNames) {
  auto one = For(Only(false, true, false, false), {"GPU-a"});
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(*one,
            (DeviceListAnswer{{{"NVIDIA_VISIBLE_DEVICES", "/var/run/nvidia-container-devices"}},
                              {{"/var/run/nvidia-container-devices/GPU-a", "/dev/null", false}},
                              {},
                              {}}));
  auto two = For(Only(false, true, false, false), {"GPU-a", "MIG-b"});
  ASSERT_TRUE(two.ok()) << two.status().message();
  EXPECT_EQ(*two,
            (DeviceListAnswer{{{"NVIDIA_VISIBLE_DEVICES", "/var/run/nvidia-container-devices"}},
                              {{"/var/run/nvidia-container-devices/GPU-a", "/dev/null", false},
                               {"/var/run/nvidia-container-devices/MIG-b", "/dev/null", false}},
                              {},
                              {}}));
}

TEST(DeviceListForTest, VolumeMountsWinOverEnvvarForTheEnv) {
  auto both = For(Only(true, true, false, false), {"GPU-a"});
  ASSERT_TRUE(both.ok()) << both.status().message();
  EXPECT_EQ(both->envs.at("NVIDIA_VISIBLE_DEVICES"), "/var/run/nvidia-container-devices");
  EXPECT_EQ(both->mounts.size(), 1u);
}

TEST(DeviceListForTest, CdiAnnotationsNameTheDevicesUnderOneUniqueKey) {
  auto one = For(Only(false, false, true, false), {"GPU-a"});
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(*one,
            (DeviceListAnswer{{}, {}, {{kKey, "k8s.device-plugin.nvidia.com/gpu=GPU-a"}}, {}}))
      << "CDI only: no NVIDIA_VISIBLE_DEVICES";
  auto two = For(Only(false, false, true, false), {"GPU-a", "GPU-b"});
  ASSERT_TRUE(two.ok()) << two.status().message();
  EXPECT_EQ(*two, (DeviceListAnswer{{},
                                    {},
                                    {{kKey,
                                      "k8s.device-plugin.nvidia.com/gpu=GPU-a,"
                                      "k8s.device-plugin.nvidia.com/gpu=GPU-b"}},
                                    {}}));
}

TEST(DeviceListForTest, CdiCriNamesEachDevice) {
  auto one = For(Only(false, false, false, true), {"GPU-a"});
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(*one, (DeviceListAnswer{{}, {}, {}, {"k8s.device-plugin.nvidia.com/gpu=GPU-a"}}));
  auto two = For(Only(false, false, false, true), {"GPU-a", "GPU-b"});
  ASSERT_TRUE(two.ok()) << two.status().message();
  EXPECT_EQ(*two, (DeviceListAnswer{{},
                                    {},
                                    {},
                                    {"k8s.device-plugin.nvidia.com/gpu=GPU-a",
                                     "k8s.device-plugin.nvidia.com/gpu=GPU-b"}}));
}

TEST(DeviceListForTest, CdiWithEnvvarKeepsTheEnv) {
  auto all = For(Only(true, false, true, true), {"GPU-a"});
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(*all, (DeviceListAnswer{{{"NVIDIA_VISIBLE_DEVICES", "GPU-a"}},
                                    {},
                                    {{kKey, "k8s.device-plugin.nvidia.com/gpu=GPU-a"}},
                                    {"k8s.device-plugin.nvidia.com/gpu=GPU-a"}}));
}

TEST(DeviceListForTest, RepeatedIdsAreListedOnce) {
  auto envvar = For(Only(true, false, false, true), {"GPU-a", "GPU-b", "GPU-a"});
  ASSERT_TRUE(envvar.ok()) << envvar.status().message();
  EXPECT_EQ(envvar->envs.at("NVIDIA_VISIBLE_DEVICES"), "GPU-a,GPU-b");
  EXPECT_EQ(envvar->cdi_devices.size(), 2u);
}

TEST(DeviceListForTest, NoDevicesMeansNoCdiRequest) {
  auto none = For(Only(false, false, true, true), {});
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(*none, DeviceListAnswer{});
}

TEST(DeviceListForTest, IdsThatCannotBeExpressedAreRefused) {
  const struct {
    DeviceListStrategies strategies;
    const char* id;
  } refused[] = {
      {Only(true, false, false, false), ""},
      {Only(true, false, false, false), "GPU-a,GPU-b"},
      {Only(false, true, false, false), "../../etc/passwd"},
      {Only(false, true, false, false), ".."},
      {Only(false, false, true, false), "GPU a"},
      {Only(false, false, false, true), "-GPU"},
      {Only(false, false, false, true), "MIG-GPU-a/1/0"},
  };
  for (const auto& c : refused) {
    auto answer = For(c.strategies, {"GPU-ok", c.id});
    ASSERT_FALSE(answer.ok()) << "accepted \"" << c.id << "\"";
    EXPECT_EQ(answer.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(answer.status().message().find(std::string("\"") + c.id + "\""), std::string::npos)
        << answer.status().message();
  }
  // The same '/' id is fine where no file or CDI name is made of it.
  EXPECT_TRUE(For(Only(true, false, false, false), {"MIG-GPU-a/1/0"}).ok());
}

TEST(DeviceListForTest, ResponseIdMustMakeAValidAnnotationKey) {
  const std::vector<std::string> ids = {"GPU-a"};
  const DeviceListStrategies annotations = Only(false, false, true, false);
  EXPECT_FALSE(DeviceListFor(annotations, ids, "").ok());
  EXPECT_FALSE(DeviceListFor(annotations, ids, "bad id").ok());
  EXPECT_FALSE(DeviceListFor(annotations, ids, "x-").ok()) << "must end alphanumeric";
  EXPECT_FALSE(DeviceListFor(annotations, ids, std::string(43, 'a')).ok()) << "64 characters";
  auto longest = DeviceListFor(annotations, ids, std::string(42, 'a'));
  ASSERT_TRUE(longest.ok()) << longest.status().message();
  EXPECT_EQ(longest->annotations.begin()->first,
            "cdi.k8s.io/nvidia-device-plugin_" + std::string(42, 'a'));
  auto slash = DeviceListFor(annotations, ids, "a/b");
  ASSERT_TRUE(slash.ok()) << slash.status().message();
  EXPECT_EQ(slash->annotations.begin()->first, "cdi.k8s.io/nvidia-device-plugin_a_b");
  EXPECT_TRUE(DeviceListFor(Only(true, false, false, true), ids, "").ok())
      << "no annotation, no key to check";
}

}  // namespace
}  // namespace hami::deviceplugin
