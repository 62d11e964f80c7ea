// PrometheusServer: runs a real Prometheus (Debian's /usr/bin/prometheus) on loopback for a
// test, so an exposition endpoint is scraped and parsed by the real parser and read back with
// PromQL. Not a fake: the process is the upstream server; only its config and storage are
// temporary.
//
// Start() writes prometheus.yml (scrape_interval 1s, one job per target) and a TSDB directory
// under a fresh temp dir, spawns the binary with --web.listen-address=127.0.0.1:<free port>, and
// waits for /-/ready. Query() and Targets() use the HTTP API (/api/v1/query, /api/v1/targets).
// The destructor (or Stop()) sends SIGTERM, waits up to 5 s, then SIGKILLs, and removes the
// temp dir.
//
// Timing: /-/ready answers within ~0.2 s, but Prometheus's service discovery publishes targets
// at most every 5 s, so the first scrape lands 5-6 s after Start(): tests should start one
// server, give it all their targets, and wait once (WaitForScrapes).
//
// When the binary is missing, Unavailable() says so and tests should GTEST_SKIP() with that
// reason (scripts/install-deps.sh installs Debian's `prometheus`, so CI runs them).
//
// Thread-safety: Query/Targets/Wait* may be called from any thread once Start() returned; Start
// and Stop from the owning thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace hami::fakes {

struct PromScrapeTarget {
  std::string address;  // host:port
  std::string metrics_path = "/metrics";
  std::string job = "hami";  // unique per target
};

// One element of an instant vector (or the single value of a scalar result, labels empty).
struct PromSample {
  std::map<std::string, std::string> labels;  // includes __name__, job, instance
  double value = 0;
};

// One entry of /api/v1/targets' activeTargets.
struct PromTargetHealth {
  std::string job;
  std::string scrape_url;
  std::string health;      // "up", "down" or "unknown" (not scraped yet)
  std::string last_error;  // empty when the last scrape parsed
};

class PrometheusServer {
 public:
  static constexpr const char* kDefaultBinary = "/usr/bin/prometheus";

  // Empty when `binary` is an executable file; otherwise why it cannot run (a skip reason).
  static std::string Unavailable(const std::string& binary = kDefaultBinary);

  explicit PrometheusServer(std::string binary = kDefaultBinary);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // Starts Prometheus scraping `targets` every second and returns its base URL
  // ("http://127.0.0.1:<port>") once /-/ready answers 200. Fails (with the tail of its log) when
  // the binary is missing, the process exits, or it is not ready within `ready_timeout`. A port
  // lost to a race is retried with another one.
  Result<std::string> Start(const std::vector<PromScrapeTarget>& targets,
                            std::chrono::milliseconds ready_timeout = std::chrono::seconds(15));

  // Evaluates `promql` at the current time. Vector results give one sample per series; a scalar
  // gives one sample without labels. Fails on HTTP errors or a non-"success" status (the
  // error text is in the message).
  Result<std::vector<PromSample>> Query(const std::string& promql) const;

  // Polls Query(promql) every 100 ms until the result is non-empty and `accept` (when given)
  // accepts it; returns the last result, or DeadlineExceeded with the last result/error.
  Result<std::vector<PromSample>> WaitForValue(
      const std::string& promql, std::chrono::milliseconds timeout,
      const std::function<bool(const std::vector<PromSample>&)>& accept = nullptr) const;

  // The active targets and the health of their last scrape.
  Result<std::vector<PromTargetHealth>> Targets() const;

  // Polls Targets() until every target given to Start() is listed and has been scraped at least
  // once (health not "unknown"); discovery may publish the jobs one at a time.
  Result<std::vector<PromTargetHealth>> WaitForScrapes(std::chrono::milliseconds timeout) const;

  // SIGTERM, wait up to 5 s, SIGKILL; removes the temp dir. Idempotent.
  void Stop();

  // The last `max_bytes` of Prometheus's own log (stdout and stderr), for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

  int port() const { return port_; }

 private:
  Status StartOnce(const std::vector<PromScrapeTarget>& targets,
                   std::chrono::milliseconds ready_timeout);
  Result<std::string> Get(const std::string& path) const;  // body of a 200 answer

  std::string binary_;
  std::string dir_;  // temp dir: prometheus.yml, data/, prometheus.log
  pid_t pid_ = -1;
  int port_ = -1;
  size_t target_count_ = 0;
};

}  // namespace hami::fakes
