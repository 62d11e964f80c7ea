// What libvgpu must remember about the driver's virtual memory management (cuMemCreate,
// cuMemMap, cuMemUnmap, cuMemRelease, cuMemAddressFree) to charge physical memory for exactly
// as long as it exists.
//
// A physical allocation made by cuMemCreate lives until its handle is released AND every mapping
// of it is gone: the standard idiom releases the handle right after mapping it, and the memory
// stays in use until the range is unmapped (or its address range freed). So the charge taken at
// create is dropped when the last of the two happens, never at cuMemRelease alone (which let 60
// x 256 MiB stay mapped under a 1 GiB limit).
//
// Pure bookkeeping: no driver calls, no locking (the caller serialises, and holds its lock
// across the driver call so that a handle value the driver reuses at once is not confused).
// Handles and ranges the ledger never saw (made before libvgpu, host memory) are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

namespace hami::vgpu {

struct DeviceBytes {
  int device = -1;  // -1: nothing to uncharge
  uint64_t bytes = 0;
};

class VmmLedger {
 public:
  // cuMemCreate succeeded: `bytes` were charged on `device` for `handle`.
  void Created(uint64_t handle, int device, uint64_t bytes);
  // cuMemRelease succeeded. Returns the charge to drop now: the allocation when nothing maps it,
  // else none (the last unmap returns it).
  DeviceBytes Released(uint64_t handle);
  // cuMemMap succeeded: [va, va + size) maps `handle`.
  void Mapped(uint64_t va, uint64_t size, uint64_t handle);
  // cuMemUnmap or cuMemAddressFree succeeded over [va, va + size): every mapping that starts in
  // it is gone. Returns the charges of the allocations that are now released and unmapped.
  std::vector<DeviceBytes> Unmapped(uint64_t va, uint64_t size);

  // Introspection for tests and the memory views.
  size_t live_allocations() const { return handles_.size(); }
  uint64_t charged_bytes(int device) const;

 private:
  struct Handle {
    int device;
    uint64_t bytes;
    uint32_t mappings;
    bool released;
  };
  struct Mapping {
    uint64_t size;
    uint64_t handle;
  };
  std::unordered_map<uint64_t, Handle> handles_;
  std::map<uint64_t, Mapping> mappings_;  // by start address
};

}  // namespace hami::vgpu
