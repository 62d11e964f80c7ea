// hami.io/node-nvidia-score: the GPU link score list HAMi's device plugin publishes.
#include <gtest/gtest.h>

#include "device/pair_scores.h"

namespace hami {
namespace {

// Two GPUs joined by two NVLinks under one PCIe switch (2 x 100 + 50), a third across the CPU
// interconnect (10), as HAMi writes it: keys of each score map sorted, no whitespace.
constexpr char kGolden[] = R"([{"uuid":"GPU-a","score":{"GPU-b":250,"GPU-c":10}},)"
                           R"({"uuid":"GPU-b","score":{"GPU-a":250,"GPU-c":10}},)"
                           R"({"uuid":"GPU-c","score":{"GPU-a":10,"GPU-b":10}}])";

std::vector<DevicePairScore> GoldenScores() {
  return {{"GPU-a", {{"GPU-b", 250}, {"GPU-c", 10}}},
          {"GPU-b", {{"GPU-a", 250}, {"GPU-c", 10}}},
          {"GPU-c", {{"GPU-a", 10}, {"GPU-b", 10}}}};
}

TEST(PairScoresJsonTest, EncodesHamisBytes) {
  EXPECT_EQ(EncodePairScoresJson(GoldenScores()), kGolden);
  EXPECT_EQ(EncodePairScoresJson({}), "[]");
  EXPECT_EQ(EncodePairScoresJson({{"GPU-x", {}}}), R"([{"uuid":"GPU-x","score":{}}])");
}

TEST(PairScoresJsonTest, DecodesTheGoldenValueAndRoundTrips) {
  auto decoded = DecodePairScoresJson(kGolden);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, GoldenScores());
  EXPECT_EQ(EncodePairScoresJson(*decoded), kGolden);
}

TEST(PairScoresJsonTest, EscapesLikeGo) {
  const std::vector<DevicePairScore> odd = {{"GPU-<a>", {{"GPU-&", 1}}}};
  const std::string json = EncodePairScoresJson(odd);
  EXPECT_EQ(json, R"([{"uuid":"GPU-\u003ca\u003e","score":{"GPU-\u0026":1}}])");
  auto back = DecodePairScoresJson(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, odd);
}

TEST(PairScoresJsonTest, DecodesAsGoDoes) {
  struct Case {
    const char* json;
    std::vector<DevicePairScore> want;
  };
  const Case cases[] = {
      {"null", {}},
      {"[]", {}},
      {" [ ] ", {}},
      // Keys match case-insensitively, unknown ones are ignored, the last duplicate wins.
      {R"([{"UUID":"GPU-a","Score":{"GPU-b":3},"extra":[1,2]}])", {{"GPU-a", {{"GPU-b", 3}}}}},
      {R"([{"uuid":"GPU-x","uuid":"GPU-a","score":{"GPU-b":3}}])", {{"GPU-a", {{"GPU-b", 3}}}}},
      {R"([{"uuid":"GPU-a","score":null}])", {{"GPU-a", {}}}},
      {R"([{"uuid":"GPU-a"}])", {{"GPU-a", {}}}},
      {R"([{"uuid":"GPU-a","score":{"GPU-b":-5}}])", {{"GPU-a", {{"GPU-b", -5}}}}},
  };
  for (const Case& c : cases) {
    auto decoded = DecodePairScoresJson(c.json);
    ASSERT_TRUE(decoded.ok()) << c.json << ": " << decoded.status().message();
    EXPECT_EQ(*decoded, c.want) << c.json;
  }
}

TEST(PairScoresJsonTest, RefusesMalformedValuesWithAReason) {
  struct Case {
    const char* json;
    const char* says;
  };
  const Case cases[] = {
      {"", "does not parse"},
      {"[{", "does not parse"},
      {"{}", "expected an array"},
      {"[1]", "expected an object"},
      {R"([{"score":{}}])", "uuid"},
      {R"([{"uuid":""}])", "uuid"},
      {R"([{"uuid":7}])", "expected a string"},
      {R"([{"uuid":"GPU-a","score":[1]}])", "expected an object"},
      {R"([{"uuid":"GPU-a","score":{"GPU-b":"1"}}])", "expected an integer"},
      {R"([{"uuid":"GPU-a","score":{"GPU-b":1.5}}])", "expected an integer"},
      {R"([{"uuid":"GPU-a","score":{"GPU-b":9999999999}}])", "out of range"},
      {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "nested deeper"},
  };
  for (const Case& c : cases) {
    auto decoded = DecodePairScoresJson(c.json);
    ASSERT_FALSE(decoded.ok()) << c.json;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_NE(decoded.status().message().find(c.says), std::string::npos)
        << c.json << ": " << decoded.status().message();
  }
}

}  // namespace
}  // namespace hami
