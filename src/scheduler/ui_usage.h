// Live device usage for the Web UI (issue 19), read from Prometheus when --ui-prometheus-url is
// set: per-device memory used and SM utilisation (hami-monitor's hami_host_gpu_memory_used_bytes
// and hami_host_gpu_utilization_ratio, docs/monitor.md) and the cluster's memory history
// (hami-scheduler's hami_gpu_memory_limit_bytes and hami_gpu_memory_allocated_bytes,
// docs/scheduler.md, plus the monitor's memory used) over query_range.
//
// Never blocks /filter (only the UI's listener calls it) and never fails the page: every
// failure (unreachable, slow past the timeout, non-2xx, garbage) becomes ok = false with an
// error text. Answers are cached for `cache_ttl`, so a UI polling every second costs
// Prometheus one query per TTL. Thread-safe (internal mutex; the HTTP calls run outside it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kube/http.h"

namespace hami::scheduler {

struct DeviceLiveUsage {
  int64_t memory_used_mib = 0;
  double sm_util_percent = 0;
};

struct LiveUsage {
  bool configured = false;  // a Prometheus URL is set
  bool ok = false;          // the last query answered
  std::string error;        // why not, when configured and !ok
  std::map<std::string, DeviceLiveUsage> by_uuid;
};

struct UsageSeries {
  std::string name;  // "memoryMiB" | "memoryAllocatedMiB" | "memoryUsedMiB"
  std::vector<std::pair<int64_t, double>> points;  // (unix seconds, MiB)
};

struct UsageHistory {
  bool available = false;
  std::string reason;  // set when !available
  std::vector<UsageSeries> series;
};

class UsageSource {
 public:
  virtual ~UsageSource() = default;
  // The current per-device usage (cached). Never throws; failures are in the result.
  virtual LiveUsage Current() = 0;
  // The cluster's memory capacity, allocated and used over the last `range` (cached per range).
  virtual UsageHistory History(std::chrono::seconds range) = 0;
};

struct PrometheusUsageOptions {
  std::string base_url;  // "http://prometheus:9090" (a path prefix is kept); no trailing '/'
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds cache_ttl{5000};
  std::function<int64_t()> now_unix_seconds;  // default: the system clock
};

class PrometheusUsage final : public UsageSource {
 public:
  // `transport` performs the HTTP calls (CurlTransport in production).
  PrometheusUsage(std::shared_ptr<kube::HttpTransport> transport, PrometheusUsageOptions options);

  LiveUsage Current() override;
  UsageHistory History(std::chrono::seconds range) override;

  // Parses a /api/v1/query answer (vector of samples) into uuid -> value using `label` (pure;
  // exposed for tests). Failure: kInvalidArgument on anything but a success vector.
  static Result<std::map<std::string, double>> ParseVector(const std::string& body,
                                                           const std::string& label);
  // Parses a /api/v1/query_range answer with one series (or none: empty points).
  static Result<std::vector<std::pair<int64_t, double>>> ParseMatrix(const std::string& body);

 private:
  Result<std::string> Get(const std::string& path_and_query);

  std::shared_ptr<kube::HttpTransport> transport_;
  PrometheusUsageOptions options_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point current_at_;  // GUARDED_BY(mu_)
  std::optional<LiveUsage> current_;                  // GUARDED_BY(mu_)
  std::map<int64_t, std::pair<std::chrono::steady_clock::time_point, UsageHistory>>
      history_;  // GUARDED_BY(mu_): range seconds -> (when, answer)
};

// "1h", "30m", "6h", "1d", "90s" -> seconds; nullopt for anything else or outside
// [1 minute, 7 days].
std::optional<std::chrono::seconds> ParseUsageRange(const std::string& text);

}  // namespace hami::scheduler
