// The /bind step (spec §3.6): take the node lock, mark the pod allocating, create the
// Binding; release the lock and report on any failure so no node stays locked and no pod is
// bound twice. Talks to the API server through kube::KubeClient.
// Thread-safe (the client is; state lives in the API server and the ledger).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "kube/client.h"
#include "scheduler/extender_types.h"
#include "scheduler/ledger.h"

namespace hami::scheduler {

struct BindOptions {
  int64_t lock_timeout_seconds = 300;  // --node-lock-timeout / HAMI_NODELOCK_EXPIRE (5m)
  int32_t utc_offset_seconds = 0;      // zone the lock time is written in (Go: local time)
  int lock_attempts = 5;               // re-reads after a resourceVersion conflict
  bool emit_events = true;             // BindingSucceed / BindingFailed events on the pod
  // Read-through watch caches (the daemon's informers); unset = always GET. Each saves one
  // API call per bind, and neither is trusted blindly: the pod's cached resourceVersion is the
  // precondition of the bind-phase patch and the node's of the lock patch, so a stale copy
  // costs a 409 and a fresh GET, never a wrong write; a lock seen held in the cache is re-read
  // before the bind is refused.
  std::function<std::shared_ptr<const nlohmann::json>(const std::string& ns,
                                                      const std::string& name)>
      cached_pod;
  std::function<std::shared_ptr<const nlohmann::json>(const std::string& name)> cached_node;
};

class Binder {
 public:
  // `client` and `ledger` must outlive the binder; `now` gives unix seconds.
  Binder(kube::KubeClient& client, UsageLedger& ledger, BindOptions options,
         std::function<int64_t()> now);

  // Binds the pod; returns "" on success, else the message for ExtenderBindingResult.Error.
  std::string Bind(const ExtenderBindingArgs& args);

  // Takes the node lock for ns/name. kFailedPrecondition when another live pod holds it;
  // other codes for API failures.
  Status AcquireNodeLock(const std::string& node, const std::string& ns, const std::string& name);
  // Removes the lock if ns/name holds it (or `force`). Best effort; returns the last error.
  Status ReleaseNodeLock(const std::string& node, const std::string& ns, const std::string& name,
                         bool force);

 private:
  // Why the pod cannot be bound as it is ("" = it can): another uid, or already bound.
  std::string CheckPod(const ExtenderBindingArgs& args, const nlohmann::json& pod) const;
  void Event(const std::string& ns, const std::string& name, const std::string& uid, bool ok,
             const std::string& message);

  kube::KubeClient& client_;
  UsageLedger& ledger_;
  BindOptions options_;
  std::function<int64_t()> now_;
};

}  // namespace hami::scheduler
