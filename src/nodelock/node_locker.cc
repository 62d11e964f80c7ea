#include "nodelock/node_locker.h"

#include <optional>
#include <utility>

#include "device/annotations.h"
#include "device/codec.h"
#include "kube/objects.h"
#include "kube/paths.h"
#include "nodelock/node_lock.h"

namespace hami::nodelock {

NodeLocker::NodeLocker(kube::KubeClient& client, NodeLockerOptions options,
                       std::function<int64_t()> now)
    : client_(client), options_(std::move(options)), now_(std::move(now)) {}

Status NodeLocker::Acquire(const std::string& node, const std::string& ns,
                           const std::string& name) {
  Status last = Status(StatusCode::kInternal, "no attempt made");
  // First look at the watch cache's copy (when there is one), then at the API server's.
  std::shared_ptr<const nlohmann::json> cached =
      options_.cached_node ? options_.cached_node(node) : nullptr;
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
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
    auto owner_state = [&](std::string_view owner_ns, std::string_view owner_name) {
      return OwnerOf(node, owner_ns, owner_name);
    };
    const int64_t now = now_();
    const LockDecision decision =
        DecideAcquire(current, ns, name, now, options_.timeout_seconds, owner_state);
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
  return last.WithContext("lock node " + node + " after " + std::to_string(options_.attempts) +
                          " attempts");
}

OwnerVerdict NodeLocker::OwnerOf(const std::string& node, std::string_view ns,
                                 std::string_view name) {
  if (options_.cached_pod) {
    auto cached = options_.cached_pod(std::string(ns), std::string(name));
    if (cached != nullptr) {
      OwnerVerdict verdict = ClassifyLockOwner(cached.get(), node);
      if (verdict.state == OwnerState::kAllocatingHere) return verdict;
    }
  }
  auto owner = client_.Get(kube::PodPath(ns, name));
  if (owner.ok()) return ClassifyLockOwner(&*owner, node);
  if (owner.status().code() == StatusCode::kNotFound) return ClassifyLockOwner(nullptr, node);
  return {OwnerState::kAllocatingHere, ""};  // cannot tell: keep the lock
}

Result<std::string> NodeLocker::ReleaseIfOrphaned(const std::string& node) {
  std::shared_ptr<const nlohmann::json> cached =
      options_.cached_node ? options_.cached_node(node) : nullptr;
  if (cached != nullptr) {
    auto value = kube::NodeView(*cached).Annotation(kNodeLockAnnotation);
    if (!value) return std::string();
    if (options_.cached_pod) {
      // A lock the caches show legitimate costs no API call (a sweep looks at every node).
      auto cached_owner = [&](std::string_view owner_ns, std::string_view owner_name) {
        auto owner = options_.cached_pod(std::string(owner_ns), std::string(owner_name));
        return ClassifyLockOwner(owner.get(), node);
      };
      const LockDecision seen = DecideAcquire(std::string(*value), "", "", now_(),
                                              options_.timeout_seconds, cached_owner);
      if (seen.action != LockAction::kAcquire) return std::string();
    }
  }
  Status last = Status::Ok();
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    auto fetched = client_.Get(kube::NodePath(node));
    if (!fetched.ok()) return fetched.status().WithContext("check lock of node " + node);
    const kube::NodeView view(*fetched);
    auto value = view.Annotation(kNodeLockAnnotation);
    if (!value) return std::string();
    auto owner_state = [&](std::string_view owner_ns, std::string_view owner_name) {
      return OwnerOf(node, owner_ns, owner_name);
    };
    const LockDecision decision =
        DecideAcquire(std::string(*value), "", "", now_(), options_.timeout_seconds, owner_state);
    if (decision.action != LockAction::kAcquire) return std::string();
    auto patched = client_.MergePatch(
        kube::NodePath(node),
        kube::AnnotationsPatch({{kNodeLockAnnotation, std::nullopt}}, view.ResourceVersion()));
    if (patched.ok()) return decision.reason;
    last = patched.status();
    if (last.code() != StatusCode::kConflict) break;
  }
  return last.WithContext("release orphaned lock of node " + node);
}

Status NodeLocker::Release(const std::string& node, const std::string& ns, const std::string& name,
                           bool force, const nlohmann::json* last_seen) {
  Status last = Status::Ok();
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    Result<nlohmann::json> node_json = nlohmann::json();
    if (attempt == 0 && last_seen != nullptr) {
      node_json = *last_seen;  // a stale copy costs a 409 and a fresh read
    } else {
      node_json = client_.Get(kube::NodePath(node));
    }
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

}  // namespace hami::nodelock
