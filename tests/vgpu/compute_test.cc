// libvgpu's compute-share limiter end to end: probe processes (tests/vgpu/probe, "saturate")
// run launch + synchronise loops of 1 ms kernels under LD_PRELOAD=libvgpu.so on one fake GPU
// whose timeline all processes share; the test reads each process's share of the device from
// the fake's own record of who ran when (fakegpu_busy_us), over the steady-state part of the run.
// Each container is a separate region file, as HAMi gives each container its own.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/vgpu/fake_gpu_util.h"
#include "tests/vgpu/probe_runner.h"
#include "vgpu/shared_region.h"

namespace hami::vgpu {
namespace {

#if defined(HAMI_LIBVGPU_PATH) && defined(HAMI_FAKE_CUDA_PATH) && defined(HAMI_VGPU_PROBE_PATH)

using testing::FakeGpuEnv;
using testing::FinishProbe;
using testing::ProbeRun;
using testing::SpawnProbe;

constexpr int kPidOffset = 100000;  // NVML reports pid + this: libvgpu must discover it

class ComputeTest : public ::testing::Test {
 protected:
  ComputeTest()
      : gpu_({{"FAKEGPU_CTX_OVERHEAD", "0"},
              {"FAKEGPU_PID_OFFSET", "100000"},
              {"FAKEGPU_DEVICES", "2"}}) {}

  void SetUp() override { ASSERT_TRUE(gpu_.ok()) << "fake driver or NVML unusable"; }

  // The environment of one container's process: its own region file, its SM limit and policy.
  std::map<std::string, std::string> Container(const std::string& name, int sm_limit,
                                               const std::string& policy) {
    return {
        {"LD_PRELOAD", HAMI_LIBVGPU_PATH},
        {"LD_LIBRARY_PATH", std::filesystem::path(HAMI_FAKE_CUDA_PATH).parent_path().string() +
                                ":" +
                                std::filesystem::path(HAMI_FAKE_NVML_PATH).parent_path().string()},
        {"FAKEGPU_STATE", gpu_.state_path()},
        {"CUDA_DEVICE_MEMORY_SHARED_CACHE", RegionPath(name)},
        {"CUDA_DEVICE_SM_LIMIT", std::to_string(sm_limit)},
        {"GPU_CORE_UTILIZATION_POLICY", policy},
    };
  }
  std::string RegionPath(const std::string& name) const {
    return gpu_.dir() + "/" + name + ".cache";
  }

  struct Running {
    pid_t pid;
    int out, err;
  };
  Running Start(const std::map<std::string, std::string>& env, int ms) {
    return Start(env, {"init", "saturate:" + std::to_string(ms) + ":1000"});
  }
  Running Start(const std::map<std::string, std::string>& env,
                const std::vector<std::string>& commands) {
    Running r{};
    r.pid = SpawnProbe(env, commands, &r.out, &r.err);
    return r;
  }

  // Percent of (from_us, to_us] device `dev` ran `pid`'s kernels.
  double Share(pid_t pid, int64_t from_us, int64_t to_us, int dev = 0) {
    return 100.0 * static_cast<double>(gpu_.fake().busy_us(dev, pid, from_us, to_us)) /
           static_cast<double>(to_us - from_us);
  }
  int64_t Now() { return gpu_.fake().now_us(); }

  FakeGpuEnv gpu_;
};

// The container's host pid as libvgpu recorded it in the region, for container pid `pid`.
int32_t RecordedHostPid(const std::string& path, pid_t pid) {
  auto region = SharedRegion::Open(path, RegionInit{});
  if (!region.ok()) return -1;
  const layout::Region& raw = region.value()->raw();
  for (int i = 0; i < layout::kMaxProcs; ++i) {
    if (raw.procs[i].pid == pid) return raw.procs[i].hostpid;
  }
  return 0;
}

TEST_F(ComputeTest, TwoContainersSplitTheDeviceThirtySeventy) {
  const int64_t t0 = Now();
  Running a = Start(Container("a", 30, "default"), 4200);
  Running b = Start(Container("b", 70, "default"), 4200);
  const ProbeRun ra = FinishProbe(a.pid, a.out, a.err);
  const ProbeRun rb = FinishProbe(b.pid, b.out, b.err);
  ASSERT_EQ(ra.exit_code, 0) << ra.errors;
  ASSERT_EQ(rb.exit_code, 0) << rb.errors;
  ASSERT_EQ(ra.Code("saturate"), 0) << ra.errors;
  const int64_t from = t0 + 1'200'000, to = t0 + 4'200'000;
  const double share_a = Share(a.pid, from, to), share_b = Share(b.pid, from, to);
  std::printf("shares: a=%.2f%% b=%.2f%%\n", share_a, share_b);
  EXPECT_NEAR(share_a, 30, 2) << ra.errors;
  EXPECT_NEAR(share_b, 70, 2) << rb.errors;
}

TEST_F(ComputeTest, AContainerAloneWithTheForcePolicyGetsItsShare) {
  const int64_t t0 = Now();
  Running a = Start(Container("a", 30, "force"), 4200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(RecordedHostPid(RegionPath("a"), a.pid), a.pid + kPidOffset)
      << "the host pid NVML reports was discovered";
  const ProbeRun ra = FinishProbe(a.pid, a.out, a.err);
  ASSERT_EQ(ra.exit_code, 0) << ra.errors;
  ASSERT_EQ(ra.Code("saturate"), 0) << ra.errors;
  const double share = Share(a.pid, t0 + 1'200'000, t0 + 4'200'000);
  std::printf("share: %.2f%%\n", share);
  EXPECT_NEAR(share, 30, 2) << ra.errors;
}

// Each process has its own bucket; their controllers all act on the container's summed share.
TEST_F(ComputeTest, TwoProcessesOfOneContainerShareItsLimit) {
  const int64_t t0 = Now();
  Running a = Start(Container("a", 30, "force"), 3200);
  Running b = Start(Container("a", 30, "force"), 3200);
  const ProbeRun ra = FinishProbe(a.pid, a.out, a.err);
  const ProbeRun rb = FinishProbe(b.pid, b.out, b.err);
  ASSERT_EQ(ra.Code("saturate"), 0) << ra.errors;
  ASSERT_EQ(rb.Code("saturate"), 0) << rb.errors;
  const int64_t from = t0 + 1'200'000, to = t0 + 3'200'000;
  const double share = Share(a.pid, from, to) + Share(b.pid, from, to);
  std::printf("container share: %.2f%%\n", share);
  EXPECT_NEAR(share, 30, 2);
}

TEST_F(ComputeTest, TheDisablePolicyNeverThrottles) {
  const int64_t t0 = Now();
  Running a = Start(Container("a", 30, "disable"), 1200);
  const ProbeRun ra = FinishProbe(a.pid, a.out, a.err);
  ASSERT_EQ(ra.exit_code, 0) << ra.errors;
  EXPECT_GT(Share(a.pid, t0 + 400'000, t0 + 1'200'000), 90);
}

TEST_F(ComputeTest, TheDefaultPolicyObeysTheMonitorsSwitch) {
  RegionInit init;
  init.sm_limit_percent.fill(100);
  init.sm_limit_percent[0] = 30;
  auto region = SharedRegion::Open(RegionPath("a"), init);
  ASSERT_TRUE(region.ok()) << region.status().message();
  region.value()->SetUtilizationSwitch(0);  // the monitor: alone on the GPU
  const int64_t t0 = Now();
  Running a = Start(Container("a", 30, "default"), 1200);
  const ProbeRun ra = FinishProbe(a.pid, a.out, a.err);
  ASSERT_EQ(ra.exit_code, 0) << ra.errors;
  EXPECT_GT(Share(a.pid, t0 + 400'000, t0 + 1'200'000), 90);
}

TEST_F(ComputeTest, TheMonitorsPriorityBlockHoldsLaunchesUntilLifted) {
  RegionInit init;
  init.sm_limit_percent.fill(100);
  init.sm_limit_percent[0] = 30;
  auto region = SharedRegion::Open(RegionPath("a"), init);
  ASSERT_TRUE(region.ok()) << region.status().message();
  region.value()->SetRecentKernel(-1);  // a higher-priority container is busy
  const int64_t t0 = Now();
  Running a = Start(Container("a", 30, "default"), 1500);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(gpu_.fake().busy_us(0, a.pid, t0, Now()), 0) << "no kernel ran while blocked";
  region.value()->SetRecentKernel(0);
  const int64_t lifted = Now();
  const ProbeRun ra = FinishProbe(a.pid, a.out, a.err);
  ASSERT_EQ(ra.exit_code, 0) << ra.errors;
  EXPECT_GT(gpu_.fake().busy_us(0, a.pid, lifted, Now()), 0) << "launches resumed";
  EXPECT_EQ(region.value()->recent_kernel(), 2) << "activity stamped for the monitor";
  EXPECT_GT(region.value()->last_kernel_time(), 0u);
}

TEST_F(ComputeTest, WithoutNvmlToMeasureWithTheLimitIsNotAppliedAndSaysSo) {
  auto env = Container("a", 30, "force");
  env["LD_LIBRARY_PATH"] = std::filesystem::path(HAMI_FAKE_CUDA_PATH).parent_path().string();
  const int64_t t0 = Now();
  Running a = Start(env, 1200);
  const ProbeRun ra = FinishProbe(a.pid, a.out, a.err);
  ASSERT_EQ(ra.Code("saturate"), 0) << ra.errors;
  EXPECT_GT(Share(a.pid, t0 + 400'000, t0 + 1'200'000), 90);
  EXPECT_NE(ra.errors.find("compute limit not enforced"), std::string::npos) << ra.errors;
}

// HAMi-core lets both escape its limiter. One container per device, concurrently.
TEST_F(ComputeTest, CooperativeAndGraphLaunchesAreLimitedToo) {
  const int64_t t0 = Now();
  Running a = Start(Container("a", 30, "force"), {"init", "saturate:2200:1000:coop"});
  Running b = Start(Container("b", 30, "force"), {"init", "device:1", "saturate:2200:1000:graph"});
  const ProbeRun ra = FinishProbe(a.pid, a.out, a.err);
  const ProbeRun rb = FinishProbe(b.pid, b.out, b.err);
  ASSERT_EQ(ra.Code("saturate"), 0) << ra.errors;
  ASSERT_EQ(rb.Code("saturate"), 0) << rb.errors;
  const double coop = Share(a.pid, t0 + 1'000'000, t0 + 2'200'000, 0);
  const double graph = Share(b.pid, t0 + 1'000'000, t0 + 2'200'000, 1);
  std::printf("shares: cooperative=%.2f%% graph=%.2f%%\n", coop, graph);
  EXPECT_NEAR(coop, 30, 3);
  EXPECT_NEAR(graph, 30, 3);
}

#else
TEST(ComputeTest, NeedsTheFakeDriverAndCudaHeaders) { GTEST_SKIP() << "no cuda.h: not built"; }
#endif

}  // namespace
}  // namespace hami::vgpu
