#include "scheduler/quota.h"

#include <algorithm>
#include <limits>

#include "common/strings.h"
#include "device/quantity.h"
#include "kube/objects.h"

namespace hami::scheduler {

namespace {

constexpr int64_t kMaxAmount = std::numeric_limits<int64_t>::max();

// a * b, saturating at int64 max (both >= 0).
int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? kMaxAmount : out;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out = 0;
  return __builtin_add_overflow(a, b, &out) ? kMaxAmount : out;
}

void AddAmount(QuotaAmounts& amounts, const std::string& resource, int64_t value) {
  if (resource.empty() || value <= 0) return;
  int64_t& slot = amounts[resource];
  slot = SaturatingAdd(slot, value);
}

int64_t AmountOf(const QuotaAmounts& amounts, const std::string& resource) {
  auto it = amounts.find(resource);
  return it == amounts.end() ? 0 : it->second;
}

int64_t FactorOf(const std::map<std::string, int64_t>& factors, const std::string& resource) {
  auto it = factors.find(resource);
  return it == factors.end() ? 1 : it->second;
}

}  // namespace

QuotaAmounts PodQuotaUsage(const VendorRegistry& registry, const PodAllocation& pod) {
  QuotaAmounts out;
  for (const auto& [vendor_key, containers] : pod.by_vendor) {
    const Vendor* vendor = registry.Find(vendor_key);
    if (vendor == nullptr) continue;
    // One slot per distinct device; the accumulator collapses init peak vs app sum per slot.
    std::map<std::string, size_t> slot_of;
    for (const ContainerDevices& devices : containers) {
      for (const ContainerDevice& d : devices) slot_of.emplace(d.uuid, slot_of.size());
    }
    policy::PodDemandAccumulator demand(slot_of.size());
    for (size_t c = 0; c < containers.size(); ++c) {
      const bool is_init = static_cast<int>(c) < pod.init_containers;
      for (const ContainerDevice& d : containers[c]) {
        demand.Add(slot_of[d.uuid], is_init, d.used_mem_mib, d.used_cores);
      }
    }
    std::vector<DeviceUsage> charged(slot_of.size());
    demand.ApplyTo(charged, +1);
    for (const DeviceUsage& d : charged) {
      AddAmount(out, vendor->ResourceNames().memory, d.used_mem_mib);
      AddAmount(out, vendor->ResourceNames().cores, d.used_cores);
    }
  }
  return out;
}

QuotaAmounts RequestQuotaLowerBound(const VendorResourceNames& names,
                                    std::span<const ContainerDeviceRequest> containers,
                                    int init_containers, int64_t smallest_device_mib,
                                    bool cores_known) {
  int64_t init_mem = 0, init_cores = 0, app_mem = 0, app_cores = 0;
  for (size_t c = 0; c < containers.size(); ++c) {
    const ContainerDeviceRequest& r = containers[c];
    if (r.count <= 0) continue;
    const int64_t mem = SaturatingMul(r.count, r.ResolveMemoryMib(smallest_device_mib));
    const int64_t cores =
        cores_known ? SaturatingMul(r.count, std::clamp(r.cores_percent, 0, 100)) : 0;
    if (static_cast<int>(c) < init_containers) {
      init_mem = std::max(init_mem, mem);
      init_cores = std::max(init_cores, cores);
    } else {
      app_mem = SaturatingAdd(app_mem, mem);
      app_cores = SaturatingAdd(app_cores, cores);
    }
  }
  QuotaAmounts out;
  AddAmount(out, names.memory, std::max(init_mem, app_mem));
  AddAmount(out, names.cores, std::max(init_cores, app_cores));
  return out;
}

Result<ResourceQuotaLimits> ParseResourceQuota(const nlohmann::json& quota,
                                               const std::vector<std::string>& managed,
                                               std::vector<std::string>* warnings) {
  ResourceQuotaLimits out;
  out.ns = std::string(kube::StringAt(quota, {"metadata", "namespace"}));
  out.name = std::string(kube::StringAt(quota, {"metadata", "name"}));
  if (out.ns.empty() || out.name.empty()) {
    return InvalidArgument("ResourceQuota without metadata.name or metadata.namespace");
  }
  const nlohmann::json* hard = kube::FindPath(quota, {"spec", "hard"});
  if (hard == nullptr || !hard->is_object()) return out;
  const std::string prefix = kQuotaKeyPrefix;
  for (auto it = hard->begin(); it != hard->end(); ++it) {
    const std::string& key = it.key();
    if (key.size() <= prefix.size() || key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string resource = key.substr(prefix.size());
    if (std::find(managed.begin(), managed.end(), resource) == managed.end()) continue;
    const std::string text = it->is_string() ? it->get<std::string>() : it->dump();
    auto value = ParseQuantityInt64(text);
    std::string why;
    if (!value.ok()) {
      why = value.status().message();
    } else if (*value < 0) {
      why = "negative limit " + QuoteForError(text);
    }
    if (!why.empty()) {
      if (warnings != nullptr) {
        std::string line = "resourcequota=";
        line.append(out.ns).append("/").append(out.name).append(" key=").append(key);
        line.append(" ignored: ").append(why);
        warnings->push_back(std::move(line));
      }
      continue;
    }
    out.limits[resource] = *value;
  }
  return out;
}

std::string QuotaViolation::Message() const {
  return "exceeding resource quota: " + key + " in namespace " + ns + ": used " +
         std::to_string(used) + " + requested " + std::to_string(requested) + " > limit " +
         std::to_string(limit) + " (ResourceQuota " + quota_name + ")";
}

std::optional<QuotaViolation> CheckQuotas(const std::string& ns,
                                          std::span<const ResourceQuotaLimits> quotas,
                                          const std::map<std::string, int64_t>& factors,
                                          const QuotaAmounts& used, const QuotaAmounts& requested) {
  for (const auto& [resource, amount] : requested) {
    if (amount <= 0) continue;
    const int64_t in_use = AmountOf(used, resource);
    const int64_t total = SaturatingAdd(in_use, amount);
    std::optional<QuotaViolation> worst;  // the smallest limit exceeded
    for (const ResourceQuotaLimits& q : quotas) {
      auto limit = q.limits.find(resource);
      if (limit == q.limits.end()) continue;
      const int64_t cap = SaturatingMul(limit->second, FactorOf(factors, resource));
      if (total <= cap || (worst && worst->limit <= cap)) continue;
      worst = QuotaViolation{ns, kQuotaKeyPrefix + resource, q.name, in_use, amount, cap};
    }
    if (worst) return worst;
  }
  return std::nullopt;
}

QuotaTracker::QuotaTracker(const VendorRegistry& registry) : registry_(registry) {
  for (const Vendor* vendor : registry.Vendors()) {
    const VendorResourceNames& names = vendor->ResourceNames();
    if (!names.memory.empty()) {
      managed_.push_back(names.memory);
      factors_[names.memory] = std::max<int64_t>(1, vendor->MemoryFactor());
    }
    if (!names.cores.empty()) managed_.push_back(names.cores);
  }
}

Result<std::vector<std::string>> QuotaTracker::Apply(const nlohmann::json& quota) {
  std::vector<std::string> warnings;
  HAMI_ASSIGN_OR_RETURN(ResourceQuotaLimits parsed, ParseResourceQuota(quota, managed_, &warnings));
  std::lock_guard<std::mutex> lock(mu_);
  auto& in_ns = quotas_[parsed.ns];
  if (parsed.limits.empty()) {
    // Nothing of ours (any more): an update may have dropped the keys.
    in_ns.erase(parsed.name);
    if (in_ns.empty()) quotas_.erase(parsed.ns);
  } else {
    const std::string name = parsed.name;
    in_ns[name] = std::move(parsed);
  }
  return warnings;
}

void QuotaTracker::Remove(const nlohmann::json& quota) {
  const std::string ns(kube::StringAt(quota, {"metadata", "namespace"}));
  const std::string name(kube::StringAt(quota, {"metadata", "name"}));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = quotas_.find(ns);
  if (it == quotas_.end()) return;
  it->second.erase(name);
  if (it->second.empty()) quotas_.erase(it);
}

std::vector<ResourceQuotaLimits> QuotaTracker::InNamespace(const std::string& ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ResourceQuotaLimits> out;
  auto it = quotas_.find(ns);
  if (it == quotas_.end()) return out;
  for (const auto& [name, q] : it->second) out.push_back(q);
  return out;
}

std::map<std::string, QuotaLimit> QuotaTracker::Limits(const std::string& ns) const {
  std::map<std::string, QuotaLimit> out;
  for (const ResourceQuotaLimits& q : InNamespace(ns)) {
    for (const auto& [resource, limit] : q.limits) {
      auto it = out.find(resource);
      if (it == out.end() || limit < it->second.limit) out[resource] = QuotaLimit{q.name, limit};
    }
  }
  return out;
}

bool QuotaTracker::HasQuotas(const std::string& ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  return quotas_.count(ns) > 0;
}

QuotaAmounts QuotaTracker::Usage(const UsageLedger& ledger, const std::string& ns) const {
  QuotaAmounts out;
  for (const PodAllocation& pod : ledger.PodsInNamespace(ns)) {
    for (const auto& [resource, amount] : PodQuotaUsage(registry_, pod)) {
      AddAmount(out, resource, amount);
    }
  }
  return out;
}

std::optional<QuotaViolation> QuotaTracker::Check(const UsageLedger& ledger, const std::string& ns,
                                                  const QuotaAmounts& requested) const {
  const std::vector<ResourceQuotaLimits> quotas = InNamespace(ns);
  if (quotas.empty()) return std::nullopt;
  return CheckQuotas(ns, quotas, factors_, Usage(ledger, ns), requested);
}

std::vector<QuotaStatus> QuotaTracker::Statuses(const std::vector<PodAllocation>& pods) const {
  std::map<std::pair<std::string, std::string>, QuotaStatus> rows;
  for (const PodAllocation& pod : pods) {
    for (const auto& [resource, amount] : PodQuotaUsage(registry_, pod)) {
      QuotaStatus& row = rows[{pod.ns, resource}];
      row.ns = pod.ns;
      row.resource = resource;
      row.used = SaturatingAdd(row.used, amount);
    }
  }
  std::vector<std::string> namespaces;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [ns, by_name] : quotas_) namespaces.push_back(ns);
  }
  for (const std::string& ns : namespaces) {
    for (const auto& [resource, limit] : Limits(ns)) {
      QuotaStatus& row = rows[{ns, resource}];
      row.ns = ns;
      row.resource = resource;
      row.limit = limit;
    }
  }
  std::vector<QuotaStatus> out;
  out.reserve(rows.size());
  for (auto& [key, row] : rows) out.push_back(std::move(row));
  return out;
}

QuotaGate::QuotaGate(const QuotaTracker& tracker, const UsageLedger& ledger, const Vendor& vendor,
                     const std::string& ns, const policy::PodRequest& request)
    : tracker_(&tracker), vendor_(&vendor), ns_(ns), request_(&request) {
  const VendorResourceNames& names = vendor.ResourceNames();
  for (ResourceQuotaLimits& q : tracker.InNamespace(ns)) {
    if (q.limits.count(names.memory) || q.limits.count(names.cores))
      quotas_.push_back(std::move(q));
  }
  active_ = !quotas_.empty();
  if (active_) used_ = tracker.Usage(ledger, ns);
}

std::vector<uint32_t> QuotaGate::Allowed(std::span<const policy::NodeState> nodes,
                                         std::span<const uint32_t> picks,
                                         std::map<std::string, std::string>* failed_nodes) const {
  std::vector<uint32_t> out;
  out.reserve(picks.size());
  // Nodes mostly share a few device sizes: one bound per (smallest device, MIG present).
  std::map<std::pair<int64_t, bool>, bool> fits_by_shape;
  for (uint32_t slot : picks) {
    const policy::NodeState& node = nodes[slot];
    int64_t smallest = 0;
    bool cores_known = true;
    for (const DeviceUsage& d : node.devices) {
      if (smallest == 0 || d.info.devmem_mib < smallest) smallest = d.info.devmem_mib;
      if (d.info.mode == kModeMig) cores_known = false;
    }
    auto [it, fresh] = fits_by_shape.try_emplace({smallest, cores_known}, true);
    if (fresh) {
      const QuotaAmounts least =
          RequestQuotaLowerBound(vendor_->ResourceNames(), request_->containers,
                                 request_->init_containers, smallest, cores_known);
      it->second = !CheckQuotas(ns_, quotas_, tracker_->factors(), used_, least).has_value();
    }
    if (it->second) {
      out.push_back(slot);
    } else if (failed_nodes != nullptr) {
      (*failed_nodes)[node.name] = NodeReason(node);
    }
  }
  return out;
}

std::optional<QuotaViolation> QuotaGate::CheckPlacement(const PodDevices& devices) const {
  if (!active_) return std::nullopt;
  PodAllocation pod;
  pod.init_containers = request_->init_containers;
  pod.by_vendor[std::string(vendor_->CommonWord())] = devices;
  // The registry maps the vendor key back to this vendor's resource names.
  return CheckQuotas(ns_, quotas_, tracker_->factors(), used_,
                     PodQuotaUsage(tracker_->registry(), pod));
}

std::string QuotaGate::NodeReason(const policy::NodeState& node) {
  policy::FitFailure failure;
  failure.total_devices = static_cast<int32_t>(node.devices.size());
  failure.counts[static_cast<size_t>(policy::FitReason::kResourceQuotaNotFit)] =
      std::max<int32_t>(1, failure.total_devices);
  if (failure.total_devices == 0) failure.total_devices = 1;
  return failure.ToString();
}

}  // namespace hami::scheduler
