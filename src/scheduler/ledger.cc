#include "scheduler/ledger.h"

#include <algorithm>

#include "device/codec.h"
#include "device/pair_scores.h"

namespace hami::scheduler {

Result<std::optional<PodAllocation>> AllocationFromAnnotations(
    const VendorRegistry& registry, const std::string& uid, const std::string& ns,
    const std::string& name, const std::string& node, int init_containers,
    const Annotations& annotations) {
  PodAllocation allocation{uid, ns, name, node, init_containers, {}};
  for (const Vendor* vendor : registry.Vendors()) {
    auto decoded = vendor->DecodeAllocation(annotations);
    if (!decoded.ok()) return decoded.status().WithContext("pod " + ns + "/" + name);
    if (*decoded) allocation.by_vendor[std::string(vendor->CommonWord())] = std::move(**decoded);
  }
  if (allocation.by_vendor.empty()) return std::optional<PodAllocation>();
  return std::optional<PodAllocation>(std::move(allocation));
}

void UsageLedger::SetNodeDevices(const std::string& node, const std::string& vendor,
                                 std::vector<DeviceInfo> devices) {
  std::lock_guard<std::mutex> lock(mu_);
  NodeEntry& entry = nodes_[node];
  auto current = entry.record.devices_by_vendor.find(vendor);
  if (devices.empty()) {
    if (current == entry.record.devices_by_vendor.end() && entry.generation != 0) return;
    entry.record.devices_by_vendor.erase(vendor);
  } else {
    // Every node event (a lock taken or released, a handshake) re-applies the registration:
    // an unchanged one must not invalidate what was built from it.
    if (current != entry.record.devices_by_vendor.end() && current->second == devices) return;
    entry.record.devices_by_vendor[vendor] = std::move(devices);
  }
  TouchLocked(node, entry);
}

void UsageLedger::SetNodeLocked(const std::string& node, bool locked) {
  std::lock_guard<std::mutex> lock(mu_);
  NodeEntry& entry = nodes_[node];
  if (entry.record.locked == locked && entry.generation != 0) return;
  entry.record.locked = locked;
  TouchLocked(node, entry);
}

std::set<std::string> UsageLedger::LockedNodes() const {
  std::set<std::string> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, entry] : nodes_) {
    if (entry.record.locked) out.insert(name);
  }
  return out;
}

void UsageLedger::SetCordoned(const std::string& node, std::set<std::string> uuids) {
  std::lock_guard<std::mutex> lock(mu_);
  NodeEntry& entry = nodes_[node];
  if (entry.record.cordoned_uuids == uuids && entry.generation != 0) return;
  entry.record.cordoned_uuids = std::move(uuids);
  TouchLocked(node, entry);
}

Status UsageLedger::SetPairScores(const std::string& node, const std::string& annotation) {
  std::lock_guard<std::mutex> lock(mu_);
  NodeEntry& entry = nodes_[node];
  if (entry.record.pair_scores_text == annotation && entry.generation != 0) return Status::Ok();
  entry.record.pair_scores_text = annotation;
  Status status;
  std::vector<DevicePairScore> scores;
  if (!annotation.empty()) {
    auto decoded = DecodePairScoresJson(annotation);
    if (decoded.ok()) {
      scores = std::move(*decoded);
    } else {
      status = decoded.status();
    }
  }
  if (scores != entry.record.pair_scores || entry.generation == 0) {
    entry.record.pair_scores = std::move(scores);
    TouchLocked(node, entry);
  }
  return status;
}

void UsageLedger::SetNodeHostCapacity(const std::string& node, int64_t cpu_milli,
                                      int64_t memory_mib) {
  std::lock_guard<std::mutex> lock(mu_);
  NodeEntry& entry = nodes_[node];
  if (entry.record.host_cpu_milli == cpu_milli && entry.record.host_memory_mib == memory_mib &&
      entry.generation != 0) {
    return;
  }
  entry.record.host_cpu_milli = cpu_milli;
  entry.record.host_memory_mib = memory_mib;
  TouchLocked(node, entry);
}

void UsageLedger::SetHostOnlyPod(const std::string& uid, const std::string& node, int64_t cpu_milli,
                                 int64_t memory_mib) {
  std::lock_guard<std::mutex> lock(mu_);
  HostOnlyPod pod{node, cpu_milli, memory_mib};
  auto old = host_only_.find(uid);
  if (old != host_only_.end()) {
    if (old->second == pod) return;
    auto entry = nodes_.find(old->second.node);
    if (entry != nodes_.end()) {
      entry->second.host_only_uids.erase(uid);
      TouchLocked(entry->first, entry->second);
    }
  }
  NodeEntry& entry = nodes_[node];
  entry.host_only_uids.insert(uid);
  TouchLocked(node, entry);
  host_only_[uid] = std::move(pod);
}

void UsageLedger::RemoveHostOnlyPod(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto old = host_only_.find(uid);
  if (old == host_only_.end()) return;
  auto entry = nodes_.find(old->second.node);
  if (entry != nodes_.end()) {
    entry->second.host_only_uids.erase(uid);
    TouchLocked(entry->first, entry->second);
  }
  host_only_.erase(old);
}

bool UsageLedger::HasHostOnlyPod(const std::string& uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  return host_only_.count(uid) > 0;
}

void UsageLedger::RemoveNode(const std::string& node) {
  std::lock_guard<std::mutex> lock(mu_);
  // Pods stay tracked: if the node comes back, their usage must still count.
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  std::set<std::string> pods = std::move(it->second.pod_uids);
  std::set<std::string> host_only = std::move(it->second.host_only_uids);
  changes_.erase(it->second.generation);
  nodes_.erase(it);
  if (!pods.empty() || !host_only.empty()) {
    NodeEntry& placeholder = nodes_[node];
    placeholder.pod_uids = std::move(pods);
    placeholder.host_only_uids = std::move(host_only);
    TouchLocked(node, placeholder);
  } else {
    // Readers of ChangedSince must still learn that the node went away.
    const uint64_t generation = next_generation_++;
    changes_[generation] = node;
    removed_[node] = generation;
  }
}

bool UsageLedger::HasNode(const std::string& node) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node);
  return it != nodes_.end() && !it->second.record.devices_by_vendor.empty();
}

std::vector<std::string> UsageLedger::NodeNames() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, entry] : nodes_) {
    if (!entry.record.devices_by_vendor.empty()) out.push_back(name);
  }
  return out;
}

void UsageLedger::AddPod(PodAllocation allocation) {
  std::lock_guard<std::mutex> lock(mu_);
  AddPodLocked(std::move(allocation));
}

bool UsageLedger::ApplyObservedPod(PodAllocation allocation) {
  std::lock_guard<std::mutex> lock(mu_);
  auto old = pods_.find(allocation.uid);
  if (old != pods_.end()) {
    const PodAllocation& known = old->second;
    if (!known.decision_written &&
        (known.node != allocation.node || known.by_vendor != allocation.by_vendor)) {
      return false;
    }
    if (allocation.decided_unix_seconds == 0) {
      allocation.decided_unix_seconds = known.decided_unix_seconds;
    }
  }
  AddPodLocked(std::move(allocation));
  return true;
}

void UsageLedger::MarkDecisionWritten(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(uid);
  if (it != pods_.end()) it->second.decision_written = true;  // usage unchanged: no touch
}

bool UsageLedger::RemoveUnwrittenDecision(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(uid);
  if (it == pods_.end() || it->second.decision_written) return false;
  ErasePodLocked(it);
  return true;
}

std::vector<PodAllocation> UsageLedger::DropUnwrittenDecisions(
    int64_t decided_before_unix_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PodAllocation> dropped;
  for (auto it = pods_.begin(); it != pods_.end();) {
    const PodAllocation& p = it->second;
    if (p.decision_written || p.decided_unix_seconds >= decided_before_unix_seconds) {
      ++it;
      continue;
    }
    dropped.push_back(it->second);
    it = ErasePodLocked(it);
  }
  return dropped;
}

void UsageLedger::AddPodLocked(PodAllocation allocation) {
  // A pod counts once: its allocation carries its host request from now on.
  if (auto host_only = host_only_.find(allocation.uid); host_only != host_only_.end()) {
    auto entry = nodes_.find(host_only->second.node);
    if (entry != nodes_.end()) {
      entry->second.host_only_uids.erase(allocation.uid);
      TouchLocked(entry->first, entry->second);
    }
    host_only_.erase(host_only);
  }
  auto old = pods_.find(allocation.uid);
  if (old != pods_.end() && old->second == allocation) return;
  if (old != pods_.end()) {
    auto node = nodes_.find(old->second.node);
    if (node != nodes_.end()) {
      node->second.pod_uids.erase(old->first);
      TouchLocked(node->first, node->second);
    }
  }
  NodeEntry& entry = nodes_[allocation.node];
  entry.pod_uids.insert(allocation.uid);
  TouchLocked(allocation.node, entry);
  const std::string uid = allocation.uid;
  pods_[uid] = std::move(allocation);
}

std::map<std::string, PodAllocation>::iterator UsageLedger::ErasePodLocked(
    std::map<std::string, PodAllocation>::iterator it) {
  auto node = nodes_.find(it->second.node);
  if (node != nodes_.end()) {
    node->second.pod_uids.erase(it->first);
    TouchLocked(node->first, node->second);
  }
  return pods_.erase(it);
}

bool UsageLedger::RemovePod(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(uid);
  if (it == pods_.end()) return false;
  ErasePodLocked(it);
  return true;
}

std::optional<PodAllocation> UsageLedger::GetPod(const std::string& uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(uid);
  if (it == pods_.end()) return std::nullopt;
  return it->second;
}

size_t UsageLedger::PodCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pods_.size();
}

std::vector<PodAllocation> UsageLedger::Pods() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PodAllocation> out;
  out.reserve(pods_.size());
  for (const auto& [uid, pod] : pods_) out.push_back(pod);
  return out;
}

std::vector<PodAllocation> UsageLedger::PodsInNamespace(const std::string& ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PodAllocation> out;
  for (const auto& [uid, pod] : pods_) {
    if (pod.ns == ns) out.push_back(pod);
  }
  return out;
}

void UsageLedger::TouchLocked(const std::string& name, NodeEntry& entry) {
  changes_.erase(entry.generation);
  entry.generation = next_generation_++;
  changes_[entry.generation] = name;
  auto removed = removed_.find(name);
  if (removed != removed_.end()) {
    changes_.erase(removed->second);
    removed_.erase(removed);
  }
}

std::vector<std::string> UsageLedger::ChangedSince(uint64_t since, uint64_t* now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (auto it = changes_.upper_bound(since); it != changes_.end(); ++it) {
    out.push_back(it->second);
  }
  *now = next_generation_ - 1;
  return out;
}

policy::NodeState UsageLedger::BuildLocked(const std::string& name, const NodeEntry& entry) const {
  policy::NodeState state;
  state.name = name;
  state.generation = entry.generation;
  std::map<std::string, size_t> index_by_uuid;
  for (const auto& [vendor, devices] : entry.record.devices_by_vendor) {
    for (const DeviceInfo& info : devices) {
      index_by_uuid[info.id] = state.devices.size();
      DeviceUsage usage;
      usage.info = info;
      usage.vendor = vendor;
      usage.cordoned = entry.record.cordoned_uuids.count(info.id) > 0;
      state.devices.push_back(std::move(usage));
    }
  }
  if (!entry.record.pair_scores.empty()) {
    std::vector<std::string> ids;
    ids.reserve(state.devices.size());
    for (const DeviceUsage& d : state.devices) ids.push_back(d.info.id);
    state.link_scores = policy::LinkScores::FromAnnotation(ids, entry.record.pair_scores);
  }
  // A held node lock means a bind there would wait for it (ranked after idle nodes).
  state.allocation_in_flight = entry.record.locked;
  int64_t host_cpu_used = 0, host_memory_used = 0;
  for (const std::string& uid : entry.host_only_uids) {
    auto pod = host_only_.find(uid);
    if (pod == host_only_.end()) continue;
    host_cpu_used += pod->second.cpu_milli;
    host_memory_used += pod->second.memory_mib;
  }
  for (const std::string& uid : entry.pod_uids) {
    auto pod = pods_.find(uid);
    if (pod == pods_.end()) continue;
    host_cpu_used += pod->second.host_cpu_milli;
    host_memory_used += pod->second.host_memory_mib;
    state.allocation_in_flight = state.allocation_in_flight || pod->second.in_flight;
    policy::PodDemandAccumulator demand(state.devices.size());
    for (const auto& [vendor, containers] : pod->second.by_vendor) {
      for (size_t c = 0; c < containers.size(); ++c) {
        const bool is_init = static_cast<int>(c) < pod->second.init_containers;
        for (const ContainerDevice& device : containers[c]) {
          auto found = index_by_uuid.find(device.uuid);
          if (found == index_by_uuid.end()) continue;
          demand.Add(found->second, is_init, device.used_mem_mib, device.used_cores);
          DeviceUsage& usage = state.devices[found->second];
          // As HAMi: a MIG instance on a GPU that is not in MIG mode, or a use of a MIG GPU
          // without a known instance, means the two disagree about the hardware: the GPU takes
          // no new pods until they agree again.
          if (usage.info.mode == kModeMig && !device.mig_profile.empty()) {
            usage.mig_in_use.push_back(device.mig_placement);
          } else if (usage.info.mode == kModeMig || !device.mig_profile.empty()) {
            usage.info.health = false;
          }
        }
      }
    }
    demand.ApplyTo(state.devices, +1);
  }
  // Over-subscribed (our view of the pods lags kube-scheduler's) shows as none left.
  if (entry.record.host_cpu_milli != policy::kUnknownHostResource) {
    state.cpu_free_milli = std::max<int64_t>(0, entry.record.host_cpu_milli - host_cpu_used);
  }
  if (entry.record.host_memory_mib != policy::kUnknownHostResource) {
    state.memory_free_mib = std::max<int64_t>(0, entry.record.host_memory_mib - host_memory_used);
  }
  return state;
}

const policy::NodeState& UsageLedger::CachedLocked(const std::string& name,
                                                   const NodeEntry& entry) const {
  if (!entry.built || entry.built->generation != entry.generation) {
    entry.built = std::make_shared<const policy::NodeState>(BuildLocked(name, entry));
  }
  return *entry.built;
}

std::vector<std::shared_ptr<const policy::NodeState>> UsageLedger::SharedSnapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const policy::NodeState>> out;
  out.reserve(nodes_.size());
  for (const auto& [name, entry] : nodes_) {
    if (entry.record.devices_by_vendor.empty()) continue;
    CachedLocked(name, entry);
    out.push_back(entry.built);
  }
  return out;
}

bool UsageLedger::Refresh(const std::string& node, policy::NodeState* state) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || it->second.record.devices_by_vendor.empty()) return false;
  if (state->generation != it->second.generation || state->name != node) {
    *state = CachedLocked(node, it->second);
  }
  return true;
}

std::vector<policy::NodeState> UsageLedger::Snapshot(std::span<const std::string> node_names,
                                                     std::vector<std::string>* unknown) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<policy::NodeState> out;
  out.reserve(node_names.size());
  for (const std::string& name : node_names) {
    auto it = nodes_.find(name);
    if (it == nodes_.end() || it->second.record.devices_by_vendor.empty()) {
      if (unknown) unknown->push_back(name);
      continue;
    }
    out.push_back(CachedLocked(name, it->second));
  }
  return out;
}

int64_t UsageLedger::MaxDeviceMemoryMib() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t max = 0;
  for (const auto& [name, entry] : nodes_) {
    for (const auto& [vendor, devices] : entry.record.devices_by_vendor) {
      for (const DeviceInfo& d : devices) max = std::max<int64_t>(max, d.devmem_mib);
    }
  }
  return max;
}

Status UsageLedger::CheckCapacity() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, entry] : nodes_) {
    const policy::NodeState state = BuildLocked(name, entry);
    for (const DeviceUsage& d : state.devices) {
      for (size_t i = 0; i < d.mig_in_use.size(); ++i) {
        for (size_t k = i + 1; k < d.mig_in_use.size(); ++k) {
          if (d.mig_in_use[i].Overlaps(d.mig_in_use[k])) {
            return FailedPrecondition(
                "device " + d.info.id + " on node " + name + " over-committed: MIG placements " +
                std::to_string(d.mig_in_use[i].start) + "+" + std::to_string(d.mig_in_use[i].size) +
                " and " + std::to_string(d.mig_in_use[k].start) + "+" +
                std::to_string(d.mig_in_use[k].size) + " overlap");
          }
        }
      }
      // A MIG GPU's cores are the instances' rounded-up shares (7 x 15 % on an A100), so they
      // may sum past 100; its instances are the capacity, checked above.
      const bool cores_over = d.info.mode != kModeMig && d.used_cores > d.info.devcore;
      if (d.used > d.info.count || d.used_mem_mib > d.info.devmem_mib || cores_over) {
        return FailedPrecondition(
            "device " + d.info.id + " on node " + name + " over-committed: tasks " +
            std::to_string(d.used) + "/" + std::to_string(d.info.count) + ", memory " +
            std::to_string(d.used_mem_mib) + "/" + std::to_string(d.info.devmem_mib) +
            " MiB, cores " + std::to_string(d.used_cores) + "/" + std::to_string(d.info.devcore));
      }
    }
  }
  return Status::Ok();
}

}  // namespace hami::scheduler
