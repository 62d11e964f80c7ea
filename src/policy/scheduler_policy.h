// The placement policy hami-scheduler runs: HAMi's binpack and spread, or hami-frag
// (fragmentation-aware, policy/frag.h) with the target workload learned online from the pods
// the scheduler sees (policy/online_workload.h), chosen per pod by its
// hami.io/node-scheduler-policy annotation, else by the scheduler's default.
//
// `hami simulate` runs this same object behind FilterCore, so a replay measures the daemon's
// decisions. Not thread-safe (FilterCore serialises decisions).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "policy/frag.h"
#include "policy/online_workload.h"
#include "policy/placement.h"
#include "policy/score.h"

namespace hami::policy {

// hami-frag's weights, chosen on the openb traces (docs/simulate.md).
FragPolicyOptions HamiFragWeights();

struct SchedulerPolicyOptions {
  NodePolicy node_policy = NodePolicy::kBinpack;  // for pods that do not choose
  GpuPolicy gpu_policy;                           // spread
  FragPolicyOptions frag = HamiFragWeights();
  OnlineWorkloadOptions workload;
  // hami-frag re-reads the learned workload after this many new pods (or at once when a pod
  // of a shape it has not seen arrives). Rebuilding clears its per-node caches, so not every
  // pod.
  uint64_t refresh_every_pods = 64;
};

class SchedulerPolicy : public PlacementPolicy {
 public:
  explicit SchedulerPolicy(SchedulerPolicyOptions options, std::string name = "hami");

  std::string_view name() const override { return name_; }
  PlacementOutcome Place(const PodRequest& pod, NodeList nodes, bool collect_reasons) override;
  void Observe(const PodRequest& pod) override;
  // Writes options.node_policy into a pod that does not choose (so a hami-frag default places
  // MIG instances compactly, as the annotation does).
  void ResolveDefaults(PodRequest& pod) const override {
    if (!pod.node_policy) pod.node_policy = options_.node_policy;
  }

  const OnlineWorkload& workload() const { return workload_; }
  // The node policy `pod` is placed by.
  NodePolicy NodePolicyFor(const PodRequest& pod) const {
    return pod.node_policy.value_or(options_.node_policy);
  }

 private:
  SchedulerPolicyOptions options_;
  std::string name_;
  HamiPolicy hami_;
  FragPolicy frag_;
  OnlineWorkload workload_;
  // Observations folded into frag_'s targets, and whether a new shape arrived since.
  uint64_t frag_built_at_ = 0;
  bool new_shape_ = false;
};

}  // namespace hami::policy
