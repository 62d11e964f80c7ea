// HAMi's priority feedback loop (cmd/vGPUmonitor/feedback.go, spec §6), run by hami-monitor every
// 5 s over all containers of the node: it decides which containers libvgpu.so must pause (a
// higher-priority task is active on a shared device) and which must enforce their SM limit
// (another active task of the same or higher priority shares a device).
//
// Priorities: a lower number is a higher priority (HAMi uses 0 = high, 1 = low); any int32 works.
//
// Differences from HAMi, on purpose:
//  * blocking looks at every device of the container (HAMi's CheckBlocking returns after the
//    first device that has any active task, so a second shared device was ignored);
//  * priorities outside {0, 1} are counted, not an index-out-of-range panic;
//  * write-back of recent_kernel is a compare-and-swap from the value read, so a launch that
//    libvgpu.so records meanwhile is not overwritten by the decrement (HAMi stores blindly).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "monitor/region_reader.h"

namespace hami::monitor {

struct FeedbackInput {
  int32_t priority = 0;
  int32_t recent_kernel = 0;              // as read from the region
  int32_t utilization_switch = 0;         // as read
  std::vector<std::string> device_uuids;  // empty strings are ignored (unused device slot)
};

struct FeedbackOutput {
  int32_t recent_kernel = 0;       // new value: decayed, -1 (blocked) or 0 (released)
  int32_t utilization_switch = 0;  // 1 = enforce the SM limit
  bool active = false;             // recent_kernel was > 1 before the decay (still > 0 after)
  bool blocked = false;            // recent_kernel == -1 because of a higher-priority task
};

// One round of the loop; output[i] belongs to input[i]. Pure.
//  1. decay: recent_kernel > 0 is decremented; if still > 0 the container is active and counts
//     once at its priority on each of its (non-empty, distinct) device UUIDs;
//  2. blocked = some device of the container has an active task with a lower priority number;
//     then recent_kernel = -1, else a negative recent_kernel becomes 0;
//  3. utilization_switch = 1 if some device has an active task with a lower priority number, or
//     more than one active task at the container's own priority (itself included), else 0.
std::vector<FeedbackOutput> ComputeFeedback(const std::vector<FeedbackInput>& containers);

// The loop's input from an open region.
FeedbackInput FeedbackInputFrom(const MappedRegion& region);

// Writes one result into `region`, touching only recent_kernel and utilization_switch:
// recent_kernel by compare-and-swap from `input.recent_kernel` (skipped when unchanged; lost,
// returning false, when libvgpu.so changed it since the read: the next round sees the new value),
// utilization_switch stored when it differs from `input.utilization_switch`.
// Thread-safety: as MappedRegion; not meant to race another monitor.
bool ApplyFeedback(MappedRegion& region, const FeedbackInput& input, const FeedbackOutput& output);

}  // namespace hami::monitor
