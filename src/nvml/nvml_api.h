// The part of NVML's C API the device plugin calls, declared here (no nvml.h, no link-time
// dependency): names, signatures, constants and struct layouts as NVML publishes them. The
// library is opened with dlopen (nvml.h in this module) so a node without a driver still runs
// the plugin and reports why.
#pragma once

extern "C" {

typedef int nvmlReturn_t;  // enum nvmlReturn_enum
typedef struct nvmlDevice_st* nvmlDevice_t;

enum : nvmlReturn_t {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_NO_PERMISSION = 4,
  NVML_ERROR_NOT_FOUND = 6,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_DRIVER_NOT_LOADED = 9,
  NVML_ERROR_TIMEOUT = 10,
  NVML_ERROR_GPU_IS_LOST = 15,
  NVML_ERROR_IN_USE = 19,                  // a GPU instance with compute instances, a busy CI
  NVML_ERROR_INSUFFICIENT_RESOURCES = 23,  // the slices asked for are taken
  NVML_ERROR_UNKNOWN = 999,
};

constexpr unsigned int kNvmlUuidBufferSize = 96;   // NVML_DEVICE_UUID_V2_BUFFER_SIZE
constexpr unsigned int kNvmlNameBufferSize = 96;   // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned int kNvmlBusIdLegacySize = 16;  // NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE
constexpr unsigned int kNvmlBusIdSize = 32;        // NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE

typedef struct nvmlMemory_st {
  unsigned long long total;  // bytes
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_t;

// nvmlDeviceGetUtilizationRates.
typedef struct nvmlUtilization_st {
  unsigned int gpu;     // percent of the last sample period a kernel ran
  unsigned int memory;  // percent of it device memory was read or written
} nvmlUtilization_t;

typedef struct nvmlPciInfo_st {  // the v3 layout (nvmlDeviceGetPciInfo_v3)
  char busIdLegacy[kNvmlBusIdLegacySize];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[kNvmlBusIdSize];  // "00000000:3B:00.0"
} nvmlPciInfo_t;

typedef struct nvmlEventSet_st* nvmlEventSet_t;

// MIG (Ampere and later, drivers >= R450). A MIG device is an nvmlDevice_t too: the UUID,
// attribute and instance-id calls take it in place of a GPU's handle.
typedef struct nvmlGpuInstance_st* nvmlGpuInstance_t;

constexpr unsigned int kNvmlDeviceMigEnable = 1;  // NVML_DEVICE_MIG_ENABLE
// GPU instance profile ids are 0 .. NVML_GPU_INSTANCE_PROFILE_COUNT - 1; the count grew with
// drivers (8, then 10, then 17). Older drivers answer INVALID_ARGUMENT for ids they lack.
constexpr unsigned int kNvmlGpuInstanceProfileCount = 17;
constexpr unsigned int kNvmlGpuInstanceProfile1SliceRev1 = 7;  // "+me": media extensions

typedef struct nvmlGpuInstancePlacement_st {
  unsigned int start;  // first memory slice
  unsigned int size;   // memory slices
} nvmlGpuInstancePlacement_t;

typedef struct nvmlGpuInstanceInfo_st {
  nvmlDevice_t device;  // the parent GPU
  unsigned int id;
  unsigned int profileId;
  nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef struct nvmlGpuInstanceProfileInfo_st {  // v1 (nvmlDeviceGetGpuInstanceProfileInfo)
  unsigned int id;
  unsigned int isP2pSupported;
  unsigned int sliceCount;  // the "g" of "3g.40gb"
  unsigned int instanceCount;
  unsigned int multiprocessorCount;
  unsigned int copyEngineCount;
  unsigned int decoderCount;
  unsigned int encoderCount;
  unsigned int jpegCount;
  unsigned int ofaCount;
  unsigned long long memorySizeMB;  // MiB, despite the name
} nvmlGpuInstanceProfileInfo_t;

// Dynamic MIG: GPU and compute instances created and destroyed at run time (root only).
typedef struct nvmlComputeInstance_st* nvmlComputeInstance_t;

// Compute instance profile ids (NVML_COMPUTE_INSTANCE_PROFILE_*): 0..4 take 1, 2, 3, 4, 7
// slices, 5 takes 8, 6 takes 6, 7 is 1 slice rev1 and 8 is 2 slices rev1 (newer drivers); a
// driver answers INVALID_ARGUMENT or NOT_SUPPORTED for an id it or the GPU instance lacks.
constexpr unsigned int kNvmlComputeInstanceProfileCount = 9;
constexpr unsigned int kNvmlComputeInstanceEngineProfileShared = 0;

typedef struct nvmlComputeInstancePlacement_st {
  unsigned int start;  // first compute slice inside the GPU instance
  unsigned int size;   // compute slices
} nvmlComputeInstancePlacement_t;

typedef struct nvmlComputeInstanceInfo_st {  // nvmlComputeInstanceGetInfo_v2
  nvmlDevice_t device;                       // the parent GPU
  nvmlGpuInstance_t gpuInstance;
  unsigned int id;
  unsigned int profileId;
  nvmlComputeInstancePlacement_t placement;
} nvmlComputeInstanceInfo_t;

typedef struct nvmlComputeInstanceProfileInfo_st {  // v1
  unsigned int id;
  unsigned int sliceCount;
  unsigned int instanceCount;
  unsigned int multiprocessorCount;
  unsigned int sharedCopyEngineCount;
  unsigned int sharedDecoderCount;
  unsigned int sharedEncoderCount;
  unsigned int sharedJpegCount;
  unsigned int sharedOfaCount;
} nvmlComputeInstanceProfileInfo_t;

typedef struct nvmlDeviceAttributes_st {  // nvmlDeviceGetAttributes_v2
  unsigned int multiprocessorCount;
  unsigned int sharedCopyEngineCount;
  unsigned int sharedDecoderCount;
  unsigned int sharedEncoderCount;
  unsigned int sharedJpegCount;
  unsigned int sharedOfaCount;
  unsigned int gpuInstanceSliceCount;
  unsigned int computeInstanceSliceCount;
  unsigned long long memorySizeMB;
} nvmlDeviceAttributes_t;

// Event types (nvmlEventType*): the ones a health check listens to.
constexpr unsigned long long kNvmlEventSingleBitEccError = 0x1;
constexpr unsigned long long kNvmlEventDoubleBitEccError = 0x2;
constexpr unsigned long long kNvmlEventXidCriticalError = 0x8;

typedef struct nvmlEventData_st {
  nvmlDevice_t device;  // null: the event concerns every device
  unsigned long long eventType;
  unsigned long long eventData;  // the Xid for XidCriticalError
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
} nvmlEventData_t;

// Topology. nvmlDeviceGetTopologyCommonAncestor: the closest PCIe ancestor two GPUs share.
typedef int nvmlGpuTopologyLevel_t;  // enum nvmlGpuLevel_enum
enum : nvmlGpuTopologyLevel_t {
  NVML_TOPOLOGY_INTERNAL = 0,     // the same board (multi-GPU card)
  NVML_TOPOLOGY_SINGLE = 10,      // one PCIe switch
  NVML_TOPOLOGY_MULTIPLE = 20,    // several PCIe switches, no host bridge
  NVML_TOPOLOGY_HOSTBRIDGE = 30,  // one host bridge
  NVML_TOPOLOGY_NODE = 40,        // one CPU (NUMA node), several host bridges
  NVML_TOPOLOGY_SYSTEM = 50,      // across CPUs (SMP interconnect)
};
typedef int nvmlEnableState_t;  // NVML_FEATURE_DISABLED = 0, NVML_FEATURE_ENABLED = 1
constexpr nvmlEnableState_t kNvmlFeatureEnabled = 1;
// NVML_NVLINK_MAX_LINKS: links 0 .. 17 may exist; a GPU has fewer (V100 6, A100 12, H100 18).
constexpr unsigned int kNvmlNvLinkMaxLinks = 18;
typedef int nvmlIntNvLinkDeviceType_t;  // what an NVLink's far end is
constexpr nvmlIntNvLinkDeviceType_t kNvmlNvLinkDeviceTypeGpu = 0;
constexpr nvmlIntNvLinkDeviceType_t kNvmlNvLinkDeviceTypeSwitch = 2;

using nvmlInit_v2_fn = nvmlReturn_t (*)();
using nvmlShutdown_fn = nvmlReturn_t (*)();
using nvmlErrorString_fn = const char* (*)(nvmlReturn_t);
using nvmlDeviceGetCount_v2_fn = nvmlReturn_t (*)(unsigned int*);
using nvmlDeviceGetHandleByIndex_v2_fn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using nvmlDeviceGetUUID_fn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using nvmlDeviceGetName_fn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using nvmlDeviceGetMemoryInfo_fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using nvmlDeviceGetUtilizationRates_fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
using nvmlDeviceGetPciInfo_v3_fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlPciInfo_t*);
using nvmlDeviceGetMigMode_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, unsigned int*);
using nvmlDeviceGetMaxMigDeviceCount_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using nvmlDeviceGetMigDeviceHandleByIndex_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                                nvmlDevice_t*);
using nvmlDeviceGetGpuInstanceId_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using nvmlDeviceGetComputeInstanceId_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using nvmlDeviceGetGpuInstanceById_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                         nvmlGpuInstance_t*);
using nvmlGpuInstanceGetInfo_fn = nvmlReturn_t (*)(nvmlGpuInstance_t, nvmlGpuInstanceInfo_t*);
using nvmlDeviceGetGpuInstanceProfileInfo_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                                nvmlGpuInstanceProfileInfo_t*);
// A null `placements` asks for the count only.
using nvmlDeviceGetGpuInstancePossiblePlacements_v2_fn =
    nvmlReturn_t (*)(nvmlDevice_t, unsigned int, nvmlGpuInstancePlacement_t*, unsigned int*);
using nvmlDeviceCreateGpuInstanceWithPlacement_fn = nvmlReturn_t (*)(
    nvmlDevice_t, unsigned int, const nvmlGpuInstancePlacement_t*, nvmlGpuInstance_t*);
using nvmlGpuInstanceDestroy_fn = nvmlReturn_t (*)(nvmlGpuInstance_t);
// The buffer holds the profile's instanceCount entries; *count is set to those returned.
using nvmlDeviceGetGpuInstances_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                      nvmlGpuInstance_t*, unsigned int*);
using nvmlGpuInstanceGetComputeInstanceProfileInfo_fn = nvmlReturn_t (*)(
    nvmlGpuInstance_t, unsigned int, unsigned int, nvmlComputeInstanceProfileInfo_t*);
using nvmlGpuInstanceCreateComputeInstance_fn = nvmlReturn_t (*)(nvmlGpuInstance_t, unsigned int,
                                                                 nvmlComputeInstance_t*);
using nvmlComputeInstanceDestroy_fn = nvmlReturn_t (*)(nvmlComputeInstance_t);
using nvmlGpuInstanceGetComputeInstances_fn = nvmlReturn_t (*)(nvmlGpuInstance_t, unsigned int,
                                                               nvmlComputeInstance_t*,
                                                               unsigned int*);
using nvmlComputeInstanceGetInfo_v2_fn = nvmlReturn_t (*)(nvmlComputeInstance_t,
                                                          nvmlComputeInstanceInfo_t*);
using nvmlDeviceGetAttributes_v2_fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlDeviceAttributes_t*);
using nvmlDeviceGetTopologyCommonAncestor_fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlDevice_t,
                                                                nvmlGpuTopologyLevel_t*);
using nvmlDeviceGetNvLinkState_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                     nvmlEnableState_t*);
using nvmlDeviceGetNvLinkRemotePciInfo_v2_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                                nvmlPciInfo_t*);
using nvmlDeviceGetNvLinkRemoteDeviceType_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                                nvmlIntNvLinkDeviceType_t*);
using nvmlEventSetCreate_fn = nvmlReturn_t (*)(nvmlEventSet_t*);
using nvmlDeviceRegisterEvents_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned long long,
                                                     nvmlEventSet_t);
using nvmlEventSetWait_v2_fn = nvmlReturn_t (*)(nvmlEventSet_t, nvmlEventData_t*, unsigned int);
using nvmlEventSetFree_fn = nvmlReturn_t (*)(nvmlEventSet_t);

}  // extern "C"
