// The /filter decision (spec §3.3): which node and which devices a pod gets.
//
// FilterCore turns ExtenderArgs into an ExtenderFilterResult using the usage ledger and a
// placement policy. When it picks a node it records the allocation in the ledger (as a
// decision not yet written) *before* returning, so a concurrent filter cannot hand out the
// same capacity. It makes no API call: kube-scheduler runs filters one pod at a time, and the
// decision reaches the pod's annotations in /bind (Binder), which runs in parallel.
// Thread-safe: decisions are serialised by an internal mutex (policies keep caches).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "device/vendor.h"
#include "policy/placement.h"
#include "scheduler/extender_types.h"
#include "scheduler/ledger.h"
#include "scheduler/quota.h"

namespace hami::scheduler {

// Failure reason for nodes the ledger does not know (no registration, or the device plugin
// stopped answering the handshake).
inline constexpr char kNodeUnregistered[] = "node unregistered";

struct FilterDecision {
  ExtenderFilterResult result;
  // Set when a node was chosen: the allocation recorded in the ledger (not written yet; /bind
  // writes its DecisionAnnotations in the Binding).
  std::optional<PodAllocation> decided;
  // The vendor key the pod asks for and its per-container request (init containers first), for
  // the Web UI's decision log; empty when the pod asks no device or the request did not build.
  std::string vendor;
  std::vector<ContainerDeviceRequest> request;
  int init_containers = 0;
};

class FilterCore {
 public:
  // `registry` and `ledger` must outlive the core.
  FilterCore(const VendorRegistry& registry, UsageLedger& ledger,
             std::unique_ptr<policy::PlacementPolicy> policy);

  // `now_unix_seconds` is written as hami.io/vgpu-time.
  FilterDecision Filter(const ExtenderArgs& args, int64_t now_unix_seconds);

  // Whether nodes with an allocation in flight are ranked after the others (default) or, as in
  // HAMi, like any node (--prefer-idle-nodes=false).
  void set_prefer_idle_nodes(bool prefer) {
    std::lock_guard<std::mutex> lock(mu_);
    prefer_idle_nodes_ = prefer;
  }

  // Whether a pod without nvidia.com/vgpu-mode may land on a GPU in MIG mode, as in HAMi
  // (hami-scheduler --mig-unannotated-pods allow; DeviceSelectors::mig_without_mode). Default
  // false: such GPUs serve only pods that ask for mig (CardMigModeNotRequested otherwise).
  void set_mig_unannotated_pods_allowed(bool allow) { mig_unannotated_allowed_ = allow; }

  // Enforces the namespace ResourceQuotas `quota` knows (quota.h); null = none. `quota` must
  // outlive the core.
  void set_quota(const QuotaTracker* quota) {
    std::lock_guard<std::mutex> lock(mu_);
    quota_ = quota;
  }

  // Whether a pod that fits nowhere gets the per-node reasons in FailedNodes (default). Off
  // only where nobody reads them (hami simulate's replay): the decisions are the same, and
  // explaining thousands of full nodes for every unplaceable pod dominates a replay's cost.
  void set_failure_reasons(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    failure_reasons_ = on;
  }

  // Drops the pod's decision from the ledger.
  void Forget(const std::string& pod_uid);

 private:
  FilterDecision Simulate(const ExtenderArgs& args, const Vendor& vendor,
                          const policy::PodRequest& request);

  // Brings the mirror up to date with the ledger (only nodes changed since the last sync).
  void SyncMirrorLocked();
  // Resolves the candidates into last_picks_ (mirror slots) and last_unknown_ (names the
  // mirror lacks); keeps the previous answer when kube-scheduler sends the same names again
  // (the usual case: every node), so a decision copies nothing.
  void ResolveCandidatesLocked(const std::vector<std::string>& names);

  const VendorRegistry& registry_;
  UsageLedger& ledger_;
  std::mutex mu_;
  std::unique_ptr<policy::PlacementPolicy> policy_;  // GUARDED_BY(mu_)
  // Every ledger node's state, kept between decisions and refreshed per node only when the
  // ledger changed it, so a decision neither copies nor looks up every node of a large
  // cluster. A removed node leaves an empty slot that a later node reuses; slots never move,
  // so policies may cache per slot. GUARDED_BY(mu_)
  std::vector<policy::NodeState> mirror_;
  std::unordered_map<std::string, uint32_t> slot_of_;  // GUARDED_BY(mu_)
  std::vector<uint32_t> free_slots_;                   // GUARDED_BY(mu_)
  uint64_t synced_to_ = 0;                             // GUARDED_BY(mu_), ledger version
  // The last candidate list and its resolution; valid until a node joins or leaves the mirror.
  std::vector<std::string> last_names_;               // GUARDED_BY(mu_)
  std::vector<uint32_t> last_picks_;                  // GUARDED_BY(mu_)
  std::vector<std::string> last_unknown_;             // GUARDED_BY(mu_)
  bool last_valid_ = false;                           // GUARDED_BY(mu_)
  bool prefer_idle_nodes_ = true;                     // GUARDED_BY(mu_)
  bool failure_reasons_ = true;                       // GUARDED_BY(mu_)
  std::atomic<bool> mig_unannotated_allowed_{false};  // read before mu_ is taken
  const QuotaTracker* quota_ = nullptr;               // GUARDED_BY(mu_)
  // The pods already told to the policy (PlacementPolicy::Observe), oldest first, so that a
  // pod kube-scheduler retries is counted once. Bounded: a pod retried after this many others
  // counts again, which only matters for pods that stay pending that long. GUARDED_BY(mu_)
  static constexpr size_t kObservedUidsKept = 16384;
  std::unordered_set<std::string> observed_uids_;
  std::deque<std::string> observed_order_;
};

}  // namespace hami::scheduler
