// Retry decisions, backoff arithmetic, Retry-After parsing, the token bucket and path helpers:
// pure functions, table-driven.
#include "kube/retry.h"

#include <gtest/gtest.h>

#include "kube/paths.h"
#include "kube/rate_limiter.h"

namespace hami::kube {
namespace {

using std::chrono::milliseconds;

TEST(RetryTest, ShouldRetryTable) {
  struct Case {
    int http;
    StatusCode transport;
    bool idempotent_retries;
    bool create_retries;
  };
  const std::vector<Case> cases = {
      {0, StatusCode::kUnavailable, true, true}, {0, StatusCode::kDeadlineExceeded, true, false},
      {0, StatusCode::kAborted, true, false},    {0, StatusCode::kInvalidArgument, false, false},
      {429, StatusCode::kOk, true, true},        {503, StatusCode::kOk, true, true},
      {500, StatusCode::kOk, true, false},       {502, StatusCode::kOk, true, false},
      {504, StatusCode::kOk, true, false},       {400, StatusCode::kOk, false, false},
      {404, StatusCode::kOk, false, false},      {409, StatusCode::kOk, false, false},
      {410, StatusCode::kOk, false, false},      {422, StatusCode::kOk, false, false},
      {501, StatusCode::kOk, false, false},
  };
  RetryPolicy policy;
  RetryPolicy lenient;
  lenient.retry_ambiguous_creates = true;
  for (const Case& c : cases) {
    AttemptOutcome outcome{c.http, c.transport, std::nullopt};
    EXPECT_EQ(ShouldRetry(policy, true, outcome), c.idempotent_retries) << c.http;
    EXPECT_EQ(ShouldRetry(policy, false, outcome), c.create_retries) << c.http;
    EXPECT_EQ(ShouldRetry(lenient, false, outcome), c.idempotent_retries) << c.http;
  }
}

TEST(RetryTest, BackoffDelayGrowsJittersAndCaps) {
  RetryPolicy policy;  // 100 ms base, 5 s cap, jitter 0.5
  EXPECT_EQ(BackoffDelay(policy, 0, 0.0, std::nullopt), milliseconds(100));
  EXPECT_EQ(BackoffDelay(policy, 1, 0.0, std::nullopt), milliseconds(200));
  EXPECT_EQ(BackoffDelay(policy, 3, 0.0, std::nullopt), milliseconds(800));
  EXPECT_EQ(BackoffDelay(policy, 0, 0.5, std::nullopt), milliseconds(125));
  EXPECT_EQ(BackoffDelay(policy, 0, 0.999, std::nullopt), milliseconds(149));
  EXPECT_EQ(BackoffDelay(policy, 10, 0.9, std::nullopt), milliseconds(5000));
  EXPECT_EQ(BackoffDelay(policy, 1000, 0.9, std::nullopt), milliseconds(5000));  // no overflow
  EXPECT_EQ(BackoffDelay(policy, 0, 0.0, milliseconds(2000)), milliseconds(2000));
  EXPECT_EQ(BackoffDelay(policy, 0, 0.0, milliseconds(999999)), milliseconds(30000));
  EXPECT_EQ(BackoffDelay(policy, 5, 0.0, milliseconds(1)), milliseconds(3200));
}

TEST(RetryTest, ParseRetryAfter) {
  EXPECT_EQ(ParseRetryAfter("3"), milliseconds(3000));
  EXPECT_EQ(ParseRetryAfter(" 0 "), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter(""), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-1"), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("99999999999"), std::nullopt);
}

TEST(TokenBucketTest, BurstThenSteadyRate) {
  auto now = std::chrono::steady_clock::time_point{};
  TokenBucket bucket(5, 3, [&] { return now; });
  EXPECT_EQ(bucket.Reserve().count(), 0);
  EXPECT_EQ(bucket.Reserve().count(), 0);
  EXPECT_EQ(bucket.Reserve().count(), 0);
  EXPECT_EQ(bucket.Reserve(), milliseconds(200));
  EXPECT_EQ(bucket.Reserve(), milliseconds(400));  // queued behind the previous reservation
  now += std::chrono::seconds(10);                 // refills, but never above the burst
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.Reserve().count(), 0);
  EXPECT_GT(bucket.Reserve().count(), 0);

  TokenBucket unlimited(0, 1, [&] { return now; });
  for (int i = 0; i < 100; ++i) EXPECT_EQ(unlimited.Reserve().count(), 0);
}

TEST(PathsTest, BuildsEncodedPaths) {
  EXPECT_EQ(PodsPath(""), "/api/v1/pods");
  EXPECT_EQ(PodsPath("ns"), "/api/v1/namespaces/ns/pods");
  EXPECT_EQ(PodPath("ns", "p"), "/api/v1/namespaces/ns/pods/p");
  EXPECT_EQ(PodBindingPath("ns", "p"), "/api/v1/namespaces/ns/pods/p/binding");
  EXPECT_EQ(NodesPath(), "/api/v1/nodes");
  EXPECT_EQ(NodePath("gpu-node.1"), "/api/v1/nodes/gpu-node.1");
  EXPECT_EQ(NodePath("../x?y"), "/api/v1/nodes/..%2Fx%3Fy");
  EXPECT_EQ(EventsPath("ns"), "/api/v1/namespaces/ns/events");
  EXPECT_EQ(LeasePath("kube-system", "hami-scheduler"),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/hami-scheduler");
  EXPECT_EQ(WithQuery("/a", {{"x", "1"}, {"skip", ""}, {"sel", "a in (b,c)"}}),
            "/a?x=1&sel=a%20in%20%28b%2Cc%29");
  EXPECT_EQ(WithQuery("/a?w=1", {{"x", "2"}}), "/a?w=1&x=2");
  EXPECT_EQ(WithQuery("/a", {}), "/a");
}

}  // namespace
}  // namespace hami::kube
