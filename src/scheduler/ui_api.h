// The Web UI's JSON API v1 (issue 19, docs/web-ui.md): pure functions from what the scheduler
// holds (ledger snapshot, pods, decision log, quota rows, optional live usage) to the JSON
// documents the UI reads. No I/O, no locks: the listener (ui_server.h) gathers the inputs and
// calls these. Units: memory in MiB, cores in percent of one device, times in Unix seconds.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/vendor.h"
#include "policy/placement.h"
#include "scheduler/decision_log.h"
#include "scheduler/ledger.h"
#include "scheduler/quota.h"
#include "scheduler/ui_usage.h"

namespace hami::scheduler {

// A pod size the fragmentation view counts ("how many more of these fit right now").
struct FitShape {
  std::string label;       // "1 whole GPU", "1 GPU, 4096 MiB, 25%"
  int32_t count = 1;       // devices per pod
  int64_t memory_mib = 0;  // per device; 0 = use memory_percent
  int32_t memory_percent = -1;
  int32_t cores_percent = 0;
  bool operator==(const FitShape&) const = default;
};

struct FitCount {
  FitShape shape;
  int64_t pods = 0;  // more pods of this shape the cluster could take now
};

// The common sizes (1 whole device, 2 whole devices, half a device, a quarter) followed by up to
// `extra` of the most frequent single-container shapes among `pods` of `vendor` (ties by size),
// skipping duplicates.
std::vector<FitShape> CommonFitShapes(std::span<const PodAllocation> pods,
                                      const std::string& vendor, size_t extra);

// For each shape, how many more one-container pods asking `vendor` devices fit, placing them one
// by one with the real fit (policy::FitPod, spread GPU policy) on copies of `nodes`. Nodes are
// independent, so the count is the sum of per-node counts, each capped at `per_node_cap`.
std::vector<FitCount> CountFits(std::span<const policy::NodeState> nodes, const std::string& vendor,
                                std::span<const FitShape> shapes, int per_node_cap = 256);

// The vendor with the most registered devices ("" when none).
std::string MainVendor(std::span<const policy::NodeState> nodes);

// Pods whose newest decision found no node and that the ledger does not hold.
std::vector<DecisionPtr> PendingDecisions(std::span<const DecisionPtr> latest_per_pod,
                                          std::span<const PodAllocation> pods);

struct SummaryInputs {
  std::string version;
  int64_t now_unix_seconds = 0;
  bool synced = false, leader = false;
  std::span<const policy::NodeState> nodes;
  std::span<const PodAllocation> pods;
  size_t pending_pods = 0;
  const LiveUsage* usage = nullptr;  // null = none configured
  std::span<const FitCount> fits;
};
nlohmann::json SummaryJson(const SummaryInputs& in);

nlohmann::json NodesJson(std::span<const policy::NodeState> nodes,
                         std::span<const PodAllocation> pods, const std::set<std::string>& locked);

// kNotFound when `name` is not among `nodes`.
Result<nlohmann::json> NodeJson(const std::string& name, std::span<const policy::NodeState> nodes,
                                std::span<const PodAllocation> pods, const LiveUsage* usage);

struct PodsQuery {
  std::string ns, state, vendor;  // empty = any
  size_t limit = 1000;
};
// Parses namespace=, state= (allocated|pending), vendor=, limit= (1..10000). kInvalidArgument
// naming the parameter on a bad value.
Result<PodsQuery> ParsePodsQuery(const std::map<std::string, std::string>& params);
nlohmann::json PodsJson(const PodsQuery& query, std::span<const PodAllocation> pods,
                        std::span<const DecisionPtr> pending);

// `last`: the pod's newest decision, null when none. kNotFound when the pod is neither in the
// ledger nor in the decision log. `registry` names the vendor's resources in the hints.
Result<nlohmann::json> DiagnosisJson(const std::string& ns, const std::string& name,
                                     std::span<const PodAllocation> pods,
                                     const DecisionRecord* last, const VendorRegistry& registry);

// Rows with a limit only; both numbers in ledger units (MiB or core percent): the limit as
// written times the resource's factor.
nlohmann::json QuotasJson(std::span<const QuotaStatus> rows,
                          const std::map<std::string, int64_t>& factors);

nlohmann::json UsageJson(const UsageHistory& history);

// {"error": message}.
std::string ErrorBody(const std::string& message);

}  // namespace hami::scheduler
