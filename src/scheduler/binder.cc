#include "scheduler/binder.h"

#include <algorithm>
#include <map>
#include <thread>
#include <utility>

#include "common/strings.h"
#include "device/annotations.h"
#include "device/time_format.h"
#include "kube/objects.h"
#include "kube/paths.h"
#include "scheduler/decision.h"
#include "scheduler/pod_group.h"

namespace hami::scheduler {

namespace {

// Whether binding `allocation` takes HAMi's node lock: unless every vendor the pod uses
// declines it (their plugins never release it).
bool NeedsNodeLock(const VendorRegistry& registry, const PodAllocation& allocation) {
  bool any_vendor = false;
  for (const auto& [key, devices] : allocation.by_vendor) {
    const bool used = std::any_of(devices.begin(), devices.end(),
                                  [](const ContainerDevices& c) { return !c.empty(); });
    if (!used) continue;
    any_vendor = true;
    const Vendor* vendor = registry.Find(key);
    if (vendor == nullptr || vendor->TakesNodeLock()) return true;
  }
  return !any_vendor;
}

}  // namespace

Binder::Binder(kube::KubeClient& client, const VendorRegistry& registry, UsageLedger& ledger,
               BindOptions options, std::function<int64_t()> now)
    : client_(client),
      registry_(registry),
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
  if (auto cached =
          options_.cached_pod ? options_.cached_pod(args.pod_namespace, args.pod_name) : nullptr;
      cached != nullptr && CheckPod(args, *cached).empty()) {
    pod = *cached;
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

  // 1. The node lock (waiting, bounded, while another pod being allocated there holds it;
  // longer for a gang member, whose fellow members are being bound at the same time).
  const std::string group = PodGroupOf(pod);
  const std::chrono::milliseconds wait =
      group.empty() ? options_.lock_wait
                    : std::max(options_.lock_wait, options_.pod_group_lock_wait);
  const bool node_lock = NeedsNodeLock(registry_, *allocation);
  Status locked = node_lock ? AcquireLock(args, wait) : Status::Ok();
  if (!locked.ok() && !group.empty()) {
    locked = Status(locked.code(), locked.message() + " (pod group " + group + ", waited " +
                                       std::to_string(wait.count()) + " ms)");
  }
  if (!locked.ok()) {
    // Nothing was written: the in-memory decision goes, kube-scheduler filters the pod again.
    ledger_.RemoveUnwrittenDecision(uid);
    Event(args.pod_namespace, args.pod_name, uid, false, locked.message());
    return locked.message();
  }
  // 1b. Vendors' own node locks (Cambricon's dsmlu lock), which HAMi takes after its own.
  std::vector<ExtraLock> extra_locks;
  if (Status extra = AcquireExtraLocks(args.node, *allocation, &extra_locks); !extra.ok()) {
    if (node_lock) {
      (void)locker_.Release(args.node, args.pod_namespace, args.pod_name, /*force=*/false);
    }
    ledger_.RemoveUnwrittenDecision(uid);
    Event(args.pod_namespace, args.pod_name, uid, false, extra.message());
    return extra.message();
  }
  AfterStep("locked");

  // 2. The Binding, carrying the decision and bind-phase "allocating": the API server sets
  // them on the pod in the same write that binds it, so a pod is never bound without them and
  // never carries a decision it is not bound to.
  Annotations annotations = DecisionAnnotations(registry_, *allocation);
  annotations[kBindPhaseAnnotation] = "allocating";
  annotations[kBindTimeAnnotation] = std::to_string(now_());
  Status bound =
      client_.CreateBinding(args.pod_namespace, args.pod_name, uid, args.node, annotations);
  if (!bound.ok()) {
    const std::string message = "bind pod " + who + " to " + args.node + ": " + bound.message();
    if (node_lock) {
      (void)locker_.Release(args.node, args.pod_namespace, args.pod_name, /*force=*/false);
    }
    ReleaseExtraLocks(args.node, extra_locks);
    // Only a decision still unwritten goes: a pod the watch shows bound (a stale cache let us
    // try again, or a Binding landed although its answer was lost) keeps its devices.
    ledger_.RemoveUnwrittenDecision(uid);
    Event(args.pod_namespace, args.pod_name, uid, false, message);
    return message;
  }
  ledger_.MarkDecisionWritten(uid);
  AfterStep("bound");
  if (options_.emit_success_events) {
    Event(args.pod_namespace, args.pod_name, uid, true, "bound to " + args.node);
  }
  return "";
}

Status Binder::AcquireLock(const ExtenderBindingArgs& args, std::chrono::milliseconds wait) {
  using Clock = std::chrono::steady_clock;
  Status locked = locker_.Acquire(args.node, args.pod_namespace, args.pod_name);
  const auto deadline = Clock::now() + wait;
  auto lock_value = [&]() -> std::string {
    auto node = options_.lock.cached_node ? options_.lock.cached_node(args.node) : nullptr;
    if (node == nullptr) return "";
    return std::string(kube::NodeView(*node).Annotation(kNodeLockAnnotation).value_or(""));
  };
  while (locked.code() == StatusCode::kFailedPrecondition && Clock::now() < deadline &&
         !client_.ShuttingDown()) {
    // Watch the node cache for the lock to change (released by the device plugin, or taken
    // over), then try again against the server; at least once a second regardless.
    const std::string seen = lock_value();
    const auto retry_at = std::min(deadline, Clock::now() + std::chrono::seconds(1));
    while (Clock::now() < retry_at && lock_value() == seen && !client_.ShuttingDown()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    locked = locker_.Acquire(args.node, args.pod_namespace, args.pod_name);
  }
  return locked;
}

Status Binder::AcquireExtraLocks(const std::string& node, const PodAllocation& allocation,
                                 std::vector<ExtraLock>* taken) {
  std::map<std::string, int64_t> wanted;  // annotation -> expiry seconds
  for (const auto& [key, devices] : allocation.by_vendor) {
    const Vendor* vendor = registry_.Find(key);
    const bool used = std::any_of(devices.begin(), devices.end(),
                                  [](const ContainerDevices& c) { return !c.empty(); });
    if (vendor == nullptr || !used || vendor->ExtraNodeLockAnnotation().empty()) continue;
    wanted.emplace(std::string(vendor->ExtraNodeLockAnnotation()),
                   vendor->ExtraNodeLockExpirySeconds());
  }
  for (const auto& [annotation, expiry_seconds] : wanted) {
    std::string where = "lock node " + node;
    where += " (" + annotation + ")";
    Status last = Status(StatusCode::kInternal, "no attempt made");
    bool locked = false;
    for (int attempt = 0; attempt < std::max(1, options_.lock.attempts) && !locked; ++attempt) {
      // Always the server's copy: a cached node may not show a lock another replica just set.
      auto fetched = client_.Get(kube::NodePath(node));
      if (!fetched.ok()) {
        last = fetched.status().WithContext(where);
        break;
      }
      const kube::NodeView view(*fetched);
      const int64_t now = now_();
      if (auto value = view.Annotation(annotation)) {
        Result<int64_t> since = ParseRfc3339(*value);
        if (!since.ok()) {
          std::string message = "node " + node;
          message += " has an unreadable " + annotation;
          message += " " + QuoteForError(*value);
          message += "; the vendor's plugin must clear it";
          last = FailedPrecondition(message);
          break;
        }
        if (now - *since <= expiry_seconds) {
          std::string message = "node " + node;
          message += " is locked by " + annotation;
          message += " since " + std::string(*value);
          message += " (held up to " + std::to_string(expiry_seconds) + "s)";
          last = FailedPrecondition(message);
          break;
        }
        // Expired: HAMi removes it and takes it again; one patch does both here.
      }
      const std::string value = FormatRfc3339(now, options_.lock.utc_offset_seconds);
      auto patched =
          client_.MergePatch(kube::NodePath(node),
                             kube::AnnotationsPatch({{annotation, value}}, view.ResourceVersion()));
      if (patched.ok()) {
        taken->push_back(ExtraLock{annotation, value});
        locked = true;
      } else {
        last = patched.status().WithContext(where);
        if (patched.status().code() != StatusCode::kConflict) break;
      }
    }
    if (!locked) {
      ReleaseExtraLocks(node, *taken);
      taken->clear();
      return last;
    }
  }
  return Status::Ok();
}

void Binder::ReleaseExtraLocks(const std::string& node, const std::vector<ExtraLock>& locks) {
  for (const ExtraLock& lock : locks) {
    for (int attempt = 0; attempt < std::max(1, options_.lock.attempts); ++attempt) {
      auto fetched = client_.Get(kube::NodePath(node));
      if (!fetched.ok()) break;
      const kube::NodeView view(*fetched);
      auto value = view.Annotation(lock.annotation);
      if (!value || *value != lock.value) break;  // released, or someone else's by now
      auto patched = client_.MergePatch(
          kube::NodePath(node),
          kube::AnnotationsPatch({{lock.annotation, std::nullopt}}, view.ResourceVersion()));
      if (patched.ok() || patched.status().code() != StatusCode::kConflict) break;
    }
  }
}

}  // namespace hami::scheduler
