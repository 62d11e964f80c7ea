// Retry policy for API requests: which failures are retried, and how long to wait.
//
// Pure functions and plain values; thread-safe.
#pragma once

#include <chrono>
#include <optional>

#include "common/status.h"

namespace hami::kube {

struct RetryPolicy {
  int max_attempts = 5;  // total tries including the first; 1 = never retry
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay{5000};
  double jitter = 0.5;  // each delay grows by up to this fraction, at random
  // Upper bound on a server's Retry-After (a misbehaving proxy must not park us for hours).
  std::chrono::milliseconds max_retry_after{30000};
  // Retry POST creates after a failure that may have reached the server (timeout, dropped
  // connection, 500/504). Off by default: a duplicate create or Binding is not harmless.
  bool retry_ambiguous_creates = false;
};

// What happened to one attempt, as far as retrying is concerned.
struct AttemptOutcome {
  int http_status = 0;                                   // 0 when the transport failed
  StatusCode transport_code = StatusCode::kOk;           // the transport failure, if any
  std::optional<std::chrono::milliseconds> retry_after;  // from a Retry-After header
};

// Whether to try again after `outcome`. Never retries 4xx other than 429 (404, 409, 422 are
// answers, not failures). `idempotent` requests (GET, PUT, DELETE, merge PATCH: applying one
// twice gives the same object, and a resourceVersion precondition turns a duplicate into a
// 409 the caller handles) retry on network failures, 429, 500, 502, 503, 504. Others (POST
// creates, JSON patches) retry only when the request provably did not run (transport
// kUnavailable, 429, 503) unless `policy.retry_ambiguous_creates`.
bool ShouldRetry(const RetryPolicy& policy, bool idempotent, const AttemptOutcome& outcome);

// Delay before retry number `retry` (0 = first retry): base * 2^retry, capped at max_delay,
// grown by jitter * `uniform01` (a number in [0, 1)), and never above max_delay. A server's
// Retry-After wins when it is longer (capped at max_retry_after).
std::chrono::milliseconds BackoffDelay(const RetryPolicy& policy, int retry, double uniform01,
                                       std::optional<std::chrono::milliseconds> retry_after);

// Parses a Retry-After value in delta-seconds form ("3"); HTTP dates and garbage give
// nullopt (the caller falls back to its own backoff).
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value);

}  // namespace hami::kube
