#include "policy/scheduler_policy.h"

namespace hami::policy {

FragPolicyOptions HamiFragWeights() {
  FragPolicyOptions options;
  options.packing_weight = 0.0;
  options.stranding_weight = 2.0;
  options.type_pressure_weight = 1.0;
  options.device_fit_weight = 0.0;
  return options;
}

SchedulerPolicy::SchedulerPolicy(SchedulerPolicyOptions options, std::string name)
    : options_(std::move(options)),
      name_(std::move(name)),
      hami_(name_,
            options_.node_policy == NodePolicy::kFrag ? NodePolicy::kBinpack : options_.node_policy,
            options_.gpu_policy),
      frag_(name_, {}, options_.frag),
      workload_(options_.workload) {}

void SchedulerPolicy::Observe(const PodRequest& pod) {
  if (workload_.Observe(pod)) new_shape_ = true;
}

PlacementOutcome SchedulerPolicy::Place(const PodRequest& pod, NodeList nodes,
                                        bool collect_reasons) {
  if (NodePolicyFor(pod) != NodePolicy::kFrag) return hami_.Place(pod, nodes, collect_reasons);
  const uint64_t seen = workload_.observed();
  if (seen != frag_built_at_ &&
      (new_shape_ || seen - frag_built_at_ >= options_.refresh_every_pods)) {
    frag_.SetTargets(workload_.Targets());
    frag_built_at_ = seen;
    new_shape_ = false;
  }
  return frag_.Place(pod, nodes, collect_reasons);
}

}  // namespace hami::policy
