// FakeApiServer: an in-process Kubernetes API server for tests. It serves the real REST paths
// and JSON (objects, lists, Status errors, watch streams) over HTTP on 127.0.0.1, so a real
// client (libcurl, client-go style) can be tested against it unchanged.
//
// Served (everything else answers a 404 Status):
//   core/v1     pods (namespaced, also /api/v1/pods across namespaces), pods/binding,
//               pods/status, nodes (cluster-scoped), nodes/status, events (namespaced)
//   coordination.k8s.io/v1 leases (namespaced)
//   verbs       get, list, watch (?watch=1|true), create (POST), update (PUT), patch
//               (merge-patch+json, json-patch+json; strategic and apply patches get 415),
//               delete; plus /healthz, /readyz, /livez and /version.
//
// What is real: one global resourceVersion bumped by every write (a write that changes nothing
// does not bump it, as in etcd3's GuaranteedUpdate); optimistic concurrency on PUT and on
// patches that carry metadata.resourceVersion (409 Conflict); PUT/PATCH of pods and nodes keep
// the old status and the /status subresource changes only status; label and field selectors on
// list and watch; watches replay a bounded event history and answer a too-old resourceVersion
// with an ERROR event holding a 410 Expired Status; BOOKMARKs when asked for; objects leaving
// or entering a watch's selector show up as DELETED or ADDED; list limit/continue.
// What is not: no admission, no validation beyond what the protocol needs, no graceful pod
// deletion (DELETE removes at once), no defaulting except pod status.phase=Pending and
// spec.schedulerName=default-scheduler on create, list continue tokens do not expire,
// responses are never compressed.
//
// Thread-safety: every public method may be called from any thread at any time, including
// while requests are in flight. Requests are served by a pool of worker threads; each open
// watch holds one worker until it ends.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "common/status.h"

namespace httplib {
class Server;
struct Request;
struct Response;
class DataSink;
}  // namespace httplib

namespace hami::fakes {

// Static description of a served resource (tests/fakes/api_resources.h).
struct ApiResource;

struct FakeApiServerOptions {
  // Watch events kept for replay. A watch that starts from (or falls behind to) an older
  // resourceVersion gets a 410 Expired ERROR event.
  size_t history_limit = 1000;
  // Period of BOOKMARK events on watches opened with allowWatchBookmarks=true. Zero (the
  // default, to keep event sequences deterministic in tests): only on SendBookmarks().
  std::chrono::milliseconds bookmark_interval{0};
  // HTTP worker threads. Each open watch holds one, so allow for watches plus requests.
  size_t worker_threads = 16;
  // Serve HTTPS when both are set (PEM files). Start() fails if they cannot be loaded.
  std::string tls_cert_path;
  std::string tls_key_path;
  // TCP port on 127.0.0.1; 0 picks a free one. A restart (Start after Stop) reuses the port.
  int port = 0;
  // How long an idle keep-alive connection holds its worker; Stop() may wait this long for
  // a client that keeps an idle connection open.
  std::chrono::seconds keep_alive_timeout{1};
};

// One injected failure rule; see FakeApiServer::InjectFault.
struct InjectedFault {
  int http_code = 500;  // answered with a Status of the matching reason (429 TooManyRequests...)
  int count = 1;        // requests to fail; negative: every matching request until ClearFaults
  std::string verb;     // Kubernetes verb (get list watch create update patch delete); "" any
  std::string path_substring;   // matched against the URL path; "" any
  int retry_after_seconds = 0;  // > 0: Retry-After header and details.retryAfterSeconds
};

// One request as received (recorded before latency and fault injection apply).
struct RequestRecord {
  std::string method;  // HTTP method
  std::string verb;    // Kubernetes verb, "" for non-resource paths (/healthz, unknown)
  std::string path;    // URL path, decoded
  std::string target;  // path and query as sent
};

class FakeApiServer {
 public:
  FakeApiServer();
  explicit FakeApiServer(FakeApiServerOptions options);
  // Stops the server (see Stop()).
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // ---- Lifecycle ----

  // Binds 127.0.0.1 and starts serving; returns the base URL ("http://127.0.0.1:<port>", or
  // https with TLS). The store survives Stop()/Start(), which restarts on the same port.
  // Fails (kFailedPrecondition) if already running, (kUnavailable) if the port cannot be
  // bound or the TLS files cannot be loaded.
  Result<std::string> Start();
  // Ends all watches, stops accepting, and joins every worker thread. Idempotent. May block
  // up to keep_alive_timeout for a client holding an idle keep-alive connection.
  void Stop();
  // Base URL of the running server; "" when not started.
  std::string base_url() const;

  // ---- Direct store access (no HTTP, no faults; writes still bump the resourceVersion and
  // ---- reach watches, as writes by another client would) ----

  // Creates or replaces the object named by its kind (Pod, Node, Event, Lease), namespace
  // ("default" when a namespaced object has none) and name. Fills uid and
  // creationTimestamp when absent (keeping the stored ones on replace), sets
  // resourceVersion. Returns the stored object. Fails (kInvalidArgument) on an unknown kind or
  // a missing name. No defaulting, no preconditions.
  Result<nlohmann::json> Put(nlohmann::json object);
  // `resource` is a plural ("pods") or a kind ("Pod"); `ns` is ignored for cluster-scoped
  // resources. nullopt when absent or the resource is unknown.
  std::optional<nlohmann::json> Get(std::string_view resource, std::string_view ns,
                                    std::string_view name) const;
  // Deletes like a DELETE request would (a DELETED event). kNotFound when absent.
  Status Delete(std::string_view resource, std::string_view ns, std::string_view name);
  // Objects of a resource, sorted by namespace then name; `ns` "" means all namespaces.
  std::vector<nlohmann::json> List(std::string_view resource, std::string_view ns = "") const;
  std::vector<nlohmann::json> ListPods() const { return List("pods"); }
  // The current (latest written) resourceVersion.
  uint64_t ResourceVersion() const;

  // Polls `pred` (called without any lock held, so it may call Get/List) after every store
  // change until it returns true or `timeout` passes; returns its last result.
  bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const;
  // Waits until the object exists and `pred(object)` holds; returns it, nullopt on timeout.
  std::optional<nlohmann::json> WaitForObject(
      std::string_view resource, std::string_view ns, std::string_view name,
      const std::function<bool(const nlohmann::json&)>& pred,
      std::chrono::milliseconds timeout) const;

  // ---- Watch control ----

  // Forgets the whole event history: any watch from a resourceVersion older than the current
  // one gets 410 Expired (as after an etcd compaction).
  void Compact();
  // Sends a BOOKMARK at the current resourceVersion to every watch that allowed bookmarks.
  void SendBookmarks();
  // Ends every open watch: cleanly (terminating chunk, as on the server-side watch timeout)
  // or, if `abrupt`, by dropping the connection mid-stream.
  void CloseWatches(bool abrupt = false);
  // Watches currently streaming.
  int ActiveWatches() const;
  // Waits until at least `count` watches are streaming; false on timeout.
  bool WaitForWatches(int count, std::chrono::milliseconds timeout) const;

  // ---- Fault injection ----

  // Fails matching requests (checked in injection order, after latency) with a Status of
  // the given code before they touch the store.
  void InjectFault(InjectedFault fault);
  // Shorthand: the next `count` requests (optionally only of `verb` / containing
  // `path_substring`) fail with `http_code`.
  void FailNext(int count, int http_code, std::string verb = "", std::string path_substring = "");
  // Removes every injected fault, pending injected conflict and the latency setting.
  void ClearFaults();
  // Delays every matching request by `latency` before it is handled (zero: none). Replaces
  // the previous setting. Stop() cuts the delay short.
  void SetLatency(std::chrono::milliseconds latency, std::string verb = "",
                  std::string path_substring = "");
  // The next `count` PATCH or PUT requests of that object answer 409 Conflict, as if another
  // writer had won the race.
  void InjectConflict(std::string_view resource, std::string_view ns, std::string_view name,
                      int count = 1);

  // ---- Request accounting ----

  std::vector<RequestRecord> Requests() const;
  // Requests of `verb` ("" any) whose path contains `path_substring`.
  int RequestCount(std::string_view verb = "", std::string_view path_substring = "") const;
  void ClearRequests();

 private:
  struct WatchState;  // one open watch
  struct Reply {
    int code;
    nlohmann::json body;
  };
  struct Event {
    uint64_t rv;
    const char* type;  // ADDED MODIFIED DELETED
    const ApiResource* resource;
    nlohmann::json object;      // state after the write (before it, for DELETED)
    nlohmann::json old_object;  // state before a MODIFIED, null otherwise
  };
  // (qualified resource, namespace, name); ordered so a list comes out sorted.
  using Key = std::tuple<std::string, std::string, std::string>;
  struct Latency {
    std::chrono::milliseconds delay{0};
    std::string verb;
    std::string path_substring;
  };

  void Handle(const httplib::Request& req, httplib::Response& res);
  Reply Dispatch(const httplib::Request& req, const std::string& verb, const ApiResource& r,
                 const std::string& ns, const std::string& name, const std::string& sub);
  Reply HandleList(const httplib::Request& req, const ApiResource& r, const std::string& ns);
  void HandleWatch(const httplib::Request& req, httplib::Response& res, const ApiResource& r,
                   const std::string& ns);
  Reply HandleCreate(const httplib::Request& req, const ApiResource& r, const std::string& ns);
  Reply HandleUpdate(const httplib::Request& req, const ApiResource& r, const std::string& ns,
                     const std::string& name, bool status_only);
  Reply HandlePatch(const httplib::Request& req, const ApiResource& r, const std::string& ns,
                    const std::string& name, bool status_only);
  Reply HandleDelete(const httplib::Request& req, const ApiResource& r, const std::string& ns,
                     const std::string& name);
  Reply HandleBinding(const httplib::Request& req, const std::string& ns, const std::string& name);
  // One step of a watch stream; false drops the connection.
  bool WatchStep(WatchState& w, httplib::DataSink& sink);
  std::string RenderEventsLocked(WatchState& w);

  // Writes `object` (null: deletes) at `key`, bumping the resourceVersion; returns the object
  // as stored (for a delete: the last state with the new resourceVersion). Requires mu_.
  nlohmann::json CommitLocked(const ApiResource& r, const Key& key, nlohmann::json object);
  Reply CommitUpdateLocked(const ApiResource& r, const Key& key, const std::string& ns,
                           const nlohmann::json& old, nlohmann::json object, bool status_only);
  // Consumes one injected conflict for `key`, if any. Requires mu_.
  bool TakeConflictLocked(const Key& key);
  std::string NewUidLocked();

  const FakeApiServerOptions options_;

  // Lifecycle; start_mu_ is only taken by Start/Stop and never while holding mu_.
  std::mutex start_mu_;
  std::unique_ptr<httplib::Server> server_;  // guarded by start_mu_
  std::thread listen_thread_;                // guarded by start_mu_

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;   // signalled on every change below
  bool stopping_ = false;                // guarded by mu_
  int port_ = 0;                         // guarded by mu_
  std::string base_url_;                 // guarded by mu_
  uint64_t generation_ = 0;              // guarded by mu_; bumped on every store change
  uint64_t rv_ = 1;                      // guarded by mu_
  uint64_t compacted_rv_ = 1;            // guarded by mu_; history holds every event after it
  std::map<Key, nlohmann::json> store_;  // guarded by mu_
  std::deque<Event> history_;            // guarded by mu_; ascending rv
  uint64_t close_generation_ = 0;        // guarded by mu_
  bool close_abrupt_ = false;            // guarded by mu_
  uint64_t bookmark_generation_ = 0;     // guarded by mu_
  int active_watches_ = 0;               // guarded by mu_
  std::vector<InjectedFault> faults_;    // guarded by mu_
  Latency latency_;                      // guarded by mu_
  std::map<Key, int> conflicts_;         // guarded by mu_
  std::vector<RequestRecord> requests_;  // guarded by mu_
  std::mt19937_64 rng_;                  // guarded by mu_
};

}  // namespace hami::fakes
