#include "scheduler/pod_group.h"

namespace hami::scheduler {

namespace {

std::string StringAt(const nlohmann::json& pod, std::initializer_list<const char*> path) {
  const nlohmann::json* at = &pod;
  for (const char* key : path) {
    if (!at->is_object()) return "";
    auto it = at->find(key);
    if (it == at->end()) return "";
    at = &*it;
  }
  return at->is_string() ? at->get<std::string>() : "";
}

}  // namespace

std::string PodGroupOf(const nlohmann::json& pod) {
  for (const char* label : {kPodGroupLabel, kLegacyPodGroupLabel}) {
    if (std::string group = StringAt(pod, {"metadata", "labels", label}); !group.empty()) {
      return group;
    }
  }
  if (std::string group = StringAt(pod, {"metadata", "annotations", kVolcanoGroupAnnotation});
      !group.empty()) {
    return group;
  }
  return StringAt(pod, {"spec", "schedulingGroup", "podGroupName"});
}

void KeepPodGroup(const nlohmann::json& original, nlohmann::json& trimmed) {
  for (const char* label : {kPodGroupLabel, kLegacyPodGroupLabel}) {
    if (std::string group = StringAt(original, {"metadata", "labels", label}); !group.empty()) {
      trimmed["metadata"]["labels"][label] = group;
    }
  }
  if (std::string group = StringAt(original, {"metadata", "annotations", kVolcanoGroupAnnotation});
      !group.empty()) {
    trimmed["metadata"]["annotations"][kVolcanoGroupAnnotation] = group;
  }
  if (std::string group = StringAt(original, {"spec", "schedulingGroup", "podGroupName"});
      !group.empty()) {
    trimmed["spec"]["schedulingGroup"]["podGroupName"] = group;
  }
}

}  // namespace hami::scheduler
