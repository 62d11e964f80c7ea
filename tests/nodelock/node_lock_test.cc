#include "nodelock/node_lock.h"

#include <gtest/gtest.h>

namespace hami::nodelock {
namespace {

constexpr int64_t kNow = 1735830245;  // 2025-01-02T15:04:05Z
constexpr int64_t kTimeout = 300;

std::string Lock(int64_t when, const std::string& ns, const std::string& name) {
  return EncodeNodeLock(NodeLock{when, ns, name, false}, 0);
}

TEST(DecideAcquireTest, Table) {
  auto alive = [](std::string_view, std::string_view) { return true; };
  auto gone = [](std::string_view, std::string_view) { return false; };
  struct Case {
    const char* name;
    std::optional<std::string> current;
    bool owner_alive;
    LockAction want;
  };
  const std::vector<Case> cases = {
      {"absent", std::nullopt, true, LockAction::kAcquire},
      {"empty", std::string(), true, LockAction::kAcquire},
      {"ours", Lock(kNow - 10, "default", "me"), true, LockAction::kAlreadyHeld},
      {"fresh other", Lock(kNow - 10, "default", "other"), true, LockAction::kContended},
      {"fresh other gone", Lock(kNow - 10, "default", "other"), false, LockAction::kAcquire},
      {"expired other", Lock(kNow - kTimeout - 1, "default", "other"), true, LockAction::kAcquire},
      {"exactly at timeout", Lock(kNow - kTimeout, "default", "other"), true,
       LockAction::kContended},
      {"legacy fresh", "2025-01-02T15:04:00Z", true, LockAction::kContended},
      {"legacy expired", "2025-01-02T14:00:00Z", true, LockAction::kAcquire},
      {"garbage", "not-a-lock", true, LockAction::kAcquire},
      {"same name other namespace", Lock(kNow - 10, "prod", "me"), true, LockAction::kContended},
  };
  for (const Case& c : cases) {
    LockDecision d = c.owner_alive
                         ? DecideAcquire(c.current, "default", "me", kNow, kTimeout, alive)
                         : DecideAcquire(c.current, "default", "me", kNow, kTimeout, gone);
    EXPECT_EQ(d.action, c.want) << c.name << ": " << d.reason;
    EXPECT_FALSE(d.reason.empty()) << c.name;
  }
}

TEST(DecideAcquireTest, OwnerLookupOnlyForFreshForeignLocks) {
  int lookups = 0;
  auto count = [&](std::string_view, std::string_view) {
    ++lookups;
    return true;
  };
  (void)DecideAcquire(std::nullopt, "d", "me", kNow, kTimeout, count);
  (void)DecideAcquire(Lock(kNow, "d", "me"), "d", "me", kNow, kTimeout, count);
  (void)DecideAcquire(Lock(kNow - 1000, "d", "x"), "d", "me", kNow, kTimeout, count);
  EXPECT_EQ(lookups, 0);
  (void)DecideAcquire(Lock(kNow, "d", "x"), "d", "me", kNow, kTimeout, count);
  EXPECT_EQ(lookups, 1);
}

TEST(MayReleaseTest, OnlyOwnerUnlessForcedOrLegacy) {
  const std::string ours = Lock(kNow, "default", "me");
  const std::string theirs = Lock(kNow, "default", "other");
  EXPECT_TRUE(MayRelease(ours, "default", "me", false));
  EXPECT_FALSE(MayRelease(theirs, "default", "me", false));
  EXPECT_TRUE(MayRelease(theirs, "default", "me", true));
  EXPECT_TRUE(MayRelease("2025-01-02T15:04:00Z", "default", "me", false));
  EXPECT_TRUE(MayRelease("garbage", "default", "me", false));
}

}  // namespace
}  // namespace hami::nodelock
