#include "scheduler/node_health.h"

#include "device/codec.h"

namespace hami::scheduler {

HandshakeDecision DecideHandshake(const std::optional<std::string>& value, int64_t now_unix_seconds,
                                  int64_t allocatable, int32_t utc_offset_seconds) {
  HandshakeDecision decision;
  const Handshake handshake =
      value ? ParseHandshake(*value, utc_offset_seconds) : Handshake{HandshakeKind::kNone, {}};
  if (handshake.kind != HandshakeKind::kRequesting) {
    decision.write_requesting = true;
    decision.reason = value ? "asking the device plugin again (was \"" + *value + "\")"
                            : "asking the device plugin for the first time";
    return decision;
  }
  if (!handshake.unix_seconds) {
    decision.reason = "handshake time unreadable; treated as healthy";
    return decision;
  }
  if (!HandshakeRequestExpired(handshake, now_unix_seconds)) {
    decision.reason = "handshake requested " +
                      std::to_string(now_unix_seconds - *handshake.unix_seconds) + "s ago";
    return decision;
  }
  if (allocatable > 0) {
    decision.reason = "node still advertises " + std::to_string(allocatable) + " devices";
    return decision;
  }
  decision.healthy = false;
  decision.cleanup = true;
  decision.reason = "no answer to the handshake for " +
                    std::to_string(now_unix_seconds - *handshake.unix_seconds) +
                    "s and no allocatable devices: device plugin considered gone";
  return decision;
}

AllocatableTracker::Observation AllocatableTracker::Observe(const std::string& node,
                                                            int64_t allocatable,
                                                            const std::string& registration) {
  Observation observation;
  auto it = seen_.find(node);
  if (it == seen_.end()) {
    seen_[node] = Seen{allocatable, registration};
    observation.changed = true;
    observation.healthy = allocatable > 0;
    return observation;
  }
  if (allocatable == 0 && it->second.allocatable > 0) {
    observation.healthy = false;
    observation.reason = "allocatable count fell to 0";
  } else if (allocatable == 0) {
    observation.healthy = false;  // still nothing reported
  }
  observation.changed =
      allocatable != it->second.allocatable || registration != it->second.registration;
  it->second = Seen{allocatable, registration};
  return observation;
}

void AllocatableTracker::Forget(const std::string& node) { seen_.erase(node); }

}  // namespace hami::scheduler
