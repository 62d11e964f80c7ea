#include "vgpu/vmm_ledger.h"

#include <gtest/gtest.h>

namespace hami::vgpu {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

TEST(VmmLedgerTest, AnUnmappedHandleIsUnchargedAtRelease) {
  VmmLedger ledger;
  ledger.Created(7, 0, 256 * kMiB);
  const DeviceBytes freed = ledger.Released(7);
  EXPECT_EQ(freed.device, 0);
  EXPECT_EQ(freed.bytes, 256 * kMiB);
  EXPECT_EQ(ledger.live_allocations(), 0u);
}

TEST(VmmLedgerTest, MapThenReleaseKeepsTheChargeUntilTheLastUnmap) {
  VmmLedger ledger;
  ledger.Created(7, 1, 256 * kMiB);
  ledger.Mapped(0x1000000, 128 * kMiB, 7);
  ledger.Mapped(0x9000000, 128 * kMiB, 7);  // mapped twice (two halves)
  EXPECT_EQ(ledger.Released(7).device, -1) << "still mapped: the memory lives";
  EXPECT_EQ(ledger.charged_bytes(1), 256 * kMiB);
  EXPECT_TRUE(ledger.Unmapped(0x1000000, 128 * kMiB).empty()) << "one mapping left";
  const auto freed = ledger.Unmapped(0x9000000, 128 * kMiB);
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_EQ(freed[0].device, 1);
  EXPECT_EQ(freed[0].bytes, 256 * kMiB);
  EXPECT_EQ(ledger.live_allocations(), 0u);
}

TEST(VmmLedgerTest, UnmapBeforeReleaseLeavesTheChargeToRelease) {
  VmmLedger ledger;
  ledger.Created(7, 0, 64 * kMiB);
  ledger.Mapped(0x1000000, 64 * kMiB, 7);
  EXPECT_TRUE(ledger.Unmapped(0x1000000, 64 * kMiB).empty());
  EXPECT_EQ(ledger.Released(7).bytes, 64 * kMiB);
}

TEST(VmmLedgerTest, OneUnmapOverSeveralMappingsFreesEveryReleasedHandle) {
  VmmLedger ledger;
  for (uint64_t h = 1; h <= 4; ++h) {
    ledger.Created(h, 0, 2 * kMiB);
    ledger.Mapped(h * 2 * kMiB, 2 * kMiB, h);
    if (h != 3) EXPECT_EQ(ledger.Released(h).device, -1);
  }
  const auto freed = ledger.Unmapped(0, 64 * kMiB);  // as cuMemAddressFree of the reservation
  EXPECT_EQ(freed.size(), 3u);
  EXPECT_EQ(ledger.live_allocations(), 1u) << "handle 3 is unmapped but not released";
  EXPECT_EQ(ledger.Released(3).bytes, 2 * kMiB);
}

TEST(VmmLedgerTest, UnknownHandlesAndRangesAreIgnored) {
  VmmLedger ledger;
  EXPECT_EQ(ledger.Released(99).device, -1);
  ledger.Mapped(0x1000, 4096, 99);  // a handle made behind libvgpu's back
  EXPECT_TRUE(ledger.Unmapped(0x1000, 4096).empty());
  EXPECT_TRUE(ledger.Unmapped(UINT64_MAX - 10, 100).empty()) << "no overflow at the top";
}

TEST(VmmLedgerTest, AReusedHandleValueStartsAFreshRecord) {
  VmmLedger ledger;
  ledger.Created(5, 0, 2 * kMiB);
  EXPECT_EQ(ledger.Released(5).bytes, 2 * kMiB);
  ledger.Created(5, 0, 4 * kMiB);
  ledger.Mapped(0x4000, 4 * kMiB, 5);
  EXPECT_EQ(ledger.Released(5).device, -1);
  EXPECT_EQ(ledger.Unmapped(0x4000, 1)[0].bytes, 4 * kMiB);
}

}  // namespace
}  // namespace hami::vgpu
