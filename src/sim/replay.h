// The replay engine: feeds a workload, one pod at a time, through a placement policy over a
// simulated cluster, with the standard openb protocol (seeded shuffle, inflation, no
// departures, failures skipped). The placement code is the scheduler's own (src/policy).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/placement.h"
#include "sim/report.h"
#include "sim/trace.h"

namespace hami::sim {

struct ReplayOptions {
  uint64_t seed = 42;
  double inflation_percent = 130;  // stop adding pods once the GPU request reaches this
  double frag_at_percent = 90;     // arrived % at which fragmentation is measured
  int32_t split_count = 10;        // deviceSplitCount of every simulated GPU
  bool record_curve = true;
  // Verify every placement against HAMi's fit rules and the device capacities (slow-ish;
  // on in tests). A violation aborts the replay with an error.
  bool verify = false;
  // Place pods that ask for no device the way a real cluster does: kube-scheduler's default
  // scoring (least allocated + balanced CPU/memory), since the extender never sees them.
  // Off = the standard protocol, where the policy places every pod.
  bool cpu_pods_by_kube_default = false;
};

// kube-scheduler's default choice for a pod without devices: the node with the highest
// NodeResourcesFit (LeastAllocated) + NodeResourcesBalancedAllocation score after placement
// (ties: first node). `nodes` must be BuildNodes(cluster) order.
policy::PlacementOutcome PlaceByKubeDefault(const policy::PodRequest& pod, const Cluster& cluster,
                                            std::span<const policy::NodeState> nodes);

// ceil(milli / 10): a share of one GPU in milli as the percent a pod asks (never under-asks).
int32_t CeilPercent(int32_t milli);

// The HAMi request a trace pod becomes on the direct path: a request of the pod's vendor
// (ContainerDeviceRequest::type) for num_gpu devices, cores and memory percentage =
// ceil(gpu_milli / 10) of each device, whatever the vendor; for NVIDIA pods gpu_spec as the
// type selector (nvidia.com/use-gputype), other vendors' pods have none.
policy::PodRequest ToPodRequest(const SimPod& pod);

// Node states for a cluster: one device per GPU ("<node>-gpu<i>", type "<vendor>-<model>", e.g.
// "NVIDIA-T4", DeviceUsage::vendor = the node's vendor, so only that vendor's requests fit it).
std::vector<policy::NodeState> BuildNodes(const Cluster& cluster, int32_t split_count);

// Every vendor of the cluster's nodes with its GPU capacity (milli) and nothing allocated, in
// vendor-key order. Pure.
std::vector<VendorAllocation> VendorCapacities(const Cluster& cluster);
// Adds `milli` to `vendor`'s allocated milli (no-op for a vendor not listed).
void AddVendorAllocated(std::vector<VendorAllocation>& vendors, const std::string& vendor,
                        int64_t milli);

// The arrival sequence: the workload shuffled with `seed`, then pods drawn uniformly with
// replacement until the total GPU request reaches inflation_percent of capacity.
// Deterministic across platforms (own PRNG mapping).
std::vector<int> ArrivalOrder(const Workload& workload, int64_t capacity_milli, uint64_t seed,
                              double inflation_percent);

// Policy names MakePolicy understands, best-known first (the default comparison).
std::vector<std::string> PolicyNames();
// Further names MakePolicy understands, for analysis: "hami-frag-oracle" (hami-frag given the
// trace's whole workload as its target instead of learning it online).
std::vector<std::string> ExtraPolicyNames();

// Builds a policy. hami-frag and HAMi's policies are the daemon's policy::SchedulerPolicy
// (hami-frag learns its target workload from the pods it is asked to place); fgd and
// hami-frag-oracle take the (uninflated) workload as their target.
Result<std::unique_ptr<policy::PlacementPolicy>> MakePolicy(const std::string& name,
                                                            const Workload& workload);

// Fragmented milli-GPUs of the whole cluster under the FGD measure for `workload`, as % of
// capacity.
double ClusterFragmentationPercent(std::span<const policy::NodeState> nodes,
                                   const Workload& workload, int64_t capacity_milli);

Result<ReplayResult> RunReplay(const Cluster& cluster, const Workload& workload,
                               policy::PlacementPolicy& policy, const ReplayOptions& options);

}  // namespace hami::sim
