// Tests of the fake driver (tests/fakes/cuda) and of the fake NVML's fake-GPU mode, loaded
// directly with dlopen (no libvgpu): the simulated memory, contexts, timeline and process
// table that libvgpu's tests rely on, shared across processes through the state file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/vgpu/fake_gpu_util.h"
#include "vgpu/array_size.h"

#ifndef HAMI_FAKE_CUDA_PATH
#define HAMI_FAKE_CUDA_PATH "(not built)"
#endif

namespace hami::vgpu::testing {
namespace {

constexpr unsigned long long kMiB = 1ULL << 20;

// `bytes` rounded up to the fake's 2 MiB allocation granule.
unsigned long long RoundUpToGranule(uint64_t bytes) {
  return (bytes + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB);
}

// The driver entry points the tests call, under their cuda.h prototypes.
struct Cu {
  decltype(&::cuInit) Init = HAMI_FAKE_CU(cuInit);
  decltype(&::cuDriverGetVersion) DriverGetVersion = HAMI_FAKE_CU(cuDriverGetVersion);
  decltype(&::cuGetErrorName) GetErrorName = HAMI_FAKE_CU(cuGetErrorName);
  decltype(&::cuGetErrorString) GetErrorString = HAMI_FAKE_CU(cuGetErrorString);
  decltype(&::cuGetExportTable) GetExportTable = HAMI_FAKE_CU(cuGetExportTable);
  decltype(&::cuDeviceGetCount) DeviceGetCount = HAMI_FAKE_CU(cuDeviceGetCount);
  decltype(&::cuDeviceGetName) DeviceGetName = HAMI_FAKE_CU(cuDeviceGetName);
  decltype(&::cuDeviceGetAttribute) DeviceGetAttribute = HAMI_FAKE_CU(cuDeviceGetAttribute);
  decltype(&::cuDeviceGetUuid_v2) DeviceGetUuid = HAMI_FAKE_CU(cuDeviceGetUuid_v2);
  decltype(&::cuDeviceGetPCIBusId) DeviceGetPCIBusId = HAMI_FAKE_CU(cuDeviceGetPCIBusId);
  decltype(&::cuDeviceTotalMem_v2) DeviceTotalMem = HAMI_FAKE_CU(cuDeviceTotalMem_v2);
  decltype(&::cuDevicePrimaryCtxRetain) PrimaryRetain = HAMI_FAKE_CU(cuDevicePrimaryCtxRetain);
  decltype(&::cuDevicePrimaryCtxRelease_v2) PrimaryRelease =
      HAMI_FAKE_CU(cuDevicePrimaryCtxRelease_v2);
  decltype(&::cuDevicePrimaryCtxGetState) PrimaryGetState =
      HAMI_FAKE_CU(cuDevicePrimaryCtxGetState);
  decltype(&::cuCtxCreate_v4) CtxCreate = HAMI_FAKE_CU(cuCtxCreate_v4);
  decltype(&::cuCtxDestroy_v2) CtxDestroy = HAMI_FAKE_CU(cuCtxDestroy_v2);
  decltype(&::cuCtxSetCurrent) CtxSetCurrent = HAMI_FAKE_CU(cuCtxSetCurrent);
  decltype(&::cuCtxSynchronize) CtxSynchronize = HAMI_FAKE_CU(cuCtxSynchronize);
  decltype(&::cuMemAlloc_v2) MemAlloc = HAMI_FAKE_CU(cuMemAlloc_v2);
  decltype(&::cuMemFree_v2) MemFree = HAMI_FAKE_CU(cuMemFree_v2);
  decltype(&::cuMemGetInfo_v2) MemGetInfo = HAMI_FAKE_CU(cuMemGetInfo_v2);
  decltype(&::cuMemAllocPitch_v2) MemAllocPitch = HAMI_FAKE_CU(cuMemAllocPitch_v2);
  decltype(&::cuMemcpyHtoD_v2) MemcpyHtoD = HAMI_FAKE_CU(cuMemcpyHtoD_v2);
  decltype(&::cuMemAllocAsync) MemAllocAsync = HAMI_FAKE_CU(cuMemAllocAsync);
  decltype(&::cuMemFreeAsync) MemFreeAsync = HAMI_FAKE_CU(cuMemFreeAsync);
  decltype(&::cuDeviceGetMemPool) DeviceGetMemPool = HAMI_FAKE_CU(cuDeviceGetMemPool);
  decltype(&::cuMemPoolGetAttribute) MemPoolGetAttribute = HAMI_FAKE_CU(cuMemPoolGetAttribute);
  decltype(&::cuMemPoolSetAttribute) MemPoolSetAttribute = HAMI_FAKE_CU(cuMemPoolSetAttribute);
  decltype(&::cuMemPoolTrimTo) MemPoolTrimTo = HAMI_FAKE_CU(cuMemPoolTrimTo);
  decltype(&::cuCtxGetLimit) CtxGetLimit = HAMI_FAKE_CU(cuCtxGetLimit);
  decltype(&::cuCtxSetLimit) CtxSetLimit = HAMI_FAKE_CU(cuCtxSetLimit);
  decltype(&::cuMipmappedArrayCreate) MipmappedArrayCreate = HAMI_FAKE_CU(cuMipmappedArrayCreate);
  decltype(&::cuMipmappedArrayGetLevel) MipmappedArrayGetLevel =
      HAMI_FAKE_CU(cuMipmappedArrayGetLevel);
  decltype(&::cuMipmappedArrayDestroy) MipmappedArrayDestroy =
      HAMI_FAKE_CU(cuMipmappedArrayDestroy);
  decltype(&::cuStreamCreate) StreamCreate = HAMI_FAKE_CU(cuStreamCreate);
  decltype(&::cuStreamBeginCapture_v2) StreamBeginCapture = HAMI_FAKE_CU(cuStreamBeginCapture_v2);
  decltype(&::cuStreamEndCapture) StreamEndCapture = HAMI_FAKE_CU(cuStreamEndCapture);
  decltype(&::cuGraphCreate) GraphCreate = HAMI_FAKE_CU(cuGraphCreate);
  decltype(&::cuGraphGetNodes) GraphGetNodes = HAMI_FAKE_CU(cuGraphGetNodes);
  decltype(&::cuGraphAddMemAllocNode) GraphAddMemAllocNode = HAMI_FAKE_CU(cuGraphAddMemAllocNode);
  decltype(&::cuGraphAddMemFreeNode) GraphAddMemFreeNode = HAMI_FAKE_CU(cuGraphAddMemFreeNode);
  decltype(&::cuGraphInstantiateWithFlags) GraphInstantiate =
      HAMI_FAKE_CU(cuGraphInstantiateWithFlags);
  decltype(&::cuGraphLaunch) GraphLaunch = HAMI_FAKE_CU(cuGraphLaunch);
  decltype(&::cuDeviceGetGraphMemAttribute) DeviceGetGraphMemAttribute =
      HAMI_FAKE_CU(cuDeviceGetGraphMemAttribute);
  decltype(&::cuDeviceSetGraphMemAttribute) DeviceSetGraphMemAttribute =
      HAMI_FAKE_CU(cuDeviceSetGraphMemAttribute);
  decltype(&::cuDeviceGraphMemTrim) DeviceGraphMemTrim = HAMI_FAKE_CU(cuDeviceGraphMemTrim);
  decltype(&::cuStreamSynchronize) StreamSynchronize = HAMI_FAKE_CU(cuStreamSynchronize);
  decltype(&::cuStreamQuery) StreamQuery = HAMI_FAKE_CU(cuStreamQuery);
  decltype(&::cuModuleLoadData) ModuleLoadData = HAMI_FAKE_CU(cuModuleLoadData);
  decltype(&::cuModuleGetFunction) ModuleGetFunction = HAMI_FAKE_CU(cuModuleGetFunction);
  decltype(&::cuLaunchKernel) LaunchKernel = HAMI_FAKE_CU(cuLaunchKernel);
  decltype(&::cuGetProcAddress_v2) GetProcAddress = HAMI_FAKE_CU(cuGetProcAddress_v2);
};

struct Nvml {
  nvmlInit_v2_fn Init = NvmlFn<nvmlInit_v2_fn>("nvmlInit_v2");
  nvmlDeviceGetCount_v2_fn GetCount = NvmlFn<nvmlDeviceGetCount_v2_fn>("nvmlDeviceGetCount_v2");
  nvmlDeviceGetHandleByIndex_v2_fn GetHandle =
      NvmlFn<nvmlDeviceGetHandleByIndex_v2_fn>("nvmlDeviceGetHandleByIndex_v2");
  nvmlDeviceGetUUID_fn GetUuid = NvmlFn<nvmlDeviceGetUUID_fn>("nvmlDeviceGetUUID");
  nvmlDeviceGetMemoryInfo_fn GetMemory =
      NvmlFn<nvmlDeviceGetMemoryInfo_fn>("nvmlDeviceGetMemoryInfo");
  nvmlReturn_t (*GetMemoryV2)(nvmlDevice_t, nvmlMemory_v2_t*) =
      NvmlFn<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_v2_t*)>("nvmlDeviceGetMemoryInfo_v2");
  nvmlReturn_t (*Processes)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_v1_t*) =
      NvmlFn<nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_v1_t*)>(
          "nvmlDeviceGetComputeRunningProcesses");
  nvmlReturn_t (*ProcessesV3)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_v2_t*) =
      NvmlFn<nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_v2_t*)>(
          "nvmlDeviceGetComputeRunningProcesses_v3");
  nvmlReturn_t (*ProcessUtilization)(nvmlDevice_t, nvmlProcessUtilizationSample_t*, unsigned int*,
                                     unsigned long long) =
      NvmlFn<nvmlReturn_t (*)(nvmlDevice_t, nvmlProcessUtilizationSample_t*, unsigned int*,
                              unsigned long long)>("nvmlDeviceGetProcessUtilization");
  nvmlReturn_t (*UtilizationRates)(nvmlDevice_t, nvmlUtilization_t*) =
      NvmlFn<nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*)>("nvmlDeviceGetUtilizationRates");

  nvmlDevice_t Handle(unsigned int index) const {
    nvmlDevice_t h = nullptr;
    return GetHandle(index, &h) == NVML_SUCCESS ? h : nullptr;
  }
  // The v1 process list of a device (empty on error).
  std::vector<nvmlProcessInfo_v1_t> List(unsigned int index) const {
    unsigned int count = 0;
    std::vector<nvmlProcessInfo_v1_t> out;
    if (Processes(Handle(index), &count, nullptr) == NVML_ERROR_INSUFFICIENT_SIZE) {
      out.resize(count);
      if (Processes(Handle(index), &count, out.data()) != NVML_SUCCESS) return {};
      out.resize(count);
    }
    return out;
  }
};

long long WallUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

class FakeCudaTest : public ::testing::Test {
 protected:
  // Starts a fake GPU with `knobs`, cuInit, and makes device 0's primary context current.
  void Start(const std::map<std::string, std::string>& knobs) {
    env_ = std::make_unique<FakeGpuEnv>(knobs);
    ASSERT_TRUE(env_->ok()) << "fakes not loadable: " << HAMI_FAKE_CUDA_PATH;
    ASSERT_EQ(cu_.Init(0), CUDA_SUCCESS);
    ASSERT_EQ(cu_.PrimaryRetain(&ctx_, 0), CUDA_SUCCESS);
    ASSERT_EQ(cu_.CtxSetCurrent(ctx_), CUDA_SUCCESS);
  }
  CUfunction Function(const char* name) {
    CUmodule module = nullptr;
    CUfunction f = nullptr;
    static const char kImage[] = "fake cubin";
    EXPECT_EQ(cu_.ModuleLoadData(&module, kImage), CUDA_SUCCESS);
    EXPECT_EQ(cu_.ModuleGetFunction(&f, module, name), CUDA_SUCCESS);
    return f;
  }
  const FakeGpuIntrospection& fake() const { return env_->fake(); }
  // This process's bytes on device 0, as the fake charges them.
  unsigned long long Used() const { return fake().pid_used_bytes(0, getpid()); }
  // A cuuint64_t attribute of device 0's graph memory pool.
  cuuint64_t GraphMem(CUgraphMem_attribute attr) {
    cuuint64_t value = ~0ULL;
    EXPECT_EQ(cu_.DeviceGetGraphMemAttribute(0, attr, &value), CUDA_SUCCESS);
    return value;
  }
  // A graph of one alloc node of `bytes` on device 0, instantiated; its address in `*dptr`.
  CUgraphExec AllocGraph(size_t bytes, CUdeviceptr* dptr) {
    CUgraph graph = nullptr;
    CUgraphNode node = nullptr;
    CUgraphExec exec = nullptr;
    CUDA_MEM_ALLOC_NODE_PARAMS params{};
    params.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    params.poolProps.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
    params.bytesize = bytes;
    EXPECT_EQ(cu_.GraphCreate(&graph, 0), CUDA_SUCCESS);
    EXPECT_EQ(cu_.GraphAddMemAllocNode(&node, graph, nullptr, 0, &params), CUDA_SUCCESS);
    EXPECT_EQ(cu_.GraphInstantiate(&exec, graph, 0), CUDA_SUCCESS);
    *dptr = params.dptr;
    return exec;
  }

  Cu cu_;
  Nvml nvml_;
  std::unique_ptr<FakeGpuEnv> env_;
  CUcontext ctx_ = nullptr;
};

TEST_F(FakeCudaTest, DevicesFollowTheKnobs) {
  env_ = std::make_unique<FakeGpuEnv>(
      std::map<std::string, std::string>{{"FAKEGPU_DEVICES", "2"},
                                         {"FAKEGPU_MEM", "24g"},
                                         {"FAKEGPU_SMS", "132"},
                                         {"FAKEGPU_NAME", "NVIDIA H100 80GB HBM3"},
                                         {"FAKEGPU_UUID_PREFIX", "GPU-01234567-89ab-cdef-0011"}});
  ASSERT_TRUE(env_->ok());
  int count = -1;
  EXPECT_EQ(cu_.DeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
  ASSERT_EQ(cu_.Init(0), CUDA_SUCCESS);
  ASSERT_EQ(cu_.DeviceGetCount(&count), CUDA_SUCCESS);
  EXPECT_EQ(count, 2);
  int version = 0;
  EXPECT_EQ(cu_.DriverGetVersion(&version), CUDA_SUCCESS);
  EXPECT_EQ(version, 13000);
  char name[64] = {};
  EXPECT_EQ(cu_.DeviceGetName(name, sizeof(name), 1), CUDA_SUCCESS);
  EXPECT_STREQ(name, "NVIDIA H100 80GB HBM3");
  int sms = 0, cc = 0;
  EXPECT_EQ(cu_.DeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0),
            CUDA_SUCCESS);
  EXPECT_EQ(sms, 132);
  EXPECT_EQ(cu_.DeviceGetAttribute(&cc, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0),
            CUDA_SUCCESS);
  EXPECT_EQ(cc, 8);
  EXPECT_EQ(cu_.DeviceGetAttribute(&cc, CU_DEVICE_ATTRIBUTE_MAX, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cu_.DeviceGetAttribute(&cc, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 2),
            CUDA_ERROR_INVALID_DEVICE);
  size_t total = 0;
  EXPECT_EQ(cu_.DeviceTotalMem(&total, 1), CUDA_SUCCESS);
  EXPECT_EQ(total, 24ULL << 30);
  char bus[32] = {};
  EXPECT_EQ(cu_.DeviceGetPCIBusId(bus, sizeof(bus), 1), CUDA_SUCCESS);
  EXPECT_STREQ(bus, "0000:11:00.0");
  CUuuid uuid{};
  ASSERT_EQ(cu_.DeviceGetUuid(&uuid, 1), CUDA_SUCCESS);
  EXPECT_EQ(static_cast<unsigned char>(uuid.bytes[0]), 0x01);
  EXPECT_EQ(static_cast<unsigned char>(uuid.bytes[15]), 0x01);  // the device index
  // NVML names the same GPU by the same UUID.
  ASSERT_EQ(nvml_.Init(), NVML_SUCCESS);
  unsigned int nvml_count = 0;
  ASSERT_EQ(nvml_.GetCount(&nvml_count), NVML_SUCCESS);
  EXPECT_EQ(nvml_count, 2u);
  char nvml_uuid[96] = {};
  ASSERT_EQ(nvml_.GetUuid(nvml_.Handle(1), nvml_uuid, sizeof(nvml_uuid)), NVML_SUCCESS);
  EXPECT_STREQ(nvml_uuid, "GPU-01234567-89ab-cdef-0011-000000000001");

  const char* text = nullptr;
  EXPECT_EQ(cu_.GetErrorName(CUDA_ERROR_OUT_OF_MEMORY, &text), CUDA_SUCCESS);
  EXPECT_STREQ(text, "CUDA_ERROR_OUT_OF_MEMORY");
  EXPECT_EQ(cu_.GetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &text), CUDA_SUCCESS);
  EXPECT_STREQ(text, "out of memory");
  EXPECT_EQ(cu_.GetErrorName(static_cast<CUresult>(998), &text), CUDA_ERROR_INVALID_VALUE);
  const void* table = nullptr;
  CUuuid id{};
  EXPECT_EQ(cu_.GetExportTable(&table, &id), CUDA_ERROR_NOT_SUPPORTED);
}

TEST_F(FakeCudaTest, AllocationsRoundUpToTwoMiBAndFailAtTheDeviceSize) {
  Start({{"FAKEGPU_MEM", "1g"}, {"FAKEGPU_CTX_OVERHEAD", "100m"}});
  const int pid = getpid();
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 100 * kMiB);  // the context
  CUdeviceptr a = 0, b = 0;
  ASSERT_EQ(cu_.MemAlloc(&a, 1), CUDA_SUCCESS);
  ASSERT_EQ(cu_.MemAlloc(&b, 3 * kMiB), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 106 * kMiB);
  EXPECT_EQ(a % (2 * kMiB), 0u);
  EXPECT_GE(b, a + 2 * kMiB);  // no overlap
  EXPECT_EQ(cu_.MemAlloc(&a, 0), CUDA_ERROR_INVALID_VALUE);

  size_t free_bytes = 0, total = 0;
  ASSERT_EQ(cu_.MemGetInfo(&free_bytes, &total), CUDA_SUCCESS);
  EXPECT_EQ(total, 1024 * kMiB);
  EXPECT_EQ(free_bytes, (1024 - 106) * kMiB);
  CUdeviceptr big = 0;
  EXPECT_EQ(cu_.MemAlloc(&big, free_bytes + 1), CUDA_ERROR_OUT_OF_MEMORY);
  ASSERT_EQ(cu_.MemAlloc(&big, free_bytes), CUDA_SUCCESS);
  CUdeviceptr one = 0;
  EXPECT_EQ(cu_.MemAlloc(&one, 1), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(fake().device_used_bytes(0), 1024 * kMiB);

  // Copies check their ranges against the allocation's requested size.
  char host[16] = {};
  EXPECT_EQ(cu_.MemcpyHtoD(b, host, sizeof(host)), CUDA_SUCCESS);
  EXPECT_EQ(cu_.MemcpyHtoD(b + 3 * kMiB - 8, host, sizeof(host)), CUDA_ERROR_INVALID_VALUE);

  EXPECT_EQ(cu_.MemFree(b + 8), CUDA_ERROR_INVALID_VALUE);  // not a base
  ASSERT_EQ(cu_.MemFree(big), CUDA_SUCCESS);
  ASSERT_EQ(cu_.MemFree(a), CUDA_SUCCESS);
  ASSERT_EQ(cu_.MemFree(b), CUDA_SUCCESS);
  EXPECT_EQ(cu_.MemFree(b), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 100 * kMiB);

  // A pitched allocation is charged by its pitch: 1000 bytes wide -> 1024.
  size_t pitch = 0;
  ASSERT_EQ(cu_.MemAllocPitch(&a, &pitch, 1000, 2048, 4), CUDA_SUCCESS);
  EXPECT_EQ(pitch, 1024u);
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 102 * kMiB);
}

TEST_F(FakeCudaTest, ContextOverheadIsChargedOncePerProcessAndDevice) {
  Start({{"FAKEGPU_DEVICES", "2"}, {"FAKEGPU_CTX_OVERHEAD", "300m"}});
  const int pid = getpid();
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 300 * kMiB);
  EXPECT_EQ(fake().pid_contexts(0, pid), 1);
  CUcontext again = nullptr, created = nullptr, other = nullptr;
  ASSERT_EQ(cu_.PrimaryRetain(&again, 0), CUDA_SUCCESS);
  EXPECT_EQ(again, ctx_);
  ASSERT_EQ(cu_.CtxCreate(&created, nullptr, 0, 0), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 300 * kMiB);  // still once on device 0
  ASSERT_EQ(cu_.CtxCreate(&other, nullptr, 0, 1), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(1, pid), 300 * kMiB);
  EXPECT_EQ(fake().process_count(1), 1);

  // Memory of a context goes with it.
  CUdeviceptr p = 0;
  ASSERT_EQ(cu_.MemAlloc(&p, 10 * kMiB), CUDA_SUCCESS);  // in `other` (current)
  EXPECT_EQ(fake().pid_used_bytes(1, pid), 310 * kMiB);
  ASSERT_EQ(cu_.CtxDestroy(other), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(1, pid), 0u);
  EXPECT_EQ(fake().process_count(1), 0);
  EXPECT_EQ(cu_.CtxDestroy(other), CUDA_ERROR_INVALID_CONTEXT);

  unsigned flags = 0;
  int active = 0;
  ASSERT_EQ(cu_.PrimaryRelease(0), CUDA_SUCCESS);  // retained twice
  ASSERT_EQ(cu_.PrimaryGetState(0, &flags, &active), CUDA_SUCCESS);
  EXPECT_EQ(active, 1);
  ASSERT_EQ(cu_.PrimaryRelease(0), CUDA_SUCCESS);
  ASSERT_EQ(cu_.PrimaryGetState(0, &flags, &active), CUDA_SUCCESS);
  EXPECT_EQ(active, 0);
  EXPECT_EQ(cu_.PrimaryRelease(0), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 300 * kMiB);  // `created` still holds device 0
  ASSERT_EQ(cu_.CtxDestroy(created), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 0u);
  EXPECT_EQ(fake().process_count(0), 0);
}

// Runs `child` in a forked process; returns its pid. The child exits with child()'s value.
template <typename Fn>
pid_t Fork(Fn child) {
  const pid_t pid = fork();
  if (pid == 0) _exit(child());
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST_F(FakeCudaTest, ASecondProcessSharesTheDeviceAndNvmlSeesBoth) {
  Start(
      {{"FAKEGPU_MEM", "2g"}, {"FAKEGPU_CTX_OVERHEAD", "200m"}, {"FAKEGPU_PID_OFFSET", "100000"}});
  CUdeviceptr mine = 0;
  ASSERT_EQ(cu_.MemAlloc(&mine, 64 * kMiB), CUDA_SUCCESS);
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t child = Fork([&] {
    CUcontext ctx = nullptr;
    CUdeviceptr p = 0;
    if (cu_.MemAlloc(&p, kMiB) != CUDA_ERROR_NOT_INITIALIZED) return 10;  // a new life
    if (cu_.Init(0) != CUDA_SUCCESS || cu_.PrimaryRetain(&ctx, 0) != CUDA_SUCCESS ||
        cu_.CtxSetCurrent(ctx) != CUDA_SUCCESS || cu_.MemAlloc(&p, 100 * kMiB) != CUDA_SUCCESS) {
      return 11;
    }
    size_t free_bytes = 0, total = 0;
    if (cu_.MemGetInfo(&free_bytes, &total) != CUDA_SUCCESS ||
        free_bytes != total - (200 + 64 + 200 + 100) * kMiB) {
      return 12;  // the parent's memory is visible here
    }
    char c = 'r';
    if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) != 1) return 13;
    return 0;  // exits holding its memory: the driver frees it
  });
  ASSERT_GT(child, 0);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  EXPECT_EQ(fake().pid_used_bytes(0, child), 300 * kMiB);
  EXPECT_EQ(fake().device_used_bytes(0), 564 * kMiB);
  size_t free_bytes = 0, total = 0;
  ASSERT_EQ(cu_.MemGetInfo(&free_bytes, &total), CUDA_SUCCESS);
  EXPECT_EQ(free_bytes, total - 564 * kMiB);

  ASSERT_EQ(nvml_.Init(), NVML_SUCCESS);
  std::vector<nvmlProcessInfo_v1_t> procs = nvml_.List(0);
  ASSERT_EQ(procs.size(), 2u);
  std::map<unsigned, unsigned long long> by_pid;
  for (const auto& p : procs) by_pid[p.pid] = p.usedGpuMemory;
  EXPECT_EQ(by_pid[static_cast<unsigned>(getpid()) + 100000], 264 * kMiB);
  EXPECT_EQ(by_pid[static_cast<unsigned>(child) + 100000], 300 * kMiB);
  nvmlMemory_t memory{};
  ASSERT_EQ(nvml_.GetMemory(nvml_.Handle(0), &memory), NVML_SUCCESS);
  EXPECT_EQ(memory.used, 564 * kMiB);

  ASSERT_EQ(write(done[1], &c, 1), 1);
  EXPECT_EQ(WaitExit(child), 0);
  procs = nvml_.List(0);  // the exited process is gone, with its memory
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_EQ(procs[0].pid, static_cast<unsigned>(getpid()) + 100000);
  EXPECT_EQ(fake().pid_used_bytes(0, child), 0u);
  EXPECT_EQ(fake().device_used_bytes(0), 264 * kMiB);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
}

TEST_F(FakeCudaTest, NvmlProcessListFollowsTheSizeProtocolAndStructVersions) {
  Start({{"FAKEGPU_CTX_OVERHEAD", "300m"}, {"FAKEGPU_PID_OFFSET", "7"}});
  ASSERT_EQ(nvml_.Init(), NVML_SUCCESS);
  nvmlDevice_t dev = nvml_.Handle(0);
  unsigned int count = 0;
  EXPECT_EQ(nvml_.Processes(dev, &count, nullptr), NVML_ERROR_INSUFFICIENT_SIZE);
  EXPECT_EQ(count, 1u);
  nvmlProcessInfo_v2_t v3[4] = {};
  count = 4;
  ASSERT_EQ(nvml_.ProcessesV3(dev, &count, v3), NVML_SUCCESS);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(v3[0].pid, static_cast<unsigned>(getpid()) + 7);
  EXPECT_EQ(v3[0].usedGpuMemory, 300 * kMiB);
  EXPECT_EQ(v3[0].gpuInstanceId, kNvmlValueNotAvailable);

  nvmlMemory_v2_t memory{};
  memory.version = 1;
  EXPECT_EQ(nvml_.GetMemoryV2(dev, &memory), kNvmlErrorArgumentVersionMismatch);
  memory.version = kNvmlMemoryV2;
  ASSERT_EQ(nvml_.GetMemoryV2(dev, &memory), NVML_SUCCESS);
  EXPECT_EQ(memory.total, 16ULL << 30);
  EXPECT_EQ(memory.used, 300 * kMiB);
  EXPECT_EQ(memory.free + memory.used + memory.reserved, memory.total);

  ASSERT_EQ(cu_.PrimaryRelease(0), CUDA_SUCCESS);  // no context left: not listed
  count = 0;
  EXPECT_EQ(nvml_.Processes(dev, &count, nullptr), NVML_SUCCESS);
  EXPECT_EQ(count, 0u);
}

TEST_F(FakeCudaTest, LaunchesAreAsynchronousAndLastWhatTheModelSays) {
  Start({{"FAKEGPU_SMS", "10"}, {"FAKEGPU_THREADS_PER_SM", "1024"}, {"FAKEGPU_WAVE_US", "1000"}});
  CUfunction waves = Function("saxpy");
  CUfunction fixed = Function("fakegpu_us_500");
  const long long t0 = fake().now_us();
  // 25 blocks of 512 threads: 2 blocks per SM, 20 per wave -> 2 waves -> 2 ms.
  ASSERT_EQ(cu_.LaunchKernel(waves, 25, 1, 1, 512, 1, 1, 0, nullptr, nullptr, nullptr),
            CUDA_SUCCESS);
  ASSERT_EQ(cu_.LaunchKernel(fixed, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr), CUDA_SUCCESS);
  EXPECT_LT(fake().now_us() - t0, 2000);  // queued, not run
  EXPECT_EQ(cu_.StreamQuery(nullptr), CUDA_ERROR_NOT_READY);
  ASSERT_EQ(cu_.StreamSynchronize(nullptr), CUDA_SUCCESS);
  EXPECT_GE(fake().now_us() - t0, 2500);
  EXPECT_EQ(cu_.StreamQuery(nullptr), CUDA_SUCCESS);
  EXPECT_EQ(fake().busy_us(0, getpid(), t0 - 1, fake().now_us()), 2500);
  EXPECT_EQ(fake().launch_count(0), 2u);
  EXPECT_EQ(cu_.LaunchKernel(waves, 1, 1, 1, 2048, 1, 1, 0, nullptr, nullptr, nullptr),
            CUDA_ERROR_INVALID_VALUE);
}

TEST_F(FakeCudaTest, UtilizationOfALaunchLoopIsFullAndOfAnIdleProcessZero) {
  Start({{"FAKEGPU_KERNEL_US", "2000"}, {"FAKEGPU_PID_OFFSET", "50"}});
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t idle = Fork([&] {  // holds a context and never launches
    CUcontext ctx = nullptr;
    char c = 'r';
    if (cu_.Init(0) != CUDA_SUCCESS || cu_.PrimaryRetain(&ctx, 0) != CUDA_SUCCESS) return 11;
    if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) != 1) return 12;
    return 0;
  });
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);

  CUfunction f = Function("busy");
  const long long start = fake().now_us(), start_wall = WallUs();
  while (fake().now_us() - start < 160000) {
    for (int i = 0; i < 8; ++i) {  // 16 ms queued per synchronisation
      ASSERT_EQ(cu_.LaunchKernel(f, 1, 1, 1, 128, 1, 1, 0, nullptr, nullptr, nullptr),
                CUDA_SUCCESS);
    }
    ASSERT_EQ(cu_.CtxSynchronize(), CUDA_SUCCESS);
  }
  const long long window = fake().now_us() - start;
  EXPECT_GE(fake().busy_percent(0, getpid(), window), 90.0);
  EXPECT_EQ(fake().busy_percent(0, idle, window), 0.0);

  ASSERT_EQ(nvml_.Init(), NVML_SUCCESS);
  nvmlProcessUtilizationSample_t samples[8] = {};
  unsigned int count = 0;
  EXPECT_EQ(nvml_.ProcessUtilization(nvml_.Handle(0), samples, &count, start_wall),
            NVML_ERROR_INSUFFICIENT_SIZE);
  EXPECT_EQ(count, 1u);  // only the busy process has a sample
  count = 8;
  ASSERT_EQ(nvml_.ProcessUtilization(nvml_.Handle(0), samples, &count, start_wall), NVML_SUCCESS);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(samples[0].pid, static_cast<unsigned>(getpid()) + 50);
  EXPECT_GE(samples[0].smUtil, 85u);
  EXPECT_GE(samples[0].timeStamp, static_cast<unsigned long long>(start_wall));
  nvmlUtilization_t rates{};
  ASSERT_EQ(nvml_.UtilizationRates(nvml_.Handle(0), &rates), NVML_SUCCESS);
  EXPECT_NEAR(rates.gpu, fake().busy_percent(0, -1, 1000000), 2.0);  // over the last second
  EXPECT_GT(rates.gpu, 5u);
  // Nothing ran after now: a window starting now has no samples.
  count = 8;
  EXPECT_EQ(nvml_.ProcessUtilization(nvml_.Handle(0), samples, &count, WallUs() + 1000),
            NVML_ERROR_NOT_FOUND);

  ASSERT_EQ(write(done[1], &c, 1), 1);
  EXPECT_EQ(WaitExit(idle), 0);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
}

TEST_F(FakeCudaTest, GetProcAddressResolvesVersionsAndPerThreadVariants) {
  Start({});
  auto resolve = [&](const char* symbol, int version, cuuint64_t flags, void** fn) {
    CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    *fn = reinterpret_cast<void*>(1);
    const CUresult rc = cu_.GetProcAddress(symbol, fn, version, flags, &status);
    return std::make_pair(rc, status);
  };
  auto sym = [](const char* name) { return dlsym(FakeCudaHandle(), name); };
  void* fn = nullptr;
  EXPECT_EQ(resolve("cuMemAlloc", 13000, 0, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuMemAlloc_v2"));
  EXPECT_EQ(resolve("cuMemAlloc", 3000, 0, &fn),
            std::make_pair(CUDA_ERROR_NOT_FOUND, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT));
  EXPECT_EQ(fn, nullptr);
  EXPECT_EQ(resolve("cuNoSuchEntryPoint", 13000, 0, &fn),
            std::make_pair(CUDA_ERROR_NOT_FOUND, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND));
  EXPECT_EQ(fn, nullptr);
  const std::pair<int, const char*> ctx_create[] = {{3020, "cuCtxCreate_v2"},
                                                    {11040, "cuCtxCreate_v3"},
                                                    {12040, "cuCtxCreate_v3"},
                                                    {12050, "cuCtxCreate_v4"},
                                                    {13000, "cuCtxCreate_v4"}};
  for (const auto& [version, name] : ctx_create) {
    ASSERT_EQ(resolve("cuCtxCreate", version, 0, &fn).first, CUDA_SUCCESS);
    EXPECT_EQ(fn, sym(name)) << version;
  }
  ASSERT_EQ(resolve("cuCtxSynchronize", 12090, 0, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuCtxSynchronize"));
  ASSERT_EQ(resolve("cuCtxSynchronize", 13000, 0, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuCtxSynchronize_v2"));

  const cuuint64_t kPerThread = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  ASSERT_EQ(resolve("cuLaunchKernel", 13000, kPerThread, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuLaunchKernel_ptsz"));
  void* launch_ptsz = fn;
  ASSERT_EQ(resolve("cuLaunchKernel", 13000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, &fn).first,
            CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuLaunchKernel"));
  ASSERT_EQ(resolve("cuLaunchKernel", 13000, CU_GET_PROC_ADDRESS_DEFAULT, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuLaunchKernel"));
  ASSERT_EQ(resolve("cuLaunchKernel", 6050, kPerThread, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuLaunchKernel"));  // per-thread variants begin at 7.0
  ASSERT_EQ(resolve("cuMemcpyHtoDAsync", 12000, kPerThread, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuMemcpyHtoDAsync_v2_ptsz"));
  ASSERT_EQ(resolve("cuMemcpyHtoD", 12000, kPerThread, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuMemcpyHtoD_v2_ptds"));
  ASSERT_EQ(resolve("cuMemAlloc", 12000, kPerThread, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuMemAlloc_v2"));  // no per-thread variant: the legacy one
  ASSERT_EQ(resolve("cuGetProcAddress", 12000, 0, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuGetProcAddress_v2"));
  ASSERT_EQ(resolve("cuGraphAddKernelNode", 12000, 0, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(fn, sym("cuGraphAddKernelNode_v2"));
  EXPECT_EQ(resolve("cuMemAlloc", 13010, 0, &fn).first, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(resolve("cuMemAlloc", 13000, 4, &fn).first, CUDA_ERROR_INVALID_VALUE);

  // The per-thread pointer is a working entry point of its own.
  CUfunction f = Function("k");
  const unsigned long long before = fake().call_count("cuLaunchKernel_ptsz");
  ASSERT_EQ(reinterpret_cast<decltype(&::cuLaunchKernel)>(launch_ptsz)(f, 1, 1, 1, 1, 1, 1, 0,
                                                                       nullptr, nullptr, nullptr),
            CUDA_SUCCESS);
  EXPECT_EQ(fake().call_count("cuLaunchKernel_ptsz"), before + 1);
  // Stubbed entry points exist and say so.
  ASSERT_EQ(resolve("cuGraphClone", 13000, 0, &fn).first, CUDA_SUCCESS);
  EXPECT_EQ(reinterpret_cast<decltype(&::cuGraphClone)>(fn)(nullptr, nullptr),
            CUDA_ERROR_NOT_SUPPORTED);
}

TEST_F(FakeCudaTest, FaultInjectionFailsTheNthCall) {
  Start({{"FAKEGPU_FAIL", "cuMemAlloc_v2:2:CUDA_ERROR_OUT_OF_MEMORY,cuLaunchKernel:0:719,junk"},
         {"FAKEGPU_CTX_OVERHEAD", "0"}});
  CUdeviceptr p[3] = {};
  EXPECT_EQ(cu_.MemAlloc(&p[0], kMiB), CUDA_SUCCESS);
  EXPECT_EQ(cu_.MemAlloc(&p[1], kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(cu_.MemAlloc(&p[2], kMiB), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(0, getpid()), 4 * kMiB);  // the failed call did nothing
  CUfunction f = Function("k");
  for (int i = 0; i < 3; ++i) {  // nth 0: every call, by base name
    EXPECT_EQ(cu_.LaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr),
              CUDA_ERROR_LAUNCH_FAILED);
  }
  EXPECT_EQ(fake().launch_count(0), 0u);
  EXPECT_EQ(fake().call_count("cuMemAlloc_v2") >= 3, true);
}

TEST_F(FakeCudaTest, ResetRebuildsTheStateFromTheEnvironment) {
  Start({{"FAKEGPU_DEVICES", "1"}});
  CUdeviceptr p = 0;
  ASSERT_EQ(cu_.MemAlloc(&p, 8 * kMiB), CUDA_SUCCESS);
  struct stat st {};
  ASSERT_EQ(stat(env_->state_path().c_str(), &st), 0);  // created on first use
  EXPECT_GT(st.st_size, 1 << 20);
  EXPECT_STREQ(fake().state_path(), env_->state_path().c_str());

  env_->env().Set("FAKEGPU_DEVICES", "3");
  ASSERT_EQ(fake().reset(), 0);
  EXPECT_EQ(fake().device_used_bytes(0), 0u);
  EXPECT_EQ(fake().process_count(0), 0);
  int count = 0;
  EXPECT_EQ(cu_.DeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);  // a new life
  ASSERT_EQ(cu_.Init(0), CUDA_SUCCESS);
  ASSERT_EQ(cu_.DeviceGetCount(&count), CUDA_SUCCESS);
  EXPECT_EQ(count, 3);

  // A file that is not a state file is rebuilt on first use, not trusted.
  const std::string junk = env_->dir() + "/junk";
  std::ofstream(junk) << "not a fake GPU";
  env_->env().Set("FAKEGPU_STATE", junk);
  env_->env().Set("FAKEGPU_DEVICES", "2");
  ASSERT_EQ(cu_.Init(0), CUDA_SUCCESS);  // another state file: attaches to it
  ASSERT_EQ(cu_.DeviceGetCount(&count), CUDA_SUCCESS);
  EXPECT_EQ(count, 2);
}

TEST_F(FakeCudaTest, AsyncAllocationsChargeThePoolReservation) {
  Start({{"FAKEGPU_CTX_OVERHEAD", "0"}});
  const int pid = getpid();
  CUmemoryPool pool = nullptr;
  ASSERT_EQ(cu_.DeviceGetMemPool(&pool, 0), CUDA_SUCCESS);
  CUdeviceptr p = 0;
  ASSERT_EQ(cu_.MemAllocAsync(&p, 3 * kMiB, nullptr), CUDA_SUCCESS);
  cuuint64_t reserved = 0, used = 0;
  ASSERT_EQ(cu_.MemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved),
            CUDA_SUCCESS);
  ASSERT_EQ(cu_.MemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used), CUDA_SUCCESS);
  EXPECT_EQ(reserved, 4 * kMiB);
  EXPECT_EQ(used, 3 * kMiB);
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 4 * kMiB);  // the reservation is what is charged
  ASSERT_EQ(cu_.MemFreeAsync(p, nullptr), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 4 * kMiB);  // kept until a synchronisation
  ASSERT_EQ(cu_.StreamSynchronize(nullptr), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(0, pid), 0u);  // release threshold 0
  ASSERT_EQ(cu_.MemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH, &reserved),
            CUDA_SUCCESS);
  EXPECT_EQ(reserved, 4 * kMiB);
}

TEST_F(FakeCudaTest, VmmHandlesAreChargedUntilReleasedAndUnmapped) {
  Start({{"FAKEGPU_CTX_OVERHEAD", "0"}});
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  CUmemGenericAllocationHandle h = 0;
  EXPECT_EQ(HAMI_FAKE_CU(cuMemCreate)(&h, 3 * kMiB, &prop, 0), CUDA_ERROR_INVALID_VALUE);
  ASSERT_EQ(HAMI_FAKE_CU(cuMemCreate)(&h, 4 * kMiB, &prop, 0), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(0, getpid()), 4 * kMiB);
  CUdeviceptr va = 0;
  ASSERT_EQ(HAMI_FAKE_CU(cuMemAddressReserve)(&va, 8 * kMiB, 0, 0, 0), CUDA_SUCCESS);
  ASSERT_EQ(HAMI_FAKE_CU(cuMemMap)(va, 4 * kMiB, 0, h, 0), CUDA_SUCCESS);
  const CUmemAccessDesc access{prop.location, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
  ASSERT_EQ(HAMI_FAKE_CU(cuMemSetAccess)(va, 4 * kMiB, &access, 1), CUDA_SUCCESS);
  auto memset_d8 = HAMI_FAKE_CU(cuMemsetD8_v2);
  EXPECT_EQ(memset_d8(va, 0, 4 * kMiB), CUDA_SUCCESS);
  EXPECT_EQ(memset_d8(va + 4 * kMiB, 0, 1), CUDA_ERROR_INVALID_VALUE);  // reserved, not mapped
  ASSERT_EQ(HAMI_FAKE_CU(cuMemRelease)(h), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(0, getpid()), 4 * kMiB);  // still mapped
  ASSERT_EQ(HAMI_FAKE_CU(cuMemUnmap)(va, 4 * kMiB), CUDA_SUCCESS);
  EXPECT_EQ(fake().pid_used_bytes(0, getpid()), 0u);
  EXPECT_EQ(HAMI_FAKE_CU(cuMemAddressFree)(va, 8 * kMiB), CUDA_SUCCESS);
}

TEST_F(FakeCudaTest, ACapturedGraphRunsItsKernelsAsOneSubmission) {
  Start({});
  CUfunction f = Function("fakegpu_us_1000");
  CUstream stream = nullptr;
  ASSERT_EQ(HAMI_FAKE_CU(cuStreamCreate)(&stream, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  EXPECT_EQ(HAMI_FAKE_CU(cuStreamBeginCapture_v2)(nullptr, CU_STREAM_CAPTURE_MODE_GLOBAL),
            CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  ASSERT_EQ(HAMI_FAKE_CU(cuStreamBeginCapture_v2)(stream, CU_STREAM_CAPTURE_MODE_GLOBAL),
            CUDA_SUCCESS);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(cu_.LaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr), CUDA_SUCCESS);
  }
  EXPECT_EQ(fake().launch_count(0), 0u);  // recorded, not run
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  ASSERT_EQ(HAMI_FAKE_CU(cuStreamEndCapture)(stream, &graph), CUDA_SUCCESS);
  ASSERT_EQ(HAMI_FAKE_CU(cuGraphInstantiateWithFlags)(&exec, graph, 0), CUDA_SUCCESS);
  const long long t0 = fake().now_us();
  ASSERT_EQ(HAMI_FAKE_CU(cuGraphLaunch)(exec, stream), CUDA_SUCCESS);
  ASSERT_EQ(cu_.StreamSynchronize(stream), CUDA_SUCCESS);
  EXPECT_EQ(fake().launch_count(0), 1u);
  EXPECT_EQ(fake().busy_us(0, getpid(), t0 - 1, fake().now_us()), 3000);
}

TEST_F(FakeCudaTest, APoolReleaseThresholdAtOrAboveTheReservationKeepsIt) {
  Start({{"FAKEGPU_CTX_OVERHEAD", "0"}});
  CUmemoryPool pool = nullptr;
  ASSERT_EQ(cu_.DeviceGetMemPool(&pool, 0), CUDA_SUCCESS);
  cuuint64_t keep_all = UINT64_MAX;  // what PyTorch sets
  ASSERT_EQ(cu_.MemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep_all),
            CUDA_SUCCESS);
  CUdeviceptr p = 0;
  ASSERT_EQ(cu_.MemAllocAsync(&p, 3 * kMiB, nullptr), CUDA_SUCCESS);
  ASSERT_EQ(cu_.MemFreeAsync(p, nullptr), CUDA_SUCCESS);
  ASSERT_EQ(cu_.StreamSynchronize(nullptr), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 4 * kMiB);  // kept, not wrapped around to "keep nothing"
  ASSERT_EQ(cu_.MemPoolTrimTo(pool, SIZE_MAX), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 4 * kMiB);
  ASSERT_EQ(cu_.MemPoolTrimTo(pool, 2 * kMiB + 1), CUDA_SUCCESS);  // rounded up to granules
  EXPECT_EQ(Used(), 4 * kMiB);
  ASSERT_EQ(cu_.MemPoolTrimTo(pool, 1), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 2 * kMiB);
  ASSERT_EQ(cu_.MemPoolTrimTo(pool, 0), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 0u);

  // Sizes whose rounding to the pool's alignment or the granule would wrap are too big.
  EXPECT_EQ(cu_.MemAllocAsync(&p, SIZE_MAX, nullptr), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(cu_.MemAllocAsync(&p, SIZE_MAX - 100, nullptr), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(cu_.MemAlloc(&p, SIZE_MAX), CUDA_ERROR_OUT_OF_MEMORY);
  size_t pitch = 0;
  EXPECT_EQ(cu_.MemAllocPitch(&p, &pitch, SIZE_MAX / 2, 4, 4), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(Used(), 0u);
  cuuint64_t used = 1;
  ASSERT_EQ(cu_.MemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used), CUDA_SUCCESS);
  EXPECT_EQ(used, 0u);
}

TEST_F(FakeCudaTest, MipmappedArraysChargeAllTheirLevelsOnce) {
  Start({{"FAKEGPU_CTX_OVERHEAD", "0"}});
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  desc.Width = 1024;
  desc.Height = 1024;
  desc.Format = CU_AD_FORMAT_FLOAT;
  desc.NumChannels = 4;
  // 16 bytes * (1024^2 + 512^2 + ... + 1^2) over 11 levels = 21.3 MiB -> 22 MiB; more levels
  // than 1024x1024 has are clamped.
  for (unsigned levels : {11u, 40u}) {
    CUmipmappedArray mipmap = nullptr;
    ASSERT_EQ(cu_.MipmappedArrayCreate(&mipmap, &desc, levels), CUDA_SUCCESS);
    EXPECT_EQ(Used(), 22 * kMiB) << levels;
    EXPECT_EQ(Used(), RoundUpToGranule(MipmappedArrayBytes(CU_AD_FORMAT_FLOAT, 4, 1024, 1024, 0,
                                                           levels)));  // what libvgpu charges
    CUarray level = nullptr, again = nullptr;
    ASSERT_EQ(cu_.MipmappedArrayGetLevel(&level, mipmap, 10), CUDA_SUCCESS);
    ASSERT_EQ(cu_.MipmappedArrayGetLevel(&again, mipmap, 10), CUDA_SUCCESS);
    EXPECT_EQ(level, again);
    EXPECT_EQ(cu_.MipmappedArrayGetLevel(&level, mipmap, 11), CUDA_ERROR_INVALID_VALUE);
    EXPECT_EQ(HAMI_FAKE_CU(cuArrayDestroy)(again), CUDA_ERROR_INVALID_VALUE);  // owned by it
    EXPECT_EQ(Used(), 22 * kMiB);  // levels are not charged on their own
    ASSERT_EQ(cu_.MipmappedArrayDestroy(mipmap), CUDA_SUCCESS);
    EXPECT_EQ(Used(), 0u);
    EXPECT_EQ(cu_.MipmappedArrayDestroy(mipmap), CUDA_ERROR_INVALID_HANDLE);
  }

  // 3D, one byte per texel: 4 MiB + 512 KiB + 64 KiB -> 6 MiB; levels 0 counts as 1.
  desc = CUDA_ARRAY3D_DESCRIPTOR{};
  desc.Width = 256;
  desc.Height = desc.Depth = 128;
  desc.Format = CU_AD_FORMAT_UNSIGNED_INT8;
  desc.NumChannels = 1;
  CUmipmappedArray a = nullptr, b = nullptr;
  ASSERT_EQ(cu_.MipmappedArrayCreate(&a, &desc, 3), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 6 * kMiB);
  EXPECT_EQ(Used(),
            RoundUpToGranule(MipmappedArrayBytes(CU_AD_FORMAT_UNSIGNED_INT8, 1, 256, 128, 128, 3)));
  ASSERT_EQ(cu_.MipmappedArrayCreate(&b, &desc, 0), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 10 * kMiB);

  desc.Width = desc.Height = 1 << 20;  // far more than the device has
  EXPECT_EQ(cu_.MipmappedArrayCreate(&a, &desc, 1), CUDA_ERROR_OUT_OF_MEMORY);
  desc.Format = CU_AD_FORMAT_NV12;
  EXPECT_EQ(cu_.MipmappedArrayCreate(&a, &desc, 1), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(cu_.MipmappedArrayCreate(&a, nullptr, 1), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(Used(), 10 * kMiB);

  // A context's mipmapped arrays go with it.
  CUcontext created = nullptr;
  ASSERT_EQ(cu_.CtxCreate(&created, nullptr, 0, 0), CUDA_SUCCESS);
  desc.Format = CU_AD_FORMAT_UNSIGNED_INT8;
  desc.Width = desc.Height = 2048;
  desc.Depth = 0;
  ASSERT_EQ(cu_.MipmappedArrayCreate(&a, &desc, 2), CUDA_SUCCESS);  // 4 MiB + 1 MiB -> 6 MiB
  EXPECT_EQ(Used(), 16 * kMiB);
  ASSERT_EQ(cu_.CtxDestroy(created), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 10 * kMiB);
  EXPECT_EQ(cu_.MipmappedArrayDestroy(a), CUDA_ERROR_INVALID_HANDLE);
  ASSERT_EQ(cu_.MipmappedArrayDestroy(b), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 6 * kMiB);
}

TEST_F(FakeCudaTest, GraphMemoryIsReservedAtLaunchAndKeptUntilTrimmed) {
  Start({{"FAKEGPU_CTX_OVERHEAD", "0"}, {"FAKEGPU_MEM", "64m"}});
  CUstream stream = nullptr;
  ASSERT_EQ(cu_.StreamCreate(&stream, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUgraph graph = nullptr;
  ASSERT_EQ(cu_.GraphCreate(&graph, 0), CUDA_SUCCESS);
  CUDA_MEM_ALLOC_NODE_PARAMS params{};
  params.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  params.poolProps.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  params.bytesize = 3 * kMiB;
  CUgraphNode first = nullptr, second = nullptr;
  ASSERT_EQ(cu_.GraphAddMemAllocNode(&first, graph, nullptr, 0, &params), CUDA_SUCCESS);
  const CUdeviceptr a = params.dptr;
  params.bytesize = kMiB;
  ASSERT_EQ(cu_.GraphAddMemAllocNode(&second, graph, &first, 1, &params), CUDA_SUCCESS);
  const CUdeviceptr b = params.dptr;
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, a);
  params.poolProps.location.id = 1;
  EXPECT_EQ(cu_.GraphAddMemAllocNode(&second, graph, nullptr, 0, &params),
            CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(Used(), 0u);  // nothing until a launch
  CUgraphExec exec = nullptr;
  ASSERT_EQ(cu_.GraphInstantiate(&exec, graph, 0), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 0u);

  ASSERT_EQ(cu_.GraphLaunch(exec, stream), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 4 * kMiB);  // 3 MiB + 1 MiB, one granule-rounded reservation
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 4 * kMiB);
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT), 4 * kMiB);
  ASSERT_EQ(nvml_.Init(), NVML_SUCCESS);
  ASSERT_EQ(nvml_.List(0).size(), 1u);
  EXPECT_EQ(nvml_.List(0)[0].usedGpuMemory, 4 * kMiB);
  EXPECT_EQ(HAMI_FAKE_CU(cuMemsetD8_v2)(a, 0, 3 * kMiB), CUDA_SUCCESS);  // live memory
  EXPECT_EQ(cu_.GraphLaunch(exec, stream), CUDA_ERROR_INVALID_VALUE);    // still allocated

  // Freed memory goes back to the graph pool, which stays reserved.
  ASSERT_EQ(cu_.MemFreeAsync(a, stream), CUDA_SUCCESS);
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), kMiB);
  EXPECT_EQ(Used(), 4 * kMiB);
  CUgraph frees = nullptr;
  CUgraphNode node = nullptr;
  CUgraphExec free_exec = nullptr;
  ASSERT_EQ(cu_.GraphCreate(&frees, 0), CUDA_SUCCESS);
  ASSERT_EQ(cu_.GraphAddMemFreeNode(&node, frees, nullptr, 0, b), CUDA_SUCCESS);
  EXPECT_EQ(cu_.GraphAddMemFreeNode(&node, frees, nullptr, 0, b + 512), CUDA_ERROR_INVALID_VALUE);
  ASSERT_EQ(cu_.GraphInstantiate(&free_exec, frees, 0), CUDA_SUCCESS);
  ASSERT_EQ(cu_.GraphLaunch(free_exec, stream), CUDA_SUCCESS);
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 0u);
  EXPECT_EQ(cu_.GraphLaunch(free_exec, stream), CUDA_ERROR_INVALID_VALUE);  // b is not live
  ASSERT_EQ(cu_.StreamSynchronize(stream), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 4 * kMiB);  // synchronising trims pools, not graph memory

  // A relaunch fits in the reservation: nothing more is charged.
  ASSERT_EQ(cu_.GraphLaunch(exec, stream), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 4 * kMiB);
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_USED_MEM_HIGH), 4 * kMiB);
  ASSERT_EQ(cu_.MemFree(a), CUDA_SUCCESS);
  cuuint64_t zero = 0, one = 1;
  ASSERT_EQ(cu_.DeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &zero),
            CUDA_SUCCESS);
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_USED_MEM_HIGH), 0u);
  EXPECT_EQ(cu_.DeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH, &one),
            CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cu_.DeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &zero),
            CUDA_ERROR_INVALID_VALUE);

  // A trim keeps what live allocations use (b: 1 MiB -> one granule).
  ASSERT_EQ(cu_.DeviceGraphMemTrim(0), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 2 * kMiB);
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT), 2 * kMiB);
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH), 4 * kMiB);

  // More than the device has: OUT_OF_MEMORY, and nothing allocated or charged.
  CUdeviceptr big = 0;
  CUgraphExec big_exec = AllocGraph(100 * kMiB, &big);
  EXPECT_EQ(cu_.GraphLaunch(big_exec, stream), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(Used(), 2 * kMiB);
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), kMiB);
  EXPECT_EQ(HAMI_FAKE_CU(cuMemsetD8_v2)(big, 0, 1), CUDA_ERROR_INVALID_VALUE);

  // The context takes its graph allocations and the pool's reservation with it.
  ASSERT_EQ(cu_.PrimaryRelease(0), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 0u);
  EXPECT_EQ(fake().process_count(0), 0);
}

TEST_F(FakeCudaTest, CapturedAsyncAllocationsBecomeGraphMemoryNodes) {
  Start({{"FAKEGPU_CTX_OVERHEAD", "0"}});
  CUstream stream = nullptr;
  ASSERT_EQ(cu_.StreamCreate(&stream, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  ASSERT_EQ(cu_.StreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CUdeviceptr p = 0, q = 0, outside = 0;
  ASSERT_EQ(cu_.MemAllocAsync(&p, 5 * kMiB, stream), CUDA_SUCCESS);
  ASSERT_EQ(cu_.MemAllocAsync(&q, kMiB, stream), CUDA_SUCCESS);
  ASSERT_EQ(cu_.MemFreeAsync(p, stream), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 0u);  // recorded, not allocated
  ASSERT_EQ(cu_.MemAlloc(&outside, kMiB), CUDA_SUCCESS);
  EXPECT_EQ(cu_.MemFreeAsync(outside, stream), CUDA_ERROR_INVALID_VALUE);  // not graph memory
  CUgraph graph = nullptr;
  ASSERT_EQ(cu_.StreamEndCapture(stream, &graph), CUDA_SUCCESS);
  size_t nodes = 0;
  ASSERT_EQ(cu_.GraphGetNodes(graph, nullptr, &nodes), CUDA_SUCCESS);
  EXPECT_EQ(nodes, 3u);
  CUgraphExec exec = nullptr;
  ASSERT_EQ(cu_.GraphInstantiate(&exec, graph, 0), CUDA_SUCCESS);
  ASSERT_EQ(cu_.GraphLaunch(exec, stream), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 2 * kMiB + 6 * kMiB);  // `outside` + the graph's 5 + 1 MiB
  EXPECT_EQ(GraphMem(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), kMiB);  // p was freed in the graph
  ASSERT_EQ(cu_.MemFreeAsync(q, stream), CUDA_SUCCESS);
  ASSERT_EQ(cu_.DeviceGraphMemTrim(0), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 2 * kMiB);
}

TEST_F(FakeCudaTest, HeapAndStackLimitsReserveMemoryBeyondTheirDefaults) {
  Start({{"FAKEGPU_CTX_OVERHEAD", "0"},
         {"FAKEGPU_MEM", "1g"},
         {"FAKEGPU_SMS", "10"},
         {"FAKEGPU_THREADS_PER_SM", "1024"}});
  size_t value = 0;
  ASSERT_EQ(cu_.CtxGetLimit(&value, CU_LIMIT_MALLOC_HEAP_SIZE), CUDA_SUCCESS);
  EXPECT_EQ(value, 8 * kMiB);
  ASSERT_EQ(cu_.CtxGetLimit(&value, CU_LIMIT_STACK_SIZE), CUDA_SUCCESS);
  EXPECT_EQ(value, 1024u);
  EXPECT_EQ(Used(), 0u);  // the defaults are part of the context overhead

  ASSERT_EQ(cu_.CtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, 72 * kMiB), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 64 * kMiB);
  ASSERT_EQ(cu_.CtxGetLimit(&value, CU_LIMIT_MALLOC_HEAP_SIZE), CUDA_SUCCESS);
  EXPECT_EQ(value, 72 * kMiB);
  // 1024 more bytes for each of 10 * 1024 threads: 10 MiB.
  ASSERT_EQ(cu_.CtxSetLimit(CU_LIMIT_STACK_SIZE, 2048), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 74 * kMiB);
  ASSERT_EQ(nvml_.Init(), NVML_SUCCESS);
  ASSERT_EQ(nvml_.List(0).size(), 1u);
  EXPECT_EQ(nvml_.List(0)[0].usedGpuMemory, 74 * kMiB);
  ASSERT_EQ(cu_.CtxSetLimit(CU_LIMIT_STACK_SIZE, 1024 + 100), CUDA_SUCCESS);  // 1000 KiB -> 2 MiB
  EXPECT_EQ(Used(), 66 * kMiB);

  // What the device lacks fails and changes nothing.
  EXPECT_EQ(cu_.CtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, 2048 * kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(cu_.CtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, SIZE_MAX), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(cu_.CtxSetLimit(CU_LIMIT_STACK_SIZE, SIZE_MAX / 2), CUDA_ERROR_OUT_OF_MEMORY);
  ASSERT_EQ(cu_.CtxGetLimit(&value, CU_LIMIT_MALLOC_HEAP_SIZE), CUDA_SUCCESS);
  EXPECT_EQ(value, 72 * kMiB);
  EXPECT_EQ(Used(), 66 * kMiB);

  // Lowering returns memory; below the default reserves nothing.
  ASSERT_EQ(cu_.CtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, kMiB), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 2 * kMiB);
  ASSERT_EQ(cu_.CtxSetLimit(CU_LIMIT_PRINTF_FIFO_SIZE, 4 * kMiB), CUDA_SUCCESS);  // not charged
  ASSERT_EQ(cu_.CtxGetLimit(&value, CU_LIMIT_PRINTF_FIFO_SIZE), CUDA_SUCCESS);
  EXPECT_EQ(value, 4 * kMiB);
  EXPECT_EQ(Used(), 2 * kMiB);
  EXPECT_EQ(cu_.CtxSetLimit(CU_LIMIT_MAX, 1), CUDA_ERROR_UNSUPPORTED_LIMIT);

  // Limits are per context, and a context's reservation goes with it.
  CUcontext created = nullptr;
  ASSERT_EQ(cu_.CtxCreate(&created, nullptr, 0, 0), CUDA_SUCCESS);
  ASSERT_EQ(cu_.CtxGetLimit(&value, CU_LIMIT_MALLOC_HEAP_SIZE), CUDA_SUCCESS);
  EXPECT_EQ(value, 8 * kMiB);
  ASSERT_EQ(cu_.CtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, 10 * kMiB), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 4 * kMiB);
  ASSERT_EQ(cu_.CtxDestroy(created), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 2 * kMiB);
  ASSERT_EQ(cu_.CtxSetCurrent(ctx_), CUDA_SUCCESS);
  ASSERT_EQ(cu_.PrimaryRelease(0), CUDA_SUCCESS);
  EXPECT_EQ(Used(), 0u);
  EXPECT_EQ(fake().process_count(0), 0);
  ASSERT_EQ(cu_.PrimaryRetain(&ctx_, 0), CUDA_SUCCESS);  // a fresh primary context
  ASSERT_EQ(cu_.CtxSetCurrent(ctx_), CUDA_SUCCESS);
  ASSERT_EQ(cu_.CtxGetLimit(&value, CU_LIMIT_STACK_SIZE), CUDA_SUCCESS);
  EXPECT_EQ(value, 1024u);
}

}  // namespace
}  // namespace hami::vgpu::testing
