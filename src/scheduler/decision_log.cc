#include "scheduler/decision_log.h"

#include <algorithm>
#include <charconv>
#include <unordered_set>

#include "policy/fit.h"

namespace hami::scheduler {

DecisionLog::DecisionLog(size_t capacity) : slots_(std::max<size_t>(capacity, 1)) {}

void DecisionLog::Record(DecisionRecord record) {
  std::shared_ptr<const DecisionRecord> entry =
      std::make_shared<const DecisionRecord>(std::move(record));
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(slots_[next_ % slots_.size()], entry);
    ++next_;
  }
  // `entry` now holds the evicted decision: freed here (if no reader holds it), outside the lock.
}

uint64_t DecisionLog::recorded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_;
}

std::shared_ptr<const DecisionRecord> DecisionLog::Latest(std::string_view ns,
                                                          std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = std::min<uint64_t>(next_, slots_.size());
  for (size_t i = 1; i <= n; ++i) {
    const auto& r = slots_[(next_ - i) % slots_.size()];
    if (r->ns == ns && r->name == name) return r;
  }
  return nullptr;
}

std::vector<std::shared_ptr<const DecisionRecord>> DecisionLog::LatestPerPod() const {
  std::vector<std::shared_ptr<const DecisionRecord>> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t n = std::min<uint64_t>(next_, slots_.size());
    out.reserve(n);
    for (size_t i = 1; i <= n; ++i) out.push_back(slots_[(next_ - i) % slots_.size()]);
  }
  // Newest first; keep each uid's first (newest) record. Outside the lock: /filter never waits.
  std::unordered_set<std::string_view> seen;
  std::erase_if(out, [&](const auto& r) { return !seen.insert(r->uid).second; });
  return out;
}

namespace {

constexpr std::string_view kNodeUnregisteredText = "node unregistered";
constexpr std::string_view kHostText = "Insufficient host resources";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool IsFitReasonName(std::string_view code) {
  for (size_t i = 0; i < static_cast<size_t>(policy::FitReason::kCount); ++i) {
    if (policy::FitReasonName(static_cast<policy::FitReason>(i)) == code) return true;
  }
  return false;
}

// "<count>/<total> <Code>"; nullopt when the item is not of that shape.
std::optional<ReasonCount> ParseItem(std::string_view item) {
  const size_t slash = item.find('/');
  const size_t space = item.find(' ');
  if (slash == std::string_view::npos || space == std::string_view::npos || slash > space) {
    return std::nullopt;
  }
  ReasonCount r;
  const std::string_view count = item.substr(0, slash);
  const std::string_view total = item.substr(slash + 1, space - slash - 1);
  if (std::from_chars(count.data(), count.data() + count.size(), r.count).ec != std::errc() ||
      std::from_chars(total.data(), total.data() + total.size(), r.total).ec != std::errc()) {
    return std::nullopt;
  }
  r.code = std::string(Trim(item.substr(space + 1)));
  if (!IsFitReasonName(r.code)) return std::nullopt;
  return r;
}

std::string Domain(const VendorResourceNames& names) {
  const size_t slash = names.count.find('/');
  return slash == std::string::npos ? std::string("nvidia.com") : names.count.substr(0, slash);
}

std::string Or(const std::string& value, const char* fallback) {
  return value.empty() ? std::string(fallback) : value;
}

std::string Devices(int32_t count, const ReasonContext& c) {
  return std::to_string(count) + " " + c.vendor_word + (count == 1 ? "" : "s");
}

std::string Of(const ReasonCount& r, const ReasonContext& c) {
  if (r.total <= 0) return "";
  return " (" + std::to_string(r.count) + " of " + Devices(r.total, c) + ")";
}

std::string MemoryAsked(const ReasonContext& c) {
  if (c.memory_mib > 0) return std::to_string(c.memory_mib) + " MiB";
  if (c.memory_percent >= 0) return std::to_string(c.memory_percent) + "% of a card's memory";
  return "the memory asked";
}

}  // namespace

std::vector<ReasonCount> ParseFailedNodeReason(std::string_view text) {
  const std::string_view trimmed = Trim(text);
  if (trimmed == kNodeUnregisteredText) return {{"NodeUnregistered", 1, 0, ""}};
  if (trimmed == kHostText) return {{"InsufficientHostResources", 1, 0, ""}};
  std::vector<ReasonCount> out;
  std::string_view rest = trimmed;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    auto parsed = ParseItem(item);
    if (!parsed) return {{"Unknown", 1, 0, std::string(trimmed)}};
    out.push_back(std::move(*parsed));
  }
  if (out.empty()) return {{"Unknown", 1, 0, std::string(trimmed)}};
  return out;
}

std::vector<std::string> AllReasonCodes() {
  std::vector<std::string> out;
  for (size_t i = 0; i < static_cast<size_t>(policy::FitReason::kCount); ++i) {
    out.emplace_back(policy::FitReasonName(static_cast<policy::FitReason>(i)));
  }
  out.emplace_back("NodeUnregistered");
  out.emplace_back("InsufficientHostResources");
  out.emplace_back("Unknown");
  return out;
}

ReasonExplanation ExplainReason(const ReasonCount& r, const ReasonContext& c) {
  const std::string dom = Domain(c.names);
  const std::string mem = Or(c.names.memory, "the memory resource");
  const std::string mem_pct = Or(c.names.memory_percentage, "the memory-percentage resource");
  const std::string cores = Or(c.names.cores, "the cores resource");
  const std::string count = Or(c.names.count, "the device count resource");
  const std::string of = Of(r, c);
  const std::string& w = c.vendor_word;
  const std::string& code = r.code;
  if (code == "CardTypeMismatch") {
    return {"no " + w + " on this node is of a type the pod accepts" + of,
            "check the pod's " + dom + "/use-gputype and " + dom +
                "/nouse-gputype annotations against the node's " + w + " types"};
  }
  if (code == "CardUuidMismatch") {
    return {"the pod names specific " + w + "s by UUID and none of them is here" + of,
            "check the pod's " + dom + "/use-gpuuuid and " + dom + "/nouse-gpuuuid annotations"};
  }
  if (code == "CardTimeSlicingExhausted") {
    return {"every " + w + " already runs as many tasks as it may share" + of,
            "wait for pods on this node to finish, or raise the device plugin's "
            "deviceSplitCount"};
  }
  if (code == "CardComputeUnitsExhausted") {
    return {"a " + w + "'s compute is fully taken by exclusive or 100% core requests" + of,
            "lower " + cores + " on the other pods, or wait for them to finish"};
  }
  if (code == "CardInsufficientMemory") {
    return {"no " + w + " on this node has " + MemoryAsked(c) + " free" + of,
            "lower " + mem + " (or " + mem_pct + "), or wait for pods on this node to finish"};
  }
  if (code == "CardInsufficientCore") {
    return {"no " + w + " on this node has " + std::to_string(c.cores_percent) +
                "% of its cores free" + of,
            "lower " + cores + ", or wait for pods on this node to finish"};
  }
  if (code == "CardNotHealth") {
    return {"the " + w + " is reported unhealthy by the device plugin" + of,
            "nothing to change in the pod: the node's " + w +
                " must recover (check the device plugin's logs)"};
  }
  if (code == "CardCordoned") {
    return {"the " + w + " is cordoned (hami.io/device-cordon on the node)" + of,
            "an administrator must remove it from the node's hami.io/device-cordon annotation"};
  }
  if (code == "NumaNotFit") {
    return {"not enough suitable " + w + "s on one NUMA node" + of,
            "drop the numa-bind annotation or ask fewer devices with " + count};
  }
  if (code == "ExclusiveDeviceAllocateConflict") {
    return {"the " + w + " is shared, and an exclusive (100% cores) request cannot join it" + of,
            "lower " + cores + " below 100, or wait for the " + w + " to be idle"};
  }
  if (code == "NodeInsufficientDevice") {
    return {"the node has fewer usable " + w + "s than the " + std::to_string(c.count) +
                " asked per container" + of,
            "lower " + count + ", or use a node with more " + w + "s"};
  }
  if (code == "AllocatedCardsInsufficientRequest") {
    return {
        "fewer " + w + "s passed every check than the " + std::to_string(c.count) + " asked" + of,
        "lower " + count + " or the per-device " + mem + " / " + cores};
  }
  if (code == "CardMigTopologyInfeasible") {
    return {"no free MIG instance of a profile large enough is left on this " + w + of,
            "lower " + mem + " to fit a smaller MIG profile, or wait for MIG pods to finish"};
  }
  if (code == "ResourceQuotaNotFit") {
    return {"the pod would take its namespace over a ResourceQuota on " + mem + " or " + cores,
            "lower the request, free quota by deleting pods in the namespace, or raise the "
            "ResourceQuota's limits." +
                mem + " / limits." + cores};
  }
  if (code == "CardMigModeNotRequested") {
    return {"the " + w + " is in MIG mode and the pod does not ask for MIG" + of,
            "annotate the pod " + dom + "/vgpu-mode: mig, or use a node whose " + w +
                "s are not in MIG mode"};
  }
  if (code == "NodeUnregistered") {
    return {
        "the node has no registered devices (no device plugin, or it stopped answering "
        "the scheduler's handshake)",
        "check the device plugin on this node; nothing to change in the pod"};
  }
  if (code == "InsufficientHostResources") {
    return {"the node lacks the CPU or memory the pod requests",
            "lower the pod's cpu/memory requests"};
  }
  return {"the scheduler reported: " + (r.raw.empty() ? code : r.raw),
          "see the scheduler's log for this pod"};
}

}  // namespace hami::scheduler
