// The Web UI's memory of /filter decisions (issue 19): the last N decisions, per pod, with the
// per-node failure reasons the filter already computed, so the UI can say why a pod is pending.
//
// Recording is on the /filter hot path, so it stores structs only (no JSON, no string parsing):
// one mutex-guarded slot write per decision, O(1); the previous occupant of the slot is freed
// outside the lock. Rendering (parsing reasons into codes, plain words, JSON) happens on the
// UI's GET requests (ui_api.h).
//
// Reason codes are the names kube-scheduler shows in FailedNodes (policy::FitReasonName: HAMi's
// "<cnt>/<total> <Reason>, ..."), plus two the extender writes as plain text: NodeUnregistered
// ("node unregistered") and InsufficientHostResources ("Insufficient host resources").
// Anything else parses as code "Unknown" carrying the raw text.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "device/device.h"
#include "device/vendor.h"

namespace hami::scheduler {

// One /filter answer about one pod.
struct DecisionRecord {
  std::string uid, ns, name;
  int64_t at_unix_seconds = 0;
  // The vendor key the pod asks for ("NVIDIA"); empty when the filter failed before knowing.
  std::string vendor;
  // The pod's device request per container (init containers first), as the filter built it.
  std::vector<ContainerDeviceRequest> request;
  int init_containers = 0;
  int32_t nodes_evaluated = 0;        // candidate nodes kube-scheduler sent
  std::vector<std::string> feasible;  // the chosen node (the extender answers one) or none
  std::map<std::string, std::string> failed_nodes;  // node -> FailedNodes text
  std::string error;                                // the filter's error, if any

  bool Placed() const { return !feasible.empty() && error.empty(); }
};

using DecisionPtr = std::shared_ptr<const DecisionRecord>;

// A bounded ring of decisions. Thread-safe (internal mutex). Records are immutable once recorded
// and shared with readers, so a read copies pointers, never the per-node reasons.
class DecisionLog {
 public:
  // Keeps the last `capacity` decisions (at least 1).
  explicit DecisionLog(size_t capacity);

  // Records a decision, overwriting the oldest when full. O(1) under the lock.
  void Record(DecisionRecord record);

  // The newest decision about the pod `ns`/`name`, if still in the ring.
  std::shared_ptr<const DecisionRecord> Latest(std::string_view ns, std::string_view name) const;

  // The newest decision per pod uid, newest first.
  std::vector<std::shared_ptr<const DecisionRecord>> LatestPerPod() const;

  size_t capacity() const { return slots_.size(); }
  // Decisions recorded since construction (not bounded by capacity).
  uint64_t recorded() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const DecisionRecord>> slots_;  // GUARDED_BY(mu_)
  uint64_t next_ = 0;  // GUARDED_BY(mu_): total recorded; slot = next_ % size
};

// One "<count>/<total> <Code>" item of a FailedNodes text.
struct ReasonCount {
  std::string code;   // FitReasonName, "NodeUnregistered", "InsufficientHostResources", "Unknown"
  int32_t count = 0;  // devices (or 1 for node-level reasons)
  int32_t total = 0;  // devices on the node; 0 when the reason is about the node as a whole
  std::string raw;    // the text it came from (set for "Unknown")
};

// Parses one node's FailedNodes text. Never fails: unparseable text gives one "Unknown" item.
std::vector<ReasonCount> ParseFailedNodeReason(std::string_view text);

// Every reason code ParseFailedNodeReason can return, in a fixed order (for tests and docs).
std::vector<std::string> AllReasonCodes();

// What the pod asked, for wording the reasons.
struct ReasonContext {
  int32_t count = 1;                // devices per container (the largest container)
  int64_t memory_mib = 0;           // per device; 0 = unset
  int32_t memory_percent = -1;      // per device; -1 = unset
  int32_t cores_percent = 0;        // per device
  VendorResourceNames names;        // the vendor's resource names ("nvidia.com/gpumem" ...)
  std::string vendor_word = "GPU";  // what to call a device in sentences
};

struct ReasonExplanation {
  std::string text;  // plain words: what is wrong on this node
  std::string hint;  // which request or annotation to change, or what to wait for
};

// Plain words and a hint for one reason item. Pure; total over every code of AllReasonCodes
// (and "Unknown", which repeats the raw text).
ReasonExplanation ExplainReason(const ReasonCount& reason, const ReasonContext& context);

}  // namespace hami::scheduler
