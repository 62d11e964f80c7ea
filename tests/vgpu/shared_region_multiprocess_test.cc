// Cross-process tests of the shared region with real forked processes: the charge race against
// one limit, an exact concurrent fill, SIGKILL (of a charged process and of a lock holder), and
// fork handling with and without the atfork handlers.
#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "tests/vgpu/region_test_util.h"
#include "vgpu/shared_region.h"
#include "vgpu/sys_util.h"

namespace hami::vgpu {
namespace {

using namespace hami::vgpu::testing;  // NOLINT(google-build-using-namespace)
using std::chrono::steady_clock;

constexpr int kChildren = 8;

// Counters shared with the children (MAP_SHARED anonymous memory; lock-free atomics).
struct Board {
  std::atomic<uint64_t> successes[kChildren];
  std::atomic<uint64_t> refusals[kChildren];
  std::atomic<bool> start;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

class MultiProcessTest : public RegionFileTest {
 protected:
  void SetUp() override {
    RegionFileTest::SetUp();
    void* p =
        ::mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    board_ = new (p) Board();
  }
  void TearDown() override {
    ::munmap(board_, sizeof(Board));
    RegionFileTest::TearDown();
  }
  Board* board_ = nullptr;
};

TEST_F(MultiProcessTest, ConcurrentChargesNeverExceedTheLimit) {
  constexpr uint64_t kLimit = kGiB;
  auto checker = OpenOk(LimitInit(kLimit));
  ASSERT_NE(checker, nullptr);
  Board* board = board_;
  const std::string path = path_;
  std::vector<pid_t> kids;
  kids.reserve(kChildren);
  for (int c = 0; c < kChildren; ++c) {
    kids.push_back(Spawn([board, path, c]() -> int {
      auto r = SharedRegion::Open(path, LimitInit(kLimit));
      if (!r.ok()) return 10;
      SharedRegion& region = **r;
      while (!board->start.load()) std::this_thread::yield();
      std::mt19937_64 rng(static_cast<uint64_t>(c) * 7919 + 1);
      std::vector<uint64_t> held;
      const auto deadline = steady_clock::now() + std::chrono::milliseconds(1000);
      while (steady_clock::now() < deadline) {
        if (held.size() < 4 && (held.empty() || rng() % 2 == 0)) {
          const uint64_t bytes = 1 + rng() % (300 * kMiB);  // odd sizes: exact to the byte
          Status st = region.TryCharge(0, bytes, ChargeKind::kData);
          if (st.ok()) {
            held.push_back(bytes);
            board->successes[c]++;
            if (region.Usage(0) > kLimit) return 15;
          } else if (st.code() == Code::kOutOfMemory) {
            board->refusals[c]++;
          } else {
            return 11;
          }
        } else {
          const size_t i = rng() % held.size();
          if (!region.Uncharge(0, held[i], ChargeKind::kData).ok()) return 12;
          held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
        }
      }
      for (uint64_t bytes : held) {
        if (!region.Uncharge(0, bytes, ChargeKind::kData).ok()) return 12;
      }
      if (region.ProcessUsage(0) != 0) return 13;
      if (!region.Unregister().ok()) return 14;
      return 0;
    }));
  }
  board->start = true;
  uint64_t max_locked = 0;
  uint64_t samples = 0;
  std::vector<int> codes(kChildren, -1);
  int running = kChildren;
  while (running > 0) {
    max_locked = std::max(max_locked, checker->Usage(0));
    ++samples;
    for (int c = 0; c < kChildren; ++c) {
      int status = 0;
      if (codes[c] < 0 && ::waitpid(kids[c], &status, WNOHANG) == kids[c]) {
        codes[c] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        --running;
      }
    }
  }
  for (int c = 0; c < kChildren; ++c) EXPECT_EQ(codes[c], 0) << "child " << c;
  EXPECT_LE(max_locked, kLimit);
  EXPECT_GT(samples, 10u);
  uint64_t ok = 0;
  uint64_t refused = 0;
  for (int c = 0; c < kChildren; ++c) {
    ok += board->successes[c];
    refused += board->refusals[c];
  }
  EXPECT_GT(ok, 100u);
  EXPECT_GT(refused, 0u) << "no contention: the test did not exercise the limit";
  EXPECT_EQ(checker->Usage(0), 0u);
  EXPECT_EQ(checker->UsageSnapshot(0), 0u);
  RecordProperty("charges", static_cast<int>(ok));
  RecordProperty("refusals", static_cast<int>(refused));
}

TEST_F(MultiProcessTest, ConcurrentFillStopsExactlyAtTheLimit) {
  constexpr uint64_t kSize = 10'000'000;    // not a divisor of the limit
  constexpr uint64_t kFits = kGiB / kSize;  // 107
  auto parent = OpenOk(LimitInit(kGiB));
  ASSERT_NE(parent, nullptr);
  int ready[2];
  int go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  Board* board = board_;
  const std::string path = path_;
  std::vector<pid_t> kids;
  kids.reserve(kChildren);
  for (int c = 0; c < kChildren; ++c) {
    kids.push_back(Spawn([&, c]() -> int {
      ::close(ready[0]);
      ::close(go[1]);
      auto r = SharedRegion::Open(path, LimitInit(kGiB));
      if (!r.ok()) return 10;
      if (!(*r)->Register().ok()) return 16;
      while (!board->start.load()) std::this_thread::yield();
      for (;;) {
        Status st = (*r)->TryCharge(0, kSize, ChargeKind::kData);
        if (st.code() == Code::kOutOfMemory) break;
        if (!st.ok()) return 11;
        board->successes[c]++;
      }
      char b = 1;
      if (::write(ready[1], &b, 1) != 1) return 12;
      if (::read(go[0], &b, 1) < 0) return 13;  // EOF when the parent closes it
      return (*r)->Unregister().ok() ? 0 : 14;
    }));
  }
  ::close(ready[1]);
  ::close(go[0]);
  board->start = true;
  for (int c = 0; c < kChildren; ++c) {
    char b;
    ASSERT_EQ(::read(ready[0], &b, 1), 1);
  }
  uint64_t total = 0;
  for (int c = 0; c < kChildren; ++c) total += board->successes[c];
  EXPECT_EQ(total, kFits);
  EXPECT_EQ(parent->Usage(0), kFits * kSize);

  // Half die by SIGKILL (their charges stay until reclaimed), half exit cleanly.
  uint64_t killed_bytes = 0;
  for (int c = 0; c < kChildren / 2; ++c) {
    ::kill(kids[c], SIGKILL);
    killed_bytes += board->successes[c] * kSize;
  }
  ::close(go[1]);
  for (int c = 0; c < kChildren; ++c) {
    EXPECT_EQ(WaitExit(kids[c]), c < kChildren / 2 ? 128 + SIGKILL : 0) << "child " << c;
  }
  ::close(ready[0]);
  EXPECT_EQ(parent->Usage(0), killed_bytes);
  EXPECT_EQ(parent->ReclaimDead(), kChildren / 2);
  EXPECT_EQ(parent->Usage(0), 0u);
}

TEST_F(MultiProcessTest, SigkilledProcessChargesAreReclaimedEvenAsAZombie) {
  auto parent = OpenOk(LimitInit(kGiB));
  ASSERT_NE(parent, nullptr);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const std::string path = path_;
  pid_t kid = Spawn([&]() -> int {
    ::close(ready[0]);
    auto r = SharedRegion::Open(path, LimitInit(kGiB));
    if (!r.ok()) return 10;
    if (!(*r)->TryCharge(0, 600 * kMiB, ChargeKind::kData).ok()) return 11;
    char b = 1;
    if (::write(ready[1], &b, 1) != 1) return 12;
    for (;;) ::pause();
  });
  ::close(ready[1]);
  char b;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(parent->Usage(0), 600 * kMiB);
  EXPECT_EQ(parent->TryCharge(0, 600 * kMiB, ChargeKind::kData).code(), Code::kOutOfMemory);

  ASSERT_EQ(::kill(kid, SIGKILL), 0);
  // Not reaped yet: the child is a zombie, which kill(pid, 0) alone would call alive.
  for (int i = 0; i < 5000; ++i) {
    auto st = sys::ReadProcStat(kid);
    if (st && st->state == 'Z') break;
    ::usleep(1000);
  }
  ASSERT_EQ(sys::ReadProcStat(kid)->state, 'Z');
  ASSERT_TRUE(parent->TryCharge(0, 600 * kMiB, ChargeKind::kData).ok());
  EXPECT_EQ(parent->Usage(0), 600 * kMiB);
  EXPECT_EQ(WaitExit(kid), 128 + SIGKILL);
}

// Starts a child that runs `take_lock` (0 when it holds the lock, else an exit code) and then
// waits to be killed; returns once the child holds the lock (-1 when it could not take it).
pid_t SpawnLockHolder(const std::function<int()>& take_lock) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t kid = Spawn([&]() -> int {
    ::close(ready[0]);
    if (const int rc = take_lock(); rc != 0) return rc;
    char b = 1;
    if (::write(ready[1], &b, 1) != 1) return 12;
    for (;;) ::pause();
  });
  ::close(ready[1]);
  char b;
  const bool holding = ::read(ready[0], &b, 1) == 1;
  ::close(ready[0]);
  return holding ? kid : -1;
}

// The sidecar mutex taken exactly as SharedRegion takes it (0 when held).
int TakeRegionMutex(const std::string& region_path) {
  // Leaked on purpose: the holder keeps the lock until it is killed.
  auto mutex = RegionMutex::Open(RegionMutex::PathFor(region_path));
  if (!mutex.ok()) return 10;
  bool owner_died = false;
  if (!mutex.value()->Lock(&owner_died).ok()) return 11;
  (void)std::move(mutex).value().release();
  return 0;
}

// A charge waits while `kid` holds the region lock and goes through once it is SIGKILLed.
void ExpectChargeWaitsForTheHolder(SharedRegion& region, pid_t kid) {
  std::atomic<bool> charged{false};
  std::thread charger([&] { charged = region.TryCharge(0, kMiB, ChargeKind::kData).ok(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_FALSE(charged.load()) << "charged while another process held the region lock";
  const auto killed_at = steady_clock::now();
  ASSERT_EQ(::kill(kid, SIGKILL), 0);
  charger.join();
  EXPECT_TRUE(charged.load());
  EXPECT_LT(steady_clock::now() - killed_at, std::chrono::seconds(2));
  EXPECT_EQ(WaitExit(kid), 128 + SIGKILL);
}

TEST_F(MultiProcessTest, RegionLockExcludesOthersAndDiesWithItsHolder) {
  auto parent = OpenOk(LimitInit(kGiB));
  ASSERT_NE(parent, nullptr);
  ASSERT_TRUE(parent->uses_fast_lock()) << "a region this version creates has the sidecar mutex";
  // The child takes the region lock exactly as SharedRegion does and is killed holding it.
  const std::string path = path_;
  const pid_t kid = SpawnLockHolder([&] { return TakeRegionMutex(path); });
  ASSERT_GT(kid, 0);
  ExpectChargeWaitsForTheHolder(*parent, kid);
  EXPECT_EQ(parent->Usage(0), kMiB);
}

TEST_F(MultiProcessTest, ARegionCreatedWithoutTheSidecarKeepsTheRecordLock) {
  // As a region made by an older libvgpu: no sidecar. Every process then uses the record lock,
  // so a process that holds it still excludes the others.
  { ASSERT_NE(OpenOk(LimitInit(kGiB)), nullptr); }
  ASSERT_EQ(::unlink(RegionMutex::PathFor(path_).c_str()), 0);
  auto parent = OpenOk(LimitInit(kGiB));
  ASSERT_NE(parent, nullptr);
  EXPECT_FALSE(parent->uses_fast_lock());
  const std::string path = path_;
  const pid_t kid = SpawnLockHolder([&]() -> int {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return 10;
    sys::LockMode mode = sys::LockMode::kOfd;
    return sys::LockByte(fd, layout::kLockOffset, true, &mode).ok() ? 0 : 11;
  });
  ASSERT_GT(kid, 0);
  ExpectChargeWaitsForTheHolder(*parent, kid);
}

TEST_F(MultiProcessTest, AForeignOrTruncatedSidecarIsRefusedWithAWarningAndTheRecordLockUsed) {
  { ASSERT_NE(OpenOk(LimitInit(kGiB)), nullptr); }
  const std::string sidecar = RegionMutex::PathFor(path_);
  for (const std::string& content : {std::string(4096, 'x'), std::string("short")}) {
    {
      std::ofstream out(sidecar, std::ios::binary | std::ios::trunc);
      out << content;
    }
    auto region = OpenOk(LimitInit(kGiB));
    ASSERT_NE(region, nullptr);
    EXPECT_FALSE(region->uses_fast_lock());
    ASSERT_EQ(region->warnings().size(), 1u);
    EXPECT_NE(region->warnings()[0].find("region lock: " + sidecar), std::string::npos)
        << region->warnings()[0];
    EXPECT_NE(region->warnings()[0].find("using the slower record lock"), std::string::npos);
    EXPECT_TRUE(region->TryCharge(0, kMiB, ChargeKind::kData).ok()) << "charging still works";
  }
}

TEST_F(MultiProcessTest, AHolderKilledMidUpdateLeavesConsistentTotals) {
  auto parent = OpenOk(LimitInit(kGiB));
  ASSERT_NE(parent, nullptr);
  ASSERT_TRUE(parent->TryCharge(0, 100 * kMiB, ChargeKind::kData).ok());
  const int slot = parent->own_slot();
  const std::string path = path_;
  // The child takes the lock and tears the parent's slot as a writer killed between its two
  // stores would: the typed counter moved, the total did not, the seqlock is odd.
  const pid_t kid = SpawnLockHolder([&]() -> int {
    if (const int rc = TakeRegionMutex(path); rc != 0) return rc;
    auto& raw = const_cast<layout::Region&>(parent->raw());
    raw.procs[slot].used[0].data_size += 50 * kMiB;
    raw.procs[slot].seqlock |= 1;
    return 0;
  });
  ASSERT_GT(kid, 0);
  ASSERT_EQ(::kill(kid, SIGKILL), 0);
  EXPECT_EQ(WaitExit(kid), 128 + SIGKILL);
  EXPECT_EQ(parent->Usage(0), 150 * kMiB) << "the total is re-derived from the typed counters";
  EXPECT_EQ(parent->raw().procs[slot].seqlock % 2, 0u);
  EXPECT_EQ(parent->UsageSnapshot(0), 150 * kMiB);
  EXPECT_EQ(parent->TryCharge(0, kGiB - 150 * kMiB + 1, ChargeKind::kData).code(),
            Code::kOutOfMemory);
}

TEST_F(MultiProcessTest, ForkedChildRegistersItsOwnSlotAndOwnLocks) {
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  ASSERT_TRUE(region->TryCharge(0, 100 * kMiB, ChargeKind::kData).ok());
  const int parent_slot = region->own_slot();
  auto host_pid_lock = region->LockHostPidDiscovery(-1);  // held by the parent across fork
  ASSERT_TRUE(host_pid_lock.ok());

  region->PrepareFork();  // what libvgpu's pthread_atfork handlers do
  pid_t kid = ::fork();
  if (kid == 0) {
    region->AfterForkChild();
    int rc = [&]() -> int {
      if (region->own_slot() != -1) return 10;
      if (region->ProcessUsage(0) != 0) return 11;  // the parent's charges are not ours
      // The child's record locks are its own: the parent's host-PID lock excludes it.
      auto lock = region->LockHostPidDiscovery(0);
      if (lock.ok() || lock.status().code() != Code::kTimeout) return 12;
      if (!region->TryCharge(0, 50 * kMiB, ChargeKind::kData).ok()) return 13;
      if (region->own_slot() == parent_slot) return 14;
      if (region->ProcessUsage(0) != 50 * kMiB) return 15;
      if (region->Usage(0) != 150 * kMiB) return 16;
      if (region->TryCharge(0, kGiB - 150 * kMiB + 1, ChargeKind::kData).code() !=
          Code::kOutOfMemory) {
        return 17;
      }
      if (!region->Unregister().ok()) return 18;
      return 0;
    }();
    ::_exit(rc);
  }
  region->AfterForkParent();
  EXPECT_EQ(WaitExit(kid), 0);
  EXPECT_EQ(region->own_slot(), parent_slot);
  EXPECT_EQ(region->ProcessUsage(0), 100 * kMiB);
  EXPECT_EQ(region->Usage(0), 100 * kMiB);
}

TEST_F(MultiProcessTest, ForkWithoutHandlersStillChargesTheChildsOwnSlot) {
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  ASSERT_TRUE(region->TryCharge(0, 100 * kMiB, ChargeKind::kData).ok());
  const int parent_slot = region->own_slot();
  SharedRegion* r = region.get();
  pid_t kid = Spawn([r, parent_slot]() -> int {
    if (r->ProcessUsage(0) != 0) return 10;
    if (!r->TryCharge(0, 50 * kMiB, ChargeKind::kData).ok()) return 11;
    if (r->own_slot() == parent_slot) return 12;
    if (r->Usage(0) != 150 * kMiB) return 13;
    if (!r->Unregister().ok()) return 14;
    return 0;
  });
  EXPECT_EQ(WaitExit(kid), 0);
  EXPECT_EQ(region->Usage(0), 100 * kMiB);
  EXPECT_EQ(region->ProcessUsage(0), 100 * kMiB);
}

TEST_F(MultiProcessTest, ExitedChildWithoutUnregisterIsReclaimedAtRegistration) {
  const std::string path = path_;
  pid_t kid = Spawn([&]() -> int {
    auto r = SharedRegion::Open(path, LimitInit(kGiB));
    if (!r.ok()) return 10;
    ::_exit((*r)->TryCharge(0, kGiB, ChargeKind::kData).ok() ? 0 : 11);  // no destructor, no atexit
  });
  ASSERT_EQ(WaitExit(kid), 0);
  auto region = OpenOk(LimitInit(kGiB));
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(region->Usage(0), kGiB);
  ASSERT_TRUE(region->Register().ok());
  EXPECT_EQ(region->Usage(0), 0u);
  EXPECT_EQ(region->own_slot(), 0);  // the dead child's slot, reused in place
}

TEST(PrivateRegionForkTest, ChildDropsTheParentsCharges) {
  auto r = SharedRegion::Private(LimitInit(kGiB));
  ASSERT_TRUE(r.ok());
  SharedRegion* region = r->get();
  ASSERT_TRUE(region->TryCharge(0, 600 * kMiB, ChargeKind::kData).ok());
  region->PrepareFork();
  pid_t kid = ::fork();
  if (kid == 0) {
    region->AfterForkChild();
    int rc = region->Usage(0) == 0 && region->TryCharge(0, kGiB, ChargeKind::kData).ok() ? 0 : 1;
    ::_exit(rc);
  }
  region->AfterForkParent();
  EXPECT_EQ(WaitExit(kid), 0);
  EXPECT_EQ(region->Usage(0), 600 * kMiB);
}

}  // namespace
}  // namespace hami::vgpu
