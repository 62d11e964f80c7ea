// The simulated GPUs that the fake libcuda.so.1 (tests/fakes/cuda/fake_cuda_*.cc) and the fake
// libnvidia-ml.so.1 (tests/fakes/nvml/fake_nvml.cc) share, across every process of a test
// (spec hami-core.md §7). Header-only, so both libraries compile it in without a link-time
// dependency; everything here is plain data plus inline functions with internal linkage in
// each (hidden-visibility) library.
//
// THE STATE FILE
//   Path: $FAKEGPU_STATE, else /tmp/fakegpu.<uid>.state. Created on first use (cuInit, nvmlInit
//   or fakegpu_reset), sized to sizeof(State) and mapped MAP_SHARED by every process that uses
//   it; CLOCK_MONOTONIC is system-wide, so the timestamps in it mean the same in every process.
//   Creation and re-initialisation happen under flock(LOCK_EX) on the file, and `magic` is
//   written last, so a second process never sees a half-built header. A file whose magic,
//   layout version or size does not match is rebuilt (it is scratch state, not data).
//   Everything after the header is guarded by `mutex`, a process-shared robust pthread mutex:
//   when a holder dies, the next locker gets EOWNERDEAD, marks it consistent and reaps dead
//   processes (every update below is a few stores, so a torn update costs at most one
//   process's numbers, which the reap then drops).
//
// CONFIGURATION (read from the environment of the process that creates or resets the file;
// every later process uses the file's copy, so all processes agree)
//   FAKEGPU_DEVICES        number of GPUs (default 1, at most kMaxDevices; 0: cuInit answers
//                          CUDA_ERROR_NO_DEVICE)
//   FAKEGPU_MEM            memory per GPU, bytes with an optional k/m/g/t suffix (powers of
//                          1024; "16g", "16GiB" and "17179869184" are the same; default 16g)
//   FAKEGPU_SMS            multiprocessors per GPU (default 108)
//   FAKEGPU_THREADS_PER_SM resident threads per multiprocessor (default 2048)
//   FAKEGPU_NAME           device name (default "NVIDIA Fake GPU")
//   FAKEGPU_UUID_PREFIX    the first 12 bytes of every GPU's UUID, as hex digits (dashes and a
//                          leading "GPU-" ignored, missing digits are 0; default
//                          "fa4e0000-0000-0000-0000"); the last 4 bytes are the device index,
//                          big-endian, so GPU 1 is GPU-fa4e0000-0000-0000-0000-000000000001
//   FAKEGPU_CTX_OVERHEAD   memory a process is charged on a GPU while it holds a context there
//                          (default 300m; charged once per process and device)
//   FAKEGPU_PID_OFFSET     NVML reports pid + offset (default 0): the container/host PID split
//   FAKEGPU_KERNEL_US      every kernel runs this long (default 0: use waves)
//   FAKEGPU_WAVE_US        else a kernel runs ceil(blocks / (SMs * blocksPerSM)) waves of this
//                          long each, blocksPerSM = clamp(threadsPerSM / blockThreads, 1, 32)
//                          (default 1000)
//   Per process, not stored here: FAKEGPU_FAIL (fault injection; fake_cuda_internal.h).
//
// WHAT IS SHARED, PER DEVICE
//   * used_bytes: the sum over processes of context overhead plus device memory (allocations,
//     memory-pool and graph-pool reservations, VMM handles, arrays and mipmapped arrays, and
//     what raised heap / stack context limits reserve), each rounded up to kGranularity;
//     whatever does not fit fails with OOM.
//   * procs[]: the process table NVML reports (pid, contexts held, bytes charged). A pid
//     appears when it first holds a context on the device (or is charged memory) and leaves
//     when it holds neither; entries of dead processes are reaped (their memory is freed, as
//     the real driver frees a process's memory when it exits).
//   * busy_until_us plus a ring of busy intervals (pid, start, end): launches from all
//     processes queue on one timeline, so utilisation over any window is computed from it.
// Allocation addresses, contexts, streams, pools and other handles are per process (as in
// CUDA) and live in the process; only what another process or NVML can observe is here.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>

namespace fakegpu {

inline constexpr uint64_t kMagic = 0x3155504745'4b4146ULL;  // "FAKEGPU1", little-endian
inline constexpr uint32_t kLayoutVersion = 1;
inline constexpr int kMaxDevices = 16;
inline constexpr int kMaxProcs = 64;                  // process-table entries per device
inline constexpr int kMaxIntervals = 8192;            // busy intervals kept per device (a ring)
inline constexpr uint64_t kGranularity = 2ULL << 20;  // allocation granule, bytes
inline constexpr int kNameSize = 96;                  // NVML_DEVICE_NAME_V2_BUFFER_SIZE
inline constexpr int kUuidPrefixBytes = 12;

struct Config {
  int32_t devices;
  int32_t sms;
  int32_t threads_per_sm;
  int32_t pid_offset;
  uint64_t memory_bytes;
  uint64_t ctx_overhead_bytes;
  int64_t kernel_us;  // > 0: fixed kernel duration
  int64_t wave_us;
  uint8_t uuid_prefix[kUuidPrefixBytes];
  uint32_t reserved0;
  char name[kNameSize];
};
static_assert(sizeof(Config) == 160, "Config layout is part of the state file");

struct ProcEntry {
  int32_t pid;       // 0: free slot
  int32_t contexts;  // contexts this pid holds on the device
  uint64_t used_bytes;
  int64_t first_seen_us;  // CLOCK_MONOTONIC
  int64_t reserved0;
};
static_assert(sizeof(ProcEntry) == 32, "ProcEntry layout is part of the state file");

struct Interval {
  int32_t pid;
  int32_t reserved0;
  int64_t start_us;  // CLOCK_MONOTONIC
  int64_t end_us;
};
static_assert(sizeof(Interval) == 24, "Interval layout is part of the state file");

struct DeviceState {
  uint64_t used_bytes;       // sum of procs[].used_bytes
  uint64_t peak_used_bytes;  // high-water mark of used_bytes since creation or reset
  int64_t busy_until_us;     // end of the last queued kernel
  uint64_t launches;         // kernels (and graph launches) queued, all processes
  uint32_t interval_next;    // ring index the next interval goes to
  uint32_t interval_count;   // valid intervals, at most kMaxIntervals
  ProcEntry procs[kMaxProcs];
  Interval intervals[kMaxIntervals];
};
static_assert(sizeof(DeviceState) == 40 + kMaxProcs * 32 + kMaxIntervals * 24,
              "DeviceState layout is part of the state file");

struct State {
  uint64_t magic;  // kMagic once initialised (written last)
  uint32_t layout_version;
  uint32_t size;          // sizeof(State)
  uint64_t generation;    // bumped by every reset
  pthread_mutex_t mutex;  // process-shared, robust; guards everything below
  Config config;
  DeviceState devices[kMaxDevices];
};
static_assert(sizeof(pthread_mutex_t) == 40, "x86-64 / aarch64 glibc layout expected");
static_assert(sizeof(State) < (64u << 20), "the state file stays small");

// ---------------------------------------------------------------------------------------
// Time

inline int64_t MonotonicUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

inline int64_t RealtimeUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Sleeps until CLOCK_MONOTONIC reaches `deadline_us` (returns at once when it has).
inline void SleepUntilUs(int64_t deadline_us) {
  timespec ts{};
  ts.tv_sec = deadline_us / 1000000;
  ts.tv_nsec = (deadline_us % 1000000) * 1000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// ---------------------------------------------------------------------------------------
// Configuration

// "16g", "300M", "2GiB", "1024k", "123" -> bytes; false on anything else.
inline bool ParseBytes(const char* text, uint64_t* out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || end == text || text[0] == '-') return false;
  uint64_t shift = 0;
  switch (*end) {
    case 't':
    case 'T':
      shift = 40;
      ++end;
      break;
    case 'g':
    case 'G':
      shift = 30;
      ++end;
      break;
    case 'm':
    case 'M':
      shift = 20;
      ++end;
      break;
    case 'k':
    case 'K':
      shift = 10;
      ++end;
      break;
    default:
      break;
  }
  if (shift != 0 && (*end == 'i' || *end == 'I')) ++end;
  if (*end == 'b' || *end == 'B') ++end;
  if (*end != '\0') return false;
  if (shift != 0 && value > (UINT64_MAX >> shift)) return false;
  *out = static_cast<uint64_t>(value) << shift;
  return true;
}

inline bool ParseInt(const char* text, int64_t lo, int64_t hi, int64_t* out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const long long value = strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < lo || value > hi) return false;
  *out = value;
  return true;
}

// Hex digits of `text` (dashes and a leading "GPU-" skipped) into 12 bytes; false on other
// characters or more than 24 digits.
inline bool ParseUuidPrefix(const char* text, uint8_t out[kUuidPrefixBytes]) {
  if (text == nullptr) return false;
  if (strncmp(text, "GPU-", 4) == 0) text += 4;
  uint8_t bytes[kUuidPrefixBytes] = {};
  int digits = 0;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p == '-') continue;
    int v = -1;
    if (*p >= '0' && *p <= '9') v = *p - '0';
    if (*p >= 'a' && *p <= 'f') v = *p - 'a' + 10;
    if (*p >= 'A' && *p <= 'F') v = *p - 'A' + 10;
    if (v < 0 || digits >= 2 * kUuidPrefixBytes) return false;
    bytes[digits / 2] = static_cast<uint8_t>(bytes[digits / 2] | (digits % 2 == 0 ? v << 4 : v));
    ++digits;
  }
  memcpy(out, bytes, sizeof(bytes));
  return true;
}

inline void WarnBadEnv(const char* name, const char* value) {
  fprintf(stderr, "fakegpu: ignoring %s=%s (bad value); using the default\n", name, value);
}

// The configuration the environment asks for; bad values are reported on stderr and replaced
// by the defaults.
inline Config ConfigFromEnv() {
  Config c{};
  c.devices = 1;
  c.sms = 108;
  c.threads_per_sm = 2048;
  c.pid_offset = 0;
  c.memory_bytes = 16ULL << 30;
  c.ctx_overhead_bytes = 300ULL << 20;
  c.kernel_us = 0;
  c.wave_us = 1000;
  ParseUuidPrefix("fa4e0000-0000-0000-0000", c.uuid_prefix);
  snprintf(c.name, sizeof(c.name), "%s", "NVIDIA Fake GPU");
  int64_t v = 0;
  uint64_t bytes = 0;
  const char* s = nullptr;
  if ((s = getenv("FAKEGPU_DEVICES")) != nullptr) {
    if (ParseInt(s, 0, kMaxDevices, &v))
      c.devices = static_cast<int32_t>(v);
    else
      WarnBadEnv("FAKEGPU_DEVICES", s);
  }
  if ((s = getenv("FAKEGPU_MEM")) != nullptr) {
    if (ParseBytes(s, &bytes) && bytes > 0)
      c.memory_bytes = bytes;
    else
      WarnBadEnv("FAKEGPU_MEM", s);
  }
  if ((s = getenv("FAKEGPU_SMS")) != nullptr) {
    if (ParseInt(s, 1, 100000, &v))
      c.sms = static_cast<int32_t>(v);
    else
      WarnBadEnv("FAKEGPU_SMS", s);
  }
  if ((s = getenv("FAKEGPU_THREADS_PER_SM")) != nullptr) {
    if (ParseInt(s, 32, 1 << 20, &v))
      c.threads_per_sm = static_cast<int32_t>(v);
    else
      WarnBadEnv("FAKEGPU_THREADS_PER_SM", s);
  }
  if ((s = getenv("FAKEGPU_PID_OFFSET")) != nullptr) {
    if (ParseInt(s, 0, 1 << 30, &v))
      c.pid_offset = static_cast<int32_t>(v);
    else
      WarnBadEnv("FAKEGPU_PID_OFFSET", s);
  }
  if ((s = getenv("FAKEGPU_CTX_OVERHEAD")) != nullptr) {
    if (ParseBytes(s, &bytes))
      c.ctx_overhead_bytes = bytes;
    else
      WarnBadEnv("FAKEGPU_CTX_OVERHEAD", s);
  }
  if ((s = getenv("FAKEGPU_KERNEL_US")) != nullptr) {
    if (ParseInt(s, 0, INT64_C(1) << 40, &v))
      c.kernel_us = v;
    else
      WarnBadEnv("FAKEGPU_KERNEL_US", s);
  }
  if ((s = getenv("FAKEGPU_WAVE_US")) != nullptr) {
    if (ParseInt(s, 0, INT64_C(1) << 40, &v))
      c.wave_us = v;
    else
      WarnBadEnv("FAKEGPU_WAVE_US", s);
  }
  if ((s = getenv("FAKEGPU_NAME")) != nullptr && *s != '\0') {
    snprintf(c.name, sizeof(c.name), "%s", s);
  }
  if ((s = getenv("FAKEGPU_UUID_PREFIX")) != nullptr && !ParseUuidPrefix(s, c.uuid_prefix)) {
    WarnBadEnv("FAKEGPU_UUID_PREFIX", s);
  }
  return c;
}

// ---------------------------------------------------------------------------------------
// Identity derived from the configuration

inline void UuidBytes(const Config& c, int dev, uint8_t out[16]) {
  memcpy(out, c.uuid_prefix, kUuidPrefixBytes);
  const uint32_t d = static_cast<uint32_t>(dev);
  out[12] = static_cast<uint8_t>(d >> 24);
  out[13] = static_cast<uint8_t>(d >> 16);
  out[14] = static_cast<uint8_t>(d >> 8);
  out[15] = static_cast<uint8_t>(d);
}

// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as NVML prints a UUID.
inline std::string UuidString(const Config& c, int dev) {
  uint8_t b[16];
  UuidBytes(c, dev, b);
  char out[48];
  snprintf(out, sizeof(out),
           "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
  return out;
}

inline int PciBus(int dev) { return 0x10 + dev; }

// ---------------------------------------------------------------------------------------
// Opening and locking

inline std::string StatePathFromEnv() {
  const char* p = getenv("FAKEGPU_STATE");
  if (p != nullptr && *p != '\0') return p;
  return "/tmp/fakegpu." + std::to_string(getuid()) + ".state";
}

inline bool InitMutex(pthread_mutex_t* mu) {
  pthread_mutexattr_t attr;
  if (pthread_mutexattr_init(&attr) != 0) return false;
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  const bool ok = pthread_mutex_init(mu, &attr) == 0;
  pthread_mutexattr_destroy(&attr);
  return ok;
}

// Clears everything the mutex guards and installs `config`. Requires the file lock, and the
// mutex too when other processes may be using the mapping.
inline void ResetContents(State* s, const Config& config) {
  s->config = config;
  memset(s->devices, 0, sizeof(s->devices));
  ++s->generation;
}

// An open state file, exclusively flock()ed for the scope. The lock is dropped explicitly:
// a MAP_SHARED mapping keeps the open file description (and so a flock) alive after close().
class FileLock {
 public:
  explicit FileLock(const std::string& path)
      : fd_(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0 && flock(fd_, LOCK_EX) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~FileLock() {
    if (fd_ < 0) return;
    flock(fd_, LOCK_UN);
    close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Maps the state file at `path`, creating or rebuilding it from the environment when it is
// missing or not ours, and re-initialising it from the environment when `reset` is set.
// Returns nullptr with `*error` set (errno text) on failure. The mapping is never unmapped by
// this header; callers keep it for the life of the process (or unmap sizeof(State) bytes).
inline State* OpenState(const std::string& path, bool reset, std::string* error) {
  const FileLock file(path);
  const int fd = file.fd();
  if (fd < 0) {
    *error = "open/flock " + path + ": " + strerror(errno);
    return nullptr;
  }
  struct stat st {};
  bool rebuild = fstat(fd, &st) != 0 || st.st_size != static_cast<off_t>(sizeof(State));
  if (rebuild && (ftruncate(fd, 0) != 0 || ftruncate(fd, sizeof(State)) != 0)) {
    *error = "ftruncate " + path + ": " + strerror(errno);
    return nullptr;
  }
  void* map = mmap(nullptr, sizeof(State), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    *error = "mmap " + path + ": " + strerror(errno);
    return nullptr;
  }
  auto* s = static_cast<State*>(map);
  rebuild = rebuild || __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) != kMagic ||
            s->layout_version != kLayoutVersion || s->size != sizeof(State);
  if (rebuild) {
    s->magic = 0;
    s->layout_version = kLayoutVersion;
    s->size = sizeof(State);
    s->generation = 0;
    InitMutex(&s->mutex);
    ResetContents(s, ConfigFromEnv());
    __atomic_store_n(&s->magic, kMagic, __ATOMIC_RELEASE);
  } else if (reset) {
    int rc = pthread_mutex_lock(&s->mutex);
    if (rc == EOWNERDEAD) pthread_mutex_consistent(&s->mutex);
    if (rc == ENOTRECOVERABLE) {
      InitMutex(&s->mutex);  // nobody can hold it any more; start afresh
    }
    ResetContents(s, ConfigFromEnv());
    if (rc != ENOTRECOVERABLE) pthread_mutex_unlock(&s->mutex);
  }
  return s;  // the mapping stays; `file` unlocks and closes
}

// True unless `pid` has exited (a zombie counts as exited: the driver frees a process's
// memory when it exits, not when it is reaped).
inline bool PidAlive(int pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = fopen(path, "re");
  if (f == nullptr) return true;  // no procfs: trust kill()
  char buf[512];
  const size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* paren = strrchr(buf, ')');  // "pid (comm) S ..."; comm may hold spaces
  return paren == nullptr || paren[1] == '\0' || paren[2] != 'Z';
}

// Drops table entries of processes that have exited, with the memory they held.
// Requires the mutex.
inline void ReapDeadLocked(State* s) {
  for (int d = 0; d < s->config.devices && d < kMaxDevices; ++d) {
    DeviceState& dev = s->devices[d];
    for (ProcEntry& p : dev.procs) {
      if (p.pid == 0 || PidAlive(p.pid)) continue;
      dev.used_bytes -= p.used_bytes < dev.used_bytes ? p.used_bytes : dev.used_bytes;
      p = ProcEntry{};
    }
  }
}

// Holds the state's mutex for a scope; recovers it (and reaps) when its holder died.
class Locked {
 public:
  explicit Locked(State* s) : s_(s) {
    const int rc = pthread_mutex_lock(&s_->mutex);
    if (rc == EOWNERDEAD) {
      pthread_mutex_consistent(&s_->mutex);
      ReapDeadLocked(s_);
    }
  }
  ~Locked() { pthread_mutex_unlock(&s_->mutex); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  State* s_;
};

// ---------------------------------------------------------------------------------------
// Accounting and the timeline (all require the mutex)

inline ProcEntry* FindProc(DeviceState& dev, int pid) {
  for (ProcEntry& p : dev.procs) {
    if (p.pid == pid) return &p;
  }
  return nullptr;
}

inline ProcEntry* FindOrAddProc(DeviceState& dev, int pid) {
  if (ProcEntry* p = FindProc(dev, pid)) return p;
  for (ProcEntry& p : dev.procs) {
    if (p.pid != 0) continue;
    p = ProcEntry{};
    p.pid = pid;
    p.first_seen_us = MonotonicUs();
    return &p;
  }
  return nullptr;
}

inline void DropProcIfIdle(ProcEntry* p) {
  if (p != nullptr && p->contexts <= 0 && p->used_bytes == 0) *p = ProcEntry{};
}

// Charges `bytes` to `pid` on device `d`. Fails (returns false, charges nothing) when the
// device lacks the memory (after reaping dead processes) or the process table is full.
inline bool ChargeLocked(State* s, int d, int pid, uint64_t bytes) {
  DeviceState& dev = s->devices[d];
  if (bytes > s->config.memory_bytes || dev.used_bytes > s->config.memory_bytes - bytes) {
    ReapDeadLocked(s);
    if (bytes > s->config.memory_bytes || dev.used_bytes > s->config.memory_bytes - bytes) {
      return false;
    }
  }
  ProcEntry* p = FindOrAddProc(dev, pid);
  if (p == nullptr) {
    ReapDeadLocked(s);
    p = FindOrAddProc(dev, pid);
    if (p == nullptr) return false;
  }
  p->used_bytes += bytes;
  dev.used_bytes += bytes;
  if (dev.used_bytes > dev.peak_used_bytes) dev.peak_used_bytes = dev.used_bytes;
  return true;
}

// Returns `bytes` charged to `pid` on device `d` (clamped at what it holds).
inline void UnchargeLocked(State* s, int d, int pid, uint64_t bytes) {
  DeviceState& dev = s->devices[d];
  ProcEntry* p = FindProc(dev, pid);
  if (p == nullptr) return;  // reaped or reset meanwhile
  if (bytes > p->used_bytes) bytes = p->used_bytes;
  p->used_bytes -= bytes;
  dev.used_bytes -= bytes < dev.used_bytes ? bytes : dev.used_bytes;
  DropProcIfIdle(p);
}

// Queues `duration_us` of work from `pid` on device `d`: it starts when the device is free
// (now, or the end of the work already queued) and the device stays busy until it ends.
// Returns the end time (CLOCK_MONOTONIC µs).
inline int64_t EnqueueLocked(State* s, int d, int pid, int64_t duration_us) {
  DeviceState& dev = s->devices[d];
  const int64_t now = MonotonicUs();
  const int64_t start = dev.busy_until_us > now ? dev.busy_until_us : now;
  const int64_t end = start + (duration_us > 0 ? duration_us : 0);
  dev.busy_until_us = end;
  ++dev.launches;
  if (end == start) return end;
  if (dev.interval_count > 0) {  // back-to-back work of one process: one interval
    Interval& last = dev.intervals[(dev.interval_next + kMaxIntervals - 1) % kMaxIntervals];
    if (last.pid == pid && last.end_us == start) {
      last.end_us = end;
      return end;
    }
  }
  dev.intervals[dev.interval_next] = Interval{pid, 0, start, end};
  dev.interval_next = (dev.interval_next + 1) % kMaxIntervals;
  if (dev.interval_count < static_cast<uint32_t>(kMaxIntervals)) ++dev.interval_count;
  return end;
}

// Microseconds device `d` was busy for `pid` (every pid when pid < 0) in (from_us, to_us].
inline int64_t BusyUsLocked(const State* s, int d, int pid, int64_t from_us, int64_t to_us) {
  const DeviceState& dev = s->devices[d];
  int64_t busy = 0;
  for (uint32_t i = 0; i < dev.interval_count; ++i) {
    const Interval& iv = dev.intervals[i];
    if (pid >= 0 && iv.pid != pid) continue;
    const int64_t a = iv.start_us > from_us ? iv.start_us : from_us;
    const int64_t b = iv.end_us < to_us ? iv.end_us : to_us;
    if (b > a) busy += b - a;
  }
  return busy;
}

// Whole percent of (from_us, to_us] that device `d` was busy for `pid` (< 0: any pid).
inline unsigned BusyPercentLocked(const State* s, int d, int pid, int64_t from_us, int64_t to_us) {
  if (to_us <= from_us) return 0;
  const int64_t busy = BusyUsLocked(s, d, pid, from_us, to_us);
  return static_cast<unsigned>((busy * 100 + (to_us - from_us) / 2) / (to_us - from_us));
}

}  // namespace fakegpu
