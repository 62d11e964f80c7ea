// KubeClient against a scripted transport: error mapping, retry and backoff decisions (in
// simulated time: the injected sleep records instead of sleeping), headers, bodies, watches.
#include "kube/client.h"

#include <gtest/gtest.h>

#include "kube/api_error.h"
#include "kube/paths.h"
#include "tests/kube/scripted_transport.h"

namespace hami::kube {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::ScriptedReply;
using testing::ScriptedTransport;

json StatusBody(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
          {"code", code},     {"reason", reason},   {"message", message}};
}

struct Harness {
  std::shared_ptr<ScriptedTransport> transport = std::make_shared<ScriptedTransport>();
  std::vector<std::chrono::nanoseconds> sleeps;
  std::unique_ptr<KubeClient> client;

  explicit Harness(RetryPolicy retry = {}, double qps = 0) {
    ClusterConfig config;
    config.server = "https://api:6443";
    config.bearer_token = "tok";
    ClientOptions options;
    options.retry = retry;
    options.qps = qps;
    options.burst = 2;
    options.sleep = [this](std::chrono::nanoseconds d) {
      sleeps.push_back(d);
      now += d;
    };
    options.random01 = [] { return 0.0; };  // no jitter: exact delays
    options.now = [this] { return now; };
    client = std::make_unique<KubeClient>(transport, config, options);
  }
  std::chrono::steady_clock::time_point now{};
};

TEST(ApiErrorTest, MapsHttpStatusAndReason) {
  struct Case {
    int http;
    std::string reason;
    StatusCode code;
  };
  for (const Case& c : std::vector<Case>{{400, "BadRequest", StatusCode::kInvalidArgument},
                                         {401, "Unauthorized", StatusCode::kUnauthenticated},
                                         {403, "Forbidden", StatusCode::kPermissionDenied},
                                         {404, "NotFound", StatusCode::kNotFound},
                                         {409, "AlreadyExists", StatusCode::kAlreadyExists},
                                         {409, "Conflict", StatusCode::kConflict},
                                         {410, "Expired", StatusCode::kGone},
                                         {422, "Invalid", StatusCode::kInvalidArgument},
                                         {429, "TooManyRequests", StatusCode::kUnavailable},
                                         {500, "InternalError", StatusCode::kUnavailable},
                                         {503, "ServiceUnavailable", StatusCode::kUnavailable},
                                         {504, "Timeout", StatusCode::kDeadlineExceeded},
                                         {418, "", StatusCode::kInternal}}) {
    HttpResponse response;
    response.status = c.http;
    response.body = StatusBody(c.http, c.reason, "the message").dump();
    Status status = StatusFromResponse("PATCH", "/api/v1/nodes/n1", response);
    EXPECT_EQ(status.code(), c.code) << c.http << " " << c.reason;
    EXPECT_NE(status.message().find("PATCH /api/v1/nodes/n1: HTTP " + std::to_string(c.http)),
              std::string::npos);
    EXPECT_NE(status.message().find("the message"), std::string::npos) << status.message();
  }
  HttpResponse html;
  html.status = 502;
  html.body = "<html>bad gateway</html>";
  Status status = StatusFromResponse("GET", "/x", html);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("bad gateway"), std::string::npos);
  html.status = 201;
  EXPECT_TRUE(StatusFromResponse("GET", "/x", html).ok());
}

TEST(ClientTest, GetSendsAuthAndParsesBody) {
  Harness h;
  h.transport->PushJson(200, {{"kind", "Pod"}, {"metadata", {{"name", "p"}}}});
  auto pod = h.client->Get(PodPath("default", "p"));
  ASSERT_TRUE(pod.ok()) << pod.status().message();
  EXPECT_EQ((*pod)["metadata"]["name"], "p");
  auto requests = h.transport->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].url, "https://api:6443/api/v1/namespaces/default/pods/p");
  EXPECT_TRUE(requests[0].body.empty());
  bool auth = false;
  for (const auto& [name, value] : requests[0].headers) {
    if (name == "Authorization") auth = value == "Bearer tok";
    EXPECT_NE(name, "Content-Type");
  }
  EXPECT_TRUE(auth);
}

TEST(ClientTest, BodiesAndContentTypes) {
  Harness h;
  for (int i = 0; i < 5; ++i) h.transport->PushJson(200, json::object());
  json patch = AnnotationsPatch({{"hami.io/mutex.lock", "x"}}, "42");
  ASSERT_TRUE(h.client->MergePatch(NodePath("n1"), patch).ok());
  ASSERT_TRUE(h.client->JsonPatch(NodePath("n1"), json::array()).ok());
  ASSERT_TRUE(h.client->Update(NodePath("n1"), json{{"kind", "Node"}}).ok());
  ASSERT_TRUE(h.client->CreateBinding("ns", "pod", "uid-1", "node-a").ok());
  ASSERT_TRUE(h.client->List(PodsPath(""), "app=x,tier!=db", "spec.nodeName=n1").ok());
  auto requests = h.transport->requests();
  ASSERT_EQ(requests.size(), 5u);
  auto content_type = [](const HttpRequest& r) {
    for (const auto& [name, value] : r.headers) {
      if (name == "Content-Type") return value;
    }
    return std::string();
  };
  EXPECT_EQ(requests[0].method, "PATCH");
  EXPECT_EQ(content_type(requests[0]), "application/merge-patch+json");
  EXPECT_EQ(json::parse(requests[0].body), patch);
  EXPECT_EQ(content_type(requests[1]), "application/json-patch+json");
  EXPECT_EQ(requests[2].method, "PUT");
  EXPECT_EQ(content_type(requests[2]), "application/json");
  EXPECT_EQ(requests[3].method, "POST");
  EXPECT_EQ(requests[3].url, "https://api:6443/api/v1/namespaces/ns/pods/pod/binding");
  json binding = json::parse(requests[3].body);
  EXPECT_EQ(binding["target"]["name"], "node-a");
  EXPECT_EQ(binding["metadata"]["uid"], "uid-1");
  EXPECT_EQ(requests[4].url,
            "https://api:6443/api/v1/pods?labelSelector=app%3Dx%2Ctier%21%3Ddb&fieldSelector=spec."
            "nodeName%3Dn1");
}

TEST(ClientTest, ErrorsCarryServerMessage) {
  Harness h;
  h.transport->PushJson(409, StatusBody(409, "Conflict", "the object has been modified"));
  auto result = h.client->MergePatch(NodePath("n1"), json::object());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kConflict);
  EXPECT_NE(result.status().message().find("the object has been modified"), std::string::npos);
  EXPECT_TRUE(h.sleeps.empty());

  h.transport->PushJson(404, StatusBody(404, "NotFound", "pods \"p\" not found"));
  EXPECT_EQ(h.client->Get(PodPath("d", "p")).status().code(), StatusCode::kNotFound);
  h.transport->PushJson(422, StatusBody(422, "Invalid", "spec: invalid"));
  EXPECT_EQ(h.client->Update(PodPath("d", "p"), json::object()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(h.sleeps.empty());  // answers, not failures: never retried
  EXPECT_EQ(h.client->retries_total(), 0u);
}

TEST(ClientTest, RetriesTransientFailuresWithExponentialBackoff) {
  Harness h;
  h.transport->PushJson(500, StatusBody(500, "InternalError", "etcd"));
  h.transport->PushError(StatusCode::kAborted, "connection reset");
  h.transport->PushJson(502, json::object());
  h.transport->PushJson(200, {{"ok", true}});
  auto result = h.client->Get(NodePath("n"));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(h.sleeps, (std::vector<std::chrono::nanoseconds>{milliseconds(100), milliseconds(200),
                                                             milliseconds(400)}));
  EXPECT_EQ(h.client->retries_total(), 3u);
}

TEST(ClientTest, GivesUpAfterMaxAttemptsAndCapsDelay) {
  RetryPolicy policy;
  policy.max_attempts = 4;
  policy.max_delay = milliseconds(250);
  Harness h(policy);
  for (int i = 0; i < 6; ++i) h.transport->PushJson(503, StatusBody(503, "", "overloaded"));
  auto result = h.client->Get(NodePath("n"));
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("overloaded"), std::string::npos);
  EXPECT_EQ(h.transport->requests().size(), 4u);
  EXPECT_EQ(h.sleeps, (std::vector<std::chrono::nanoseconds>{milliseconds(100), milliseconds(200),
                                                             milliseconds(250)}));
}

TEST(ClientTest, HonoursRetryAfter) {
  RetryPolicy policy;
  policy.max_retry_after = milliseconds(5000);
  Harness h(policy);
  h.transport->PushJson(429, StatusBody(429, "TooManyRequests", "slow down"),
                        {{"retry-after", "3"}});
  h.transport->PushJson(429, StatusBody(429, "TooManyRequests", "slow down"),
                        {{"retry-after", "3600"}});
  h.transport->PushJson(200, json::object());
  ASSERT_TRUE(h.client->Create(PodsPath("d"), json::object()).ok());  // 429: safe even for POST
  EXPECT_EQ(h.sleeps,
            (std::vector<std::chrono::nanoseconds>{milliseconds(3000), milliseconds(5000)}));
}

TEST(ClientTest, CreatesAreNotRetriedAfterAmbiguousFailures) {
  struct Case {
    std::function<void(ScriptedTransport&)> push;
    bool retried;
  };
  std::vector<Case> cases = {
      {[](ScriptedTransport& t) { t.PushError(StatusCode::kUnavailable, "refused"); }, true},
      {[](ScriptedTransport& t) { t.PushJson(503, json::object()); }, true},
      {[](ScriptedTransport& t) { t.PushJson(429, json::object()); }, true},
      {[](ScriptedTransport& t) { t.PushError(StatusCode::kDeadlineExceeded, "timeout"); }, false},
      {[](ScriptedTransport& t) { t.PushError(StatusCode::kAborted, "reset"); }, false},
      {[](ScriptedTransport& t) { t.PushJson(500, json::object()); }, false},
      {[](ScriptedTransport& t) { t.PushJson(504, json::object()); }, false},
      {[](ScriptedTransport& t) { t.PushJson(409, StatusBody(409, "AlreadyExists", "")); }, false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    Harness h;
    cases[i].push(*h.transport);
    h.transport->PushJson(201, json::object());
    Status status = h.client->CreateBinding("d", "p", "", "n");
    EXPECT_EQ(status.ok(), cases[i].retried) << "case " << i << ": " << status.message();
    EXPECT_EQ(h.transport->requests().size(), cases[i].retried ? 2u : 1u) << "case " << i;
  }
  RetryPolicy policy;
  policy.retry_ambiguous_creates = true;
  Harness h(policy);
  h.transport->PushError(StatusCode::kDeadlineExceeded, "timeout");
  h.transport->PushJson(500, json::object());
  h.transport->PushJson(201, json::object());
  EXPECT_TRUE(h.client->Create(EventsPath("d"), json::object()).ok());
}

TEST(ClientTest, MergePatchIsRetriedJsonPatchIsNot) {
  Harness h;
  h.transport->PushError(StatusCode::kDeadlineExceeded, "timeout");
  h.transport->PushJson(200, json::object());
  EXPECT_TRUE(h.client->MergePatch(NodePath("n"), json::object()).ok());
  h.transport->PushJson(500, json::object());
  h.transport->PushJson(200, json::object());
  EXPECT_EQ(h.client->JsonPatch(NodePath("n"), json::array()).status().code(),
            StatusCode::kUnavailable);
}

TEST(ClientTest, BadTlsMaterialIsNotRetried) {
  Harness h;
  h.transport->PushError(StatusCode::kInvalidArgument, "bad CA file");
  EXPECT_EQ(h.client->Get("/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.transport->requests().size(), 1u);
}

TEST(ClientTest, NonJsonSuccessBodyIsInternalError) {
  Harness h;
  ScriptedReply reply;
  reply.response.status = 200;
  reply.response.body = "<html>";
  h.transport->Push(reply);
  EXPECT_EQ(h.client->Get("/x").status().code(), StatusCode::kInternal);
  reply.response.body = "";
  h.transport->Push(reply);
  auto empty = h.client->Delete("/x");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->is_object());
}

TEST(ClientTest, CancelledRequestIsNotSent) {
  Harness h;
  CancelToken cancel;
  cancel.Cancel();
  auto result = h.client->Get("/x", &cancel);
  EXPECT_EQ(result.status().code(), StatusCode::kAborted);
  EXPECT_TRUE(h.transport->requests().empty());
}

TEST(ClientTest, RateLimitSpacesRequestsAfterBurst) {
  Harness h(RetryPolicy{}, /*qps=*/10);
  for (int i = 0; i < 4; ++i) h.transport->PushJson(200, json::object());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(h.client->Get("/x").ok());
  EXPECT_EQ(h.sleeps,
            (std::vector<std::chrono::nanoseconds>{milliseconds(100), milliseconds(100)}));
}

TEST(ClientTest, EventBodyTargetsInvolvedObject) {
  Harness h;
  h.transport->PushJson(201, json::object());
  EventSpec spec;
  spec.involved_namespace = "ns";
  spec.involved_name = "gpu-pod";
  spec.involved_uid = "u1";
  spec.type = "Warning";
  spec.reason = "BindingFailed";
  spec.message = "node n1 has been locked";
  ASSERT_TRUE(h.client->CreateEvent(spec).ok());
  auto requests = h.transport->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].url, "https://api:6443/api/v1/namespaces/ns/events");
  json event = json::parse(requests[0].body);
  EXPECT_EQ(event["involvedObject"]["uid"], "u1");
  EXPECT_EQ(event["reason"], "BindingFailed");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["metadata"]["namespace"], "ns");
  EXPECT_EQ(event["metadata"]["name"].get<std::string>().rfind("gpu-pod.", 0), 0u);
}

TEST(ClientWatchTest, DecodesEventsSplitAcrossChunks) {
  Harness h;
  std::string line1 = R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})";
  std::string line2 = R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})";
  std::string all = line1 + "\n" + line2 + "\n";
  h.transport->PushStream({all.substr(0, 10), all.substr(10, 50), all.substr(60)});
  std::vector<std::string> types;
  Status status = h.client->Watch(
      "/api/v1/pods?watch=true", milliseconds(1000),
      [&](WatchEvent&& e) {
        types.push_back(e.type);
        return true;
      },
      nullptr);
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "BOOKMARK"}));
}

TEST(ClientWatchTest, HttpErrorsAndMalformedStreams) {
  Harness h;
  ScriptedReply gone;
  gone.response.status = 410;
  gone.response.body = StatusBody(410, "Expired", "too old resource version").dump();
  h.transport->Push(gone);
  auto noop = [](WatchEvent&&) { return true; };
  EXPECT_EQ(h.client->Watch("/w", milliseconds(100), noop, nullptr).code(), StatusCode::kGone);
  h.transport->PushStream({"not json\n"});
  EXPECT_EQ(h.client->Watch("/w", milliseconds(100), noop, nullptr).code(),
            StatusCode::kInvalidArgument);
  h.transport->PushError(StatusCode::kUnavailable, "refused");
  EXPECT_EQ(h.client->Watch("/w", milliseconds(100), noop, nullptr).code(),
            StatusCode::kUnavailable);
  // The callback ends the stream early: a normal end.
  h.transport->PushStream({R"({"type":"ADDED","object":{}})"
                           "\n"
                           R"({"type":"ADDED","object":{}})"
                           "\n"});
  int seen = 0;
  EXPECT_TRUE(h.client
                  ->Watch(
                      "/w", milliseconds(100),
                      [&](WatchEvent&&) {
                        ++seen;
                        return false;
                      },
                      nullptr)
                  .ok());
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace hami::kube
