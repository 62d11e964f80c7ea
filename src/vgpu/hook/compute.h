// The compute-share limiter's glue (spec hami-core.md §4): the launch gate the launch hooks
// test, the launch path's wait for budget, and the watcher thread that measures the container's
// utilisation through NVML and runs the controller (src/vgpu/limiter.h).
//
// Launch path: LaunchUnlimited() is one relaxed load of a process-wide byte and a compare; when
// it answers true (no device limited, policy disable, or the monitor's switch off) the hook tail
// calls the driver with no lock, syscall or allocation. Otherwise ThrottleLaunch() runs first:
// it honours the monitor's priority block (region recent_kernel < 0), stamps activity for the
// monitor at most once per RECORD_KERNEL_INTERVAL, and sleeps in steps of at most 2 ms until the
// device's token bucket allows the launch.
//
// Watcher (one detached thread, started at initialisation when some device has
// 0 < sm_limit < 100 and the policy is not disable): first discovers this process's host pid
// (NVML process-list diff under the region's discovery lock; see compute.cc), then every
// kTickMs reads NVML's per-process utilisation since its previous read, publishes it to the
// region (which sums it over the container's processes) and sets the bucket's rate from the
// controller. Without a host pid the budget is not applied (logged), as upstream.
//
// Thread-safety: everything here may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

#include "vgpu/env.h"

namespace hami::vgpu {
class SharedRegion;
}

namespace hami::vgpu::hook {

enum LaunchGate : uint8_t {
  kGateUnknown = 0,  // not initialised yet: take the slow path once
  kGateOpen = 1,     // nothing limits launches in this process
  kGateLimited = 2,  // some device is limited: look at the device
};

extern std::atomic<uint8_t> launch_gate;
extern std::atomic<int64_t> last_launch_stamp_s;

inline bool LaunchUnlimited() { return launch_gate.load(std::memory_order_relaxed) == kGateOpen; }

// Stamps the region's last_kernel_time (and recent activity) for the monitor, once a second:
// time() is read through the vDSO (no system call) and compared with the last stamp.
__attribute__((noinline, cold)) void StampLaunch(int64_t now_s);
inline void NoteLaunch() {
  const int64_t now_s = static_cast<int64_t>(::time(nullptr));
  if (__builtin_expect(now_s != last_launch_stamp_s.load(std::memory_order_relaxed), 0)) {
    StampLaunch(now_s);
  }
}

// The slow path of a launch of `cost` units (grid blocks; 1 for a graph) on the calling
// thread's current device: returns when the launch may proceed.
__attribute__((noinline, cold)) void ThrottleLaunch(double cost);

// Called once from the Enforcer's initialisation (region may be null: nothing is limited).
void StartCompute(SharedRegion* region, const EnvConfig& env);
// From the pthread_atfork child handler: the watcher thread did not survive the fork.
void ComputeAfterForkChild();

// Finds this process's host pid (as NVML reports it) on a background thread and records it in
// its region slot, so that NVML process lists can be narrowed to the container's processes.
// For processes the watcher does not serve (no compute limit; the watcher finds it itself
// otherwise). Call after a successful cuInit; again in a forked child.
void StartHostPidDiscovery(SharedRegion* region);

}  // namespace hami::vgpu::hook
