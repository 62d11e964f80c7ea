// The target workload of fragmentation-aware placement, learned from the pods the scheduler is
// asked to place: a histogram of pod shapes whose counts decay with every new pod, so the
// estimate follows a workload that changes over days while the shapes of one burst do not
// drown the rest.
//
// The decay is counted in pods, not seconds, so that the same arrival sequence gives the same
// estimate in the daemon and in `hami simulate` (what the simulator measures is what
// production does). Pure; not thread-safe (FilterCore serialises its decisions).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policy/frag.h"
#include "policy/placement.h"

namespace hami::policy {

struct OnlineWorkloadOptions {
  // After this many further pods, a pod's share of the histogram is halved.
  double half_life_pods = 5000;
  // The histogram keeps at most this many shapes; the lightest go first.
  size_t max_shapes = 512;
  // Shapes lighter than this fraction of the total are left out of Targets().
  double min_share = 1e-4;
};

class OnlineWorkload {
 public:
  explicit OnlineWorkload(OnlineWorkloadOptions options = {});

  // Records one pod. A pod without devices is ignored (the extender never sees those, and
  // they add the same constant to every fragmentation comparison). Returns whether the pod's
  // shape is new to the histogram.
  bool Observe(const PodRequest& pod);

  // The current estimate: one TargetPod per shape, weight = its decayed count. Empty before
  // the first observation.
  std::vector<TargetPod> Targets() const;

  // Pods observed so far (not decayed).
  uint64_t observed() const { return observed_; }
  size_t shape_count() const { return shapes_.size(); }

  // The shape of a pod as the histogram keys it: its first device-asking container, its
  // allowed device types and its host request.
  static TargetPod ShapeOf(const PodRequest& pod);

 private:
  void Rescale();
  void Prune();

  OnlineWorkloadOptions options_;
  double growth_;         // increment growth per pod: 2^(1/half_life)
  double increment_ = 1;  // what the next pod adds (older counts decay relatively)
  std::map<TargetKey, double> shapes_;
  uint64_t observed_ = 0;
};

}  // namespace hami::policy
