#include "scheduler/binder.h"

#include <utility>

#include "device/annotations.h"
#include "kube/objects.h"
#include "kube/paths.h"
#include "scheduler/node_lock.h"

namespace hami::scheduler {

Binder::Binder(kube::KubeClient& client, UsageLedger& ledger, BindOptions options,
               std::function<int64_t()> now)
    : client_(client), ledger_(ledger), options_(options), now_(std::move(now)) {}

Status Binder::AcquireNodeLock(const std::string& node, const std::string& ns,
                               const std::string& name) {
  Status last = Status(StatusCode::kInternal, "no attempt made");
  // First look at the watch cache's copy (when there is one), then at the API server's.
  std::shared_ptr<const nlohmann::json> cached =
      options_.cached_node ? options_.cached_node(node) : nullptr;
  for (int attempt = 0; attempt < options_.lock_attempts; ++attempt) {
    const bool from_cache = cached != nullptr;
    nlohmann::json node_json;
    if (from_cache) {
      node_json = *std::exchange(cached, nullptr);
    } else {
      auto fetched = client_.Get(kube::NodePath(node));
      if (!fetched.ok()) return fetched.status().WithContext("lock node " + node);
      node_json = std::move(*fetched);
    }
    const kube::NodeView view(node_json);
    std::optional<std::string> current;
    if (auto value = view.Annotation(kNodeLockAnnotation)) current = std::string(*value);
    auto owner_exists = [&](std::string_view owner_ns, std::string_view owner_name) {
      auto owner = client_.Get(kube::PodPath(owner_ns, owner_name));
      // Only a definite 404 frees the lock; an API error keeps it (never steal on doubt).
      return owner.ok() || owner.status().code() != StatusCode::kNotFound;
    };
    const int64_t now = now_();
    const LockDecision decision =
        DecideAcquire(current, ns, name, now, options_.lock_timeout_seconds, owner_exists);
    if (decision.action == LockAction::kAlreadyHeld || decision.action == LockAction::kContended) {
      // The cache may lag a release (or our own acquisition): only the server's copy counts.
      if (from_cache) {
        --attempt;
        continue;
      }
      if (decision.action == LockAction::kAlreadyHeld) return Status::Ok();
      return FailedPrecondition("node " + node + " " + decision.reason);
    }
    const std::string value =
        EncodeNodeLock(NodeLock{now, ns, name, false}, options_.utc_offset_seconds);
    auto patched = client_.MergePatch(
        kube::NodePath(node),
        kube::AnnotationsPatch({{kNodeLockAnnotation, value}}, view.ResourceVersion()));
    if (patched.ok()) return Status::Ok();
    last = patched.status();
    if (last.code() != StatusCode::kConflict) return last.WithContext("lock node " + node);
    // Someone changed the node since we read it (or the cached copy was stale): read again.
  }
  return last.WithContext("lock node " + node + " after " + std::to_string(options_.lock_attempts) +
                          " attempts");
}

Status Binder::ReleaseNodeLock(const std::string& node, const std::string& ns,
                               const std::string& name, bool force) {
  Status last = Status::Ok();
  for (int attempt = 0; attempt < options_.lock_attempts; ++attempt) {
    auto node_json = client_.Get(kube::NodePath(node));
    if (!node_json.ok()) return node_json.status().WithContext("unlock node " + node);
    const kube::NodeView view(*node_json);
    auto value = view.Annotation(kNodeLockAnnotation);
    if (!value || !MayRelease(*value, ns, name, force)) return Status::Ok();
    auto patched = client_.MergePatch(
        kube::NodePath(node),
        kube::AnnotationsPatch({{kNodeLockAnnotation, std::nullopt}}, view.ResourceVersion()));
    if (patched.ok()) return Status::Ok();
    last = patched.status();
    if (last.code() != StatusCode::kConflict) break;
  }
  return last.WithContext("unlock node " + node);
}

void Binder::Event(const std::string& ns, const std::string& name, const std::string& uid, bool ok,
                   const std::string& message) {
  if (!options_.emit_events) return;
  kube::EventSpec spec;
  spec.involved_namespace = ns;
  spec.involved_name = name;
  spec.involved_uid = uid;
  spec.type = ok ? "Normal" : "Warning";
  spec.reason = ok ? "BindingSucceed" : "BindingFailed";
  spec.message = message;
  (void)client_.CreateEvent(spec);  // events are best effort
}

std::string Binder::CheckPod(const ExtenderBindingArgs& args, const nlohmann::json& pod) const {
  const std::string who = args.pod_namespace + "/" + args.pod_name;
  const kube::PodView view(pod);
  const std::string uid(view.Uid());
  if (!args.pod_uid.empty() && uid != args.pod_uid) {
    return "pod " + who + " has uid " + uid + ", not " + args.pod_uid + " (recreated?)";
  }
  if (!view.NodeName().empty()) {
    return "pod " + who + " is already bound to " + std::string(view.NodeName());
  }
  return "";
}

std::string Binder::Bind(const ExtenderBindingArgs& args) {
  const std::string who = args.pod_namespace + "/" + args.pod_name;
  const std::string path = kube::PodPath(args.pod_namespace, args.pod_name);
  // The pod as the watch cache has it (HAMi reads its informer too), else from the server.
  nlohmann::json pod;
  bool pod_from_cache = false;
  if (auto cached = options_.cached_pod ? options_.cached_pod(args.pod_namespace, args.pod_name)
                                        : nullptr;
      cached != nullptr && CheckPod(args, *cached).empty()) {
    pod = *cached;
    pod_from_cache = true;
  } else {
    auto fetched = client_.Get(path);
    if (!fetched.ok()) {
      if (fetched.status().code() == StatusCode::kNotFound && !args.pod_uid.empty()) {
        ledger_.RemovePod(args.pod_uid);  // the pod is gone: so is its reservation
      }
      return "get pod " + who + ": " + fetched.status().message();
    }
    pod = std::move(*fetched);
    if (std::string problem = CheckPod(args, pod); !problem.empty()) return problem;
  }
  const std::string uid(kube::PodView(pod).Uid());
  auto allocation = ledger_.GetPod(uid);
  if (!allocation) return "pod " + who + " was not filtered by this scheduler (no allocation)";
  if (allocation->node != args.node) {
    return "pod " + who + " was filtered for node " + allocation->node + ", not " + args.node;
  }

  Status locked = AcquireNodeLock(args.node, args.pod_namespace, args.pod_name);
  if (!locked.ok()) {
    Event(args.pod_namespace, args.pod_name, uid, false, locked.message());
    return locked.message();
  }
  auto fail = [&](const std::string& message) {
    (void)ReleaseNodeLock(args.node, args.pod_namespace, args.pod_name, /*force=*/false);
    (void)client_.MergePatch(
        kube::PodPath(args.pod_namespace, args.pod_name),
        kube::AnnotationsPatch({{kBindPhaseAnnotation, std::string("failed")}}));
    Event(args.pod_namespace, args.pod_name, uid, false, message);
    return message;
  };
  auto mark = [&](const nlohmann::json& seen) {
    // With the resourceVersion we checked: a pod bound or replaced since then is not marked.
    return client_.MergePatch(
        path, kube::AnnotationsPatch({{kBindPhaseAnnotation, std::string("allocating")},
                                      {kBindTimeAnnotation, std::to_string(now_())}},
                                     kube::PodView(seen).ResourceVersion()));
  };
  auto marked = mark(pod);
  if (!marked.ok() && marked.status().code() == StatusCode::kConflict && pod_from_cache) {
    // The cached copy was behind the server: check the current pod and try once more.
    auto fetched = client_.Get(path);
    if (!fetched.ok()) return fail("get pod " + who + ": " + fetched.status().message());
    if (std::string problem = CheckPod(args, *fetched); !problem.empty()) {
      (void)ReleaseNodeLock(args.node, args.pod_namespace, args.pod_name, /*force=*/false);
      return problem;
    }
    marked = mark(*fetched);
  }
  if (!marked.ok()) return fail("mark pod " + who + " allocating: " + marked.status().message());
  Status bound = client_.CreateBinding(args.pod_namespace, args.pod_name, uid, args.node);
  if (!bound.ok()) return fail("bind pod " + who + " to " + args.node + ": " + bound.message());
  Event(args.pod_namespace, args.pod_name, uid, true, "bound to " + args.node);
  return "";
}

}  // namespace hami::scheduler
