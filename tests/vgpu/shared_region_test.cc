// Single-process tests of the shared region: the byte layout as the Go monitor reads it,
// first-creator-wins, charging rules, corrupt files, the full slot table, the private fallback.
// Cross-process behaviour is in shared_region_multiprocess_test.cc.
#include "vgpu/shared_region.h"

#include <sys/stat.h>

#include <ctime>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/vgpu/region_test_util.h"

namespace hami::vgpu {
namespace {

using namespace hami::vgpu::testing;  // NOLINT(google-build-using-namespace)
using layout::ProcSlot;
using layout::Region;

class SharedRegionTest : public RegionFileTest {};

TEST_F(SharedRegionTest, GoldenLayoutReadBackAtRawOffsets) {
  RegionInit init = LimitInit(kGiB, 3 * kGiB);
  init.sm_limit_percent[0] = 30;
  init.priority = 0;
  auto region = OpenOk(init);
  ASSERT_NE(region, nullptr);
  EXPECT_TRUE(region->created());

  struct stat sb;
  ASSERT_EQ(::stat(path_.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_size, 2008953);

  // Offsets spelled out as numbers (spec §3.2), not via offsetof: this is the external contract.
  EXPECT_EQ(ReadAt<int32_t>(path_, 0), 19920718);
  EXPECT_EQ(ReadAt<uint32_t>(path_, 4), 1u);
  EXPECT_EQ(ReadAt<uint32_t>(path_, 8), 2u);
  EXPECT_EQ(ReadAt<uint64_t>(path_, 1600), kGiB);
  EXPECT_EQ(ReadAt<uint64_t>(path_, 1608), 3 * kGiB);
  EXPECT_EQ(ReadAt<uint64_t>(path_, 1616), 0u);
  EXPECT_EQ(ReadAt<uint64_t>(path_, 1728), 30u);
  EXPECT_EQ(ReadAt<uint64_t>(path_, 1736), 100u);  // unthrottled is stored as 100, like upstream
  EXPECT_EQ(ReadAt<int32_t>(path_, 2008896), 0);   // proc_num
  EXPECT_EQ(ReadAt<int32_t>(path_, 2008900), 1);   // utilization_switch
  EXPECT_EQ(ReadAt<int32_t>(path_, 2008904), 2);   // recent_kernel
  EXPECT_EQ(ReadAt<int32_t>(path_, 2008908), 0);   // priority
  uint64_t stamped = ReadAt<uint64_t>(path_, 2008912);
  EXPECT_LE(static_cast<uint64_t>(std::time(nullptr)) - stamped, 5u);

  std::string_view uuids[] = {"GPU-aaaaaaaa-0000", "GPU-bbbbbbbb-1111"};
  ASSERT_TRUE(region->SetDevices(uuids).ok());
  ASSERT_TRUE(region->TryCharge(1, 5 * kMiB, ChargeKind::kData).ok());
  ASSERT_TRUE(region->TryCharge(1, 7 * kMiB, ChargeKind::kContext).ok());
  ASSERT_TRUE(region->SetHostPid(424242).ok());

  EXPECT_EQ(ReadAt<uint64_t>(path_, 56), 2u);  // device_num
  EXPECT_EQ(ReadAt<char>(path_, 64 + 4), 'a');
  EXPECT_EQ(ReadAt<char>(path_, 64 + 96 + 4), 'b');
  EXPECT_EQ(ReadAt<char>(path_, 64 + 96 + 17), '\0');
  EXPECT_EQ(region->Uuid(1), "GPU-bbbbbbbb-1111");
  EXPECT_EQ(ReadAt<int32_t>(path_, 2008896), 1);  // proc_num
  const size_t slot0 = 1856;
  EXPECT_EQ(ReadAt<int32_t>(path_, slot0 + 0), ::getpid());
  EXPECT_EQ(ReadAt<int32_t>(path_, slot0 + 4), 424242);
  const size_t used1 = slot0 + 8 + 64;                        // used[1]
  EXPECT_EQ(ReadAt<uint64_t>(path_, used1 + 0), 7 * kMiB);    // context_size
  EXPECT_EQ(ReadAt<uint64_t>(path_, used1 + 16), 5 * kMiB);   // data_size
  EXPECT_EQ(ReadAt<uint64_t>(path_, used1 + 32), 12 * kMiB);  // total
  EXPECT_EQ(ReadAt<int32_t>(path_, slot0 + 1928), 1);         // status: running
  EXPECT_EQ(ReadAt<uint64_t>(path_, slot0 + 1936) % 2, 0u);   // seqlock even at rest
  EXPECT_EQ(ReadAt<uint64_t>(path_, slot0 + 1944), sys::SelfStartTag());

  ASSERT_TRUE(region->Unregister().ok());
  EXPECT_EQ(ReadAt<int32_t>(path_, slot0 + 0), 0);
  EXPECT_EQ(ReadAt<uint64_t>(path_, used1 + 32), 0u);
  EXPECT_EQ(ReadAt<int32_t>(path_, 2008896), 1);  // high-water mark kept
}

TEST_F(SharedRegionTest, FirstCreatorWinsAndDisagreementIsReported) {
  RegionInit first = LimitInit(kGiB);
  first.sm_limit_percent[0] = 40;
  auto a = OpenOk(first);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->warnings().empty());

  RegionInit second = LimitInit(2 * kGiB);
  second.sm_limit_percent[0] = 40;
  second.priority = 0;
  auto b = OpenOk(second);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->created());
  EXPECT_EQ(b->limit(0), kGiB);
  EXPECT_EQ(b->sm_limit(0), 40u);
  EXPECT_EQ(b->priority(), 1);
  ASSERT_EQ(b->warnings().size(), 2u);
  EXPECT_NE(b->warnings()[0].find("device 0 memory limit is 1073741824 bytes"), std::string::npos)
      << b->warnings()[0];
  EXPECT_NE(b->warnings()[1].find("priority inconsistency"), std::string::npos);

  // Same values (0 and 100 both mean "unthrottled") -> no warning.
  auto c = OpenOk(first);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->warnings().empty());
}

TEST_F(SharedRegionTest, ChargesAreExactAgainstTheLimit) {
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(region->own_slot(), -1);  // Open does not register
  ASSERT_TRUE(region->TryCharge(0, kGiB / 2, ChargeKind::kData).ok());
  EXPECT_EQ(region->own_slot(), 0);
  ASSERT_TRUE(region->TryCharge(0, kGiB / 2 - 1, ChargeKind::kModule).ok());
  ASSERT_TRUE(region->TryCharge(0, 1, ChargeKind::kContext).ok());  // exactly at the limit
  Status over = region->TryCharge(0, 1, ChargeKind::kData);
  EXPECT_EQ(over.code(), Code::kOutOfMemory);
  EXPECT_STREQ(over.message(),
               "device 0: 1073741824 bytes in use + 1 requested > limit 1073741824");
  EXPECT_EQ(region->Usage(0), kGiB);
  EXPECT_EQ(region->UsageSnapshot(0), kGiB);
  EXPECT_EQ(region->ProcessUsage(0), kGiB);

  EXPECT_EQ(region->TryCharge(0, UINT64_MAX, ChargeKind::kData).code(), Code::kOutOfMemory);
  ASSERT_TRUE(region->Uncharge(0, 1, ChargeKind::kContext).ok());
  ASSERT_TRUE(region->TryCharge(0, 1, ChargeKind::kData).ok());
  EXPECT_EQ(region->Usage(0), kGiB);

  // Device 1 is unlimited: charges are still recorded.
  ASSERT_TRUE(region->TryCharge(1, 40 * kGiB, ChargeKind::kData).ok());
  EXPECT_EQ(region->Usage(1), 40 * kGiB);
  EXPECT_EQ(region->TryCharge(1, UINT64_MAX, ChargeKind::kData).code(), Code::kInvalidArgument);

  // A zero-byte charge is a no-op that succeeds even at the limit.
  EXPECT_TRUE(region->TryCharge(0, 0, ChargeKind::kData).ok());

  // The monitor may lower the limit at run time; charges obey the new one.
  region->SetLimit(0, kGiB / 2);
  EXPECT_EQ(region->TryCharge(0, 1, ChargeKind::kData).code(), Code::kOutOfMemory);
}

TEST_F(SharedRegionTest, BadArgumentsAndOverUnchargeAreErrorsNotCrashes) {
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(region->Uncharge(0, 1, ChargeKind::kData).code(), Code::kInvalidArgument);
  EXPECT_EQ(region->TryCharge(16, 1, ChargeKind::kData).code(), Code::kInvalidArgument);
  EXPECT_EQ(region->TryCharge(-1, 1, ChargeKind::kData).code(), Code::kInvalidArgument);
  EXPECT_EQ(region->TryCharge(0, 1, static_cast<ChargeKind>(7)).code(), Code::kInvalidArgument);
  EXPECT_EQ(region->Usage(99), 0u);
  EXPECT_EQ(region->limit(-3), 0u);
  EXPECT_EQ(region->Uuid(16), "");

  ASSERT_TRUE(region->TryCharge(0, 100, ChargeKind::kData).ok());
  ASSERT_TRUE(region->TryCharge(0, 50, ChargeKind::kModule).ok());
  Status st = region->Uncharge(0, 120, ChargeKind::kData);  // only 100 charged as data
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("exceeds"), std::string::npos);
  EXPECT_EQ(region->Usage(0), 50u);  // clamped to the 100 data bytes: total stays data + module
  std::vector<std::string_view> too_many(17, "GPU-x");
  EXPECT_EQ(region->SetDevices(too_many).code(), Code::kInvalidArgument);
}

TEST_F(SharedRegionTest, ThreadsOfOneProcessNeverOvershoot) {
  auto region = OpenOk(LimitInit(64 * kMiB));
  ASSERT_NE(region, nullptr);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t));
      for (int i = 0; i < 2000; ++i) {
        uint64_t bytes = 1 + rng() % (16 * kMiB);
        if (region->TryCharge(0, bytes, ChargeKind::kData).ok()) {
          if (region->Usage(0) > 64 * kMiB) over = true;
          if (!region->Uncharge(0, bytes, ChargeKind::kData).ok()) over = true;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(over.load());
  EXPECT_EQ(region->Usage(0), 0u);
}

TEST_F(SharedRegionTest, ExitedSlotLeftoversAndRecycledPidsDoNotCount) {
  {
    auto region = OpenOk(LimitInit(kGiB));
    ASSERT_NE(region, nullptr);
  }
  // Slot 0: an upstream process that exited (pid 0) but left its counters, as upstream's atexit
  // does. Slot 1: our parent's pid with a start-time tag that is not its own (a recycled pid).
  WriteAt<int32_t>(path_, offsetof(Region, proc_num), 2);
  WriteAt<uint64_t>(path_, SlotTotalOffset(0, 0), 700 * kMiB);
  WriteAt<int32_t>(path_, SlotOffset(1), ::getppid());
  WriteAt<uint64_t>(path_, SlotTotalOffset(1, 0), kGiB);
  WriteAt<uint64_t>(path_, SlotOffset(1) + offsetof(ProcSlot, unused), 1);
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(region->Usage(0), kGiB);  // the live-looking slot counts until reclaimed
  Status charged = region->TryCharge(0, kGiB, ChargeKind::kData);  // reclaim makes room
  ASSERT_TRUE(charged.ok()) << charged.message();
  EXPECT_EQ(region->Usage(0), kGiB);
  EXPECT_EQ(ReadAt<uint64_t>(path_, SlotTotalOffset(0, 0)), kGiB);  // reused free slot 0
  EXPECT_EQ(ReadAt<int32_t>(path_, SlotOffset(1)), 0);
}

TEST_F(SharedRegionTest, FullSlotTableIsAnErrorNotAnExit) {
  {
    auto region = OpenOk(LimitInit(kGiB));
    ASSERT_NE(region, nullptr);
  }
  {  // 1024 slots held by a live process (our parent, which outlives the test).
    int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const int32_t live = ::getppid();
    for (int i = 0; i < layout::kMaxProcs; ++i) {
      ASSERT_EQ(::pwrite(fd, &live, sizeof(live), static_cast<off_t>(SlotOffset(i))), 4);
    }
    const int32_t n = layout::kMaxProcs;
    ASSERT_EQ(::pwrite(fd, &n, sizeof(n), offsetof(Region, proc_num)), 4);
    ::close(fd);
  }
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  Status st = region->Register();
  EXPECT_EQ(st.code(), Code::kNoFreeSlot);
  EXPECT_NE(std::string(st.message()).find("all 1024 process slots"), std::string::npos)
      << st.message();
  EXPECT_EQ(region->TryCharge(0, 1, ChargeKind::kData).code(), Code::kNoFreeSlot);

  WriteAt<int32_t>(path_, SlotOffset(700), DeadPid());
  ASSERT_TRUE(region->Register().ok());
  EXPECT_EQ(region->own_slot(), 700);
  EXPECT_EQ(ReadAt<int32_t>(path_, offsetof(Region, proc_num)), 1024);
}

TEST_F(SharedRegionTest, RuntimeCorruptionOfProcNumIsNeverTrusted) {
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  ASSERT_TRUE(region->TryCharge(0, kMiB, ChargeKind::kData).ok());
  for (int32_t bad : {1 << 30, -5, 1025}) {
    WriteAt<int32_t>(path_, offsetof(Region, proc_num), bad);
    EXPECT_LE(region->Usage(0), kGiB);
    EXPECT_LE(region->UsageSnapshot(0), kGiB);
    (void)region->TryCharge(0, kMiB, ChargeKind::kData);
    (void)region->Uncharge(0, kMiB, ChargeKind::kData);
    region->ReclaimDead();
  }
}

// --- corrupt, foreign and truncated files
// ---------------------------------------------------------

struct CorruptCase {
  const char* name;
  std::function<void(const std::string& path)> damage;
  Code code;
  const char* message;  // substring
};

class CorruptFileTest : public RegionFileTest, public ::testing::WithParamInterface<CorruptCase> {};

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A valid, freshly created region file to damage.
void CreateValid(const std::string& path) {
  auto r = SharedRegion::Open(path, LimitInit(kGiB));
  ASSERT_TRUE(r.ok()) << r.status().message();
}

TEST_P(CorruptFileTest, RefusedWithMessageAndFileLeftAlone) {
  const CorruptCase& c = GetParam();
  c.damage(path_);
  std::string before;
  {
    struct stat sb;
    if (::stat(path_.c_str(), &sb) == 0 && S_ISREG(sb.st_mode)) {
      before.resize(static_cast<size_t>(sb.st_size));
      int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      ASSERT_EQ(::read(fd, before.data(), before.size()), static_cast<ssize_t>(before.size()));
      ::close(fd);
    }
  }
  auto r = SharedRegion::Open(path_, LimitInit(2 * kGiB));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), c.code) << r.status().message();
  EXPECT_NE(std::string(r.status().message()).find(c.message), std::string::npos)
      << r.status().message();
  if (!before.empty()) {
    std::string after(before.size(), '\0');
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_EQ(::read(fd, after.data(), after.size()), static_cast<ssize_t>(after.size()));
    ::close(fd);
    EXPECT_TRUE(after == before) << "a refused file was modified";
  }
  // The caller's fallback keeps limits within the process.
  auto priv = SharedRegion::Private(LimitInit(kGiB));
  ASSERT_TRUE(priv.ok());
  EXPECT_TRUE((*priv)->TryCharge(0, kGiB, ChargeKind::kData).ok());
  EXPECT_EQ((*priv)->TryCharge(0, 1, ChargeKind::kData).code(), Code::kOutOfMemory);
}

const CorruptCase corrupt_cases[] = {
    {"Truncated", [](const std::string& p) { WriteFileBytes(p, std::string(1000, '\0')); },
     Code::kCorrupt, "has 1000 bytes, expected 2008953"},
    {"OneByteShort",
     [](const std::string& p) { WriteFileBytes(p, std::string(layout::kRegionBytes, '\0')); },
     Code::kCorrupt, "has 2008952 bytes"},
    {"TooLong",
     [](const std::string& p) { WriteFileBytes(p, std::string(layout::kFileBytes + 8, '\0')); },
     Code::kCorrupt, "expected 2008953"},
    {"ForeignMagic",
     [](const std::string& p) {
       CreateValid(p);
       WriteAt<int32_t>(p, 0, 12345);
     },
     Code::kCorrupt, "bad magic 12345"},
    {"WrongVersion",
     [](const std::string& p) {
       CreateValid(p);
       WriteAt<uint32_t>(p, offsetof(Region, minor_version), 3);
     },
     Code::kCorrupt, "unsupported version 1.3"},
    {"HugeProcNum",
     [](const std::string& p) {
       CreateValid(p);
       WriteAt<int32_t>(p, offsetof(Region, proc_num), 1 << 30);
     },
     Code::kCorrupt, "proc_num 1073741824 out of range"},
    {"NegativeProcNum",
     [](const std::string& p) {
       CreateValid(p);
       WriteAt<int32_t>(p, offsetof(Region, proc_num), -1);
     },
     Code::kCorrupt, "proc_num -1 out of range"},
    {"GarbageMemoryLimit",
     [](const std::string& p) {
       CreateValid(p);
       WriteAt<uint64_t>(p, offsetof(Region, limit) + size_t{8} * 5, ~uint64_t{0});
     },
     Code::kCorrupt, "device 5 memory limit"},
    {"GarbageSmLimit",
     [](const std::string& p) {
       CreateValid(p);
       WriteAt<uint64_t>(p, offsetof(Region, sm_limit), 1000);
     },
     Code::kCorrupt, "SM limit 1000%"},
    {"GarbageDeviceNum",
     [](const std::string& p) {
       CreateValid(p);
       WriteAt<uint64_t>(p, offsetof(Region, device_num), 17);
     },
     Code::kCorrupt, "device_num 17"},
    {"NegativeSlotPid",
     [](const std::string& p) {
       CreateValid(p);
       WriteAt<int32_t>(p, offsetof(Region, proc_num), 3);
       WriteAt<int32_t>(p, SlotOffset(2), -5);
     },
     Code::kCorrupt, "slot 2 has pid -5"},
    {"RandomBytes",
     [](const std::string& p) { WriteFileBytes(p, RandomBytes(layout::kFileBytes, 7)); },
     Code::kCorrupt, "bad magic"},
    {"RandomBytesBehindAValidHeader",
     [](const std::string& p) {
       WriteFileBytes(p, RandomBytes(layout::kFileBytes, 11));
       WriteAt<int32_t>(p, 0, layout::kMagic);
       WriteAt<uint32_t>(p, 4, 1);
       WriteAt<uint32_t>(p, 8, 2);
     },
     Code::kCorrupt, "out of range"},
    {"Directory", [](const std::string& p) { ::mkdir(p.c_str(), 0700); }, Code::kIoError, "open"},
    {"Fifo", [](const std::string& p) { ::mkfifo(p.c_str(), 0600); }, Code::kCorrupt,
     "not a regular file"},
};

INSTANTIATE_TEST_SUITE_P(Files, CorruptFileTest, ::testing::ValuesIn(corrupt_cases),
                         [](const ::testing::TestParamInfo<CorruptCase>& info) {
                           return std::string(info.param.name);
                         });

TEST_F(SharedRegionTest, RightSizedZeroFileIsInitialised) {
  WriteFileBytes(path_, std::string(layout::kFileBytes, '\0'));  // creator died before the magic
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  EXPECT_TRUE(region->created());
  EXPECT_EQ(ReadAt<int32_t>(path_, 0), layout::kMagic);
}

TEST_F(SharedRegionTest, EmptyOrUnopenablePathIsAnError) {
  EXPECT_EQ(SharedRegion::Open("", LimitInit(0)).status().code(), Code::kInvalidArgument);
  auto r = SharedRegion::Open(dir_ + "/no/such/dir/x.cache", LimitInit(0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kIoError);
}

// --- monitor-facing fields
// -------------------------------------------------------------------------

TEST_F(SharedRegionTest, MonitorFieldsAndUtilizationWriteBack) {
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  region->SetUtilizationSwitch(0);
  EXPECT_EQ(ReadAt<int32_t>(path_, 2008900), 0);
  WriteAt<int32_t>(path_, 2008904, -1);  // the monitor blocks launches
  EXPECT_EQ(region->recent_kernel(), -1);
  region->MarkKernelActivity(2);  // activity never overwrites the monitor's block
  EXPECT_EQ(region->recent_kernel(), -1);
  region->SetRecentKernel(2);
  EXPECT_EQ(region->recent_kernel(), 2);
  WriteAt<int32_t>(path_, 2008904, 0);  // the monitor decayed it
  region->MarkKernelActivity(2);
  EXPECT_EQ(ReadAt<int32_t>(path_, 2008904), 2);
  WriteAt<uint64_t>(path_, 1600, 2 * kGiB);  // the monitor raises the limit
  EXPECT_EQ(region->limit(0), 2 * kGiB);

  uint64_t t = region->last_kernel_time();
  region->StampKernelTime(t + 100);
  region->StampKernelTime(t + 50);  // never lowered
  EXPECT_EQ(region->last_kernel_time(), t + 100);

  ASSERT_TRUE(region->SetHostPid(777).ok());
  EXPECT_EQ(region->host_pid(), 777);
  ProcessSample samples[] = {{888, 5 * kMiB, 70}, {777, 100 * kMiB, 40}};
  EXPECT_EQ(region->PublishUtilization(0, samples), 40u);
  const int slot = region->own_slot();
  EXPECT_EQ(ReadAt<uint64_t>(path_, SlotOffset(slot) + offsetof(ProcSlot, monitorused)),
            100 * kMiB);
  EXPECT_EQ(ReadAt<uint64_t>(path_, SlotOffset(slot) + offsetof(ProcSlot, device_util) +
                                        offsetof(layout::DeviceUtil, sm_util)),
            40u);
  EXPECT_EQ(region->PublishUtilization(0, {}), 0u);
  EXPECT_EQ(ReadAt<uint64_t>(path_, SlotOffset(slot) + offsetof(ProcSlot, monitorused)), 0u);

  EXPECT_EQ(region->own_status(), layout::kSlotRunning);
  region->SetOwnStatus(layout::kSlotSuspended);
  EXPECT_EQ(ReadAt<int32_t>(path_, SlotOffset(slot) + offsetof(ProcSlot, status)), 2);
}

TEST(RegionInitFromEnvTest, MapsEnvToStoredValues) {
  EnvConfig env;
  env.memory_limit_bytes[2] = 5 * kGiB;
  env.sm_limit_percent[0] = 0;
  env.sm_limit_percent[1] = 35;
  env.task_priority = 0;
  RegionInit init = RegionInitFromEnv(env);
  EXPECT_EQ(init.memory_limit_bytes[2], 5 * kGiB);
  EXPECT_EQ(init.sm_limit_percent[0], 100u);
  EXPECT_EQ(init.sm_limit_percent[1], 35u);
  EXPECT_EQ(init.priority, 0);
}

TEST(PrivateRegionTest, SameApiWithinTheProcess) {
  auto r = SharedRegion::Private(LimitInit(kGiB));
  ASSERT_TRUE(r.ok());
  SharedRegion& region = **r;
  EXPECT_TRUE(region.is_private());
  EXPECT_TRUE(region.path().empty());
  ASSERT_TRUE(region.TryCharge(0, kGiB - 10, ChargeKind::kData).ok());
  EXPECT_EQ(region.TryCharge(0, 11, ChargeKind::kData).code(), Code::kOutOfMemory);
  EXPECT_EQ(region.Usage(0), kGiB - 10);
  auto lock = region.LockHostPidDiscovery(0);
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ(region.LockHostPidDiscovery(0).status().code(), Code::kTimeout);
}

TEST(StatusTest, FormatsAndTruncates) {
  Status ok = Status::Ok();
  EXPECT_TRUE(ok.ok());
  EXPECT_STREQ(ok.message(), "");
  Status e = Status::Error(Code::kCorrupt, "x=%d", 5);
  EXPECT_EQ(e.code(), Code::kCorrupt);
  EXPECT_STREQ(e.message(), "x=5");
  EXPECT_STREQ(CodeName(e.code()), "corrupt");
  std::string long_text(1000, 'z');
  Status t = Status::Error(Code::kIoError, "%s", long_text.c_str());
  EXPECT_EQ(std::string(t.message()).size(), Status::kMaxMessage - 1);
  EXPECT_FALSE(Status::Error(Code::kOk, "not ok").ok());
}

}  // namespace
}  // namespace hami::vgpu
