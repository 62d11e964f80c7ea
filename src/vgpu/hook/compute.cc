#include "vgpu/hook/compute.h"

#include <cuda.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <new>
#include <vector>

#include "nvml/nvml_api.h"
#include "vgpu/hook/enforcer.h"
#include "vgpu/hook/real.h"
#include "vgpu/hook/retained.h"
#include "vgpu/limiter.h"
#include "vgpu/shared_region.h"

namespace hami::vgpu::hook {

std::atomic<uint8_t> launch_gate{kGateUnknown};
std::atomic<int64_t> last_launch_stamp_s{0};

namespace {

constexpr int kTickMs = 40;
constexpr int64_t kMaxSleepUs = 2000;         // budget waits re-check at least this often
constexpr int64_t kBlockedPollUs = 20000;     // priority-block poll (upstream: 1 s)
constexpr uint64_t kProbeBytes = 6ull << 20;  // host-pid discovery's memory probe
constexpr int kDiscoveryAttempts = 25;
constexpr int kProcessListTicks = 10;

// NVML structs libvgpu reads (nvml.h's v1 process info and utilisation sample).
struct NvmlProcessInfoV1 {
  unsigned int pid;
  unsigned long long usedGpuMemory;
};
struct NvmlUtilSample {
  unsigned int pid;
  unsigned long long timeStamp;
  unsigned int smUtil, memUtil, encUtil, decUtil;
};

enum DeviceMode : uint8_t {
  kModeOff = 0,       // not limited (or the switch is off): launches pass
  kModePriority = 1,  // limited, no budget yet (no host pid): only the priority block applies
  kModeBudget = 2,    // limited with a budget
};

struct DeviceLimiter {
  std::atomic<uint8_t> mode{kModeOff};
  uint64_t limit_percent = 0;  // 0: not limited
  std::mutex mu;
  TokenBucket bucket;              // GUARDED_BY(mu)
  ShareController controller{50};  // watcher thread only
  nvmlDevice_t nvml = nullptr;     // watcher thread only
  int64_t last_wall_us = 0;        // watcher thread only
  // NVML's per-process memory (the slots' monitorused), refreshed every kProcessListTicks: it
  // is for the monitor's display, and listing processes costs the driver far more than reading
  // utilisation. Watcher thread only.
  std::vector<NvmlProcessInfoV1> procs;
  int ticks = 0;
  int unmeasured_ticks = 0;  // consecutive ticks NVML gave no utilisation; watcher thread only
};

struct Compute {
  SharedRegion* region = nullptr;
  UtilizationPolicy policy = UtilizationPolicy::kDefault;
  uint32_t record_interval_s = 1;
  DeviceLimiter devices[kMaxDevices];
  std::atomic<uint64_t> next_stamp_s{0};
  std::atomic<bool> restart_watcher{false};
  bool any_limited = false;
};

Compute* compute = nullptr;  // leaked: the watcher runs until the process exits

int64_t Now(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void SleepUs(int64_t us) {
  timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

bool SwitchOn() {
  switch (compute->policy) {
    case UtilizationPolicy::kForce:
      return true;
    case UtilizationPolicy::kDisable:
      return false;
    case UtilizationPolicy::kDefault:
      break;
  }
  return compute->region->utilization_switch() == 1;
}

// Recomputes the process-wide gate from the devices' modes.
void UpdateGate() {
  // A watcher still to start keeps launches on the slow path, which starts it.
  bool limited = compute->restart_watcher.load(std::memory_order_relaxed);
  for (const DeviceLimiter& d : compute->devices) {
    limited = limited || d.mode.load(std::memory_order_relaxed) != kModeOff;
  }
  launch_gate.store(limited ? kGateLimited : kGateOpen, std::memory_order_relaxed);
}

// ---- NVML through the real library ----------------------------------------------------------

#define NVML_FN(type, name)                   \
  ([]() {                                     \
    static void* volatile slot = nullptr;     \
    return Real<type>(&slot, name, RealNvml); \
  }())

using NvmlListFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, NvmlProcessInfoV1*);
using NvmlUtilFn = nvmlReturn_t (*)(nvmlDevice_t, NvmlUtilSample*, unsigned int*,
                                    unsigned long long);

// The compute processes on `device` (pid, bytes); false when NVML fails.
bool ListProcesses(nvmlDevice_t device, std::vector<NvmlProcessInfoV1>* out) {
  auto list = NVML_FN(NvmlListFn, "nvmlDeviceGetComputeRunningProcesses");
  if (list == nullptr) return false;
  for (int attempt = 0; attempt < 4; ++attempt) {
    unsigned int count = static_cast<unsigned int>(out->size());
    nvmlReturn_t r = list(device, &count, out->empty() ? nullptr : out->data());
    if (r == NVML_SUCCESS) {
      out->resize(count);
      return true;
    }
    if (r != NVML_ERROR_INSUFFICIENT_SIZE) return false;
    out->resize(count + 4);
  }
  return false;
}

// Per-process SM utilisation since `last_seen_wall_us`; empty when nothing ran (NOT_FOUND).
bool ReadUtilization(nvmlDevice_t device, unsigned long long last_seen_wall_us,
                     std::vector<NvmlUtilSample>* out) {
  auto read = NVML_FN(NvmlUtilFn, "nvmlDeviceGetProcessUtilization");
  if (read == nullptr) return false;
  out->resize(std::max<size_t>(out->size(), 8));
  for (int attempt = 0; attempt < 4; ++attempt) {
    unsigned int count = static_cast<unsigned int>(out->size());
    nvmlReturn_t r = read(device, out->data(), &count, last_seen_wall_us);
    if (r == NVML_SUCCESS) {
      out->resize(count);
      return true;
    }
    if (r == NVML_ERROR_NOT_FOUND) {
      out->clear();
      return true;
    }
    if (r != NVML_ERROR_INSUFFICIENT_SIZE) return false;
    out->resize(count + 8);
  }
  return false;
}

nvmlDevice_t NvmlDeviceOf(int cuda_device) {
  using ByUuid = nvmlReturn_t (*)(const char*, nvmlDevice_t*);
  using ByIndex = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
  using GetUuid = CUresult (*)(CUuuid*, CUdevice);
  static void* volatile uuid_slot = nullptr;
  auto get_uuid = Real<GetUuid>(&uuid_slot, "cuDeviceGetUuid_v2", RealCuda);
  auto by_uuid = NVML_FN(ByUuid, "nvmlDeviceGetHandleByUUID");
  CUuuid uuid;
  nvmlDevice_t device = nullptr;
  if (get_uuid != nullptr && by_uuid != nullptr && get_uuid(&uuid, cuda_device) == CUDA_SUCCESS) {
    char text[48];
    FormatUuid(reinterpret_cast<const unsigned char*>(uuid.bytes), text);
    if (by_uuid(text, &device) == NVML_SUCCESS) return device;
  }
  auto by_index = NVML_FN(ByIndex, "nvmlDeviceGetHandleByIndex_v2");
  if (by_index != nullptr && by_index(static_cast<unsigned int>(cuda_device), &device) == 0) {
    return device;
  }
  return nullptr;
}

// ---- host-PID discovery ---------------------------------------------------------------------

// True in the kernel's initial pid namespace (its /proc/self/ns/pid inode is PROC_PID_INIT_INO).
// A process never changes its own pid namespace, so it is read once.
bool InInitialPidNamespace() {
  static const bool initial = [] {
    struct stat st {};
    return ::stat("/proc/self/ns/pid", &st) == 0 && st.st_ino == 0xEFFFFFFCu;
  }();
  return initial;
}

// Spec §1.4, fixed: on the limited device itself (not always device 0), and correct when this
// process already holds a context there (upstream's diff is then empty and it never throttles).
// Under the region's discovery lock (so the container's other processes do not confuse the
// diff): list NVML's processes, retain the device's primary context, list again; a single new
// pid is ours. If there is none (we were listed already) or several: in the host's pid namespace,
// our own pid when NVML lists it; else a second diff by memory: allocate kProbeBytes through the
// real driver (charged like any allocation; skipped when it does not fit) and take the one pid
// whose usage grew by at least that much. Returns 0 when nothing is conclusive (retried later).
int32_t DiscoverHostPid(SharedRegion* region, int device, nvmlDevice_t nvml) {
  using Retain = CUresult (*)(CUcontext*, CUdevice);
  using Release = CUresult (*)(CUdevice);
  using SetCurrent = CUresult (*)(CUcontext);
  using Alloc = CUresult (*)(CUdeviceptr*, size_t);
  using Free = CUresult (*)(CUdeviceptr);
  static void* volatile retain_slot = nullptr;
  static void* volatile release_slot = nullptr;
  static void* volatile set_slot = nullptr;
  static void* volatile alloc_slot = nullptr;
  static void* volatile free_slot = nullptr;
  auto retain = Real<Retain>(&retain_slot, "cuDevicePrimaryCtxRetain", RealCuda);
  auto release = Real<Release>(&release_slot, "cuDevicePrimaryCtxRelease_v2", RealCuda);
  auto set_current = Real<SetCurrent>(&set_slot, "cuCtxSetCurrent", RealCuda);
  auto alloc = Real<Alloc>(&alloc_slot, "cuMemAlloc_v2", RealCuda);
  auto free_fn = Real<Free>(&free_slot, "cuMemFree_v2", RealCuda);
  if (retain == nullptr || release == nullptr || set_current == nullptr) return 0;

  auto lock = region->LockHostPidDiscovery(10000);
  if (!lock.ok()) return 0;
  std::vector<NvmlProcessInfoV1> before, after;
  if (!ListProcesses(nvml, &before)) return 0;
  CUcontext ctx = nullptr;
  if (retain(&ctx, device) != CUDA_SUCCESS) return 0;
  int32_t found = 0;
  int candidates = 0;
  if (ListProcesses(nvml, &after)) {
    for (const NvmlProcessInfoV1& a : after) {
      bool seen = false;
      for (const NvmlProcessInfoV1& b : before) seen = seen || b.pid == a.pid;
      if (!seen) {
        found = static_cast<int32_t>(a.pid);
        ++candidates;
      }
    }
  }
  // In the host's pid namespace (hostPID pods, tests) our pid is the host pid: when NVML lists
  // it, that settles it without the memory probe below.
  if (candidates != 1 && InInitialPidNamespace()) {
    for (const NvmlProcessInfoV1& a : after) {
      if (static_cast<pid_t>(a.pid) == getpid()) {
        found = static_cast<int32_t>(a.pid);
        candidates = 1;
      }
    }
  }
  if (candidates != 1 && alloc != nullptr && free_fn != nullptr &&
      set_current(ctx) == CUDA_SUCCESS) {
    found = 0;
    candidates = 0;
    CUdeviceptr probe = 0;
    std::vector<NvmlProcessInfoV1> grown;
    // The probe is charged like any allocation: it must not take the container past its limit
    // (and when it cannot be charged, this attempt gives up).
    Enforcer& enforcer = Enforcer::Get();
    const bool charged = enforcer.Charge(device, kProbeBytes);
    if (charged && ListProcesses(nvml, &before) && alloc(&probe, kProbeBytes) == CUDA_SUCCESS) {
      if (ListProcesses(nvml, &grown)) {
        for (const NvmlProcessInfoV1& g : grown) {
          unsigned long long was = 0;
          for (const NvmlProcessInfoV1& b : before) {
            if (b.pid == g.pid) was = b.usedGpuMemory;
          }
          if (g.usedGpuMemory >= was + kProbeBytes) {
            found = static_cast<int32_t>(g.pid);
            ++candidates;
          }
        }
      }
      free_fn(probe);
    }
    if (charged) enforcer.Uncharge(device, kProbeBytes);
    set_current(nullptr);
  }
  release(device);
  return candidates == 1 ? found : 0;
}

// ---- the watcher ----------------------------------------------------------------------------

void Tick(DeviceLimiter& d, int dev, bool switch_on, bool have_pid) {
  std::vector<NvmlUtilSample> raw;
  const int64_t wall = Now(CLOCK_REALTIME);
  const int64_t mono = Now(CLOCK_MONOTONIC);
  const bool measured =
      d.nvml != nullptr &&
      ReadUtilization(d.nvml, static_cast<unsigned long long>(d.last_wall_us), &raw);
  const double window_s = static_cast<double>(wall - d.last_wall_us) * 1e-6;
  d.last_wall_us = wall;
  // NVML cannot measure per-process utilisation everywhere (MIG instances, old drivers): the
  // budget then never learns its rate, so say so once rather than silently not limiting.
  if (!measured && ++d.unmeasured_ticks == 25) {
    Log(1,
        "warning: NVML gives no per-process utilisation on device %d: its compute limit of "
        "%llu%% is not applied",
        dev, static_cast<unsigned long long>(d.limit_percent));
  }
  if (measured) {
    d.unmeasured_ticks = 0;
    if (d.ticks++ % kProcessListTicks == 0 && !ListProcesses(d.nvml, &d.procs)) d.procs.clear();
    const std::vector<NvmlProcessInfoV1>& procs = d.procs;
    std::vector<ProcessSample> samples;
    samples.reserve(raw.size());
    for (const NvmlUtilSample& s : raw) {
      ProcessSample p;
      p.host_pid = static_cast<int32_t>(s.pid);
      p.sm_util_percent = s.smUtil;
      for (const NvmlProcessInfoV1& info : procs) {
        if (info.pid == s.pid) p.used_bytes = info.usedGpuMemory;
      }
      samples.push_back(p);
    }
    const uint64_t util = compute->region->PublishUtilization(dev, samples);
    if (switch_on && have_pid) {
      double units = 0, rate = 0;
      bool throttled = false;
      {
        std::lock_guard<std::mutex> lock(d.mu);
        units = d.bucket.TakeUnitsSinceLastTick();
        throttled = d.bucket.TakeThrottledSinceLastTick();
        rate = d.controller.Update(static_cast<double>(util), window_s, units, throttled);
        d.bucket.SetRate(rate, d.controller.tuning().burst_s, mono);
      }
      Log(4, "compute: dev=%d util_percent=%llu window_ms=%.1f units=%.0f throttled=%d rate=%.1f",
          dev, static_cast<unsigned long long>(util), window_s * 1e3, units, throttled ? 1 : 0,
          rate);
    }
  }
  const uint8_t mode = !switch_on ? kModeOff : have_pid ? kModeBudget : kModePriority;
  if (d.mode.load(std::memory_order_relaxed) != mode) {
    if (mode != kModeBudget) {  // a budget from before a pause is stale: learn it again
      std::lock_guard<std::mutex> lock(d.mu);
      d.controller = ShareController(static_cast<double>(d.limit_percent));
      d.bucket = TokenBucket();
    }
    d.mode.store(mode, std::memory_order_relaxed);
  }
}

void* WatcherMain(void*) {
  using Init = CUresult (*)(unsigned int);
  using NvmlInit = nvmlReturn_t (*)();
  static void* volatile init_slot = nullptr;
  auto cu_init = Real<Init>(&init_slot, "cuInit", RealCuda);
  auto nvml_init = NVML_FN(NvmlInit, "nvmlInit_v2");
  if (cu_init == nullptr || cu_init(0) != CUDA_SUCCESS || nvml_init == nullptr ||
      nvml_init() != NVML_SUCCESS) {
    Log(1, "warning: compute limit not enforced: no driver or NVML to measure with");
    return nullptr;
  }
  int first = -1;
  const int64_t wall = Now(CLOCK_REALTIME);
  for (int dev = 0; dev < kMaxDevices; ++dev) {
    DeviceLimiter& d = compute->devices[dev];
    if (d.limit_percent == 0) continue;
    d.nvml = NvmlDeviceOf(dev);
    d.last_wall_us = wall;
    if (d.nvml != nullptr && first < 0) first = dev;
  }
  int32_t host_pid = compute->region->host_pid();
  int attempts = 0;
  for (;;) {
    if (host_pid == 0 && first >= 0 && attempts < kDiscoveryAttempts) {
      host_pid = DiscoverHostPid(compute->region, first, compute->devices[first].nvml);
      if (host_pid != 0) {
        (void)compute->region->SetHostPid(host_pid);
        Log(3, "compute: host pid %d (pid %d)", host_pid, static_cast<int>(getpid()));
        MeasureContextMemory(-1);
      } else if (++attempts == kDiscoveryAttempts) {
        Log(1,
            "warning: host pid not found through NVML after %d attempts: the compute limit "
            "is not enforced in pid %d (priority blocking still applies)",
            attempts, static_cast<int>(getpid()));
      }
    }
    const bool switch_on = SwitchOn();
    for (int dev = 0; dev < kMaxDevices; ++dev) {
      DeviceLimiter& d = compute->devices[dev];
      if (d.limit_percent != 0) Tick(d, dev, switch_on, host_pid != 0);
    }
    UpdateGate();
    SleepUs(kTickMs * 1000);
  }
  return nullptr;
}

void StartWatcher() {
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // Every signal blocked in the watcher: the application's handlers run on its own threads.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const int rc = pthread_create(&thread, &attr, WatcherMain, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) Log(0, "error: compute watcher thread not started (%d): no compute limit", rc);
}

}  // namespace

void StartCompute(SharedRegion* region, const EnvConfig& env) {
  if (region == nullptr || env.utilization_policy == UtilizationPolicy::kDisable) {
    launch_gate.store(kGateOpen, std::memory_order_relaxed);
    return;
  }
  compute = new Compute();
  compute->region = region;
  compute->policy = env.utilization_policy;
  compute->record_interval_s = std::max<uint32_t>(1, env.record_kernel_interval_s);
  for (int dev = 0; dev < kMaxDevices; ++dev) {
    const uint64_t limit = region->sm_limit(dev);
    if (limit == 0 || limit >= 100) continue;
    DeviceLimiter& d = compute->devices[dev];
    d.limit_percent = limit;
    d.controller = ShareController(static_cast<double>(limit));
    compute->any_limited = true;
  }
  if (!compute->any_limited) {
    launch_gate.store(kGateOpen, std::memory_order_relaxed);
    return;
  }
  // Until the watcher's first tick: the switch as it stands, no budget yet.
  const bool on = SwitchOn();
  for (DeviceLimiter& d : compute->devices) {
    if (d.limit_percent != 0) d.mode.store(on ? kModePriority : kModeOff);
  }
  // The watcher starts at the first launch, not here: this runs in any process that touches
  // a hook, nvidia-smi's NVML calls included, and the watcher initialises CUDA and takes a
  // context to find the host pid, which only a process that runs kernels should pay for.
  compute->restart_watcher.store(true);
  UpdateGate();
}

void StartHostPidDiscovery(SharedRegion* region) {
  if (region == nullptr || region->host_pid() != 0) return;
  if (compute != nullptr && compute->any_limited) return;  // the watcher does it
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const int rc = pthread_create(
      &thread, &attr,
      [](void* arg) -> void* {
        auto* r = static_cast<SharedRegion*>(arg);
        using NvmlInit = nvmlReturn_t (*)();
        auto nvml_init = NVML_FN(NvmlInit, "nvmlInit_v2");
        if (nvml_init == nullptr || nvml_init() != NVML_SUCCESS) return nullptr;
        const nvmlDevice_t nvml = NvmlDeviceOf(0);
        if (nvml == nullptr) return nullptr;
        for (int attempt = 0; attempt < kDiscoveryAttempts && r->host_pid() == 0; ++attempt) {
          const int32_t host_pid = DiscoverHostPid(r, 0, nvml);
          if (host_pid != 0) {
            (void)r->SetHostPid(host_pid);
            Log(3, "host pid %d (pid %d)", host_pid, static_cast<int>(getpid()));
            MeasureContextMemory(-1);
            break;
          }
          SleepUs(kTickMs * 1000);
        }
        return nullptr;
      },
      region);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) Log(1, "warning: host pid discovery not started (%d)", rc);
}

void StampLaunch(int64_t now_s) {
  last_launch_stamp_s.store(now_s, std::memory_order_relaxed);
  Enforcer::Get().NoteKernelActivity(static_cast<uint64_t>(now_s));
}

void MeasureContextMemory(int device) {
  Enforcer& enforcer = Enforcer::Get();
  int32_t host_pid = enforcer.HostPid();
  // In the host's pid namespace our pid is the host pid: measured at once, not only after the
  // background discovery (which is what a container's processes wait for).
  if (host_pid == 0 && InInitialPidNamespace()) host_pid = static_cast<int32_t>(getpid());
  if (host_pid == 0) return;  // NVML lists processes by host pid: nothing to match yet
  static pthread_once_t nvml_once = PTHREAD_ONCE_INIT;
  static bool nvml_ready = false;
  pthread_once(&nvml_once, [] {
    using NvmlInit = nvmlReturn_t (*)();
    auto init = NVML_FN(NvmlInit, "nvmlInit_v2");
    nvml_ready = init != nullptr && init() == NVML_SUCCESS;
  });
  if (!nvml_ready) return;
  int first = device;
  int last = device;
  if (device < 0) {
    using GetCount = CUresult (*)(int*);
    static void* volatile count_slot = nullptr;
    auto get_count = Real<GetCount>(&count_slot, "cuDeviceGetCount", RealCuda);
    int count = 0;
    if (get_count == nullptr || get_count(&count) != CUDA_SUCCESS) return;
    first = 0;
    last = std::min(count, static_cast<int>(kMaxDevices)) - 1;
  }
  std::vector<NvmlProcessInfoV1> procs;
  for (int dev = std::max(first, 0); dev <= last && dev < kMaxDevices; ++dev) {
    const nvmlDevice_t nvml = NvmlDeviceOf(dev);
    if (nvml == nullptr || !ListProcesses(nvml, &procs)) continue;
    uint64_t used = 0;
    for (const NvmlProcessInfoV1& p : procs) {
      // NVML_VALUE_NOT_AVAILABLE (no per-process accounting, e.g. some containers): unknown.
      if (static_cast<int32_t>(p.pid) == host_pid && p.usedGpuMemory != ~0ull) {
        used = p.usedGpuMemory;
      }
    }
    // Everything the driver holds for this process that its allocations do not explain:
    // context, module code, runtime heap and stack, granule rounding. Charges are taken before
    // the driver allocates and dropped after it frees, so this never counts an allocation twice
    // (it may briefly count less while one is in flight).
    const uint64_t own = enforcer.OwnAllocationBytes(dev);
    enforcer.SetContextBytes(dev, used > own ? used - own : 0);
  }
}

void ComputeAfterForkChild() {
  last_launch_stamp_s.store(0, std::memory_order_relaxed);
  if (compute == nullptr || !compute->any_limited) return;
  // The child has its own host pid to find and its own launches to budget.
  for (DeviceLimiter& d : compute->devices) {
    new (&d.mu) std::mutex();
    if (d.limit_percent == 0) continue;
    d.bucket = TokenBucket();
    d.controller = ShareController(static_cast<double>(d.limit_percent));
    if (d.mode.load() == kModeBudget) d.mode.store(kModePriority);
  }
  compute->restart_watcher.store(true);
  UpdateGate();
}

void ThrottleLaunch(double cost) {
  if (launch_gate.load(std::memory_order_relaxed) == kGateUnknown) (void)Enforcer::Get();
  if (launch_gate.load(std::memory_order_relaxed) != kGateLimited || compute == nullptr) return;
  if (compute->restart_watcher.exchange(false)) StartWatcher();
  int dev = 0;
  if (!CurrentDevice(&dev) || dev < 0 || dev >= kMaxDevices) return;
  DeviceLimiter& d = compute->devices[dev];
  const uint8_t mode = d.mode.load(std::memory_order_relaxed);
  if (mode == kModeOff) return;
  SharedRegion* region = compute->region;
  // The monitor blocks a lower-priority container while a higher one is busy.
  while (region->recent_kernel() < 0) SleepUs(kBlockedPollUs);
  timespec coarse{};
  clock_gettime(CLOCK_REALTIME_COARSE, &coarse);
  const auto now_s = static_cast<uint64_t>(coarse.tv_sec);
  uint64_t next = compute->next_stamp_s.load(std::memory_order_relaxed);
  if (now_s >= next && compute->next_stamp_s.compare_exchange_strong(
                           next, now_s + compute->record_interval_s, std::memory_order_relaxed)) {
    Enforcer::Get().NoteKernelActivity(now_s);
  }
  if (mode != kModeBudget) return;
  for (;;) {
    int64_t wait_us;
    {
      std::lock_guard<std::mutex> lock(d.mu);
      wait_us = d.bucket.TryTake(cost, Now(CLOCK_MONOTONIC));
    }
    if (wait_us == 0) return;
    SleepUs(std::min(wait_us, kMaxSleepUs));
    if (d.mode.load(std::memory_order_relaxed) != kModeBudget) return;
  }
}

}  // namespace hami::vgpu::hook
