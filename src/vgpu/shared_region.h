// HAMi-core's shared region (spec hami-core.md §3): one file per container, mmap'd by every
// process that loads libvgpu.so and by the host monitor, byte-compatible with upstream v1.2
// (region_layout.h). It holds the per-device limits and one slot of memory counters per process.
//
// What we do differently from upstream, and why it is safe:
//  * Charging is exact across processes. "container usage + bytes <= limit" and the charge to our
//    slot happen under one cross-process lock, taken with a process-local mutex held: a robust
//    process-shared mutex in a sidecar file (region_mutex.h: no system call when uncontended)
//    for regions created with one, else an fcntl() write lock on the byte at layout::kLockOffset
//    (just past the struct; open-file-description based where the kernel supports it). Every
//    change to any slot's counters is made under that lock, so the sum read under it is exact and
//    no interleaving of charges can overshoot the limit by a byte. A holder that dies, even by
//    SIGKILL, never leaves the region locked: the kernel releases a record lock with its owner
//    and marks a robust mutex owner-dead, whereupon the next holder repairs the slot totals the
//    dead one may have left half-written (upstream's semaphore needed a 10 s timeout and an
//    owner-pid heuristic).
//  * Dead processes' charges are reclaimed in place: a slot whose owner is gone (sys::ProcessGone)
//    is zeroed and freed under the lock. Slots never move (upstream compacted the array while
//    owners kept writing through cached pointers) and proc_num stays a high-water mark, so the Go
//    monitor still finds every live slot in procs[0, proc_num).
//  * Nothing here calls exit(): failures are Status values, and a corrupt, foreign or truncated
//    file is refused (validated with fstat before mmap; proc_num is never trusted). The caller
//    then falls back to SharedRegion::Private(), which keeps limits within the process.
//
// Assumptions: all processes that share a file share a pid namespace (true for one container;
// HAMi gives each container its own file); at most one registered SharedRegion per process per
// file (a second one would reuse, and reset, the first one's slot).
//
// Thread-safety: every method may be called from any thread unless noted. Methods that take the
// region lock may block while another process holds it (for microseconds: critical sections do no
// I/O except liveness checks of slot owners). SetOwnStatus() and the plain field accessors are
// lock-free and async-signal-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vgpu/env.h"
#include "vgpu/region_layout.h"
#include "vgpu/region_mutex.h"
#include "vgpu/status.h"
#include "vgpu/sys_util.h"

namespace hami::vgpu {

using layout::ChargeKind;

// What the creator of a region writes into it (later openers only compare; first creator wins).
struct RegionInit {
  std::array<uint64_t, kMaxDevices> memory_limit_bytes{};  // 0 = unlimited
  std::array<uint64_t, kMaxDevices> sm_limit_percent{};    // as stored: 100 = unthrottled
  int32_t priority = kDefaultTaskPriority;
};

// Limits and priority from the environment, indexed like upstream (by the device index the
// variables name). An unthrottled SM limit is stored as 100, as upstream does.
RegionInit RegionInitFromEnv(const EnvConfig& env);

// Checks a mapped region that claims to be initialised: magic, version 1.2, 0 <= proc_num <=
// 1024, device_num <= 16, memory limits <= 64 PiB, SM limits <= 100, slot pids >= 0. Returns
// kCorrupt with the first problem found.
Status ValidateRegion(const layout::Region& region);

// One sample of per-process device usage from NVML, keyed by host pid.
struct ProcessSample {
  int32_t host_pid = 0;
  uint64_t used_bytes = 0;
  uint32_t sm_util_percent = 0;
};

class SharedRegion {
 public:
  // Opens the region file at `path`, creating and initialising it from `init` if it is new (size
  // 0) or was never initialised (magic 0, e.g. its creator died midway). An existing region keeps
  // its creator's limits; differences from `init` are reported in warnings(). Does not register
  // this process (Register(), TryCharge() and SetHostPid() do, lazily).
  // Errors: kIoError (open/ftruncate/mmap/fcntl), kCorrupt (not a regular file, wrong size,
  // foreign magic, wrong version, implausible fields). Never crashes on a hostile file.
  static Result<std::unique_ptr<SharedRegion>> Open(const std::string& path,
                                                    const RegionInit& init);
  // A region in private anonymous memory with the same API: limits hold within this process only.
  // For when Open() fails. Errors: kIoError if the anonymous mapping fails.
  static Result<std::unique_ptr<SharedRegion>> Private(const RegionInit& init);

  // Frees this process's slot (as Unregister) if it still owns one, then unmaps. Libvgpu should
  // instead leak its instance and call Unregister() from atexit: other threads may still be
  // inside a hook while static destructors run.
  ~SharedRegion();
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;

  // --- process slot ------------------------------------------------------------------------
  // Makes sure this process owns a slot: reuses one that carries our pid (a stale slot from a
  // previous image of this pid, zeroed), else a free one (pid 0, or a dead owner's, reclaimed),
  // else appends. Idempotent. kNoFreeSlot when all 1024 slots belong to live processes.
  Status Register();
  // Releases this process's charges and frees its slot (pid 0, status 0). For the atexit handler.
  // OK when not registered. A forked child never touches its parent's slot.
  Status Unregister();
  // Frees the slots of dead owners, releasing their charges. Returns how many were freed.
  // Called automatically at registration and when a charge would fail.
  int ReclaimDead();

  // --- accounting --------------------------------------------------------------------------
  // Charges `bytes` on device `dev` (0..15, the index the caller also uses for limit()) to this
  // process's slot, `kind` choosing the typed counter, if and only if the container's usage plus
  // `bytes` stays <= limit(dev) (limit 0 = unlimited: always charged). Check and charge are atomic
  // across processes. If the charge would not fit, dead owners are reclaimed and it is tried once
  // more. Registers lazily. Errors: kOutOfMemory (message has usage, request and limit),
  // kInvalidArgument (bad dev/kind, counter overflow), kNoFreeSlot, kIoError (lock failed).
  Status TryCharge(int dev, uint64_t bytes, ChargeKind kind);
  // Charges `bytes` without the limit check, for memory the device already holds (a pool that
  // grew, context memory measured after the fact): the container's usage then shows it, and
  // every later TryCharge is refused until it is back under the limit. Errors as TryCharge,
  // never kOutOfMemory.
  Status ForceCharge(int dev, uint64_t bytes, ChargeKind kind);
  // Sets this process's `kind` counter on `dev` to `bytes` (its total follows), without the
  // limit check: for a quantity re-measured as a whole (context memory). Registers lazily.
  Status SetOwnCharge(int dev, ChargeKind kind, uint64_t bytes);
  // This process's `kind` counter on `dev` (0 when unregistered or dev is bad).
  uint64_t OwnCharge(int dev, ChargeKind kind);
  // Returns `bytes` charged earlier with the same dev and kind. A counter never goes below 0: an
  // uncharge larger than what is charged clamps and returns kInvalidArgument (a bookkeeping bug
  // worth logging). kInvalidArgument also when nothing was ever charged by this process.
  Status Uncharge(int dev, uint64_t bytes, ChargeKind kind);
  // The container's usage of `dev` in bytes: the sum over occupied slots, read under the region
  // lock, so it is exact with respect to charges (a dead owner's charges count until reclaimed).
  // 0 for a bad dev.
  uint64_t Usage(int dev);
  // Lock-free estimate of Usage() through the slots' seqlocks, as a monitor would read it.
  uint64_t UsageSnapshot(int dev) const;
  // This process's own charged bytes on `dev` (0 when unregistered or dev is bad).
  uint64_t ProcessUsage(int dev);

  // --- limits and monitor-shared fields (lock-free; 0 for a bad dev) ------------------------
  uint64_t limit(int dev) const;           // bytes, 0 = unlimited; the host monitor may change it
  uint64_t sm_limit(int dev) const;        // percent; 0 or >= 100 = unthrottled
  void SetLimit(int dev, uint64_t bytes);  // monitor-side and test use
  void SetSmLimit(int dev, uint64_t percent);
  int32_t priority() const;
  int32_t utilization_switch() const;  // 1 = throttle
  void SetUtilizationSwitch(int32_t value);
  int32_t recent_kernel() const;  // < 0: the monitor blocks launches
  void SetRecentKernel(int32_t value);
  // Stores `value` (> 0: "launched recently", for the monitor) unless recent_kernel is negative
  // (the monitor is blocking launches), atomically, so activity never overwrites a block.
  void MarkKernelActivity(int32_t value);
  uint64_t last_kernel_time() const;  // unix seconds
  // Raises last_kernel_time to now_s (never lowers it). Lock-free; for the launch path.
  void StampKernelTime(uint64_t now_s);

  // --- devices (written at NVML init) ---------------------------------------------------------
  // Records the device count and UUIDs (at most 16; each truncated to 95 bytes). kInvalidArgument
  // for more than 16.
  Status SetDevices(std::span<const std::string_view> uuids);
  uint64_t device_num() const;
  std::string Uuid(int dev) const;  // "" for a bad dev

  // --- this process's slot fields -------------------------------------------------------------
  // Records the host pid (as NVML reports it) in this process's slot. Registers lazily.
  Status SetHostPid(int32_t host_pid);
  int32_t host_pid() const;  // 0 when unknown or unregistered
  // Suspend/resume state of this process (layout::kSlotRunning / kSlotSuspended). The setter is
  // async-signal-safe (for the SIGUSR1/SIGUSR2 handlers) and does nothing when unregistered.
  void SetOwnStatus(int32_t status);
  int32_t own_status() const;  // kSlotRunning when unregistered

  // Utilization watcher write-back for `dev`: every occupied slot gets the sample whose host_pid
  // matches its hostpid (monitorused, sm_util), or zeros. Returns the sum of sm_util over this
  // container's processes (the controller's input). 0 for a bad dev.
  uint64_t PublishUtilization(int dev, std::span<const ProcessSample> samples);

  // --- host-PID discovery serialisation (upstream's sem_postinit) ------------------------------
  // Held while one process of the container diffs NVML's process list; released on destruction.
  class HostPidLock {
   public:
    HostPidLock(HostPidLock&& other) noexcept;
    HostPidLock& operator=(HostPidLock&&) = delete;
    ~HostPidLock();

   private:
    friend class SharedRegion;
    HostPidLock(SharedRegion* owner, uint32_t generation)
        : owner_(owner), generation_(generation) {}
    SharedRegion* owner_;
    uint32_t generation_;
  };
  // Waits up to timeout_ms (< 0: forever; 0: one try) for the lock. kTimeout when it expires.
  Result<HostPidLock> LockHostPidDiscovery(int timeout_ms);

  // --- fork (call from pthread_atfork handlers) ------------------------------------------------
  // prepare: holds the process mutex so no thread is inside a critical section at fork().
  void PrepareFork();
  // parent: releases what PrepareFork took.
  void AfterForkParent();
  // child (precondition: PrepareFork ran in the parent): forgets the parent's slot (the child
  // charges nothing until it registers its own, lazily), reopens the file so the child's record
  // locks are its own, and releases the mutex. A private region drops the parent's slots.
  void AfterForkChild();

  // --- introspection -------------------------------------------------------------------------
  bool created() const { return created_; }  // this call initialised the region
  bool is_private() const { return fd_ < 0; }
  // The region lock is the sidecar's robust mutex (false: the fcntl record lock, or none).
  bool uses_fast_lock() const { return mutex_ != nullptr; }
  const std::string& path() const { return path_; }  // "" when private
  // Open-time notes for the caller to log (limit inconsistencies between env and region).
  const std::vector<std::string>& warnings() const { return warnings_; }
  // The mapping, for readers that know the layout (monitor, tests). Fields change concurrently.
  const layout::Region& raw() const { return *region_; }
  int own_slot() const { return slot_.load(std::memory_order_acquire); }  // -1 if none

 private:
  class Guard;  // process mutex + region record lock

  SharedRegion(layout::Region* region, int fd, std::string path, bool created);
  Status EnsureRegisteredLocked();  // REQUIRES(mu_ and region lock)
  Status Charge(int dev, uint64_t bytes, ChargeKind kind, bool check_limit);
  int ReclaimLocked();  // REQUIRES(mu_ and region lock)
  uint64_t SumUsageLocked(int dev) const;
  void ReleaseSlotLocked(int index);
  void ForgetParentLocked();  // REQUIRES(mu_): this is a forked child; drop the parent's state
  void RepairAfterOwnerDeathLocked();  // REQUIRES(region lock): its previous holder died in it
  void ReopenAfterForkLocked();        // REQUIRES(mu_)
  void ReleaseHostPidLock(uint32_t generation);

  layout::Region* const region_;  // kRegionBytes mapping; owned
  int fd_;                        // -1 for a private region; replaced after fork
  const std::string path_;
  const bool created_;
  std::vector<std::string> warnings_;

  std::mutex mu_;              // serialises this process's threads around the region lock
  std::atomic<int> slot_{-1};  // our slot index; written under mu_, read lock-free
  // The process this instance's open file and slot belong to; differs from getpid() in a child
  // forked without our PrepareFork/AfterForkChild calls, which the region guard then repairs
  // (it notices through fork_epoch_seen_, which costs no system call). GUARDED_BY(mu_)
  pid_t opener_pid_;
  uint64_t fork_epoch_seen_;  // GUARDED_BY(mu_): sys::ForkEpoch() when opener_pid_ was set
  std::unique_ptr<RegionMutex> mutex_;  // the region lock when the region has one (else fcntl)
  uint64_t start_tag_;                  // GUARDED_BY(mu_): our slot's owner tag (sys::SelfStartTag)
  sys::LockMode lock_mode_ = sys::LockMode::kOfd;  // GUARDED_BY(mu_)
  std::atomic<bool> host_pid_busy_{false};
  std::atomic<uint32_t> fork_generation_{0};
  sys::LockMode host_pid_lock_mode_ = sys::LockMode::kOfd;  // used by the HostPidLock holder
};

}  // namespace hami::vgpu
