// Un-parking pods that kube-scheduler gave up on because the extender was unreachable.
//
// kube-scheduler v1.26 puts a pod whose extender call failed (connection refused while
// hami-scheduler restarts, a timeout) into its unschedulable queue, and only an event it
// considers relevant, or 5 minutes, brings it back; annotation-only node updates are not such
// events. A change to the pod itself is: so when this replica becomes ready to answer (first
// sync done, leader), it stamps each pod of its scheduler that kube-scheduler marked
// `PodScheduled=False, reason SchedulerError` with hami.io/requeue-time, and kube-scheduler
// retries it at once. Pods found not to fit (reason Unschedulable) are left alone.
// Thread-safe (stateless; the client is).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "kube/client.h"

namespace hami::scheduler {

inline constexpr char kRequeueTimeAnnotation[] = "hami.io/requeue-time";

// Whether kube-scheduler parked `pod` after an extender error: schedulerName is
// `scheduler_name`, not bound, not being deleted, not finished, and its PodScheduled condition
// is False with reason SchedulerError. Pure.
bool ParkedAfterSchedulerError(const nlohmann::json& pod, std::string_view scheduler_name);

// Stamps every parked pod in `pods` (ParkedAfterSchedulerError) with kRequeueTimeAnnotation =
// `now_unix_seconds`. Returns how many were stamped; a failed patch is skipped (the pod
// comes back by itself within 5 minutes).
int RequeueParkedPods(kube::KubeClient& client,
                      const std::vector<std::shared_ptr<const nlohmann::json>>& pods,
                      std::string_view scheduler_name, int64_t now_unix_seconds);

}  // namespace hami::scheduler
