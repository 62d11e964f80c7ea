// Temp directories and file helpers for the monitor tests.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace hami::monitor::testing {

// A fresh directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "/hami_monitor_XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  ASSERT_TRUE(out.good()) << path;
}

inline void SetMtime(const std::string& path, int64_t unix_s) {
  struct timespec times[2];
  times[0].tv_sec = static_cast<time_t>(unix_s);
  times[0].tv_nsec = 0;
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

template <typename T>
void PWriteAt(const std::string& path, size_t offset, T value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, &value, sizeof(T), static_cast<off_t>(offset)),
            static_cast<ssize_t>(sizeof(T)));
  ::close(fd);
}

template <typename T>
T PReadAt(const std::string& path, size_t offset) {
  T value{};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return value;
  EXPECT_EQ(::pread(fd, &value, sizeof(T), static_cast<off_t>(offset)),
            static_cast<ssize_t>(sizeof(T)));
  ::close(fd);
  return value;
}

}  // namespace hami::monitor::testing
