// Whether a node's device plugin is alive, from the handshake annotation the scheduler owns
// (hami.io/node-handshake, spec §1.3) and the node's allocatable device count. Pure decisions;
// the registration loop applies them (patch the annotation, drop the node's devices).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace hami::scheduler {

struct HandshakeDecision {
  bool healthy = true;
  // Write "Requesting_<now>" (the plugin has not been asked yet, or answered).
  bool write_requesting = false;
  // Remove the handshake annotation and drop the node's devices of this vendor.
  bool cleanup = false;
  std::string reason;
};

// `value`: the handshake annotation (nullopt = absent); `allocatable`: the node's
// status.allocatable count of the vendor's count resource (nvidia.com/gpu; 0 when absent).
// A Requesting value younger than the grace period, or with an unreadable time, is healthy;
// an older one is healthy only while the node still advertises devices. Any other value
// (absent, Reported_, Deleted_) asks again.
HandshakeDecision DecideHandshake(const std::optional<std::string>& value, int64_t now_unix_seconds,
                                  int64_t allocatable, int32_t utc_offset_seconds);

// NVIDIA's extra check: the allocatable count dropping to 0 after it was positive means the
// plugin went away (kubelet zeroes its resources), even while a handshake is fresh.
// Not thread-safe; one per registration loop.
class AllocatableTracker {
 public:
  struct Observation {
    bool healthy = true;
    bool changed = false;  // the count or the registration string changed since last time
    // Why it is unhealthy: "allocatable count fell to 0" after a positive count; "" while
    // kubelet has not reported any device yet (a new node: nothing to warn about).
    std::string reason;
  };
  Observation Observe(const std::string& node, int64_t allocatable,
                      const std::string& registration);
  void Forget(const std::string& node);

 private:
  struct Seen {
    int64_t allocatable = 0;
    std::string registration;
  };
  std::map<std::string, Seen> seen_;
};

}  // namespace hami::scheduler
