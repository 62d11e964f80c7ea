// Test helpers for the fake driver (libcuda.so.1 from tests/fakes/cuda) and the fake NVML
// (tests/fakes/nvml), loaded with dlopen from HAMI_FAKE_CUDA_PATH / HAMI_FAKE_NVML_PATH: a
// per-test state file and knobs (FakeGpuEnv), and entry points resolved under their real
// prototypes (CudaFn / NvmlFn). Not thread-safe: the environment is process-global.
#pragma once

#include <cuda.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "src/nvml/nvml_api.h"
// After nvml_api.h, which it extends.
#include "tests/fakes/cuda/fake_nvml_abi.h"

namespace hami::vgpu::testing {

// Handles of the fakes, opened once per process and never closed (RTLD_LOCAL: the fakes' cu*
// and nvml* names do not enter the global scope). nullptr when the library cannot be loaded.
inline void* FakeCudaHandle() {
#ifdef HAMI_FAKE_CUDA_PATH
  static void* handle = dlopen(HAMI_FAKE_CUDA_PATH, RTLD_NOW | RTLD_LOCAL);
  return handle;
#else
  return nullptr;
#endif
}

inline void* FakeNvmlHandle() {
#ifdef HAMI_FAKE_NVML_PATH
  static void* handle = dlopen(HAMI_FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL);
  return handle;
#else
  return nullptr;
#endif
}

// `name` from the fake driver as a `Fn` (nullptr when missing).
template <typename Fn>
Fn CudaFn(const char* name) {
  void* handle = FakeCudaHandle();
  return handle == nullptr ? nullptr : reinterpret_cast<Fn>(dlsym(handle, name));
}

template <typename Fn>
Fn NvmlFn(const char* name) {
  void* handle = FakeNvmlHandle();
  return handle == nullptr ? nullptr : reinterpret_cast<Fn>(dlsym(handle, name));
}

// An exported driver entry point under its cuda.h prototype: CU(cuMemAlloc_v2). Pass the
// exported (versioned) name: cuda.h renames cuMemAlloc to cuMemAlloc_v2 in the prototype but
// not in the string.
#define HAMI_FAKE_CU(name) ::hami::vgpu::testing::CudaFn<decltype(&::name)>(#name)

// The test-only introspection of the fake driver (fake_cuda_proc.cc).
struct FakeGpuIntrospection {
  int (*reset)() = CudaFn<int (*)()>("fakegpu_reset");
  unsigned long long (*device_used_bytes)(int) =
      CudaFn<unsigned long long (*)(int)>("fakegpu_device_used_bytes");
  unsigned long long (*pid_used_bytes)(int, int) =
      CudaFn<unsigned long long (*)(int, int)>("fakegpu_pid_used_bytes");
  int (*pid_contexts)(int, int) = CudaFn<int (*)(int, int)>("fakegpu_pid_contexts");
  int (*process_count)(int) = CudaFn<int (*)(int)>("fakegpu_process_count");
  long long (*now_us)() = CudaFn<long long (*)()>("fakegpu_now_us");
  long long (*busy_us)(int, int, long long, long long) =
      CudaFn<long long (*)(int, int, long long, long long)>("fakegpu_busy_us");
  double (*busy_percent)(int, int, long long) =
      CudaFn<double (*)(int, int, long long)>("fakegpu_busy_percent");
  long long (*busy_until_us)(int) = CudaFn<long long (*)(int)>("fakegpu_busy_until_us");
  unsigned long long (*launch_count)(int) =
      CudaFn<unsigned long long (*)(int)>("fakegpu_launch_count");
  unsigned long long (*call_count)(const char*) =
      CudaFn<unsigned long long (*)(const char*)>("fakegpu_call_count");
  const char* (*state_path)() = CudaFn<const char* (*)()>("fakegpu_state_path");

  bool complete() const {
    return reset && device_used_bytes && pid_used_bytes && pid_contexts && process_count &&
           now_us && busy_us && busy_percent && busy_until_us && launch_count && call_count &&
           state_path;
  }
};

// Sets an environment variable for a scope and restores what was there.
class ScopedEnv {
 public:
  ScopedEnv() = default;
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second.first)
        setenv(it->first.c_str(), it->second.second.c_str(), 1);
      else
        unsetenv(it->first.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void Set(const std::string& name, const std::string& value) {
    Save(name);
    setenv(name.c_str(), value.c_str(), 1);
  }
  void Unset(const std::string& name) {
    Save(name);
    unsetenv(name.c_str());
  }

 private:
  void Save(const std::string& name) {
    const char* old = getenv(name.c_str());
    saved_.push_back({name, {old != nullptr, old != nullptr ? old : ""}});
  }
  std::vector<std::pair<std::string, std::pair<bool, std::string>>> saved_;
};

// A fresh fake GPU for one test: a new temporary directory holding the state file
// ($FAKEGPU_STATE), every FAKEGPU_* knob cleared and then set from `knobs`, the JSON mode of
// the fake NVML turned off, and the state rebuilt with fakegpu_reset() (so this process's
// driver state starts uninitialised). The directory is removed on destruction.
class FakeGpuEnv {
 public:
  explicit FakeGpuEnv(const std::map<std::string, std::string>& knobs = {}) {
    char dir_template[] = "/tmp/fakegpu-test-XXXXXX";
    const char* made = mkdtemp(dir_template);
    dir_ = made != nullptr ? made : "";
    for (const char* knob :
         {"FAKEGPU_DEVICES", "FAKEGPU_MEM", "FAKEGPU_SMS", "FAKEGPU_THREADS_PER_SM", "FAKEGPU_NAME",
          "FAKEGPU_UUID_PREFIX", "FAKEGPU_CTX_OVERHEAD", "FAKEGPU_PID_OFFSET", "FAKEGPU_KERNEL_US",
          "FAKEGPU_WAVE_US", "FAKEGPU_FAIL", "HAMI_FAKE_NVML_CONFIG"}) {
      env_.Unset(knob);
    }
    env_.Set("FAKEGPU_STATE", state_path());
    for (const auto& [name, value] : knobs) env_.Set(name, value);
    if (fake_.reset != nullptr) reset_rc_ = fake_.reset();
  }
  ~FakeGpuEnv() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  FakeGpuEnv(const FakeGpuEnv&) = delete;
  FakeGpuEnv& operator=(const FakeGpuEnv&) = delete;

  // True when both fakes loaded, every introspection entry resolved and the reset worked.
  bool ok() const {
    return !dir_.empty() && FakeCudaHandle() != nullptr && FakeNvmlHandle() != nullptr &&
           fake_.complete() && reset_rc_ == 0;
  }
  std::string state_path() const { return dir_ + "/state"; }
  const std::string& dir() const { return dir_; }
  const FakeGpuIntrospection& fake() const { return fake_; }
  ScopedEnv& env() { return env_; }

 private:
  std::string dir_;
  ScopedEnv env_;
  FakeGpuIntrospection fake_;
  int reset_rc_ = -1;
};

}  // namespace hami::vgpu::testing
