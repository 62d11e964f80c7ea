// libvgpu.so end to end: the probe program (tests/vgpu/probe) runs with LD_PRELOAD=libvgpu.so
// on the fake driver and the fake NVML, in separate processes sharing one fake GPU and one
// shared region, exactly as the processes of a container do.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/vgpu/probe_fixture.h"

namespace {

#if defined(HAMI_LIBVGPU_PATH) && defined(HAMI_FAKE_CUDA_PATH) && defined(HAMI_VGPU_PROBE_PATH)

using hami::vgpu::testing::ProbeRun;

constexpr int kOutOfMemory = 2;  // CUDA_ERROR_OUT_OF_MEMORY
constexpr unsigned long long kMiB = 1ull << 20;

using LibvgpuTest = hami::vgpu::testing::ContainerProbeTest;

TEST_F(LibvgpuTest, TheLimitHoldsOnEveryRouteToTheDriver) {
  const ProbeRun run =
      Run({"init", "alloc:" + std::to_string(512 * kMiB),
           "alloc-dlsym:" + std::to_string(256 * kMiB), "alloc-proc:" + std::to_string(256 * kMiB),
           "alloc:1", "free-last", "alloc:" + std::to_string(256 * kMiB), "alloc:1"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("init"), 0);
  EXPECT_EQ(run.Code("alloc"), 0);
  EXPECT_EQ(run.Code("alloc-dlsym"), 0);
  EXPECT_EQ(run.Code("alloc-proc"), 0);
  EXPECT_EQ(run.Code("alloc", 1), kOutOfMemory) << "1 GiB is in use: one byte more is refused";
  EXPECT_EQ(run.Code("free-last"), 0);
  EXPECT_EQ(run.Code("alloc", 2), 0) << "the free gave back exactly what was charged";
  EXPECT_EQ(run.Code("alloc", 3), kOutOfMemory);
}

TEST_F(LibvgpuTest, MemoryViewsShowTheContainersLimitAndUsage) {
  const ProbeRun run =
      Run({"init", "alloc:" + std::to_string(256 * kMiB), "info", "total", "nvml"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  const auto info = run.Line("info");
  ASSERT_EQ(info.size(), 3u);
  EXPECT_EQ(info[0], "0");
  EXPECT_EQ(std::stoull(info[1]), 768 * kMiB);   // free
  EXPECT_EQ(std::stoull(info[2]), 1024 * kMiB);  // total = the limit
  const auto total = run.Line("total");
  ASSERT_EQ(total.size(), 2u);
  EXPECT_EQ(std::stoull(total[1]), 1024 * kMiB);
  const auto nvml = run.Line("nvml");
  ASSERT_EQ(nvml.size(), 4u) << run.errors;
  EXPECT_EQ(nvml[0], "0");
  EXPECT_EQ(std::stoull(nvml[1]), 1024 * kMiB);  // total
  EXPECT_EQ(std::stoull(nvml[2]), 768 * kMiB);   // free
  EXPECT_EQ(std::stoull(nvml[3]), 256 * kMiB);   // used: the container's
}

TEST_F(LibvgpuTest, WithoutALimitTheDriversViewIsShown) {
  env_.erase("CUDA_DEVICE_MEMORY_LIMIT");
  const ProbeRun run = Run({"init", "alloc:" + std::to_string(256 * kMiB), "info"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  const auto info = run.Line("info");
  ASSERT_EQ(info.size(), 3u);
  EXPECT_EQ(std::stoull(info[2]), 16384 * kMiB);
}

TEST_F(LibvgpuTest, ManagedAsyncPitchAndVmmAllocationsAreCharged) {
  const ProbeRun run =
      Run({"init", "alloc-managed:" + std::to_string(256 * kMiB),
           "alloc-async:" + std::to_string(256 * kMiB), "vmm:" + std::to_string(256 * kMiB),
           "alloc-pitch:1000x65536", "alloc:" + std::to_string(256 * kMiB), "release-vmm",
           "alloc:" + std::to_string(128 * kMiB), "info"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("alloc-managed"), 0);
  EXPECT_EQ(run.Code("alloc-async"), 0);
  EXPECT_EQ(run.Code("vmm"), 0);
  const auto pitch = run.Line("alloc-pitch");
  ASSERT_EQ(pitch.size(), 2u);
  EXPECT_EQ(pitch[0], "0");
  const unsigned long long pitched = std::stoull(pitch[1]) * 65536;
  EXPECT_GE(std::stoull(pitch[1]), 1000u);
  EXPECT_EQ(run.Code("alloc"), kOutOfMemory) << "768 MiB + the pitched block leave < 256 MiB";
  EXPECT_EQ(run.Code("release-vmm"), 0);
  EXPECT_EQ(run.Code("alloc", 1), 0);
  const auto info = run.Line("info");
  ASSERT_EQ(info.size(), 3u);
  EXPECT_EQ(std::stoull(info[1]), 1024 * kMiB - 256 * kMiB - 256 * kMiB - pitched - 128 * kMiB)
      << "exactly the pitch the driver chose is charged";
}

TEST_F(LibvgpuTest, ArraysAreChargedUntilDestroyed) {
  // 8192 x 8192 float4 texels: exactly 1 GiB.
  const ProbeRun run =
      Run({"init", "array:8192x8192", "alloc:1", "array-destroy", "alloc:1", "array:8192x8192"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("array"), 0);
  EXPECT_EQ(run.Code("alloc"), kOutOfMemory);
  EXPECT_EQ(run.Code("array-destroy"), 0);
  EXPECT_EQ(run.Code("alloc", 1), 0);
  EXPECT_EQ(run.Code("array", 1), kOutOfMemory) << "one byte is in use now";
}

// Two containers (two regions) on one GPU: each sees only its own processes through NVML, by
// the host pid each process found for itself (NVML reports pid + FAKEGPU_PID_OFFSET).
TEST_F(LibvgpuTest, NvmlListsOnlyTheContainersProcesses) {
  env_["FAKEGPU_PID_OFFSET"] = "100000";
  int out_a = -1, err_a = -1, out_b = -1, err_b = -1;
  env_["CUDA_DEVICE_MEMORY_SHARED_CACHE"] = dir_ + "/a.cache";
  const pid_t a = Spawn({"pid", "init", "hold:800", "procs"}, &out_a, &err_a);
  env_["CUDA_DEVICE_MEMORY_SHARED_CACHE"] = dir_ + "/b.cache";
  const pid_t b = Spawn({"pid", "init", "hold:800", "procs"}, &out_b, &err_b);
  const ProbeRun run_a = Finish(a, out_a, err_a);
  const ProbeRun run_b = Finish(b, out_b, err_b);
  for (const ProbeRun* run : {&run_a, &run_b}) {
    ASSERT_EQ(run->exit_code, 0) << run->errors;
    const std::string host_pid = std::to_string(std::stoi(run->Line("pid")[0]) + 100000);
    EXPECT_EQ(run->Line("procs"), (std::vector<std::string>{"0", "1", host_pid})) << run->errors;
  }
  // Without libvgpu the driver lists both.
  env_.erase("LD_PRELOAD");
  env_["CUDA_DEVICE_MEMORY_SHARED_CACHE"] = dir_ + "/a.cache";
  int out_c = -1, err_c = -1, out_d = -1, err_d = -1;
  const pid_t c = Spawn({"init", "hold:400", "procs"}, &out_c, &err_c);
  const pid_t d = Spawn({"init", "hold:1500"}, &out_d, &err_d);  // outlives c's listing
  const ProbeRun run_c = Finish(c, out_c, err_c);
  Finish(d, out_d, err_d);
  ASSERT_GE(run_c.Line("procs").size(), 2u);
  EXPECT_EQ(run_c.Line("procs")[1], "2");
}

TEST_F(LibvgpuTest, AFreeOfMemoryLibvgpuNeverSawIsPassedThrough) {
  const ProbeRun run = Run({"init", "free-foreign"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("free-foreign"), 0);
}

TEST_F(LibvgpuTest, ConcurrentProcessesNeverTakeMoreThanTheLimitTogether) {
  constexpr int kProcesses = 8;
  std::vector<pid_t> pids;
  std::vector<std::pair<int, int>> fds;
  for (int i = 0; i < kProcesses; ++i) {
    int out = -1, err = -1;
    pids.push_back(Spawn({"init", "fill", "hold:500"}, &out, &err));
    fds.emplace_back(out, err);
  }
  int total = 0;
  for (int i = 0; i < kProcesses; ++i) {
    const ProbeRun run = Finish(pids[i], fds[i].first, fds[i].second);
    ASSERT_EQ(run.exit_code, 0) << run.errors;
    const auto fill = run.Line("fill");
    ASSERT_EQ(fill.size(), 2u);
    EXPECT_EQ(std::stoi(fill[1]), kOutOfMemory);
    total += std::stoi(fill[0]);
  }
  // 1 GiB in 64 MiB chunks: exactly 16 between all of them, never 17.
  EXPECT_EQ(total, 16);
}

TEST_F(LibvgpuTest, AKilledProcessesMemoryIsReclaimed) {
  int out = -1, err = -1;
  const pid_t holder =
      Spawn({"init", "alloc:" + std::to_string(768 * kMiB), "hold:20000"}, &out, &err);
  // Wait until it holds the memory (its "alloc" line arrives), then SIGKILL it.
  std::string seen;
  char c;
  while ((seen.find("alloc ") == std::string::npos || seen.back() != '\n') &&
         read(out, &c, 1) == 1) {
    seen += c;
  }
  ASSERT_NE(seen.find("alloc 0"), std::string::npos) << seen;
  const ProbeRun blocked = Run({"init", "alloc:" + std::to_string(768 * kMiB)});
  EXPECT_EQ(blocked.Code("alloc"), kOutOfMemory) << "the holder is alive";
  kill(holder, SIGKILL);
  Finish(holder, out, err);
  const ProbeRun after = Run({"init", "alloc:" + std::to_string(768 * kMiB)});
  EXPECT_EQ(after.Code("alloc"), 0) << after.errors;
}

TEST_F(LibvgpuTest, AForkedChildAccountsItsOwnAllocations) {
  const ProbeRun fits = Run(
      {"init", "alloc:" + std::to_string(512 * kMiB), "fork-alloc:" + std::to_string(512 * kMiB)});
  ASSERT_EQ(fits.exit_code, 0) << fits.errors;
  EXPECT_EQ(fits.Code("child-alloc"), 0);
  const ProbeRun over = Run(
      {"init", "alloc:" + std::to_string(512 * kMiB), "fork-alloc:" + std::to_string(600 * kMiB)});
  EXPECT_EQ(over.Code("child-alloc"), kOutOfMemory) << "the parent's 512 MiB still count";
}

TEST_F(LibvgpuTest, ACorruptRegionIsRefusedAndLimitsStillHoldInTheProcess) {
  {
    std::ofstream garbage(dir_ + "/region.cache", std::ios::binary);
    for (int i = 0; i < 100000; ++i) garbage.put(static_cast<char>(i * 37));
  }
  const ProbeRun run =
      Run({"init", "alloc:" + std::to_string(512 * kMiB), "alloc:" + std::to_string(600 * kMiB)});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Code("alloc"), 0);
  EXPECT_EQ(run.Code("alloc", 1), kOutOfMemory);
  EXPECT_NE(run.errors.find("refused"), std::string::npos) << run.errors;
}

TEST_F(LibvgpuTest, GetProcAddressHandsOutTheHookOfTheVariantTheDriverChose) {
  const ProbeRun run = Run({"init", "proc:cuMemAlloc:12000:0", "proc:cuLaunchKernel:12000:2",
                            "proc:cuLaunchKernel:12000:0", "proc:cuDeviceGetName:12000:0",
                            "proc:cuNoSuchFunction:12000:0"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_EQ(run.Line("proc", 0), (std::vector<std::string>{"0", "libvgpu.so", "cuMemAlloc_v2"}));
  // The per-thread-default-stream flag gets the _ptsz variant's hook, not the legacy one.
  EXPECT_EQ(run.Line("proc", 1),
            (std::vector<std::string>{"0", "libvgpu.so", "cuLaunchKernel_ptsz"}));
  EXPECT_EQ(run.Line("proc", 2), (std::vector<std::string>{"0", "libvgpu.so", "cuLaunchKernel"}));
  EXPECT_EQ(run.Line("proc", 3),  // not hooked: the driver's own
            (std::vector<std::string>{"0", "libcuda.so.1", "cuDeviceGetName"}));
  EXPECT_NE(run.Code("proc", 4), 0);
}

#else
TEST(LibvgpuTest, NeedsTheFakeDriverAndCudaHeaders) { GTEST_SKIP() << "no cuda.h: not built"; }
#endif

}  // namespace
