// The shared region's fast cross-process lock: a process-shared robust pthread mutex in a small
// sidecar file next to the region ("<region path>.lock").
//
// Why a sidecar and not the region file: the region's layout and size are an external ABI
// (region_layout.h; HAMi's Go monitor and upstream libvgpu map it), and it has no spare 40
// bytes. Why a robust mutex and not the fcntl() record lock it replaces: taking and releasing a
// record lock costs two system calls, four per allocate+free pair (+4.9 us per cuMemAlloc +
// cuMemFree measured); an uncontended robust mutex costs two atomic operations and no system
// call, and keeps the record lock's guarantee that a holder killed by SIGKILL never wedges the
// others: the kernel marks the mutex owner-dead when its holder exits, and the next locker is
// told so (Lock() returns owner_died) and repairs what the dead holder may have left half-done.
//
// The lock protocol of a region is fixed when the region is created: its creator makes the
// sidecar (under the region's record lock, before anyone can charge), and every later opener
// uses the mutex only if a valid sidecar exists; a region created without one (by an older
// libvgpu, or when the sidecar could not be made) keeps using the record lock for its whole
// life, so two processes of one container never use different locks.
//
// Thread-safety: Lock/Unlock from any thread, like a mutex (not recursive). Not for processes in
// different pid namespaces (the owner is recorded as a thread id): only the container's own
// processes lock; the host monitor reads the region lock-free.
#pragma once

#include <pthread.h>

#include <cstdint>
#include <memory>
#include <string>

#include "vgpu/status.h"

namespace hami::vgpu {

namespace layout {
inline constexpr uint64_t kMutexMagic = 0x4b434f4c494d4148ULL;  // "HAMILOCK", little-endian
inline constexpr uint32_t kMutexVersion = 1;
inline constexpr size_t kMutexFileBytes = 4096;
struct MutexFile {
  uint64_t magic;  // kMutexMagic once the mutex is initialised (stored last)
  uint32_t version;
  uint32_t size;  // sizeof(MutexFile)
  pthread_mutex_t mutex;
};
static_assert(sizeof(MutexFile) <= kMutexFileBytes);
}  // namespace layout

class RegionMutex {
 public:
  // The sidecar's path for a region file.
  static std::string PathFor(const std::string& region_path);
  // Creates (or rebuilds) the sidecar at `path` with a fresh mutex. Call only while no process
  // can be using it (the region's creator, under the region's record lock). kIoError on failure.
  static Result<std::unique_ptr<RegionMutex>> Create(const std::string& path);
  // Opens an existing sidecar. kNotFound-like kIoError when absent, kCorrupt when it is not a
  // sidecar of this version (then the caller keeps the record lock).
  static Result<std::unique_ptr<RegionMutex>> Open(const std::string& path);

  ~RegionMutex();
  RegionMutex(const RegionMutex&) = delete;
  RegionMutex& operator=(const RegionMutex&) = delete;

  // Blocks until held. *owner_died is set when the previous holder died holding it: the caller
  // must repair the state the lock guards (the mutex is already marked consistent). kIoError
  // only for a mutex damaged beyond use (then the caller must not touch the guarded state).
  Status Lock(bool* owner_died);
  void Unlock();

 private:
  explicit RegionMutex(layout::MutexFile* file) : file_(file) {}
  layout::MutexFile* file_;  // kMutexFileBytes mapping; owned
};

}  // namespace hami::vgpu
