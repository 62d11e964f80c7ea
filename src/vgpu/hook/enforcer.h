// The per-process enforcement state behind the hooks: the container's limits, the shared
// region that accounts memory across every process of the container, and the allocations this
// process made (so a free releases exactly what its allocation charged).
//
// Initialised once, on the first hooked call that needs it (cuInit, an allocation, a memory
// query, NVML init). Device numbers are the CUDA ordinals the application sees; the limits
// CUDA_DEVICE_MEMORY_LIMIT_<i> use the same numbering, as HAMi's device plugin writes them.
// Thread-safe. Never throws, never exits the application: a region that cannot be opened or
// is corrupt is replaced by a process-local one (limits then hold per process) and logged.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hami::vgpu {
class SharedRegion;
}

namespace hami::vgpu::hook {

struct Allocation {
  int device = -1;
  uint64_t bytes = 0;
};

class Enforcer {
 public:
  static Enforcer& Get();

  // Charges `bytes` on `device` when the container's usage stays within the limit (0 =
  // unlimited: always succeeds and still counts). Atomic across the container's processes.
  bool Charge(int device, uint64_t bytes);
  void Uncharge(int device, uint64_t bytes);
  // Charges memory the device already holds (a pool that grew, graph memory reserved at
  // launch), whether or not it fits: later charges are refused until usage is back under.
  void ForceCharge(int device, uint64_t bytes);
  // This process's context/runtime overhead on `device`, as last measured (retained.h).
  void SetContextBytes(int device, uint64_t bytes);
  // What this process charged on `device` for its allocations (everything but the context).
  uint64_t OwnAllocationBytes(int device);
  // Kernel activity at unix second `now_s`, for the monitor's "seconds since last kernel".
  void NoteKernelActivity(uint64_t now_s);
  // The process's region (shared, or the private fallback), or nullptr when there is none.
  // Leaked: valid for the whole process.
  SharedRegion* Region();
  // This process's host pid (as NVML reports it); 0 until discovered.
  int32_t HostPid();
  uint64_t LimitBytes(int device);  // 0: no limit
  uint64_t UsageBytes(int device);  // the container's, all processes

  // Allocations by device address or by array handle: two key spaces that may overlap (VMM
  // handles and pools keep their own records, retained.h). Forget returns what was recorded (device
  // -1: not ours).
  enum class KeySpace : int { kAddress = 0, kArray = 1 };
  void Remember(KeySpace space, uint64_t key, Allocation allocation);
  Allocation Forget(KeySpace space, uint64_t key);

  // The host pids (as NVML reports them) of the container's processes that found theirs;
  // at most `max` written to `out`, the number written returned.
  int ContainerHostPids(int32_t* out, int max);
  // After a successful cuInit: find this process's host pid in the background (once per
  // process; a forked child looks again).
  void AfterCudaInit();

  // The CUDA ordinal of the GPU with this NVML/CUDA UUID (16 raw bytes), or -1.
  int DeviceOfUuid(const unsigned char uuid[16]);
  // The same for NVML's text form "GPU-xxxxxxxx-xxxx-...".
  int DeviceOfUuidText(const char* text);
};

// A log line on stderr ("[hami-vgpu] ...") when `level` <= LIBCUDA_LOG_LEVEL (0/1 errors,
// 2 warnings, 3 info, 4 debug). Lines longer than 511 bytes are cut.
void Log(int level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// NVML's text form of a 16-byte GPU UUID: "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
void FormatUuid(const unsigned char bytes[16], char out[48]);

// The device of the calling thread's current context; false when there is none.
bool CurrentDevice(int* device);

}  // namespace hami::vgpu::hook
