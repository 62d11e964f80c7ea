#include "deviceplugin/health.h"

#include <gtest/gtest.h>

namespace hami::deviceplugin {
namespace {

TEST(HealthCheckEnvTest, DefaultsKeywordsAndLists) {
  auto defaults = ParseHealthCheckEnv(std::nullopt, std::nullopt);
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->enabled);
  EXPECT_EQ(defaults->ignored_xids, (std::set<uint64_t>{13, 31, 43, 45, 68, 109}));
  EXPECT_FALSE(ParseHealthCheckEnv(std::string("all"), std::nullopt)->enabled);
  EXPECT_FALSE(ParseHealthCheckEnv(std::string("xids"), std::nullopt)->enabled);
  auto more = ParseHealthCheckEnv(std::string("48, 63"), std::string("13"));
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->ignored_xids, (std::set<uint64_t>{31, 43, 45, 48, 63, 68, 109}));
  auto bad = ParseHealthCheckEnv(std::string("48,sometimes"), std::nullopt);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("DP_DISABLE_HEALTHCHECKS"), std::string::npos);
  EXPECT_FALSE(ParseHealthCheckEnv(std::nullopt, std::string("-1")).ok());
}

TEST(JudgeEventTest, OnlyCriticalXidsThatAreNotApplicationFaults) {
  const HealthCheckConfig config;
  EXPECT_EQ(JudgeEvent({1, kNvmlEventXidCriticalError, 79}, config),
            EventVerdict::kDeviceUnhealthy);  // fell off the bus
  EXPECT_EQ(JudgeEvent({1, kNvmlEventXidCriticalError, 13}, config),
            EventVerdict::kIgnore);  // graphics engine exception: the application's fault
  EXPECT_EQ(JudgeEvent({std::nullopt, kNvmlEventXidCriticalError, 48}, config),
            EventVerdict::kAllUnhealthy);
  EXPECT_EQ(JudgeEvent({0, kNvmlEventDoubleBitEccError, 0}, config), EventVerdict::kIgnore);
  HealthCheckConfig off;
  off.enabled = false;
  EXPECT_EQ(JudgeEvent({1, kNvmlEventXidCriticalError, 79}, off), EventVerdict::kIgnore);
}

}  // namespace
}  // namespace hami::deviceplugin
