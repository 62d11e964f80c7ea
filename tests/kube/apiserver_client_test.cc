// KubeClient over the real CurlTransport against the in-process fake API server: CRUD, merge
// patches with resourceVersion preconditions (the node lock), binding, leases, events,
// retries on injected failures, transport error classification, cancellation and TLS.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kube/client.h"
#include "kube/curl_transport.h"
#include "kube/paths.h"
#include "tests/fakes/fake_apiserver.h"

namespace hami::kube {
namespace {

using fakes::FakeApiServer;
using nlohmann::json;
using std::chrono::milliseconds;

json Pod(const std::string& name, const std::string& ns = "default") {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", {{"containers", {{{"name", "c"}, {"image", "cuda"}}}}}}};
}

json Node(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
}

std::string Rv(const json& object) { return std::string(ObjectView(object).ResourceVersion()); }

class ApiServerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::string> url = server_.Start();
    ASSERT_TRUE(url.ok()) << url.status().message();
    config_.server = *url;
    config_.bearer_token = "test-token";
    client_ = MakeClient();
  }

  std::unique_ptr<KubeClient> MakeClient(RetryPolicy retry = {}) {
    ClientOptions options;
    options.retry = retry;
    options.request_timeout = milliseconds(2000);
    options.sleep = [this](std::chrono::nanoseconds d) { sleeps_.push_back(d); };
    return KubeClient::WithCurl(config_, options);
  }

  FakeApiServer server_;
  ClusterConfig config_;
  std::vector<std::chrono::nanoseconds> sleeps_;
  std::unique_ptr<KubeClient> client_;
};

TEST_F(ApiServerClientTest, PodCrud) {
  auto created = client_->Create(PodsPath("default"), Pod("p1"));
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_FALSE(PodView(*created).Uid().empty());
  EXPECT_EQ(PodView(*created).Phase(), "Pending");

  auto again = client_->Create(PodsPath("default"), Pod("p1"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().message();

  auto got = client_->Get(PodPath("default", "p1"));
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, *created);

  json updated = *got;
  updated["metadata"]["labels"] = {{"app", "x"}};
  auto put = client_->Update(PodPath("default", "p1"), updated);
  ASSERT_TRUE(put.ok()) << put.status().message();
  EXPECT_EQ(PodView(*put).Label("app"), "x");
  // A PUT carrying the old resourceVersion loses the race.
  auto stale = client_->Update(PodPath("default", "p1"), updated);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);

  ASSERT_TRUE(client_->Create(PodsPath("other"), Pod("p2", "other")).ok());
  auto all = client_->List(PodsPath(""));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)["items"].size(), 2u);
  auto selected = client_->List(PodsPath(""), "app=x");
  ASSERT_TRUE(selected.ok());
  ASSERT_EQ((*selected)["items"].size(), 1u);
  EXPECT_EQ((*selected)["items"][0]["metadata"]["name"], "p1");
  auto by_field = client_->List(PodsPath(""), "", "metadata.namespace=other");
  ASSERT_TRUE(by_field.ok());
  EXPECT_EQ((*by_field)["items"].size(), 1u);

  ASSERT_TRUE(client_->Delete(PodPath("default", "p1")).ok());
  auto gone = client_->Get(PodPath("default", "p1"));
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("p1"), std::string::npos);
  EXPECT_EQ(client_->Delete(PodPath("default", "p1")).status().code(), StatusCode::kNotFound);
}

// HAMi's node lock (spec §3.7): set the annotation with the node's resourceVersion; whoever
// patches second with the same version gets kConflict.
TEST_F(ApiServerClientTest, NodeLockMergePatchWithResourceVersion) {
  ASSERT_TRUE(server_.Put(Node("gpu-1")).ok());
  auto node = client_->Get(NodePath("gpu-1"));
  ASSERT_TRUE(node.ok());
  const std::string rv = Rv(*node);
  const std::string lock = "2025-01-02T15:04:05Z,default,pod-a";

  auto locked =
      client_->MergePatch(NodePath("gpu-1"), AnnotationsPatch({{"hami.io/mutex.lock", lock}}, rv));
  ASSERT_TRUE(locked.ok()) << locked.status().message();
  EXPECT_EQ(NodeView(*locked).Annotation("hami.io/mutex.lock"), lock);
  EXPECT_NE(Rv(*locked), rv);

  auto rival = client_->MergePatch(
      NodePath("gpu-1"), AnnotationsPatch({{"hami.io/mutex.lock", "x,default,pod-b"}}, rv));
  EXPECT_EQ(rival.status().code(), StatusCode::kConflict) << rival.status().message();
  EXPECT_EQ(server_.RequestCount("patch"), 2);  // a conflict is an answer: not retried

  auto released = client_->MergePatch(
      NodePath("gpu-1"), AnnotationsPatch({{"hami.io/mutex.lock", std::nullopt}}, Rv(*locked)));
  ASSERT_TRUE(released.ok()) << released.status().message();
  EXPECT_EQ(NodeView(*released).Annotation("hami.io/mutex.lock"), std::nullopt);

  server_.InjectConflict("nodes", "", "gpu-1");
  auto injected = client_->MergePatch(NodePath("gpu-1"), AnnotationsPatch({{"a", "b"}}));
  EXPECT_EQ(injected.status().code(), StatusCode::kConflict);
  EXPECT_TRUE(client_->MergePatch(NodePath("gpu-1"), AnnotationsPatch({{"a", "b"}})).ok());
}

TEST_F(ApiServerClientTest, JsonPatch) {
  ASSERT_TRUE(server_.Put(Node("n")).ok());
  json ops =
      json::array({{{"op", "add"}, {"path", "/metadata/labels"}, {"value", {{"gpu", "true"}}}}});
  auto patched = client_->JsonPatch(NodePath("n"), ops);
  ASSERT_TRUE(patched.ok()) << patched.status().message();
  EXPECT_EQ(NodeView(*patched).Label("gpu"), "true");
}

TEST_F(ApiServerClientTest, Binding) {
  auto pod = client_->Create(PodsPath("default"), Pod("gpu-pod"));
  ASSERT_TRUE(pod.ok());
  ASSERT_TRUE(server_.Put(Node("node-a")).ok());
  Status bound = client_->CreateBinding("default", "gpu-pod", PodView(*pod).Uid(), "node-a");
  ASSERT_TRUE(bound.ok()) << bound.message();
  auto after = server_.Get("pods", "default", "gpu-pod");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(PodView(*after).NodeName(), "node-a");
  Status rebound = client_->CreateBinding("default", "gpu-pod", "", "node-b");
  EXPECT_EQ(rebound.code(), StatusCode::kConflict) << rebound.message();
  EXPECT_EQ(client_->CreateBinding("default", "missing", "", "node-a").code(),
            StatusCode::kNotFound);
}

TEST_F(ApiServerClientTest, LeaseAndEvent) {
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "hami-scheduler"}, {"namespace", "kube-system"}}},
                {"spec", {{"holderIdentity", "sched-0"}, {"leaseDurationSeconds", 15}}}};
  ASSERT_TRUE(client_->CreateLease("kube-system", lease).ok());
  auto got = client_->GetLease("kube-system", "hami-scheduler");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(LeaseView(*got).HolderIdentity(), "sched-0");
  json renewed = *got;
  renewed["spec"]["renewTime"] = FormatRfc3339Utc(std::chrono::system_clock::now(), true);
  ASSERT_TRUE(client_->UpdateLease("kube-system", "hami-scheduler", renewed).ok());
  EXPECT_EQ(client_->UpdateLease("kube-system", "hami-scheduler", renewed).status().code(),
            StatusCode::kConflict);

  EventSpec spec;
  spec.involved_namespace = "default";
  spec.involved_name = "gpu-pod";
  spec.reason = "BindingSucceed";
  spec.message = "bound to node-a";
  ASSERT_TRUE(client_->CreateEvent(spec).ok());
  auto events = server_.List("events", "default");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["reason"], "BindingSucceed");
}

TEST_F(ApiServerClientTest, RetriesInjectedServerErrors) {
  ASSERT_TRUE(server_.Put(Node("n")).ok());
  server_.FailNext(2, 500, "get");
  auto node = client_->Get(NodePath("n"));
  ASSERT_TRUE(node.ok()) << node.status().message();
  EXPECT_EQ(server_.RequestCount("get"), 3);
  EXPECT_EQ(client_->retries_total(), 2u);
  EXPECT_EQ(sleeps_.size(), 2u);

  fakes::InjectedFault throttle;
  throttle.http_code = 429;
  throttle.verb = "patch";
  throttle.retry_after_seconds = 2;
  server_.InjectFault(throttle);
  ASSERT_TRUE(client_->MergePatch(NodePath("n"), AnnotationsPatch({{"a", "1"}})).ok());
  EXPECT_EQ(sleeps_.back(), milliseconds(2000));  // the server's Retry-After, not real time

  server_.FailNext(1, 500, "create");
  auto create = client_->Create(PodsPath("default"), Pod("p"));
  EXPECT_EQ(create.status().code(), StatusCode::kUnavailable);  // ambiguous for a POST
  EXPECT_EQ(server_.RequestCount("create"), 1);

  server_.FailNext(10, 503, "get");
  auto exhausted = client_->Get(NodePath("n"));
  EXPECT_EQ(exhausted.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server_.RequestCount("get"), 3 + 5);
  server_.ClearFaults();
}

TEST_F(ApiServerClientTest, TransportErrorsAreClassified) {
  // Nothing listens: the request was certainly not sent.
  FakeApiServer down;
  Result<std::string> down_url = down.Start();
  ASSERT_TRUE(down_url.ok());
  down.Stop();
  ClusterConfig config = config_;
  config.server = *down_url;
  RetryPolicy once;
  once.max_attempts = 1;
  ClientOptions options;
  options.retry = once;
  options.request_timeout = milliseconds(300);
  auto refused = KubeClient::WithCurl(config, options)->Get(NodesPath());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().message();
  EXPECT_NE(refused.status().message().find("not sent"), std::string::npos);

  // The server takes too long: the outcome is unknown.
  server_.SetLatency(milliseconds(1500), "list");
  auto slow = KubeClient::WithCurl(config_, options)->Get(NodesPath());
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded) << slow.status().message();
  server_.SetLatency(milliseconds(0));

  config.server = "notascheme://x";
  auto bad_url = KubeClient::WithCurl(config, options)->Get(NodesPath());
  EXPECT_EQ(bad_url.status().code(), StatusCode::kInvalidArgument) << bad_url.status().message();
}

TEST_F(ApiServerClientTest, ShutdownEndsRequestsAndRetriesPromptly) {
  // A daemon stopping on SIGTERM while the API server goes away must not sit out request
  // timeouts and retry backoff (hami-scheduler once took ~32 s to exit).
  using Clock = std::chrono::steady_clock;
  ASSERT_TRUE(server_.Put(Node("n")).ok());
  ClientOptions options;  // real sleeps
  options.request_timeout = milliseconds(30000);
  options.retry.max_attempts = 20;
  options.retry.base_delay = milliseconds(1000);
  auto hanging = KubeClient::WithCurl(config_, options);
  server_.SetLatency(milliseconds(20000), "list");
  auto retrying = KubeClient::WithCurl(config_, options);
  server_.FailNext(100, 503, "get");
  Status slow_result, retry_result;
  const auto start = Clock::now();
  std::thread slow([&] { slow_result = hanging->Get(NodesPath()).status(); });
  std::thread retry([&] { retry_result = retrying->Get(NodePath("n")).status(); });
  std::this_thread::sleep_for(milliseconds(500));
  hanging->Shutdown();
  retrying->Shutdown();
  slow.join();
  retry.join();
  const auto took = Clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(3)) << "shutdown waited for timeouts or backoff";
  EXPECT_EQ(slow_result.code(), StatusCode::kAborted) << slow_result.message();
  EXPECT_FALSE(retry_result.ok());
  // After a shutdown nothing is sent.
  const int before = server_.RequestCount();
  EXPECT_EQ(hanging->Get(NodePath("n")).status().code(), StatusCode::kAborted);
  EXPECT_EQ(server_.RequestCount(), before);
  server_.SetLatency(milliseconds(0));
  server_.ClearFaults();
}

TEST_F(ApiServerClientTest, CancelInterruptsSlowRequestAndIdleWatch) {
  server_.SetLatency(milliseconds(1500), "list");
  CancelToken cancel;
  auto start = std::chrono::steady_clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(100));
    cancel.Cancel();
  });
  auto listed = client_->Get(NodesPath(), &cancel);
  canceller.join();
  EXPECT_EQ(listed.status().code(), StatusCode::kAborted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
  server_.SetLatency(milliseconds(0));

  CancelToken watch_cancel;
  int events = 0;
  std::thread watcher([&] {
    Status status = client_->Watch(
        WithQuery(NodesPath(), {{"watch", "true"}}), milliseconds(10000),
        [&](WatchEvent&&) {
          ++events;
          return true;
        },
        &watch_cancel);
    EXPECT_TRUE(status.ok()) << status.message();
  });
  ASSERT_TRUE(server_.WaitForWatches(1, milliseconds(1000)));
  ASSERT_TRUE(server_.Put(Node("n1")).ok());
  start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(milliseconds(50));
  watch_cancel.Cancel();
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500));
  EXPECT_EQ(events, 1);
}

TEST(ApiServerTlsTest, VerifiesServerCertificate) {
  // A private directory: parallel test processes must not overwrite each other's files.
  std::string dir = ::testing::TempDir() + "/kube-tls-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string cert = dir + "/kube_client_cert.pem";
  const std::string key = dir + "/kube_client_key.pem";
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl CLI not available";
  fakes::FakeApiServerOptions server_options;
  server_options.tls_cert_path = cert;
  server_options.tls_key_path = key;
  FakeApiServer server(server_options);
  Result<std::string> url = server.Start();
  ASSERT_TRUE(url.ok()) << url.status().message();

  ClientOptions options;
  options.retry.max_attempts = 1;
  ClusterConfig config;
  config.server = *url;
  config.ca_file = cert;
  auto with_file = KubeClient::WithCurl(config, options)->List(NodesPath());
  EXPECT_TRUE(with_file.ok()) << with_file.status().message();

  config.ca_file.clear();
  std::ifstream in(cert);
  config.ca_pem.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  auto with_data = KubeClient::WithCurl(config, options)->List(NodesPath());
  EXPECT_TRUE(with_data.ok()) << with_data.status().message();

  config.ca_pem.clear();  // system CAs do not trust it
  auto untrusted = KubeClient::WithCurl(config, options)->List(NodesPath());
  EXPECT_FALSE(untrusted.ok());

  config.insecure_skip_tls_verify = true;
  auto insecure = KubeClient::WithCurl(config, options)->List(NodesPath());
  EXPECT_TRUE(insecure.ok()) << insecure.status().message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hami::kube
