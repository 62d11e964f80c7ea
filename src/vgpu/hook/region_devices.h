// Recording the container's GPUs in the shared region (device_num and uuids[]), as HAMi-core
// does after nvmlInit and cuInit: HAMi's monitor matches a container's region to the node's
// GPUs by these UUIDs, so without them its per-container metrics stay empty.
#pragma once

namespace hami::vgpu::hook {

// Writes the GPUs into the region: NVML's UUID text of each GPU (through the real NVML, which
// it initialises and leaves initialised, as the compute watcher does), indexed by the CUDA ordinal
// the application sees, the index the limits use (vgpu/device_uuids.h). Call after a successful
// cuInit; the nvmlInit hooks call it after a successful init. Idempotent: records once per process
// in CUDA's order, which needs CUDA initialised; before that (an NVML-only process such as
// nvidia-smi) NVML's order is recorded once, and only into a region that holds no devices yet, so
// it never overwrites what a CUDA process recorded. Thread-safe (serialised; a call re-entered from
// inside the real NVML returns at once); may block for NVML's init. Never fails loudly: without
// NVML, or with a region that cannot be opened, nothing is recorded (logged at info level).
void RecordRegionDevices();

}  // namespace hami::vgpu::hook
