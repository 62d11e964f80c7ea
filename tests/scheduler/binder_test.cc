#include "scheduler/binder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "device/annotations.h"
#include "device/codec.h"
#include "scheduler/pod_group.h"
#include "scheduler/state_sync.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

constexpr int64_t kNow = 1735830245;

class BinderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = server_.Start();
    ASSERT_TRUE(url.ok()) << url.status().message();
    client_ = testing::TestClient(*url, 2);
    ASSERT_TRUE(
        server_.Put({{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "node-a"}}}})
            .ok());
    binder_ =
        std::make_unique<Binder>(*client_, registry_, ledger_, BindOptions{}, [] { return kNow; });
  }

  std::string AddPod(const std::string& name) {
    auto stored =
        server_.Put({{"kind", "Pod"},
                     {"apiVersion", "v1"},
                     {"metadata", {{"name", name}, {"namespace", "default"}}},
                     {"spec", {{"containers", nlohmann::json::array({{{"name", "c"}}})}}}});
    EXPECT_TRUE(stored.ok());
    const std::string uid = (*stored)["metadata"]["uid"].get<std::string>();
    PodAllocation allocation;
    allocation.uid = uid;
    allocation.ns = "default";
    allocation.name = name;
    allocation.node = "node-a";
    allocation.by_vendor["NVIDIA"] = {{{"GPU-a", "NVIDIA", 1000, 10}}};
    allocation.in_flight = true;
    allocation.decision_written = false;  // as /filter leaves it
    allocation.decided_unix_seconds = kNow - 1;
    ledger_.AddPod(allocation);
    return uid;
  }

  // A pod that exists on the server with the given annotations and node (not in the ledger).
  void PutOwner(const std::string& name, nlohmann::json annotations, const std::string& node) {
    nlohmann::json pod = {
        {"kind", "Pod"},
        {"apiVersion", "v1"},
        {"metadata", {{"name", name}, {"namespace", "default"}, {"annotations", annotations}}},
        {"spec", {{"containers", nlohmann::json::array({{{"name", "c"}}})}}}};
    if (!node.empty()) pod["spec"]["nodeName"] = node;
    ASSERT_TRUE(server_.Put(pod).ok());
  }

  void SetLock(const std::string& owner, int64_t age_seconds = 10) {
    auto node = *server_.Get("nodes", "", "node-a");
    node["metadata"]["annotations"][kNodeLockAnnotation] =
        EncodeNodeLock(NodeLock{kNow - age_seconds, "default", owner, false}, 0);
    ASSERT_TRUE(server_.Put(node).ok());
  }

  std::string LockValue() {
    auto node = server_.Get("nodes", "", "node-a");
    auto annotations = (*node)["metadata"].value("annotations", nlohmann::json::object());
    return annotations.value(kNodeLockAnnotation, std::string());
  }

  ExtenderBindingArgs Args(const std::string& name, const std::string& uid) {
    return ExtenderBindingArgs{name, "default", uid, "node-a"};
  }

  fakes::FakeApiServer server_;
  std::unique_ptr<kube::KubeClient> client_;
  VendorRegistry registry_ = *MakeVendorRegistry(DefaultDeviceConfig());
  UsageLedger ledger_;
  std::unique_ptr<Binder> binder_;
};

TEST_F(BinderTest, WritesTheDecisionLocksAndBinds) {
  const std::string uid = AddPod("p1");
  server_.ClearRequests();
  EXPECT_EQ(binder_->Bind(Args("p1", uid)), "");
  auto pod = server_.Get("pods", "default", "p1");
  EXPECT_EQ((*pod)["spec"]["nodeName"], "node-a");
  const nlohmann::json& annotations = (*pod)["metadata"]["annotations"];
  EXPECT_EQ(annotations[kBindPhaseAnnotation], "allocating");
  EXPECT_EQ(annotations[kBindTimeAnnotation], std::to_string(kNow));
  EXPECT_EQ(annotations[kVgpuNodeAnnotation], "node-a");
  EXPECT_EQ(annotations[kVgpuTimeAnnotation], std::to_string(kNow - 1));
  EXPECT_EQ(annotations["hami.io/vgpu-devices-allocated"], "GPU-a,NVIDIA,1000,10:;");
  EXPECT_EQ(annotations["hami.io/vgpu-devices-to-allocate"], "GPU-a,NVIDIA,1000,10:;");
  EXPECT_TRUE(ledger_.GetPod(uid)->decision_written);
  auto lock = ParseNodeLock(LockValue());
  ASSERT_TRUE(lock.ok()) << LockValue();
  EXPECT_EQ(lock->ns, "default");
  EXPECT_EQ(lock->name, "p1");
  // One node write (the lock) and the Binding, which carries the decision; no pod patch and
  // no success event by default.
  EXPECT_EQ(server_.RequestCount("patch", "/pods/"), 0);
  EXPECT_EQ(server_.RequestCount("patch", "/nodes/"), 1);
  EXPECT_EQ(server_.RequestCount("create", "/binding"), 1);
  EXPECT_EQ(server_.RequestCount("create", "/events"), 0);
}

TEST_F(BinderTest, TheDecisionArrivesWithTheBinding) {
  const std::string uid = AddPod("p1");
  std::vector<std::string> seen;
  BindOptions options;
  options.emit_success_events = true;
  options.after_step = [&](std::string_view step) {
    auto pod = *server_.Get("pods", "default", "p1");
    const nlohmann::json annotations =
        pod["metadata"].value("annotations", nlohmann::json::object());
    seen.push_back(std::string(step) + " lock=" + (LockValue().empty() ? "no" : "yes") +
                   " decided=" + annotations.value(kVgpuNodeAnnotation, "") +
                   " phase=" + annotations.value(kBindPhaseAnnotation, "") +
                   " node=" + pod["spec"].value("nodeName", ""));
  };
  binder_ = std::make_unique<Binder>(*client_, registry_, ledger_, options, [] { return kNow; });
  EXPECT_EQ(binder_->Bind(Args("p1", uid)), "");
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "locked lock=yes decided= phase= node=",
                      "bound lock=yes decided=node-a phase=allocating node=node-a"}));
  EXPECT_EQ(server_.RequestCount("create", "/events"), 1);
}

TEST_F(BinderTest, LocksLeftBehindAreTakenOverAtOnce) {
  // A lock whose owner is not being allocated on this node never blocks it: its scheduler was
  // killed between the lock and the Binding (longer ago than the grace), it was re-filtered to
  // another node, bound elsewhere, or already allocated.
  const struct {
    const char* what;
    nlohmann::json annotations;
    std::string node;
    int64_t lock_age_seconds = 10;
  } orphans[] = {
      {"never bound", nlohmann::json::object(), "", nodelock::kUnboundOwnerGraceSeconds + 1},
      {"decided elsewhere",
       {{kVgpuNodeAnnotation, "node-b"}, {kBindPhaseAnnotation, "allocating"}},
       ""},
      {"bound elsewhere",
       {{kVgpuNodeAnnotation, "node-b"}, {kBindPhaseAnnotation, "success"}},
       "node-b"},
      {"allocated here",
       {{kVgpuNodeAnnotation, "node-a"}, {kBindPhaseAnnotation, "success"}},
       "node-a"},
  };
  int n = 0;
  for (const auto& orphan : orphans) {
    const std::string owner = "owner-" + std::to_string(n);
    const std::string pod = "p-" + std::to_string(n++);
    PutOwner(owner, orphan.annotations, orphan.node);
    SetLock(owner, orphan.lock_age_seconds);
    const std::string uid = AddPod(pod);
    EXPECT_EQ(binder_->Bind(Args(pod, uid)), "") << orphan.what;
    EXPECT_EQ(ParseNodeLock(LockValue())->name, pod) << orphan.what;
  }
  // A legitimate lock is respected: its owner is being allocated here, or its bind is between
  // the lock and the Binding.
  PutOwner("busy", {{kVgpuNodeAnnotation, "node-a"}, {kBindPhaseAnnotation, "allocating"}},
           "node-a");
  SetLock("busy");
  const std::string uid = AddPod("waiting");
  EXPECT_NE(binder_->Bind(Args("waiting", uid)).find("locked within 300s by default/busy"),
            std::string::npos);
  EXPECT_EQ(ParseNodeLock(LockValue())->name, "busy");
  PutOwner("binding", nlohmann::json::object(), "");
  SetLock("binding", 5);
  const std::string uid2 = AddPod("waiting-2");
  EXPECT_NE(binder_->Bind(Args("waiting-2", uid2)).find("by default/binding"), std::string::npos);
}

TEST_F(BinderTest, OrphanSweepReleasesOnlyLocksNobodyMayHold) {
  EXPECT_EQ(*binder_->locker().ReleaseIfOrphaned("node-a"), "");  // not locked
  PutOwner("busy", {{kVgpuNodeAnnotation, "node-a"}, {kBindPhaseAnnotation, "allocating"}},
           "node-a");
  SetLock("busy");
  EXPECT_EQ(*binder_->locker().ReleaseIfOrphaned("node-a"), "");
  EXPECT_EQ(ParseNodeLock(LockValue())->name, "busy");
  PutOwner("busy", {{kVgpuNodeAnnotation, "node-a"}, {kBindPhaseAnnotation, "success"}}, "node-a");
  auto released = binder_->locker().ReleaseIfOrphaned("node-a");
  ASSERT_TRUE(released.ok());
  EXPECT_NE(released->find("bind-phase is success"), std::string::npos) << *released;
  EXPECT_EQ(LockValue(), "");
  SetLock("gone");
  EXPECT_NE(binder_->locker().ReleaseIfOrphaned("node-a")->find("no longer exists"),
            std::string::npos);
  EXPECT_EQ(LockValue(), "");
  // An API error reading the owner keeps the lock (never released on doubt).
  SetLock("busy");
  PutOwner("busy", {{kVgpuNodeAnnotation, "node-a"}, {kBindPhaseAnnotation, "success"}}, "node-a");
  server_.FailNext(2, 500, "get", "/pods/");
  auto kept = binder_->locker().ReleaseIfOrphaned("node-a");
  EXPECT_TRUE(kept.ok());
  EXPECT_EQ(ParseNodeLock(LockValue())->name, "busy");
}

TEST_F(BinderTest, SecondPodOnALockedNodeIsRefusedUntilTheOwnerIsGone) {
  const std::string uid1 = AddPod("p1");
  const std::string uid2 = AddPod("p2");
  ASSERT_EQ(binder_->Bind(Args("p1", uid1)), "");
  const std::string error = binder_->Bind(Args("p2", uid2));
  EXPECT_NE(error.find("locked"), std::string::npos) << error;
  const nlohmann::json p2 = *server_.Get("pods", "default", "p2");
  EXPECT_EQ(p2["spec"].value("nodeName", ""), "");
  // Nothing was written to the refused pod, and its in-memory decision is gone.
  EXPECT_FALSE(p2["metadata"].contains("annotations")) << p2.dump();
  EXPECT_FALSE(ledger_.GetPod(uid2).has_value());
  // The lock owner disappears (pod deleted): its lock no longer blocks the node once
  // kube-scheduler has filtered p2 again.
  ASSERT_TRUE(server_.Delete("pods", "default", "p1").ok());
  ledger_.AddPod(testing::Allocation(uid2, "node-a", {{{"GPU-a", "NVIDIA", 1000, 10}}}));
  EXPECT_EQ(binder_->Bind(Args("p2", uid2)), "");
  EXPECT_EQ(ParseNodeLock(LockValue())->name, "p2");
}

TEST_F(BinderTest, ExpiredLockIsTakenOver) {
  const std::string uid = AddPod("p1");
  AddPod("old");
  auto node = *server_.Get("nodes", "", "node-a");
  node["metadata"]["annotations"][kNodeLockAnnotation] =
      EncodeNodeLock(NodeLock{kNow - 3600, "default", "old", false}, 0);
  ASSERT_TRUE(server_.Put(node).ok());
  EXPECT_EQ(binder_->Bind(Args("p1", uid)), "");
  EXPECT_EQ(ParseNodeLock(LockValue())->name, "p1");
}

TEST_F(BinderTest, ConflictOnTheLockPatchIsRetried) {
  const std::string uid = AddPod("p1");
  server_.InjectConflict("nodes", "", "node-a", 2);
  EXPECT_EQ(binder_->Bind(Args("p1", uid)), "");
  EXPECT_EQ(ParseNodeLock(LockValue())->name, "p1");
}

TEST_F(BinderTest, FailedBindingReleasesTheLockAndMarksFailed) {
  const std::string uid = AddPod("p1");
  server_.FailNext(1, 500, "create", "/binding");
  server_.FailNext(1, 500, "create", "/binding");
  server_.FailNext(1, 500, "create", "/binding");
  const std::string error = binder_->Bind(Args("p1", uid));
  EXPECT_NE(error.find("bind pod default/p1"), std::string::npos) << error;
  EXPECT_EQ(LockValue(), "");
  EXPECT_FALSE((*server_.Get("pods", "default", "p1"))["metadata"].contains("annotations"))
      << "a pod that is not bound carries no decision";
  EXPECT_FALSE(ledger_.GetPod(uid).has_value());
}

TEST_F(BinderTest, RefusesPodsItDidNotFilterAndGonePods) {
  auto stored = server_.Put({{"kind", "Pod"},
                             {"apiVersion", "v1"},
                             {"metadata", {{"name", "stranger"}, {"namespace", "default"}}}});
  const std::string stranger_uid = (*stored)["metadata"]["uid"];
  EXPECT_NE(binder_->Bind(Args("stranger", stranger_uid)).find("not filtered"), std::string::npos);
  EXPECT_EQ(LockValue(), "");

  const std::string uid = AddPod("p1");
  ASSERT_TRUE(server_.Delete("pods", "default", "p1").ok());
  EXPECT_FALSE(binder_->Bind(Args("p1", uid)).empty());
  EXPECT_FALSE(ledger_.GetPod(uid).has_value());  // reservation dropped with the pod

  const std::string uid3 = AddPod("p3");
  EXPECT_NE(binder_->Bind(Args("p3", "some-other-uid")).find("recreated"), std::string::npos);
  EXPECT_EQ(binder_->Bind(Args("p3", uid3)), "");
  EXPECT_NE(binder_->Bind(Args("p3", uid3)).find("already bound"), std::string::npos);
}

TEST_F(BinderTest, ReleaseOnlyRemovesOurOwnLock) {
  AddPod("p1");
  ASSERT_TRUE(binder_->locker().Acquire("node-a", "default", "p1").ok());
  EXPECT_TRUE(binder_->locker().Release("node-a", "default", "other", false).ok());
  EXPECT_NE(LockValue(), "");
  EXPECT_TRUE(binder_->locker().Release("node-a", "default", "p1", false).ok());
  EXPECT_EQ(LockValue(), "");
}

}  // namespace
}  // namespace hami::scheduler

namespace hami::scheduler {
namespace {

// Binds with watch caches that may lag the server: a stale copy must cost a re-read, never a
// wrong write or a wrong refusal.
class CachedBinderTest : public BinderTest {
 protected:
  void UseCaches(nlohmann::json pod_copy, nlohmann::json node_copy) {
    BindOptions options;
    options.cached_pod = [this, pod_copy](const std::string&, const std::string&) {
      pod_cache_reads_++;
      return std::make_shared<const nlohmann::json>(pod_copy);
    };
    options.lock.cached_node = [this, node_copy](const std::string&) {
      node_cache_reads_++;
      return std::make_shared<const nlohmann::json>(node_copy);
    };
    binder_ = std::make_unique<Binder>(*client_, registry_, ledger_, options, [] { return kNow; });
  }
  int pod_cache_reads_ = 0;
  int node_cache_reads_ = 0;
};

TEST_F(CachedBinderTest, FreshCachesSaveTheGets) {
  const std::string uid = AddPod("p1");
  UseCaches(*server_.Get("pods", "default", "p1"), *server_.Get("nodes", "", "node-a"));
  server_.ClearRequests();
  EXPECT_EQ(binder_->Bind(Args("p1", uid)), "");
  EXPECT_EQ(server_.RequestCount("get"), 0);
  EXPECT_EQ((*server_.Get("pods", "default", "p1"))["spec"]["nodeName"], "node-a");
  EXPECT_EQ(pod_cache_reads_, 1);
  EXPECT_EQ(node_cache_reads_, 1);
}

TEST_F(CachedBinderTest, StaleCachedPodThatIsAlreadyBoundIsNotMarked) {
  const std::string uid = AddPod("p1");
  const nlohmann::json stale = *server_.Get("pods", "default", "p1");
  // Meanwhile the pod was bound and allocated elsewhere.
  nlohmann::json bound = stale;
  bound["spec"]["nodeName"] = "node-b";
  bound["metadata"]["annotations"][kBindPhaseAnnotation] = "success";
  ASSERT_TRUE(server_.Put(bound).ok());
  UseCaches(stale, *server_.Get("nodes", "", "node-a"));
  const std::string error = binder_->Bind(Args("p1", uid));
  EXPECT_NE(error.find("bind pod default/p1 to node-a"), std::string::npos) << error;
  auto pod = server_.Get("pods", "default", "p1");
  EXPECT_EQ((*pod)["metadata"]["annotations"][kBindPhaseAnnotation], "success");
  EXPECT_EQ((*pod)["spec"]["nodeName"], "node-b");
  EXPECT_EQ(LockValue(), "") << "the lock taken for the attempt is released";
}

TEST_F(CachedBinderTest, LockSeenHeldInAStaleCacheIsReadAgain) {
  const std::string uid = AddPod("p1");
  AddPod("other");
  nlohmann::json node = *server_.Get("nodes", "", "node-a");
  nlohmann::json stale_node = node;
  stale_node["metadata"]["annotations"][kNodeLockAnnotation] =
      EncodeNodeLock(NodeLock{kNow, "default", "other", false}, 0);  // released since
  UseCaches(*server_.Get("pods", "default", "p1"), stale_node);
  EXPECT_EQ(binder_->Bind(Args("p1", uid)), "");
  EXPECT_EQ((*server_.Get("pods", "default", "p1"))["spec"]["nodeName"], "node-a");
}

TEST_F(CachedBinderTest, StaleCachedNodeCostsAConflictAndARetry) {
  const std::string uid = AddPod("p1");
  const nlohmann::json stale_node = *server_.Get("nodes", "", "node-a");
  nlohmann::json changed = stale_node;
  changed["metadata"]["labels"] = {{"touched", "yes"}};
  ASSERT_TRUE(server_.Put(changed).ok());  // new resourceVersion on the server
  UseCaches(*server_.Get("pods", "default", "p1"), stale_node);
  EXPECT_EQ(binder_->Bind(Args("p1", uid)), "");
  auto lock = ParseNodeLock(LockValue());
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ(lock->name, "p1");
  EXPECT_EQ((*server_.Get("nodes", "", "node-a"))["metadata"]["labels"]["touched"], "yes");
}

}  // namespace
}  // namespace hami::scheduler

namespace hami::scheduler {
namespace {

TEST_F(BinderTest, ABindWaitsForALockTheDevicePluginReleases) {
  // kube-scheduler parks a pod whose bind fails; waiting (bounded) for the holder's Allocate
  // to release the lock binds it instead.
  PutOwner("holder", {{kVgpuNodeAnnotation, "node-a"}, {kBindPhaseAnnotation, "allocating"}},
           "node-a");
  SetLock("holder");
  BindOptions options;
  options.lock_wait = std::chrono::milliseconds(5000);
  options.lock.cached_node = [this](const std::string& node) {
    return std::make_shared<const nlohmann::json>(*server_.Get("nodes", "", node));
  };
  binder_ = std::make_unique<Binder>(*client_, registry_, ledger_, options, [] { return kNow; });
  const std::string uid = AddPod("waiting");
  std::thread plugin([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto node = *server_.Get("nodes", "", "node-a");
    node["metadata"]["annotations"].erase(kNodeLockAnnotation);  // Allocate done
    ASSERT_TRUE(server_.Put(node).ok());
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(binder_->Bind(Args("waiting", uid)), "");
  plugin.join();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  EXPECT_EQ(ParseNodeLock(LockValue())->name, "waiting");
  EXPECT_EQ((*server_.Get("pods", "default", "waiting"))["spec"]["nodeName"], "node-a");

  // The wait is bounded: a lock that stays is refused after lock_wait.
  options.lock_wait = std::chrono::milliseconds(200);
  binder_ = std::make_unique<Binder>(*client_, registry_, ledger_, options, [] { return kNow; });
  const std::string uid2 = AddPod("late");
  EXPECT_NE(binder_->Bind(Args("late", uid2)).find("locked within"), std::string::npos);
}

}  // namespace
}  // namespace hami::scheduler

namespace hami::scheduler {
namespace {

TEST_F(BinderTest, AGangMemberWaitsForTheLockWhereOtherPodsFailAtOnce) {
  PutOwner("member-0", {{kVgpuNodeAnnotation, "node-a"}, {kBindPhaseAnnotation, "allocating"}},
           "node-a");
  SetLock("member-0");
  BindOptions options;
  options.lock_wait = std::chrono::milliseconds(0);  // as HAMi: others fail at once
  options.pod_group_lock_wait = std::chrono::milliseconds(5000);
  options.lock.cached_node = [this](const std::string& node) {
    return std::make_shared<const nlohmann::json>(*server_.Get("nodes", "", node));
  };
  binder_ = std::make_unique<Binder>(*client_, registry_, ledger_, options, [] { return kNow; });
  const std::string solo = AddPod("solo");
  EXPECT_NE(binder_->Bind(Args("solo", solo)).find("locked within"), std::string::npos);

  // Each way of naming the group counts (labels, Volcano's annotation, the spec field).
  const std::vector<std::pair<std::string, std::function<void(nlohmann::json&)>>> members = {
      {"member-1", [](nlohmann::json& p) { p["metadata"]["labels"][kPodGroupLabel] = "g"; }},
      {"member-2",
       [](nlohmann::json& p) { p["metadata"]["annotations"][kVolcanoGroupAnnotation] = "g"; }},
      {"member-3", [](nlohmann::json& p) { p["spec"]["schedulingGroup"]["podGroupName"] = "g"; }},
  };
  for (const auto& [name, mark] : members) {
    SCOPED_TRACE(name);
    const std::string uid = AddPod(name);
    nlohmann::json pod = *server_.Get("pods", "default", name);
    mark(pod);
    ASSERT_TRUE(server_.Put(pod).ok());
    std::thread plugin([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      auto node = *server_.Get("nodes", "", "node-a");
      node["metadata"]["annotations"].erase(kNodeLockAnnotation);  // the holder's Allocate done
      ASSERT_TRUE(server_.Put(node).ok());
    });
    EXPECT_EQ(binder_->Bind(Args(name, uid)), "");
    plugin.join();
    EXPECT_EQ(ParseNodeLock(LockValue())->name, name);
    // The next member finds this one holding the lock, as in a real gang.
  }
  // Still bounded: a lock that stays past the group's wait is refused, saying so.
  options.pod_group_lock_wait = std::chrono::milliseconds(200);
  binder_ = std::make_unique<Binder>(*client_, registry_, ledger_, options, [] { return kNow; });
  const std::string late = AddPod("member-4");
  nlohmann::json pod = *server_.Get("pods", "default", "member-4");
  pod["metadata"]["labels"][kPodGroupLabel] = "g";
  ASSERT_TRUE(server_.Put(pod).ok());
  const std::string error = binder_->Bind(Args("member-4", late));
  EXPECT_NE(error.find("pod group g, waited 200 ms"), std::string::npos) << error;
}

TEST(PodGroupTest, ReadsEveryWayOfNamingAGroupAndSurvivesTrimming) {
  EXPECT_EQ(PodGroupOf(nlohmann::json::object()), "");
  EXPECT_EQ(PodGroupOf({{"metadata", {{"labels", {{kPodGroupLabel, "a"}}}}}}), "a");
  EXPECT_EQ(PodGroupOf({{"metadata", {{"labels", {{kLegacyPodGroupLabel, "b"}}}}}}), "b");
  EXPECT_EQ(PodGroupOf({{"metadata", {{"annotations", {{kVolcanoGroupAnnotation, "c"}}}}}}), "c");
  EXPECT_EQ(PodGroupOf({{"spec", {{"schedulingGroup", {{"podGroupName", "d"}}}}}}), "d");
  EXPECT_EQ(PodGroupOf({{"metadata", {{"labels", {{kPodGroupLabel, 7}}}}}}), "") << "not a string";
  EXPECT_EQ(PodGroupOf({{"metadata", "garbage"}}), "");
  static const VendorRegistry registry = *MakeVendorRegistry(DefaultDeviceConfig());
  for (nlohmann::json pod :
       {nlohmann::json{{"metadata", {{"name", "p"}, {"labels", {{kPodGroupLabel, "a"}}}}}},
        nlohmann::json{
            {"metadata", {{"name", "p"}, {"annotations", {{kVolcanoGroupAnnotation, "c"}}}}}},
        nlohmann::json{{"metadata", {{"name", "p"}}},
                       {"spec", {{"schedulingGroup", {{"podGroupName", "d"}}}}}}}) {
    const std::string group = PodGroupOf(pod);
    TrimPodForCache(registry, pod);
    EXPECT_EQ(PodGroupOf(pod), group) << pod.dump();
    EXPECT_EQ(pod["metadata"]["name"], "p");
  }
}

TEST_F(BinderTest, OrphanSweepAsksTheServerOnlyWhenTheCachesSeeAnOrphan) {
  PutOwner("busy", {{kVgpuNodeAnnotation, "node-a"}, {kBindPhaseAnnotation, "allocating"}},
           "node-a");
  SetLock("busy");
  nodelock::NodeLockerOptions options;
  options.cached_node = [this](const std::string& node) {
    return std::make_shared<const nlohmann::json>(*server_.Get("nodes", "", node));
  };
  options.cached_pod = [this](const std::string& ns, const std::string& name) {
    auto pod = server_.Get("pods", ns, name);
    return pod ? std::make_shared<const nlohmann::json>(*pod) : nullptr;
  };
  nodelock::NodeLocker locker(*client_, options, [] { return kNow; });
  server_.ClearRequests();
  EXPECT_EQ(*locker.ReleaseIfOrphaned("node-a"), "");
  EXPECT_EQ(server_.RequestCount(), 0) << "a legitimate lock in the caches costs no API call";
  PutOwner("busy", {{kVgpuNodeAnnotation, "node-b"}, {kBindPhaseAnnotation, "allocating"}}, "");
  EXPECT_NE(locker.ReleaseIfOrphaned("node-a")->find("scheduled to node-b"), std::string::npos);
  EXPECT_GE(server_.RequestCount("get"), 2) << "the orphan is confirmed on the server";
  EXPECT_EQ(LockValue(), "");
}

}  // namespace
}  // namespace hami::scheduler
