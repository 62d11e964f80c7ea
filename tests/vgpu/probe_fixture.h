// A gtest fixture for libvgpu's end-to-end tests: each test gets its own directory (fake GPU
// state, shared region) and the environment of a container process on the fakes
// (ContainerEnv), and runs the probe program in it.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/vgpu/probe_runner.h"

namespace hami::vgpu::testing {

#if defined(HAMI_LIBVGPU_PATH)
class ContainerProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hami_vgpu_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    env_ = ContainerEnv(dir_, HAMI_LIBVGPU_PATH);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Starts the probe; read it with Finish.
  pid_t Spawn(const std::vector<std::string>& commands, int* out_fd, int* err_fd) {
    return SpawnProbe(env_, commands, out_fd, err_fd);
  }
  static ProbeRun Finish(pid_t pid, int out_fd, int err_fd) {
    return FinishProbe(pid, out_fd, err_fd);
  }
  ProbeRun Run(const std::vector<std::string>& commands) {
    int out = -1, err = -1;
    const pid_t pid = Spawn(commands, &out, &err);
    return Finish(pid, out, err);
  }

  std::string dir_;
  std::map<std::string, std::string> env_;
};
#endif

}  // namespace hami::vgpu::testing
