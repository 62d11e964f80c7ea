// FGD as its authors' artifact implements it (Weng et al., "Beware of Fragmentation", ATC'23;
// hkust-adsl/kubernetes-scheduler-simulator), point by point, so that the baseline we compare
// hami-frag against is the published one (our earlier reading of the paper measured 5.60 %
// unallocated on openb's default trace where the paper reports 4.77 %):
//  1. Target workload = the artifact's "typical pods" (pkg/utils/frag.go, GetTypicalPods): pod
//     types keyed by CPU, GPU milli, GPU count and GPU model (memory ignored), CPU-only types
//     included, the most popular types until they cover 95 % of pods; each weighs its share.
//  2. A node's fragmentation for one type (GetNodePodFrag / NodeGpuFragAmount): a CPU-only type
//     counts all of the node's free GPU milli; a type whose GPU model the node lacks, or that
//     the node cannot host (free CPU below its CPU — the only host check — or no GPU with
//     enough free milli, or too few whole free GPUs), counts all free GPU milli; a type the
//     node can host counts the free milli of the GPUs that have less free than it asks per GPU.
//  3. Score (pkg/simulator/plugin/fgd_score.go): int64(sigmoid((before - after) / 1000) * 100),
//     an integer 0..100, so many nodes tie; the node with the highest score wins and ties go to
//     the smallest node name, which in the artifact carries a random per-seed prefix: a random
//     fixed node order per seed (Reseed).
//  4. The GPU inside the node (share pods) is chosen by the same integer score per GPU, the
//     first index on ties; whole-GPU pods take fully free GPUs in index order.
// Feasibility is still HAMi's (fit.h): FGD only ranks what HAMi's rules allow. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "policy/placement.h"

namespace hami::policy {

// One pod of the workload as FGD classifies it.
struct FgdPodShape {
  int64_t cpu_milli = 0;
  int32_t gpu_count = 0;  // 0: CPU-only
  int32_t gpu_milli = 0;  // per GPU, 1..1000
  std::string gpu_model;  // "" = any; else the allowed models joined with '|'
};

struct FgdTypicalPod {
  FgdPodShape shape;
  std::vector<std::string> models;  // gpu_model split on '|' (empty = any)
  double share = 0;                 // fraction of all pods of this type
};

// The artifact's typical pods: types sorted by popularity (ties: first seen), taken until their
// shares sum to at least 95 %.
std::vector<FgdTypicalPod> FgdTypicalPods(const std::vector<FgdPodShape>& pods);

// Fragmented GPU milli of a node with these per-GPU free milli, GPU model and free CPU.
double FgdNodeFrag(const std::vector<FgdTypicalPod>& typical, const int32_t* free_milli,
                   size_t gpu_count, const std::string& gpu_model, int64_t cpu_free_milli);

// The artifact's integer score of a fragmentation change.
int64_t FgdScore(double frag_before, double frag_after);

class FgdPolicy : public PlacementPolicy {
 public:
  FgdPolicy(std::string name, std::vector<FgdTypicalPod> typical);
  std::string_view name() const override { return name_; }
  PlacementOutcome Place(const PodRequest& pod, NodeList nodes, bool collect_reasons) override;
  // The random fixed node order of the artifact's per-seed node-name prefix.
  void Reseed(uint64_t seed) override;

 private:
  double Frag(const NodeState& node, const int32_t* free_milli, size_t count, int64_t cpu_free);
  uint64_t TieRank(const std::string& node_name) const;

  std::string name_;
  std::vector<FgdTypicalPod> typical_;
  std::vector<int64_t> cpu_steps_;  // distinct typical CPU requests, sorted
  uint64_t seed_ = 0;
  struct MemoKey {
    std::array<int16_t, 8> free{};
    int32_t model = 0;
    int32_t cpu_step = 0;
    bool operator==(const MemoKey&) const = default;
  };
  struct MemoHash {
    size_t operator()(const MemoKey& key) const;
  };
  std::unordered_map<MemoKey, double, MemoHash> memo_;
  std::vector<std::string> models_;
  // Per node slot: the best (score, devices) of recent single-container pod shapes on the
  // node's current generation. One placement changes one node, so nearly every node answers
  // the next pod from here.
  struct ShapeKey {
    ContainerDeviceRequest request;
    DeviceSelectors selectors;
    int64_t cpu_milli = 0;
    bool operator==(const ShapeKey&) const = default;
  };
  struct CachedBest {
    ShapeKey key;
    int64_t score = -1;
    int device = -1;
  };
  struct SlotCache {
    uint64_t generation = 0;
    std::vector<CachedBest> entries;
  };
  std::vector<SlotCache> slot_cache_;
  std::vector<int32_t> free_, scratch_;
};

}  // namespace hami::policy
