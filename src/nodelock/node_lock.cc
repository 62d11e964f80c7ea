#include "nodelock/node_lock.h"

#include "device/annotations.h"
#include "kube/objects.h"

namespace hami::nodelock {

OwnerVerdict ClassifyLockOwner(const nlohmann::json* pod, std::string_view node) {
  if (pod == nullptr) return {OwnerState::kGone, "not found"};
  const kube::PodView view(*pod);
  const std::string_view phase = view.Phase();
  if (phase == "Succeeded" || phase == "Failed") {
    return {OwnerState::kNotHere, "it has finished (" + std::string(phase) + ")"};
  }
  if (!view.NodeName().empty() && view.NodeName() != node) {
    return {OwnerState::kNotHere, "it is bound to " + std::string(view.NodeName())};
  }
  const auto decided = view.Annotation(kVgpuNodeAnnotation);
  if (decided && !decided->empty() && *decided != node) {
    return {OwnerState::kNotHere, "it was scheduled to " + std::string(*decided)};
  }
  const auto bind_phase = view.Annotation(kBindPhaseAnnotation);
  if (view.NodeName().empty()) {
    if (bind_phase && *bind_phase == "failed") {
      return {OwnerState::kNotHere, "its bind failed"};
    }
    return {OwnerState::kNotYetBound, "was not bound"};
  }
  if (!decided || decided->empty()) {
    return {OwnerState::kNotHere, "it carries no scheduling decision"};
  }
  if (bind_phase && *bind_phase != "allocating") {
    return {OwnerState::kNotHere, "its bind-phase is " + std::string(*bind_phase)};
  }
  return {OwnerState::kAllocatingHere, ""};
}

bool MayRelease(std::string_view current, std::string_view ns, std::string_view name, bool force) {
  if (force) return true;
  if (NodeLockValueOwnedBy(current, ns, name)) return true;
  auto lock = ParseNodeLock(current);
  return !lock.ok() || lock->legacy;
}

}  // namespace hami::nodelock
