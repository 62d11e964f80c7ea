// kubelet's Allocate for one node, end to end (spec §5.2–5.3): find the pod the scheduler is
// binding here (the node lock's owner, else the pending pod with a bind in progress), take the
// next container's devices from its devices-to-allocate annotation (PlanAllocate), prepare the
// container's cache directory, write the annotation back, and once no container is left mark
// the pod `bind-phase: success` and release the node lock. Any failure after the pod is found
// marks it `bind-phase: failed` and releases the lock, so no node stays locked and the pod is
// rescheduled instead of starting without its limits.
// Thread-safe: calls are serialised (kubelet allocates one container at a time per plugin).
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/status.h"
#include "deviceplugin/allocate.h"
#include "deviceplugin/mig_realize.h"
#include "deviceplugin/v1beta1/api.pb.h"
#include "kube/client.h"
#include "nodelock/node_locker.h"

namespace hami::deviceplugin {

struct AllocatorOptions {
  std::string node_name;
  // The vendor's pod annotation with the scheduler's per-container devices.
  std::string to_allocate_annotation = "hami.io/vgpu-devices-to-allocate";
  AllocateSettings settings;
  nodelock::NodeLockerOptions lock;
  int write_attempts = 3;  // re-reads of the pod after a resourceVersion conflict
  // The UUIDs of this node's GPUs that are present and healthy now; unset = not checked. A
  // container whose devices include another one is refused (the GPU went away or turned
  // unhealthy after the scheduler chose it).
  std::function<std::set<std::string>()> usable_devices;
  // The MIG devices that exist on this node (static MIG); unset = none. Ignored when
  // mig_realizer is set.
  MigInstanceLookup mig_instances;
  // Dynamic MIG: adopts or creates each reserved instance (not owned; must outlive the
  // allocator). What one Allocate created is destroyed again when that Allocate fails, kept
  // when it succeeds.
  MigRealizer* mig_realizer = nullptr;
  // Dynamic MIG: called once when realizing a reserved instance fails, before one retry. The
  // scheduler reserves a placement as soon as the pods holding it are gone from the API
  // server, so kubelet's Allocate can arrive before the reconciler's next pass has destroyed
  // their instances; the daemon runs a pass here (it destroys only instances no live pod
  // reserves, and the pod being allocated is live). Unset: no retry.
  std::function<void()> reclaim_stale_mig;
};

// Creates (mode 0777) or empties the container's host cache directory.
Status PrepareCacheDir(const std::string& path);

class Allocator {
 public:
  // `client` must outlive the allocator; `now` gives unix seconds; `cache_file_name` returns a
  // fresh "<uuid>.cache" name.
  Allocator(kube::KubeClient& client, AllocatorOptions options, std::function<int64_t()> now,
            std::function<std::string()> cache_file_name);

  Result<v1beta1::AllocateResponse> Allocate(const v1beta1::AllocateRequest& request);

  // New settings for the next Allocate (the node config was reloaded).
  void SetSettings(AllocateSettings settings);

  // The pod being bound to this node, or NotFound "no binding pod found on node <n>". A lock
  // whose owner is not being allocated here (a scheduler killed mid-bind, a pod re-filtered
  // elsewhere) is released on the way.
  Result<nlohmann::json> FindPendingPod();

  // Releases this node's lock when nobody may hold it any more (nodelock::NodeLocker::
  // ReleaseIfOrphaned): the daemon calls it every refresh so a lock left behind never blocks
  // the node until it expires. Returns why it released one, "" when it did not.
  Result<std::string> ReleaseOrphanedLock();

 private:
  Result<v1beta1::AllocateResponse> AllocateFor(nlohmann::json pod,
                                                const v1beta1::AllocateRequest& request);
  void Fail(const std::string& ns, const std::string& name);
  // The realizer's Realize when dynamic MIG is on, else the static lookup.
  MigInstanceLookup MigLookup() const;

  kube::KubeClient& client_;
  AllocatorOptions options_;
  std::function<std::string()> cache_file_name_;
  nodelock::NodeLocker locker_;
  std::mutex mu_;  // one Allocate at a time
  // The node as FindPendingPod read it (GUARDED_BY(mu_)): the lock it shows is ours, so the
  // release usually needs no second read of the node.
  nlohmann::json node_seen_;
};

}  // namespace hami::deviceplugin
