#include "scheduler/binder.h"

#include <utility>

#include "device/annotations.h"
#include "kube/objects.h"
#include "kube/paths.h"

namespace hami::scheduler {

Binder::Binder(kube::KubeClient& client, UsageLedger& ledger, BindOptions options,
               std::function<int64_t()> now)
    : client_(client),
      ledger_(ledger),
      options_(options),
      now_(now),
      locker_(client, options.lock, std::move(now)) {}

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
  if (auto cached =
          options_.cached_pod ? options_.cached_pod(args.pod_namespace, args.pod_name) : nullptr;
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

  Status locked = locker_.Acquire(args.node, args.pod_namespace, args.pod_name);
  if (!locked.ok()) {
    Event(args.pod_namespace, args.pod_name, uid, false, locked.message());
    return locked.message();
  }
  auto fail = [&](const std::string& message) {
    (void)locker_.Release(args.node, args.pod_namespace, args.pod_name, /*force=*/false);
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
      (void)locker_.Release(args.node, args.pod_namespace, args.pod_name, /*force=*/false);
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
