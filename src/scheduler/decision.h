// The pod patch that records a scheduling decision (spec §2.4, §3.3 step 5): hami.io/vgpu-node,
// hami.io/vgpu-time, each vendor's devices-to-allocate and devices-allocated strings, the MIG
// reservations, and the label hami.io/vgpu-node. /filter only decides (in the ledger); /bind
// writes this patch before it takes the node lock, so the device plugin and a restarted
// scheduler find the decision on the pod.
// Pure: no I/O. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "device/vendor.h"
#include "scheduler/ledger.h"

namespace hami::scheduler {

// The JSON merge patch for `allocation` (vendors are looked up by key in `registry`; an
// unknown vendor key is skipped). hami.io/vgpu-time is allocation.decided_unix_seconds. The
// MIG annotation is set when the devices use MIG instances and removed (null) otherwise, so a
// re-decision off MIG drops a stale one.
nlohmann::json DecisionPatch(const VendorRegistry& registry, const PodAllocation& allocation);

// The patch that withdraws a decision from a pod whose bind failed (node lock taken by
// another pod, Binding refused): removes what DecisionPatch wrote and sets bind-phase
// "failed", so neither a restarted scheduler nor the device plugin sees a reservation for a pod
// that runs nowhere. kube-scheduler filters the pod again.
nlohmann::json WithdrawDecisionPatch(const VendorRegistry& registry,
                                     const PodAllocation& allocation);

}  // namespace hami::scheduler
