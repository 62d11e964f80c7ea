// Helpers for the shared-region tests: per-test temp files, raw pread/pwrite at layout offsets
// (the way HAMi's Go monitor reads the file), and forked child processes.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "vgpu/region_layout.h"
#include "vgpu/shared_region.h"

namespace hami::vgpu::testing {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;

// Byte offsets of slot fields, computed from the pinned layout.
inline constexpr size_t SlotOffset(int slot) {
  return offsetof(layout::Region, procs) + static_cast<size_t>(slot) * sizeof(layout::ProcSlot);
}
inline constexpr size_t SlotTotalOffset(int slot, int dev) {
  return SlotOffset(slot) + offsetof(layout::ProcSlot, used) +
         static_cast<size_t>(dev) * sizeof(layout::DeviceMemory) +
         offsetof(layout::DeviceMemory, total);
}

template <typename T>
T ReadAt(const std::string& path, size_t offset) {
  T value{};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return value;
  EXPECT_EQ(::pread(fd, &value, sizeof(T), static_cast<off_t>(offset)),
            static_cast<ssize_t>(sizeof(T)));
  ::close(fd);
  return value;
}

template <typename T>
void WriteAt(const std::string& path, size_t offset, T value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, &value, sizeof(T), static_cast<off_t>(offset)),
            static_cast<ssize_t>(sizeof(T)));
  ::close(fd);
}

inline RegionInit LimitInit(uint64_t bytes_dev0, uint64_t bytes_dev1 = 0) {
  RegionInit init;
  init.memory_limit_bytes[0] = bytes_dev0;
  init.memory_limit_bytes[1] = bytes_dev1;
  return init;
}

// Runs body() in a forked child and _exit()s with its return value (no gtest in the child).
inline pid_t Spawn(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

// Exit code of a child, or 128 + signal number.
inline int WaitExit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A pid that certainly names no process: a child that has exited and been reaped.
inline pid_t DeadPid() {
  pid_t pid = Spawn([] { return 0; });
  WaitExit(pid);
  return pid;
}

class RegionFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hami_vgpu_region.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/cudevshr.cache";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<SharedRegion> OpenOk(const RegionInit& init) {
    auto r = SharedRegion::Open(path_, init);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  std::string dir_;
  std::string path_;
};

}  // namespace hami::vgpu::testing
