// The fake libnvidia-ml.so.1's devices and lock, shared by its sources (fake_nvml.cc: the
// config, identity, memory, MIG and event calls; fake_nvml_topology.cc: PCIe and NVLink
// topology). Internal to the fake; hidden in the shared object like everything but the NVML
// entry points.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "nvml/nvml_api.h"

namespace fake_nvml {

struct FakeMigProfile {
  // `id` is NVML's profile index (NVML_GPU_INSTANCE_PROFILE_*, what the calls take and what the
  // config's instances name); `unique_id` is what NVML reports back in
  // nvmlGpuInstanceProfileInfo_t.id and nvmlGpuInstanceInfo_t.profileId (19 for an A100's 1g;
  // the index unless the config or model says otherwise).
  unsigned int id = 0, unique_id = 0, slice_count = 0, instance_count = 0, sm = 0;
  unsigned long long memory_mib = 0;
  // Legal placements {start, size} in memory slices, as nvmlDeviceGetGpuInstancePossiblePlacements
  // lists them; creation anywhere else answers INVALID_ARGUMENT.
  std::vector<std::pair<unsigned int, unsigned int>> placements;
};

// A GPU instance (its compute instances are the FakeMigInstances naming its id in `gi`).
struct FakeGpuInstance {
  unsigned int id = 0, profile_id = 0, start = 0, size = 0;
};

struct FakeMigInstance {
  std::string uuid;
  unsigned int profile_id = 0, start = 0, size = 0, gi = 0, ci = 0, ci_slices = 0, sm = 0;
  nvmlReturn_t error = NVML_SUCCESS;
  bool in_use = false;  // processes run on it: nvmlComputeInstanceDestroy answers IN_USE
};

// What one NVLink of a GPU reaches (see fake_nvml_topology.cc for the config keys).
inline constexpr int kNvLinkToSwitch = -1;  // an NVSwitch
inline constexpr int kNvLinkDown = -2;      // a link that is not active

struct FakeDevice {
  std::string uuid, name, bus_id;
  long long memory_mib = -1;  // -1: NOT_SUPPORTED
  long long memory_used_mib = 0;
  int utilization_gpu = 0;  // -1: NOT_SUPPORTED
  int utilization_memory = 0;
  bool mig = false;
  bool lost = false;
  std::vector<FakeMigProfile> mig_profiles;
  std::vector<FakeMigInstance> mig_instances;  // index = MIG device index
  std::vector<FakeGpuInstance> gpu_instances;  // every GPU instance, with or without a CI
  unsigned int max_mig_devices = 0;
  // Topology: per NVLink (link index = position) the peer GPU's index, kNvLinkToSwitch or
  // kNvLinkDown; the PCIe switches above the GPU (nearest first), its host bridge, CPU (NUMA
  // node) and multi-GPU board ("" = none of its own).
  std::vector<int> nvlinks;
  std::vector<std::string> pcie_switches;
  std::string host_bridge, board;
  int cpu = 0;
  nvmlReturn_t topology_error = NVML_SUCCESS;  // answered by the common-ancestor query
};

// Handle values: GPUs are 1-based indexes; MIG devices, GPU instances and compute instances
// live above them.
inline constexpr uintptr_t kMigHandleBase = 0x100000;  // + gpu index * 0x100 + MIG device index
inline constexpr uintptr_t kGiHandleBase = 0x200000;   // + gpu index * 0x100 + GPU instance id
inline constexpr uintptr_t kCiHandleBase = 0x300000;   // + gpu * 0x10000 + gi id * 0x100 + ci id

// Never destroyed (see fake_nvml.cc). `devices` and `initialized` require `mu`.
extern std::mutex mu;
extern bool initialized;
extern std::vector<FakeDevice>& devices;

// The device behind a handle (handles are 1-based indexes), or an error code. Requires mu.
nvmlReturn_t Lookup(nvmlDevice_t handle, const FakeDevice** out);

// Runs `fn(device)` under the lock for a valid, initialised, not-lost device.
template <typename Fn>
nvmlReturn_t WithDevice(nvmlDevice_t handle, Fn fn) {
  std::lock_guard<std::mutex> lock(mu);
  const FakeDevice* d = nullptr;
  if (nvmlReturn_t r = Lookup(handle, &d); r != NVML_SUCCESS) return r;
  return fn(*d);
}

// Re-reads the JSON config when the file changed since it was read or written. Requires mu.
void ReloadIfChangedLocked();
// The JSON config's path (nullptr in fake-GPU mode), and a note that this process just wrote it
// (so it is not re-read as someone else's change). Require mu.
const char* ConfigPathLocked();
void NoteConfigWrittenLocked();

// Dynamic MIG (fake_nvml_mig.cc): a device's "mig_model" / "mig_profiles" and its
// "gpu_instances" config keys (the latter after "mig_instances" is read).
void ReadMigProfiles(const nlohmann::json& config, FakeDevice* device);
void ReadGpuInstances(const nlohmann::json& config, FakeDevice* device);

// Reads one device's topology keys from its config object (fake_nvml_topology.cc).
void ReadTopology(const nlohmann::json& config, FakeDevice* device);

}  // namespace fake_nvml
