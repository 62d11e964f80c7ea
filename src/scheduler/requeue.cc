#include "scheduler/requeue.h"

#include <string>

#include "kube/objects.h"
#include "kube/paths.h"

namespace hami::scheduler {

bool ParkedAfterSchedulerError(const nlohmann::json& pod, std::string_view scheduler_name) {
  const kube::PodView view(pod);
  if (view.SchedulerName() != scheduler_name || !view.NodeName().empty() || view.IsTerminating() ||
      view.Phase() == "Succeeded" || view.Phase() == "Failed") {
    return false;
  }
  const nlohmann::json* conditions = kube::FindPath(pod, {"status", "conditions"});
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const nlohmann::json& condition : *conditions) {
    if (!condition.is_object() || condition.value("type", "") != "PodScheduled") continue;
    return condition.value("status", "") == "False" &&
           condition.value("reason", "") == "SchedulerError";
  }
  return false;
}

int RequeueParkedPods(kube::KubeClient& client,
                      const std::vector<std::shared_ptr<const nlohmann::json>>& pods,
                      std::string_view scheduler_name, int64_t now_unix_seconds) {
  int stamped = 0;
  for (const auto& pod : pods) {
    if (pod == nullptr || !ParkedAfterSchedulerError(*pod, scheduler_name)) continue;
    const kube::PodView view(*pod);
    auto patched = client.MergePatch(
        kube::PodPath(view.Namespace(), view.Name()),
        kube::AnnotationsPatch({{kRequeueTimeAnnotation, std::to_string(now_unix_seconds)}}));
    if (patched.ok()) ++stamped;
  }
  return stamped;
}

}  // namespace hami::scheduler
