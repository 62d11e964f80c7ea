#include "common/duration.h"

#include <gtest/gtest.h>

namespace hami {
namespace {

using std::chrono::nanoseconds;

TEST(ParseGoDurationTest, Valid) {
  EXPECT_EQ(*ParseGoDuration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(*ParseGoDuration("28s"), std::chrono::seconds(28));
  EXPECT_EQ(*ParseGoDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseGoDuration("1.5h"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseGoDuration("300ms"), std::chrono::milliseconds(300));
  EXPECT_EQ(*ParseGoDuration("2us"), std::chrono::microseconds(2));
  EXPECT_EQ(*ParseGoDuration("7ns"), nanoseconds(7));
  EXPECT_EQ(*ParseGoDuration("0"), nanoseconds(0));
  EXPECT_EQ(*ParseGoDuration("-2s"), std::chrono::seconds(-2));
}

TEST(ParseGoDurationTest, Invalid) {
  for (const char* bad : {"", "5", "m", "5x", "1..5s", ".s", "5 m", "+", "1e3s", "9999999999h"}) {
    auto d = ParseGoDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
  }
  EXPECT_NE(ParseGoDuration("5x").status().message().find("unknown unit"), std::string::npos);
}

}  // namespace
TEST(ParsePositiveGoDurationTest, RefusesZeroAndNegative) {
  EXPECT_EQ(*ParsePositiveGoDuration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(*ParsePositiveGoDuration("1ns"), std::chrono::nanoseconds(1));
  for (const char* bad : {"0", "0s", "-5m"}) {
    auto parsed = ParsePositiveGoDuration(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().message(), "must be positive") << bad;
  }
  EXPECT_EQ(ParsePositiveGoDuration("5").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace hami
