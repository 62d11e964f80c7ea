#include "scheduler/leader.h"

#include <gtest/gtest.h>

#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

constexpr int64_t kNow = 1735830245;  // 2025-01-02T15:04:05Z

nlohmann::json Lease(const std::string& holder, const std::string& renew, int duration = 15) {
  return {{"kind", "Lease"},
          {"apiVersion", "coordination.k8s.io/v1"},
          {"metadata", {{"name", "kube-scheduler"}, {"namespace", "kube-system"}}},
          {"spec",
           {{"holderIdentity", holder}, {"leaseDurationSeconds", duration}, {"renewTime", renew}}}};
}

TEST(LeaseHeldByTest, Table) {
  EXPECT_TRUE(LeaseHeldBy(Lease("hami-0_3f2a", "2025-01-02T15:04:00.000000Z"), "hami-0", kNow));
  EXPECT_TRUE(LeaseHeldBy(Lease("hami-0", "2025-01-02T15:04:00Z"), "hami-0", kNow));
  EXPECT_FALSE(
      LeaseHeldBy(Lease("hami-01_x", "2025-01-02T15:04:00Z"), "hami-0", kNow));  // prefix only
  EXPECT_FALSE(LeaseHeldBy(Lease("other_x", "2025-01-02T15:04:00Z"), "hami-0", kNow));
  EXPECT_FALSE(LeaseHeldBy(Lease("hami-0_x", "2025-01-02T15:03:00Z"), "hami-0", kNow));  // expired
  EXPECT_FALSE(LeaseHeldBy(Lease("hami-0_x", "yesterday"), "hami-0", kNow));
  EXPECT_FALSE(LeaseHeldBy(nlohmann::json::object(), "hami-0", kNow));
  EXPECT_FALSE(LeaseHeldBy(Lease("hami-0_x", "2025-01-02T15:04:00Z"), "", kNow));
}

TEST(LeaderWatcherTest, FollowsTheLeaseOnTheApiServer) {
  fakes::FakeApiServer api;
  auto url = api.Start();
  ASSERT_TRUE(url.ok());
  auto client = scheduler::testing::TestClient(*url, 1);
  std::vector<bool> changes;
  LeaderWatcher watcher(*client, "kube-system", "kube-scheduler", "hami-0",
                        std::chrono::milliseconds(10), [&](bool l) { changes.push_back(l); });
  watcher.PollOnce();  // no lease yet
  EXPECT_FALSE(watcher.IsLeader());
  const std::string now = kube::FormatRfc3339Utc(std::chrono::system_clock::now(), true);
  ASSERT_TRUE(api.Put(Lease("hami-0_abc", now, 30)).ok());
  watcher.PollOnce();
  EXPECT_TRUE(watcher.IsLeader());
  ASSERT_TRUE(api.Put(Lease("hami-1_def", now, 30)).ok());
  watcher.Start();
  for (int i = 0; i < 200 && watcher.IsLeader(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  watcher.Stop();
  EXPECT_FALSE(watcher.IsLeader());
  EXPECT_EQ(changes, (std::vector<bool>{true, false}));
}

}  // namespace
}  // namespace hami::scheduler
