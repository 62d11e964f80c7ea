#include "kube/rate_limiter.h"

#include <algorithm>

namespace hami::kube {

TokenBucket::TokenBucket(double qps, int burst, NowFn now)
    : qps_(qps), burst_(std::max(1, burst)), now_(std::move(now)), tokens_(burst_) {}

std::chrono::nanoseconds TokenBucket::Reserve() {
  if (qps_ <= 0) return std::chrono::nanoseconds(0);
  std::lock_guard<std::mutex> lock(mu_);
  Clock::time_point now = now_();
  if (started_ && now > last_) {
    double elapsed_s = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed_s * qps_);
  }
  if (!started_ || now > last_) last_ = now;
  started_ = true;
  tokens_ -= 1.0;
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<int64_t>(-tokens_ / qps_ * 1e9));
}

}  // namespace hami::kube
