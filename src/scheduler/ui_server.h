// The Web UI's listener (issue 19, docs/web-ui.md): plain HTTP on its own address
// (--ui-bind-address), read-only. Serves the embedded page (ui_assets.h) at "/" and
// "/assets/<file>", the JSON API v1 under "/api/v1/" (ui_api.h) and "/healthz". Every method
// but GET (and HEAD) answers 405. It has no login: put it behind an authenticating proxy. The
// page uses relative URLs only, so a proxy may mount it under any sub-path.
//
// Cost: the API reads one shared copy of the ledger and the decision log, taken at most once per
// UiSources::snapshot_ttl (the copy holds the ledger's lock, which /filter also takes); the
// fragmentation counts (summary) and Prometheus answers are cached for a few seconds too. So the
// data shown may be up to snapshot_ttl old. Measured in bench/ui_bench.cc (docs/web-ui.md).
// Thread-safe: Handle may be called from many threads.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "device/vendor.h"
#include "scheduler/decision_log.h"
#include "scheduler/ledger.h"
#include "scheduler/quota.h"
#include "scheduler/ui_api.h"
#include "scheduler/ui_usage.h"

namespace httplib {
class Server;
}

namespace hami::scheduler {

struct UiSources {
  // Not owned; must outlive the server.
  const VendorRegistry* registry = nullptr;
  const UsageLedger* ledger = nullptr;
  const DecisionLog* decisions = nullptr;
  const QuotaTracker* quota = nullptr;  // null = quotas not enforced
  UsageSource* usage = nullptr;         // null = no Prometheus configured
  std::function<bool()> is_synced = [] { return true; };
  std::function<bool()> is_leader = [] { return true; };
  std::function<int64_t()> now_unix_seconds;  // default: the system clock
  std::string version = "unknown";
  // How long the fragmentation counts are reused.
  std::chrono::milliseconds fits_ttl{5000};
  // How long one copy of the ledger (node states, pods, locks) and of the decision log serves
  // every request: copying 50,000 pods holds the ledger's lock for tens of milliseconds, which a
  // concurrent /filter waits for, so a UI polling fast copies at most once per TTL.
  std::chrono::milliseconds snapshot_ttl{2000};
};

struct UiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class UiServer {
 public:
  explicit UiServer(UiSources sources);
  ~UiServer();
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  // Binds host:port (0 = ephemeral) and serves on a background thread; returns the bound port.
  // Failure: kUnavailable naming the address.
  Result<int> Start(const std::string& host, int port);
  void Stop();

  // One request without HTTP (tests, benchmarks): `path` is the decoded path ("/api/v1/nodes"),
  // `params` its query parameters.
  UiResponse Handle(const std::string& method, const std::string& path,
                    const std::map<std::string, std::string>& params);

 private:
  UiResponse Api(const std::string& path, const std::map<std::string, std::string>& params);
  UiResponse Asset(const std::string& path);
  // What the API shows, copied from the ledger and the decision log at `at`.
  struct View {
    std::chrono::steady_clock::time_point at;
    std::vector<policy::NodeState> nodes;
    std::vector<PodAllocation> pods;
    std::set<std::string> locked;
    std::vector<DecisionPtr> pending;
  };
  // The current view (a new copy when older than sources_.snapshot_ttl).
  std::shared_ptr<const View> CurrentView();
  // The fragmentation counts for `nodes` (cached for sources_.fits_ttl).
  std::vector<FitCount> Fits(std::span<const policy::NodeState> nodes,
                             std::span<const PodAllocation> pods);

  UiSources sources_;
  std::mutex fits_mu_;                             // also serialises their computation
  std::chrono::steady_clock::time_point fits_at_;  // GUARDED_BY(fits_mu_)
  std::optional<std::vector<FitCount>> fits_;      // GUARDED_BY(fits_mu_)
  std::mutex view_mu_;                             // also serialises taking a copy
  std::shared_ptr<const View> view_;               // GUARDED_BY(view_mu_)
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace hami::scheduler
