// The byte layout of HAMi-core's shared-region file (spec hami-core.md §3.2), version 1.2.
//
// HAMi's Go vGPU monitor (pkg/monitor/nvidia/v1/spec.go) and upstream libvgpu.so map the same
// file, so every size and offset below is part of an external ABI and is pinned with
// static_asserts. The structs are plain data: access them only through std::atomic_ref (see
// shared_region.cc), since other processes write them concurrently.
//
// Our extensions stay inside fields upstream declares unused or leaves alone:
//  * ProcSlot::unused[0] holds 1 + the owner's start time (/proc/<pid>/stat field 22, clock ticks)
//    so that a recycled pid is not mistaken for the slot's owner; 0 = unknown (upstream slot).
//  * Cross-process exclusion uses fcntl() record locks on bytes at and just past the end of the
//    struct (kLockOffset, kHostPidLockOffset), never on the struct itself, so readers that only
//    mmap the file are unaffected. The `sem` and `sem_postinit` semaphores are initialised like
//    upstream when we create the file, and otherwise never touched.
#pragma once

#include <sys/types.h>  // off_t

#include <cstddef>
#include <cstdint>

namespace hami::vgpu::layout {

inline constexpr int32_t kMagic = 19920718;
inline constexpr uint32_t kMajorVersion = 1;
inline constexpr uint32_t kMinorVersion = 2;
inline constexpr int kMaxDevices = 16;    // CUDA_DEVICE_MAX_COUNT
inline constexpr int kMaxProcs = 1024;    // SHARED_REGION_MAX_PROCESS_NUM
inline constexpr size_t kUuidBytes = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE
inline constexpr size_t kSemBytes = 32;   // sizeof(sem_t) on x86-64 and aarch64 glibc

// Slot status values (upstream: 1 = running, 2 = suspended by SIGUSR2; 0 = exited).
inline constexpr int32_t kSlotExited = 0;
inline constexpr int32_t kSlotRunning = 1;
inline constexpr int32_t kSlotSuspended = 2;

// Index into DeviceMemory's typed counters (upstream's `type` argument of add/rm usage).
enum class ChargeKind : int { kContext = 0, kModule = 1, kData = 2 };

struct DeviceMemory {
  uint64_t context_size;
  uint64_t module_size;
  uint64_t data_size;
  uint64_t offset;
  uint64_t total;  // sum of the three typed counters: what limits are checked against
  uint64_t unused[3];
};

struct DeviceUtil {
  uint64_t dec_util;
  uint64_t enc_util;
  uint64_t sm_util;  // percent, written by the utilization watcher
  uint64_t unused[3];
};

struct ProcSlot {
  int32_t pid;                     // pid inside the container's pid namespace; 0 = free
  int32_t hostpid;                 // pid as NVML reports it; 0 until discovered
  DeviceMemory used[kMaxDevices];  // indexed by NVML device index
  uint64_t monitorused[kMaxDevices];
  DeviceUtil device_util[kMaxDevices];
  int32_t status;      // kSlotRunning / kSlotSuspended / kSlotExited
  int32_t pad0;        // implicit padding in the C struct
  uint64_t seqlock;    // even = stable; writers make it odd while they update `used`
  uint64_t unused[2];  // unused[0]: our owner start-time tag (see the file comment)
};

struct Region {
  int32_t initialized_flag;  // kMagic once initialised
  uint32_t major_version;
  uint32_t minor_version;
  int32_t sm_init_flag;
  uint64_t owner_pid;  // upstream: pid holding `sem`
  alignas(8) unsigned char sem[kSemBytes];
  uint64_t device_num;
  char uuids[kMaxDevices][kUuidBytes];
  uint64_t limit[kMaxDevices];     // bytes; 0 = unlimited
  uint64_t sm_limit[kMaxDevices];  // percent; 0 or >= 100 = unthrottled
  ProcSlot procs[kMaxProcs];
  int32_t proc_num;            // high-water mark of used slots: readers scan procs[0, proc_num)
  int32_t utilization_switch;  // 1 = throttle (written by the host monitor)
  int32_t recent_kernel;       // > 0 recently active; < 0 = blocked by the host monitor
  int32_t priority;
  uint64_t last_kernel_time;  // unix seconds
  alignas(8) unsigned char sem_postinit[kSemBytes];
};

inline constexpr size_t kRegionBytes = 2008952;
// Upstream writes one zero byte at offset sizeof(Region), so the file is one byte longer.
inline constexpr size_t kFileBytes = kRegionBytes + 1;
// fcntl() record-lock bytes: the region lock guards slot changes, charges and uncharges; the
// host-PID lock serialises host-PID discovery across the container's processes (upstream's
// sem_postinit). A record lock may lie past end of file, so the file size stays kFileBytes.
inline constexpr off_t kLockOffset = static_cast<off_t>(kRegionBytes);
inline constexpr off_t kHostPidLockOffset = static_cast<off_t>(kRegionBytes) + 1;
// A memory limit above this (64 PiB) is not a GPU's: in a file it marks garbage.
inline constexpr uint64_t kMaxMemoryLimitBytes = uint64_t{1} << 56;

static_assert(sizeof(DeviceMemory) == 64);
static_assert(sizeof(DeviceUtil) == 48);
static_assert(sizeof(ProcSlot) == 1960);
static_assert(offsetof(ProcSlot, pid) == 0);
static_assert(offsetof(ProcSlot, hostpid) == 4);
static_assert(offsetof(ProcSlot, used) == 8);
static_assert(offsetof(DeviceMemory, total) == 32);
static_assert(offsetof(ProcSlot, monitorused) == 1032);
static_assert(offsetof(ProcSlot, device_util) == 1160);
static_assert(offsetof(ProcSlot, status) == 1928);
static_assert(offsetof(ProcSlot, seqlock) == 1936);
static_assert(offsetof(ProcSlot, unused) == 1944);

static_assert(offsetof(Region, initialized_flag) == 0);
static_assert(offsetof(Region, major_version) == 4);
static_assert(offsetof(Region, minor_version) == 8);
static_assert(offsetof(Region, sm_init_flag) == 12);
static_assert(offsetof(Region, owner_pid) == 16);
static_assert(offsetof(Region, sem) == 24);
static_assert(offsetof(Region, device_num) == 56);
static_assert(offsetof(Region, uuids) == 64);
static_assert(offsetof(Region, limit) == 1600);
static_assert(offsetof(Region, sm_limit) == 1728);
static_assert(offsetof(Region, procs) == 1856);
static_assert(offsetof(Region, proc_num) == 2008896);
static_assert(offsetof(Region, utilization_switch) == 2008900);
static_assert(offsetof(Region, recent_kernel) == 2008904);
static_assert(offsetof(Region, priority) == 2008908);
static_assert(offsetof(Region, last_kernel_time) == 2008912);
static_assert(offsetof(Region, sem_postinit) == 2008920);
static_assert(sizeof(Region) == kRegionBytes);
static_assert(kFileBytes == 2008953);

}  // namespace hami::vgpu::layout
