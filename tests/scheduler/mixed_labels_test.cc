// Vendors that read node labels, in the mixed cluster: Moore Threads numbers its cards by the
// physical ids of mthreads.com/sgpu.cores, AWS Neuron picks HAMi's multi-device rule from
// node.kubernetes.io/instance-type. The labels travel from the Node object to the vendor
// through NodeFactsOf.
#include <gtest/gtest.h>

#include <string_view>

#include "common/strings.h"
#include "device/annotations.h"
#include "device/awsneuron.h"
#include "device/codec.h"
#include "device/mthreads.h"
#include "scheduler/daemon.h"
#include "scheduler/state_sync.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using MixedLabelsTest = testing::MixedClusterTest;

nlohmann::json Labelled(nlohmann::json node, nlohmann::json labels) {
  node["metadata"]["labels"] = std::move(labels);
  return node;
}

// `cards` MTT S4000 cards (16 core groups, 96 x 512 MiB each), bound to sgpu_km as `ids`.
nlohmann::json MtNode(const std::string& name, int cards, const std::string& ids,
                      nlohmann::json annotations = nlohmann::json::object()) {
  return Labelled(
      testing::MixedNode(name, std::move(annotations),
                         {{"mthreads.com/vgpu", std::to_string(cards)}, {"nvidia.com/gpu", "10"}},
                         {{"mthreads.com/sgpu-core", std::to_string(16 * cards)},
                          {"mthreads.com/sgpu-memory", std::to_string(96 * cards)}}),
      {{kMthreadsSgpuCoresLabel, ids}});
}

nlohmann::json NeuronNode(const std::string& name, int devices, const std::string& type) {
  nlohmann::json resources = {{"aws.amazon.com/neuron", std::to_string(devices)},
                              {"aws.amazon.com/neuroncore", std::to_string(2 * devices)}};
  nlohmann::json node =
      testing::MixedNode(name, nlohmann::json::object(), resources, std::move(resources));
  return type.empty() ? node : Labelled(std::move(node), {{kAwsNeuronInstanceTypeLabel, type}});
}

TEST_F(MixedLabelsTest, MthreadsGpuIndexCarriesThePhysicalCardIds) {
  device_config_.mthreads = MthreadsConfig{};
  ASSERT_TRUE(api_.Put(MtNode("mt-node", 3, "0-2-3")).ok());
  ASSERT_TRUE(api_.Put(MtNode("mt-bad", 2, "0-x",
                              {{kNodeNvidiaRegisterAnnotation,
                                EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})}}))
                  .ok());
  auto daemon = StartDaemon();
  const nlohmann::json nodes = {"gpu-node", "mt-node", "mt-bad"};

  nlohmann::json two = *api_.Put(testing::PodObject("mt-two", {{"mthreads.com/vgpu", "2"}}));
  nlohmann::json filtered = Filter(*daemon, two, nodes);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"mt-node"})) << filtered.dump();
  Bind(*daemon, two, "mt-node");
  nlohmann::json annotations = Annotations("mt-two");
  const std::string allocated = annotations.value(kMthreadsAllocatedAnnotation, "");
  // Two of the cards 0, 2 and 3; the index list names them by those ids, in the string's order.
  std::string want_index;
  for (std::string_view entry : Split(allocated, ':')) {
    if (!entry.starts_with("mt-node-mthreads-")) continue;
    entry.remove_prefix(std::string_view("mt-node-mthreads-").size());
    want_index += (want_index.empty() ? "" : ",") + std::string(entry.substr(0, entry.find(',')));
  }
  EXPECT_EQ(allocated.find("mt-node-mthreads-1,"), std::string::npos) << allocated;
  EXPECT_EQ(want_index.size(), 3u) << allocated;
  EXPECT_EQ(annotations.value(kMthreadsGpuIndexAnnotation, ""), want_index) << allocated;
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());

  // The malformed label drops only mt-bad's Moore Threads cards, naming the label.
  ExpectNvidiaPodFits(*daemon, "mt-bad");
  nlohmann::json one = *api_.Put(testing::PodObject("mt-one", {{"mthreads.com/vgpu", "1"}}));
  EXPECT_TRUE(Filter(*daemon, one, nlohmann::json::array({"mt-bad"}))["NodeNames"].is_null());
  auto errors = ApplyRegistration("mt-bad").actions.registration_errors;
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[kMthreadsCommonWord].find(kMthreadsSgpuCoresLabel), std::string::npos)
      << errors[kMthreadsCommonWord];
  EXPECT_EQ(
      ApplyRegistration("mt-node").kept_device_ids,
      (std::vector<std::string>{"mt-node-mthreads-0", "mt-node-mthreads-2", "mt-node-mthreads-3"}));
}

TEST_F(MixedLabelsTest, NeuronInstanceTypePicksHamisRuns) {
  device_config_.awsneuron = AwsNeuronConfig{};
  ASSERT_TRUE(api_.Put(NeuronNode("trn-node", 16, "trn1.32xlarge")).ok());
  ASSERT_TRUE(api_.Put(NeuronNode("inf-node", 12, "inf2.48xlarge")).ok());
  ASSERT_TRUE(api_.Put(NeuronNode("plain-node", 16, "")).ok());
  auto daemon = StartDaemon();
  struct Step {
    const char* pod;
    const char* node;
    const char* devices;
    const char* ids;  // nullptr = refused
  } steps[] = {
      {"trn-four", "trn-node", "4", "0,1,2,3"},
      {"trn-two", "trn-node", "2", nullptr},  // Trainium: only aligned runs of 4, 8 or 16
      {"trn-three", "trn-node", "3", nullptr},
      {"trn-eight", "trn-node", "8", "8,9,10,11,12,13,14,15"},
      {"trn-eight-again", "trn-node", "8", nullptr},  // 4-7 are free but not an aligned 8
      {"trn-four-more", "trn-node", "4", "4,5,6,7"},
      {"inf-four", "inf-node", "4", "0,1,2,3"},
      {"inf-three", "inf-node", "3", "4,5,6"},  // Inferentia: any run, lowest first
      {"inf-four-more", "inf-node", "4", "7,8,9,10"},
      {"inf-two", "inf-node", "2", nullptr},    // only device 11 is left
      {"plain-two", "plain-node", "2", "0,1"},  // no label: our rule, as before
      {"plain-four", "plain-node", "4", "4,5,6,7"},
      {"plain-three", "plain-node", "3", "8,9,10"},
  };
  for (const Step& step : steps) {
    nlohmann::json pod =
        *api_.Put(testing::PodObject(step.pod, {{"aws.amazon.com/neuron", step.devices}}));
    nlohmann::json filtered = Filter(*daemon, pod, nlohmann::json::array({step.node}));
    if (step.ids == nullptr) {
      EXPECT_TRUE(filtered["NodeNames"].is_null()) << step.pod << filtered.dump();
      continue;
    }
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({step.node}))
        << step.pod << filtered.dump();
    Bind(*daemon, pod, step.node);
    nlohmann::json annotations = Annotations(step.pod);
    EXPECT_EQ(annotations[kAwsNeuronIdsAnnotation], step.ids) << step.pod;
    // The family lives in DeviceInfo::type only: the device string HAMi's plugin reads names
    // the vendor key, and its device IDs end in the device's own index.
    const std::string allocated = annotations.value(kAwsNeuronAllocatedAnnotation, "");
    for (std::string_view entry : Split(allocated, ':')) {
      if (entry.empty() || entry == ";") continue;
      const std::vector<std::string_view> fields = Split(entry, ',');
      ASSERT_EQ(fields.size(), 4u) << allocated;
      EXPECT_EQ(fields[1], kAwsNeuronCommonWord) << allocated;
    }
    EXPECT_EQ(allocated.find("Trainium"), std::string::npos) << allocated;
    EXPECT_EQ(allocated.find("Inferentia"), std::string::npos) << allocated;
  }
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());
}

}  // namespace
}  // namespace hami::scheduler
