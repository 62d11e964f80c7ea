// The scheduler's view of hami.io/node-nvidia-score: decoded into the node state by ApplyNode
// (tolerantly), and what the topology-aware policy makes of it.
#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/config.h"
#include "device/pair_scores.h"
#include "policy/placement.h"
#include "scheduler/state_sync.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

constexpr int64_t kNow = 1735830245;

// GPU-0 .. GPU-3; GPU-1 and GPU-3 are joined by two NVLinks, the rest share a CPU only.
std::vector<DevicePairScore> Scores() {
  std::vector<DevicePairScore> out;
  for (int a = 0; a < 4; ++a) {
    DevicePairScore entry{"GPU-" + std::to_string(a), {}};
    for (int b = 0; b < 4; ++b) {
      if (a == b) continue;
      entry.score["GPU-" + std::to_string(b)] = (a % 2 == 1 && b % 2 == 1) ? 250 : 20;
    }
    out.push_back(entry);
  }
  return out;
}

nlohmann::json NodeJson(std::optional<std::string> scores) {
  std::vector<DeviceInfo> devices;
  for (int i = 0; i < 4; ++i) devices.push_back(testing::TestDevice("GPU-" + std::to_string(i)));
  nlohmann::json node = {{"metadata", {{"name", "n1"}, {"annotations", nlohmann::json::object()}}},
                         {"status", {{"allocatable", {{"nvidia.com/gpu", "40"}}}}}};
  node["metadata"]["annotations"][kNodeNvidiaRegisterAnnotation] = EncodeNodeDevicesJson(devices);
  node["metadata"]["annotations"][kNodeHandshakeAnnotation] =
      EncodeHandshake(HandshakeKind::kRequesting, kNow, 0);
  if (scores) node["metadata"]["annotations"][kNodeNvidiaScoreAnnotation] = *scores;
  return node;
}

class TopologySyncTest : public ::testing::Test {
 protected:
  TopologySyncTest() : registry_(*MakeVendorRegistry(DefaultDeviceConfig())) {}

  NodeActions Apply(std::optional<std::string> scores) {
    return ApplyNode(registry_, ledger_, tracker_, NodeJson(std::move(scores)), kNow, 0);
  }
  policy::NodeState State() {
    const std::vector<std::string> names = {"n1"};
    auto states = ledger_.Snapshot(names, nullptr);
    EXPECT_EQ(states.size(), 1u);
    return states.empty() ? policy::NodeState{} : states[0];
  }

  VendorRegistry registry_;
  UsageLedger ledger_;
  AllocatableTracker tracker_;
};

TEST_F(TopologySyncTest, ScoresReachTheNodeStateByDeviceIndex) {
  Apply(EncodePairScoresJson(Scores()));
  const policy::NodeState state = State();
  ASSERT_FALSE(state.link_scores.empty());
  EXPECT_EQ(state.link_scores.At(1, 3), 250);
  EXPECT_EQ(state.link_scores.At(0, 2), 20);

  policy::HamiPolicy hami("hami", policy::NodePolicy::kBinpack,
                          policy::GpuPolicy{{policy::GpuPolicyKey::kTopologyAware}});
  policy::PodRequest pod;
  ContainerDeviceRequest request;
  request.count = 2;
  request.type = "NVIDIA";
  request.memory_mib = 1000;
  pod.containers.push_back(request);
  const std::vector<policy::NodeState> nodes = {state};
  policy::PlacementOutcome outcome = hami.Place(pod, nodes, false);
  ASSERT_TRUE(outcome.placement);
  EXPECT_EQ(outcome.placement->container_devices[0], (std::vector<int>{3, 1}));
}

TEST_F(TopologySyncTest, AnUnchangedValueKeepsTheGenerationAndRemovalClearsTheScores) {
  const std::string value = EncodePairScoresJson(Scores());
  Apply(value);
  const uint64_t generation = State().generation;
  Apply(value);
  EXPECT_EQ(State().generation, generation);
  Apply(std::nullopt);
  EXPECT_TRUE(State().link_scores.empty());
  EXPECT_NE(State().generation, generation);
}

TEST_F(TopologySyncTest, AMalformedValueIsLoggedOnceAndTheNodeCountsAsUnlinked) {
  Apply(EncodePairScoresJson(Scores()));
  NodeActions bad = Apply(R"([{"uuid":"GPU-0","score":{"GPU-1":"fast"}}])");
  ASSERT_EQ(bad.log.size(), 1u);
  EXPECT_NE(bad.log[0].find(kNodeNvidiaScoreAnnotation), std::string::npos) << bad.log[0];
  EXPECT_NE(bad.log[0].find("expected an integer"), std::string::npos) << bad.log[0];
  EXPECT_TRUE(State().link_scores.empty());
  EXPECT_TRUE(ledger_.HasNode("n1"));  // the devices themselves are unaffected
  EXPECT_EQ(State().devices.size(), 4u);
  // The same broken value again: nothing new to say.
  EXPECT_TRUE(Apply(R"([{"uuid":"GPU-0","score":{"GPU-1":"fast"}}])").log.empty());
  for (const char* junk : {"", "{", "[1]", "null"}) {
    Apply(junk);
    EXPECT_TRUE(State().link_scores.empty()) << junk;
  }
}

}  // namespace
}  // namespace hami::scheduler
