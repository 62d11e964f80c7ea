#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "device/codec.h"

namespace hami {
namespace {

// Spec §1.1 example, verbatim.
constexpr char kSpecRegisterJson[] =
    R"([{"id":"GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448","count":10,"devmem":15360,"devcore":100,)"
    R"("type":"NVIDIA-Tesla T4","mode":"hami-core","health":true},{"id":"GPU-7a1c...","index":1,)"
    R"("count":10,"devmem":15360,"devcore":100,"type":"NVIDIA-Tesla T4","numa":1,)"
    R"("mode":"hami-core","health":true}])";

// Spec §1.2 example, verbatim.
constexpr char kSpecLegacy[] =
    "GPU-aaa,10,32768,100,NVIDIA-Tesla V100,0,true,0,hami-core:"
    "GPU-bbb,10,32768,100,NVIDIA-Tesla V100,0,true,1,hami-core:";

DeviceInfo Dev(std::string id, int32_t index, int32_t count, int32_t mem, int32_t core,
               std::string type, int32_t numa, std::string mode, bool health) {
  DeviceInfo d;
  d.id = std::move(id);
  d.index = index;
  d.count = count;
  d.devmem_mib = mem;
  d.devcore = core;
  d.type = std::move(type);
  d.numa = numa;
  d.mode = std::move(mode);
  d.health = health;
  return d;
}

TEST(NodeDevicesJsonTest, SpecExampleDecodesAndReencodesByteIdentically) {
  Result<std::vector<DeviceInfo>> r = DecodeNodeDevicesJson(kSpecRegisterJson);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const std::vector<DeviceInfo> want = {
      Dev("GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448", 0, 10, 15360, 100, "NVIDIA-Tesla T4", 0,
          "hami-core", true),
      Dev("GPU-7a1c...", 1, 10, 15360, 100, "NVIDIA-Tesla T4", 1, "hami-core", true)};
  EXPECT_EQ(*r, want);
  EXPECT_EQ(EncodeNodeDevicesJson(*r), kSpecRegisterJson);
}

TEST(NodeDevicesJsonTest, OmitsZeroFieldsLikeGoOmitempty) {
  EXPECT_EQ(EncodeNodeDevicesJson({}), "[]");
  DeviceInfo d;
  d.id = "GPU-x";
  EXPECT_EQ(EncodeNodeDevicesJson({d}), R"([{"id":"GPU-x","mode":"hami-core"}])");
  d.mode.clear();
  EXPECT_EQ(EncodeNodeDevicesJson({d}), R"([{"id":"GPU-x"}])");
  d.health = true;
  d.numa = 3;
  EXPECT_EQ(EncodeNodeDevicesJson({d}), R"([{"id":"GPU-x","numa":3,"health":true}])");
}

TEST(NodeDevicesJsonTest, EscapesStringsLikeGoEncodingJson) {
  DeviceInfo d;
  d.id = "GPU-1";
  d.mode.clear();
  d.type = std::string("a\"b\\c<d>e&f\n\r\t\b\f\x01\x1f") + "\xe2\x80\xa8" + "\xe2\x80\xa9" +
           "\xff" + "\xc3\xa9" + "\xf0\x9f\x98\x80" + "\xed\xa0\x80";
  EXPECT_EQ(EncodeNodeDevicesJson({d}),
            "[{\"id\":\"GPU-1\",\"type\":\"a\\\"b\\\\c\\u003cd\\u003ee\\u0026f\\n\\r\\t\\b\\f"
            "\\u0001\\u001f\\u2028\\u2029\\ufffd\xc3\xa9\xf0\x9f\x98\x80"
            "\\ufffd\\ufffd\\ufffd\"}]");
}

TEST(NodeDevicesJsonTest, DecodeDefaultsAndLeniency) {
  // Missing index/numa/health/mode; case-insensitive keys; unknown keys; null keeps default.
  Result<std::vector<DeviceInfo>> r = DecodeNodeDevicesJson(
      R"( [ {"ID":"GPU-a","Count":4,"devmem":1024,"migProfiles":[{"name":"1g.10gb"}],)"
      R"("custominfo":{"x":1},"numa":null,"mode":""} ] )");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  DeviceInfo want = Dev("GPU-a", 0, 4, 1024, 0, "", 0, "hami-core", false);
  want.mig_profiles = {MigProfile{"1g.10gb", 0, 0, 0, {}}};
  EXPECT_EQ((*r)[0], want);

  // Last duplicate wins, across case variants.
  r = DecodeNodeDevicesJson(R"([{"id":"GPU-a","count":1,"COUNT":2}])");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].count, 2);

  r = DecodeNodeDevicesJson("null");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = DecodeNodeDevicesJson("[]");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

struct BadInput {
  std::string text;
  std::string message_part;
};

class NodeDevicesJsonBadTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(NodeDevicesJsonBadTest, RejectsWithClearMessage) {
  Result<std::vector<DeviceInfo>> r = DecodeNodeDevicesJson(GetParam().text);
  ASSERT_FALSE(r.ok()) << GetParam().text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().message_part), std::string::npos)
      << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, NodeDevicesJsonBadTest,
    ::testing::Values(
        BadInput{"not json", "does not parse"}, BadInput{"", "does not parse"},
        BadInput{"[]x", "does not parse"}, BadInput{"[{\"id\":\"a\"},]", "does not parse"},
        BadInput{"{}", "expected an array, got an object"},
        BadInput{"\"x\"", "expected an array, got a string"},
        BadInput{"[1]", "device 0: expected an object, got a number"},
        BadInput{"[null]", "device 0: expected an object, got null"},
        BadInput{R"([{"id":"a"},{"id":"b","count":"10"}])",
                 "device 1: field \"count\": expected an integer, got a string"},
        BadInput{R"([{"id":"a","count":1.0}])", "expected an integer, got a non-integer number"},
        BadInput{R"([{"id":"a","count":1e2}])", "expected an integer"},
        BadInput{R"([{"id":"a","count":-1}])", "field \"count\": -1 is out of range"},
        BadInput{R"([{"id":"a","devmem":-5}])", "field \"devmem\": -5 is out of range"},
        BadInput{R"([{"id":"a","devcore":-1}])", "devcore"},
        BadInput{R"([{"id":"a","numa":-1}])", "numa"},
        BadInput{R"([{"id":"a","index":-1}])", "index"},
        BadInput{R"([{"id":"a","devmem":3000000000}])", "3000000000 is out of range"},
        BadInput{R"([{"id":"a","devmem":99999999999999999999}])", "non-integer number"},
        BadInput{R"([{"id":"a","health":1}])", "expected true or false, got a number"},
        BadInput{R"([{"id":"a","health":"true"}])", "expected true or false, got a string"},
        BadInput{R"([{"id":7}])", "field \"id\": expected a string, got a number"},
        BadInput{R"([{"id":"a","type":["x"]}])", "expected a string, got an array"},
        BadInput{R"([{"count":1}])", "device id is empty"},
        BadInput{R"([{"id":"GPU-a:b"}])", "contains ',', ':' or ';'"},
        BadInput{std::string(100, '[') + std::string(100, ']'), "nested deeper than 32"}));

TEST(NodeDevicesLegacyTest, SpecExampleRoundTripsByteIdentically) {
  Result<std::vector<DeviceInfo>> r = DecodeNodeDevicesLegacy(kSpecLegacy);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const std::vector<DeviceInfo> want = {
      Dev("GPU-aaa", 0, 10, 32768, 100, "NVIDIA-Tesla V100", 0, "hami-core", true),
      Dev("GPU-bbb", 1, 10, 32768, 100, "NVIDIA-Tesla V100", 0, "hami-core", true)};
  EXPECT_EQ(*r, want);
  EXPECT_EQ(EncodeNodeDevicesLegacy(*r), kSpecLegacy);
}

TEST(NodeDevicesLegacyTest, SevenFieldFormAndGoParseBool) {
  Result<std::vector<DeviceInfo>> r =
      DecodeNodeDevicesLegacy("DCU-1,4,16384,100,DCU-Z100,1,t:DCU-2,4,16384,100,DCU-Z100,0,0\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0], Dev("DCU-1", 0, 4, 16384, 100, "DCU-Z100", 1, "hami-core", true));
  EXPECT_EQ((*r)[1], Dev("DCU-2", 0, 4, 16384, 100, "DCU-Z100", 0, "hami-core", false));
  // Encoder always writes 9 fields.
  EXPECT_EQ(EncodeNodeDevicesLegacy(*r),
            "DCU-1,4,16384,100,DCU-Z100,1,true,0,hami-core:"
            "DCU-2,4,16384,100,DCU-Z100,0,false,0,hami-core:");
  // Empty mode in the 9-field form means hami-core; "mig" is kept.
  r = DecodeNodeDevicesLegacy("a,1,2,3,T,0,TRUE,2,:b,1,2,3,T,0,False,3,mig:");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].mode, "hami-core");
  EXPECT_EQ((*r)[0].index, 2);
  EXPECT_EQ((*r)[1].mode, "mig");
  EXPECT_FALSE((*r)[1].health);
  // A lone ':' is a valid, empty registration.
  r = DecodeNodeDevicesLegacy(":");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

class NodeDevicesLegacyBadTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(NodeDevicesLegacyBadTest, RejectsWithClearMessage) {
  Result<std::vector<DeviceInfo>> r = DecodeNodeDevicesLegacy(GetParam().text);
  ASSERT_FALSE(r.ok()) << GetParam().text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().message_part), std::string::npos)
      << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, NodeDevicesLegacyBadTest,
    ::testing::Values(
        BadInput{"", "no ':' found"}, BadInput{"GPU-a,10,32768,100,T,0,true", "no ':' found"},
        BadInput{"GPU-a,10,32768:", "device 0 \"GPU-a,10,32768\": has 3 comma-separated fields"},
        BadInput{"a,1,2,3,T,0,true:b,1,2,3,T,0,true,1:", "device 1"},
        BadInput{"junk:", "has 1 comma-separated fields, want 7 or 9"},
        BadInput{"a,x,2,3,T,0,true:", "field count \"x\" is not a non-negative 32-bit integer"},
        BadInput{"a,1,-2,3,T,0,true:", "field devmem \"-2\""},
        BadInput{"a,1,2,3,T,0,true,-1,hami-core:", "field index"},
        BadInput{"a,1,2,3,T,zero,true:", "field numa"},
        BadInput{"a,1,2,99999999999,T,0,true:", "field devcore"},
        BadInput{"a,1,2,3,T,0,yes:", "field health \"yes\" is not a boolean"},
        BadInput{",1,2,3,T,0,true:", "device id is empty"}));

TEST(NodeDevicesTest, AutoDetectsFormat) {
  Result<std::vector<DeviceInfo>> json = DecodeNodeDevices(std::string("  \n") + kSpecRegisterJson);
  ASSERT_TRUE(json.ok()) << json.status().message();
  EXPECT_EQ(json->size(), 2u);
  Result<std::vector<DeviceInfo>> legacy = DecodeNodeDevices(kSpecLegacy);
  ASSERT_TRUE(legacy.ok()) << legacy.status().message();
  EXPECT_EQ(legacy->size(), 2u);
  Result<std::vector<DeviceInfo>> bad = DecodeNodeDevices("[{\"id\":1}]");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("JSON"), std::string::npos);
  bad = DecodeNodeDevices("garbage");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("legacy"), std::string::npos);
}

TEST(NodeDevicesTest, RoundTripsBothFormats) {
  std::vector<DeviceInfo> devices;
  devices.reserve(8);
  for (int32_t i = 0; i < 8; ++i) {
    devices.push_back(Dev("GPU-" + std::to_string(i), i, i % 3 == 0 ? 0 : 10, 1000 * i,
                          100 * (i % 2), i % 2 ? "NVIDIA A100-SXM4-40GB" : "", i % 2,
                          i == 3 ? "mig" : "hami-core", i % 3 == 1));
  }
  Result<std::vector<DeviceInfo>> j = DecodeNodeDevicesJson(EncodeNodeDevicesJson(devices));
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ(*j, devices);
  Result<std::vector<DeviceInfo>> l = DecodeNodeDevicesLegacy(EncodeNodeDevicesLegacy(devices));
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(*l, devices);
}

}  // namespace
}  // namespace hami
