// Fragmentation-aware placement.
//
// The fragmentation measure follows Weng et al., "Beware of Fragmentation" (ATC'23): for a
// node and a target workload (pod classes with popularity weights), the expected GPU
// capacity that the next pod cannot use. For one class m on node n it is all free GPU
// capacity if m cannot be placed on n (host resources, device type, too few devices with
// room), and otherwise the free capacity of the devices too small for m. Capacity is in
// milli-GPUs: a device's free share is min(free cores, free memory) as a fraction of its
// totals, 0 when it has no task slot left or is unhealthy or cordoned.
//
// Our policy is built on it (the published FGD baseline, as its artifact implements it, is
// policy/fgd.h; FragPolicy with every weight at 0 is our earlier reading of the paper):
//  - "hami-frag": The same fragmentation increase plus two terms FGD lacks:
//    (1) host stranding: free GPU share that the node's remaining CPU and memory could not
//        feed at the workload's average host demand per GPU counts against the placement
//        (FGD only asks whether the *next* pod fits, so it happily leaves GPUs behind
//        without CPU), and
//    (2) type pressure: capacity of device types that type-constrained pods depend on costs
//        more to flexible pods (FGD weighs classes by popularity, not by how scarce their
//        allowed capacity is).
//    See docs/simulate.md for the measurements behind the weights.
// Both only rank placements that fit.h allows. A pod that sets hami.io/node-scheduler-policy
// is placed by HAMi's policy as it asks; one with a GPU policy, NUMA binding or several device
// containers gets HAMi's device choice per node, ranked by fragmentation. Not thread-safe
// (per-node caches).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "policy/placement.h"

namespace hami::policy {

// One class of the target workload.
struct TargetPod {
  ContainerDeviceRequest request;          // count 0 = CPU-only (no GPU fragmentation)
  std::vector<std::string> allowed_types;  // device type must contain one; empty = any
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  double weight = 1;  // popularity; normalised by FragModel
};

// Per-device free state in the fragmentation model.
struct GpuFreeState {
  int32_t free_milli = 0;  // 0..1000
  bool untouched = true;   // no task on it (whole-device requests need this)
};

// Expected fragmentation of nodes for a target workload. Caches per-node values by
// (node index, generation), where the index is the node's slot (NodeList::Slot): callers must
// give every node state a generation no other node state has and change it on every change.
class FragModel {
 public:
  explicit FragModel(const std::vector<TargetPod>& targets);

  // Fragmented milli-GPUs of the node in its current state.
  double NodeFrag(int node_index, const NodeState& node);

  // Fragmented milli-GPUs of `node` if its devices had the given free states and host
  // resources instead of the current ones (devices in node order).
  double EvaluateWith(int node_index, const NodeState& node, const GpuFreeState* gpus,
                      int64_t cpu_free_milli, int64_t memory_free_mib);

  // The free state of a device under the model's rules.
  static GpuFreeState FreeState(const DeviceUsage& device);
  // Free state after adding `demand` to the device.
  static GpuFreeState FreeStateAfter(const DeviceUsage& device, const ResolvedDemand& demand);

  // Recomputes, for every kind of node in `nodes`, how much type-constrained demand leans on
  // it: Σ over classes with a device-type constraint that this kind satisfies of
  // weight × milli-GPUs per pod / (milli-GPUs of all nodes satisfying the class), scaled by
  // the cluster's capacity. High pressure = capacity that constrained pods cannot find
  // elsewhere. Cost O(nodes + kinds × classes).
  void UpdateTypePressure(NodeList nodes);
  // The pressure of the node's kind (0 before UpdateTypePressure or for unseen kinds).
  double TypePressure(int node_index, const NodeState& node);

  // Free milli-GPUs that the node's free host CPU and memory cannot feed, at the target
  // workload's average host demand per milli-GPU (0 when host resources are unknown).
  double StrandedMilli(int64_t free_milli, int64_t cpu_free_milli, int64_t memory_free_mib) const;

 private:
  struct HostVariant {
    int64_t cpu_milli;
    int64_t memory_mib;
    double weight;
  };
  struct GpuClass {
    ContainerDeviceRequest request;
    std::vector<std::string> allowed_types;
    bool exclusive = false;
    double weight = 0;
    std::vector<HostVariant> variants;
  };
  // Per node "kind" (device types and sizes): per class, per device, the demand in milli
  // (-1 = the type is not allowed).
  struct KindInfo {
    std::vector<std::vector<int32_t>> demand_milli;  // [class][device]
    bool uniform = false;  // all devices alike: demand_milli[c][g] == uniform_demand[c]
    std::vector<int32_t> uniform_demand;  // [class]
    double type_pressure = 0;
  };
  struct NodeCache {
    uint64_t generation = 0;
    bool valid = false;
    int kind = -1;
    uint64_t kind_generation = 0;
    double frag = 0;
  };

  int KindOf(int node_index, const NodeState& node);
  void BuildHostTable();
  // Per class, the weight of its host variants that fit the given free host resources.
  const double* HostOkWeights(int64_t cpu_free_milli, int64_t memory_free_mib) const;
  double Evaluate(const KindInfo& kind, const GpuFreeState* gpus, size_t gpu_count,
                  int64_t cpu_free_milli, int64_t memory_free_mib) const;

  std::vector<GpuClass> classes_;
  double cpu_milli_per_gpu_milli_ = 0;  // host demand of the target workload per milli-GPU
  double memory_mib_per_gpu_milli_ = 0;
  std::vector<int64_t> cpu_values_;  // distinct host requests of the variants, sorted
  std::vector<int64_t> memory_values_;
  std::vector<double> host_table_;  // see BuildHostTable
  // Memo of evaluations on uniform nodes with at most kMaxGpus devices.
  struct MemoKey {
    static constexpr size_t kMaxGpus = 8;
    uint32_t kind = 0;
    uint32_t host_row = 0;                  // offset of the host-table row used
    std::array<uint16_t, kMaxGpus> gpus{};  // (free_milli << 1 | untouched), sorted descending
    bool operator==(const MemoKey&) const = default;
  };
  struct MemoKeyHash {
    size_t operator()(const MemoKey& key) const;
  };
  static constexpr size_t kMaxMemoEntries = 1 << 20;
  std::unordered_map<MemoKey, double, MemoKeyHash> memo_;
  std::vector<std::string> kind_keys_;
  std::vector<KindInfo> kinds_;
  std::vector<NodeCache> node_cache_;
};

// What makes two target pods the same class: the device request, the allowed types (sorted)
// and the host request.
using TargetKey =
    std::tuple<int32_t, int32_t, int32_t, int32_t, std::vector<std::string>, int64_t, int64_t>;
TargetKey KeyOfTarget(const TargetPod& pod);
TargetPod TargetOfKey(const TargetKey& key, double weight);

// Builds the target workload from a list of pods: identical classes are merged, CPU-only pods
// are dropped (they add the same constant to every choice).
std::vector<TargetPod> MergeTargets(const std::vector<TargetPod>& pods);

struct FragPolicyOptions {
  // Weight of the best-fit term (free milli-GPUs left on the node after placement, per
  // 1000) against the fragmentation increase; 0 = pure FGD.
  double packing_weight = 0;
  // Weight of the change in stranded milli-GPUs (free GPU share the node's host CPU and
  // memory cannot feed at the workload's average host demand).
  double stranding_weight = 0;
  // Weight of the type-pressure term: milli-GPUs the pod takes × the node kind's type
  // pressure (FragModel::TypePressure). Keeps flexible pods off scarce device types.
  double type_pressure_weight = 0;
  // Weight of the chosen devices' own leftover (free milli-GPUs left on them after
  // placement): device-level best fit.
  double device_fit_weight = 0;
};

class FragPolicy : public PlacementPolicy {
 public:
  FragPolicy(std::string name, const std::vector<TargetPod>& targets, FragPolicyOptions options);
  std::string_view name() const override { return name_; }
  PlacementOutcome Place(const PodRequest& pod, NodeList nodes, bool collect_reasons) override;
  // A pod that does not choose is placed by hami-frag (compact MIG instances).
  void ResolveDefaults(PodRequest& pod) const override {
    if (!pod.node_policy) pod.node_policy = NodePolicy::kFrag;
  }

  FragModel& model() { return model_; }
  // Replaces the target workload (the per-node fragmentation caches start over).
  void SetTargets(const std::vector<TargetPod>& targets);

 private:
  // Scores the best placement on one node into `score` and leaves its devices in
  // last_devices_; false when the pod does not fit there.
  bool BestOnNode(const PodRequest& pod, int node_index, const NodeState& node, double* score,
                  FitFailure* failure);

  // Nodes with more devices than this are scored on HAMi's own device choice.
  static constexpr size_t kMaxDevices = 64;

  std::string name_;
  FragModel model_;
  FragPolicyOptions options_;
  std::vector<GpuFreeState> scratch_;
  std::vector<std::vector<int>> last_devices_;
  // Per node index: device free states for the node's generation (they change only when the
  // node does, while every pod looks at every node).
  struct NodeStates {
    uint64_t generation = 0;
    bool valid = false;
    std::vector<GpuFreeState> states;
  };
  std::vector<NodeStates> node_states_;
  size_t pressure_node_count_ = 0;  // node count when type pressure was last computed
};

}  // namespace hami::policy
