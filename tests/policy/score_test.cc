#include "policy/score.h"

#include <gtest/gtest.h>

#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

using testing::Gpu;
using testing::Used;

TEST(ParsePolicyTest, NodePolicies) {
  EXPECT_EQ(*ParseNodePolicy("binpack"), NodePolicy::kBinpack);
  EXPECT_EQ(*ParseNodePolicy("spread"), NodePolicy::kSpread);
  auto bad = ParseNodePolicy("Binpack");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown node scheduler policy"), std::string::npos);
}

TEST(ParsePolicyTest, GpuPolicyChains) {
  EXPECT_EQ(ParseGpuPolicy("").value().chain, std::vector<GpuPolicyKey>{GpuPolicyKey::kSpread});
  EXPECT_EQ(ParseGpuPolicy("binpack, numa").value().chain,
            (std::vector<GpuPolicyKey>{GpuPolicyKey::kBinpack, GpuPolicyKey::kNuma}));
  EXPECT_TRUE(ParseGpuPolicy("mutex").value().Has(GpuPolicyKey::kMutex));
  EXPECT_FALSE(ParseGpuPolicy("binpak").ok());
}

TEST(ParsePolicyTest, ScoreWeights) {
  auto w = ParseScoreWeights("memory=3,slot=1,core=0");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->slot, 1);
  EXPECT_EQ(w->core, 0);
  EXPECT_EQ(w->memory, 3);
  for (const char* bad :
       {"slot=1,core=1", "slot=1,core=1,memory=1,slot=2", "slot=-1,core=1,memory=1",
        "slot=0,core=0,memory=0", "slot=x,core=1,memory=1", "gpu=1,core=1,memory=1",
        "slot=1;core=1;memory=1", ""}) {
    EXPECT_FALSE(ParseScoreWeights(bad).ok()) << bad;
  }
}

TEST(DeviceScoreTest, Formula) {
  DeviceUsage d = Used(Gpu("GPU-0", 0, 10000), 2, 5000, 30);
  // 10 * (2/10 + 30/100 + 5000/10000) = 10
  EXPECT_DOUBLE_EQ(DeviceScore(d, {}), 10.0);
  EXPECT_DOUBLE_EQ(DeviceScore(d, {2, 0, 0}), 4.0);
  DeviceUsage empty_totals = d;
  empty_totals.info.devmem_mib = 0;
  EXPECT_DOUBLE_EQ(DeviceScore(empty_totals, {}), 0.0);
}

TEST(NodeScoreTest, Formula) {
  std::vector<DeviceUsage> devices = {Used(Gpu("a", 0, 10000), 1, 2500, 50), Gpu("b", 1, 10000)};
  // 10 * (1/20 + 50/200 + 2500/20000) = 4.25
  EXPECT_DOUBLE_EQ(NodeScore(devices), 4.25);
  EXPECT_DOUBLE_EQ(NodeScore({}), 0.0);
}

TEST(OrderDevicesTest, BinpackPutsMostUsedLastSpreadLeastUsedLast) {
  std::vector<DeviceUsage> devices = {Used(Gpu("a", 0), 1, 1000, 10),
                                      Used(Gpu("b", 1), 3, 9000, 60), Gpu("c", 2)};
  auto binpack = OrderDevices(devices, GpuPolicy{{GpuPolicyKey::kBinpack}}, false, {});
  EXPECT_EQ(binpack, (std::vector<int>{2, 0, 1}));
  auto spread = OrderDevices(devices, GpuPolicy{{GpuPolicyKey::kSpread}}, false, {});
  EXPECT_EQ(spread, (std::vector<int>{1, 0, 2}));
  auto mutex = OrderDevices(devices, GpuPolicy{{GpuPolicyKey::kMutex}}, false, {});
  EXPECT_EQ(mutex.back(), 2);  // idle device tried first
}

TEST(OrderDevicesTest, TiesKeepIndexOrder) {
  std::vector<DeviceUsage> devices = {Gpu("a", 0), Gpu("b", 1), Gpu("c", 2)};
  EXPECT_EQ(OrderDevices(devices, GpuPolicy{}, false, {}), (std::vector<int>{0, 1, 2}));
}

TEST(OrderDevicesTest, NumaBindGroupsByNuma) {
  std::vector<DeviceUsage> devices = {Gpu("a", 0, 16384, "T4", 1), Gpu("b", 1, 16384, "T4", 0),
                                      Used(Gpu("c", 2, 16384, "T4", 1), 1, 100, 10),
                                      Gpu("d", 3, 16384, "T4", 0)};
  auto spread = OrderDevices(devices, GpuPolicy{{GpuPolicyKey::kSpread}}, true, {});
  // spread: NUMA ascending groups; within a group descending score.
  EXPECT_EQ(spread, (std::vector<int>{1, 3, 2, 0}));
  auto binpack = OrderDevices(devices, GpuPolicy{{GpuPolicyKey::kBinpack}}, true, {});
  EXPECT_EQ(binpack, (std::vector<int>{0, 2, 1, 3}));
  auto chain =
      OrderDevices(devices, GpuPolicy{{GpuPolicyKey::kNuma, GpuPolicyKey::kBinpack}}, false, {});
  EXPECT_EQ(chain, (std::vector<int>{1, 3, 0, 2}));
}

}  // namespace
}  // namespace hami::policy
