#include "kube/retry.h"

#include <algorithm>
#include <cmath>

#include "common/strings.h"

namespace hami::kube {

bool ShouldRetry(const RetryPolicy& policy, bool idempotent, const AttemptOutcome& outcome) {
  const bool may_repeat = idempotent || policy.retry_ambiguous_creates;
  if (outcome.http_status == 0) {
    switch (outcome.transport_code) {
      case StatusCode::kUnavailable:  // not sent
        return true;
      case StatusCode::kDeadlineExceeded:
      case StatusCode::kAborted:
        return may_repeat;
      default:  // bad URL or TLS material: retrying cannot help
        return false;
    }
  }
  switch (outcome.http_status) {
    case 429:  // throttled before processing
    case 503:  // the API server rejects before running the handler
      return true;
    case 500:
    case 502:
    case 504:
      return may_repeat;
    default:
      return false;
  }
}

std::chrono::milliseconds BackoffDelay(const RetryPolicy& policy, int retry, double uniform01,
                                       std::optional<std::chrono::milliseconds> retry_after) {
  const double max_ms = static_cast<double>(std::max<int64_t>(0, policy.max_delay.count()));
  double delay = static_cast<double>(std::max<int64_t>(0, policy.base_delay.count())) *
                 std::pow(2.0, std::clamp(retry, 0, 62));
  delay = std::min(delay, max_ms);
  delay += delay * std::max(0.0, policy.jitter) * std::clamp(uniform01, 0.0, 1.0);
  delay = std::min(delay, max_ms);
  auto result = std::chrono::milliseconds(static_cast<int64_t>(delay));
  if (retry_after) {
    auto server = std::min(*retry_after, policy.max_retry_after);
    result = std::max(result, server);
  }
  return result;
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value) {
  std::optional<int64_t> seconds = ParseInt64(Trim(value));
  if (!seconds || *seconds < 0 || *seconds > 86400) return std::nullopt;
  return std::chrono::milliseconds(*seconds * 1000);
}

}  // namespace hami::kube
