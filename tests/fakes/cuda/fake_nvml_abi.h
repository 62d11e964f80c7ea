// NVML structures and constants that src/nvml/nvml_api.h does not declare, as nvml.h
// publishes them: what the fake NVML answers from the shared fake-GPU state (processes, memory
// v2, per-process utilisation) and what tests read back. Include after nvml/nvml_api.h.
#pragma once

#include <cstddef>

extern "C" {

inline constexpr nvmlReturn_t kNvmlErrorArgumentVersionMismatch = 25;  // NVML 11.6+
inline constexpr unsigned int kNvmlValueNotAvailable = 0xFFFFFFFFu;    // GI/CI ids without MIG

// nvmlDeviceGetComputeRunningProcesses (the v1 ABI libvgpu uses): 16 bytes per entry.
typedef struct nvmlProcessInfo_v1_st {
  unsigned int pid;
  unsigned long long usedGpuMemory;  // bytes
} nvmlProcessInfo_v1_t;

// nvmlDeviceGetComputeRunningProcesses_v2 and _v3: 24 bytes per entry.
typedef struct nvmlProcessInfo_v2_st {
  unsigned int pid;
  unsigned long long usedGpuMemory;  // bytes
  unsigned int gpuInstanceId;        // kNvmlValueNotAvailable when MIG is off
  unsigned int computeInstanceId;
} nvmlProcessInfo_v2_t;

// nvmlDeviceGetMemoryInfo_v2: a versioned struct; `version` must be kNvmlMemoryV2.
typedef struct nvmlMemory_v2_st {
  unsigned int version;
  unsigned long long total;     // bytes
  unsigned long long reserved;  // bytes the driver keeps for itself
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_v2_t;
inline constexpr unsigned int kNvmlMemoryV2 =
    static_cast<unsigned int>(sizeof(nvmlMemory_v2_t)) | (2u << 24);  // NVML_STRUCT_VERSION

typedef struct nvmlProcessUtilizationSample_st {
  unsigned int pid;
  unsigned long long timeStamp;  // CPU timestamp, µs since the epoch
  unsigned int smUtil;           // percent
  unsigned int memUtil;
  unsigned int encUtil;
  unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "NVML v1 process info ABI");
static_assert(sizeof(nvmlProcessInfo_v2_t) == 24, "NVML v2/v3 process info ABI");
static_assert(sizeof(nvmlMemory_v2_t) == 40, "NVML memory v2 ABI");
static_assert(offsetof(nvmlMemory_v2_t, reserved) == 16, "NVML memory v2 ABI");
static_assert(sizeof(nvmlProcessUtilizationSample_t) == 32, "NVML utilization sample ABI");
static_assert(offsetof(nvmlProcessUtilizationSample_t, smUtil) == 16, "NVML sample ABI");

}  // extern "C"
