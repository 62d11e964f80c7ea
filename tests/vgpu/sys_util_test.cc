#include "vgpu/sys_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/vgpu/region_test_util.h"

namespace hami::vgpu::sys {
namespace {

using hami::vgpu::testing::DeadPid;
using hami::vgpu::testing::Spawn;
using hami::vgpu::testing::WaitExit;

// Field 22 of /proc/<pid>/stat parsed independently (tokens after the last ')').
uint64_t StartTicksByHand(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string token;
  for (int field = 3; field <= 22; ++field) rest >> token;
  return std::stoull(token);
}

TEST(ReadProcStatTest, MatchesAnIndependentParse) {
  auto self = ReadProcStat(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->state, 'R');
  EXPECT_EQ(self->start_ticks, StartTicksByHand(::getpid()));
  EXPECT_EQ(SelfStartTag(), self->start_ticks + 1);
  EXPECT_FALSE(ReadProcStat(0).has_value());
  EXPECT_FALSE(ReadProcStat(-1).has_value());
  EXPECT_FALSE(ReadProcStat(DeadPid()).has_value());
}

TEST(ReadProcStatTest, HostileCommandNameWithBlanksAndParens) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t kid = Spawn([&]() -> int {
    ::prctl(PR_SET_NAME, ") x (y) 1 2 3", 0, 0, 0);
    char b = 1;
    if (::write(ready[1], &b, 1) != 1) return 1;
    for (;;) ::pause();
  });
  char b;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  auto st = ReadProcStat(kid);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->state == 'S' || st->state == 'R') << st->state;  // on its way to pause()
  EXPECT_EQ(st->start_ticks, StartTicksByHand(kid));
  ::kill(kid, SIGKILL);
  EXPECT_EQ(WaitExit(kid), 128 + SIGKILL);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(ProcessGoneTest, LivenessRules) {
  EXPECT_TRUE(ProcessGone(0, 0));
  EXPECT_TRUE(ProcessGone(-1, 0));  // never passed to kill(): it would mean "every process"
  EXPECT_TRUE(ProcessGone(DeadPid(), 0));
  EXPECT_FALSE(ProcessGone(::getpid(), 0));
  EXPECT_FALSE(ProcessGone(::getpid(), SelfStartTag()));
  EXPECT_TRUE(ProcessGone(::getpid(), SelfStartTag() + 1));  // the pid was recycled
  EXPECT_FALSE(ProcessGone(::getppid(), 0));
}

TEST(LockByteTest, ExcludesOtherOpenFilesAndTryReportsBusy) {
  char tmpl[] = "/tmp/hami_vgpu_lock.XXXXXX";
  int fd1 = ::mkstemp(tmpl);
  ASSERT_GE(fd1, 0);
  int fd2 = ::open(tmpl, O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd2, 0);
  LockMode m1 = LockMode::kOfd;
  LockMode m2 = LockMode::kOfd;
  ASSERT_TRUE(LockByte(fd1, 4096, false, &m1).ok());  // past EOF is fine
  Status busy = LockByte(fd2, 4096, false, &m2);
  EXPECT_EQ(busy.code(), Code::kTimeout);
  EXPECT_TRUE(LockByte(fd2, 4097, false, &m2).ok());  // another byte is independent
  UnlockByte(fd1, 4096, m1);
  EXPECT_TRUE(LockByte(fd2, 4096, false, &m2).ok());
  ::close(fd1);
  ::close(fd2);
  ::unlink(tmpl);
}

}  // namespace
}  // namespace hami::vgpu::sys
