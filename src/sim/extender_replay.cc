#include "sim/extender_replay.h"

#include <chrono>
#include <unordered_map>

#include "device/annotations.h"
#include "device/codec.h"
#include "device/nvidia.h"
#include "scheduler/filter.h"
#include "scheduler/ledger.h"
#include "sim/vendor_pods.h"

namespace hami::sim {

namespace {

// FilterCore owns its policy; the replay keeps a handle to reseed it.
class ForwardingPolicy : public policy::PlacementPolicy {
 public:
  explicit ForwardingPolicy(policy::PlacementPolicy& inner) : inner_(inner) {}
  std::string_view name() const override { return inner_.name(); }
  policy::PlacementOutcome Place(const policy::PodRequest& pod, policy::NodeList nodes,
                                 bool collect_reasons) override {
    return inner_.Place(pod, nodes, collect_reasons);
  }
  void Reseed(uint64_t seed) override { inner_.Reseed(seed); }
  void Observe(const policy::PodRequest& pod) override { inner_.Observe(pod); }
  void ResolveDefaults(policy::PodRequest& pod) const override { inner_.ResolveDefaults(pod); }

 private:
  policy::PlacementPolicy& inner_;
};

}  // namespace

nlohmann::json ToPodJson(const SimPod& pod, const std::string& uid) {
  const policy::PodRequest request = ToPodRequest(pod);
  ResourceList limits;
  const ContainerDeviceRequest& gpu = request.containers[0];
  if (gpu.count > 0) {
    limits["nvidia.com/gpu"] = std::to_string(gpu.count);
    limits["nvidia.com/gpumem-percentage"] = std::to_string(gpu.memory_percent);
    limits["nvidia.com/gpucores"] = std::to_string(gpu.cores_percent);
  }
  return PodJsonWithLimits(pod, uid, limits, /*nvidia_type_selector=*/true);
}

nlohmann::json ToNodeJson(const SimNode& node, const policy::NodeState& state) {
  std::vector<DeviceInfo> devices;
  for (const DeviceUsage& d : state.devices) devices.push_back(d.info);
  nlohmann::json allocatable = {{"cpu", std::to_string(node.cpu_milli) + "m"},
                                {"memory", std::to_string(node.memory_mib) + "Mi"}};
  int64_t slots = 0;
  for (const DeviceInfo& d : devices) slots += d.count;
  allocatable["nvidia.com/gpu"] = std::to_string(slots);
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"name", node.name},
            {"annotations", {{kNodeNvidiaRegisterAnnotation, EncodeNodeDevicesJson(devices)}}}}},
          {"status", {{"allocatable", allocatable}, {"capacity", allocatable}}}};
}

Result<ReplayResult> RunExtenderReplay(const Cluster& cluster, const Workload& workload,
                                       std::unique_ptr<policy::PlacementPolicy> placement_policy,
                                       const ReplayOptions& options,
                                       std::vector<RecordedArrival>* record) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t capacity = cluster.TotalGpuMilli();
  if (capacity <= 0) return InvalidArgument("cluster has no GPUs");
  if (workload.pods.empty()) return InvalidArgument("workload has no pods");

  // Every vendor of the chart's device config, so a mixed cluster schedules as it would there.
  HAMI_ASSIGN_OR_RETURN(const DeviceConfig config, SimDeviceConfig(options.split_count));
  HAMI_ASSIGN_OR_RETURN(const VendorRegistry registry, MakeVendorRegistry(config));
  HAMI_ASSIGN_OR_RETURN(const auto plans, PlanVendorPods(registry, cluster, workload));

  // kube-scheduler's view of the host resources (NodeResourcesFit), and the ledger's nodes as
  // the registration loop would set them from the node objects.
  std::vector<policy::NodeState> nodes = BuildNodes(cluster, options.split_count);
  scheduler::UsageLedger ledger;
  std::vector<std::string> names;
  std::unordered_map<std::string, size_t> index_of;
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::vector<DeviceInfo> devices;
    for (const DeviceUsage& d : nodes[i].devices) devices.push_back(d.info);
    if (!devices.empty()) {
      ledger.SetNodeDevices(nodes[i].name, cluster.nodes[i].vendor, std::move(devices));
    }
    ledger.SetNodeHostCapacity(nodes[i].name, cluster.nodes[i].cpu_milli,
                               cluster.nodes[i].memory_mib);
    names.push_back(nodes[i].name);
    index_of.emplace(nodes[i].name, i);
  }

  policy::PlacementPolicy& policy_ref = *placement_policy;
  policy_ref.Reseed(options.seed);
  scheduler::FilterCore core(registry, ledger, std::make_unique<ForwardingPolicy>(policy_ref));
  core.set_failure_reasons(false);  // nobody reads them here; the decisions do not change

  ReplayResult result;
  result.policy = std::string(policy_ref.name());
  result.seed = options.seed;
  const std::vector<int> order =
      ArrivalOrder(workload, capacity, options.seed, options.inflation_percent);
  result.pods_total = static_cast<int64_t>(order.size());
  result.vendors = VendorCapacities(cluster);
  if (options.record_curve) result.curve.reserve(order.size());
  if (record) record->reserve(record->size() + order.size());

  std::vector<policy::PodRequest> requests;
  requests.reserve(workload.pods.size());
  for (const SimPod& pod : workload.pods) requests.push_back(ToPodRequest(pod));
  // The v1.Pod as its vendor's resources ask it (NVIDIA: exactly ToPodJson's).
  auto pod_json_of = [&](const SimPod& pod, const std::string& uid) {
    const VendorPodPlan& plan = plans.at(pod.vendor);
    return PodJsonWithLimits(pod, uid, VendorLimits(pod, plan),
                             plan.vendor->CommonWord() == kNvidiaCommonWord);
  };

  auto fragmentation = [&] {
    std::vector<policy::NodeState> states = ledger.Snapshot(names, nullptr);
    return ClusterFragmentationPercent(states, workload, capacity);
  };
  int64_t arrived = 0, allocated = 0;
  bool seen_100 = false, seen_frag = false;
  const double cap = static_cast<double>(capacity);
  scheduler::ExtenderArgs args;
  args.node_names.emplace();
  for (size_t k = 0; k < order.size(); ++k) {
    const SimPod& pod = workload.pods[static_cast<size_t>(order[k])];
    const policy::PodRequest& request = requests[static_cast<size_t>(order[k])];
    arrived += pod.GpuMilliTotal();
    const std::string uid = "a" + std::to_string(k);
    RecordedArrival arrival;
    arrival.uid = uid;
    std::optional<size_t> chosen;
    if (request.WantsDevices()) {
      // kube-scheduler's filters before the extender: the nodes with room for the host request.
      args.node_names->clear();
      for (const policy::NodeState& node : nodes) {
        if (policy::HostFits(node, request)) args.node_names->push_back(node.name);
      }
      args.pod = pod_json_of(pod, uid);
      scheduler::FilterDecision decision = core.Filter(args, /*now_unix_seconds=*/0);
      if (!decision.result.error.empty()) {
        return Status(StatusCode::kInternal, "pod " + pod.name + ": " + decision.result.error);
      }
      arrival.via_extender = true;
      if (decision.decided) {
        scheduler::PodAllocation bound = *decision.decided;
        // Bound, and the device plugin has allocated it (what the watch reports next).
        bound.in_flight = false;
        bound.decision_written = true;
        auto granted = bound.by_vendor.find(pod.vendor);
        if (granted == bound.by_vendor.end()) {
          return Status(StatusCode::kInternal,
                        "pod " + pod.name + " was given no device of its vendor " + pod.vendor);
        }
        arrival.devices = EncodePodDevices(granted->second);
        ledger.AddPod(bound);
        chosen = index_of.at(bound.node);
        policy::CommitPlacement(nodes[*chosen], request,
                                std::vector<std::vector<int>>(request.containers.size()));
      }
      if (record) {
        arrival.pod = std::move(args.pod);
        arrival.candidates = *args.node_names;
      }
    } else {
      policy::PlacementOutcome outcome = PlaceByKubeDefault(request, cluster, nodes);
      if (outcome.placement) {
        chosen = static_cast<size_t>(outcome.placement->node_index);
        policy::CommitPlacement(nodes[*chosen], request, outcome.placement->container_devices);
        ledger.SetHostOnlyPod(uid, nodes[*chosen].name, request.cpu_milli, request.memory_mib);
      }
      if (record) arrival.pod = pod_json_of(pod, uid);
    }
    if (chosen) {
      allocated += pod.GpuMilliTotal();
      AddVendorAllocated(result.vendors, cluster.nodes[*chosen].vendor, pod.GpuMilliTotal());
      arrival.node = nodes[*chosen].name;
    } else {
      ++result.pods_failed;
    }
    if (record) record->push_back(std::move(arrival));
    const double arrived_pct = static_cast<double>(arrived) * 100.0 / cap;
    const double allocated_pct = static_cast<double>(allocated) * 100.0 / cap;
    if (options.record_curve) result.curve.push_back(CurvePoint{arrived_pct, allocated_pct});
    if (!seen_frag && arrived_pct >= options.frag_at_percent) {
      seen_frag = true;
      result.fragmented_at_90 = fragmentation();
    }
    if (!seen_100 && arrived_pct >= 100.0) {
      seen_100 = true;
      result.unallocated_at_100 = 100.0 - allocated_pct;
    }
  }
  if (options.verify) {
    Status capacity_ok = ledger.CheckCapacity();
    if (!capacity_ok.ok()) return Status(StatusCode::kInternal, capacity_ok.message());
    for (const policy::NodeState& node : nodes) {
      if (node.cpu_free_milli < 0 || node.memory_free_mib < 0) {
        return Status(StatusCode::kInternal, "node " + node.name + " host over-committed");
      }
    }
  }
  const double allocated_pct = static_cast<double>(allocated) * 100.0 / cap;
  if (!seen_100) result.unallocated_at_100 = 100.0 - allocated_pct;
  if (!seen_frag) result.fragmented_at_90 = fragmentation();
  result.unallocated_at_130 = 100.0 - allocated_pct;
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace hami::sim
