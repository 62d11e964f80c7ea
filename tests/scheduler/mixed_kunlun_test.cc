// Kunlunxin nodes in the mixed cluster, registered as Kunlunxin's plugins do: whole XPUs only
// through status.capacity kunlunxin.com/xpu (HAMi synthesises "<node>-kunlun-<i>"), vXPUs as
// JSON under hami.io/node-register-xpu with the hami.io/node-handshake-xpu handshake.
#include <gtest/gtest.h>

#include <vector>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/kunlun.h"
#include "policy/fit.h"
#include "scheduler/daemon.h"
#include "scheduler/state_sync.h"
#include "tests/scheduler/mixed_cluster.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

using MixedKunlunTest = testing::MixedClusterTest;

// A node with `xpus` whole XPUs in its capacity, as Kunlunxin's device plugin publishes them.
nlohmann::json XpuNode(const std::string& name, const std::string& xpus,
                       nlohmann::json annotations = nlohmann::json::object()) {
  return testing::MixedNode(name, std::move(annotations),
                            {{"kunlunxin.com/xpu", xpus}, {"nvidia.com/gpu", "10"}},
                            {{"kunlunxin.com/xpu", xpus}, {"nvidia.com/gpu", "10"}});
}

// As HAMi's Kunlun vXPU plugin registers 8 P800 XPUs (JSON DeviceInfo form).
std::string VxpuRegistration() {
  std::vector<DeviceInfo> xpus;
  for (int32_t i = 0; i < 8; ++i) {
    DeviceInfo d;
    d.id = "XPU-" + std::to_string(i);
    d.index = i;
    d.count = 4;
    d.devmem_mib = 98304;
    d.devcore = 100;
    d.type = "P800";
    d.numa = i / 4;
    d.health = true;
    xpus.push_back(d);
  }
  return EncodeNodeDevicesJson(xpus);
}

std::string Xpus(const std::string& node, std::vector<int> indexes) {
  std::string out;
  for (int i : indexes) out += node + "-kunlun-" + std::to_string(i) + ",kunlun,98304,100:";
  return out + ";";
}

TEST_F(MixedKunlunTest, WholeXpusLandInHamisTopologyGroups) {
  device_config_.kunlun = KunlunConfig{};
  ASSERT_TRUE(api_.Put(XpuNode("xpu-node", "8")).ok());
  auto daemon = StartDaemon();
  const nlohmann::json all = {"gpu-node", "dcu-node", "xpu-node"};
  // No handshake for whole XPUs: HAMi's kunlun device has none.
  auto node = *api_.Get("nodes", "", "xpu-node");
  EXPECT_FALSE(node["metadata"]["annotations"].contains(kXpuHandshakeAnnotation));

  struct Step {
    const char* pod;
    const char* count;
    std::vector<int> xpus;  // empty = refused
  } steps[] = {
      {"xpu-wing", "4", {0, 1, 2, 3}},  // a whole wing
      {"xpu-pair", "2", {4, 5}},        // a linked pair inside the other wing
      {"xpu-one", "1", {6}},           {"xpu-pair-2", "2", {}},  // only 7 left: no linked pair
      {"xpu-last", "1", {7}},          {"xpu-more", "1", {}},
  };
  for (const Step& step : steps) {
    nlohmann::json pod =
        *api_.Put(testing::PodObject(step.pod, {{"kunlunxin.com/xpu", step.count}}));
    nlohmann::json filtered = Filter(*daemon, pod, all);
    if (step.xpus.empty()) {
      EXPECT_TRUE(filtered["NodeNames"].is_null()) << step.pod << filtered.dump();
      continue;
    }
    ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"xpu-node"}))
        << step.pod << filtered.dump();
    Bind(*daemon, pod, "xpu-node");
    nlohmann::json annotations = Annotations(step.pod);
    EXPECT_EQ(annotations[kKunlunAllocatedAnnotation], Xpus("xpu-node", step.xpus))
        << annotations.dump();
    std::string indexes;
    for (int i : step.xpus) indexes += (indexes.empty() ? "" : ",") + std::to_string(i);
    EXPECT_EQ(annotations[kKunlunDeviceIndexAnnotation], indexes);
    EXPECT_EQ(annotations[kVgpuNodeAnnotation], "xpu-node");
    EXPECT_FALSE(annotations.contains("hami.io/kunlun-devices-to-allocate"));
    EXPECT_FALSE(annotations.contains(kVgpuDevicesAllocatedAnnotation));
  }
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());

  // A count HAMi's topology never grants is refused with the reason.
  nlohmann::json three = *api_.Put(testing::PodObject("xpu-three", {{"kunlunxin.com/xpu", "3"}}));
  nlohmann::json filtered = Filter(*daemon, three, all);
  EXPECT_TRUE(filtered["NodeNames"].is_null()) << filtered.dump();
  EXPECT_NE(filtered.dump().find("1, 2, 4 or 8"), std::string::npos) << filtered.dump();

  // One container asking Kunlunxin and NVIDIA is refused clearly.
  ExpectTwoVendorPodRefused(*daemon, {{"kunlunxin.com/xpu", "1"}, {"nvidia.com/gpu", "1"}}, all,
                            "NVIDIA, kunlun");

  // A restarted replica rebuilds the XPU allocations from hami.io/kunlun-allocated.
  ExpectRestartRebuildsAllocations(daemon, 4, "xpu-again", {{"kunlunxin.com/xpu", "1"}}, all);
}

TEST_F(MixedKunlunTest, VxpusShareXpusWithHamisAnnotations) {
  device_config_.kunlun = KunlunConfig{};
  ASSERT_TRUE(
      api_.Put(testing::MixedNode("vxpu-node", {{kXpuRegisterAnnotation, VxpuRegistration()}},
                                  {{"kunlunxin.com/vxpu", "32"}}))
          .ok());
  auto daemon = StartDaemon();
  ASSERT_TRUE(WaitForHandshakeRequest("vxpu-node", kXpuHandshakeAnnotation).has_value());

  const nlohmann::json all = {"gpu-node", "vxpu-node"};
  // 20000 MiB rounds up to a quarter XPU (24576 MiB, 25 cores).
  nlohmann::json quarter = *api_.Put(testing::PodObject(
      "vxpu-quarter", {{"kunlunxin.com/vxpu", "1"}, {"kunlunxin.com/vxpu-memory", "20000"}}));
  nlohmann::json filtered = Filter(*daemon, quarter, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"vxpu-node"})) << filtered.dump();
  Bind(*daemon, quarter, "vxpu-node");
  nlohmann::json annotations = Annotations("vxpu-quarter");
  EXPECT_EQ(annotations[kXpuAllocatedAnnotation], "XPU-0,XPU,24576,25:;") << annotations.dump();
  EXPECT_EQ(annotations[kXpuToAllocateAnnotation], "XPU-0,XPU,24576,25:;");
  EXPECT_FALSE(annotations.contains(kKunlunDeviceIndexAnnotation));

  // Two quarters more: a linked pair; the first XPU still has three quarters free.
  nlohmann::json pair = *api_.Put(testing::PodObject(
      "vxpu-pair", {{"kunlunxin.com/vxpu", "2"}, {"kunlunxin.com/vxpu-memory", "24576"}}));
  filtered = Filter(*daemon, pair, all);
  ASSERT_EQ(filtered["NodeNames"], nlohmann::json::array({"vxpu-node"})) << filtered.dump();
  Bind(*daemon, pair, "vxpu-node");
  EXPECT_EQ(Annotations("vxpu-pair")[kXpuAllocatedAnnotation],
            "XPU-0,XPU,24576,25:XPU-1,XPU,24576,25:;");

  // Eight whole vXPUs no longer fit (XPU-0 and XPU-1 are partly taken).
  nlohmann::json eight = *api_.Put(testing::PodObject("vxpu-eight", {{"kunlunxin.com/vxpu", "8"}}));
  EXPECT_TRUE(Filter(*daemon, eight, all)["NodeNames"].is_null());
  EXPECT_TRUE(daemon->ledger().CheckCapacity().ok());
}

TEST_F(MixedKunlunTest, MalformedKunlunxinRegistrationDropsOnlyThatNodesXpus) {
  device_config_.kunlun = KunlunConfig{};
  nlohmann::json both = XpuNode(
      "both-node", "lots",
      {{kNodeNvidiaRegisterAnnotation, EncodeNodeDevicesJson({testing::TestDevice("GPU-b0")})},
       {kXpuRegisterAnnotation, "[{\"id\": 7}]"}});
  ASSERT_TRUE(api_.Put(both).ok());
  ASSERT_TRUE(api_.Put(XpuNode("xpu-node", "8")).ok());
  auto daemon = StartDaemon();
  ExpectNvidiaPodFits(*daemon, "both-node");
  ExpectFitsOnlyOnGoodNode(*daemon, "xpu-pod", {{"kunlunxin.com/xpu", "1"}}, "both-node",
                           "xpu-node");

  // The registration pass says why, per vendor, naming the resource and the key.
  auto errors = ApplyRegistration("both-node").actions.registration_errors;
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors["kunlun"].find("kunlunxin.com/xpu"), std::string::npos) << errors["kunlun"];
  EXPECT_NE(errors["XPU"].find("hami.io/node-register-xpu"), std::string::npos) << errors["XPU"];
  // And a Warning Event on the Node carries it.
  ASSERT_TRUE(WaitForRegistrationEvent("both-node", "kunlunxin.com/xpu"));
}

// HAMi's topo_test.go cases through the vendor-neutral fit: the index sets give what HAMi's
// graghSelect gives when only that group is free.
TEST(KunlunTopologyFitTest, HamisTopologyCasesThroughIndexSets) {
  auto fit = [](std::vector<int> used, int32_t count) -> std::vector<int32_t> {
    std::vector<DeviceUsage> devices(8);
    std::vector<int> order;
    for (int i = 0; i < 8; ++i) {
      devices[static_cast<size_t>(i)].info.index = i;
      devices[static_cast<size_t>(i)].info.count = 100;
      devices[static_cast<size_t>(i)].info.devmem_mib = 98304;
      devices[static_cast<size_t>(i)].info.devcore = 100;
      devices[static_cast<size_t>(i)].info.health = true;
      order.push_back(i);
    }
    for (int u : used) {
      devices[static_cast<size_t>(u)].used = 1;
      devices[static_cast<size_t>(u)].used_mem_mib = 98304;
      devices[static_cast<size_t>(u)].used_cores = 100;
    }
    auto request =
        DeriveKunlunRequest(KunlunConfig{}, {{"kunlunxin.com/xpu", std::to_string(count)}}, {});
    EXPECT_TRUE(request.ok() && request->has_value());
    auto chosen =
        policy::FitContainer(devices, order, **request, DeviceSelectors{}, false, nullptr);
    std::vector<int32_t> indexes;
    if (chosen) {
      for (int position : *chosen)
        indexes.push_back(devices[static_cast<size_t>(position)].info.index);
    }
    return indexes;
  };
  EXPECT_EQ(fit({}, 8), (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_TRUE(fit({0}, 8).empty());
  EXPECT_EQ(fit({}, 1), (std::vector<int32_t>{0}));
  EXPECT_EQ(fit({4, 5, 6, 7}, 4), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(fit({1, 2, 3, 5, 6, 7}, 2), (std::vector<int32_t>{0, 4}));  // cross link 0-4
  EXPECT_EQ(fit({2, 3, 6, 7}, 4), (std::vector<int32_t>{0, 1, 4, 5}));  // linked quad
  EXPECT_TRUE(fit({1, 2, 3, 4, 6, 7}, 2).empty());                      // 0 and 5 are not linked
  EXPECT_TRUE(fit({0, 3, 5, 6}, 4).empty());                            // 1-2-4-7 is no linked quad
}

}  // namespace
}  // namespace hami::scheduler
