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
  auto alive = [](std::string_view, std::string_view) { return OwnerVerdict{}; };
  auto gone = [](std::string_view, std::string_view) {
    return OwnerVerdict{OwnerState::kGone, "not found"};
  };
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
    return OwnerVerdict{};
  };
  (void)DecideAcquire(std::nullopt, "d", "me", kNow, kTimeout, count);
  (void)DecideAcquire(Lock(kNow, "d", "me"), "d", "me", kNow, kTimeout, count);
  (void)DecideAcquire(Lock(kNow - 1000, "d", "x"), "d", "me", kNow, kTimeout, count);
  EXPECT_EQ(lookups, 0);
  (void)DecideAcquire(Lock(kNow, "d", "x"), "d", "me", kNow, kTimeout, count);
  EXPECT_EQ(lookups, 1);
}

TEST(DecideAcquireTest, AnUnboundOwnerKeepsTheLockForTheGracePeriodOnly) {
  auto unbound = [](std::string_view, std::string_view) {
    return OwnerVerdict{OwnerState::kNotYetBound, "was not bound"};
  };
  EXPECT_EQ(
      DecideAcquire(Lock(kNow - 5, "default", "other"), "default", "me", kNow, kTimeout, unbound)
          .action,
      LockAction::kContended)
      << "its bind is between the lock and the Binding";
  LockDecision late = DecideAcquire(Lock(kNow - kUnboundOwnerGraceSeconds - 1, "default", "other"),
                                    "default", "me", kNow, kTimeout, unbound);
  EXPECT_EQ(late.action, LockAction::kAcquire);
  EXPECT_NE(late.reason.find("was not bound 61s after taking the lock"), std::string::npos)
      << late.reason;
}

TEST(DecideAcquireTest, OwnerNotAllocatingHereLosesTheLock) {
  auto elsewhere = [](std::string_view, std::string_view) {
    return OwnerVerdict{OwnerState::kNotHere, "it is bound to node-b"};
  };
  LockDecision d = DecideAcquire(Lock(kNow - 10, "default", "other"), "default", "me", kNow,
                                 kTimeout, elsewhere);
  EXPECT_EQ(d.action, LockAction::kAcquire);
  EXPECT_NE(d.reason.find("default/other is not being allocated here: it is bound to node-b"),
            std::string::npos)
      << d.reason;
  // A sweep (nobody asks) removes the same lock, and leaves a legitimate one.
  EXPECT_EQ(
      DecideAcquire(Lock(kNow - 10, "default", "other"), "", "", kNow, kTimeout, elsewhere).action,
      LockAction::kAcquire);
  auto here = [](std::string_view, std::string_view) { return OwnerVerdict{}; };
  EXPECT_EQ(DecideAcquire(Lock(kNow - 10, "default", "other"), "", "", kNow, kTimeout, here).action,
            LockAction::kContended);
}

nlohmann::json OwnerPod(const std::string& node_name, std::optional<std::string> decided,
                        std::optional<std::string> bind_phase, const std::string& phase) {
  nlohmann::json pod = {{"metadata", {{"name", "p"}, {"namespace", "default"}}},
                        {"spec", nlohmann::json::object()},
                        {"status", {{"phase", phase}}}};
  if (!node_name.empty()) pod["spec"]["nodeName"] = node_name;
  if (decided) pod["metadata"]["annotations"]["hami.io/vgpu-node"] = *decided;
  if (bind_phase) pod["metadata"]["annotations"]["hami.io/bind-phase"] = *bind_phase;
  return pod;
}

TEST(ClassifyLockOwnerTest, Table) {
  struct Case {
    const char* name;
    std::optional<nlohmann::json> pod;
    OwnerState want;
  };
  const std::vector<Case> cases = {
      {"gone", std::nullopt, OwnerState::kGone},
      {"between lock and Binding", OwnerPod("", std::nullopt, std::nullopt, "Pending"),
       OwnerState::kNotYetBound},
      {"older scheduler: decided here, unbound", OwnerPod("", "n1", "allocating", "Pending"),
       OwnerState::kNotYetBound},
      {"bound here, allocating", OwnerPod("n1", "n1", "allocating", "Pending"),
       OwnerState::kAllocatingHere},
      {"bound here, no bind-phase", OwnerPod("n1", "n1", std::nullopt, "Pending"),
       OwnerState::kAllocatingHere},
      {"bound elsewhere", OwnerPod("n2", "n2", "success", "Running"), OwnerState::kNotHere},
      {"bound elsewhere, stale decision", OwnerPod("n2", "n1", "allocating", "Pending"),
       OwnerState::kNotHere},
      {"re-filtered to another node", OwnerPod("", "n2", "allocating", "Pending"),
       OwnerState::kNotHere},
      {"bound here without a decision", OwnerPod("n1", std::nullopt, std::nullopt, "Pending"),
       OwnerState::kNotHere},
      {"allocated, lock not released", OwnerPod("n1", "n1", "success", "Running"),
       OwnerState::kNotHere},
      {"bind failed", OwnerPod("", "n1", "failed", "Pending"), OwnerState::kNotHere},
      {"finished", OwnerPod("n1", "n1", "allocating", "Failed"), OwnerState::kNotHere},
  };
  for (const Case& c : cases) {
    const OwnerVerdict v = ClassifyLockOwner(c.pod ? &*c.pod : nullptr, "n1");
    EXPECT_EQ(v.state, c.want) << c.name << ": " << v.why;
    if (v.state != OwnerState::kAllocatingHere) EXPECT_FALSE(v.why.empty()) << c.name;
  }
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
