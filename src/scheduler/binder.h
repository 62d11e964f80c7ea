// The /bind step (spec §3.6): take the node lock, then create the Binding, which carries the
// decision /filter made in memory and bind-phase "allocating" as annotations (the API server
// sets them on the pod in the same write); release the lock and report on any failure so no
// node stays locked and no pod is bound twice. A lock whose owner is not bound there within a
// grace period is left behind (nodelock::ClassifyLockOwner, DecideAcquire).
// Talks to the API server through kube::KubeClient.
// Thread-safe (the client is; state lives in the API server and the ledger).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "device/vendor.h"
#include "kube/client.h"
#include "nodelock/node_locker.h"
#include "scheduler/extender_types.h"
#include "scheduler/ledger.h"

namespace hami::scheduler {

struct BindOptions {
  // The node lock: timeout, zone, conflict re-reads, and the node watch cache it tries first.
  nodelock::NodeLockerOptions lock;
  bool emit_events = true;  // BindingFailed events on the pod
  // How long a bind waits for a node lock another pod legitimately holds (it is between its
  // bind and its Allocate) before failing. kube-scheduler v1.26 parks a pod whose bind fails
  // in its unschedulable queue, and a lock release (an annotation change) does not bring it
  // back, so failing at once can leave the pod Pending for 5 minutes while the node has
  // room. Binds run in parallel, so waiting blocks nothing else. Keep it below kube-scheduler's
  // extender httpTimeout. 0 = fail at once.
  std::chrono::milliseconds lock_wait{0};
  // The same wait for members of a PodGroup (pod_group.h), as HAMi's
  // --node-lock-retry-timeout: a gang's pods are bound together and often land on one node,
  // where each waits for the previous member's allocation. The longer of the two applies.
  std::chrono::milliseconds pod_group_lock_wait{28000};
  // BindingSucceed events too (HAMi writes one per pod; kube-scheduler's own "Scheduled" event
  // says the same, so by default we save the API write).
  bool emit_success_events = false;
  // Called after each step of a bind with "locked" (node lock taken) or "bound" (Binding
  // created): fault injection for tests that kill the scheduler at every step
  // (HAMI_FAULT_KILL_AT_BIND_STEP).
  std::function<void(std::string_view step)> after_step;
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
  // `client`, `registry` and `ledger` must outlive the binder; `now` gives unix seconds.
  Binder(kube::KubeClient& client, const VendorRegistry& registry, UsageLedger& ledger,
         BindOptions options, std::function<int64_t()> now);

  // Binds the pod; returns "" on success, else the message for ExtenderBindingResult.Error.
  std::string Bind(const ExtenderBindingArgs& args);

  // The node lock as this binder takes it (tests and the device plugin emulation use it).
  nodelock::NodeLocker& locker() { return locker_; }

 private:
  // Why the pod cannot be bound as it is ("" = it can): another uid, or already bound.
  std::string CheckPod(const ExtenderBindingArgs& args, const nlohmann::json& pod) const;
  void Event(const std::string& ns, const std::string& name, const std::string& uid, bool ok,
             const std::string& message);

  // Takes the node lock, waiting up to `wait` while another pod holds it.
  Status AcquireLock(const ExtenderBindingArgs& args, std::chrono::milliseconds wait);
  // A vendor's own node lock (Vendor::ExtraNodeLockAnnotation) as taken on the node: the
  // annotation and the value this binder wrote.
  struct ExtraLock {
    std::string annotation;
    std::string value;
  };
  // Takes the extra node locks of the vendors `allocation` uses (HAMi's per-vendor LockNode,
  // e.g. Cambricon's cambricon.com/dsmlu.lock): each is refused while set and younger than
  // the vendor's expiry, or unreadable; else set to now (RFC 3339, the node lock's zone) with
  // the node's resourceVersion as precondition. Appends the locks taken to `taken`; on
  // failure releases them again. kFailedPrecondition when a lock is held; other codes for
  // API failures.
  Status AcquireExtraLocks(const std::string& node, const PodAllocation& allocation,
                           std::vector<ExtraLock>* taken);
  // Removes the extra locks in `locks` that still hold the value this binder wrote (best
  // effort: the vendor's plugin removes them after Allocate, an expired one is taken over).
  void ReleaseExtraLocks(const std::string& node, const std::vector<ExtraLock>& locks);
  void AfterStep(std::string_view step) const {
    if (options_.after_step) options_.after_step(step);
  }

  kube::KubeClient& client_;
  const VendorRegistry& registry_;
  UsageLedger& ledger_;
  BindOptions options_;
  std::function<int64_t()> now_;
  nodelock::NodeLocker locker_;
};

}  // namespace hami::scheduler
