#include "scheduler/state_sync.h"

#include "common/strings.h"
#include "device/annotations.h"
#include "device/codec.h"
#include "device/quantity.h"
#include "kube/objects.h"
#include "scheduler/pod_group.h"

namespace hami::scheduler {

namespace {

// A pod being deleted (deletionTimestamp set) is not finished: its containers run, and hold
// their GPU memory, until kubelet stops them and confirms the deletion (or reports a terminal
// phase). Only then are its devices free again.
bool Finished(const kube::PodView& pod) {
  return pod.Phase() == "Succeeded" || pod.Phase() == "Failed";
}

// All init containers have exited 0: their peak no longer holds devices.
bool InitContainersDone(const kube::PodView& pod, size_t init_count) {
  if (init_count == 0) return false;
  const auto statuses = pod.InitContainerStatuses();
  if (statuses.size() < init_count) return false;
  for (const kube::ContainerStatusView& s : statuses) {
    if (s.state != "terminated" || !s.exit_code || *s.exit_code != 0) return false;
  }
  return true;
}

}  // namespace

Status ApplyPod(const VendorRegistry& registry, UsageLedger& ledger,
                const nlohmann::json& pod_json) {
  const kube::PodView pod(pod_json);
  const std::string uid(pod.Uid());
  if (uid.empty()) return InvalidArgument("pod " + pod.Key() + " has no uid");
  if (Finished(pod)) {
    ledger.RemovePod(uid);
    ledger.RemoveHostOnlyPod(uid);
    return Status::Ok();
  }
  const Annotations annotations = pod.Annotations();
  std::string node(pod.NodeName());
  if (auto it = annotations.find(kVgpuNodeAnnotation);
      it != annotations.end() && !it->second.empty()) {
    node = it->second;
  }
  const size_t init_count = pod.InitContainers().size();
  auto allocation = AllocationFromAnnotations(registry, uid, std::string(pod.Namespace()),
                                              std::string(pod.Name()), node,
                                              static_cast<int>(init_count), annotations);
  if (!allocation.ok()) return allocation.status();
  const policy::HostRequest host = HostRequestOf(pod_json);
  if (!allocation->has_value()) {
    // Not ours (or not decided yet: a decision /filter holds in memory stays as it is). Once
    // bound, its host request still takes room on the node.
    if (pod.NodeName().empty()) {
      ledger.RemoveHostOnlyPod(uid);
    } else if (!ledger.GetPod(uid)) {
      ledger.SetHostOnlyPod(uid, std::string(pod.NodeName()), host.cpu_milli, host.memory_mib);
    }
    return Status::Ok();
  }
  if (node.empty()) return InvalidArgument("pod " + pod.Key() + " has an allocation but no node");
  PodAllocation record = std::move(**allocation);
  record.host_cpu_milli = host.cpu_milli;
  record.host_memory_mib = host.memory_mib;
  auto phase_annotation = annotations.find(kBindPhaseAnnotation);
  Result<BindPhase> phase = phase_annotation == annotations.end()
                                ? Result<BindPhase>(BindPhase::kAllocating)
                                : ParseBindPhase(phase_annotation->second);
  record.in_flight = phase.ok() && *phase == BindPhase::kAllocating && pod.Phase() != "Running";
  if (InitContainersDone(pod, init_count)) {
    for (auto& [vendor, containers] : record.by_vendor) {
      for (size_t c = 0; c < init_count && c < containers.size(); ++c) containers[c].clear();
    }
  }
  // An event older than a decision /filter made in memory must not undo it.
  (void)ledger.ApplyObservedPod(std::move(record));
  return Status::Ok();
}

void ApplyPodDeleted(UsageLedger& ledger, const nlohmann::json& pod) {
  const std::string uid(kube::PodView(pod).Uid());
  if (uid.empty()) return;
  ledger.RemovePod(uid);
  ledger.RemoveHostOnlyPod(uid);
}

std::vector<policy::ContainerResources> ContainerResourcesOf(
    const std::vector<kube::ContainerView>& containers) {
  std::vector<policy::ContainerResources> out;
  out.reserve(containers.size());
  for (const kube::ContainerView& c : containers) out.push_back({c.limits, c.requests});
  return out;
}

policy::HostRequest HostRequestOf(const nlohmann::json& pod_json) {
  const kube::PodView pod(pod_json);
  return policy::PodHostRequest(ContainerResourcesOf(pod.InitContainers()),
                                ContainerResourcesOf(pod.Containers()), pod.Overhead());
}

namespace {

// Moves the listed members of `from` (an object) into a new object.
nlohmann::json Keep(nlohmann::json& from, std::initializer_list<const char*> keys) {
  nlohmann::json out = nlohmann::json::object();
  if (!from.is_object()) return out;
  for (const char* key : keys) {
    auto it = from.find(key);
    if (it != from.end()) out[key] = std::move(*it);
  }
  return out;
}

}  // namespace

void TrimPodForCache(const VendorRegistry& registry, nlohmann::json& pod) {
  if (!pod.is_object()) return;
  nlohmann::json out = Keep(pod, {"kind", "apiVersion"});
  out["metadata"] = nlohmann::json::object();
  out["spec"] = nlohmann::json::object();
  KeepPodGroup(pod, out);  // the binder's gang rule reads it
  nlohmann::json& metadata = pod["metadata"];
  nlohmann::json kept_metadata =
      Keep(metadata, {"name", "namespace", "uid", "resourceVersion", "deletionTimestamp"});
  if (metadata.is_object() && metadata.contains("annotations") &&
      metadata["annotations"].is_object()) {
    nlohmann::json annotations = nlohmann::json::object();
    for (auto& [key, value] : metadata["annotations"].items()) {
      bool wanted = key.rfind("hami.io/", 0) == 0;
      for (const Vendor* vendor : registry.Vendors()) {
        wanted = wanted || key == vendor->AnnotationKeys().allocated;
      }
      if (wanted) annotations[key] = std::move(value);
    }
    kept_metadata["annotations"] = std::move(annotations);
  }
  for (auto& [key, value] : kept_metadata.items()) {
    if (key == "annotations" && out["metadata"].contains("annotations")) {
      for (auto& [k, v] : value.items()) out["metadata"]["annotations"][k] = std::move(v);
    } else {
      out["metadata"][key] = std::move(value);
    }
  }
  nlohmann::json& spec = pod["spec"];
  nlohmann::json kept_spec = Keep(spec, {"nodeName", "schedulerName", "overhead"});
  // Per container, its name and host CPU and memory (HostRequestOf): nothing else.
  auto trim_containers = [&](const char* key) {
    if (!spec.is_object() || !spec.contains(key) || !spec[key].is_array()) return;
    nlohmann::json kept = nlohmann::json::array();
    for (nlohmann::json& c : spec[key]) {
      nlohmann::json container = Keep(c, {"name"});
      if (c.is_object() && c.contains("resources") && c["resources"].is_object()) {
        nlohmann::json resources = nlohmann::json::object();
        for (const char* kind : {"requests", "limits"}) {
          nlohmann::json& list = c["resources"][kind];
          if (!list.is_object()) continue;
          nlohmann::json host = Keep(list, {"cpu", "memory"});
          if (!host.empty()) resources[kind] = std::move(host);
        }
        if (!resources.empty()) container["resources"] = std::move(resources);
      }
      kept.push_back(std::move(container));
    }
    kept_spec[key] = std::move(kept);
  };
  trim_containers("initContainers");
  trim_containers("containers");
  for (auto& [key, value] : kept_spec.items()) out["spec"][key] = std::move(value);
  nlohmann::json& status = pod["status"];
  nlohmann::json kept_status = Keep(status, {"phase"});
  // kube-scheduler's verdict, for un-parking pods it gave up on after an extender error
  // (requeue.h).
  if (status.is_object() && status.contains("conditions") && status["conditions"].is_array()) {
    for (nlohmann::json& condition : status["conditions"]) {
      if (condition.is_object() && condition.value("type", "") == "PodScheduled") {
        kept_status["conditions"] =
            nlohmann::json::array({Keep(condition, {"type", "status", "reason"})});
        break;
      }
    }
  }
  if (status.is_object() && status.contains("initContainerStatuses") &&
      status["initContainerStatuses"].is_array()) {
    nlohmann::json statuses = nlohmann::json::array();
    for (nlohmann::json& s : status["initContainerStatuses"]) {
      statuses.push_back(Keep(s, {"name", "state"}));
    }
    kept_status["initContainerStatuses"] = std::move(statuses);
  }
  out["status"] = std::move(kept_status);
  pod = std::move(out);
}

void TrimNodeForCache(nlohmann::json& node) {
  if (!node.is_object()) return;
  if (auto m = node.find("metadata"); m != node.end() && m->is_object()) m->erase("managedFields");
  if (auto s = node.find("status"); s != node.end() && s->is_object()) {
    s->erase("images");
    s->erase("volumesAttached");
    s->erase("volumesInUse");
  }
}

NodeFacts NodeFactsOf(const kube::NodeView& node) {
  return NodeFacts{node.Annotations(), node.Capacity(), node.Allocatable(),
                   std::string(node.Name()), node.Labels()};
}

NodeActions ApplyNode(const VendorRegistry& registry, UsageLedger& ledger,
                      AllocatableTracker& tracker, const nlohmann::json& node_json,
                      int64_t now_unix_seconds, int32_t utc_offset_seconds) {
  NodeActions actions;
  const kube::NodeView node(node_json);
  const std::string name(node.Name());
  const NodeFacts facts = NodeFactsOf(node);
  const Annotations& annotations = facts.annotations;
  const kube::StringMap& allocatable = facts.allocatable;
  for (const Vendor* vendor : registry.Vendors()) {
    const std::string key(vendor->CommonWord());
    const VendorAnnotationKeys& keys = vendor->AnnotationKeys();
    auto devices = vendor->DecodeNode(facts);
    if (!devices.ok()) {
      if (devices.status().code() != StatusCode::kNotFound) {
        actions.registration_errors[key] = devices.status().message();
      }
      ledger.SetNodeDevices(name, key, {});
      continue;
    }
    int64_t count = 0;
    if (auto it = allocatable.find(vendor->ResourceNames().count); it != allocatable.end()) {
      auto parsed = ParseQuantityInt64(it->second);
      if (parsed.ok()) count = *parsed;
    }
    std::optional<std::string> handshake;
    if (auto it = annotations.find(keys.node_handshake); it != annotations.end())
      handshake = it->second;
    const HandshakeDecision decision =
        keys.node_handshake.empty()
            ? HandshakeDecision{}
            : DecideHandshake(handshake, now_unix_seconds, count, utc_offset_seconds);
    auto registration = annotations.find(keys.node_register);
    const AllocatableTracker::Observation seen = tracker.Observe(
        name + "/" + key, count, registration == annotations.end() ? "" : registration->second);
    if (decision.write_requesting) {
      actions.handshake_writes.emplace_back(
          keys.node_handshake,
          EncodeHandshake(HandshakeKind::kRequesting, now_unix_seconds, utc_offset_seconds));
    }
    if (decision.cleanup) actions.handshake_writes.emplace_back(keys.node_handshake, std::nullopt);
    const bool healthy =
        decision.healthy && (seen.healthy || !vendor->DropsDevicesWhenAllocatableFallsToZero());
    if (!healthy) {
      // Logged when something went wrong, not for a new node whose kubelet has not reported
      // its devices yet, nor again on every pass while the count stays 0.
      const std::string& why = decision.healthy ? seen.reason : decision.reason;
      if (!why.empty()) {
        actions.log.push_back("node " + name + " " + key + ": devices dropped: " + why);
      }
      ledger.SetNodeDevices(name, key, {});
      continue;
    }
    ledger.SetNodeDevices(name, key, std::move(*devices));
  }
  std::set<std::string> cordoned;
  if (auto it = annotations.find(kDeviceCordonAnnotation); it != annotations.end()) {
    for (std::string& uuid : SplitCommaList(it->second)) cordoned.insert(std::move(uuid));
  }
  ledger.SetCordoned(name, std::move(cordoned));
  {
    // The link scores of the first vendor that publishes them on this node (today only
    // NVIDIA's device plugin does).
    std::string key, text;
    for (const Vendor* vendor : registry.Vendors()) {
      const std::string_view annotation = vendor->PairScoresAnnotation();
      if (annotation.empty()) continue;
      if (auto it = annotations.find(std::string(annotation)); it != annotations.end()) {
        key = it->first;
        text = it->second;
        break;
      }
    }
    Status linked = ledger.SetPairScores(name, text);
    if (!linked.ok()) {
      actions.log.push_back("node " + name + " " + key + ": " + linked.message() +
                            " (its devices count as unlinked)");
    }
  }
  {
    // kube-scheduler fits pods against status.allocatable; a node without it is unknown.
    auto value = [&](const char* resource, double unit) -> int64_t {
      auto it = allocatable.find(resource);
      if (it == allocatable.end()) return policy::kUnknownHostResource;
      auto parsed = ParseQuantityValue(it->second);
      if (!parsed.ok() || *parsed < 0) return policy::kUnknownHostResource;
      return static_cast<int64_t>(*parsed / unit + 1e-9);
    };
    ledger.SetNodeHostCapacity(name, value("cpu", 1e-3), value("memory", 1024.0 * 1024.0));
  }
  ledger.SetNodeLocked(name, annotations.count(kNodeLockAnnotation) > 0);
  return actions;
}

void ApplyNodeDeleted(const VendorRegistry& registry, UsageLedger& ledger,
                      AllocatableTracker& tracker, const nlohmann::json& node) {
  const std::string name(kube::NodeView(node).Name());
  ledger.RemoveNode(name);
  for (const Vendor* vendor : registry.Vendors())
    tracker.Forget(name + "/" + std::string(vendor->CommonWord()));
}

}  // namespace hami::scheduler
