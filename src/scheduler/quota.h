// Namespace ResourceQuota enforcement on device memory and cores (spec §3.8, HAMi v2.10).
//
// A ResourceQuota's `spec.hard` keys `limits.<memory resource>` and `limits.<cores resource>`
// of every vendor (e.g. `limits.nvidia.com/gpumem`, `limits.nvidia.com/gpucores`; the names
// come from the device config) cap what the pods of its namespace hold. Usage is derived from
// the usage ledger alone (every pod it tracks in the namespace, decisions /filter made but
// /bind has not written yet included), so it is exact after a restart, when the ledger is
// rebuilt from pod annotations. Per pod, each device counts the larger of its init-container
// peak and its app-container sum (as the ledger accounts a node), summed over the devices;
// memory is MiB as charged on the device (percentages resolved, memoryFactor applied), so a
// memory limit is multiplied by the vendor's memoryFactor before comparing (as HAMi does).
//
// Differences from HAMi, which keeps one limit per namespace and resource: every ResourceQuota
// is kept and checked (the smallest limit binds), an explicit limit of 0 refuses any pod asking
// for the resource (HAMi treats 0 as "no limit"), a multi-device container counts every device
// (HAMi checks one device's share), and a pod that asks nothing of a resource is never refused
// on it.
//
// Units: QuotaAmounts are in ledger units (MiB, core percent); QuotaLimit::limit is the value
// as written in the ResourceQuota (resource units, before memoryFactor).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "device/device.h"
#include "device/vendor.h"
#include "policy/fit.h"
#include "policy/placement.h"
#include "scheduler/ledger.h"

namespace hami::scheduler {

// Prefix of the quota keys enforced here (`limits.` + resource name).
inline constexpr char kQuotaKeyPrefix[] = "limits.";

// Resource name (e.g. "nvidia.com/gpumem") -> amount in ledger units.
using QuotaAmounts = std::map<std::string, int64_t>;

// What one pod holds, per quota'd resource (only vendors with a memory/cores resource name
// appear; zero amounts are left out). Pure.
QuotaAmounts PodQuotaUsage(const VendorRegistry& registry, const PodAllocation& pod);

// The least a request can take once placed: per container count x memory (a percentage taken
// of `smallest_device_mib`, 0 when that is 0) and count x cores (0 when `cores_known` is false:
// a device in "mig" mode charges its instance's share instead), collapsed as init-container
// peak vs app-container sum. Exact for a pod without init containers on devices of one size.
// `containers`: init containers first (the first `init_containers`), as PodRequest has them.
// `names`: the vendor's resource names (memory and cores are read).
QuotaAmounts RequestQuotaLowerBound(const VendorResourceNames& names,
                                    std::span<const ContainerDeviceRequest> containers,
                                    int init_containers, int64_t smallest_device_mib,
                                    bool cores_known);

// One ResourceQuota's enforced limits (values as written, resource units).
struct ResourceQuotaLimits {
  std::string ns;
  std::string name;
  std::map<std::string, int64_t> limits;  // resource name -> limit; only managed keys

  bool operator==(const ResourceQuotaLimits&) const = default;
};

// Reads a v1 ResourceQuota. Keys of `spec.hard` that are not `limits.` + one of `managed` are
// skipped silently; a managed key whose value is not a non-negative integer quantity is skipped
// with one line in `warnings` naming the quota, the key and why (the quota still applies with
// its other keys). Failure: InvalidArgument when the object has no metadata.name/namespace.
Result<ResourceQuotaLimits> ParseResourceQuota(const nlohmann::json& quota,
                                               const std::vector<std::string>& managed,
                                               std::vector<std::string>* warnings);

// The limit that binds for one resource in a namespace (the smallest of its quotas).
struct QuotaLimit {
  std::string quota_name;  // the ResourceQuota that set it
  int64_t limit = 0;       // as written (resource units)
};

// Why a pod does not fit its namespace's quota; Message() is what users see.
struct QuotaViolation {
  std::string ns;
  std::string key;         // "limits.nvidia.com/gpumem"
  std::string quota_name;  // the ResourceQuota whose limit is exceeded
  int64_t used = 0;        // ledger units
  int64_t requested = 0;   // ledger units
  int64_t limit = 0;       // ledger units (memoryFactor applied)

  // "exceeding resource quota: limits.nvidia.com/gpumem in namespace team-a: used 3000 +
  // requested 2000 > limit 4000 (ResourceQuota gpu)".
  std::string Message() const;
};

// The first resource (in name order) where used + requested passes a quota of `quotas`.
// `factors`: resource name -> memoryFactor (absent = 1). Resources the pod does not ask for
// (requested <= 0) are not checked. Pure.
std::optional<QuotaViolation> CheckQuotas(const std::string& ns,
                                          std::span<const ResourceQuotaLimits> quotas,
                                          const std::map<std::string, int64_t>& factors,
                                          const QuotaAmounts& used, const QuotaAmounts& requested);

// One (namespace, resource) row of the quota metrics.
struct QuotaStatus {
  std::string ns;
  std::string resource;             // "nvidia.com/gpumem"
  int64_t used = 0;                 // ledger units
  std::optional<QuotaLimit> limit;  // unset: no ResourceQuota limits it
};

// The ResourceQuotas the scheduler knows, fed by a watch. Thread-safe (internal mutex);
// the registry must outlive the tracker.
class QuotaTracker {
 public:
  explicit QuotaTracker(const VendorRegistry& registry);

  // The resource names quota keys may name (every vendor's memory and cores resource).
  const std::vector<std::string>& managed() const { return managed_; }
  const VendorRegistry& registry() const { return registry_; }
  // Resource name -> memoryFactor (memory resources only; others count 1).
  const std::map<std::string, int64_t>& factors() const { return factors_; }

  // Adds or replaces a ResourceQuota (watch add/update). Returns warnings to log (malformed
  // limits, which are ignored). Failure: as ParseResourceQuota (the quota is not tracked).
  Result<std::vector<std::string>> Apply(const nlohmann::json& quota);
  // Forgets a ResourceQuota (watch delete).
  void Remove(const nlohmann::json& quota);

  // The quotas of `ns` that limit at least one managed resource (in name order).
  std::vector<ResourceQuotaLimits> InNamespace(const std::string& ns) const;
  // The binding (smallest) limit per resource in `ns`.
  std::map<std::string, QuotaLimit> Limits(const std::string& ns) const;
  bool HasQuotas(const std::string& ns) const;

  // What the namespace's pods hold now, from the ledger (in-flight decisions included).
  QuotaAmounts Usage(const UsageLedger& ledger, const std::string& ns) const;
  // Whether `requested` on top of the namespace's current usage passes a quota.
  std::optional<QuotaViolation> Check(const UsageLedger& ledger, const std::string& ns,
                                      const QuotaAmounts& requested) const;

  // Rows for the metrics: every namespace with usage of a managed resource or a quota on one.
  std::vector<QuotaStatus> Statuses(const std::vector<PodAllocation>& pods) const;

 private:
  const VendorRegistry& registry_;
  std::vector<std::string> managed_;
  std::map<std::string, int64_t> factors_;  // resource name -> memoryFactor
  mutable std::mutex mu_;
  // namespace -> quota name -> limits. GUARDED_BY(mu_)
  std::map<std::string, std::map<std::string, ResourceQuotaLimits>> quotas_;
};

// One /filter's view of the pod's namespace quota: built under FilterCore's mutex, from the
// ledger's usage at that moment, so concurrent decisions cannot share the last unit.
class QuotaGate {
 public:
  QuotaGate() = default;  // inactive: everything passes
  // Active when `ns` has a quota on one of the vendor's resources. `tracker`, `vendor` and
  // `request` must outlive the gate.
  QuotaGate(const QuotaTracker& tracker, const UsageLedger& ledger, const Vendor& vendor,
            const std::string& ns, const policy::PodRequest& request);

  bool active() const { return active_; }

  // The candidates (slots of `nodes`) on which even the pod's least possible demand fits;
  // the others get a ResourceQuotaNotFit reason in `failed_nodes`.
  std::vector<uint32_t> Allowed(std::span<const policy::NodeState> nodes,
                                std::span<const uint32_t> picks,
                                std::map<std::string, std::string>* failed_nodes) const;

  // The exact check of a decided placement (the devices as they will be charged).
  std::optional<QuotaViolation> CheckPlacement(const PodDevices& devices) const;

  // The FailedNodes reason for `node`: "<n>/<n> ResourceQuotaNotFit".
  static std::string NodeReason(const policy::NodeState& node);

 private:
  bool active_ = false;
  const QuotaTracker* tracker_ = nullptr;
  const Vendor* vendor_ = nullptr;
  std::string ns_;
  std::vector<ResourceQuotaLimits> quotas_;
  QuotaAmounts used_;
  const policy::PodRequest* request_ = nullptr;
};

}  // namespace hami::scheduler
