// libvgpu end to end against the escapes of issue 14: memory the device holds although no
// allocation call is outstanding (VMM memory mapped after its handle was released, pool reserves,
// graph memory, runtime heap and stack, context overhead). Each test drives the probe under
// LD_PRELOAD on the fake driver and checks the fake GPU's physical high-water mark, which is
// what a real card would have had to hold: it must never exceed the container's 1 GiB limit.
#include <cuda.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/cuda/fake_gpu_state.h"
#include "tests/vgpu/probe_fixture.h"
#include "vgpu/array_size.h"
#include "vgpu/shared_region.h"

namespace {

#if defined(HAMI_LIBVGPU_PATH) && defined(HAMI_FAKE_CUDA_PATH) && defined(HAMI_VGPU_PROBE_PATH)

using hami::vgpu::testing::ProbeRun;

constexpr int kOutOfMemory = 2;  // CUDA_ERROR_OUT_OF_MEMORY
constexpr unsigned long long kMiB = 1ull << 20;
constexpr unsigned long long kLimit = 1024 * kMiB;

std::string Bytes(unsigned long long n) { return std::to_string(n); }

class RetainedMemoryTest : public hami::vgpu::testing::ContainerProbeTest {
 protected:
  // The fake GPU's physical high-water mark on device 0 since the state file was made.
  unsigned long long PhysicalPeak() {
    std::string error;
    fakegpu::State* state = fakegpu::OpenState(dir_ + "/fakegpu.state", false, &error);
    if (state == nullptr) {
      ADD_FAILURE() << error;
      return ~0ull;
    }
    unsigned long long peak = 0;
    {
      fakegpu::Locked lock(state);
      peak = state->devices[0].peak_used_bytes;
    }
    munmap(state, sizeof(fakegpu::State));
    return peak;
  }

  // The container's used bytes as cuMemGetInfo shows them (limit - free).
  static unsigned long long ViewUsed(const ProbeRun& run, int skip = 0) {
    const auto info = run.Line("info", skip);
    if (info.size() != 3) return ~0ull;
    return std::stoull(info[2]) - std::stoull(info[1]);
  }
};

TEST_F(RetainedMemoryTest, VmmMemoryMappedAfterItsReleaseStaysCharged) {
  std::vector<std::string> commands = {"init"};
  for (int i = 0; i < 6; ++i) commands.push_back("vmm-map:" + Bytes(256 * kMiB));
  commands.insert(commands.end(), {"info", "vmm-unmap", "info", "vmm-map:" + Bytes(256 * kMiB)});
  const ProbeRun run = Run(commands);
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(run.Code("vmm-map", i), 0) << i;
  EXPECT_EQ(run.Code("vmm-map", 4), kOutOfMemory) << "4 x 256 MiB are mapped: the limit is full";
  EXPECT_EQ(ViewUsed(run), kLimit) << "released but mapped memory is still in use";
  EXPECT_EQ(run.Code("vmm-unmap"), 0);
  EXPECT_EQ(ViewUsed(run, 1), 768 * kMiB) << "the unmap of a released handle frees it";
  EXPECT_EQ(run.Code("vmm-map", 6), 0);
  EXPECT_LE(PhysicalPeak(), kLimit);
}

TEST_F(RetainedMemoryTest, PoolsThatKeepTheirReserveNeverTakeTheContainerPastItsLimit) {
  // The case: pools with an 8 GiB release threshold, 768 MiB allocated and freed in
  // each, then plain allocations fill the rest.
  std::vector<std::string> commands = {"init"};
  for (int i = 0; i < 8; ++i) {
    commands.insert(commands.end(), {"pool:" + Bytes(8ull << 30), "pool-alloc:" + Bytes(768 * kMiB),
                                     "free-async-last", "sync"});
  }
  commands.insert(commands.end(), {"info", "fill", "info"});
  const ProbeRun run = Run(commands);
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(run.Code("pool-alloc", i), 0) << "pool " << i << ": the others' reserve is trimmed";
  }
  EXPECT_EQ(ViewUsed(run), 768 * kMiB) << "the last pool still holds its reserve after sync";
  const auto fill = run.Line("fill");
  ASSERT_EQ(fill.size(), 2u);
  EXPECT_EQ(std::stoi(fill[0]), 16) << "the reserve is given back when the memory is needed";
  EXPECT_EQ(ViewUsed(run, 1), kLimit);
  EXPECT_LE(PhysicalPeak(), kLimit);
}

TEST_F(RetainedMemoryTest, TheDefaultPoolWithAnUnboundedThresholdIsChargedForWhatItKeeps) {
  const ProbeRun run =
      Run({"init", "default-threshold:max", "alloc-async:" + Bytes(768 * kMiB), "free-async-last",
           "sync", "info", "alloc:" + Bytes(512 * kMiB), "info"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("alloc-async"), 0);
  EXPECT_EQ(ViewUsed(run), 768 * kMiB) << "UINT64_MAX keeps the whole reserve";
  EXPECT_EQ(run.Code("alloc"), 0) << "the reserve is trimmed for a plain allocation";
  EXPECT_EQ(ViewUsed(run, 1), 512 * kMiB);
  EXPECT_LE(PhysicalPeak(), kLimit);
}

TEST_F(RetainedMemoryTest, APoolAllocationFreedWithCuMemFreeGoesBackToItsPool) {
  const ProbeRun run = Run(
      {"init", "pool:0", "pool-alloc:" + Bytes(256 * kMiB), "info", "free-last", "sync", "info"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("pool-alloc"), 0);
  EXPECT_EQ(ViewUsed(run), 256 * kMiB);
  EXPECT_EQ(run.Code("free-last"), 0);
  EXPECT_EQ(ViewUsed(run, 1), 0u) << "a threshold of 0 releases the reserve at the sync";
}

TEST_F(RetainedMemoryTest, GraphMemoryIsChargedWhileTheDeviceKeepsIt) {
  const ProbeRun run =
      Run({"init", "graph-mem:" + Bytes(512 * kMiB), "info", "alloc:" + Bytes(768 * kMiB), "info"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("graph-mem"), 0);
  EXPECT_EQ(ViewUsed(run), 512 * kMiB) << "the graph's memory stays reserved after its free node";
  EXPECT_EQ(run.Code("alloc"), 0) << "the reserve is trimmed when the memory is needed";
  EXPECT_EQ(ViewUsed(run, 1), 768 * kMiB);
  EXPECT_LE(PhysicalPeak(), kLimit);
}

TEST_F(RetainedMemoryTest, ALargerRuntimeHeapIsChargedAndRefusedBeyondTheLimit) {
  const ProbeRun run = Run({"init", "heap:" + Bytes(520 * kMiB), "info", "fill",
                            "heap:" + Bytes(2048 * kMiB), "stack:" + Bytes(1ull << 20)});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("heap"), 0);
  EXPECT_EQ(ViewUsed(run), 512 * kMiB) << "the heap beyond its 8 MiB default";
  const auto fill = run.Line("fill");
  ASSERT_EQ(fill.size(), 2u);
  EXPECT_EQ(std::stoi(fill[0]), 8);
  EXPECT_EQ(run.Code("heap", 1), kOutOfMemory);
  EXPECT_EQ(run.Code("stack"), kOutOfMemory) << "1 MiB per thread on 108 x 2048 threads";
  EXPECT_LE(PhysicalPeak(), kLimit);
}

TEST_F(RetainedMemoryTest, MipmappedArraysAreChargedForEveryLevel) {
  const unsigned long long bytes =
      hami::vgpu::MipmappedArrayBytes(CU_AD_FORMAT_FLOAT, 4, 4096, 4096, 0, 13);
  const ProbeRun run = Run({"init", "mipmap:4096x4096:13", "info", "mipmap-destroy", "info"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("mipmap"), 0);
  EXPECT_GE(ViewUsed(run), bytes);
  EXPECT_LT(ViewUsed(run), bytes + 2 * kMiB) << "at most the driver's granule more";
  EXPECT_EQ(run.Code("mipmap-destroy"), 0);
  EXPECT_LT(ViewUsed(run, 1), 2 * kMiB);
}

TEST_F(RetainedMemoryTest, EachProcesssContextMemoryCountsAgainstTheLimit) {
  env_["FAKEGPU_CTX_OVERHEAD"] = "300m";
  // The context is measured once the process's host pid is known (found in the background
  // after cuInit): the hold gives the discovery time.
  const ProbeRun run = Run({"init", "hold:600", "info", "fill", "info"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(ViewUsed(run), 300 * kMiB) << "the view counts the context";
  const auto fill = run.Line("fill");
  ASSERT_EQ(fill.size(), 2u);
  EXPECT_EQ(std::stoi(fill[0]), 11) << "(1024 - 300) / 64 whole chunks";
  EXPECT_LE(PhysicalPeak(), kLimit);
}

TEST_F(RetainedMemoryTest, ConcurrentProcessesContextsAndAllocationsStayWithinTheLimit) {
  env_["FAKEGPU_CTX_OVERHEAD"] = "300m";
  std::vector<std::thread> runners;
  std::vector<ProbeRun> runs(3);
  for (int i = 0; i < 3; ++i) {
    runners.emplace_back([&, i] { runs[i] = Run({"init", "hold:600", "fill", "hold:300"}); });
  }
  for (std::thread& t : runners) t.join();
  int chunks = 0;
  for (const ProbeRun& run : runs) {
    ASSERT_EQ(run.exit_code, 0) << run.errors;
    chunks += std::stoi(run.Line("fill").at(0));
  }
  EXPECT_LE(900 * kMiB + chunks * 64 * kMiB, kLimit);
  EXPECT_LE(PhysicalPeak(), kLimit);
}

TEST_F(RetainedMemoryTest, TheHostPidProbeIsChargedLikeAnyAllocation) {
  // One process fills the container; others start while it is full, so their discovery has to
  // allocate its probe in a full container: it must be refused, never taken uncharged. NVML
  // reports pids shifted, as from a container's own pid namespace, so the probe is needed.
  env_["FAKEGPU_PID_OFFSET"] = "100000";
  int out = -1, err = -1;
  const pid_t filler = Spawn({"init", "fill", "hold:1500"}, &out, &err);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 4; ++i) {
    const ProbeRun late = Run({"init", "hold:400"});
    ASSERT_EQ(late.exit_code, 0) << late.errors;
  }
  const ProbeRun run = Finish(filler, out, err);
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_LE(PhysicalPeak(), kLimit);
}

TEST_F(RetainedMemoryTest, UnlimitedLaunchesStampTheLastKernelTime) {
  int out = -1, err = -1;
  const pid_t pid = Spawn({"init", "hold:700", "launch:3", "hold:100"}, &out, &err);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  // Age the stamp every opener writes, as if the last kernel ran long ago.
  hami::vgpu::RegionInit init;
  auto region = hami::vgpu::SharedRegion::Open(dir_ + "/region.cache", init);
  ASSERT_TRUE(region.ok()) << region.status().message();
  auto& raw = const_cast<hami::vgpu::layout::Region&>(region.value()->raw());
  std::atomic_ref<uint64_t>(raw.last_kernel_time).store(1);
  const uint64_t before = static_cast<uint64_t>(::time(nullptr));
  const ProbeRun run = Finish(pid, out, err);
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("launch"), 0);
  EXPECT_GE(region.value()->last_kernel_time(), before);
}

#else
TEST(RetainedMemoryTest, NeedsTheFakeDriverAndCudaHeaders) { GTEST_SKIP() << "not built"; }
#endif

}  // namespace
