// The node lock protocol (hami.io/mutex.lock), decided purely: given the lock annotation's
// current value, what a pod that wants to bind (or release) must do. The caller performs the
// decided patch with the node's resourceVersion as a precondition, so two schedulers racing
// for the same node cannot both win: the loser gets a 409 Conflict and re-reads.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "device/codec.h"

namespace hami::nodelock {

enum class LockAction {
  kAcquire,      // no lock (or a stale/orphaned/unreadable one): write our value
  kAlreadyHeld,  // the lock is ours: nothing to write
  kContended,    // another live pod holds a fresh lock: give up (kube-scheduler retries)
};

struct LockDecision {
  LockAction action = LockAction::kAcquire;
  // Why an existing value is overridden or respected, for logs and the error returned to
  // kube-scheduler ("node n1 has been locked within 5m0s by default/other").
  std::string reason;
};

// What the pod named in a lock is doing with respect to the locked node.
enum class OwnerState {
  kAllocatingHere,  // bound to this node, its allocation in progress: the lock is legitimate
  kNotYetBound,     // not bound anywhere yet: its bind may be between lock and Binding
  kGone,            // the pod does not exist
  kNotHere,         // it exists but is not being allocated on this node (see ClassifyLockOwner)
};
struct OwnerVerdict {
  OwnerState state = OwnerState::kAllocatingHere;
  std::string why;  // for every state but kAllocatingHere: a short explanation
};

// How long a lock whose owner is not bound yet is respected: a bind takes the lock, then
// creates the Binding (which also writes the decision), so an unbound owner is normal for the
// length of one Binding request (the client gives up after 30 s). Past this, the scheduler
// that took it died in between, and the lock is left behind.
inline constexpr int64_t kUnboundOwnerGraceSeconds = 60;

// Classifies the lock owner `pod` (nullptr = not found) for a lock on `node`. The lock is
// legitimate while the owner is bound to this node with bind-phase "allocating" (or none, as
// an older scheduler leaves it) and a decision for this node, or not bound yet (within the
// grace above). A finished owner, one bound or scheduled elsewhere, one whose bind failed,
// or one already allocated (bind-phase "success") left its lock behind: by a scheduler killed
// mid-bind, by a pod re-filtered elsewhere, or by a device plugin that died before releasing.
OwnerVerdict ClassifyLockOwner(const nlohmann::json* pod, std::string_view node);

// `current` is the annotation value (nullopt when absent). `owner_state(ns, name)` returns the
// OwnerVerdict of the pod named in the lock (only asked for a fresh lock held by another pod).
// Rules (HAMi §3.7, plus orphans): absent -> acquire; unparsable -> acquire (a corrupt lock
// would block the node forever); older than `timeout_seconds` -> acquire (expired); owner ==
// us -> already held; owner gone or not being allocated here -> acquire; owner not bound yet
// and the lock older than kUnboundOwnerGraceSeconds -> acquire; legacy value (no owner)
// within the timeout -> contended; otherwise contended. With empty `ns` and `name`
// (nobody), kAcquire on a present value means the value may be removed (an orphan sweep).
template <typename OwnerStateFn>
LockDecision DecideAcquire(const std::optional<std::string>& current, std::string_view ns,
                           std::string_view name, int64_t now_unix_seconds, int64_t timeout_seconds,
                           OwnerStateFn owner_state);

// Whether the pod may remove the lock value on release: it owns it, or `force` (rollback of a
// failed bind that must not leave the node locked) or the value is legacy/unreadable.
bool MayRelease(std::string_view current, std::string_view ns, std::string_view name, bool force);

// ---- implementation of the template ----

template <typename OwnerStateFn>
LockDecision DecideAcquire(const std::optional<std::string>& current, std::string_view ns,
                           std::string_view name, int64_t now_unix_seconds, int64_t timeout_seconds,
                           OwnerStateFn owner_state) {
  if (!current || current->empty()) return {LockAction::kAcquire, "node is not locked"};
  auto lock = ParseNodeLock(*current);
  if (!lock.ok()) {
    return {LockAction::kAcquire, "replacing unreadable lock value: " + lock.status().message()};
  }
  const int64_t age = now_unix_seconds - lock->unix_seconds;
  if (age > timeout_seconds) {
    return {LockAction::kAcquire, "lock expired " + std::to_string(age - timeout_seconds) +
                                      "s ago (timeout " + std::to_string(timeout_seconds) + "s)"};
  }
  if (lock->legacy) {
    return {LockAction::kContended,
            "locked within " + std::to_string(timeout_seconds) + "s (legacy lock without owner)"};
  }
  if (lock->ns == ns && lock->name == name) return {LockAction::kAlreadyHeld, "lock is ours"};
  const OwnerVerdict owner = owner_state(lock->ns, lock->name);
  if (owner.state == OwnerState::kGone) {
    return {LockAction::kAcquire,
            "lock owner " + lock->ns + "/" + lock->name + " no longer exists"};
  }
  if (owner.state == OwnerState::kNotHere) {
    return {LockAction::kAcquire, "lock owner " + lock->ns + "/" + lock->name +
                                      " is not being allocated here: " + owner.why};
  }
  if (owner.state == OwnerState::kNotYetBound && age > kUnboundOwnerGraceSeconds) {
    return {LockAction::kAcquire, "lock owner " + lock->ns + "/" + lock->name + " " + owner.why +
                                      " " + std::to_string(age) + "s after taking the lock"};
  }
  return {LockAction::kContended, "locked within " + std::to_string(timeout_seconds) + "s by " +
                                      lock->ns + "/" + lock->name};
}

}  // namespace hami::nodelock
