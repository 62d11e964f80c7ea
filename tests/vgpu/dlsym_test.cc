// libvgpu's dlsym override end to end, on both the optimised libvgpu.so and its -O0 build
// (libvgpu_O0.so): RTLD_NEXT must be resolved relative to the caller whatever the compiler did
// with the forwarding call, and a handle gets libvgpu's hook only where that handle's definition
// is the real driver's function.
#include <gtest/gtest.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/vgpu/probe_runner.h"

namespace {

#if defined(HAMI_LIBVGPU_PATH) && defined(HAMI_LIBVGPU_O0_PATH) &&           \
    defined(HAMI_DLSYM_INTERPOSER_PATH) && defined(HAMI_DLSYM_PROBE_PATH) && \
    defined(HAMI_FAKE_CUDA_PATH) && defined(HAMI_FAKE_NVML_PATH) && defined(HAMI_VGPU_PROBE_PATH)

namespace fs = std::filesystem;
using hami::vgpu::testing::FinishProbe;
using hami::vgpu::testing::ProbeRun;
using hami::vgpu::testing::SpawnProbe;

constexpr int kOutOfMemory = 2;  // CUDA_ERROR_OUT_OF_MEMORY
constexpr unsigned long long kMiB = 1ull << 20;

// Runs `program` with exactly `env` and `args`; like SpawnProbe, for a program other than
// vgpu_probe.
ProbeRun RunProgram(const std::string& program, const std::map<std::string, std::string>& env,
                    std::vector<std::string> args) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [k, v] : env) env_strings.push_back(std::string(k).append("=").append(v));
  std::vector<char*> envp, argv;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  args.insert(args.begin(), program);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned =
      posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  if (spawned != 0) {
    close(out[0]);
    close(err[0]);
    return {};
  }
  return FinishProbe(pid, out[0], err[0]);
}

struct Build {
  const char* name;
  const char* libvgpu;
};
void PrintTo(const Build& build, std::ostream* os) { *os << build.name; }

class DlsymTest : public ::testing::TestWithParam<Build> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hami_dlsym_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    env_ = hami::vgpu::testing::ContainerEnv(dir_, libvgpu_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // vgpu_probe: a context, a refused 2 GiB allocation, an accepted 512 MiB one and a refused
  // 600 MiB one through dlsym of the driver's handle.
  ProbeRun RunAllocations() {
    int out = -1, err = -1;
    const pid_t pid = SpawnProbe(
        env_,
        {"init", "alloc:" + std::to_string(2048 * kMiB), "alloc:" + std::to_string(512 * kMiB),
         "alloc-dlsym:" + std::to_string(600 * kMiB)},
        &out, &err);
    return FinishProbe(pid, out, err);
  }
  static void ExpectTheLimitHeld(const ProbeRun& run) {
    EXPECT_EQ(run.Code("init"), 0);
    EXPECT_EQ(run.Code("alloc"), kOutOfMemory) << "2 GiB under a 1 GiB limit";
    EXPECT_EQ(run.Code("alloc", 1), 0);
    EXPECT_EQ(run.Code("alloc-dlsym"), kOutOfMemory) << "512 + 600 MiB under a 1 GiB limit";
  }

  // dlsym_probe's answers: lookup -> {file, symbol}, the file reduced to its name.
  std::map<std::string, std::vector<std::string>> Lookups(const std::string& copy) {
    const ProbeRun run = RunProgram(HAMI_DLSYM_PROBE_PATH, env_, {copy});
    EXPECT_EQ(run.exit_code, 0) << run.errors;
    std::map<std::string, std::vector<std::string>> found;
    for (const std::string& line : run.lines) {
      std::istringstream in(line);
      std::string what, file, symbol;
      if (in >> what >> file >> symbol) found[what] = {fs::path(file).filename().string(), symbol};
    }
    return found;
  }

  const std::string libvgpu_ = GetParam().libvgpu;
  const std::string libvgpu_name_ = fs::path(libvgpu_).filename().string();
  std::string dir_;
  std::map<std::string, std::string> env_;
};

INSTANTIATE_TEST_SUITE_P(Builds, DlsymTest,
                         ::testing::Values(Build{"Optimised", HAMI_LIBVGPU_PATH},
                                           Build{"O0", HAMI_LIBVGPU_O0_PATH}),
                         [](const ::testing::TestParamInfo<Build>& info) {
                           return std::string(info.param.name);
                         });

TEST_P(DlsymTest, AnInterposerAfterLibvgpuReachesTheDriverThroughRtldNext) {
  env_["LD_PRELOAD"] = libvgpu_ + " " + HAMI_DLSYM_INTERPOSER_PATH;
  const ProbeRun run = RunAllocations();
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_NE(run.errors.find("dlsym_interposer cuCtxSetCurrent 1"), std::string::npos) << run.errors;
  ExpectTheLimitHeld(run);
}

TEST_P(DlsymTest, AnInterposerBeforeLibvgpuReachesItsHooksThroughRtldNext) {
  env_["LD_PRELOAD"] = std::string(HAMI_DLSYM_INTERPOSER_PATH) + " " + libvgpu_;
  const ProbeRun run = RunAllocations();
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  EXPECT_NE(run.errors.find("dlsym_interposer cuCtxSetCurrent 1"), std::string::npos) << run.errors;
  EXPECT_NE(run.errors.find("dlsym_interposer cuMemAlloc_v2 2"), std::string::npos)
      << "both direct allocations went through the interposer to libvgpu\n"
      << run.errors;
  ExpectTheLimitHeld(run);
}

TEST_P(DlsymTest, AHandleGetsTheHookOnlyWhereItsDefinitionIsTheDriversFunction) {
  const std::string copy = dir_ + "/libcuda-copy.so.1";
  fs::copy_file(HAMI_FAKE_CUDA_PATH, copy);
  auto found = Lookups(copy);
  using Found = std::vector<std::string>;
  // A second driver under another path keeps its own functions, hooked name or not.
  EXPECT_EQ(found["copy"], (Found{"libcuda-copy.so.1", "cuMemAlloc_v2"}));
  EXPECT_EQ(found["copy-unhooked"], (Found{"libcuda-copy.so.1", "cuCtxSetCurrent"}));
  EXPECT_EQ(found["copy-missing"], (Found{"-", "-"}));
  // The driver and NVML themselves, and the global scope, give the hooks.
  EXPECT_EQ(found["driver"], (Found{libvgpu_name_, "cuMemAlloc_v2"}));
  EXPECT_EQ(found["nvml"], (Found{libvgpu_name_, "nvmlDeviceGetMemoryInfo"}));
  EXPECT_EQ(found["default"], (Found{libvgpu_name_, "cuMemAlloc_v2"}));
  EXPECT_EQ(found["default-missing"], (Found{"-", "-"}));
  // RTLD_NEXT from the program: libvgpu is the next object, and names it does not define pass on.
  EXPECT_EQ(found["next"], (Found{libvgpu_name_, "cuMemAlloc_v2"}));
  EXPECT_EQ(found["next-puts"], (Found{"libc.so.6", "puts"}));
}

TEST_P(DlsymTest, NoHandleGetsAHookForAFunctionTheDriverLacks) {
  // A "driver" that defines no cu* function at all: the fake NVML under the driver's name.
  const std::string lacking = dir_ + "/lacking";
  fs::create_directory(lacking);
  fs::copy_file(HAMI_FAKE_NVML_PATH, lacking + "/libcuda.so.1");
  env_["LD_LIBRARY_PATH"] = lacking + ":" + fs::path(HAMI_FAKE_NVML_PATH).parent_path().string();
  const std::string copy = dir_ + "/libcuda-copy.so.1";
  fs::copy_file(HAMI_FAKE_CUDA_PATH, copy);
  auto found = Lookups(copy);
  using Found = std::vector<std::string>;
  EXPECT_EQ(found["driver"], (Found{"-", "-"}));
  EXPECT_EQ(found["default"], (Found{"-", "-"})) << "libvgpu's own export is not handed out";
  EXPECT_EQ(found["copy"], (Found{"libcuda-copy.so.1", "cuMemAlloc_v2"}));
}

#else
TEST(DlsymTest, SkippedWithoutLibvgpuAndTheFakeDriver) { GTEST_SKIP(); }
#endif

}  // namespace
