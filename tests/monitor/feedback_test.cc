#include "monitor/feedback.h"

#include <gtest/gtest.h>

#include <string_view>

#include "tests/monitor/monitor_test_util.h"
#include "vgpu/shared_region.h"

namespace hami::monitor {
namespace {

constexpr int32_t kHigh = 0;
constexpr int32_t kLow = 1;

FeedbackInput C(int32_t priority, int32_t recent_kernel, std::vector<std::string> uuids,
                int32_t utilization_switch = 0) {
  FeedbackInput in;
  in.priority = priority;
  in.recent_kernel = recent_kernel;
  in.utilization_switch = utilization_switch;
  in.device_uuids = std::move(uuids);
  return in;
}

struct Expect {
  int32_t recent_kernel;
  int32_t utilization_switch;
};

struct Case {
  const char* name;
  std::vector<FeedbackInput> in;
  std::vector<Expect> want;
};

TEST(ComputeFeedbackTest, Table) {
  const std::vector<Case> cases = {
      {"alone active: no switch", {C(kHigh, 5, {"GPU-0"})}, {{4, 0}}},
      {"alone low priority: no switch", {C(kLow, 5, {"GPU-0"})}, {{4, 0}}},
      {"same priority both active on one GPU: both switch",
       {C(kLow, 5, {"GPU-0"}), C(kLow, 3, {"GPU-0"})},
       {{4, 1}, {2, 1}}},
      {"same priority on different GPUs: no switch",
       {C(kLow, 5, {"GPU-0"}), C(kLow, 3, {"GPU-1"})},
       {{4, 0}, {2, 0}}},
      {"high active blocks low; high does not switch",
       {C(kHigh, 5, {"GPU-0"}), C(kLow, 5, {"GPU-0"})},
       {{4, 0}, {-1, 1}}},
      {"high active blocks an idle low too",
       {C(kHigh, 5, {"GPU-0"}), C(kLow, 0, {"GPU-0"})},
       {{4, 0}, {-1, 1}}},
      {"decay to 0 is inactive: nobody blocked",
       {C(kHigh, 1, {"GPU-0"}), C(kLow, 5, {"GPU-0"})},
       {{0, 0}, {4, 0}}},
      {"blocked low released when high goes idle",
       {C(kHigh, 0, {"GPU-0"}), C(kLow, -1, {"GPU-0"}, 1)},
       {{0, 0}, {0, 0}}},
      {"blocked low stays blocked while high is active",
       {C(kHigh, 3, {"GPU-0"}), C(kLow, -1, {"GPU-0"}, 1)},
       {{2, 0}, {-1, 1}}},
      {"blocking through the second device (HAMi looked at the first only)",
       {C(kHigh, 5, {"GPU-1"}), C(kLow, 5, {"GPU-0", "GPU-1"}), C(kLow, 0, {"GPU-0"})},
       {{4, 0}, {-1, 1}, {0, 0}}},
      {"empty uuids are not devices", {C(kLow, 5, {""}), C(kLow, 5, {""})}, {{4, 0}, {4, 0}}},
      {"a duplicated uuid counts once", {C(kLow, 5, {"GPU-0", "GPU-0"})}, {{4, 0}}},
      {"three priorities",
       {C(0, 5, {"G"}), C(1, 5, {"G"}), C(2, 5, {"G"})},
       {{4, 0}, {-1, 1}, {-1, 1}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::vector<FeedbackOutput> out = ComputeFeedback(c.in);
    ASSERT_EQ(out.size(), c.want.size());
    for (size_t i = 0; i < out.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_EQ(out[i].recent_kernel, c.want[i].recent_kernel);
      EXPECT_EQ(out[i].utilization_switch, c.want[i].utilization_switch);
      EXPECT_EQ(out[i].blocked, c.want[i].recent_kernel == -1);
    }
  }
}

TEST(ComputeFeedbackTest, RoundsConverge) {
  // High priority active for 3 rounds, low priority launching all the time.
  std::vector<FeedbackInput> in = {C(kHigh, 3, {"G"}), C(kLow, 5, {"G"})};
  std::vector<int32_t> low_seen;
  for (int round = 0; round < 4; ++round) {
    auto out = ComputeFeedback(in);
    for (size_t i = 0; i < in.size(); ++i) {
      in[i].recent_kernel = out[i].recent_kernel;
      in[i].utilization_switch = out[i].utilization_switch;
    }
    low_seen.push_back(in[1].recent_kernel);
  }
  // 3 -> 2 (active, blocks), 2 -> 1 (still active, blocks), 1 -> 0 (idle: releases).
  EXPECT_EQ(low_seen, (std::vector<int32_t>{-1, -1, 0, 0}));
  EXPECT_EQ(in[0].recent_kernel, 0);
}

TEST(ApplyFeedbackTest, WritesBothFieldsThroughTheMapping) {
  testing::TempDir tmp;
  const std::string path = tmp.path() + "/r.cache";
  vgpu::RegionInit init;
  init.priority = 1;
  auto writer = vgpu::SharedRegion::Open(path, init);
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  const std::string_view uuids[] = {"GPU-0"};
  ASSERT_TRUE((*writer)->SetDevices(uuids).ok());
  (*writer)->SetRecentKernel(5);
  auto region = MappedRegion::Open(path);
  ASSERT_TRUE(region.ok()) << region.status().message();

  FeedbackInput in = FeedbackInputFrom(**region);
  EXPECT_EQ(in.priority, 1);
  EXPECT_EQ(in.recent_kernel, 5);
  EXPECT_EQ(in.device_uuids, std::vector<std::string>{"GPU-0"});
  FeedbackInput high = C(kHigh, 9, {"GPU-0"});
  auto out = ComputeFeedback({in, high});
  ASSERT_TRUE(ApplyFeedback(**region, in, out[0]));
  EXPECT_EQ((*writer)->recent_kernel(), -1);
  EXPECT_EQ((*writer)->utilization_switch(), 1);
  // A block is not overwritten by MarkKernelActivity.
  (*writer)->MarkKernelActivity(5);
  EXPECT_EQ((*writer)->recent_kernel(), -1);

  // The container launched meanwhile: the CAS loses and the launch survives.
  in = FeedbackInputFrom(**region);
  out = ComputeFeedback({in});  // -1 -> 0 released
  (*writer)->SetRecentKernel(8);
  EXPECT_FALSE(ApplyFeedback(**region, in, out[0]));
  EXPECT_EQ((*writer)->recent_kernel(), 8);
  EXPECT_EQ((*writer)->utilization_switch(), 0);
}

}  // namespace
}  // namespace hami::monitor
