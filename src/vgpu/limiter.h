// The compute-share limiter's logic (spec hami-core.md §4), pure: no clocks, no threads, no
// driver. libvgpu's watcher thread (src/vgpu/hook/compute.cc) feeds it NVML's measured
// utilisation and applies its answer to the launch path.
//
// Design, and why it differs from HAMi-core:
//  * Budget units are "cost units" per launch: the grid's block count for a kernel (as
//    upstream), 1 for a graph launch. Their worth in GPU time is never assumed; the controller
//    learns it from the measurement, so any unit that grows with the work is good enough.
//  * TokenBucket: refills at `rate` units per second up to a capacity of `burst_s` seconds of
//    refill; a launch may start when the level is >= 0 and then takes its whole cost (so the
//    level may go negative by one launch, which the next launch waits out: a launch larger
//    than the capacity is never starved).
//  * ShareController: every tick it compares the container's measured utilisation u (summed
//    over the container's processes, from NVML) with the limit L and scales the refill rate:
//        rate <- rate * clamp(1 + gain * (L - u) / L, 1/max_step, max_step).
//    That is an integral controller in the rate (a multiplicative one), so in steady state the
//    *mean* measured utilisation equals L whatever a unit costs and whatever other containers
//    do to the queueing delay; with gain 0.5 a step error halves every tick. The first rate is
//    fed forward from the first measurement (units launched per second x L / u), so the loop
//    starts close. HAMi-core instead adds a proportional increment to a refill amount with a
//    bucket that can double without bound, and measures 46/54 % for a 30/70 split.
//  * Anti-windup: the rate only grows when the budget actually held a launch back during the
//    tick. A process that idles (or is held back by contention on the GPU rather than by its
//    budget) keeps its rate instead of accumulating an unbounded one it could burst with later.
//  * Several processes in one container each run a controller on the same container-wide error,
//    so they all scale by the same factor and the container's sum converges on L.
//
// Thread-compatibility: plain values; the caller serialises access.
#pragma once

#include <cstdint>

namespace hami::vgpu {

struct LimiterTuning {
  double gain = 0.5;       // fraction of the relative error corrected per tick
  double max_step = 2.0;   // the rate changes by at most this factor per tick
  double burst_s = 0.03;   // bucket capacity, in seconds of refill
  double min_rate = 1.0;   // units per second; the rate never falls below (no starvation)
  double max_rate = 1e12;  // units per second
};

// A token bucket over explicit time (µs, any monotonic origin).
class TokenBucket {
 public:
  // Rate 0 = no budget known yet: every launch passes (and is counted).
  TokenBucket() = default;

  // Sets the refill rate (units/s, >= 0) and capacity (seconds of refill) from `now_us` on.
  // The level accrued so far is kept, clamped to the new capacity.
  void SetRate(double units_per_s, double burst_s, int64_t now_us);

  // Takes `cost` units if the level allows a launch now (level >= 0) and returns 0; else
  // returns the µs to wait before the level is back to 0 (>= 1) and takes nothing.
  int64_t TryTake(double cost, int64_t now_us);

  double rate() const { return rate_; }
  double level() const { return level_; }

  // What happened since the last call (for the controller), then reset: the units taken and
  // whether any TryTake had to wait.
  double TakeUnitsSinceLastTick();
  bool TakeThrottledSinceLastTick();

 private:
  void Refill(int64_t now_us);

  double rate_ = 0;      // units per second; 0 = unlimited
  double capacity_ = 0;  // units
  double level_ = 0;     // units; may be negative by at most one launch
  int64_t last_us_ = 0;
  double units_ = 0;
  bool throttled_ = false;
};

// The feedback loop that sets a bucket's rate (see the header comment).
class ShareController {
 public:
  // limit_percent in (0, 100).
  explicit ShareController(double limit_percent, LimiterTuning tuning = {});

  // One tick. `util_percent`: the container's measured utilisation of the device over the
  // tick's window (may exceed 100 when summed per process; < 0 = no measurement, ignored);
  // `window_s` > 0: the window's length; `units`: the cost units this process launched in the
  // window; `throttled`: whether this process's budget held a launch back in it. Returns the
  // new rate in units per second (0 while no estimate exists: the bucket then lets all pass).
  double Update(double util_percent, double window_s, double units, bool throttled);

  double rate() const { return rate_; }
  double limit_percent() const { return limit_; }
  const LimiterTuning& tuning() const { return tuning_; }

 private:
  double limit_;
  LimiterTuning tuning_;
  double rate_ = 0;
};

}  // namespace hami::vgpu
