// Small system helpers for the shared region: process liveness and one-byte fcntl record locks.
// Internal to hami_vgpu. Everything here is async-signal-safe in practice (open/read/close/kill/
// fcntl; no allocation), so it may run in a pthread_atfork child handler.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "vgpu/status.h"

namespace hami::vgpu::sys {

struct ProcStat {
  char state = '?';          // field 3 of /proc/<pid>/stat: R, S, D, Z, X, ...
  uint64_t start_ticks = 0;  // field 22: start time after boot, clock ticks
};

// Reads /proc/<pid>/stat. nullopt when it cannot be read or parsed (no such process, /proc not
// mounted, hidepid=2, ...). pid must be > 0.
std::optional<ProcStat> ReadProcStat(pid_t pid);

// A process-wide counter that a pthread_atfork child handler (installed on first call) increments:
// a value different from the one seen earlier means this is a forked child, learnt without the
// getpid() system call. Children made by a raw clone() system call are not noticed.
uint64_t ForkEpoch();

// The tag stored in ProcSlot::unused[0] for this process: 1 + its start time, or 0 if unknown.
uint64_t SelfStartTag();

// True when the owner of a slot is certainly gone: pid <= 0, kill(pid, 0) fails with ESRCH,
// /proc says zombie or dead (Z/X), or start_tag != 0 and the pid now belongs to a process that
// started at another time (the pid was recycled). When liveness cannot be determined (EPERM,
// /proc unreadable) the process is presumed alive: wrongly freeing a live process's slot would
// drop its charges, which is worse than keeping a dead one's a while longer.
bool ProcessGone(int32_t pid, uint64_t start_tag);

// How record locks are taken: open-file-description locks (Linux >= 3.15; owned by the open file,
// so two opens in one process exclude each other and a close() of an unrelated descriptor of the
// same file does not drop them) or classic POSIX locks (owned by the process; the fallback when
// the kernel refuses OFD locks, and after fork when the file could not be reopened).
enum class LockMode : uint8_t { kOfd, kPosix };

// Write-locks the byte at `offset` of `fd`. wait=true blocks (retrying EINTR); wait=false returns
// kTimeout at once if another owner holds it. A mode the kernel refuses (EINVAL for OFD) switches
// *mode to kPosix and retries. The kernel drops the lock when its owner dies, even by SIGKILL.
Status LockByte(int fd, off_t offset, bool wait, LockMode* mode);
// Releases a lock taken by LockByte with the same mode. Never fails in practice; errors ignored.
void UnlockByte(int fd, off_t offset, LockMode mode);

}  // namespace hami::vgpu::sys
