// SharedRegion's file lifecycle: creating or validating the region file, the private fallback,
// and getting a file of our own after fork. Accounting is in shared_region.cc.
#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "vgpu/region_access.h"
#include "vgpu/shared_region.h"

namespace hami::vgpu {
namespace {

using namespace internal;  // NOLINT(google-build-using-namespace)
using layout::ProcSlot;
using layout::Region;

// The creator's initialisation (spec §3.1), magic stored last.
void InitRegion(Region* r, const RegionInit& init) {
  std::memset(static_cast<void*>(r), 0, sizeof(Region));
  r->major_version = layout::kMajorVersion;
  r->minor_version = layout::kMinorVersion;
  for (int d = 0; d < kMaxDevices; ++d) {
    r->limit[d] = init.memory_limit_bytes[static_cast<size_t>(d)];
    r->sm_limit[d] = NormalizedSm(init.sm_limit_percent[static_cast<size_t>(d)]);
  }
  // Upstream processes sharing the file expect usable process-shared semaphores.
  if constexpr (sizeof(sem_t) <= layout::kSemBytes) {
    ::sem_init(reinterpret_cast<sem_t*>(r->sem), 1, 1);
    ::sem_init(reinterpret_cast<sem_t*>(r->sem_postinit), 1, 1);
  }
  r->sm_init_flag = 0;
  r->utilization_switch = 1;
  r->recent_kernel = 2;
  r->proc_num = 0;
  r->priority = init.priority;
  r->last_kernel_time = NowSeconds();
  St(r->initialized_flag, layout::kMagic);
}

std::vector<std::string> CompareWithInit(const Region& r, const RegionInit& init,
                                         const std::string& path) {
  std::vector<std::string> out;
  char buf[320];
  for (int d = 0; d < kMaxDevices; ++d) {
    uint64_t have = Ld(r.limit[d]);
    uint64_t want = init.memory_limit_bytes[static_cast<size_t>(d)];
    if (have != want) {
      std::snprintf(buf, sizeof(buf),
                    "limit inconsistency: device %d memory limit is %llu bytes in %s but the "
                    "environment asks %llu; the region keeps its creator's value (delete the "
                    "file to apply new limits)",
                    d, Ull(have), path.c_str(), Ull(want));
      out.emplace_back(buf);
    }
    have = NormalizedSm(Ld(r.sm_limit[d]));
    want = NormalizedSm(init.sm_limit_percent[static_cast<size_t>(d)]);
    if (have != want) {
      std::snprintf(buf, sizeof(buf),
                    "limit inconsistency: device %d SM limit is %llu%% in %s but the environment "
                    "asks %llu%%; the region keeps its creator's value",
                    d, Ull(have), path.c_str(), Ull(want));
      out.emplace_back(buf);
    }
  }
  if (Ld(r.priority) != init.priority) {
    std::snprintf(buf, sizeof(buf),
                  "priority inconsistency: %s has priority %d but the environment asks %d; the "
                  "region keeps its creator's value",
                  path.c_str(), Ld(r.priority), init.priority);
    out.emplace_back(buf);
  }
  return out;
}

}  // namespace

RegionInit RegionInitFromEnv(const EnvConfig& env) {
  RegionInit init;
  for (size_t d = 0; d < static_cast<size_t>(kMaxDevices); ++d) {
    init.memory_limit_bytes[d] = env.memory_limit_bytes[d];
    init.sm_limit_percent[d] = NormalizedSm(env.sm_limit_percent[d]);
  }
  init.priority = env.task_priority;
  return init;
}

Status ValidateRegion(const Region& r) {
  int32_t magic = Ld(r.initialized_flag);
  if (magic != layout::kMagic) {
    return Status::Error(Code::kCorrupt, "bad magic %d (want %d)", magic, layout::kMagic);
  }
  uint32_t major = Ld(r.major_version);
  uint32_t minor = Ld(r.minor_version);
  if (major != layout::kMajorVersion || minor != layout::kMinorVersion) {
    return Status::Error(Code::kCorrupt, "unsupported version %u.%u (want %u.%u)", major, minor,
                         layout::kMajorVersion, layout::kMinorVersion);
  }
  int32_t proc_num = Ld(r.proc_num);
  if (proc_num < 0 || proc_num > layout::kMaxProcs) {
    return Status::Error(Code::kCorrupt, "proc_num %d out of range 0..%d", proc_num,
                         layout::kMaxProcs);
  }
  uint64_t device_num = Ld(r.device_num);
  if (device_num > static_cast<uint64_t>(kMaxDevices)) {
    return Status::Error(Code::kCorrupt, "device_num %llu out of range 0..%d", Ull(device_num),
                         kMaxDevices);
  }
  for (int d = 0; d < kMaxDevices; ++d) {
    uint64_t limit = Ld(r.limit[d]);
    if (limit > layout::kMaxMemoryLimitBytes) {
      return Status::Error(Code::kCorrupt, "device %d memory limit %llu bytes is implausible", d,
                           Ull(limit));
    }
    uint64_t sm = Ld(r.sm_limit[d]);
    if (sm > 100) {
      return Status::Error(Code::kCorrupt, "device %d SM limit %llu%% is out of range 0..100", d,
                           Ull(sm));
    }
  }
  for (int i = 0; i < proc_num; ++i) {
    int32_t pid = Ld(r.procs[i].pid);
    if (pid < 0) return Status::Error(Code::kCorrupt, "slot %d has pid %d", i, pid);
  }
  return Status::Ok();
}

// ------------------------------------------------------------------------------------------------
// Open / Private / destruction

Result<std::unique_ptr<SharedRegion>> SharedRegion::Open(const std::string& path,
                                                         const RegionInit& init) {
  if (path.empty()) return Status::Error(Code::kInvalidArgument, "empty shared-region path");
  // O_NONBLOCK: opening a FIFO or device planted at the path must not hang us.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0666);
  if (fd < 0) {
    return Status::Error(Code::kIoError, "open %s: %s", path.c_str(), std::strerror(errno));
  }
  sys::LockMode mode = sys::LockMode::kOfd;
  Status st = sys::LockByte(fd, layout::kLockOffset, true, &mode);
  if (!st.ok()) {
    ::close(fd);
    return Status::Error(st.code(), "%s: %s", path.c_str(), st.message());
  }
  auto fail = [&](Status error, void* map) -> Status {
    if (map != nullptr) ::munmap(map, layout::kRegionBytes);
    sys::UnlockByte(fd, layout::kLockOffset, mode);
    ::close(fd);
    return error;
  };

  struct stat sb;
  if (::fstat(fd, &sb) != 0) {
    return fail(Status::Error(Code::kIoError, "fstat %s: %s", path.c_str(), std::strerror(errno)),
                nullptr);
  }
  if (!S_ISREG(sb.st_mode)) {
    return fail(Status::Error(Code::kCorrupt, "%s is not a regular file", path.c_str()), nullptr);
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  bool fresh = false;
  if (sb.st_size == 0) {
    if (::ftruncate(fd, static_cast<off_t>(layout::kFileBytes)) != 0) {
      return fail(
          Status::Error(Code::kIoError, "ftruncate %s: %s", path.c_str(), std::strerror(errno)),
          nullptr);
    }
    ::fchmod(fd,
             0666);  // best effort: every user in the container must open it (upstream: umask 0)
    fresh = true;
  } else if (sb.st_size != static_cast<off_t>(layout::kFileBytes)) {
    return fail(Status::Error(Code::kCorrupt,
                              "%s has %lld bytes, expected %zu (HAMi-core shared region v1.2)",
                              path.c_str(), static_cast<long long>(sb.st_size), layout::kFileBytes),
                nullptr);
  }
  void* map = ::mmap(nullptr, layout::kRegionBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    return fail(Status::Error(Code::kIoError, "mmap %s: %s", path.c_str(), std::strerror(errno)),
                nullptr);
  }
  auto* region = static_cast<Region*>(map);
  int32_t magic = Ld(region->initialized_flag);
  bool created = false;
  if (fresh || magic == 0) {  // new, or its creator died before storing the magic
    InitRegion(region, init);
    created = true;
  } else {
    st = ValidateRegion(*region);
    if (!st.ok()) {
      return fail(Status::Error(Code::kCorrupt, "%s: %s", path.c_str(), st.message()), map);
    }
  }
  std::unique_ptr<SharedRegion> out(new SharedRegion(region, fd, path, created));
  out->lock_mode_ = mode;
  out->host_pid_lock_mode_ = mode;
  if (!created) out->warnings_ = CompareWithInit(*region, init, path);
  // The region's lock protocol (region_mutex.h), decided by its creator while it still holds the
  // record lock: later openers follow whatever it made.
  const std::string mutex_path = RegionMutex::PathFor(path);
  auto mutex = created ? RegionMutex::Create(mutex_path) : RegionMutex::Open(mutex_path);
  if (mutex.ok()) {
    out->mutex_ = std::move(mutex).value();
  } else if (created || mutex.status().code() == Code::kCorrupt) {
    out->warnings_.push_back(std::string("region lock: ") + mutex.status().message() +
                             "; using the slower record lock");
  }
  out->StampKernelTime(NowSeconds());  // every opener, as upstream
  sys::UnlockByte(fd, layout::kLockOffset, mode);
  return out;
}

Result<std::unique_ptr<SharedRegion>> SharedRegion::Private(const RegionInit& init) {
  void* map = ::mmap(nullptr, layout::kRegionBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    return Status::Error(Code::kIoError, "anonymous mmap of %zu bytes: %s", layout::kRegionBytes,
                         std::strerror(errno));
  }
  auto* region = static_cast<Region*>(map);
  InitRegion(region, init);
  return std::unique_ptr<SharedRegion>(new SharedRegion(region, -1, std::string(), true));
}

SharedRegion::SharedRegion(Region* region, int fd, std::string path, bool created)
    : region_(region),
      fd_(fd),
      path_(std::move(path)),
      created_(created),
      opener_pid_(::getpid()),
      fork_epoch_seen_(sys::ForkEpoch()),
      start_tag_(sys::SelfStartTag()) {}

SharedRegion::~SharedRegion() {
  if (slot_.load() >= 0) (void)Unregister();
  ::munmap(region_, layout::kRegionBytes);
  if (fd_ >= 0) ::close(fd_);
}

void SharedRegion::ForgetParentLocked() {
  opener_pid_ = ::getpid();
  fork_epoch_seen_ = sys::ForkEpoch();
  start_tag_ = sys::SelfStartTag();
  slot_.store(-1, std::memory_order_release);
  fork_generation_.fetch_add(1, std::memory_order_acq_rel);
  host_pid_busy_.store(false, std::memory_order_release);
  if (fd_ < 0) {
    // Private region: the copy holds the parent's slots, which are not this process's.
    for (int i = 0; i < layout::kMaxProcs; ++i) {
      std::memset(static_cast<void*>(&region_->procs[i]), 0, sizeof(ProcSlot));
    }
    St(region_->proc_num, int32_t{0});
    return;
  }
  ReopenAfterForkLocked();
}

void SharedRegion::ReopenAfterForkLocked() {
  // The inherited descriptor shares the parent's open file description, and with it the parent's
  // OFD locks. Open the same inode anew (through /proc even if the path was replaced or
  // unlinked) and put it in place of the old descriptor.
  struct stat want;
  if (::fstat(fd_, &want) != 0) return;
  auto same_file = [&](int fd) {
    struct stat got;
    return ::fstat(fd, &got) == 0 && got.st_dev == want.st_dev && got.st_ino == want.st_ino;
  };
  char proc_path[64];
  std::snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd_);
  int nfd = ::open(proc_path, O_RDWR | O_CLOEXEC);
  if (nfd >= 0 && !same_file(nfd)) {
    ::close(nfd);
    nfd = -1;
  }
  if (nfd < 0) {
    nfd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (nfd >= 0 && !same_file(nfd)) {
      ::close(nfd);
      nfd = -1;
    }
  }
  if (nfd >= 0 && ::dup3(nfd, fd_, O_CLOEXEC) >= 0) {
    ::close(nfd);
    return;
  }
  if (nfd >= 0) ::close(nfd);
  // Could not get a file of our own: classic POSIX locks are per process, so they still
  // exclude the parent even through a shared open file description.
  lock_mode_ = sys::LockMode::kPosix;
  host_pid_lock_mode_ = sys::LockMode::kPosix;
}

}  // namespace hami::vgpu
