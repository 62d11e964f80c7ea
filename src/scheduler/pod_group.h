// Gang membership as HAMi v2.10 reads it: a pod belongs to a PodGroup when it carries the
// coscheduling plugin's label (scheduling.x-k8s.io/pod-group, or the older
// pod-group.scheduling.sigs.k8s.io), Volcano's annotation (scheduling.k8s.io/group-name), or
// spec.schedulingGroup.podGroupName. Members of a gang are bound together, so a member whose
// node lock is held by another member being allocated waits longer rather than failing
// (BindOptions::pod_group_lock_wait). Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hami::scheduler {

inline constexpr char kPodGroupLabel[] = "scheduling.x-k8s.io/pod-group";
inline constexpr char kLegacyPodGroupLabel[] = "pod-group.scheduling.sigs.k8s.io";
inline constexpr char kVolcanoGroupAnnotation[] = "scheduling.k8s.io/group-name";

// The pod's group name; "" when it belongs to none (or the value is not a string).
std::string PodGroupOf(const nlohmann::json& pod);

// Keeps in `trimmed` (a pod reduced for the watch cache, see TrimPodForCache) what PodGroupOf
// reads from `original`.
void KeepPodGroup(const nlohmann::json& original, nlohmann::json& trimmed);

}  // namespace hami::scheduler
