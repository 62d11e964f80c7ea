#include "monitor/region_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <random>
#include <string_view>

#include "tests/monitor/monitor_test_util.h"
#include "vgpu/region_layout.h"
#include "vgpu/shared_region.h"

namespace hami::monitor {
namespace {

namespace fs = std::filesystem;
namespace layout = vgpu::layout;
using testing::PReadAt;
using testing::PWriteAt;
using testing::TempDir;
using testing::WriteFile;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

constexpr size_t SlotOffset(int slot) {
  return offsetof(layout::Region, procs) + static_cast<size_t>(slot) * sizeof(layout::ProcSlot);
}
constexpr size_t SlotMemOffset(int slot, int dev, size_t field) {
  return SlotOffset(slot) + offsetof(layout::ProcSlot, used) +
         static_cast<size_t>(dev) * sizeof(layout::DeviceMemory) + field;
}
constexpr size_t SlotSmOffset(int slot, int dev) {
  return SlotOffset(slot) + offsetof(layout::ProcSlot, device_util) +
         static_cast<size_t>(dev) * sizeof(layout::DeviceUtil) +
         offsetof(layout::DeviceUtil, sm_util);
}

// A region written by our own libvgpu core: two devices, limits, priority 1, charges from this
// process (slot 0), and a hand-written second slot of another (dead) pid, a freed slot with stale
// counters and a slot past proc_num, which must not count.
class RegionReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = tmp_.path() + "/1234.cache";
    vgpu::RegionInit init;
    init.memory_limit_bytes[0] = 4 * kGiB;
    init.memory_limit_bytes[1] = 2 * kGiB;
    init.sm_limit_percent[0] = 30;
    init.sm_limit_percent[1] = 100;
    init.priority = 1;
    auto opened = vgpu::SharedRegion::Open(path_, init);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    writer_ = std::move(*opened);
    const std::string_view uuids[] = {"GPU-aaaa", "GPU-bbbb"};
    ASSERT_TRUE(writer_->SetDevices(uuids).ok());
    ASSERT_TRUE(writer_->TryCharge(0, 100 * kMiB, layout::ChargeKind::kData).ok());
    ASSERT_TRUE(writer_->TryCharge(0, 10 * kMiB, layout::ChargeKind::kContext).ok());
    ASSERT_TRUE(writer_->TryCharge(0, 3 * kMiB, layout::ChargeKind::kModule).ok());
    ASSERT_TRUE(writer_->TryCharge(1, 5 * kMiB, layout::ChargeKind::kModule).ok());
    ASSERT_EQ(writer_->own_slot(), 0);
    writer_->SetRecentKernel(7);
    writer_->SetUtilizationSwitch(1);
    writer_->StampKernelTime(1'800'000'000);
  }
  void AddForeignSlots() {
    // slot 1: another process (pid 999999) with 1 GiB data on device 0 and sm_util 40 / 25.
    PWriteAt<int32_t>(path_, SlotOffset(1) + offsetof(layout::ProcSlot, pid), 999999);
    PWriteAt<int32_t>(path_, SlotOffset(1) + offsetof(layout::ProcSlot, status), 1);
    PWriteAt<uint64_t>(path_, SlotMemOffset(1, 0, offsetof(layout::DeviceMemory, data_size)), kGiB);
    PWriteAt<uint64_t>(path_, SlotMemOffset(1, 0, offsetof(layout::DeviceMemory, total)), kGiB);
    PWriteAt<uint64_t>(path_, SlotSmOffset(1, 0), 40);
    PWriteAt<uint64_t>(path_, SlotSmOffset(0, 0), 25);
    // slot 2: freed (pid 0) but with leftover counters.
    PWriteAt<uint64_t>(path_, SlotMemOffset(2, 0, offsetof(layout::DeviceMemory, total)), 7 * kGiB);
    PWriteAt<uint64_t>(path_, SlotSmOffset(2, 0), 90);
    // slot 3: past proc_num.
    PWriteAt<int32_t>(path_, SlotOffset(3) + offsetof(layout::ProcSlot, pid), 888888);
    PWriteAt<uint64_t>(path_, SlotMemOffset(3, 0, offsetof(layout::DeviceMemory, total)), 9 * kGiB);
    PWriteAt<int32_t>(path_, offsetof(layout::Region, proc_num), 3);
  }

  TempDir tmp_;
  std::string path_;
  std::unique_ptr<vgpu::SharedRegion> writer_;
};

TEST_F(RegionReaderTest, SnapshotMatchesWriterFieldByField) {
  AddForeignSlots();
  auto opened = MappedRegion::Open(path_);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  const RegionSnapshot s = (*opened)->Snapshot();
  EXPECT_EQ(s.proc_num, 3);
  EXPECT_EQ(s.live_slots, 2);
  EXPECT_EQ(s.priority, 1);
  EXPECT_EQ(s.recent_kernel, 7);
  EXPECT_EQ(s.utilization_switch, 1);
  EXPECT_EQ(s.last_kernel_time_s, 1'800'000'000u);
  ASSERT_EQ(s.devices.size(), 2u);
  const VDeviceUsage& d0 = s.devices[0];
  EXPECT_EQ(d0.uuid, "GPU-aaaa");
  EXPECT_EQ(d0.limit_bytes, 4 * kGiB);
  EXPECT_EQ(d0.sm_limit_percent, 30u);
  EXPECT_EQ(d0.used_bytes, 113 * kMiB + kGiB);
  EXPECT_EQ(d0.context_bytes, 10 * kMiB);
  EXPECT_EQ(d0.module_bytes, 3 * kMiB);
  EXPECT_EQ(d0.buffer_bytes, 100 * kMiB + kGiB);
  EXPECT_EQ(d0.sm_util_percent, 65u);
  const VDeviceUsage& d1 = s.devices[1];
  EXPECT_EQ(d1.uuid, "GPU-bbbb");
  EXPECT_EQ(d1.limit_bytes, 2 * kGiB);
  EXPECT_EQ(d1.sm_limit_percent, 100u);
  EXPECT_EQ(d1.used_bytes, 5 * kMiB);
  EXPECT_EQ(d1.module_bytes, 5 * kMiB);
  EXPECT_EQ(d1.context_bytes, 0u);
  EXPECT_EQ(d1.buffer_bytes, 0u);
  // The writer's own estimate agrees (same slots, same seqlock protocol).
  EXPECT_EQ(d0.used_bytes, writer_->UsageSnapshot(0));
  EXPECT_EQ((*opened)->Uuids(), (std::vector<std::string>{"GPU-aaaa", "GPU-bbbb"}));
}

TEST_F(RegionReaderTest, SeesLaterChargesAndUncharges) {
  auto opened = MappedRegion::Open(path_);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ((*opened)->Snapshot().devices[0].used_bytes, 113 * kMiB);
  ASSERT_TRUE(writer_->TryCharge(0, kGiB, layout::ChargeKind::kData).ok());
  EXPECT_EQ((*opened)->Snapshot().devices[0].used_bytes, 113 * kMiB + kGiB);
  ASSERT_TRUE(writer_->Unregister().ok());
  EXPECT_EQ((*opened)->Snapshot().devices[0].used_bytes, 0u);
  EXPECT_EQ((*opened)->Snapshot().live_slots, 0);
}

TEST_F(RegionReaderTest, WritesOnlyTheFeedbackFields) {
  auto opened = MappedRegion::Open(path_);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_FALSE((*opened)->CompareExchangeRecentKernel(3, -1));  // field holds 7
  EXPECT_EQ(writer_->recent_kernel(), 7);
  EXPECT_TRUE((*opened)->CompareExchangeRecentKernel(7, -1));
  (*opened)->SetUtilizationSwitch(0);
  EXPECT_EQ(writer_->recent_kernel(), -1);
  EXPECT_EQ(writer_->utilization_switch(), 0);
  EXPECT_EQ(PReadAt<int32_t>(path_, offsetof(layout::Region, recent_kernel)), -1);
  EXPECT_EQ(writer_->priority(), 1);
}

TEST_F(RegionReaderTest, AcceptsFileWithoutTrailingByte) {
  ASSERT_EQ(fs::file_size(path_), layout::kFileBytes);
  fs::resize_file(path_, layout::kRegionBytes);
  auto opened = MappedRegion::Open(path_);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ((*opened)->Snapshot().devices.size(), 2u);
}

// --- corrupt and foreign files -------------------------------------------------------------------

class CorruptRegionTest : public RegionReaderTest {
 protected:
  // The writer unmaps first: truncating a file under a live mapping would SIGBUS its destructor.
  void SetUp() override {
    RegionReaderTest::SetUp();
    writer_.reset();
  }
  void ExpectRejected(const std::string& path, const std::string& word) {
    auto opened = MappedRegion::Open(path);
    ASSERT_FALSE(opened.ok()) << path;
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(opened.status().message().find(word), std::string::npos) << opened.status().message();
  }
};

TEST_F(CorruptRegionTest, Truncated) {
  fs::resize_file(path_, layout::kRegionBytes - 1);
  ExpectRejected(path_, "size");
  fs::resize_file(path_, 0);
  ExpectRejected(path_, "size");
}

TEST_F(CorruptRegionTest, TooLong) {
  fs::resize_file(path_, layout::kFileBytes + 1);
  ExpectRejected(path_, "size");
}

TEST_F(CorruptRegionTest, WrongMagic) {
  PWriteAt<int32_t>(path_, 0, 12345);
  ExpectRejected(path_, "magic");
}

TEST_F(CorruptRegionTest, Version13) {
  PWriteAt<uint32_t>(path_, offsetof(layout::Region, minor_version), 3);
  ExpectRejected(path_, "version");
}

TEST_F(CorruptRegionTest, HugeProcNum) {
  PWriteAt<int32_t>(path_, offsetof(layout::Region, proc_num), 1'000'000);
  ExpectRejected(path_, "proc_num");
  PWriteAt<int32_t>(path_, offsetof(layout::Region, proc_num), -5);
  ExpectRejected(path_, "proc_num");
}

TEST_F(CorruptRegionTest, HugeDeviceNum) {
  PWriteAt<uint64_t>(path_, offsetof(layout::Region, device_num), 17);
  ExpectRejected(path_, "device_num");
}

TEST_F(CorruptRegionTest, RandomBytes) {
  std::mt19937_64 rng(42);
  std::string bytes(layout::kFileBytes, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  const std::string junk = tmp_.path() + "/junk.cache";
  WriteFile(junk, bytes);
  ExpectRejected(junk, "magic");
  // Random bytes behind a valid header are still refused (limits, proc_num or pids).
  auto header = PReadAt<std::array<char, 12>>(path_, 0);
  for (size_t i = 0; i < header.size(); ++i) bytes[i] = header[i];
  WriteFile(junk, bytes);
  auto opened = MappedRegion::Open(junk);
  EXPECT_FALSE(opened.ok());
}

// Random byte flips in a valid file (half of them in the header, where the checks are): Open
// either refuses the file or yields a snapshot within the layout's bounds, never a crash.
TEST_F(CorruptRegionTest, RandomMutationsNeverCrash) {
  std::mt19937_64 rng(7);
  int accepted = 0;
  for (int round = 0; round < 200; ++round) {
    for (int k = 0; k < 4; ++k) {
      const size_t limit = (rng() & 1) ? offsetof(layout::Region, procs) : layout::kRegionBytes;
      PWriteAt<uint8_t>(path_, rng() % limit, static_cast<uint8_t>(rng()));
    }
    auto opened = MappedRegion::Open(path_);
    if (!opened.ok()) {
      EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
      continue;
    }
    ++accepted;
    const RegionSnapshot s = (*opened)->Snapshot();
    EXPECT_LE(s.devices.size(), static_cast<size_t>(layout::kMaxDevices));
    EXPECT_GE(s.proc_num, 0);
    EXPECT_LE(s.proc_num, layout::kMaxProcs);
    EXPECT_LE(s.live_slots, s.proc_num);
    for (const VDeviceUsage& d : s.devices) EXPECT_LT(d.uuid.size(), layout::kUuidBytes);
  }
  RecordProperty("accepted", accepted);
}

TEST_F(CorruptRegionTest, NotAFile) {
  ExpectRejected(tmp_.path(), "");  // a directory
  auto missing = MappedRegion::Open(tmp_.path() + "/absent.cache");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace hami::monitor
