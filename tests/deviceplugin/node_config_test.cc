#include "deviceplugin/node_config.h"

#include <gtest/gtest.h>

namespace hami::deviceplugin {
namespace {

TEST(NodeConfigTest, TheEntryForThisNodeOverridesTheFlags) {
  const char* text = R"({"nodeconfig":[
      {"name":"other","devicesplitcount":2},
      {"name":"n1","operatingmode":"hami-core","devicesplitcount":5,"devicememoryscaling":1.5,
       "devicecorescaling":2,"preconfigureddevicememory":8192,"enablenumatopology":true,
       "libcudaloglevel":"4","migstrategy":"none","filterdevices":{"uuid":["GPU-x"],"index":[3]},
       "enablegetpreferredallocation":false,"somethingnew":{"a":1}}]})";
  auto parsed = ParseNodeConfig(text, "n1");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_TRUE(parsed->has_value());
  DiscoveryOptions discovery;
  AllocateSettings allocate;
  bool numa = false;
  ApplyNodeOverrides(**parsed, discovery, allocate, numa);
  EXPECT_EQ(discovery.split_count, 5);
  EXPECT_EQ(discovery.memory_scaling, 1.5);
  EXPECT_EQ(allocate.memory_scaling, 1.5);
  EXPECT_EQ(discovery.core_scaling, 2);
  EXPECT_EQ(discovery.preconfigured_memory_mib, 8192);
  EXPECT_EQ(discovery.exclude_uuids, (std::set<std::string>{"GPU-x"}));
  EXPECT_EQ(discovery.exclude_indexes, (std::set<uint32_t>{3}));
  EXPECT_EQ(allocate.log_level, "4");
  EXPECT_TRUE(numa);
  EXPECT_FALSE(ParseNodeConfig(text, "n9")->has_value());
  EXPECT_FALSE(ParseNodeConfig("{}", "n1")->has_value());
}

TEST(NodeConfigTest, WrongTypesAndValuesNameTheKey) {
  struct Case {
    const char* entry;
    const char* key;
  };
  const Case cases[] = {
      {R"("devicesplitcount":"10")", "devicesplitcount"},
      {R"("devicesplitcount":0)", "devicesplitcount"},
      {R"("devicememoryscaling":-1)", "devicememoryscaling"},
      {R"("operatingmode":"turbo")", "operatingmode"},
      {R"("filterdevices":{"index":["0"]})", "filterdevices.index"},
      {R"("filterdevices":{"uuid":[1]})", "filterdevices.uuid"},
      {R"("enablenumatopology":"yes")", "enablenumatopology"},
  };
  for (const Case& c : cases) {
    const std::string text = std::string(R"({"nodeconfig":[{"name":"n1",)") + c.entry + "}]}";
    auto parsed = ParseNodeConfig(text, "n1");
    ASSERT_FALSE(parsed.ok()) << c.entry;
    EXPECT_NE(parsed.status().message().find(c.key), std::string::npos)
        << parsed.status().message();
  }
  EXPECT_FALSE(ParseNodeConfig("not json", "n1").ok());
  EXPECT_FALSE(ParseNodeConfig(R"({"nodeconfig":{}})", "n1").ok());
  EXPECT_FALSE(ParseNodeConfig(R"({"nodeconfig":[3]})", "n1").ok());
}

}  // namespace
}  // namespace hami::deviceplugin
