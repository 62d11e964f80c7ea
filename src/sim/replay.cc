#include "sim/replay.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>

#include "common/strings.h"
#include "device/nvidia.h"
#include "policy/fgd.h"
#include "policy/frag.h"
#include "policy/scheduler_policy.h"

namespace hami::sim {

namespace {

// splitmix64: a tiny, fully specified PRNG so arrival orders are identical everywhere.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) by rejection (no modulo bias).
  uint64_t Below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
      x = Next();
    } while (x >= limit);
    return x % bound;
  }

 private:
  uint64_t state_;
};

std::vector<policy::TargetPod> TargetsOf(const Workload& workload) {
  std::vector<policy::TargetPod> targets;
  targets.reserve(workload.pods.size());
  for (const SimPod& pod : workload.pods) {
    policy::PodRequest request = ToPodRequest(pod);
    policy::TargetPod t;
    t.request = request.containers[0];
    t.allowed_types = request.selectors.use_types;
    t.cpu_milli = pod.cpu_milli;
    t.memory_mib = pod.memory_mib;
    targets.push_back(std::move(t));
  }
  return targets;
}

// The workload's pods as FGD's artifact classifies them (memory ignored).
std::vector<policy::FgdPodShape> FgdShapesOf(const Workload& workload) {
  std::vector<policy::FgdPodShape> shapes;
  shapes.reserve(workload.pods.size());
  for (const SimPod& pod : workload.pods) {
    policy::FgdPodShape shape;
    shape.cpu_milli = pod.cpu_milli;
    shape.gpu_count = pod.num_gpu;
    shape.gpu_milli = pod.num_gpu > 0 ? pod.gpu_milli : 0;
    std::vector<std::string> models = pod.gpu_spec;
    std::sort(models.begin(), models.end());
    for (const std::string& m : models) {
      shape.gpu_model += (shape.gpu_model.empty() ? "" : "|") + m;
    }
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

}  // namespace

policy::PlacementOutcome PlaceByKubeDefault(const policy::PodRequest& pod, const Cluster& cluster,
                                            std::span<const policy::NodeState> nodes) {
  policy::PlacementOutcome outcome;
  double best = -1;
  for (size_t i = 0; i < nodes.size() && i < cluster.nodes.size(); ++i) {
    const policy::NodeState& node = nodes[i];
    if (!policy::HostFits(node, pod)) continue;
    const SimNode& spec = cluster.nodes[i];
    if (spec.cpu_milli <= 0 || spec.memory_mib <= 0) continue;
    const double cpu_free = static_cast<double>(node.cpu_free_milli - pod.cpu_milli) /
                            static_cast<double>(spec.cpu_milli);
    const double mem_free = static_cast<double>(node.memory_free_mib - pod.memory_mib) /
                            static_cast<double>(spec.memory_mib);
    // NodeResourcesFit (LeastAllocated) + NodeResourcesBalancedAllocation, equal weights.
    const double least_allocated = (cpu_free + mem_free) / 2 * 100;
    const double balanced = (1 - std::abs(cpu_free - mem_free) / 2) * 100;
    const double score = least_allocated + balanced;
    if (score > best + 1e-9) {
      best = score;
      outcome.placement = policy::Placement{static_cast<int>(i), {std::vector<int>{}}, score};
    }
  }
  return outcome;
}

int32_t CeilPercent(int32_t milli) { return (milli + 9) / 10; }

policy::PodRequest ToPodRequest(const SimPod& pod) {
  policy::PodRequest request;
  ContainerDeviceRequest container;
  container.type = pod.vendor;
  container.count = pod.num_gpu;
  if (pod.num_gpu > 0) {
    container.memory_percent = CeilPercent(pod.gpu_milli);
    container.cores_percent = CeilPercent(pod.gpu_milli);
  }
  request.containers.push_back(container);
  // gpu_spec names openb (NVIDIA) models; other vendors' pods have no type selector here.
  if (pod.vendor == kNvidiaCommonWord) request.selectors.use_types = pod.gpu_spec;
  request.cpu_milli = pod.cpu_milli;
  request.memory_mib = pod.memory_mib;
  return request;
}

std::vector<policy::NodeState> BuildNodes(const Cluster& cluster, int32_t split_count) {
  std::vector<policy::NodeState> nodes;
  nodes.reserve(cluster.nodes.size());
  for (const SimNode& sn : cluster.nodes) {
    policy::NodeState node;
    node.name = sn.name;
    node.cpu_free_milli = sn.cpu_milli;
    node.memory_free_mib = sn.memory_mib;
    for (int32_t i = 0; i < sn.gpu_count; ++i) {
      DeviceUsage device;
      device.info.id = sn.name + "-gpu" + std::to_string(i);
      device.info.index = i;
      device.info.count = split_count;
      device.info.devmem_mib = sn.gpu_memory_mib;
      device.info.devcore = 100;
      device.info.type = sn.vendor + "-" + sn.model;
      device.info.health = true;
      device.vendor = sn.vendor;  // a request of another vendor cannot use it
      node.devices.push_back(std::move(device));
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

std::vector<VendorAllocation> VendorCapacities(const Cluster& cluster) {
  std::map<std::string, int64_t> capacity;
  for (const SimNode& node : cluster.nodes) {
    capacity[node.vendor] += static_cast<int64_t>(node.gpu_count) * kWholeGpuMilli;
  }
  std::vector<VendorAllocation> out;
  for (const auto& [vendor, milli] : capacity) out.push_back(VendorAllocation{vendor, milli, 0});
  return out;
}

void AddVendorAllocated(std::vector<VendorAllocation>& vendors, const std::string& vendor,
                        int64_t milli) {
  for (VendorAllocation& v : vendors) {
    if (v.vendor == vendor) {
      v.allocated_milli += milli;
      return;
    }
  }
}

std::vector<int> ArrivalOrder(const Workload& workload, int64_t capacity_milli, uint64_t seed,
                              double inflation_percent) {
  const size_t n = workload.pods.size();
  std::vector<int> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
  if (n == 0) return order;
  SplitMix64 rng(seed);
  for (size_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[rng.Below(i + 1)]);
  }
  int64_t requested = 0;
  for (const SimPod& pod : workload.pods) requested += pod.GpuMilliTotal();
  const double target = static_cast<double>(capacity_milli) * inflation_percent / 100.0;
  bool any_gpu = requested > 0;
  while (any_gpu && static_cast<double>(requested) < target) {
    const int pick = static_cast<int>(rng.Below(n));
    order.push_back(pick);
    requested += workload.pods[static_cast<size_t>(pick)].GpuMilliTotal();
  }
  return order;
}

std::vector<std::string> PolicyNames() {
  return {"hami-frag", "fgd", "hami-binpack", "hami-spread", "hami-default"};
}

std::vector<std::string> ExtraPolicyNames() { return {"hami-frag-oracle"}; }

Result<std::unique_ptr<policy::PlacementPolicy>> MakePolicy(const std::string& spec,
                                                            const Workload& workload) {
  using policy::GpuPolicy;
  using policy::GpuPolicyKey;
  using policy::NodePolicy;
  // "<name>" or "<name>:key=value:key=value" (tuning knobs, see docs/simulate.md; ':' because
  // ',' separates policies on the command line).
  const size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  std::vector<std::pair<std::string, double>> knobs;
  if (colon != std::string::npos) {
    for (std::string_view item : Split(std::string_view(spec).substr(colon + 1), ':')) {
      auto kv = Split(item, '=');
      char* end = nullptr;
      const std::string value(kv.size() == 2 ? kv[1] : "");
      const double number = std::strtod(value.c_str(), &end);
      if (kv.size() != 2 || value.empty() || end != value.c_str() + value.size()) {
        return InvalidArgument("policy " + QuoteForError(spec) + ": bad knob " +
                               QuoteForError(item) + " (want key=number)");
      }
      knobs.emplace_back(std::string(kv[0]), number);
    }
  }
  // HAMi's policies and hami-frag are the daemon's own policy object (scheduler_policy.h).
  auto daemon_policy = [&](policy::SchedulerPolicyOptions options)
      -> Result<std::unique_ptr<policy::PlacementPolicy>> {
    return std::unique_ptr<policy::PlacementPolicy>(
        std::make_unique<policy::SchedulerPolicy>(std::move(options), spec));
  };
  auto hami = [&](NodePolicy node,
                  GpuPolicyKey gpu) -> Result<std::unique_ptr<policy::PlacementPolicy>> {
    if (!knobs.empty()) return InvalidArgument("policy " + QuoteForError(spec) + " takes no knobs");
    policy::SchedulerPolicyOptions options;
    options.node_policy = node;
    options.gpu_policy = GpuPolicy{{gpu}};
    return daemon_policy(std::move(options));
  };
  if (name == "hami-binpack") return hami(NodePolicy::kBinpack, GpuPolicyKey::kBinpack);
  if (name == "hami-spread") return hami(NodePolicy::kSpread, GpuPolicyKey::kSpread);
  // The chart defaults: node binpack, GPU spread.
  if (name == "hami-default") return hami(NodePolicy::kBinpack, GpuPolicyKey::kSpread);
  if (name == "fgd") {
    // The artifact's FGD (policy/fgd.h), no knobs: it is the published baseline.
    if (!knobs.empty()) return InvalidArgument("policy " + QuoteForError(spec) + " takes no knobs");
    return std::unique_ptr<policy::PlacementPolicy>(
        std::make_unique<policy::FgdPolicy>(spec, policy::FgdTypicalPods(FgdShapesOf(workload))));
  }
  if (name == "hami-frag" || name == "hami-frag-oracle") {
    policy::FragPolicyOptions options = policy::HamiFragWeights();
    double half_life_pods = policy::OnlineWorkloadOptions{}.half_life_pods;
    for (const auto& [key, value] : knobs) {
      if (key == "halflife" && name == "hami-frag") {
        if (!(value >= 1)) {
          return InvalidArgument("policy " + QuoteForError(spec) + ": halflife must be >= 1");
        }
        half_life_pods = value;
        continue;
      }
      if (key == "pack") {
        options.packing_weight = value;
      } else if (key == "strand") {
        options.stranding_weight = value;
      } else if (key == "typep") {
        options.type_pressure_weight = value;
      } else if (key == "devfit") {
        options.device_fit_weight = value;
      } else {
        return InvalidArgument(
            "policy " + QuoteForError(spec) + ": unknown knob " + QuoteForError(key) +
            (name == "hami-frag" ? " (known: pack, strand, typep, devfit, halflife)"
                                 : " (known: pack, strand, typep, devfit)"));
      }
    }
    if (name == "hami-frag-oracle") {
      // The target workload read from the trace file: what hami-frag could do if it knew the
      // whole workload in advance (the daemon never does).
      return std::unique_ptr<policy::PlacementPolicy>(
          std::make_unique<policy::FragPolicy>(spec, TargetsOf(workload), options));
    }
    policy::SchedulerPolicyOptions scheduler_options;
    scheduler_options.node_policy = NodePolicy::kFrag;
    scheduler_options.frag = options;
    scheduler_options.workload.half_life_pods = half_life_pods;
    return daemon_policy(std::move(scheduler_options));
  }
  std::string known;
  for (const std::string& n : PolicyNames()) known += (known.empty() ? "" : ", ") + n;
  for (const std::string& n : ExtraPolicyNames()) known += ", " + n;
  return InvalidArgument("unknown policy " + QuoteForError(name) + " (known: " + known + ")");
}

double ClusterFragmentationPercent(std::span<const policy::NodeState> nodes,
                                   const Workload& workload, int64_t capacity_milli) {
  if (capacity_milli <= 0) return 0;
  policy::FragModel model(TargetsOf(workload));
  double frag = 0;
  for (size_t i = 0; i < nodes.size(); ++i) frag += model.NodeFrag(static_cast<int>(i), nodes[i]);
  return frag * 100.0 / static_cast<double>(capacity_milli);
}

Result<ReplayResult> RunReplay(const Cluster& cluster, const Workload& workload,
                               policy::PlacementPolicy& placement_policy,
                               const ReplayOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t capacity = cluster.TotalGpuMilli();
  if (capacity <= 0) return InvalidArgument("cluster has no GPUs");
  if (workload.pods.empty()) return InvalidArgument("workload has no pods");

  std::vector<policy::NodeState> nodes = BuildNodes(cluster, options.split_count);
  // Generations must be unique per node so per-node caches in policies stay valid.
  for (size_t i = 0; i < nodes.size(); ++i) nodes[i].generation = static_cast<uint64_t>(i) << 32;

  std::vector<policy::PodRequest> requests;
  requests.reserve(workload.pods.size());
  for (const SimPod& pod : workload.pods) {
    requests.push_back(ToPodRequest(pod));
    placement_policy.ResolveDefaults(requests.back());  // as FilterCore does
  }

  placement_policy.Reseed(options.seed);
  ReplayResult result;
  result.policy = std::string(placement_policy.name());
  result.seed = options.seed;
  const std::vector<int> order =
      ArrivalOrder(workload, capacity, options.seed, options.inflation_percent);
  result.pods_total = static_cast<int64_t>(order.size());
  result.vendors = VendorCapacities(cluster);
  if (options.record_curve) result.curve.reserve(order.size());

  int64_t arrived = 0, allocated = 0;
  bool seen_100 = false, seen_frag = false;
  const double cap = static_cast<double>(capacity);
  for (int pod_index : order) {
    const SimPod& pod = workload.pods[static_cast<size_t>(pod_index)];
    const policy::PodRequest& request = requests[static_cast<size_t>(pod_index)];
    arrived += pod.GpuMilliTotal();
    if (request.WantsDevices()) placement_policy.Observe(request);
    policy::PlacementOutcome outcome = (options.cpu_pods_by_kube_default && !request.WantsDevices())
                                           ? PlaceByKubeDefault(request, cluster, nodes)
                                           : placement_policy.Place(request, nodes, false);
    if (outcome.placement) {
      policy::NodeState& node = nodes[static_cast<size_t>(outcome.placement->node_index)];
      if (options.verify) {
        if (!policy::HostFits(node, request) ||
            !policy::PlacementAllowed(node, request, outcome.placement->container_devices)) {
          return Status(StatusCode::kInternal, "policy " + result.policy + " placed pod " +
                                                   pod.name + " where HAMi's fit rules forbid");
        }
      }
      policy::CommitPlacement(node, request, outcome.placement->container_devices);
      allocated += pod.GpuMilliTotal();
      AddVendorAllocated(result.vendors,
                         cluster.nodes[static_cast<size_t>(outcome.placement->node_index)].vendor,
                         pod.GpuMilliTotal());
    } else {
      ++result.pods_failed;
    }
    const double arrived_pct = static_cast<double>(arrived) * 100.0 / cap;
    const double allocated_pct = static_cast<double>(allocated) * 100.0 / cap;
    if (options.record_curve) result.curve.push_back(CurvePoint{arrived_pct, allocated_pct});
    if (!seen_frag && arrived_pct >= options.frag_at_percent) {
      seen_frag = true;
      result.fragmented_at_90 = ClusterFragmentationPercent(nodes, workload, capacity);
    }
    if (!seen_100 && arrived_pct >= 100.0) {
      seen_100 = true;
      result.unallocated_at_100 = 100.0 - allocated_pct;
    }
  }
  const double allocated_pct = static_cast<double>(allocated) * 100.0 / cap;
  if (!seen_100) result.unallocated_at_100 = 100.0 - allocated_pct;
  if (!seen_frag) result.fragmented_at_90 = ClusterFragmentationPercent(nodes, workload, capacity);
  result.unallocated_at_130 = 100.0 - allocated_pct;
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace hami::sim
