#include "vgpu/limiter.h"

#include <algorithm>
#include <cmath>

namespace hami::vgpu {

void TokenBucket::SetRate(double units_per_s, double burst_s, int64_t now_us) {
  Refill(now_us);
  rate_ = std::max(0.0, units_per_s);
  capacity_ = rate_ * std::max(0.0, burst_s);
  if (level_ > capacity_) level_ = capacity_;
  if (rate_ == 0) level_ = 0;
  last_us_ = now_us;
}

void TokenBucket::Refill(int64_t now_us) {
  if (now_us > last_us_) {
    if (rate_ > 0) {
      level_ = std::min(capacity_, level_ + rate_ * static_cast<double>(now_us - last_us_) * 1e-6);
    }
    last_us_ = now_us;
  }
}

int64_t TokenBucket::TryTake(double cost, int64_t now_us) {
  if (rate_ <= 0) {
    units_ += cost;
    return 0;
  }
  Refill(now_us);
  if (level_ >= 0) {
    level_ -= cost;
    units_ += cost;
    return 0;
  }
  throttled_ = true;
  const double wait_us = std::ceil(-level_ / rate_ * 1e6);
  return std::max<int64_t>(1, static_cast<int64_t>(std::min(wait_us, 1e12)));
}

double TokenBucket::TakeUnitsSinceLastTick() {
  const double units = units_;
  units_ = 0;
  return units;
}

bool TokenBucket::TakeThrottledSinceLastTick() {
  const bool throttled = throttled_;
  throttled_ = false;
  return throttled;
}

ShareController::ShareController(double limit_percent, LimiterTuning tuning)
    : limit_(std::clamp(limit_percent, 0.01, 100.0)), tuning_(tuning) {}

double ShareController::Update(double util_percent, double window_s, double units, bool throttled) {
  if (util_percent < 0 || !(window_s > 0)) return rate_;
  if (rate_ <= 0) {
    // No estimate yet: feed forward from what the unthrottled process just did.
    if (util_percent > 0 && units > 0) {
      rate_ =
          std::clamp(units / window_s * limit_ / util_percent, tuning_.min_rate, tuning_.max_rate);
    }
    return rate_;
  }
  double factor = 1 + tuning_.gain * (limit_ - util_percent) / limit_;
  factor = std::clamp(factor, 1 / tuning_.max_step, tuning_.max_step);
  if (factor > 1 && !throttled) factor = 1;  // anti-windup: the budget was not what held it
  rate_ = std::clamp(rate_ * factor, tuning_.min_rate, tuning_.max_rate);
  return rate_;
}

}  // namespace hami::vgpu
