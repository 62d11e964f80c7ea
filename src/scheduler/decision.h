// What records a scheduling decision on the pod (spec §2.4, §3.3 step 5). /filter only decides
// (in the ledger); /bind sends the annotations in the Binding itself, so the device plugin
// (which runs after the Binding) and a restarted scheduler find them on the pod, and the
// decision costs no write of its own.
// Pure: no I/O. Thread-safe.
#pragma once

#include "device/vendor.h"
#include "scheduler/ledger.h"

namespace hami::scheduler {

// The annotations that record `allocation` (vendors are looked up by key in `registry`; an
// unknown vendor key is skipped): hami.io/vgpu-node, hami.io/vgpu-time (=
// allocation.decided_unix_seconds), each vendor's to-allocate and allocated strings, and the
// MIG reservations when the devices use MIG instances.
Annotations DecisionAnnotations(const VendorRegistry& registry, const PodAllocation& allocation);

}  // namespace hami::scheduler
