#include "vgpu/hook/enforcer.h"

#include <cuda.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

#include "vgpu/env.h"
#include "vgpu/hook/compute.h"
#include "vgpu/hook/real.h"
#include "vgpu/hook/retained.h"
#include "vgpu/shared_region.h"

namespace hami::vgpu::hook {
namespace {

int log_level = kDefaultLogLevel;

struct State {
  // Leaked on purpose: hooks may run on other threads while static destructors do.
  SharedRegion* region = nullptr;
  std::mutex mu;
  // One map per Enforcer::KeySpace. GUARDED_BY(mu)
  std::unordered_map<uint64_t, Allocation> allocations[2];
};

State* state = nullptr;
std::atomic<bool> host_pid_discovery_started{false};
pthread_once_t once = PTHREAD_ONCE_INIT;

void AtExit() {
  if (state != nullptr && state->region != nullptr) (void)state->region->Unregister();
}
void PrepareFork() {
  if (state != nullptr && state->region != nullptr) state->region->PrepareFork();
}
void ParentAfterFork() {
  if (state != nullptr && state->region != nullptr) state->region->AfterForkParent();
}
void ChildAfterFork() {
  if (state == nullptr) return;
  if (state->region != nullptr) state->region->AfterForkChild();
  ComputeAfterForkChild();
  host_pid_discovery_started.store(false);
  // The child owns none of the parent's allocations' charges (its slot starts empty); frees of
  // inherited addresses pass through uncharged.
  new (&state->mu) std::mutex();
  for (auto& map : state->allocations) map.clear();
  VmmAfterForkChild();
  PoolsAfterForkChild();
}

void Initialise() {
  state = new State();
  const EnvConfig env = ParseProcessEnv();
  log_level = env.log_level;
  for (const std::string& warning : env.warnings) Log(1, "warning: %s", warning.c_str());
  const RegionInit init = RegionInitFromEnv(env);
  auto opened = SharedRegion::Open(env.shared_cache_path, init);
  if (opened.ok()) {
    for (const std::string& warning : opened.value()->warnings()) Log(2, "%s", warning.c_str());
    state->region = opened.value().release();
  } else {
    // Limits still hold within this process; the container's other processes are not counted.
    Log(0, "error: shared region %s refused (%s); enforcing limits per process",
        env.shared_cache_path.c_str(), opened.status().message());
    auto fallback = SharedRegion::Private(init);
    if (fallback.ok()) {
      state->region = fallback.value().release();
    } else {
      Log(0, "error: no private region either (%s): memory is not limited",
          fallback.status().message());
    }
  }
  if (state->region != nullptr) {
    Status registered = state->region->Register();
    if (!registered.ok()) Log(0, "error: %s", registered.message());
  }
  std::atexit(AtExit);
  pthread_atfork(PrepareFork, ParentAfterFork, ChildAfterFork);
  StartCompute(state->region, env);
}

}  // namespace

void Log(int level, const char* format, ...) {
  if (level > log_level) return;
  char line[512];
  va_list args;
  va_start(args, format);
  vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  std::fprintf(stderr, "[hami-vgpu] %s\n", line);
}

void FormatUuid(const unsigned char bytes[16], char out[48]) {
  std::snprintf(out, 48, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14],
                bytes[15]);
}

Enforcer& Enforcer::Get() {
  static Enforcer instance;
  pthread_once(&once, Initialise);
  return instance;
}

bool Enforcer::Charge(int device, uint64_t bytes) {
  if (state->region == nullptr) return true;
  Status charged = state->region->TryCharge(device, bytes, ChargeKind::kData);
  if (charged.ok()) return true;
  // Memory this process holds in reserve (pools, graph memory) would be wasted by a refusal:
  // give it back and try once more.
  if (charged.code() == Code::kOutOfMemory && ReclaimRetained(device)) {
    charged = state->region->TryCharge(device, bytes, ChargeKind::kData);
    if (charged.ok()) return true;
  }
  if (charged.code() == Code::kOutOfMemory) {
    Log(3, "refused: %s", charged.message());
    return false;
  }
  // A device index the region cannot hold (beyond 16) or a slot table full of live processes:
  // the limit cannot be tracked, so the allocation is refused rather than let through uncounted.
  Log(1, "error: charge on device %d refused: %s", device, charged.message());
  return false;
}

void Enforcer::Uncharge(int device, uint64_t bytes) {
  if (state->region == nullptr) return;
  Status released = state->region->Uncharge(device, bytes, ChargeKind::kData);
  if (!released.ok()) Log(1, "error: uncharge on device %d: %s", device, released.message());
}

void Enforcer::ForceCharge(int device, uint64_t bytes) {
  if (state->region == nullptr) return;
  Status charged = state->region->ForceCharge(device, bytes, ChargeKind::kData);
  if (!charged.ok())
    Log(1, "error: charge of held memory on device %d: %s", device, charged.message());
}

void Enforcer::SetContextBytes(int device, uint64_t bytes) {
  if (state->region == nullptr) return;
  Status set = state->region->SetOwnCharge(device, ChargeKind::kContext, bytes);
  if (!set.ok()) Log(1, "error: context memory on device %d: %s", device, set.message());
}

uint64_t Enforcer::OwnAllocationBytes(int device) {
  if (state->region == nullptr) return 0;
  return state->region->OwnCharge(device, ChargeKind::kData) +
         state->region->OwnCharge(device, ChargeKind::kModule);
}

void Enforcer::NoteKernelActivity(uint64_t now_s) {
  if (state->region == nullptr) return;
  state->region->MarkKernelActivity(2);
  state->region->StampKernelTime(now_s);
}

SharedRegion* Enforcer::Region() { return state->region; }

int32_t Enforcer::HostPid() { return state->region != nullptr ? state->region->host_pid() : 0; }

uint64_t Enforcer::LimitBytes(int device) {
  return state->region != nullptr ? state->region->limit(device) : 0;
}

uint64_t Enforcer::UsageBytes(int device) {
  return state->region != nullptr ? state->region->Usage(device) : 0;
}

void Enforcer::Remember(KeySpace space, uint64_t key, Allocation allocation) {
  std::lock_guard<std::mutex> lock(state->mu);
  state->allocations[static_cast<int>(space)][key] = allocation;
}

Allocation Enforcer::Forget(KeySpace space, uint64_t key) {
  std::lock_guard<std::mutex> lock(state->mu);
  auto& map = state->allocations[static_cast<int>(space)];
  auto it = map.find(key);
  if (it == map.end()) return Allocation{};
  const Allocation allocation = it->second;
  map.erase(it);
  return allocation;
}

int Enforcer::ContainerHostPids(int32_t* out, int max) {
  if (state->region == nullptr) return 0;
  const layout::Region& raw = state->region->raw();
  // Read without the region lock: pids and host pids are single aligned words.
  const int slots =
      std::min<int>(__atomic_load_n(&raw.proc_num, __ATOMIC_ACQUIRE), layout::kMaxProcs);
  int written = 0;
  for (int i = 0; i < slots && written < max; ++i) {
    const int32_t pid = __atomic_load_n(&raw.procs[i].pid, __ATOMIC_RELAXED);
    const int32_t host_pid = __atomic_load_n(&raw.procs[i].hostpid, __ATOMIC_RELAXED);
    if (pid > 0 && host_pid > 0) out[written++] = host_pid;
  }
  return written;
}

void Enforcer::AfterCudaInit() {
  if (!host_pid_discovery_started.exchange(true)) StartHostPidDiscovery(state->region);
}

int Enforcer::DeviceOfUuid(const unsigned char uuid[16]) {
  char text[48];
  FormatUuid(uuid, text);
  return DeviceOfUuidText(text);
}

int Enforcer::DeviceOfUuidText(const char* text) {
  if (text == nullptr) return -1;
  // The GPUs as the container's CUDA processes number them, when the driver is initialised.
  using GetCount = CUresult (*)(int*);
  using GetUuid = CUresult (*)(CUuuid*, CUdevice);
  static void* volatile count_slot = nullptr;
  static void* volatile uuid_slot = nullptr;
  auto get_count = Real<GetCount>(&count_slot, "cuDeviceGetCount", RealCuda);
  auto get_uuid = Real<GetUuid>(&uuid_slot, "cuDeviceGetUuid_v2", RealCuda);
  int count = 0;
  if (get_count != nullptr && get_uuid != nullptr && get_count(&count) == CUDA_SUCCESS) {
    for (int device = 0; device < count; ++device) {
      CUuuid uuid;
      if (get_uuid(&uuid, device) != CUDA_SUCCESS) continue;
      char candidate[48];
      FormatUuid(reinterpret_cast<const unsigned char*>(uuid.bytes), candidate);
      if (std::strcmp(candidate, text) == 0) return device;
    }
  }
  return -1;
}

bool CurrentDevice(int* device) {
  static void* volatile slot = nullptr;
  auto get_device = Real<CUresult (*)(CUdevice*)>(&slot, "cuCtxGetDevice", RealCuda);
  CUdevice current = 0;
  if (get_device == nullptr || get_device(&current) != CUDA_SUCCESS) return false;
  *device = current;
  return true;
}

}  // namespace hami::vgpu::hook
