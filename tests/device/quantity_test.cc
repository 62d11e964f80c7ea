#include "device/quantity.h"

#include <gtest/gtest.h>

#include <string>

namespace hami {
namespace {

struct QuantityOk {
  const char* text;
  int64_t want;
};

class QuantityOkTest : public ::testing::TestWithParam<QuantityOk> {};

TEST_P(QuantityOkTest, ParsesLikeGoAsInt64) {
  Result<int64_t> r = ParseQuantityInt64(GetParam().text);
  ASSERT_TRUE(r.ok()) << GetParam().text << ": " << r.status().message();
  EXPECT_EQ(*r, GetParam().want) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, QuantityOkTest,
    ::testing::Values(
        QuantityOk{"0", 0}, QuantityOk{"1", 1}, QuantityOk{"-1", -1}, QuantityOk{"+5", 5},
        QuantityOk{"007", 7}, QuantityOk{"-0", 0}, QuantityOk{"3000", 3000}, QuantityOk{"1k", 1000},
        QuantityOk{"1.5k", 1500}, QuantityOk{"1.50k", 1500}, QuantityOk{"1.500k", 1500},
        QuantityOk{"0.5k", 500}, QuantityOk{".5k", 500}, QuantityOk{"2M", 2000000},
        QuantityOk{"3G", 3000000000}, QuantityOk{"1T", 1000000000000},
        QuantityOk{"1P", 1000000000000000}, QuantityOk{"1E", 1000000000000000000},
        QuantityOk{"9E", 9000000000000000000}, QuantityOk{"1Ki", 1024},
        QuantityOk{"16Gi", 17179869184}, QuantityOk{"99Ti", 99LL << 40},
        QuantityOk{"99999Gi", 99999LL << 30}, QuantityOk{"99999999Mi", 99999999LL << 20},
        QuantityOk{"99999999999Ki", 99999999999LL << 10}, QuantityOk{"5.Gi", 5LL << 30},
        QuantityOk{"1e3", 1000}, QuantityOk{"1E3", 1000}, QuantityOk{"1e+3", 1000},
        QuantityOk{"5e0", 5}, QuantityOk{"1.5e1", 15}, QuantityOk{"2e18", 2000000000000000000},
        QuantityOk{"999999999999999999", 999999999999999999}, QuantityOk{"0.000000001G", 1},
        // Go oddities kept on purpose: lone sign or dot is zero, exponent wraps to int32.
        QuantityOk{"-", 0}, QuantityOk{"+", 0}, QuantityOk{".", 0}, QuantityOk{"5.", 5},
        QuantityOk{"1e4294967296", 1}));

struct QuantityBad {
  const char* text;
  const char* message_part;
};

class QuantityBadTest : public ::testing::TestWithParam<QuantityBad> {};

TEST_P(QuantityBadTest, FailsWithClearMessage) {
  Result<int64_t> r = ParseQuantityInt64(GetParam().text);
  ASSERT_FALSE(r.ok()) << GetParam().text << " parsed as " << *r;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().message_part), std::string::npos)
      << r.status().message();
  if (*GetParam().text != '\0') {
    EXPECT_NE(r.status().message().find(std::string("\"") + GetParam().text + "\""),
              std::string::npos)
        << "message should quote the input: " << r.status().message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, QuantityBadTest,
    ::testing::Values(QuantityBad{"", "empty"}, QuantityBad{"500m", "not an integer"},
                      QuantityBad{"1.5", "not an integer"}, QuantityBad{"1.0", "not an integer"},
                      QuantityBad{"1000m", "not an integer"},
                      QuantityBad{"1.5000k", "not an integer"},
                      QuantityBad{"1e-3", "not an integer"}, QuantityBad{"100n", "not an integer"},
                      QuantityBad{"1e-10", "more than 9 fractional digits"},
                      QuantityBad{"0e-10", "more than 9 fractional digits"},
                      QuantityBad{"1.5Gi", "binary suffix"}, QuantityBad{"1Pi", "too large"},
                      QuantityBad{"1Ei", "too large"}, QuantityBad{"100Ti", "too large"},
                      QuantityBad{"100000Gi", "too large"},
                      QuantityBad{"1000000000000000000", "too large"},
                      QuantityBad{"9223372036854775807", "too large"},
                      QuantityBad{"10E", "overflows"}, QuantityBad{"1e19", "overflows"},
                      QuantityBad{"abc", "malformed"}, QuantityBad{"1K", "unknown suffix"},
                      QuantityBad{"1e", "unknown suffix"}, QuantityBad{"1e-", "unknown suffix"},
                      QuantityBad{"1ee3", "unknown suffix"}, QuantityBad{"1Mi3", "unknown suffix"},
                      QuantityBad{"1 ", "malformed"}, QuantityBad{" 1", "malformed"},
                      QuantityBad{"1.2.3", "malformed"}, QuantityBad{"--1", "unknown suffix"},
                      QuantityBad{"0x10", "malformed"}, QuantityBad{"1,000", "malformed"}));

TEST(QuantityTest, LongInputIsTruncatedInMessage) {
  std::string text(10000, '9');
  Result<int64_t> r = ParseQuantityInt64(text);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.status().message().size(), 400u);
}

TEST(QuantityValueTest, FractionalValuesAsKubernetesWritesThem) {
  const std::pair<const char*, double> ok[] = {
      {"500m", 0.5},           {"2", 2},         {"1.5", 1.5},
      {"16Gi", 17179869184.0}, {"1000000", 1e6}, {"1.5k", 1500},
      {"100Mi", 104857600},    {"-1", -1},       {"2e3", 2000},
      {"0.25", 0.25},          {"0", 0}};
  for (const auto& [text, want] : ok) {
    auto value = ParseQuantityValue(text);
    ASSERT_TRUE(value.ok()) << text << ": " << value.status().message();
    EXPECT_DOUBLE_EQ(*value, want) << text;
  }
  for (const char* bad : {"", "lots", "1x", "1.2.3", "5 Gi"}) {
    EXPECT_FALSE(ParseQuantityValue(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace hami
