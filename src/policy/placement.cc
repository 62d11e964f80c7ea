#include "policy/placement.h"

#include <algorithm>

#include "policy/mig_place.h"

namespace hami::policy {

bool PodRequest::WantsDevices() const {
  return std::any_of(containers.begin(), containers.end(),
                     [](const ContainerDeviceRequest& c) { return c.count > 0; });
}

bool HostFits(const NodeState& node, const PodRequest& pod) {
  if (node.cpu_free_milli != kUnknownHostResource && node.cpu_free_milli < pod.cpu_milli) {
    return false;
  }
  if (node.memory_free_mib != kUnknownHostResource && node.memory_free_mib < pod.memory_mib) {
    return false;
  }
  return true;
}

bool HostFitsOrNote(const NodeState& node, const PodRequest& pod, size_t index,
                    bool collect_reasons, PlacementOutcome* outcome) {
  if (HostFits(node, pod)) return true;
  if (collect_reasons) {
    outcome->failed_nodes.emplace_back(static_cast<int>(index), "Insufficient host resources");
  }
  return false;
}

MigPlacementRule MigRuleFor(const PodRequest& pod) {
  return pod.node_policy == NodePolicy::kFrag ? MigPlacementRule::kCompact
                                              : MigPlacementRule::kFirstFit;
}

std::optional<std::vector<std::vector<int>>> FitPod(const NodeState& node, const PodRequest& pod,
                                                    const GpuPolicy& gpu_policy,
                                                    FitFailure* failure) {
  const bool mutex = gpu_policy.Has(GpuPolicyKey::kMutex);
  const MigPlacementRule mig_rule = MigRuleFor(pod);
  std::vector<std::vector<int>> result(pod.containers.size());
  // App containers are fitted cumulatively; the usage copy is made only when a second app
  // container needs to see the first one's demand (the common one-container pod copies nothing).
  std::vector<DeviceUsage> app_usage;
  bool app_usage_copied = false;
  // On a node with MIG devices every container of the pod holds its own instance (init
  // containers too: stricter than HAMi, which may hand an init and an app container the same
  // one), so init containers see the instances the pod took before them.
  const bool mig = HasMigDevice(node.devices, pod.selectors);
  std::vector<DeviceUsage> init_usage;
  if (mig) {
    init_usage = node.devices;
    app_usage = node.devices;
    app_usage_copied = true;
  }
  for (size_t c = 0; c < pod.containers.size(); ++c) {
    const ContainerDeviceRequest& request = pod.containers[c];
    if (request.count <= 0) continue;
    const bool is_init = static_cast<int>(c) < pod.init_containers;
    // Init containers run one after another, so each sees the node without the others.
    std::span<const DeviceUsage> usage =
        is_init ? (mig ? std::span<const DeviceUsage>(init_usage)
                       : std::span<const DeviceUsage>(node.devices))
                : (app_usage_copied ? std::span<const DeviceUsage>(app_usage)
                                    : std::span<const DeviceUsage>(node.devices));
    std::vector<int> order = OrderDevices(usage, gpu_policy, pod.selectors.numa_bind, pod.weights);
    if (mig && mig_rule == MigPlacementRule::kCompact) {
      OrderMigDevicesByHeadroomCost(usage, request, order);
    }
    auto chosen =
        gpu_policy.Has(GpuPolicyKey::kTopologyAware)
            ? FitContainerByLinks(usage, order, request, pod.selectors, mutex, node.link_scores,
                                  failure, mig_rule)
            : FitContainer(usage, order, request, pod.selectors, mutex, failure, mig_rule);
    if (!chosen) return std::nullopt;
    std::optional<std::vector<std::optional<MigPick>>> picks;
    if (mig) {
      picks = PickMigInstances(usage, *chosen, request, mig_rule);
      if (!picks) {  // FitContainer checked the same instances; kept as a safe refusal
        if (failure) failure->Add(FitReason::kCardMigTopologyInfeasible);
        return std::nullopt;
      }
      for (size_t k = 0; k < chosen->size(); ++k) {
        if (!(*picks)[k]) continue;
        const size_t index = static_cast<size_t>((*chosen)[k]);
        init_usage[index].mig_in_use.push_back((*picks)[k]->placement);
        app_usage[index].mig_in_use.push_back((*picks)[k]->placement);
      }
    }
    const bool more_app_containers =
        std::any_of(pod.containers.begin() + static_cast<long>(c) + 1, pod.containers.end(),
                    [](const ContainerDeviceRequest& r) { return r.count > 0; });
    if (!is_init && more_app_containers) {
      if (!app_usage_copied) {
        app_usage = node.devices;
        app_usage_copied = true;
      }
      for (size_t k = 0; k < chosen->size(); ++k) {
        DeviceUsage& device = app_usage[static_cast<size_t>((*chosen)[k])];
        ResolvedDemand demand = ResolveDemand(device, request);
        if (picks && (*picks)[k]) demand = {(*picks)[k]->memory_mib, (*picks)[k]->core};
        ApplyDemand(device, demand, +1);
      }
    }
    result[c] = std::move(*chosen);
  }
  return result;
}

std::optional<std::vector<std::vector<DeviceUse>>> ResolveUses(
    const NodeState& node, const PodRequest& pod,
    const std::vector<std::vector<int>>& devices_per_container) {
  std::vector<std::vector<DeviceUse>> out(pod.containers.size());
  // MIG instances are picked by the same function FitPod uses, over the node with the pod's
  // earlier picks marked in use (every container holds its own instance).
  const bool mig = std::any_of(node.devices.begin(), node.devices.end(),
                               [](const DeviceUsage& d) { return d.info.mode == kModeMig; });
  std::vector<DeviceUsage> with_picks;
  if (mig) with_picks = node.devices;
  for (size_t c = 0; c < pod.containers.size() && c < devices_per_container.size(); ++c) {
    const std::vector<int>& chosen = devices_per_container[c];
    for (int index : chosen) {
      if (index < 0 || static_cast<size_t>(index) >= node.devices.size()) return std::nullopt;
    }
    std::optional<std::vector<std::optional<MigPick>>> picks;
    if (mig) {
      picks = PickMigInstances(with_picks, chosen, pod.containers[c], MigRuleFor(pod));
      if (!picks) return std::nullopt;
    }
    for (size_t k = 0; k < chosen.size(); ++k) {
      const size_t index = static_cast<size_t>(chosen[k]);
      DeviceUse use{index, ResolveDemand(node.devices[index], pod.containers[c]), std::nullopt};
      if (picks && (*picks)[k]) {
        use.mig = (*picks)[k];
        use.demand = {use.mig->memory_mib, use.mig->core};
        with_picks[index].mig_in_use.push_back(use.mig->placement);
      }
      out[c].push_back(std::move(use));
    }
  }
  return out;
}

bool PodFits(const NodeState& node, const PodRequest& pod, const GpuPolicy& gpu_policy,
             FitFailure* failure) {
  const ContainerDeviceRequest* only = nullptr;
  int asking = 0;
  for (const ContainerDeviceRequest& request : pod.containers) {
    if (request.count > 0) {
      only = &request;
      ++asking;
    }
  }
  if (asking == 0) return true;
  if (asking > 1 || pod.selectors.numa_bind || HasMigDevice(node.devices, pod.selectors)) {
    return FitPod(node, pod, gpu_policy, failure).has_value();
  }
  // One container sees the node as it is (init or app alike), so no usage copy either.
  return ContainerFitsAnyOrder(node.devices, *only, pod.selectors,
                               gpu_policy.Has(GpuPolicyKey::kMutex), failure);
}

bool PlacementAllowed(const NodeState& node, const PodRequest& pod,
                      const std::vector<std::vector<int>>& devices_per_container) {
  if (devices_per_container.size() != pod.containers.size()) return false;
  std::vector<DeviceUsage> app_usage = node.devices;
  for (size_t c = 0; c < pod.containers.size(); ++c) {
    const ContainerDeviceRequest& request = pod.containers[c];
    const std::vector<int>& chosen = devices_per_container[c];
    if (static_cast<int32_t>(chosen.size()) != std::max(request.count, 0)) return false;
    const bool is_init = static_cast<int>(c) < pod.init_containers;
    for (size_t i = 0; i < chosen.size(); ++i) {
      const int index = chosen[i];
      if (index < 0 || static_cast<size_t>(index) >= node.devices.size()) return false;
      if (node.devices[static_cast<size_t>(index)].info.mode != kModeMig &&
          std::find(chosen.begin(), chosen.begin() + static_cast<long>(i), index) !=
              chosen.begin() + static_cast<long>(i)) {
        return false;
      }
      const DeviceUsage& device = is_init ? node.devices[static_cast<size_t>(index)]
                                          : app_usage[static_cast<size_t>(index)];
      if (CheckDevice(device, request, pod.selectors, /*mutex_policy=*/false)) return false;
    }
    if (request.index_sets && !chosen.empty()) {
      // One rule governs all the chosen devices, and they are exactly one of its sets.
      const IndexSetRule* rule = nullptr;
      std::vector<int32_t> indexes;
      for (int index : chosen) {
        const DeviceInfo& info = node.devices[static_cast<size_t>(index)].info;
        const IndexSetRule* governing = request.IndexSetRuleFor(info.type);
        if (governing == nullptr || (rule != nullptr && governing != rule)) return false;
        rule = governing;
        indexes.push_back(info.index);
      }
      std::sort(indexes.begin(), indexes.end());
      bool allowed = false;
      for (std::vector<int32_t> set : rule->sets) {
        std::sort(set.begin(), set.end());
        allowed = allowed || set == indexes;
      }
      if (!allowed) return false;
    }
    if (pod.selectors.numa_bind && !chosen.empty()) {
      const int32_t numa = node.devices[static_cast<size_t>(chosen[0])].info.numa;
      for (int index : chosen) {
        if (node.devices[static_cast<size_t>(index)].info.numa != numa) return false;
      }
    }
    if (!is_init) {
      for (int index : chosen) {
        DeviceUsage& device = app_usage[static_cast<size_t>(index)];
        ApplyDemand(device, ResolveDemand(device, request), +1);
      }
    }
  }
  // Every use of a MIG device needs an instance of its own.
  return ResolveUses(node, pod, devices_per_container).has_value();
}

void PodDemandAccumulator::Add(size_t index, bool is_init, int64_t memory_mib,
                               int32_t cores_percent) {
  if (index >= app_sum_.size()) return;
  if (is_init) {
    Demand& d = init_peak_[index];
    d.tasks = 1;
    d.memory_mib = std::max(d.memory_mib, memory_mib);
    d.cores = std::max(d.cores, cores_percent);
  } else {
    Demand& d = app_sum_[index];
    d.tasks += 1;
    d.memory_mib += memory_mib;
    d.cores += cores_percent;
  }
}

void PodDemandAccumulator::ApplyTo(std::span<DeviceUsage> devices, int sign) const {
  for (size_t i = 0; i < devices.size() && i < app_sum_.size(); ++i) {
    DeviceUsage& device = devices[i];
    device.used += sign * std::max(init_peak_[i].tasks, app_sum_[i].tasks);
    device.used_mem_mib += sign * std::max(init_peak_[i].memory_mib, app_sum_[i].memory_mib);
    device.used_cores += sign * std::max(init_peak_[i].cores, app_sum_[i].cores);
  }
}

void CommitPlacement(NodeState& node, const PodRequest& pod,
                     const std::vector<std::vector<int>>& devices_per_container, int sign) {
  PodDemandAccumulator demand(node.devices.size());
  auto uses = ResolveUses(node, pod, devices_per_container);
  for (size_t c = 0; uses && c < uses->size(); ++c) {
    const bool is_init = static_cast<int>(c) < pod.init_containers;
    for (const DeviceUse& use : (*uses)[c]) {
      demand.Add(use.index, is_init, use.demand.memory_mib, use.demand.cores_percent);
      if (use.mig && sign > 0) node.devices[use.index].mig_in_use.push_back(use.mig->placement);
    }
  }
  demand.ApplyTo(node.devices, sign);
  if (node.cpu_free_milli != kUnknownHostResource) node.cpu_free_milli -= sign * pod.cpu_milli;
  if (node.memory_free_mib != kUnknownHostResource) node.memory_free_mib -= sign * pod.memory_mib;
  ++node.generation;
}

PodDevices ToPodDevices(const NodeState& node, const PodRequest& pod,
                        const std::vector<std::vector<int>>& devices_per_container) {
  PodDevices out(pod.containers.size());
  auto uses = ResolveUses(node, pod, devices_per_container);
  for (size_t c = 0; uses && c < uses->size(); ++c) {
    for (const DeviceUse& use : (*uses)[c]) {
      ContainerDevice device;
      device.uuid = node.devices[use.index].info.id;
      device.type = pod.containers[c].type;
      device.used_mem_mib = static_cast<int32_t>(use.demand.memory_mib);
      device.used_cores = use.demand.cores_percent;
      if (use.mig) {
        device.mig_profile = use.mig->profile;
        device.mig_placement = use.mig->placement;
      }
      out[c].push_back(std::move(device));
    }
  }
  return out;
}

HamiPolicy::HamiPolicy(std::string name, NodePolicy node_policy, GpuPolicy gpu_policy)
    : name_(std::move(name)), node_policy_(node_policy), gpu_policy_(std::move(gpu_policy)) {}

double HamiPolicy::CachedNodeScore(size_t slot, const NodeState& node) {
  if (node.generation == 0) return NodeScore(node.devices);  // caller does not track changes
  if (slot >= score_cache_.size()) score_cache_.resize(slot + 1);
  ScoreCacheEntry& entry = score_cache_[slot];
  if (entry.generation != node.generation) {
    entry.generation = node.generation;
    entry.score = NodeScore(node.devices);
  }
  return entry.score;
}

bool HamiPolicy::CachedPodFits(size_t slot, const NodeState& node, const PodRequest& pod,
                               const GpuPolicy& gpu_policy, std::string* reason) {
  if (node.generation == 0) {  // caller does not track changes
    FitFailure failure;
    const bool fits = PodFits(node, pod, gpu_policy, reason != nullptr ? &failure : nullptr);
    if (!fits && reason != nullptr) *reason = failure.ToString();
    return fits;
  }
  if (slot >= fit_cache_.size()) fit_cache_.resize(slot + 1);
  FitCacheEntry& entry = fit_cache_[slot];
  if (entry.generation != node.generation || entry.request_epoch != request_epoch_) {
    FitFailure failure;
    entry.generation = node.generation;
    entry.request_epoch = request_epoch_;
    entry.fits = PodFits(node, pod, gpu_policy, &failure);
    entry.reason = entry.fits ? std::string() : failure.ToString();
  }
  if (!entry.fits && reason != nullptr) *reason = entry.reason;
  return entry.fits;
}

PlacementOutcome HamiPolicy::Place(const PodRequest& pod, NodeList nodes, bool collect_reasons) {
  PlacementOutcome outcome;
  // hami-frag is not HAMi's to rank (SchedulerPolicy routes it to FragPolicy): a pod asking
  // for it here gets this policy's own ranking.
  const NodePolicy node_policy =
      pod.node_policy && *pod.node_policy != NodePolicy::kFrag ? *pod.node_policy : node_policy_;
  const GpuPolicy& gpu_policy = pod.gpu_policy ? *pod.gpu_policy : gpu_policy_;
  if (request_epoch_ == 0 || !(pod == last_request_) || !(gpu_policy == last_gpu_policy_)) {
    last_request_ = pod;
    last_gpu_policy_ = gpu_policy;
    ++request_epoch_;
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    const NodeState& node = nodes[n];
    if (!HostFitsOrNote(node, pod, n, collect_reasons, &outcome)) continue;
    std::string reason;
    if (!CachedPodFits(nodes.Slot(n), node, pod, gpu_policy, collect_reasons ? &reason : nullptr)) {
      if (collect_reasons)
        outcome.failed_nodes.emplace_back(static_cast<int>(n), std::move(reason));
      continue;
    }
    const double score = CachedNodeScore(nodes.Slot(n), node);
    bool better = false;
    if (!outcome.placement) {
      better = true;
    } else {
      const double best = outcome.placement->score;
      if (score != best) {
        better = node_policy == NodePolicy::kBinpack ? score > best : score < best;
      } else {
        better = node.name < nodes[static_cast<size_t>(outcome.placement->node_index)].name;
      }
    }
    if (better) outcome.placement = Placement{static_cast<int>(n), {}, score};
  }
  // Devices are chosen (ordered by the GPU policy) on the winning node only.
  if (outcome.placement) {
    auto fit =
        FitPod(nodes[static_cast<size_t>(outcome.placement->node_index)], pod, gpu_policy, nullptr);
    // PodFits and FitPod agree (property-tested); should they not, refusing is the safe answer.
    if (!fit) return PlacementOutcome{std::nullopt, std::move(outcome.failed_nodes)};
    outcome.placement->container_devices = std::move(*fit);
  }
  return outcome;
}

}  // namespace hami::policy
