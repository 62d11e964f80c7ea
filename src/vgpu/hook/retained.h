// Device memory that outlives the call that allocated it, and how libvgpu keeps it charged:
// VMM physical allocations (vmm_hooks.cc: charged from cuMemCreate until released and unmapped
// everywhere), stream-ordered memory pools and graph memory (pool_hooks.cc: charged as what the
// driver really holds in reserve, not what is allocated from it), and each process's context
// and runtime overhead (compute.cc: measured from NVML). Internal to the hook files.
#pragma once

#include <cstdint>

namespace hami::vgpu::hook {

// Called when a charge on `device` would not fit: gives back what this process's pools hold in
// reserve beyond their allocations (cuMemPoolTrimTo, cuDeviceGraphMemTrim) and re-measures its
// context memory, so that the retry sees only memory really in use. True when anything changed.
bool ReclaimRetained(int device);

// Re-reads what every pool this process allocated from holds in reserve (after a free, a
// synchronisation, a trim or an attribute change) and moves the charges to match.
void SettlePools();

// A free of `address` that is not a plain allocation: takes it out of the pool books before the
// driver frees it (returns its pool, or 0 when it is not a pool allocation), then records the
// outcome (a failed free puts it back).
uint64_t TakePoolAllocation(uint64_t address);
void PoolAllocationFreed(uint64_t address, uint64_t pool, bool freed);

// After a graph launch, when the process has made graph memory: charges the device's graph
// memory reservation as the driver reports it.
void SettleGraphMemory(int device);
// A graph memory node was made (directly or by capturing a stream-ordered allocation).
void NoteGraphMemoryUsed();
bool GraphMemoryUsed();

// Measures this process's context/runtime overhead on `device` (-1: every device): what NVML
// says the process holds there minus what libvgpu charged for its allocations, kept in the
// region slot's context counter. Needs the host pid; without it nothing is measured.
void MeasureContextMemory(int device);

// In a forked child: the parent's records are not the child's.
void VmmAfterForkChild();
void PoolsAfterForkChild();

}  // namespace hami::vgpu::hook
