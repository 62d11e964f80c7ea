// KubeClient: JSON-in, JSON-out Kubernetes REST client with retries and a rate limit.
//
// Ownership: shares the transport (a shared_ptr, so informers and the client can outlive
// each other in any order); copies the config. Thread-safe: every method may be called from
// any thread at once.
//
// Failure behaviour: an API error becomes a Status mapped by StatusFromResponse (kNotFound,
// kConflict, kAlreadyExists, kGone, kInvalidArgument, kUnavailable, ...) carrying the
// server's message; a transport failure keeps the transport's code (http.h). Transient
// failures are retried per RetryPolicy (retry.h) with exponential backoff and jitter, honouring
// Retry-After; the returned error is the last attempt's. A 2xx body that is not JSON is
// kInternal.
//
// Paths are API paths ("/api/v1/namespaces/default/pods/p"), see paths.h; the server prefix
// comes from the config.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "kube/http.h"
#include "kube/kube_config.h"
#include "kube/objects.h"
#include "kube/rate_limiter.h"
#include "kube/retry.h"
#include "kube/watch_stream.h"

namespace hami::kube {

struct ClientOptions {
  RetryPolicy retry;
  std::chrono::milliseconds request_timeout{30000};
  double qps = 0;  // client-side rate limit in requests/s; <= 0 = unlimited
  int burst = 10;
  // Injected for tests (simulated time, no real sleeps); defaults are the real thing.
  std::function<void(std::chrono::nanoseconds)> sleep;  // default: this_thread::sleep_for
  std::function<double()> random01;                     // default: uniform [0, 1)
  TokenBucket::NowFn now;                               // default: steady_clock::now
};

// Whether `status` is a failure worth trying again later (kUnavailable, kDeadlineExceeded,
// kAborted), as opposed to an answer (kNotFound, kConflict, ...).
bool IsTransient(const Status& status);

class KubeClient {
 public:
  KubeClient(std::shared_ptr<HttpTransport> transport, ClusterConfig config,
             ClientOptions options = {});

  // A client over a CurlTransport for `config`. Never fails (bad TLS material shows up on the
  // first request).
  static std::unique_ptr<KubeClient> WithCurl(const ClusterConfig& config,
                                              ClientOptions options = {});

  // What the binaries' --kubeconfig flag means: that file when given, else the default chain
  // ($KUBECONFIG, in-cluster service account, ~/.kube/config). Failure names the file.
  static Result<std::shared_ptr<KubeClient>> FromKubeconfigFlag(const std::string& kubeconfig);

  const ClusterConfig& config() const { return config_; }

  // `cancel` (optional, not owned) aborts the request and any retry wait promptly with
  // kAborted; informers use it so Stop() never waits for a slow LIST.
  Result<nlohmann::json> Get(std::string_view path, CancelToken* cancel = nullptr);
  // One LIST call (no paging); selectors use Kubernetes syntax ("a=b,c!=d"), "" = none.
  Result<nlohmann::json> List(std::string_view path, std::string_view label_selector = "",
                              std::string_view field_selector = "");
  // POST `object` to a collection path. Not retried after an ambiguous failure unless
  // RetryPolicy::retry_ambiguous_creates.
  Result<nlohmann::json> Create(std::string_view path, const nlohmann::json& object);
  // PUT: replaces the object; its metadata.resourceVersion (if set) is a precondition.
  Result<nlohmann::json> Update(std::string_view path, const nlohmann::json& object);
  // DELETE with optional DeleteOptions (preconditions, gracePeriodSeconds); returns the
  // server's reply (the object or a Status).
  Result<nlohmann::json> Delete(std::string_view path,
                                const nlohmann::json& delete_options = nullptr);
  // application/merge-patch+json (RFC 7386). A metadata.resourceVersion in the patch makes
  // it conditional: kConflict when the object moved on.
  Result<nlohmann::json> MergePatch(std::string_view path, const nlohmann::json& patch);
  // application/json-patch+json (RFC 6902 list of operations). Treated as non-idempotent.
  Result<nlohmann::json> JsonPatch(std::string_view path, const nlohmann::json& operations);

  // POSTs a Binding (the scheduler's final step). kConflict when the pod is already bound.
  // `annotations` travel in the Binding's metadata: the API server sets them on the pod in the
  // same write that sets spec.nodeName.
  Status CreateBinding(std::string_view ns, std::string_view pod, std::string_view uid,
                       std::string_view node,
                       const std::map<std::string, std::string>& annotations = {});
  Result<nlohmann::json> GetLease(std::string_view ns, std::string_view name);
  Result<nlohmann::json> CreateLease(std::string_view ns, const nlohmann::json& lease);
  // PUT of a Lease read earlier (resourceVersion precondition: kConflict if another holder
  // renewed it first).
  Result<nlohmann::json> UpdateLease(std::string_view ns, std::string_view name,
                                     const nlohmann::json& lease);
  // Records an Event (timestamps from the system clock).
  Result<nlohmann::json> CreateEvent(const EventSpec& spec);

  // Opens a watch on `path` (which carries the query: watch=1, resourceVersion, ...) and
  // calls `on_event` for each event until the server ends the stream, `timeout` expires
  // (both OK), `on_event` returns false (OK), or `cancel` (may be null) fires (OK). Not
  // retried: the caller resumes from the last resourceVersion it saw. Failure: a mapped HTTP
  // error (kGone for an expired resourceVersion), a transport Status, or InvalidArgument for a
  // malformed stream.
  Status Watch(std::string_view path, std::chrono::milliseconds timeout,
               const std::function<bool(WatchEvent&& event)>& on_event, CancelToken* cancel);

  // The generic request behind the helpers above. `body` null (or JSON null) sends none.
  Result<nlohmann::json> Do(std::string_view method, std::string_view path,
                            const nlohmann::json* body, std::string_view content_type,
                            bool idempotent, CancelToken* cancel = nullptr);

  // Makes the client give up: requests in progress finish their current attempt (each is
  // bounded by the request timeout) but are not retried, and retry and rate-limit waits end
  // at once; later requests get one attempt. Daemons call it on SIGTERM so a dying API
  // server cannot hold the exit past the pod's grace period. Thread-safe; irreversible.
  void Shutdown();
  bool ShuttingDown() const { return shutdown_.IsCancelled(); }

  // Retries performed so far (not counting first attempts); for metrics and tests.
  uint64_t retries_total() const { return retries_.load(std::memory_order_relaxed); }

 private:
  Result<HttpRequest> BuildRequest(std::string_view method, std::string_view path, std::string body,
                                   std::string_view content_type,
                                   std::chrono::milliseconds timeout);
  // Sleeps `delay` with the injected sleep, or, with a cancel token, until it fires.
  void Wait(std::chrono::nanoseconds delay, CancelToken* cancel);

  std::shared_ptr<HttpTransport> transport_;
  const ClusterConfig config_;
  const bool real_sleep_;  // no injected sleep: waits may use a cancel token
  ClientOptions options_;
  TokenSource tokens_;
  TokenBucket limiter_;
  std::atomic<uint64_t> retries_{0};
  CancelToken shutdown_;
};

}  // namespace hami::kube
