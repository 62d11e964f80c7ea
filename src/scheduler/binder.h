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
#include "nodelock/node_locker.h"
#include "scheduler/extender_types.h"
#include "scheduler/ledger.h"

namespace hami::scheduler {

struct BindOptions {
  // The node lock: timeout, zone, conflict re-reads, and the node watch cache it tries first.
  nodelock::NodeLockerOptions lock;
  bool emit_events = true;  // BindingSucceed / BindingFailed events on the pod
  // The pod watch cache (the daemon's informer); unset = always GET. It saves one API call
  // per bind and is not trusted blindly: the checked pod's resourceVersion is the
  // precondition of the bind-phase patch, so a stale copy costs a 409 and a fresh GET, never
  // a wrong write.
  std::function<std::shared_ptr<const nlohmann::json>(const std::string& ns,
                                                      const std::string& name)>
      cached_pod;
};

class Binder {
 public:
  // `client` and `ledger` must outlive the binder; `now` gives unix seconds.
  Binder(kube::KubeClient& client, UsageLedger& ledger, BindOptions options,
         std::function<int64_t()> now);

  // Binds the pod; returns "" on success, else the message for ExtenderBindingResult.Error.
  std::string Bind(const ExtenderBindingArgs& args);

  // The node lock as this binder takes it (tests and the device plugin emulation use it).
  nodelock::NodeLocker& locker() { return locker_; }

 private:
  // Why the pod cannot be bound as it is ("" = it can): another uid, or already bound.
  std::string CheckPod(const ExtenderBindingArgs& args, const nlohmann::json& pod) const;
  void Event(const std::string& ns, const std::string& name, const std::string& uid, bool ok,
             const std::string& message);

  kube::KubeClient& client_;
  UsageLedger& ledger_;
  BindOptions options_;
  std::function<int64_t()> now_;
  nodelock::NodeLocker locker_;
};

}  // namespace hami::scheduler
