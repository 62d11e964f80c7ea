// The fake NVML's dynamic MIG: GPU instance profiles with their legal placements, and GPU and
// compute instances created and destroyed at run time with NVML's semantics and error codes.
// Config keys, per device (see fake_nvml.cc for the rest):
//   "mig_model": "A100-SXM4-40GB" | "A100-SXM4-80GB" | "H100-80GB-HBM3" ...: fills mig_profiles
//       with that GPU's GPU instance profiles as `nvidia-smi mig -lgip -lgipp` lists them (a name
//       with H100 -> the H100 80GB table, A100 with 80GB -> A100 80GB, other A100 -> A100 40GB)
//   "mig_profiles": [{..., "placements": [{"start": 0, "size": 2}, ...], "unique_id": 19}]: added
//       to the model's (replacing one of the same id); a profile without placements cannot be
//       created; unique_id (default: the id) is what NVML reports as the profile's id and a GPU
//       instance's profileId, as real drivers report 19 for the A100 1g at index 0 (the model
//       tables carry the real ones)
//   "gpu_instances": [{"id": 1, "profile_id": 2, "start": 0, "size": 4}]: GPU instances (those
//       that "mig_instances" names are added from there)
// Creating or destroying writes the device's "gpu_instances" and "mig_instances" back into the
// config file (atomically), so another process, or this one after nvmlInit again, sees them as a
// driver would. Other processes' writes are picked up before every dynamic-MIG call.
//
// Profile ids: nvmlDeviceGetGpuInstanceProfileInfo takes the index (NVML_GPU_INSTANCE_PROFILE_*)
// and reports the unique id in info.id; the placement, create and instance-list calls take that
// unique id, as go-nvml passes them (info.Id), and GPU instance info reports it as profileId.
// The config's "profile_id" keys are indexes.
//
// Semantics (as NVML documents them): MIG off -> NOT_SUPPORTED; an unknown profile, a placement
// the profile does not list, a stale handle -> INVALID_ARGUMENT; a placement overlapping an
// existing GPU instance, more GPU slices than the GPU has, more instances than the profile's
// instanceCount, or compute instances beyond their GPU instance's slices ->
// INSUFFICIENT_RESOURCES; destroying a GPU instance that still has compute instances, or a
// compute instance marked "in_use" (processes on it) -> IN_USE.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "fake_nvml_state.h"
#include "nvml/nvml_api.h"

namespace fake_nvml {

namespace {

using Placements = std::vector<std::pair<unsigned int, unsigned int>>;

Placements Every(unsigned int size, std::initializer_list<unsigned int> starts) {
  Placements out;
  for (unsigned int start : starts) out.emplace_back(start, size);
  return out;
}

// NVML's GPU instance profile ids: 0 1g, 1 2g, 2 3g, 3 4g, 4 7g, 7 1g+me (REV1), 9 1g with two
// memory slices (REV2). Memory is what NVML reports (MiB), SMs per instance.
struct ModelProfile {
  unsigned int id, slices, instances, sm;  // the unique id comes from UniqueId
  unsigned long long memory_mib;
  Placements placements;
};

std::vector<ModelProfile> ModelTable(const std::string& model) {
  const Placements any1 = Every(1, {0, 1, 2, 3, 4, 5, 6});
  const Placements even2 = Every(2, {0, 2, 4, 6});
  if (model.find("H100") != std::string::npos) {  // 132 SMs, 80 GB
    return {{0, 1, 7, 16, 9984, any1},
            {7, 1, 1, 16, 9984, any1},
            {9, 1, 4, 26, 20096, even2},
            {1, 2, 3, 32, 20096, Every(2, {0, 2, 4})},
            {2, 3, 2, 60, 40448, Every(4, {0, 4})},
            {3, 4, 1, 64, 40448, Every(4, {0})},
            {4, 7, 1, 132, 81152, Every(8, {0})}};
  }
  if (model.find("A100") == std::string::npos) return {};
  if (model.find("80GB") != std::string::npos) {  // 108 SMs, 98 in MIG mode
    return {{0, 1, 7, 14, 9728, any1},
            {7, 1, 1, 14, 9728, any1},
            {9, 1, 4, 14, 19968, even2},
            {1, 2, 3, 28, 19968, Every(2, {0, 2, 4})},
            {2, 3, 2, 42, 40192, Every(4, {0, 4})},
            {3, 4, 1, 56, 40192, Every(4, {0})},
            {4, 7, 1, 98, 81152, Every(8, {0})}};
  }
  return {{0, 1, 7, 14, 4864, any1},
          {7, 1, 1, 14, 4864, any1},
          {9, 1, 4, 14, 9984, even2},
          {1, 2, 3, 28, 9984, Every(2, {0, 2, 4})},
          {2, 3, 2, 42, 20096, Every(4, {0, 4})},
          {3, 4, 1, 56, 20096, Every(4, {0})},
          {4, 7, 1, 98, 40448, Every(8, {0})}};
}

// The unique profile ids drivers report for the profile indexes (nvidia-smi's "ID" column).
unsigned int UniqueId(unsigned int index) {
  switch (index) {
    case 0:
      return 19;  // 1g
    case 7:
      return 20;  // 1g+me
    case 9:
      return 15;  // 1g with two memory slices
    case 1:
      return 14;  // 2g
    case 2:
      return 9;  // 3g
    case 3:
      return 5;  // 4g
    default:
      return 0;  // 7g
  }
}

// Compute instance profile id -> compute slices (NVML_COMPUTE_INSTANCE_PROFILE_*).
constexpr unsigned int kCiSlices[kNvmlComputeInstanceProfileCount] = {1, 2, 3, 4, 7, 8, 6, 1, 2};

const FakeMigProfile* Profile(const FakeDevice& d, unsigned int id) {
  for (const FakeMigProfile& p : d.mig_profiles) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

// The profile whose unique id is `unique_id`: what the create, placement and instance-list calls
// take (the info calls take the index).
const FakeMigProfile* ProfileByUnique(const FakeDevice& d, unsigned int unique_id) {
  for (const FakeMigProfile& p : d.mig_profiles) {
    if (p.unique_id == unique_id) return &p;
  }
  return nullptr;
}

// Whether GPU instance profile `gi` offers compute profile `ci` (the first five: any that fits,
// but not three slices of four, as NVIDIA's tables).
bool Offers(const FakeMigProfile& gi, unsigned int ci) {
  if (ci > 4) return false;
  const unsigned int slices = kCiSlices[ci];
  return slices <= gi.slice_count && !(slices == 3 && gi.slice_count == 4);
}

unsigned int CiProfileOf(unsigned int ci_slices) {
  for (unsigned int id = 0; id <= 4; ++id) {
    if (kCiSlices[id] == ci_slices) return id;
  }
  return 0;
}

nvmlReturn_t Begin(nvmlDevice_t handle, size_t* index) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  ReloadIfChangedLocked();
  const FakeDevice* d = nullptr;
  if (nvmlReturn_t r = Lookup(handle, &d); r != NVML_SUCCESS) return r;
  *index = reinterpret_cast<uintptr_t>(handle) - 1;
  if (d->mig_profiles.empty() || !d->mig) return NVML_ERROR_NOT_SUPPORTED;
  return NVML_SUCCESS;
}

// The device and GPU instance behind a GI handle. Requires mu.
nvmlReturn_t LookupGi(nvmlGpuInstance_t handle, size_t* gpu, FakeGpuInstance** gi) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  ReloadIfChangedLocked();
  const auto value = reinterpret_cast<uintptr_t>(handle);
  if (value < kGiHandleBase || value >= kCiHandleBase) return NVML_ERROR_INVALID_ARGUMENT;
  *gpu = (value - kGiHandleBase) / 0x100;
  const unsigned int id = (value - kGiHandleBase) % 0x100;
  if (*gpu >= devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  FakeDevice& d = devices[*gpu];
  if (d.lost) return NVML_ERROR_GPU_IS_LOST;
  if (!d.mig) return NVML_ERROR_NOT_SUPPORTED;
  for (FakeGpuInstance& g : d.gpu_instances) {
    if (g.id == id) {
      *gi = &g;
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_INVALID_ARGUMENT;  // destroyed: a stale handle
}

nvmlGpuInstance_t GiHandle(size_t gpu, unsigned int id) {
  return reinterpret_cast<nvmlGpuInstance_t>(kGiHandleBase + gpu * 0x100 + id);
}

nvmlComputeInstance_t CiHandle(size_t gpu, unsigned int gi, unsigned int ci) {
  return reinterpret_cast<nvmlComputeInstance_t>(kCiHandleBase + gpu * 0x10000 + gi * 0x100 + ci);
}

nlohmann::json GpuInstancesJson(const FakeDevice& d) {
  nlohmann::json out = nlohmann::json::array();
  for (const FakeGpuInstance& g : d.gpu_instances) {
    out.push_back(
        {{"id", g.id}, {"profile_id", g.profile_id}, {"start", g.start}, {"size", g.size}});
  }
  return out;
}

nlohmann::json MigInstancesJson(const FakeDevice& d) {
  nlohmann::json out = nlohmann::json::array();
  for (const FakeMigInstance& m : d.mig_instances) {
    out.push_back({{"uuid", m.uuid},
                   {"profile_id", m.profile_id},
                   {"start", m.start},
                   {"size", m.size},
                   {"gi", m.gi},
                   {"ci", m.ci},
                   {"ci_slices", m.ci_slices},
                   {"sm", m.sm},
                   {"error", m.error},
                   {"in_use", m.in_use}});
  }
  return out;
}

// Makes `next` device `gpu`'s state, in memory and in the config file (written to a temporary
// file and renamed over it). On a write failure nothing changes and UNKNOWN is returned.
// Requires mu.
nvmlReturn_t CommitLocked(size_t gpu, FakeDevice next) {
  if (const char* path = ConfigPathLocked(); path != nullptr) {
    nlohmann::json config;
    {
      std::ifstream in(path);
      config = nlohmann::json::parse(in, nullptr, false);
    }
    if (!config.is_object() || !config.contains("devices") || !config["devices"].is_array() ||
        config["devices"].size() <= gpu) {
      return NVML_ERROR_UNKNOWN;
    }
    config["devices"][gpu]["gpu_instances"] = GpuInstancesJson(next);
    config["devices"][gpu]["mig_instances"] = MigInstancesJson(next);
    const std::string temp = std::string(path) + ".tmp";
    {
      std::ofstream out(temp, std::ios::trunc);
      out << config.dump(2);
      if (!out.good()) return NVML_ERROR_UNKNOWN;
    }
    if (std::rename(temp.c_str(), path) != 0) return NVML_ERROR_UNKNOWN;
    NoteConfigWrittenLocked();
  }
  devices[gpu] = std::move(next);
  return NVML_SUCCESS;
}

// A MIG device UUID in NVIDIA's form, new for every creation as a driver's.
std::string NewMigUuid(const FakeDevice& d, unsigned int gi, unsigned int ci) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  const size_t a = std::hash<std::string>{}(d.uuid + "/" + std::to_string(gi) + "/" +
                                            std::to_string(ci) + "/" + std::to_string(now));
  const size_t b = std::hash<std::string>{}(std::to_string(a) + d.uuid);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "MIG-%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>(a >> 16) & 0xffff,
                static_cast<unsigned>(a) & 0xffff, static_cast<unsigned>(b >> 48) & 0xffff,
                static_cast<unsigned long long>(b) & 0xffffffffffffull);
  return buffer;
}

}  // namespace

void ReadMigProfiles(const nlohmann::json& config, FakeDevice* device) {
  for (const ModelProfile& m : ModelTable(config.value("mig_model", ""))) {
    device->mig_profiles.push_back(FakeMigProfile{m.id, UniqueId(m.id), m.slices, m.instances, m.sm,
                                                  m.memory_mib, m.placements});
  }
  for (const nlohmann::json& p : config.value("mig_profiles", nlohmann::json::array())) {
    FakeMigProfile profile;
    profile.id = p.value("id", 0u);
    profile.unique_id = p.value("unique_id", profile.id);
    profile.slice_count = p.value("slice_count", 0u);
    profile.instance_count = p.value("instance_count", 0u);
    profile.sm = p.value("sm", 0u);
    profile.memory_mib = p.value("memory_mib", 0ull);
    for (const nlohmann::json& at : p.value("placements", nlohmann::json::array())) {
      profile.placements.emplace_back(at.value("start", 0u), at.value("size", 0u));
    }
    std::erase_if(device->mig_profiles,
                  [&](const FakeMigProfile& known) { return known.id == profile.id; });
    device->mig_profiles.push_back(profile);
  }
}

void ReadGpuInstances(const nlohmann::json& config, FakeDevice* device) {
  auto add = [&](FakeGpuInstance gi) {
    for (const FakeGpuInstance& known : device->gpu_instances) {
      if (known.id == gi.id) return;
    }
    device->gpu_instances.push_back(gi);
  };
  for (const nlohmann::json& g : config.value("gpu_instances", nlohmann::json::array())) {
    add(FakeGpuInstance{g.value("id", 0u), g.value("profile_id", 0u), g.value("start", 0u),
                        g.value("size", 0u)});
  }
  for (const FakeMigInstance& m : device->mig_instances) {
    add(FakeGpuInstance{m.gi, m.profile_id, m.start, m.size});
  }
}

}  // namespace fake_nvml

using namespace fake_nvml;  // NOLINT: this file is the fake's implementation

extern "C" {

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(
    nvmlDevice_t handle, unsigned int profile_id, nvmlGpuInstancePlacement_t* placements,
    unsigned int* count) {
  std::lock_guard<std::mutex> lock(mu);
  size_t gpu = 0;
  if (nvmlReturn_t r = Begin(handle, &gpu); r != NVML_SUCCESS) return r;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const FakeMigProfile* profile = ProfileByUnique(devices[gpu], profile_id);
  if (profile == nullptr) return NVML_ERROR_NOT_SUPPORTED;
  const auto n = static_cast<unsigned int>(profile->placements.size());
  if (placements == nullptr) {
    *count = n;
    return NVML_SUCCESS;
  }
  if (*count < n) {
    *count = n;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  for (unsigned int i = 0; i < n; ++i) {
    placements[i] = {profile->placements[i].first, profile->placements[i].second};
  }
  *count = n;
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(
    nvmlDevice_t handle, unsigned int profile_id, const nvmlGpuInstancePlacement_t* placement,
    nvmlGpuInstance_t* out) {
  std::lock_guard<std::mutex> lock(mu);
  size_t gpu = 0;
  if (nvmlReturn_t r = Begin(handle, &gpu); r != NVML_SUCCESS) return r;
  if (placement == nullptr || out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const FakeDevice& d = devices[gpu];
  const FakeMigProfile* profile = ProfileByUnique(d, profile_id);
  if (profile == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const auto at = std::make_pair(placement->start, placement->size);
  if (std::find(profile->placements.begin(), profile->placements.end(), at) ==
      profile->placements.end()) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  unsigned int gpu_slices = 0, used_slices = 0, same_profile = 0;
  for (const FakeMigProfile& p : d.mig_profiles) gpu_slices = std::max(gpu_slices, p.slice_count);
  for (const FakeGpuInstance& g : d.gpu_instances) {
    if (placement->start < g.start + g.size && g.start < placement->start + placement->size) {
      return NVML_ERROR_INSUFFICIENT_RESOURCES;  // memory slices taken
    }
    const FakeMigProfile* other = Profile(d, g.profile_id);
    used_slices += other != nullptr ? other->slice_count : 0;
    same_profile += g.profile_id == profile->id ? 1 : 0;
  }
  if (used_slices + profile->slice_count > gpu_slices || same_profile >= profile->instance_count) {
    return NVML_ERROR_INSUFFICIENT_RESOURCES;
  }
  unsigned int id = 1;  // the smallest id no GPU instance has
  while (std::any_of(d.gpu_instances.begin(), d.gpu_instances.end(),
                     [&](const FakeGpuInstance& g) { return g.id == id; })) {
    ++id;
  }
  FakeDevice next = d;
  next.gpu_instances.push_back(FakeGpuInstance{id, profile->id, placement->start, placement->size});
  if (nvmlReturn_t r = CommitLocked(gpu, std::move(next)); r != NVML_SUCCESS) return r;
  *out = GiHandle(gpu, id);
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t gi) {
  std::lock_guard<std::mutex> lock(mu);
  size_t gpu = 0;
  FakeGpuInstance* instance = nullptr;
  if (nvmlReturn_t r = LookupGi(gi, &gpu, &instance); r != NVML_SUCCESS) return r;
  const FakeDevice& d = devices[gpu];
  const unsigned int id = instance->id;
  if (std::any_of(d.mig_instances.begin(), d.mig_instances.end(),
                  [&](const FakeMigInstance& m) { return m.gi == id; })) {
    return NVML_ERROR_IN_USE;  // compute instances first
  }
  FakeDevice next = d;
  std::erase_if(next.gpu_instances, [&](const FakeGpuInstance& g) { return g.id == id; });
  return CommitLocked(gpu, std::move(next));
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetGpuInstances(
    nvmlDevice_t handle, unsigned int profile_id, nvmlGpuInstance_t* out, unsigned int* count) {
  std::lock_guard<std::mutex> lock(mu);
  size_t gpu = 0;
  if (nvmlReturn_t r = Begin(handle, &gpu); r != NVML_SUCCESS) return r;
  if (out == nullptr || count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const FakeDevice& d = devices[gpu];
  const FakeMigProfile* profile = ProfileByUnique(d, profile_id);
  if (profile == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  unsigned int n = 0;  // the buffer holds the profile's instanceCount, as NVML requires
  for (const FakeGpuInstance& g : d.gpu_instances) {
    if (g.profile_id == profile->id) out[n++] = GiHandle(gpu, g.id);
  }
  *count = n;
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(
    nvmlGpuInstance_t gi, unsigned int profile_id, unsigned int engine_profile,
    nvmlComputeInstanceProfileInfo_t* info) {
  std::lock_guard<std::mutex> lock(mu);
  size_t gpu = 0;
  FakeGpuInstance* instance = nullptr;
  if (nvmlReturn_t r = LookupGi(gi, &gpu, &instance); r != NVML_SUCCESS) return r;
  if (info == nullptr || profile_id >= kNvmlComputeInstanceProfileCount ||
      engine_profile != kNvmlComputeInstanceEngineProfileShared) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  const FakeMigProfile* profile = Profile(devices[gpu], instance->profile_id);
  if (profile == nullptr || !Offers(*profile, profile_id)) return NVML_ERROR_NOT_SUPPORTED;
  std::memset(info, 0, sizeof(*info));
  info->id = profile_id;
  info->sliceCount = kCiSlices[profile_id];
  info->instanceCount = profile->slice_count / kCiSlices[profile_id];
  info->multiprocessorCount = profile->sm * kCiSlices[profile_id] / profile->slice_count;
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(
    nvmlGpuInstance_t gi, unsigned int profile_id, nvmlComputeInstance_t* out) {
  std::lock_guard<std::mutex> lock(mu);
  size_t gpu = 0;
  FakeGpuInstance* instance = nullptr;
  if (nvmlReturn_t r = LookupGi(gi, &gpu, &instance); r != NVML_SUCCESS) return r;
  const FakeDevice& d = devices[gpu];
  const FakeMigProfile* profile = Profile(d, instance->profile_id);
  if (out == nullptr || profile_id >= kNvmlComputeInstanceProfileCount || profile == nullptr ||
      !Offers(*profile, profile_id)) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  unsigned int used = 0;
  for (const FakeMigInstance& m : d.mig_instances) used += m.gi == instance->id ? m.ci_slices : 0;
  const unsigned int slices = kCiSlices[profile_id];
  if (used + slices > profile->slice_count) return NVML_ERROR_INSUFFICIENT_RESOURCES;
  unsigned int ci = 0;  // the smallest id free in this GPU instance
  while (std::any_of(d.mig_instances.begin(), d.mig_instances.end(), [&](const FakeMigInstance& m) {
    return m.gi == instance->id && m.ci == ci;
  })) {
    ++ci;
  }
  FakeMigInstance mig;
  mig.uuid = NewMigUuid(d, instance->id, ci);
  mig.profile_id = instance->profile_id;
  mig.start = instance->start;
  mig.size = instance->size;
  mig.gi = instance->id;
  mig.ci = ci;
  mig.ci_slices = slices;
  mig.sm = profile->sm * slices / profile->slice_count;
  const unsigned int gi_id = instance->id;
  FakeDevice next = d;
  next.mig_instances.push_back(mig);
  next.max_mig_devices =
      std::max(next.max_mig_devices, static_cast<unsigned int>(next.mig_instances.size()));
  if (nvmlReturn_t r = CommitLocked(gpu, std::move(next)); r != NVML_SUCCESS) return r;
  *out = CiHandle(gpu, gi_id, ci);
  return NVML_SUCCESS;
}

namespace {

// The MIG device behind a compute instance handle. Requires mu.
nvmlReturn_t LookupCi(nvmlComputeInstance_t handle, size_t* gpu, size_t* index) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  ReloadIfChangedLocked();
  const auto value = reinterpret_cast<uintptr_t>(handle);
  if (value < kCiHandleBase) return NVML_ERROR_INVALID_ARGUMENT;
  *gpu = (value - kCiHandleBase) / 0x10000;
  const unsigned int gi = ((value - kCiHandleBase) / 0x100) % 0x100;
  const unsigned int ci = (value - kCiHandleBase) % 0x100;
  if (*gpu >= devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  const FakeDevice& d = devices[*gpu];
  if (d.lost) return NVML_ERROR_GPU_IS_LOST;
  for (size_t i = 0; i < d.mig_instances.size(); ++i) {
    if (d.mig_instances[i].gi == gi && d.mig_instances[i].ci == ci) {
      *index = i;
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_INVALID_ARGUMENT;  // destroyed: a stale handle
}

}  // namespace

__attribute__((visibility("default"))) nvmlReturn_t nvmlComputeInstanceDestroy(
    nvmlComputeInstance_t ci) {
  std::lock_guard<std::mutex> lock(mu);
  size_t gpu = 0, index = 0;
  if (nvmlReturn_t r = LookupCi(ci, &gpu, &index); r != NVML_SUCCESS) return r;
  if (devices[gpu].mig_instances[index].in_use) return NVML_ERROR_IN_USE;
  FakeDevice next = devices[gpu];
  next.mig_instances.erase(next.mig_instances.begin() + static_cast<std::ptrdiff_t>(index));
  return CommitLocked(gpu, std::move(next));
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlGpuInstanceGetComputeInstances(
    nvmlGpuInstance_t gi, unsigned int profile_id, nvmlComputeInstance_t* out,
    unsigned int* count) {
  std::lock_guard<std::mutex> lock(mu);
  size_t gpu = 0;
  FakeGpuInstance* instance = nullptr;
  if (nvmlReturn_t r = LookupGi(gi, &gpu, &instance); r != NVML_SUCCESS) return r;
  if (out == nullptr || count == nullptr || profile_id >= kNvmlComputeInstanceProfileCount) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  const FakeDevice& d = devices[gpu];
  const FakeMigProfile* profile = Profile(d, instance->profile_id);
  if (profile == nullptr || !Offers(*profile, profile_id)) return NVML_ERROR_NOT_SUPPORTED;
  unsigned int n = 0;
  for (const FakeMigInstance& m : d.mig_instances) {
    if (m.gi == instance->id && CiProfileOf(m.ci_slices) == profile_id) {
      out[n++] = CiHandle(gpu, m.gi, m.ci);
    }
  }
  *count = n;
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlComputeInstanceGetInfo_v2(
    nvmlComputeInstance_t ci, nvmlComputeInstanceInfo_t* info) {
  std::lock_guard<std::mutex> lock(mu);
  size_t gpu = 0, index = 0;
  if (nvmlReturn_t r = LookupCi(ci, &gpu, &index); r != NVML_SUCCESS) return r;
  if (info == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const FakeMigInstance& m = devices[gpu].mig_instances[index];
  info->device = reinterpret_cast<nvmlDevice_t>(gpu + 1);
  info->gpuInstance = GiHandle(gpu, m.gi);
  info->id = m.ci;
  info->profileId = CiProfileOf(m.ci_slices);
  info->placement = {0, m.ci_slices};
  return NVML_SUCCESS;
}

}  // extern "C"
