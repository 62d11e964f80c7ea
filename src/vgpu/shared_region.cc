// SharedRegion's accounting: process slots, charges, reclaim, monitor-shared fields, the host-PID
// lock and fork. Opening and validating the file is in region_open.cc.
#include "vgpu/shared_region.h"

#include <unistd.h>

#include <cstring>
#include <ctime>

#include "vgpu/region_access.h"

namespace hami::vgpu {
namespace {

using namespace internal;  // NOLINT(google-build-using-namespace)

using layout::DeviceMemory;
using layout::ProcSlot;

// Seqlock writer protocol, as upstream: odd while `used` changes. Writers hold the region lock, so
// there is one writer per slot at a time; an odd value left by a writer that died is closed.
void SeqBegin(ProcSlot& s) {
  uint64_t v = Ld(s.seqlock, std::memory_order_relaxed);
  if ((v & 1) == 0) St(s.seqlock, v + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
}
void SeqEnd(ProcSlot& s) {
  uint64_t v = Ld(s.seqlock, std::memory_order_relaxed);
  St(s.seqlock, (v | 1) + 1, std::memory_order_release);
}

uint64_t& TypedCounter(DeviceMemory& m, ChargeKind kind) {
  switch (kind) {
    case ChargeKind::kContext:
      return m.context_size;
    case ChargeKind::kModule:
      return m.module_size;
    case ChargeKind::kData:
      break;
  }
  return m.data_size;
}

// Zeroes a slot's counters and utilization (not pid/status). Caller brackets with SeqBegin/End.
void ZeroCounters(ProcSlot& s) {
  for (int d = 0; d < kMaxDevices; ++d) {
    DeviceMemory& m = s.used[d];
    for (uint64_t* f : {&m.context_size, &m.module_size, &m.data_size, &m.offset, &m.total,
                        &m.unused[0], &m.unused[1], &m.unused[2]}) {
      St(*f, uint64_t{0}, std::memory_order_relaxed);
    }
    St(s.monitorused[d], uint64_t{0}, std::memory_order_relaxed);
    layout::DeviceUtil& u = s.device_util[d];
    for (uint64_t* f : {&u.dec_util, &u.enc_util, &u.sm_util}) {
      St(*f, uint64_t{0}, std::memory_order_relaxed);
    }
  }
}

bool SlotHasUsage(const ProcSlot& s) {
  for (int d = 0; d < kMaxDevices; ++d) {
    if (Ld(s.used[d].total, std::memory_order_relaxed) != 0) return true;
  }
  return false;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Guard: the process mutex, then the region lock (the sidecar mutex, or the record lock). A process
// that forked without PrepareFork/AfterForkChild is detected here (the fork epoch changed) and
// gets its own open file first, so its record lock cannot be shared with its parent's.

class SharedRegion::Guard {
 public:
  explicit Guard(SharedRegion* r) : r_(r), lock_(r->mu_) {
    if (r_->fork_epoch_seen_ != sys::ForkEpoch()) r_->ForgetParentLocked();
    if (r_->mutex_ != nullptr) {
      bool owner_died = false;
      status_ = r_->mutex_->Lock(&owner_died);
      if (status_.ok() && owner_died) r_->RepairAfterOwnerDeathLocked();
    } else if (r_->fd_ >= 0) {
      status_ = sys::LockByte(r_->fd_, layout::kLockOffset, true, &r_->lock_mode_);
    }
  }
  ~Guard() {
    if (!status_.ok()) return;
    if (r_->mutex_ != nullptr) {
      r_->mutex_->Unlock();
    } else if (r_->fd_ >= 0) {
      sys::UnlockByte(r_->fd_, layout::kLockOffset, r_->lock_mode_);
    }
  }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  const Status& status() const { return status_; }

 private:
  SharedRegion* r_;
  std::lock_guard<std::mutex> lock_;
  Status status_;
};

void SharedRegion::RepairAfterOwnerDeathLocked() {
  // The dead holder was inside a critical section: a slot may have a typed counter updated and
  // its total not yet, and an odd seqlock. Totals are re-derived from the typed counters (what
  // every writer keeps them equal to); the dead process's own slot is reclaimed as usual.
  const int n = ClampedProcNum(*region_);
  for (int i = 0; i < n; ++i) {
    ProcSlot& s = region_->procs[i];
    SeqBegin(s);
    for (int d = 0; d < kMaxDevices; ++d) {
      DeviceMemory& m = s.used[d];
      uint64_t sum = 0;
      for (const uint64_t* f : {&m.context_size, &m.module_size, &m.data_size}) {
        if (__builtin_add_overflow(sum, Ld(*f, std::memory_order_relaxed), &sum)) sum = UINT64_MAX;
      }
      St(m.total, sum, std::memory_order_relaxed);
    }
    SeqEnd(s);
  }
}

// ------------------------------------------------------------------------------------------------
// Slots

Status SharedRegion::Register() {
  Guard g(this);
  if (!g.status().ok()) return g.status();
  return EnsureRegisteredLocked();
}

Status SharedRegion::EnsureRegisteredLocked() {
  const pid_t self = opener_pid_;
  int idx = slot_.load(std::memory_order_relaxed);
  if (idx >= 0 && Ld(region_->procs[idx].pid) == self) {
    // Keep our slot visible to readers of procs[0, proc_num) if proc_num was damaged.
    if (Ld(region_->proc_num) <= idx) St(region_->proc_num, static_cast<int32_t>(idx + 1));
    return Status::Ok();
  }
  slot_.store(-1, std::memory_order_release);  // lost (or never had) our slot

  ReclaimLocked();
  const int n = ClampedProcNum(*region_);
  int found = -1;
  for (int i = 0; i < n && found < 0; ++i) {
    if (Ld(region_->procs[i].pid) == self) found = i;  // a previous image of this pid: reset it
  }
  for (int i = 0; i < n && found < 0; ++i) {
    if (Ld(region_->procs[i].pid) == 0) found = i;
  }
  bool append = false;
  if (found < 0) {
    if (n >= layout::kMaxProcs) {
      return Status::Error(Code::kNoFreeSlot,
                           "all %d process slots of %s are held by live processes",
                           layout::kMaxProcs, is_private() ? "the private region" : path_.c_str());
    }
    found = n;
    append = true;
  }
  ProcSlot& s = region_->procs[found];
  SeqBegin(s);
  ZeroCounters(s);
  St(s.hostpid, int32_t{0});
  St(s.status, layout::kSlotRunning);
  St(s.unused[0], start_tag_);
  St(s.unused[1], uint64_t{0});
  SeqEnd(s);
  St(s.pid, static_cast<int32_t>(self));
  if (append) St(region_->proc_num, static_cast<int32_t>(found + 1));
  slot_.store(found, std::memory_order_release);
  return Status::Ok();
}

void SharedRegion::ReleaseSlotLocked(int index) {
  ProcSlot& s = region_->procs[index];
  SeqBegin(s);
  ZeroCounters(s);
  St(s.hostpid, int32_t{0});
  St(s.status, layout::kSlotExited);
  St(s.unused[0], uint64_t{0});
  SeqEnd(s);
  St(s.pid, int32_t{0});
}

int SharedRegion::ReclaimLocked() {
  int freed = 0;
  const int n = ClampedProcNum(*region_);
  for (int i = 0; i < n; ++i) {
    const ProcSlot& s = region_->procs[i];
    int32_t pid = Ld(s.pid);
    if (pid == opener_pid_) continue;
    bool release = pid == 0 ? SlotHasUsage(s)  // an exited upstream process leaves its counters
                            : sys::ProcessGone(pid, Ld(s.unused[0]));
    if (release) {
      ReleaseSlotLocked(i);
      ++freed;
    }
  }
  return freed;
}

int SharedRegion::ReclaimDead() {
  Guard g(this);
  if (!g.status().ok()) return 0;
  return ReclaimLocked();
}

Status SharedRegion::Unregister() {
  Guard g(this);
  if (!g.status().ok()) return g.status();
  int idx = slot_.load(std::memory_order_relaxed);
  if (idx < 0) return Status::Ok();
  if (Ld(region_->procs[idx].pid) == opener_pid_) ReleaseSlotLocked(idx);
  slot_.store(-1, std::memory_order_release);
  return Status::Ok();
}

// ------------------------------------------------------------------------------------------------
// Accounting

uint64_t SharedRegion::SumUsageLocked(int dev) const {
  uint64_t total = 0;
  const int n = ClampedProcNum(*region_);
  for (int i = 0; i < n; ++i) {
    const ProcSlot& s = region_->procs[i];
    if (Ld(s.pid) == 0) continue;
    if (__builtin_add_overflow(total, Ld(s.used[dev].total, std::memory_order_relaxed), &total)) {
      return UINT64_MAX;  // garbage counters: saturate, which refuses further charges
    }
  }
  return total;
}

Status SharedRegion::TryCharge(int dev, uint64_t bytes, ChargeKind kind) {
  return Charge(dev, bytes, kind, true);
}

Status SharedRegion::ForceCharge(int dev, uint64_t bytes, ChargeKind kind) {
  return Charge(dev, bytes, kind, false);
}

Status SharedRegion::Charge(int dev, uint64_t bytes, ChargeKind kind, bool check_limit) {
  if (!ValidDev(dev)) {
    return Status::Error(Code::kInvalidArgument, "device %d out of range 0..%d", dev,
                         kMaxDevices - 1);
  }
  if (!ValidKind(kind)) {
    return Status::Error(Code::kInvalidArgument, "charge kind %d unknown", static_cast<int>(kind));
  }
  Guard g(this);
  if (!g.status().ok()) return g.status();
  Status st = EnsureRegisteredLocked();
  if (!st.ok()) return st;
  if (bytes == 0) return Status::Ok();

  const uint64_t limit = check_limit ? Ld(region_->limit[dev]) : 0;
  if (limit != 0) {
    auto fits = [&](uint64_t used) { return bytes <= limit && used <= limit - bytes; };
    uint64_t used = SumUsageLocked(dev);
    if (!fits(used) && ReclaimLocked() > 0) used = SumUsageLocked(dev);
    if (!fits(used)) {
      return Status::Error(Code::kOutOfMemory,
                           "device %d: %llu bytes in use + %llu requested > limit %llu", dev,
                           Ull(used), Ull(bytes), Ull(limit));
    }
  }
  ProcSlot& s = region_->procs[slot_.load(std::memory_order_relaxed)];
  DeviceMemory& m = s.used[dev];
  uint64_t& typed = TypedCounter(m, kind);
  uint64_t total = 0;
  uint64_t typed_value = 0;
  if (__builtin_add_overflow(Ld(m.total, std::memory_order_relaxed), bytes, &total) ||
      __builtin_add_overflow(Ld(typed, std::memory_order_relaxed), bytes, &typed_value)) {
    return Status::Error(Code::kInvalidArgument, "device %d: charging %llu bytes overflows", dev,
                         Ull(bytes));
  }
  SeqBegin(s);
  St(typed, typed_value, std::memory_order_relaxed);
  St(m.total, total, std::memory_order_relaxed);
  SeqEnd(s);
  return Status::Ok();
}

Status SharedRegion::Uncharge(int dev, uint64_t bytes, ChargeKind kind) {
  if (!ValidDev(dev)) {
    return Status::Error(Code::kInvalidArgument, "device %d out of range 0..%d", dev,
                         kMaxDevices - 1);
  }
  if (!ValidKind(kind)) {
    return Status::Error(Code::kInvalidArgument, "charge kind %d unknown", static_cast<int>(kind));
  }
  Guard g(this);
  if (!g.status().ok()) return g.status();
  int idx = slot_.load(std::memory_order_relaxed);
  if (idx < 0 || Ld(region_->procs[idx].pid) != opener_pid_) {
    return Status::Error(Code::kInvalidArgument,
                         "uncharge of %llu bytes on device %d: this process holds no charges",
                         Ull(bytes), dev);
  }
  ProcSlot& s = region_->procs[idx];
  DeviceMemory& m = s.used[dev];
  uint64_t& typed = TypedCounter(m, kind);
  // Clamp by the typed counter so that total stays the sum of the typed counters.
  const uint64_t typed_have = Ld(typed, std::memory_order_relaxed);
  const uint64_t total_have = Ld(m.total, std::memory_order_relaxed);
  const uint64_t sub = bytes < typed_have ? bytes : typed_have;
  SeqBegin(s);
  St(typed, typed_have - sub, std::memory_order_relaxed);
  St(m.total, sub < total_have ? total_have - sub : uint64_t{0}, std::memory_order_relaxed);
  SeqEnd(s);
  if (sub != bytes) {
    return Status::Error(Code::kInvalidArgument,
                         "device %d: uncharge of %llu bytes exceeds the %llu charged; clamped to 0",
                         dev, Ull(bytes), Ull(typed_have));
  }
  return Status::Ok();
}

Status SharedRegion::SetOwnCharge(int dev, ChargeKind kind, uint64_t bytes) {
  if (!ValidDev(dev) || !ValidKind(kind)) {
    return Status::Error(Code::kInvalidArgument, "device %d / kind %d out of range", dev,
                         static_cast<int>(kind));
  }
  Guard g(this);
  if (!g.status().ok()) return g.status();
  Status st = EnsureRegisteredLocked();
  if (!st.ok()) return st;
  ProcSlot& s = region_->procs[slot_.load(std::memory_order_relaxed)];
  DeviceMemory& m = s.used[dev];
  uint64_t& typed = TypedCounter(m, kind);
  const uint64_t total_have = Ld(m.total, std::memory_order_relaxed);
  const uint64_t typed_have = Ld(typed, std::memory_order_relaxed);
  const uint64_t others = total_have > typed_have ? total_have - typed_have : 0;
  uint64_t total = 0;
  if (__builtin_add_overflow(others, bytes, &total)) {
    return Status::Error(Code::kInvalidArgument, "device %d: %llu bytes overflow the total", dev,
                         Ull(bytes));
  }
  SeqBegin(s);
  St(typed, bytes, std::memory_order_relaxed);
  St(m.total, total, std::memory_order_relaxed);
  SeqEnd(s);
  return Status::Ok();
}

uint64_t SharedRegion::OwnCharge(int dev, ChargeKind kind) {
  if (!ValidDev(dev) || !ValidKind(kind)) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  const int idx = slot_.load(std::memory_order_relaxed);
  if (idx < 0 || fork_epoch_seen_ != sys::ForkEpoch()) return 0;
  return Ld(TypedCounter(region_->procs[idx].used[dev], kind));
}

uint64_t SharedRegion::Usage(int dev) {
  if (!ValidDev(dev)) return 0;
  Guard g(this);
  if (!g.status().ok()) return UsageSnapshot(dev);
  return SumUsageLocked(dev);
}

uint64_t SharedRegion::UsageSnapshot(int dev) const {
  if (!ValidDev(dev)) return 0;
  uint64_t total = 0;
  const int n = ClampedProcNum(*region_);
  for (int i = 0; i < n; ++i) {
    const ProcSlot& s = region_->procs[i];
    if (Ld(s.pid, std::memory_order_relaxed) == 0) continue;
    uint64_t value = 0;
    for (int tries = 0; tries < 1000; ++tries) {  // bounded: a writer may have died mid-update
      uint64_t s1 = Ld(s.seqlock);
      value = Ld(s.used[dev].total, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      uint64_t s2 = Ld(s.seqlock, std::memory_order_relaxed);
      if (s1 == s2 && (s1 & 1) == 0) break;
    }
    if (__builtin_add_overflow(total, value, &total)) return UINT64_MAX;
  }
  return total;
}

uint64_t SharedRegion::ProcessUsage(int dev) {
  if (!ValidDev(dev)) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  int idx = slot_.load(std::memory_order_relaxed);
  if (idx < 0 || opener_pid_ != ::getpid()) return 0;
  return Ld(region_->procs[idx].used[dev].total);
}

// ------------------------------------------------------------------------------------------------
// Limits and monitor-shared fields

uint64_t SharedRegion::limit(int dev) const { return ValidDev(dev) ? Ld(region_->limit[dev]) : 0; }
uint64_t SharedRegion::sm_limit(int dev) const {
  return ValidDev(dev) ? Ld(region_->sm_limit[dev]) : 0;
}
void SharedRegion::SetLimit(int dev, uint64_t bytes) {
  if (ValidDev(dev)) St(region_->limit[dev], bytes);
}
void SharedRegion::SetSmLimit(int dev, uint64_t percent) {
  if (ValidDev(dev)) St(region_->sm_limit[dev], percent);
}
int32_t SharedRegion::priority() const { return Ld(region_->priority); }
int32_t SharedRegion::utilization_switch() const { return Ld(region_->utilization_switch); }
void SharedRegion::SetUtilizationSwitch(int32_t value) { St(region_->utilization_switch, value); }
int32_t SharedRegion::recent_kernel() const { return Ld(region_->recent_kernel); }
void SharedRegion::SetRecentKernel(int32_t value) { St(region_->recent_kernel, value); }
void SharedRegion::MarkKernelActivity(int32_t value) {
  std::atomic_ref<int32_t> recent(region_->recent_kernel);
  int32_t seen = recent.load(std::memory_order_relaxed);
  while (seen >= 0 && seen != value &&
         !recent.compare_exchange_weak(seen, value, std::memory_order_release,
                                       std::memory_order_relaxed)) {
  }
}
uint64_t SharedRegion::last_kernel_time() const { return Ld(region_->last_kernel_time); }

void SharedRegion::StampKernelTime(uint64_t now_s) {
  std::atomic_ref<uint64_t> t(region_->last_kernel_time);
  uint64_t seen = t.load(std::memory_order_relaxed);
  while (seen < now_s && !t.compare_exchange_weak(seen, now_s, std::memory_order_release,
                                                  std::memory_order_relaxed)) {
  }
}

Status SharedRegion::SetDevices(std::span<const std::string_view> uuids) {
  if (uuids.size() > static_cast<size_t>(kMaxDevices)) {
    return Status::Error(Code::kInvalidArgument, "%zu devices, at most %d fit the region",
                         uuids.size(), kMaxDevices);
  }
  Guard g(this);
  if (!g.status().ok()) return g.status();
  for (size_t d = 0; d < static_cast<size_t>(kMaxDevices); ++d) {
    char* dst = region_->uuids[d];
    std::string_view src = d < uuids.size() ? uuids[d] : std::string_view();
    size_t len = src.size() < layout::kUuidBytes - 1 ? src.size() : layout::kUuidBytes - 1;
    if (len > 0) std::memcpy(dst, src.data(), len);
    std::memset(dst + len, 0, layout::kUuidBytes - len);
  }
  St(region_->device_num, static_cast<uint64_t>(uuids.size()));
  return Status::Ok();
}

uint64_t SharedRegion::device_num() const { return Ld(region_->device_num); }

std::string SharedRegion::Uuid(int dev) const {
  if (!ValidDev(dev)) return std::string();
  char copy[layout::kUuidBytes];
  std::memcpy(copy, region_->uuids[dev], sizeof(copy));
  return std::string(copy, ::strnlen(copy, sizeof(copy)));
}

// ------------------------------------------------------------------------------------------------
// This process's slot

Status SharedRegion::SetHostPid(int32_t host_pid) {
  Guard g(this);
  if (!g.status().ok()) return g.status();
  Status st = EnsureRegisteredLocked();
  if (!st.ok()) return st;
  St(region_->procs[slot_.load(std::memory_order_relaxed)].hostpid, host_pid);
  return Status::Ok();
}

int32_t SharedRegion::host_pid() const {
  int idx = slot_.load(std::memory_order_acquire);
  return idx < 0 ? 0 : Ld(region_->procs[idx].hostpid);
}

void SharedRegion::SetOwnStatus(int32_t status) {
  int idx = slot_.load(std::memory_order_acquire);
  if (idx >= 0) St(region_->procs[idx].status, status);
}

int32_t SharedRegion::own_status() const {
  int idx = slot_.load(std::memory_order_acquire);
  return idx < 0 ? layout::kSlotRunning : Ld(region_->procs[idx].status);
}

uint64_t SharedRegion::PublishUtilization(int dev, std::span<const ProcessSample> samples) {
  if (!ValidDev(dev)) return 0;
  Guard g(this);
  if (!g.status().ok()) return 0;
  uint64_t sum = 0;
  const int n = ClampedProcNum(*region_);
  for (int i = 0; i < n; ++i) {
    ProcSlot& s = region_->procs[i];
    if (Ld(s.pid) == 0) continue;
    int32_t host = Ld(s.hostpid);
    uint64_t used = 0;
    uint64_t util = 0;
    for (const ProcessSample& sample : samples) {
      if (host != 0 && sample.host_pid == host) {
        used = sample.used_bytes;
        util = sample.sm_util_percent;
        break;
      }
    }
    St(s.monitorused[dev], used, std::memory_order_relaxed);
    St(s.device_util[dev].sm_util, util, std::memory_order_relaxed);
    sum += util;
  }
  return sum;
}

// ------------------------------------------------------------------------------------------------
// Host-PID discovery lock

SharedRegion::HostPidLock::HostPidLock(HostPidLock&& other) noexcept
    : owner_(other.owner_), generation_(other.generation_) {
  other.owner_ = nullptr;
}

SharedRegion::HostPidLock::~HostPidLock() {
  if (owner_ != nullptr) owner_->ReleaseHostPidLock(generation_);
}

Result<SharedRegion::HostPidLock> SharedRegion::LockHostPidDiscovery(int timeout_ms) {
  struct timespec start;
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  auto expired = [&] {
    if (timeout_ms < 0) return false;
    struct timespec now;
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    return ms >= timeout_ms;
  };
  auto nap = [] {
    struct timespec ts = {0, 2000000};
    ::nanosleep(&ts, nullptr);
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (opener_pid_ != ::getpid()) ForgetParentLocked();  // forked without the atfork handlers
  }
  bool expected = false;
  while (!host_pid_busy_.compare_exchange_weak(expected, true, std::memory_order_acquire)) {
    expected = false;
    if (expired()) return Status::Error(Code::kTimeout, "host-PID lock held by another thread");
    nap();
  }
  const uint32_t generation = fork_generation_.load(std::memory_order_acquire);
  if (fd_ >= 0) {
    for (;;) {
      Status st =
          sys::LockByte(fd_, layout::kHostPidLockOffset, timeout_ms < 0, &host_pid_lock_mode_);
      if (st.ok()) break;
      if (st.code() != Code::kTimeout || expired()) {
        host_pid_busy_.store(false, std::memory_order_release);
        return st.code() == Code::kTimeout
                   ? Status::Error(Code::kTimeout, "host-PID lock held by another process")
                   : st;
      }
      nap();
    }
  }
  return HostPidLock(this, generation);
}

void SharedRegion::ReleaseHostPidLock(uint32_t generation) {
  // After fork the child's copy of a parent's guard must not release anything: the child has its
  // own open file (the parent's record lock is not the child's) and a fresh busy flag.
  if (generation != fork_generation_.load(std::memory_order_acquire)) return;
  if (fd_ >= 0) sys::UnlockByte(fd_, layout::kHostPidLockOffset, host_pid_lock_mode_);
  host_pid_busy_.store(false, std::memory_order_release);
}

// ------------------------------------------------------------------------------------------------
// Fork

void SharedRegion::PrepareFork() { mu_.lock(); }

void SharedRegion::AfterForkParent() { mu_.unlock(); }

void SharedRegion::AfterForkChild() {
  ForgetParentLocked();
  mu_.unlock();
}

}  // namespace hami::vgpu
