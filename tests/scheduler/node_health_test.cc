#include "scheduler/node_health.h"

#include <gtest/gtest.h>

#include "device/codec.h"

namespace hami::scheduler {
namespace {

constexpr int64_t kNow = 1735830245;

std::string Requesting(int64_t when) {
  return EncodeHandshake(HandshakeKind::kRequesting, when, 0);
}

TEST(DecideHandshakeTest, Table) {
  struct Case {
    const char* name;
    std::optional<std::string> value;
    int64_t allocatable;
    bool healthy, write, cleanup;
  };
  const std::vector<Case> cases = {
      {"absent", std::nullopt, 0, true, true, false},
      {"reported by an old plugin", "Reported_2025-01-02 15:04:05", 0, true, true, false},
      {"deleted", "Deleted_2025-01-02 15:04:05", 10, true, true, false},
      {"fresh request", Requesting(kNow - 30), 0, true, false, false},
      {"unreadable time", "Requesting_yesterday", 0, true, false, false},
      {"expired but devices advertised", Requesting(kNow - 120), 80, true, false, false},
      {"expired and no devices", Requesting(kNow - 120), 0, false, false, true},
  };
  for (const Case& c : cases) {
    HandshakeDecision d = DecideHandshake(c.value, kNow, c.allocatable, 0);
    EXPECT_EQ(d.healthy, c.healthy) << c.name;
    EXPECT_EQ(d.write_requesting, c.write) << c.name;
    EXPECT_EQ(d.cleanup, c.cleanup) << c.name;
    EXPECT_FALSE(d.reason.empty()) << c.name;
  }
}

TEST(AllocatableTrackerTest, DropToZeroIsUnhealthyChangesAreReported) {
  AllocatableTracker tracker;
  auto first = tracker.Observe("n1", 80, "[reg]");
  EXPECT_TRUE(first.healthy);
  EXPECT_TRUE(first.changed);
  auto same = tracker.Observe("n1", 80, "[reg]");
  EXPECT_TRUE(same.healthy);
  EXPECT_FALSE(same.changed);
  EXPECT_TRUE(tracker.Observe("n1", 80, "[reg2]").changed);
  auto gone = tracker.Observe("n1", 0, "[reg2]");
  EXPECT_FALSE(gone.healthy);
  EXPECT_TRUE(gone.changed);
  EXPECT_EQ(gone.reason, "allocatable count fell to 0");
  auto still_gone = tracker.Observe("n1", 0, "[reg2]");
  EXPECT_FALSE(still_gone.healthy) << "a count that stays 0 stays unhealthy";
  EXPECT_EQ(still_gone.reason, "") << "and is not reported again";
  // A new node whose kubelet has not reported any device yet: unusable, but nothing fell.
  auto fresh = tracker.Observe("n2", 0, "");
  EXPECT_FALSE(fresh.healthy);
  EXPECT_EQ(fresh.reason, "");
  tracker.Forget("n1");
  EXPECT_TRUE(tracker.Observe("n1", 80, "[reg2]").changed);
}

}  // namespace
}  // namespace hami::scheduler
