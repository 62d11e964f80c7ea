#include "scheduler/extender_types.h"

#include <gtest/gtest.h>

namespace hami::scheduler {
namespace {

// A body as kube-scheduler (nodeCacheCapable: true) sends it.
constexpr char kFilterArgs[] = R"({
  "Pod": {"metadata": {"name": "gpu-pod", "namespace": "default", "uid": "u-1"},
          "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}},
  "Nodes": null,
  "NodeNames": ["node-a", "node-b"]
})";

TEST(ExtenderArgsTest, DecodesKubeSchedulerBody) {
  auto args = DecodeExtenderArgs(kFilterArgs);
  ASSERT_TRUE(args.ok()) << args.status().message();
  EXPECT_EQ(args->pod["metadata"]["name"], "gpu-pod");
  EXPECT_FALSE(args->nodes.has_value());
  EXPECT_EQ(args->node_names, (std::vector<std::string>{"node-a", "node-b"}));
}

TEST(ExtenderArgsTest, KeysAreCaseInsensitiveAndNodesSelectSimulation) {
  auto args = DecodeExtenderArgs(
      R"({"pod":{"metadata":{"name":"p"}},"nodes":{"items":[{"metadata":{"name":"n1"}}]}})");
  ASSERT_TRUE(args.ok()) << args.status().message();
  ASSERT_TRUE(args->nodes.has_value());
  EXPECT_EQ((*args->nodes)[0]["metadata"]["name"], "n1");
  EXPECT_FALSE(args->node_names.has_value());
}

TEST(ExtenderArgsTest, BadBodiesAreClearErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not valid JSON"},
      {"[1]", "not a JSON object"},
      {"{\"NodeNames\":[\"a\"]}", "missing Pod"},
      {"{\"Pod\":\"x\"}", "missing Pod"},
      {"{\"Pod\":{},\"NodeNames\":\"a\"}", "NodeNames is not an array"},
      {"{\"Pod\":{},\"NodeNames\":[1]}", "not a string"},
      {"{\"Pod\":{},\"Nodes\":[1]}", "not a NodeList"},
      {"{\"Pod\":{},\"Nodes\":{\"items\":[1]}}", "not an object"},
  };
  for (const auto& [body, want] : cases) {
    auto args = DecodeExtenderArgs(body);
    ASSERT_FALSE(args.ok()) << body;
    EXPECT_NE(args.status().message().find(want), std::string::npos)
        << body << " -> " << args.status().message();
  }
  EXPECT_FALSE(DecodeExtenderArgs(std::string(kMaxExtenderBodyBytes + 1, ' ')).ok());
}

TEST(ExtenderFilterResultTest, GoldenEncodings) {
  ExtenderFilterResult chosen;
  chosen.node_names = std::vector<std::string>{"node-a"};
  EXPECT_EQ(EncodeExtenderFilterResult(chosen),
            R"({"Nodes":null,"NodeNames":["node-a"],"FailedNodes":null,)"
            R"("FailedAndUnresolvableNodes":null,"Error":""})");

  ExtenderFilterResult none;
  none.failed_nodes = {{"node-b", "1/1 CardInsufficientMemory"}};
  EXPECT_EQ(
      EncodeExtenderFilterResult(none),
      R"({"Nodes":null,"NodeNames":null,"FailedNodes":{"node-b":"1/1 CardInsufficientMemory"},)"
      R"("FailedAndUnresolvableNodes":null,"Error":""})");

  ExtenderFilterResult simulated;
  simulated.nodes = std::vector<nlohmann::json>{{{"metadata", {{"name", "n1"}}}}};
  simulated.error = "x";
  EXPECT_EQ(EncodeExtenderFilterResult(simulated),
            R"({"Nodes":{"items":[{"metadata":{"name":"n1"}}],"metadata":{}},"NodeNames":null,)"
            R"("FailedNodes":null,"FailedAndUnresolvableNodes":null,"Error":"x"})");
}

TEST(ExtenderBindingTest, DecodeAndEncode) {
  auto args = DecodeExtenderBindingArgs(
      R"({"PodName":"p","PodNamespace":"default","PodUID":"u-1","Node":"node-a"})");
  ASSERT_TRUE(args.ok()) << args.status().message();
  EXPECT_EQ(args->pod_name, "p");
  EXPECT_EQ(args->pod_namespace, "default");
  EXPECT_EQ(args->pod_uid, "u-1");
  EXPECT_EQ(args->node, "node-a");
  EXPECT_TRUE(DecodeExtenderBindingArgs(R"({"podname":"p","podnamespace":"d","node":"n"})").ok());
  for (const char* bad : {"{}", R"({"PodName":"p","PodNamespace":"d"})",
                          R"({"PodName":"","PodNamespace":"d","Node":"n"})",
                          R"({"PodName":1,"PodNamespace":"d","Node":"n"})", "nope"}) {
    EXPECT_FALSE(DecodeExtenderBindingArgs(bad).ok()) << bad;
  }
  EXPECT_EQ(EncodeExtenderBindingResult(""), R"({"Error":""})");
  EXPECT_EQ(EncodeExtenderBindingResult("node n1 has been locked"),
            R"({"Error":"node n1 has been locked"})");
}

}  // namespace
}  // namespace hami::scheduler
