// Client-side request rate limit: a token bucket (like client-go's flowcontrol).
//
// Thread-safe. The clock is injected so tests run in simulated time; the caller does the
// waiting (Reserve returns how long), so this class never sleeps.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>

namespace hami::kube {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFn = std::function<Clock::time_point()>;

  // `qps` tokens per second refill, at most `burst` (>= 1) banked; qps <= 0 disables limiting.
  TokenBucket(double qps, int burst, NowFn now);

  // Takes one token, possibly from the future: returns how long the caller must wait before
  // sending (zero when a token was banked). Reservations queue in call order.
  std::chrono::nanoseconds Reserve();

 private:
  const double qps_;
  const double burst_;
  const NowFn now_;
  std::mutex mu_;
  double tokens_;             // guarded by mu_; may go negative (reserved ahead)
  Clock::time_point last_{};  // guarded by mu_
  bool started_ = false;      // guarded by mu_
};

}  // namespace hami::kube
