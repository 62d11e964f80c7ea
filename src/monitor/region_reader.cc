#include "monitor/region_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "vgpu/shared_region.h"

namespace hami::monitor {

namespace layout = vgpu::layout;

namespace {

template <typename T>
T Ld(const T& field, std::memory_order order = std::memory_order_acquire) {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(order);
}

uint64_t SatAdd(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

int ClampedProcNum(const layout::Region& r) {
  const int32_t n = Ld(r.proc_num);
  if (n < 0) return 0;
  return n > layout::kMaxProcs ? layout::kMaxProcs : n;
}

int ClampedDeviceNum(const layout::Region& r) {
  const uint64_t n = Ld(r.device_num);
  return n > static_cast<uint64_t>(layout::kMaxDevices) ? layout::kMaxDevices : static_cast<int>(n);
}

std::string ReadUuid(const layout::Region& r, int dev) {
  std::string out;
  for (size_t i = 0; i + 1 < layout::kUuidBytes; ++i) {  // the last byte is always NUL's place
    const char c = Ld(r.uuids[dev][i], std::memory_order_relaxed);
    if (c == '\0') break;
    out += c;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<MappedRegion>> MappedRegion::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    std::string msg = path + ": open: " + std::strerror(err);
    if (err == ENOENT) return NotFound(msg);
    return InvalidArgument(msg);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return InvalidArgument(path + ": fstat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + ": not a regular file");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size != layout::kRegionBytes && size != layout::kFileBytes) {
    ::close(fd);
    return InvalidArgument(path + ": size " + std::to_string(size) + " bytes, want " +
                           std::to_string(layout::kRegionBytes) + " or " +
                           std::to_string(layout::kFileBytes) + " (v1.2 region)");
  }
  void* map = ::mmap(nullptr, layout::kRegionBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file
  if (map == MAP_FAILED) {
    return Status(StatusCode::kInternal, path + ": mmap: " + std::strerror(map_err));
  }
  auto* region = static_cast<layout::Region*>(map);
  const vgpu::Status valid = vgpu::ValidateRegion(*region);
  if (!valid.ok()) {
    ::munmap(map, layout::kRegionBytes);
    return InvalidArgument(path + ": " + valid.message());
  }
  return std::unique_ptr<MappedRegion>(new MappedRegion(region, path));
}

MappedRegion::~MappedRegion() { ::munmap(region_, layout::kRegionBytes); }

RegionSnapshot MappedRegion::Snapshot() const {
  const layout::Region& r = *region_;
  RegionSnapshot out;
  out.priority = Ld(r.priority);
  out.recent_kernel = Ld(r.recent_kernel);
  out.utilization_switch = Ld(r.utilization_switch);
  out.last_kernel_time_s = Ld(r.last_kernel_time);
  out.limits = Limits();
  const int devices = ClampedDeviceNum(r);
  out.devices.resize(static_cast<size_t>(devices));
  for (int d = 0; d < devices; ++d) {
    VDeviceUsage& u = out.devices[static_cast<size_t>(d)];
    u.uuid = ReadUuid(r, d);
    u.limit_bytes = out.limits.memory_bytes[static_cast<size_t>(d)];
    u.sm_limit_percent = out.limits.sm_percent[static_cast<size_t>(d)];
  }
  out.proc_num = ClampedProcNum(r);
  for (int i = 0; i < out.proc_num; ++i) {
    const layout::ProcSlot& s = r.procs[i];
    if (Ld(s.pid, std::memory_order_relaxed) == 0) continue;
    ++out.live_slots;
    for (int d = 0; d < devices; ++d) {
      const layout::DeviceMemory& m = s.used[d];
      uint64_t total = 0, context = 0, module = 0, data = 0, offset = 0;
      for (int tries = 0; tries < 1000; ++tries) {  // bounded: a writer may have died mid-update
        const uint64_t s1 = Ld(s.seqlock);
        total = Ld(m.total, std::memory_order_relaxed);
        context = Ld(m.context_size, std::memory_order_relaxed);
        module = Ld(m.module_size, std::memory_order_relaxed);
        data = Ld(m.data_size, std::memory_order_relaxed);
        offset = Ld(m.offset, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        const uint64_t s2 = Ld(s.seqlock, std::memory_order_relaxed);
        if (s1 == s2 && (s1 & 1) == 0) break;
      }
      VDeviceUsage& u = out.devices[static_cast<size_t>(d)];
      u.used_bytes = SatAdd(u.used_bytes, total);
      u.context_bytes = SatAdd(u.context_bytes, context);
      u.module_bytes = SatAdd(u.module_bytes, module);
      u.buffer_bytes = SatAdd(u.buffer_bytes, data);
      u.offset_bytes = SatAdd(u.offset_bytes, offset);
      u.sm_util_percent =
          SatAdd(u.sm_util_percent, Ld(s.device_util[d].sm_util, std::memory_order_relaxed));
    }
  }
  return out;
}

RegionLimits MappedRegion::Limits() const {
  RegionLimits out;
  for (size_t d = 0; d < out.memory_bytes.size(); ++d) {
    out.memory_bytes[d] = Ld(region_->limit[d]);
    out.sm_percent[d] = Ld(region_->sm_limit[d]);
  }
  return out;
}

int32_t MappedRegion::priority() const { return Ld(region_->priority); }
int32_t MappedRegion::recent_kernel() const { return Ld(region_->recent_kernel); }
int32_t MappedRegion::utilization_switch() const { return Ld(region_->utilization_switch); }

std::vector<std::string> MappedRegion::Uuids() const {
  std::vector<std::string> out;
  const int devices = ClampedDeviceNum(*region_);
  out.reserve(static_cast<size_t>(devices));
  for (int d = 0; d < devices; ++d) out.push_back(ReadUuid(*region_, d));
  return out;
}

bool MappedRegion::CompareExchangeRecentKernel(int32_t expected, int32_t desired) {
  return std::atomic_ref<int32_t>(region_->recent_kernel)
      .compare_exchange_strong(expected, desired, std::memory_order_acq_rel);
}

void MappedRegion::SetUtilizationSwitch(int32_t value) {
  std::atomic_ref<int32_t>(region_->utilization_switch).store(value, std::memory_order_release);
}

}  // namespace hami::monitor
