#include "vgpu/sys_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace hami::vgpu::sys {

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  size_t len = 0;
  while (len < sizeof(buf) - 1) {
    ssize_t n = ::read(fd, buf + len, sizeof(buf) - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  ::close(fd);
  buf[len] = '\0';
  // "pid (comm) state f4 f5 ... f22 ...": comm may hold spaces and ')', so parse after the last
  // ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ' || p[2] == '\0') return std::nullopt;
  ProcStat st;
  st.state = p[2];
  p += 3;  // just past the state: at the blank before field 4
  // Each step moves p to the start of field `field`; stop at field 22, the start time.
  for (int field = 4; field <= 22; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return std::nullopt;
    ++p;
  }
  while (*p == ' ') ++p;
  if (*p < '0' || *p > '9') return std::nullopt;
  uint64_t v = 0;
  for (; *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
  st.start_ticks = v;
  return st;
}

namespace {
std::atomic<uint64_t> fork_epoch{0};
pthread_once_t fork_epoch_once = PTHREAD_ONCE_INIT;
}  // namespace

uint64_t ForkEpoch() {
  pthread_once(&fork_epoch_once, [] {
    pthread_atfork(nullptr, nullptr, [] { fork_epoch.fetch_add(1, std::memory_order_relaxed); });
  });
  return fork_epoch.load(std::memory_order_relaxed);
}

uint64_t SelfStartTag() {
  auto st = ReadProcStat(::getpid());
  return st ? st->start_ticks + 1 : 0;
}

bool ProcessGone(int32_t pid, uint64_t start_tag) {
  if (pid <= 0) return true;  // never kill(0 or negative): those address process groups
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  auto st = ReadProcStat(pid);
  if (!st) return false;  // exists (kill said so) but unreadable: presume alive
  if (st->state == 'Z' || st->state == 'X' || st->state == 'x') return true;
  return start_tag != 0 && st->start_ticks + 1 != start_tag;
}

namespace {

int FcntlLock(int fd, off_t offset, short type, bool wait, LockMode mode) {
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = offset;
  fl.l_len = 1;
  int cmd;
  if (mode == LockMode::kOfd) {
    cmd = wait ? F_OFD_SETLKW : F_OFD_SETLK;
  } else {
    cmd = wait ? F_SETLKW : F_SETLK;
  }
  return ::fcntl(fd, cmd, &fl);
}

}  // namespace

Status LockByte(int fd, off_t offset, bool wait, LockMode* mode) {
  for (;;) {
    if (FcntlLock(fd, offset, F_WRLCK, wait, *mode) == 0) return Status::Ok();
    int err = errno;
    if (err == EINTR) continue;
    if (err == EINVAL && *mode == LockMode::kOfd) {
      *mode = LockMode::kPosix;  // kernel without OFD locks
      continue;
    }
    if (!wait && (err == EAGAIN || err == EACCES)) {
      return Status::Error(Code::kTimeout, "record lock at byte %lld is held",
                           static_cast<long long>(offset));
    }
    if (err == EDEADLK) {  // POSIX-lock deadlock detection can be spurious across threads
      struct timespec ts = {0, 1000000};
      ::nanosleep(&ts, nullptr);
      continue;
    }
    return Status::Error(Code::kIoError, "fcntl lock at byte %lld: %s",
                         static_cast<long long>(offset), std::strerror(err));
  }
}

void UnlockByte(int fd, off_t offset, LockMode mode) {
  while (FcntlLock(fd, offset, F_UNLCK, false, mode) != 0 && errno == EINTR) {
  }
}

}  // namespace hami::vgpu::sys
