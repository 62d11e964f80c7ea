#include "policy/online_workload.h"

#include <algorithm>
#include <cmath>

namespace hami::policy {

namespace {
// Counts are kept in a growing unit (each pod adds a little more than the last, which is a
// decay of everything older without touching it); they are rescaled before they overflow.
constexpr double kRescaleAbove = 1e100;
}  // namespace

OnlineWorkload::OnlineWorkload(OnlineWorkloadOptions options) : options_(options) {
  const double half_life = options_.half_life_pods > 0 ? options_.half_life_pods : 1e18;
  growth_ = std::exp2(1.0 / half_life);
  if (options_.max_shapes == 0) options_.max_shapes = 1;
}

TargetPod OnlineWorkload::ShapeOf(const PodRequest& pod) {
  TargetPod shape;
  for (const ContainerDeviceRequest& c : pod.containers) {
    if (c.count > 0) {
      shape.request = c;
      break;
    }
  }
  shape.allowed_types = pod.selectors.use_types;
  std::sort(shape.allowed_types.begin(), shape.allowed_types.end());
  shape.cpu_milli = pod.cpu_milli;
  shape.memory_mib = pod.memory_mib;
  return shape;
}

bool OnlineWorkload::Observe(const PodRequest& pod) {
  if (!pod.WantsDevices()) return false;
  TargetPod shape = ShapeOf(pod);
  auto [it, inserted] = shapes_.try_emplace(KeyOfTarget(shape), 0.0);
  it->second += increment_;
  ++observed_;
  increment_ *= growth_;
  if (increment_ > kRescaleAbove) Rescale();
  if (shapes_.size() > options_.max_shapes) Prune();
  return inserted;
}

void OnlineWorkload::Rescale() {
  for (auto& [key, weight] : shapes_) weight /= increment_;
  increment_ = 1;
}

void OnlineWorkload::Prune() {
  std::vector<double> weights;
  weights.reserve(shapes_.size());
  for (const auto& [key, weight] : shapes_) weights.push_back(weight);
  // Keep the max_shapes heaviest (ties: all of the boundary weight go, so the size bound holds).
  const size_t drop = shapes_.size() - options_.max_shapes;
  std::nth_element(weights.begin(), weights.begin() + static_cast<std::ptrdiff_t>(drop - 1),
                   weights.end());
  const double cut = weights[drop - 1];
  size_t dropped = 0;
  for (auto it = shapes_.begin(); it != shapes_.end() && dropped < drop;) {
    if (it->second <= cut) {
      it = shapes_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
}

std::vector<TargetPod> OnlineWorkload::Targets() const {
  double total = 0;
  for (const auto& [key, weight] : shapes_) total += weight;
  std::vector<TargetPod> out;
  if (total <= 0) return out;
  out.reserve(shapes_.size());
  for (const auto& [key, weight] : shapes_) {
    if (weight < options_.min_share * total) continue;
    TargetPod t = TargetOfKey(key, weight / total);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace hami::policy
