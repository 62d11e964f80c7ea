// The extender's HTTP(S) front: /filter, /bind, /webhook, /healthz, /readyz.
//
// Errors from filter and bind travel inside the JSON body with HTTP 200, as kube-scheduler
// expects; only an empty or oversized body gets a 4xx. Thread-safe: httplib serves requests
// on a thread pool; the handlers only call thread-safe components.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "scheduler/binder.h"
#include "scheduler/decision_log.h"
#include "scheduler/filter.h"
#include "scheduler/metrics.h"
#include "scheduler/webhook.h"

namespace httplib {
class Server;
}

namespace hami::scheduler {

struct ServerHooks {
  // Only the leader answers filter/bind; followers refuse so kube-scheduler retries.
  std::function<bool()> is_leader = [] { return true; };
  // /filter waits for the first registration pass; /readyz reports it.
  std::function<bool()> is_synced = [] { return true; };
  // How long /filter waits for leadership and the first sync before it answers with an error:
  // kube-scheduler v1.26 parks a pod whose filter fails in its unschedulable queue for up to 5
  // minutes, so a bounded wait is far cheaper. Keep it below kube-scheduler's extender
  // httpTimeout. 0 = answer at once.
  std::chrono::milliseconds filter_wait{0};
  // Called when /filter finds this replica not the leader: look at the Lease now.
  std::function<void()> recheck_leader;
  std::function<WebhookConfig()> webhook_config = [] { return WebhookConfig{}; };
  std::function<int64_t()> now_unix_seconds;
  // When set (not owned; must outlive the server), /filter and /bind record their latency and
  // /filter its failure reasons here.
  SchedulerMetrics* metrics = nullptr;
  // When set (not owned; must outlive the server), /filter records each decision about a pod
  // that asks for devices here, for the Web UI (decision_log.h).
  DecisionLog* decisions = nullptr;
};

class CertificateReloader;

class ExtenderServer {
 public:
  // Components must outlive the server. With cert and key paths, serves HTTPS and picks up a
  // rotated certificate and key on the next handshake (see tls_reloader.h).
  ExtenderServer(FilterCore& filter, Binder& binder, ServerHooks hooks, std::string cert_file = "",
                 std::string key_file = "");
  ~ExtenderServer();
  ExtenderServer(const ExtenderServer&) = delete;
  ExtenderServer& operator=(const ExtenderServer&) = delete;

  // Binds host:port (port 0 = ephemeral) and serves on a background thread; returns the bound
  // port. Failure: kUnavailable when the address cannot be bound or TLS files are unusable.
  Result<int> Start(const std::string& host, int port);
  void Stop();

  // The handlers, callable without HTTP (tests, benchmarks). Each returns the response body.
  std::string HandleFilter(const std::string& body);
  std::string HandleBind(const std::string& body);

 private:
  std::string FilterImpl(const std::string& body);
  // Waits (up to hooks_.filter_wait, or until Stop) for leadership and sync; returns the
  // failure reason ("not_leader"/"not_synced") when they did not come, else nullptr.
  const char* WaitUntilReady();
  std::string BindImpl(const std::string& body);
  void Routes();

  FilterCore& filter_;
  Binder& binder_;
  ServerHooks hooks_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<CertificateReloader> tls_;  // set when serving HTTPS
  Status tls_status_;                         // why HTTPS could not be set up
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace hami::scheduler
