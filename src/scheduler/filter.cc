#include "scheduler/filter.h"

#include <algorithm>
#include <numeric>

#include "device/annotations.h"
#include "device/codec.h"
#include "kube/objects.h"
#include "policy/pod_request.h"
#include "scheduler/state_sync.h"

namespace hami::scheduler {

namespace {

std::string PodName(const kube::PodView& pod) {
  return std::string(pod.Namespace()) + "/" + std::string(pod.Name());
}

}  // namespace

FilterCore::FilterCore(const VendorRegistry& registry, UsageLedger& ledger,
                       std::unique_ptr<policy::PlacementPolicy> policy)
    : registry_(registry), ledger_(ledger), policy_(std::move(policy)) {}

FilterDecision FilterCore::Filter(const ExtenderArgs& args, int64_t now_unix_seconds) {
  FilterDecision decision;
  const kube::PodView pod(args.pod);
  const Annotations annotations = pod.Annotations();
  const auto init = ContainerResourcesOf(pod.InitContainers());
  const auto apps = ContainerResourcesOf(pod.Containers());

  // The vendor this pod asks for. Pods asking several vendors at once are refused rather
  // than half-scheduled.
  const Vendor* vendor = nullptr;
  policy::PodRequest request;
  for (const Vendor* candidate : registry_.Vendors()) {
    auto built = policy::BuildPodRequest(*candidate, init, apps, annotations);
    if (!built.ok()) {
      decision.result.error = "pod " + PodName(pod) + ": " + built.status().message();
      return decision;
    }
    if (!built->WantsDevices()) continue;
    if (vendor != nullptr) {
      decision.result.error = "pod " + PodName(pod) + " asks for devices of several vendors (" +
                              std::string(vendor->CommonWord()) + ", " +
                              std::string(candidate->CommonWord()) + "), which is not supported";
      return decision;
    }
    vendor = candidate;
    request = std::move(*built);
  }
  if (vendor != nullptr) {
    request.selectors.mig_without_mode = mig_unannotated_allowed_.load();
    policy_->ResolveDefaults(request);
    decision.vendor = std::string(vendor->CommonWord());
    decision.request = request.containers;
    decision.init_containers = request.init_containers;
  }
  if (vendor == nullptr) {
    // Not ours: pass every candidate through.
    decision.result.node_names = args.node_names;
    decision.result.nodes = args.nodes;
    return decision;
  }
  if (args.nodes) {
    FilterDecision simulated = Simulate(args, *vendor, request);
    simulated.vendor = std::move(decision.vendor);
    simulated.request = std::move(decision.request);
    simulated.init_containers = decision.init_containers;
    return simulated;
  }
  if (!args.node_names) {
    decision.result.error = "ExtenderArgs has neither NodeNames nor Nodes";
    return decision;
  }

  const std::string uid(pod.Uid());
  if (uid.empty()) {
    decision.result.error = "pod " + PodName(pod) + " has no uid";
    return decision;
  }
  const policy::HostRequest host = policy::PodHostRequest(init, apps, pod.Overhead());
  request.cpu_milli = host.cpu_milli;
  request.memory_mib = host.memory_mib;
  std::lock_guard<std::mutex> lock(mu_);
  if (observed_uids_.insert(uid).second) {
    // Policies that learn the workload count each pod once, not each retry of it.
    observed_order_.push_back(uid);
    if (observed_order_.size() > kObservedUidsKept) {
      observed_uids_.erase(observed_order_.front());
      observed_order_.pop_front();
    }
    policy_->Observe(request);
  }
  // A re-filter replaces the previous decision, so the pod may reuse its own devices. An
  // unbound pod runs nothing and carries no decision (only its Binding writes one): its
  // previous reservation is released even when no node fits now.
  ledger_.RemovePod(uid);
  SyncMirrorLocked();
  ResolveCandidatesLocked(*args.node_names);
  for (const std::string& name : last_unknown_) {
    decision.result.failed_nodes[name] = kNodeUnregistered;
  }
  // ResourceQuota (quota.h): checked under mu_ against the ledger's usage, which holds every
  // decision made so far, so pods racing for the last unit of a quota cannot both get it.
  // Nodes where even the pod's least possible demand is over are left out; a placement whose
  // exact demand is over marks its node and the policy places again without it.
  const QuotaGate quota = quota_ != nullptr ? QuotaGate(*quota_, ledger_, *vendor,
                                                        std::string(pod.Namespace()), request)
                                            : QuotaGate();
  std::vector<uint32_t> quota_picks;
  if (quota.active()) {
    quota_picks = quota.Allowed(mirror_, last_picks_, &decision.result.failed_nodes);
  }
  const std::vector<uint32_t>& picks = quota.active() ? quota_picks : last_picks_;
  // One pass per placement; a placement over the quota drops its node and places again.
  while (true) {
    // Prefer nodes with no allocation in flight: their node lock is free, so the bind does not
    // fail on contention, and a burst of pods that the policy would all send to one node (binpack)
    // spreads over the next best nodes instead of queueing on that node's lock until the device
    // plugin releases it. Only when none of them fits are busy nodes considered.
    std::vector<uint32_t> idle;
    if (prefer_idle_nodes_) {
      idle.reserve(picks.size());
      for (uint32_t slot : picks) {
        if (!mirror_[slot].allocation_in_flight) idle.push_back(slot);
      }
    }
    // Reasons are gathered only when no node fits: a decision answers with the chosen node
    // alone (as HAMi does), and writing a reason for each of thousands of full nodes would cost
    // more than the decision.
    policy::PlacementOutcome outcome;
    std::span<const uint32_t> considered = picks;
    if (prefer_idle_nodes_ && !idle.empty() && idle.size() < picks.size()) {
      outcome = policy_->Place(request, policy::NodeList(mirror_, idle), /*collect_reasons=*/false);
      if (outcome.placement) considered = idle;
    }
    if (!outcome.placement) {
      outcome =
          policy_->Place(request, policy::NodeList(mirror_, picks), /*collect_reasons=*/false);
    }
    if (!outcome.placement && failure_reasons_) {
      outcome = policy_->Place(request, policy::NodeList(mirror_, picks), /*collect_reasons=*/true);
    }
    const policy::NodeList nodes(mirror_, considered);
    for (const auto& [index, reason] : outcome.failed_nodes) {
      decision.result.failed_nodes[nodes[static_cast<size_t>(index)].name] = reason;
    }
    if (!outcome.placement) return decision;  // FailedNodes says why, NodeNames stays null

    const policy::NodeState& chosen = nodes[static_cast<size_t>(outcome.placement->node_index)];
    PodAllocation allocation;
    allocation.uid = uid;
    allocation.ns = std::string(pod.Namespace());
    allocation.name = std::string(pod.Name());
    allocation.node = chosen.name;
    allocation.init_containers = request.init_containers;
    allocation.in_flight = true;  // until the device plugin reports the bind-phase
    allocation.decision_written = false;
    allocation.decided_unix_seconds = now_unix_seconds;
    allocation.host_cpu_milli = host.cpu_milli;
    allocation.host_memory_mib = host.memory_mib;
    const PodDevices devices =
        policy::ToPodDevices(chosen, request, outcome.placement->container_devices);
    for (size_t c = 0; c < devices.size(); ++c) {
      // ToPodDevices gives nothing for a placement whose MIG instances do not resolve; the
      // policy checked them, so this only guards against a bug handing out a device twice.
      if (devices[c].size() != outcome.placement->container_devices[c].size()) {
        decision.result.error = "internal: the chosen MIG instances on " + chosen.name +
                                " do not resolve; refusing the placement";
        return decision;
      }
    }
    if (quota.CheckPlacement(devices)) {
      decision.result.failed_nodes[chosen.name] = QuotaGate::NodeReason(chosen);
      std::erase(quota_picks, nodes.Slot(static_cast<size_t>(outcome.placement->node_index)));
      continue;  // quota_picks (= picks) shrank by the node
    }
    allocation.by_vendor[std::string(vendor->CommonWord())] = devices;
    decision.decided = allocation;
    ledger_.AddPod(std::move(allocation));
    decision.result.node_names = std::vector<std::string>{chosen.name};
    return decision;
  }
}

void FilterCore::SyncMirrorLocked() {
  for (const std::string& name : ledger_.ChangedSince(synced_to_, &synced_to_)) {
    auto it = slot_of_.find(name);
    if (it != slot_of_.end()) {
      if (ledger_.Refresh(name, &mirror_[it->second])) continue;
      // Gone (or no devices left): free the slot.
      mirror_[it->second] = policy::NodeState{};
      free_slots_.push_back(it->second);
      slot_of_.erase(it);
      last_valid_ = false;
      continue;
    }
    policy::NodeState fresh;
    if (!ledger_.Refresh(name, &fresh)) continue;
    uint32_t slot;
    if (free_slots_.empty()) {
      slot = static_cast<uint32_t>(mirror_.size());
      mirror_.push_back(std::move(fresh));
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
      mirror_[slot] = std::move(fresh);
    }
    slot_of_.emplace(name, slot);
    last_valid_ = false;
  }
}

void FilterCore::ResolveCandidatesLocked(const std::vector<std::string>& names) {
  if (!last_valid_ || names != last_names_) {
    last_names_ = names;
    last_picks_.clear();
    last_unknown_.clear();
    for (const std::string& name : names) {
      auto it = slot_of_.find(name);
      if (it == slot_of_.end()) {
        last_unknown_.push_back(name);
      } else {
        last_picks_.push_back(it->second);
      }
    }
    last_valid_ = true;
  }
}

FilterDecision FilterCore::Simulate(const ExtenderArgs& args, const Vendor& vendor,
                                    const policy::PodRequest& request) {
  // Simulation mode (kube-scheduler without nodeCacheCapable sends whole nodes): decide from
  // the nodes' own annotations plus the ledger's pods; record nothing, patch nothing.
  FilterDecision decision;
  UsageLedger transient;
  std::vector<std::string> names;
  for (const nlohmann::json& node_json : *args.nodes) {
    const kube::NodeView node(node_json);
    const std::string name(node.Name());
    names.push_back(name);
    auto devices = vendor.DecodeNode(NodeFactsOf(node));
    if (devices.ok()) transient.SetNodeDevices(name, std::string(vendor.CommonWord()), *devices);
  }
  for (PodAllocation& pod : ledger_.Pods()) transient.AddPod(std::move(pod));
  std::vector<std::string> unknown;
  std::vector<policy::NodeState> nodes = transient.Snapshot(names, &unknown);
  // These states are built afresh for this request only: their generations repeat in the next
  // simulation, so they must not key the policy's per-node caches.
  for (policy::NodeState& node : nodes) node.generation = 0;
  for (const std::string& name : unknown) decision.result.failed_nodes[name] = kNodeUnregistered;
  std::lock_guard<std::mutex> lock(mu_);
  // ResourceQuota (quota.h), as in Filter; a placement over the quota answers no node.
  const QuotaGate quota = quota_ != nullptr
                              ? QuotaGate(*quota_, ledger_, vendor,
                                          std::string(kube::PodView(args.pod).Namespace()), request)
                              : QuotaGate();
  std::vector<uint32_t> allowed(nodes.size());
  std::iota(allowed.begin(), allowed.end(), 0u);
  if (quota.active()) allowed = quota.Allowed(nodes, allowed, &decision.result.failed_nodes);
  const policy::NodeList candidates(nodes, allowed);
  policy::PlacementOutcome outcome = policy_->Place(request, candidates, /*collect_reasons=*/true);
  for (const auto& [index, reason] : outcome.failed_nodes) {
    decision.result.failed_nodes[candidates[static_cast<size_t>(index)].name] = reason;
  }
  if (outcome.placement) {
    const policy::NodeState& node = candidates[static_cast<size_t>(outcome.placement->node_index)];
    if (quota.CheckPlacement(
            policy::ToPodDevices(node, request, outcome.placement->container_devices))) {
      decision.result.failed_nodes[node.name] = QuotaGate::NodeReason(node);
      outcome.placement.reset();
    }
  }
  if (outcome.placement) {
    const std::string& chosen = candidates[static_cast<size_t>(outcome.placement->node_index)].name;
    for (const nlohmann::json& node_json : *args.nodes) {
      if (kube::NodeView(node_json).Name() == chosen) {
        decision.result.nodes = std::vector<nlohmann::json>{node_json};
        break;
      }
    }
  }
  if (!decision.result.nodes) decision.result.nodes = std::vector<nlohmann::json>{};
  return decision;
}

void FilterCore::Forget(const std::string& pod_uid) { ledger_.RemovePod(pod_uid); }

}  // namespace hami::scheduler
