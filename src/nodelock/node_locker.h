// Taking and releasing the node lock (hami.io/mutex.lock) against the API server: the
// scheduler's /bind takes it, the device plugin's Allocate releases it (spec §3.7). Every
// write carries the node's resourceVersion, so two writers racing on one node cannot both
// win; the loser re-reads and decides again (node_lock.h).
// Thread-safe (the client is).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "kube/client.h"
#include "nodelock/node_lock.h"

namespace hami::nodelock {

struct NodeLockerOptions {
  int64_t timeout_seconds = 300;   // --node-lock-timeout / HAMI_NODELOCK_EXPIRE (5m)
  int32_t utc_offset_seconds = 0;  // zone the lock time is written in (Go: local time)
  int attempts = 5;                // re-reads after a resourceVersion conflict
  // A watch cache's copy of the node, tried before a GET when set. A stale copy costs a 409
  // and a re-read; a lock it shows held is re-read from the server before giving up.
  std::function<std::shared_ptr<const nlohmann::json>(const std::string& node)> cached_node;
  // A watch cache's copy of a pod (the lock owner), tried before a GET when set. It is trusted
  // only to keep a lock (owner still allocating here); taking over a lock because its owner
  // is gone or elsewhere is always confirmed against the server.
  std::function<std::shared_ptr<const nlohmann::json>(const std::string& ns,
                                                      const std::string& name)>
      cached_pod;
};

class NodeLocker {
 public:
  // `client` must outlive the locker; `now` gives unix seconds.
  NodeLocker(kube::KubeClient& client, NodeLockerOptions options, std::function<int64_t()> now);

  // Takes the lock for ns/name. kFailedPrecondition when another live pod holds a fresh one;
  // other codes for API failures.
  Status Acquire(const std::string& node, const std::string& ns, const std::string& name);
  // Removes the lock if ns/name holds it (or `force`, or the value is legacy/unreadable).
  // Returns the last API error; OK when there was nothing to release.
  // `last_seen` (optional): the node as the caller last read it, tried before a GET.
  Status Release(const std::string& node, const std::string& ns, const std::string& name,
                 bool force, const nlohmann::json* last_seen = nullptr);
  // Removes the node's lock when nobody may hold it any more: expired, unreadable, or its
  // owner gone or not being allocated on this node (ClassifyLockOwner). Returns the reason
  // when it removed one, "" when the node is unlocked or the lock is legitimate. Never
  // removes a lock on doubt (an API error reading the owner keeps it).
  Result<std::string> ReleaseIfOrphaned(const std::string& node);

 private:
  // The owner's verdict for a lock on `node`: from the cache when that keeps the lock, else
  // from the server; an API error counts as "allocating here" (never steal on doubt).
  OwnerVerdict OwnerOf(const std::string& node, std::string_view ns, std::string_view name);

  kube::KubeClient& client_;
  NodeLockerOptions options_;
  std::function<int64_t()> now_;
};

}  // namespace hami::nodelock
