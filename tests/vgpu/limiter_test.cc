// The compute-share limiter's pure logic (src/vgpu/limiter.h): the token bucket, the controller,
// and both closed around a simulated GPU (a serial timeline shared by saturating launch+sync
// loops, measured per tick as NVML would) in simulated time.
#include "vgpu/limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace hami::vgpu {
namespace {

TEST(TokenBucketTest, WithoutARateEverythingPassesAndIsCounted) {
  TokenBucket bucket;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(bucket.TryTake(5, i), 0);
  EXPECT_EQ(bucket.TakeUnitsSinceLastTick(), 500);
  EXPECT_FALSE(bucket.TakeThrottledSinceLastTick());
  EXPECT_EQ(bucket.TakeUnitsSinceLastTick(), 0);
}

TEST(TokenBucketTest, RefillsAtTheRateAndGoesNegativeByOneLaunchAtMost) {
  TokenBucket bucket;
  bucket.SetRate(1000, 0.01, 0);  // 1000 units/s, capacity 10 units, level 0
  EXPECT_EQ(bucket.TryTake(4, 0), 0) << "level 0 allows a launch";
  EXPECT_DOUBLE_EQ(bucket.level(), -4);
  EXPECT_EQ(bucket.TryTake(1, 0), 4000) << "4 units at 1000/s: 4 ms";
  EXPECT_TRUE(bucket.TakeThrottledSinceLastTick());
  EXPECT_EQ(bucket.TryTake(1, 4000), 0);
  EXPECT_EQ(bucket.TryTake(1, 1'000'000), 0);
  EXPECT_DOUBLE_EQ(bucket.level(), 9) << "capped at capacity before the take";
  EXPECT_EQ(bucket.TakeUnitsSinceLastTick(), 6);
}

TEST(TokenBucketTest, ALaunchLargerThanTheCapacityIsNeverStarved) {
  TokenBucket bucket;
  bucket.SetRate(100, 0.01, 0);  // capacity 1 unit
  EXPECT_EQ(bucket.TryTake(1000, 0), 0);
  const int64_t wait = bucket.TryTake(1000, 0);
  EXPECT_EQ(wait, 10'000'000);
  EXPECT_EQ(bucket.TryTake(1000, wait), 0);
}

TEST(ShareControllerTest, FeedsForwardTheFirstRateFromTheFirstMeasurement) {
  ShareController controller(30);
  EXPECT_EQ(controller.Update(0, 0.04, 0, false), 0) << "nothing measured: no budget";
  // 40 units in 40 ms gave 80 %: 1000 units/s is 80 %, so 30 % is 375 units/s.
  EXPECT_DOUBLE_EQ(controller.Update(80, 0.04, 40, false), 375);
}

TEST(ShareControllerTest, ScalesTheRateByTheRelativeErrorWithinBounds) {
  LimiterTuning tuning;
  tuning.gain = 0.5;
  ShareController controller(50, tuning);
  controller.Update(50, 0.04, 20, false);  // rate 500
  ASSERT_DOUBLE_EQ(controller.rate(), 500);
  EXPECT_DOUBLE_EQ(controller.Update(75, 0.04, 20, true), 375) << "1 + 0.5 * (50-75)/50";
  EXPECT_DOUBLE_EQ(controller.Update(25, 0.04, 20, true), 468.75) << "1 + 0.5 * 25/50";
  EXPECT_DOUBLE_EQ(controller.Update(100000, 0.04, 20, true), 234.375) << "at most halved";
  EXPECT_DOUBLE_EQ(controller.Update(-1, 0.04, 20, true), 234.375) << "no measurement";
}

TEST(ShareControllerTest, DoesNotWindUpWhenTheBudgetWasNotWhatHeldTheProcessBack) {
  ShareController controller(50);
  controller.Update(50, 0.04, 20, false);
  EXPECT_DOUBLE_EQ(controller.Update(10, 0.04, 4, false), 500) << "idle: keeps its rate";
  EXPECT_GT(controller.Update(10, 0.04, 4, true), 500) << "held back: grows";
  EXPECT_LT(controller.Update(90, 0.04, 4, false), 750) << "over the limit: always shrinks";
}

TEST(ShareControllerTest, NeverFallsBelowTheMinimumRate) {
  ShareController controller(10);
  controller.Update(100, 0.04, 1, false);
  for (int i = 0; i < 100; ++i) controller.Update(100, 0.04, 1, true);
  EXPECT_DOUBLE_EQ(controller.rate(), controller.tuning().min_rate);
}

// ---- closed loop on a simulated GPU ---------------------------------------------------------

// Processes in separate containers, each a launch + synchronise loop of `kernel_us` kernels
// with its own bucket and controller, on one serial device. Every `tick_us` each controller
// gets its process's busy percent over the tick (rounded to whole percent, as NVML reports).
// The sleep of a throttled launch overshoots by `sleep_slack_us` (scheduler latency).
struct SimProcess {
  double limit;
  TokenBucket bucket;
  ShareController controller;
  int64_t next_us = 0;
  std::vector<std::pair<int64_t, int64_t>> busy;  // kernel intervals
};

std::vector<double> Simulate(const std::vector<double>& limits, int64_t kernel_us,
                             int64_t duration_us, int64_t measure_from_us,
                             int64_t sleep_slack_us = 80, int64_t tick_us = 40000) {
  std::vector<SimProcess> procs;
  for (double limit : limits) procs.push_back(SimProcess{limit, {}, ShareController(limit)});
  int64_t device_free_us = 0;
  int64_t next_tick = tick_us;
  auto busy_in = [](const SimProcess& p, int64_t from, int64_t to) {
    int64_t sum = 0;
    for (const auto& [a, b] : p.busy)
      sum += std::max<int64_t>(0, std::min(b, to) - std::max(a, from));
    return sum;
  };
  for (;;) {
    auto next = std::min_element(procs.begin(), procs.end(), [](const auto& a, const auto& b) {
      return a.next_us < b.next_us;
    });
    if (next_tick <= next->next_us) {
      if (next_tick > duration_us) break;
      for (SimProcess& p : procs) {
        const double util =
            std::round(100.0 * static_cast<double>(busy_in(p, next_tick - tick_us, next_tick)) /
                       static_cast<double>(tick_us));
        const double units = p.bucket.TakeUnitsSinceLastTick();
        const bool throttled = p.bucket.TakeThrottledSinceLastTick();
        p.bucket.SetRate(p.controller.Update(util, tick_us * 1e-6, units, throttled),
                         p.controller.tuning().burst_s, next_tick);
      }
      next_tick += tick_us;
      continue;
    }
    SimProcess& p = *next;
    const int64_t wait = p.bucket.TryTake(1, p.next_us);
    if (wait > 0) {
      p.next_us += std::min<int64_t>(wait, 2000) + sleep_slack_us;
      continue;
    }
    const int64_t start = std::max(p.next_us, device_free_us);
    device_free_us = start + kernel_us;
    p.busy.emplace_back(start, device_free_us);
    p.next_us = device_free_us + 20;  // the synchronise returns, the loop comes round
  }
  std::vector<double> shares;
  for (const SimProcess& p : procs) {
    shares.push_back(100.0 * static_cast<double>(busy_in(p, measure_from_us, duration_us)) /
                     static_cast<double>(duration_us - measure_from_us));
  }
  return shares;
}

TEST(ClosedLoopTest, AContainerAloneGetsItsShare) {
  for (double limit : {10.0, 30.0, 50.0, 90.0}) {
    const auto shares = Simulate({limit}, 1000, 5'000'000, 1'000'000);
    EXPECT_NEAR(shares[0], limit, 1.0) << "limit " << limit;
  }
}

TEST(ClosedLoopTest, TwoContainersSplitTheDeviceAsTheirLimitsSay) {
  const auto shares = Simulate({30, 70}, 1000, 5'000'000, 1'000'000);
  EXPECT_NEAR(shares[0], 30, 1.0);
  EXPECT_NEAR(shares[1], 70, 1.0);
  const auto quarter = Simulate({25, 25}, 1000, 5'000'000, 1'000'000);
  EXPECT_NEAR(quarter[0], 25, 1.0);
  EXPECT_NEAR(quarter[1], 25, 1.0);
}

TEST(ClosedLoopTest, ShortAndLongKernelsAlike) {
  // With 100 µs kernels a launch+sync loop leaves the device idle between its kernels (here
  // 20 µs per round trip), so 30 + 70 is not reachable; 30 + 50 is.
  for (int64_t kernel_us : {100, 5000}) {
    const auto shares = Simulate({30, 50}, kernel_us, 5'000'000, 1'000'000);
    EXPECT_NEAR(shares[0], 30, 1.5) << kernel_us << " µs kernels";
    EXPECT_NEAR(shares[1], 50, 1.5) << kernel_us << " µs kernels";
  }
}

TEST(ClosedLoopTest, ANeighbourWithoutALimitCannotPushAContainerOverItsShare) {
  const auto shares = Simulate({30, 100}, 1000, 5'000'000, 1'000'000);
  EXPECT_NEAR(shares[0], 30, 1.5);
}

}  // namespace
}  // namespace hami::vgpu
