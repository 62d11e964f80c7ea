// AWS Neuron nodes in the mixed cluster, registered as AWS's device plugin does: no annotation,
// only status.capacity aws.amazon.com/neuron (devices) and aws.amazon.com/neuroncore (all
// devices' NeuronCores), from which HAMi synthesises "<node>-AWSNeuron-<i>".
#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/awsneuron.h"
#include "device/codec.h"
#include "scheduler/daemon.h"
#include "scheduler/state_sync.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using MixedAwsNeuronTest = testing::MixedClusterTest;

nlohmann::json NeuronNode(const std::string& name, const std::string& devices,
                          const std::string& cores,
                          nlohmann::json annotations = nlohmann::json::object()) {
  nlohmann::json resources = {{"aws.amazon.com/neuron", devices},
                              {"aws.amazon.com/neuroncore", cores},
                              {"nvidia.com/gpu", "10"}};
  return testing::MixedNode(name, std::move(annotations), resources, resources);
}

TEST_F(MixedAwsNeuronTest, CoreAndDevicePodsGetHamisAnnotations) {
  device_config_.awsneuron = AwsNeuronConfig{};
  // inf2.8xlarge-like: 2 devices of 2 NeuronCores.
  ASSERT_TRUE(api_.Put(NeuronNode("inf-node", "2", "4")).ok());
  auto daemon = StartDaemon();
  const nlohmann::json inf = {"gpu-node", "dcu-node", "inf-node"};

  // One NeuronCore: a device of its own, core listed by its NeuronCore index.
  nlohmann::json core =
      *api_.Put(testing::PodObject("one-core", {{"aws.amazon.com/neuroncore", "1"}}));
  nlohmann::json filtered = Filter(*daemon, core, inf);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"inf-node"})) << filtered.dump();
  Bind(*daemon, core, "inf-node");
  nlohmann::json annotations = Annotations("one-core");
  const std::string allocated = annotations.value(kAwsNeuronAllocatedAnnotation, "");
  ASSERT_TRUE(allocated == "inf-node-AWSNeuron-0,AWSNeuron,2,1:;" ||
              allocated == "inf-node-AWSNeuron-1,AWSNeuron,2,1:;")
      << annotations.dump();
  const bool first = allocated.starts_with("inf-node-AWSNeuron-0");
  EXPECT_EQ(annotations[kAwsNeuronIdsAnnotation], first ? "0" : "2");
  EXPECT_EQ(annotations[kAwsNeuronResourceTypeAnnotation], "aws.amazon.com/neuroncore");
  EXPECT_EQ(annotations[kAwsNeuronAllocatedFlagAnnotation], "false");
  EXPECT_EQ(annotations[kAwsNeuronPredicateNodeAnnotation], "inf-node");
  EXPECT_TRUE(testing::IsUnixNanos(annotations[kAwsNeuronAllocTimeAnnotation]))
      << annotations.dump();
  EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));

  // A whole device: the other one, listed by device index, HAMi's device string.
  nlohmann::json device =
      *api_.Put(testing::PodObject("one-device", {{"aws.amazon.com/neuron", "1"}}));
  filtered = Filter(*daemon, device, inf);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"inf-node"})) << filtered.dump();
  Bind(*daemon, device, "inf-node");
  annotations = Annotations("one-device");
  const std::string other = first ? "1" : "0";
  EXPECT_EQ(annotations[kAwsNeuronAllocatedAnnotation],
            "inf-node-AWSNeuron-" + other + ",AWSNeuron,0,3:;");
  EXPECT_EQ(annotations[kAwsNeuronIdsAnnotation], other);
  EXPECT_FALSE(annotations.contains(kAwsNeuronResourceTypeAnnotation));
  EXPECT_EQ(annotations[kAwsNeuronPredicateNodeAnnotation], "inf-node");

  // Both devices are taken: no NeuronCore is handed out twice.
  nlohmann::json more =
      *api_.Put(testing::PodObject("more-core", {{"aws.amazon.com/neuroncore", "1"}}));
  EXPECT_TRUE(Filter(*daemon, more, inf)["NodeNames"].is_null());
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());

  // One container asking AWS Neuron and NVIDIA is refused clearly.
  ExpectTwoVendorPodRefused(*daemon, {{"aws.amazon.com/neuron", "1"}, {"nvidia.com/gpu", "1"}}, inf,
                            "AWSNeuron, NVIDIA");

  // A restarted replica rebuilds the Neuron allocations from the allocated annotation.
  ExpectRestartRebuildsAllocations(daemon, 2, "again", {{"aws.amazon.com/neuron", "1"}}, inf);
}

TEST_F(MixedAwsNeuronTest, MultiDeviceContainersTakeRuns) {
  device_config_.awsneuron = AwsNeuronConfig{};
  // trn1.32xlarge-like: 16 devices of 2 NeuronCores.
  ASSERT_TRUE(api_.Put(NeuronNode("trn-node", "16", "32")).ok());
  auto daemon = StartDaemon();
  const nlohmann::json trn = {"trn-node"};
  struct Step {
    const char* pod;
    const char* resource;
    const char* amount;
    const char* ids;  // nullptr = refused
  } steps[] = {
      {"four", "aws.amazon.com/neuron", "4", "0,1,2,3"},
      {"four-more", "aws.amazon.com/neuron", "4", "4,5,6,7"},
      // 8 NeuronCores = 4 devices, listed by NeuronCore index.
      {"cores", "aws.amazon.com/neuroncore", "8", "16,17,18,19,20,21,22,23"},
      {"two", "aws.amazon.com/neuron", "2", "12,13"},
      {"eight", "aws.amazon.com/neuron", "8", nullptr},
  };
  for (const Step& step : steps) {
    nlohmann::json pod = *api_.Put(testing::PodObject(step.pod, {{step.resource, step.amount}}));
    nlohmann::json filtered = Filter(*daemon, pod, trn);
    if (step.ids == nullptr) {
      EXPECT_TRUE(filtered["NodeNames"].is_null()) << step.pod << filtered.dump();
      continue;
    }
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"trn-node"}))
        << step.pod << filtered.dump();
    Bind(*daemon, pod, "trn-node");
    EXPECT_EQ(Annotations(step.pod)[kAwsNeuronIdsAnnotation], step.ids) << step.pod;
  }
  EXPECT_EQ(Annotations("four")[kAwsNeuronAllocatedAnnotation],
            "trn-node-AWSNeuron-0,AWSNeuron,0,3:trn-node-AWSNeuron-1,AWSNeuron,0,3:"
            "trn-node-AWSNeuron-2,AWSNeuron,0,3:trn-node-AWSNeuron-3,AWSNeuron,0,3:;");
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());
}

TEST_F(MixedAwsNeuronTest, MalformedNeuronCapacityDropsOnlyThatNodesDevices) {
  device_config_.awsneuron = AwsNeuronConfig{};
  ASSERT_TRUE(api_.Put(NeuronNode("both-node", "2", "3",
                                  {{kNodeNvidiaRegisterAnnotation,
                                    EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})}}))
                  .ok());
  ASSERT_TRUE(api_.Put(NeuronNode("inf-node", "2", "4")).ok());
  auto daemon = StartDaemon();
  ExpectNvidiaPodFits(*daemon, "both-node");
  ExpectFitsOnlyOnGoodNode(*daemon, "neuron-pod", {{"aws.amazon.com/neuron", "1"}}, "both-node",
                           "inf-node");

  auto errors = ApplyRegistration("both-node").actions.registration_errors;
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors["AWSNeuron"].find("is not divisible"), std::string::npos) << errors["AWSNeuron"];
  ASSERT_TRUE(WaitForRegistrationEvent("both-node", "aws.amazon.com/neuroncore"));
}

}  // namespace
}  // namespace hami::scheduler
