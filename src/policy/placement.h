// Choosing a node and the exact devices for a pod.
//
// A PlacementPolicy sees a snapshot of node states and returns a decision; it never mutates
// the snapshot. Feasibility always comes from fit.h (HAMi's rules); policies only rank what
// those rules allow. Policies may keep caches keyed by NodeState::generation, so one
// instance must not be used from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "device/device.h"
#include "policy/fit.h"
#include "policy/score.h"
#include "policy/topology.h"

namespace hami::policy {

inline constexpr int64_t kUnknownHostResource = -1;

struct NodeState {
  std::string name;
  std::vector<DeviceUsage> devices;
  // Host resources left for pods. The extender leaves them unknown (kube-scheduler checks
  // them); the simulator tracks them so that policies can reason about stranded devices.
  int64_t cpu_free_milli = kUnknownHostResource;
  int64_t memory_free_mib = kUnknownHostResource;
  // Changed by every change to this node and never shared with another node's state; policies
  // cache derived values per (slot, generation). 0 means "not tracked": nothing is cached.
  uint64_t generation = 0;
  // The extender's view: a pod decided for this node is still being bound or allocated, so
  // the node lock is (or soon will be) taken. Policies ignore it; the extender prefers other
  // nodes while it is set.
  bool allocation_in_flight = false;
  // Link scores between the devices (hami.io/node-nvidia-score), read by the topology-aware GPU
  // policy only; empty when the node publishes none.
  LinkScores link_scores;
};

struct PodRequest {
  // One entry per container, init containers first; count == 0 means "no device".
  std::vector<ContainerDeviceRequest> containers;
  int init_containers = 0;
  DeviceSelectors selectors;
  // Per-pod annotation overrides (hami.io/node-scheduler-policy etc.); unset = policy default
  // (PlacementPolicy::ResolveDefaults writes the default node policy in).
  std::optional<NodePolicy> node_policy;
  std::optional<GpuPolicy> gpu_policy;
  ScoreWeights weights;
  // Host request; only checked where the node's host resources are known.
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;

  bool WantsDevices() const;
  bool operator==(const PodRequest&) const = default;
};

struct Placement {
  int node_index = -1;
  // Per container (same order as PodRequest::containers): device indexes on the node.
  std::vector<std::vector<int>> container_devices;
  double score = 0;
};

struct PlacementOutcome {
  std::optional<Placement> placement;
  // (node index, HAMi-style reason) for each node that cannot take the pod; filled only when
  // requested, since building the strings costs more than the decision itself.
  std::vector<std::pair<int, std::string>> failed_nodes;
};

// The nodes a policy chooses from: all of `all`, or only the positions listed in `picks` (the
// extender's candidates out of its mirror of every node), so that a subset costs no copy.
// Placement::node_index and failed_nodes count positions in this list.
class NodeList {
 public:
  NodeList(std::span<const NodeState> all) : all_(all) {}     // NOLINT: implicit
  NodeList(const std::vector<NodeState>& all) : all_(all) {}  // NOLINT: implicit
  NodeList(std::span<const NodeState> all, std::span<const uint32_t> picks)
      : all_(all), picks_(picks), picked_(true) {}

  size_t size() const { return picked_ ? picks_.size() : all_.size(); }
  bool empty() const { return size() == 0; }
  const NodeState& operator[](size_t i) const { return all_[Slot(i)]; }
  // Where entry i sits in the underlying storage: stable across calls while the caller keeps
  // its storage, so policies key per-node caches by it (with NodeState::generation).
  size_t Slot(size_t i) const { return picked_ ? picks_[i] : i; }

 private:
  std::span<const NodeState> all_;
  std::span<const uint32_t> picks_;
  bool picked_ = false;
};

class PlacementPolicy {
 public:
  virtual ~PlacementPolicy() = default;
  virtual std::string_view name() const = 0;
  virtual PlacementOutcome Place(const PodRequest& pod, NodeList nodes, bool collect_reasons) = 0;
  // A new replay with this seed begins: policies that break ties randomly (as FGD's artifact
  // does through per-seed node names) draw their order from it. Default: nothing.
  virtual void Reseed(uint64_t /*seed*/) {}
  // A pod the scheduler is asked to place, told once per pod before its first Place (a
  // re-filter of the same pod is not told again): policies that learn the workload online
  // count it. Default: nothing.
  virtual void Observe(const PodRequest& /*pod*/) {}
  // Writes into `pod` what this policy decides for pods that do not choose, before the pod's
  // first Place: the default node policy into an unset PodRequest::node_policy, so that
  // MigRuleFor (and with it FitPod and every later ResolveUses, CommitPlacement and
  // ToPodDevices of the same request) places MIG instances by the policy that places the pod.
  // Ranking is unchanged. A request never resolved is placed consistently, with HAMi's first
  // fit. Reads only the policy's options (set at construction): safe to call from any thread.
  // Default: nothing.
  virtual void ResolveDefaults(PodRequest& /*pod*/) const {}
};

// Whether the node's known host resources can take the pod's host request.
bool HostFits(const NodeState& node, const PodRequest& pod);
// HostFits, noting the node (position `index`) in outcome->failed_nodes when it does not fit
// and reasons are collected.
bool HostFitsOrNote(const NodeState& node, const PodRequest& pod, size_t index,
                    bool collect_reasons, PlacementOutcome* outcome);

// The rule that places a pod's MIG instances (fit.h): kCompact when the pod's node policy is
// hami-frag (its own hami.io/node-scheduler-policy annotation, or the scheduler's default that
// PlacementPolicy::ResolveDefaults wrote in), else HAMi's kFirstFit (so the reservations HAMi's
// binpack and spread write are HAMi's). A function of the request alone, so that FitPod and
// every later ResolveUses of the same request agree on the instances.
MigPlacementRule MigRuleFor(const PodRequest& pod);

// HAMi's pod fit on one node under a GPU ordering policy: init containers are each fitted
// on a fresh copy of the usage, app containers cumulatively. Returns per-container device
// indexes, or nullopt with `failure` filled.
std::optional<std::vector<std::vector<int>>> FitPod(const NodeState& node, const PodRequest& pod,
                                                    const GpuPolicy& gpu_policy,
                                                    FitFailure* failure);

// FitPod's verdict (and, on failure, its `failure`) without the device choice. Pods with one
// device-asking container and no NUMA binding skip ordering the devices (see
// ContainerFitsAnyOrder); others run FitPod.
bool PodFits(const NodeState& node, const PodRequest& pod, const GpuPolicy& gpu_policy,
             FitFailure* failure);

// Checks that `devices_per_container` is a placement HAMi's rules allow on `node` (each
// device passes CheckDevice given the usage before it, no device twice in one container).
bool PlacementAllowed(const NodeState& node, const PodRequest& pod,
                      const std::vector<std::vector<int>>& devices_per_container);

// One container's use of one device as it is charged: the request's demand or, on a device in
// "mig" mode, the profile of the instance it takes.
struct DeviceUse {
  size_t index = 0;
  ResolvedDemand demand;
  std::optional<MigPick> mig;
};

// Per container, the uses a placement makes on `node`; MIG instances are assigned in
// container order exactly as FitPod assigns them (each container of the pod holds its own).
// nullopt when a device index is out of range or a MIG device has no free instance left.
std::optional<std::vector<std::vector<DeviceUse>>> ResolveUses(
    const NodeState& node, const PodRequest& pod,
    const std::vector<std::vector<int>>& devices_per_container);

// Sums one pod's demand per device the way HAMi accounts it: init containers run one after
// another, so they take the largest of their demands (peak); app containers run together,
// so they add up; a device carries the larger of the two.
class PodDemandAccumulator {
 public:
  explicit PodDemandAccumulator(size_t device_count)
      : init_peak_(device_count), app_sum_(device_count) {}
  // Records one container's use of device `index` (ignored when out of range).
  void Add(size_t index, bool is_init, int64_t memory_mib, int32_t cores_percent);
  // Adds (sign +1) or removes (sign -1) the accumulated usage on `devices`.
  void ApplyTo(std::span<DeviceUsage> devices, int sign) const;

 private:
  struct Demand {
    int32_t tasks = 0;
    int64_t memory_mib = 0;
    int32_t cores = 0;
  };
  std::vector<Demand> init_peak_, app_sum_;
};

// Adds (sign +1) or removes (sign -1) a pod's usage on the node: per device the larger of the
// init-container peak and the app-container sum; host resources likewise. Bumps generation.
// Adding also marks the MIG instances the pod takes as in use; removal leaves mig_in_use
// alone (which instance a pod held is in its PodDevices, not recomputable afterwards).
void CommitPlacement(NodeState& node, const PodRequest& pod,
                     const std::vector<std::vector<int>>& devices_per_container, int sign = 1);

// The devices of a placement as the pod annotation records them (with the MIG instance of
// each use of a MIG device; a placement ResolveUses refuses gives no devices).
PodDevices ToPodDevices(const NodeState& node, const PodRequest& pod,
                        const std::vector<std::vector<int>>& devices_per_container);

// HAMi's own policy: node score on usage before the pod (binpack = fullest node, spread =
// emptiest), devices by the GPU policy; ties broken by node name (ascending).
class HamiPolicy : public PlacementPolicy {
 public:
  HamiPolicy(std::string name, NodePolicy node_policy, GpuPolicy gpu_policy);
  std::string_view name() const override { return name_; }
  PlacementOutcome Place(const PodRequest& pod, NodeList nodes, bool collect_reasons) override;

 private:
  // NodeScore of the node in each slot, for the generation it was computed at: it reads every
  // device of every node, and most nodes do not change between decisions.
  double CachedNodeScore(size_t slot, const NodeState& node);

  std::string name_;
  NodePolicy node_policy_;
  GpuPolicy gpu_policy_;
  struct ScoreCacheEntry {
    uint64_t generation = 0;  // 0: empty (generation 0 is never cached)
    double score = 0;
  };
  std::vector<ScoreCacheEntry> score_cache_;
  // PodFits of the node in each slot for one request: a burst of pods of one shape (the
  // replicas of a workload) is fitted again only on the nodes that changed since the last
  // decision, instead of reading every device of every node per pod. Keyed by the node's
  // generation and by the request's epoch (bumped whenever a request differs from the last).
  bool CachedPodFits(size_t slot, const NodeState& node, const PodRequest& pod,
                     const GpuPolicy& gpu_policy, std::string* reason);
  struct FitCacheEntry {
    uint64_t generation = 0;  // 0: empty
    uint64_t request_epoch = 0;
    bool fits = false;
    std::string reason;  // HAMi's failure text when it does not fit
  };
  std::vector<FitCacheEntry> fit_cache_;
  PodRequest last_request_;
  GpuPolicy last_gpu_policy_;
  uint64_t request_epoch_ = 0;  // 0: no request seen yet
};

}  // namespace hami::policy
