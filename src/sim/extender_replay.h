// Replaying a workload through hami-scheduler's own decision code: every pod that asks for
// devices goes to FilterCore (the /filter handler's core, with its usage ledger and node
// mirror) exactly as kube-scheduler would send it, so what the replay measures is what the
// daemon decides. kube-scheduler's part is emulated: its NodeResourcesFit picks the candidate
// nodes (host CPU and memory) that /filter receives, and pods without devices, which never
// reach the extender, are placed by its default scoring (PlaceByKubeDefault).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "policy/placement.h"
#include "sim/replay.h"
#include "sim/report.h"
#include "sim/trace.h"

namespace hami::sim {

// What one arrival looked like to the extender and what it decided, for comparing a replay
// with the daemon (tests/sim/daemon_parity_test.cc).
struct RecordedArrival {
  std::string uid;
  nlohmann::json pod;                   // the v1.Pod /filter received
  std::vector<std::string> candidates;  // NodeNames (empty for pods without devices)
  std::string node;                     // chosen node ("" = not placed)
  std::string devices;                  // the NVIDIA devices-allocated value ("" = none)
  bool via_extender = false;            // false: placed by kube-scheduler's default scoring
};

// The v1.Pod an NVIDIA trace pod becomes (the NVIDIA resources of ToPodRequest as container
// limits, CPU and memory as requests, gpu_spec as nvidia.com/use-gputype). `uid` names it.
// Pods of other vendors: VendorLimits and PodJsonWithLimits (sim/vendor_pods.h).
nlohmann::json ToPodJson(const SimPod& pod, const std::string& uid);

// The node object a simulated NVIDIA node becomes: allocatable CPU, memory and GPU count, and
// the NVIDIA registration annotation describing BuildNodes' devices, as the device plugin writes
// it. (Only the parity test needs node objects; other vendors' registrations are not written.)
nlohmann::json ToNodeJson(const SimNode& node, const policy::NodeState& state);

// The replay protocol of RunReplay (same arrival order and measures) through FilterCore, with
// the vendor registry of SimDeviceConfig (every vendor of the chart): each node's devices are
// registered under its vendor, each pod asks its vendor's resources (VendorLimits), so it only
// lands on that vendor's devices. `policy` is what the daemon would run (e.g.
// policy::SchedulerPolicy); it is reseeded with options.seed. `record`, when given, receives
// every arrival.
// Failure: InvalidArgument for an empty cluster or workload or a vendor key the registry lacks
// (PlanVendorPods); Internal when /filter answers with an error (e.g. a vendor refuses the
// request) or options.verify finds an over-committed device or host.
Result<ReplayResult> RunExtenderReplay(const Cluster& cluster, const Workload& workload,
                                       std::unique_ptr<policy::PlacementPolicy> policy,
                                       const ReplayOptions& options,
                                       std::vector<RecordedArrival>* record = nullptr);

}  // namespace hami::sim
