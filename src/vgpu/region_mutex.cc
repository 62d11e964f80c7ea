#include "vgpu/region_mutex.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace hami::vgpu {
namespace {

using layout::MutexFile;

Result<MutexFile*> MapFile(const std::string& path, bool create) {
  const int flags = O_RDWR | O_CLOEXEC | O_NONBLOCK | (create ? O_CREAT : 0);
  const int fd = ::open(path.c_str(), flags, 0666);
  if (fd < 0) {
    return Status::Error(Code::kIoError, "open %s: %s", path.c_str(), std::strerror(errno));
  }
  struct stat sb;
  Status error;
  if (::fstat(fd, &sb) != 0) {
    error = Status::Error(Code::kIoError, "fstat %s: %s", path.c_str(), std::strerror(errno));
  } else if (!S_ISREG(sb.st_mode)) {
    error = Status::Error(Code::kCorrupt, "%s is not a regular file", path.c_str());
  } else if (create) {
    ::fchmod(fd, 0666);  // every user of the container locks it (best effort, as the region)
    if (::ftruncate(fd, 0) != 0 ||
        ::ftruncate(fd, static_cast<off_t>(layout::kMutexFileBytes)) != 0) {
      error = Status::Error(Code::kIoError, "ftruncate %s: %s", path.c_str(), std::strerror(errno));
    }
  } else if (sb.st_size != static_cast<off_t>(layout::kMutexFileBytes)) {
    error = Status::Error(Code::kCorrupt, "%s has %lld bytes, expected %zu", path.c_str(),
                          static_cast<long long>(sb.st_size), layout::kMutexFileBytes);
  }
  if (!error.ok()) {
    ::close(fd);
    return error;
  }
  void* map = ::mmap(nullptr, layout::kMutexFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping keeps the file
  if (map == MAP_FAILED) {
    return Status::Error(Code::kIoError, "mmap %s: %s", path.c_str(), std::strerror(errno));
  }
  return static_cast<MutexFile*>(map);
}

bool InitMutex(pthread_mutex_t* mutex) {
  pthread_mutexattr_t attr;
  if (pthread_mutexattr_init(&attr) != 0) return false;
  const bool ok = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
                  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
                  pthread_mutex_init(mutex, &attr) == 0;
  pthread_mutexattr_destroy(&attr);
  return ok;
}

}  // namespace

std::string RegionMutex::PathFor(const std::string& region_path) { return region_path + ".lock"; }

Result<std::unique_ptr<RegionMutex>> RegionMutex::Create(const std::string& path) {
  auto mapped = MapFile(path, true);
  if (!mapped.ok()) return mapped.status();
  MutexFile* file = mapped.value();
  file->version = layout::kMutexVersion;
  file->size = sizeof(MutexFile);
  if (!InitMutex(&file->mutex)) {
    ::munmap(file, layout::kMutexFileBytes);
    return Status::Error(Code::kIoError, "%s: robust process-shared mutexes unavailable",
                         path.c_str());
  }
  std::atomic_ref<uint64_t>(file->magic).store(layout::kMutexMagic, std::memory_order_release);
  return std::unique_ptr<RegionMutex>(new RegionMutex(file));
}

Result<std::unique_ptr<RegionMutex>> RegionMutex::Open(const std::string& path) {
  auto mapped = MapFile(path, false);
  if (!mapped.ok()) return mapped.status();
  MutexFile* file = mapped.value();
  const uint64_t magic = std::atomic_ref<uint64_t>(file->magic).load(std::memory_order_acquire);
  if (magic != layout::kMutexMagic || file->version != layout::kMutexVersion ||
      file->size != sizeof(MutexFile)) {
    ::munmap(file, layout::kMutexFileBytes);
    return Status::Error(Code::kCorrupt, "%s is not a region lock file of version %u", path.c_str(),
                         layout::kMutexVersion);
  }
  return std::unique_ptr<RegionMutex>(new RegionMutex(file));
}

RegionMutex::~RegionMutex() { ::munmap(file_, layout::kMutexFileBytes); }

Status RegionMutex::Lock(bool* owner_died) {
  *owner_died = false;
  const int rc = pthread_mutex_lock(&file_->mutex);
  if (rc == 0) return Status::Ok();
  if (rc == EOWNERDEAD) {
    *owner_died = true;
    pthread_mutex_consistent(&file_->mutex);
    return Status::Ok();
  }
  // ENOTRECOVERABLE (someone unlocked an owner-dead mutex without repairing it: never us) or
  // garbage written into the file from inside the container.
  return Status::Error(Code::kIoError, "region lock unusable: %s", std::strerror(rc));
}

void RegionMutex::Unlock() { pthread_mutex_unlock(&file_->mutex); }

}  // namespace hami::vgpu
