// The usage ledger: the single source of truth for what is allocated on which device.
//
// It holds the devices each node registered (per vendor) and the devices each tracked pod
// holds (decoded from its hami.io/*-devices-allocated annotations), and builds the node
// states that placement policies see. It is rebuilt from pod annotations on start and kept
// current by the watch cache; /filter records its decisions here (unwritten, in memory) so
// that concurrent filters never hand out the same capacity twice, and /bind's Binding writes
// them onto the pod.
//
// Thread-safe: every method takes an internal mutex; Snapshot copies out.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/device.h"
#include "device/pair_scores.h"
#include "device/vendor.h"
#include "policy/placement.h"

namespace hami::scheduler {

// The devices one pod holds, per vendor, with its container layout.
struct PodAllocation {
  std::string uid;
  std::string ns;
  std::string name;
  std::string node;
  int init_containers = 0;                      // groups [0, init_containers) are init containers
  std::map<std::string, PodDevices> by_vendor;  // vendor key -> per-container devices
  // Decided or bound, but the device plugin has not finished allocating yet (bind-phase
  // absent or "allocating" on a pod that is not running): its node lock is, or is about to
  // be, held.
  bool in_flight = false;
  // False for a /filter decision held only in memory: /bind writes it onto the pod (the
  // scheduling cycle makes no API writes). Decisions read from annotations are written.
  bool decision_written = true;
  int64_t decided_unix_seconds = 0;  // when /filter decided (hami.io/vgpu-time); 0 = unknown
  // The host CPU and memory the pod requests (policy::PodHostRequest), counted against its
  // node's allocatable while the pod is tracked.
  int64_t host_cpu_milli = 0;
  int64_t host_memory_mib = 0;

  bool operator==(const PodAllocation&) const = default;
};

// Decodes a pod's allocation from its annotations (one `<vendor allocated key>` per vendor in
// `registry`). Returns nullopt when the pod carries no allocation for any vendor.
// Failure: InvalidArgument naming the annotation when a value does not decode.
Result<std::optional<PodAllocation>> AllocationFromAnnotations(
    const VendorRegistry& registry, const std::string& uid, const std::string& ns,
    const std::string& name, const std::string& node, int init_containers,
    const Annotations& annotations);

// What a node contributes to a snapshot.
struct NodeRecord {
  std::map<std::string, std::vector<DeviceInfo>> devices_by_vendor;
  std::set<std::string> cordoned_uuids;  // hami.io/device-cordon
  bool locked = false;                   // hami.io/mutex.lock is set
  // hami.io/node-nvidia-score as last seen, and its decoded entries (empty when absent or
  // malformed): the GPU link scores of the topology-aware policy (NodeState::link_scores).
  std::string pair_scores_text;
  std::vector<DevicePairScore> pair_scores;
  // status.allocatable cpu (millicores) and memory (MiB); unknown until the node reports them.
  int64_t host_cpu_milli = policy::kUnknownHostResource;
  int64_t host_memory_mib = policy::kUnknownHostResource;
};

class UsageLedger {
 public:
  // Replaces the node's registered devices for one vendor (empty = the vendor's devices are
  // gone, e.g. after a failed handshake).
  void SetNodeDevices(const std::string& node, const std::string& vendor,
                      std::vector<DeviceInfo> devices);
  void SetCordoned(const std::string& node, std::set<std::string> uuids);
  // Whether the node's lock (hami.io/mutex.lock) is held: such a node counts as having an
  // allocation in flight (NodeState::allocation_in_flight), since a bind there would wait. The
  // setters above and this one change nothing (no new generation) when the value is the same.
  void SetNodeLocked(const std::string& node, bool locked);
  // The nodes whose lock is held now (for the Web UI).
  std::set<std::string> LockedNodes() const;
  // The node's GPU link scores from its hami.io/node-nvidia-score value ("" = none), decoded
  // only when the text changes. A value that does not decode leaves the node without link
  // scores (the topology-aware policy then ranks its GPUs as unlinked) and is returned as the
  // error, once per distinct value; Ok otherwise.
  Status SetPairScores(const std::string& node, const std::string& annotation);
  // The node's allocatable host CPU and memory (from its status). With them, node states carry
  // the host resources left (NodeState::cpu_free_milli, memory_free_mib): allocatable minus
  // the requests of every pod the ledger knows on the node, tracked or host-only.
  void SetNodeHostCapacity(const std::string& node, int64_t cpu_milli, int64_t memory_mib);
  void RemoveNode(const std::string& node);
  bool HasNode(const std::string& node) const;
  std::vector<std::string> NodeNames() const;

  // Adds or replaces a pod's allocation (keyed by uid). Replacing it with an equal one
  // changes nothing (no node is marked changed).
  void AddPod(PodAllocation allocation);
  // Adds or replaces the allocation read from the pod's annotations (a watch event), unless
  // the ledger holds an unwritten decision for the pod that differs from it: that event
  // predates the decision and is ignored. An equal one marks the decision written. Returns
  // whether the allocation was applied.
  bool ApplyObservedPod(PodAllocation allocation);
  // The pod's decision is now on its annotations (no-op when the pod is unknown).
  void MarkDecisionWritten(const std::string& uid);
  // Removes the pod only while its decision is unwritten (a bind that failed); an allocation
  // read from the pod's annotations stays. Returns whether it removed one.
  bool RemoveUnwrittenDecision(const std::string& uid);
  // Drops unwritten decisions made before `decided_before_unix_seconds` (their /bind never
  // came: kube-scheduler failed the pod elsewhere or died); returns the pods dropped.
  std::vector<PodAllocation> DropUnwrittenDecisions(int64_t decided_before_unix_seconds);
  // Removes a pod; returns whether it was tracked.
  bool RemovePod(const std::string& uid);
  std::optional<PodAllocation> GetPod(const std::string& uid) const;
  // A pod running on `node` without an allocation of ours (no devices, or another scheduler's):
  // only its host request counts, against the node's allocatable. Replaces the pod's previous
  // entry; the same values change nothing.
  void SetHostOnlyPod(const std::string& uid, const std::string& node, int64_t cpu_milli,
                      int64_t memory_mib);
  void RemoveHostOnlyPod(const std::string& uid);
  bool HasHostOnlyPod(const std::string& uid) const;
  size_t PodCount() const;
  std::vector<PodAllocation> Pods() const;
  // The pods of one namespace (decisions not yet written included), for ResourceQuota usage.
  std::vector<PodAllocation> PodsInNamespace(const std::string& ns) const;

  // Node states for `node_names` (unknown names are skipped and returned in `unknown`), with
  // every vendor's devices in vendor-key order and usage summed over the tracked pods:
  // per device, the larger of the init-container peak and the app-container sum. Devices a
  // pod references but the node no longer registers are ignored (their usage has nowhere to
  // go; the pod keeps them in the ledger until it ends). Each state's generation is unique
  // and changes whenever the node's devices or pods change.
  std::vector<policy::NodeState> Snapshot(std::span<const std::string> node_names,
                                          std::vector<std::string>* unknown) const;

  // Every node with devices, in name order, as the immutable states the ledger already built
  // (built now where stale): the lock is held for pointer copies only, so a reader that then
  // copies or walks them (the Web UI) does not hold up /filter.
  std::vector<std::shared_ptr<const policy::NodeState>> SharedSnapshot() const;

  // Brings `state` up to date with the ledger's view of `node` (copies only when the node
  // changed since `state` was filled: generations are unique). Returns false, leaving
  // `state` untouched, when the node is unknown or has no devices.
  bool Refresh(const std::string& node, policy::NodeState* state) const;

  // Names of the nodes that changed (devices, cordon, pods, removal) after `since`, where
  // `since` is a `*now` an earlier call returned (0 = every node the ledger holds or
  // removed). Lets a reader keep node states current by refreshing only what changed.
  std::vector<std::string> ChangedSince(uint64_t since, uint64_t* now) const;

  // The largest registered device memory (MiB) over all nodes; 0 when none.
  int64_t MaxDeviceMemoryMib() const;

  // Checks that no device is over-committed on any dimension; returns the first violation.
  // (An invariant: the scheduler never makes one; a registration that shrinks a device can.)
  Status CheckCapacity() const;

 private:
  struct NodeEntry {
    NodeRecord record;
    std::set<std::string> pod_uids;
    std::set<std::string> host_only_uids;
    uint64_t generation = 0;
    // The state built for `generation` (rebuilt lazily): a filter looks at every node while a
    // decision changes one, so most snapshots reuse the previous build.
    mutable std::shared_ptr<const policy::NodeState> built;
  };
  void AddPodLocked(PodAllocation allocation);
  // Removes the pod `it` points at from its node (which is marked changed) and from pods_.
  std::map<std::string, PodAllocation>::iterator ErasePodLocked(
      std::map<std::string, PodAllocation>::iterator it);
  // Gives the node a new generation and records it as changed.
  void TouchLocked(const std::string& name, NodeEntry& entry);
  policy::NodeState BuildLocked(const std::string& name, const NodeEntry& entry) const;
  const policy::NodeState& CachedLocked(const std::string& name, const NodeEntry& entry) const;

  mutable std::mutex mu_;
  std::map<std::string, NodeEntry> nodes_;     // GUARDED_BY(mu_)
  std::map<std::string, PodAllocation> pods_;  // GUARDED_BY(mu_), by uid
  struct HostOnlyPod {
    std::string node;
    int64_t cpu_milli = 0;
    int64_t memory_mib = 0;
    bool operator==(const HostOnlyPod&) const = default;
  };
  std::map<std::string, HostOnlyPod> host_only_;  // GUARDED_BY(mu_), by uid
  uint64_t next_generation_ = 1;                  // GUARDED_BY(mu_)
  // Change journal: each node's latest generation -> its name, plus removed nodes' last
  // generation (dropped when the name comes back). GUARDED_BY(mu_)
  std::map<uint64_t, std::string> changes_;
  std::map<std::string, uint64_t> removed_;
};

}  // namespace hami::scheduler
