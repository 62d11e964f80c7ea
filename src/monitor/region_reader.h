// Reads a container's shared region (the *.cache file HAMi-core and our libvgpu.so write; layout
// in vgpu/region_layout.h, spec §6) from the host, as hami-monitor does.
//
// The file is mapped read-write and shared because the priority feedback loop (feedback.h) writes
// two fields back; nothing else is ever written. Every other process may change the mapping at any
// time, so each field is read through std::atomic_ref and the per-slot memory counters through the
// slot's seqlock (as SharedRegion::UsageSnapshot does); a snapshot is therefore consistent per
// slot, not across slots.
//
// Untrusted input: the file is validated with fstat (a regular file of exactly the v1.2 size,
// sizeof(layout::Region) or one byte more as HAMi-core writes it) before mmap and with
// vgpu::ValidateRegion after; proc_num and device_num are re-read and clamped on every snapshot.
// Not handled: a file truncated by someone else AFTER it was mapped (access would raise SIGBUS);
// libvgpu.so never truncates, and the directory's owner is the container's runtime.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "vgpu/region_layout.h"

namespace hami::monitor {

struct VDeviceUsage {
  std::string uuid;               // as recorded by libvgpu.so; "" if never written
  uint64_t limit_bytes = 0;       // 0 = unlimited
  uint64_t sm_limit_percent = 0;  // as stored: 0 or >= 100 = unthrottled
  // Sums over slots [0, proc_num) whose pid != 0 (see RegionSnapshot). Saturate at UINT64_MAX.
  uint64_t used_bytes = 0;       // DeviceMemory::total
  uint64_t context_bytes = 0;    // DeviceMemory::context_size
  uint64_t module_bytes = 0;     // DeviceMemory::module_size
  uint64_t buffer_bytes = 0;     // DeviceMemory::data_size (HAMi calls it "buffer")
  uint64_t offset_bytes = 0;     // DeviceMemory::offset (only HAMi's legacy metric shows it)
  uint64_t sm_util_percent = 0;  // sum of the processes' sm_util, percent (may exceed 100)
};

// The limit fields of a region at every device index, whatever device_num says: libvgpu.so and
// HAMi-core store limit[i] from CUDA_DEVICE_MEMORY_LIMIT_<i> and sm_limit[i] from
// CUDA_DEVICE_SM_LIMIT[_<i>] when they create the file, before (and independently of) recording
// device UUIDs, and our libvgpu.so does not record UUIDs at all (device_num stays 0).
struct RegionLimits {
  std::array<uint64_t, vgpu::layout::kMaxDevices> memory_bytes{};  // 0 = unlimited
  std::array<uint64_t, vgpu::layout::kMaxDevices> sm_percent{};    // as stored (0..100)
};

// One read of a region.
//
// Which slots count: pid != 0, not HAMi's status != 0. Our writer frees a slot by zeroing its
// counters and then its pid, and reclaims dead owners the same way, so pid != 0 is exactly "holds
// charges"; status is 1 (running) or 2 (suspended) for every such slot, so both rules agree on
// files our writer and upstream HAMi-core write, except that a suspended process's memory counts
// under both and a slot mid-registration (pid set, status not yet) counts here with zero bytes.
struct RegionSnapshot {
  std::vector<VDeviceUsage> devices;  // device_num entries (<= 16)
  int32_t proc_num = 0;               // clamped to [0, 1024]
  int32_t live_slots = 0;             // slots in [0, proc_num) with pid != 0
  int32_t priority = 0;               // lower number = higher priority
  int32_t recent_kernel = 0;          // > 0 recently active; < 0 blocked by the monitor
  int32_t utilization_switch = 0;     // 1 = SM limit enforced
  uint64_t last_kernel_time_s = 0;    // unix seconds; 0 = never
  RegionLimits limits;                // all kMaxDevices indexes (devices[] holds device_num)
};

// An open, validated mapping of one region file. Owns the mapping (unmapped on destruction); the
// file descriptor is closed once mapped. Thread-safety: all methods may be called concurrently.
class MappedRegion {
 public:
  // Opens `path` O_RDWR, checks it (see the file comment) and maps it.
  // Errors: kNotFound (no such file), kInvalidArgument (not a regular file, wrong size, bad magic,
  // unsupported version, implausible fields: a foreign or corrupt file), kInternal (mmap failed).
  // Never crashes on a hostile file that is not truncated concurrently.
  static Result<std::unique_ptr<MappedRegion>> Open(const std::string& path);

  ~MappedRegion();
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;

  RegionSnapshot Snapshot() const;
  // Only the limit fields (a cheaper read than Snapshot for the round's limit check).
  RegionLimits Limits() const;

  int32_t priority() const;
  int32_t recent_kernel() const;
  int32_t utilization_switch() const;
  std::vector<std::string> Uuids() const;  // device_num entries

  // The feedback loop's two writes (feedback.h). CompareExchangeRecentKernel stores `desired`
  // only if the field still holds `expected` (libvgpu.so raises it concurrently on launches) and
  // returns whether it did.
  bool CompareExchangeRecentKernel(int32_t expected, int32_t desired);
  void SetUtilizationSwitch(int32_t value);

  const std::string& path() const { return path_; }

 private:
  MappedRegion(vgpu::layout::Region* region, std::string path)
      : region_(region), path_(std::move(path)) {}

  vgpu::layout::Region* const region_;  // sizeof(Region) bytes, MAP_SHARED; owned
  const std::string path_;
};

}  // namespace hami::monitor
