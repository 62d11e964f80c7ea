#include "scheduler/ledger.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "device/config.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

DeviceInfo Dev(const std::string& id, int32_t mem = 16384) { return testing::TestDevice(id, mem); }

using testing::Allocation;

TEST(AllocationFromAnnotationsTest, DecodesTheAllocatedAnnotation) {
  auto registry = MakeVendorRegistry(DefaultDeviceConfig());
  ASSERT_TRUE(registry.ok());
  Annotations annotations = {
      {"hami.io/vgpu-devices-allocated", ";GPU-aaa,NVIDIA,3000,30:GPU-bbb,NVIDIA,3000,30:;;"},
      {"hami.io/vgpu-devices-to-allocate", ";;;"}};
  auto allocation = AllocationFromAnnotations(*registry, "u1", "ns", "p", "n1", 1, annotations);
  ASSERT_TRUE(allocation.ok()) << allocation.status().message();
  ASSERT_TRUE(allocation->has_value());
  const PodDevices& devices = (*allocation)->by_vendor.at("NVIDIA");
  ASSERT_EQ(devices.size(), 3u);
  EXPECT_TRUE(devices[0].empty());
  EXPECT_EQ(devices[1][1], (ContainerDevice{"GPU-bbb", "NVIDIA", 3000, 30}));
  EXPECT_EQ((*allocation)->init_containers, 1);

  auto none = AllocationFromAnnotations(*registry, "u2", "ns", "p", "n1", 0, {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  auto bad = AllocationFromAnnotations(*registry, "u3", "ns", "p", "n1", 0,
                                       {{"hami.io/vgpu-devices-allocated", "GPU-a,NVIDIA,x,1:;"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("hami.io/vgpu-devices-allocated"), std::string::npos);
}

TEST(UsageLedgerTest, SnapshotSumsPodsAndReportsUnknownNodes) {
  UsageLedger ledger;
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a"), Dev("GPU-b")});
  ledger.AddPod(Allocation("u1", "n1", {{{"GPU-a", "NVIDIA", 3000, 30}}}));
  ledger.AddPod(
      Allocation("u2", "n1", {{{"GPU-a", "NVIDIA", 2000, 20}, {"GPU-b", "NVIDIA", 1000, 10}}}));
  std::vector<std::string> names = {"n1", "n2"};
  std::vector<std::string> unknown;
  auto states = ledger.Snapshot(names, &unknown);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(unknown, std::vector<std::string>{"n2"});
  EXPECT_EQ(states[0].devices[0].used, 2);
  EXPECT_EQ(states[0].devices[0].used_mem_mib, 5000);
  EXPECT_EQ(states[0].devices[0].used_cores, 50);
  EXPECT_EQ(states[0].devices[1].used, 1);
  EXPECT_EQ(states[0].cpu_free_milli, policy::kUnknownHostResource);

  EXPECT_TRUE(ledger.RemovePod("u2"));
  EXPECT_FALSE(ledger.RemovePod("u2"));
  states = ledger.Snapshot(names, nullptr);
  EXPECT_EQ(states[0].devices[0].used_mem_mib, 3000);
  EXPECT_EQ(states[0].devices[1].used, 0);
}

TEST(UsageLedgerTest, InitContainersCountAtTheirPeak) {
  UsageLedger ledger;
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a")});
  // Two init containers (8000 and 6000 MiB) then one app container (4000 MiB).
  ledger.AddPod(Allocation("u1", "n1",
                           {{{"GPU-a", "NVIDIA", 8000, 10}},
                            {{"GPU-a", "NVIDIA", 6000, 60}},
                            {{"GPU-a", "NVIDIA", 4000, 30}}},
                           /*init=*/2));
  std::vector<std::string> names = {"n1"};
  auto states = ledger.Snapshot(names, nullptr);
  EXPECT_EQ(states[0].devices[0].used_mem_mib, 8000);
  EXPECT_EQ(states[0].devices[0].used_cores, 60);
  EXPECT_EQ(states[0].devices[0].used, 1);
}

TEST(UsageLedgerTest, GenerationChangesWithEveryChange) {
  UsageLedger ledger;
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a")});
  std::vector<std::string> names = {"n1"};
  const uint64_t g0 = ledger.Snapshot(names, nullptr)[0].generation;
  EXPECT_EQ(ledger.Snapshot(names, nullptr)[0].generation, g0);  // stable when nothing changed
  ledger.AddPod(Allocation("u1", "n1", {{{"GPU-a", "NVIDIA", 1, 1}}}));
  const uint64_t g1 = ledger.Snapshot(names, nullptr)[0].generation;
  EXPECT_NE(g1, g0);
  ledger.SetCordoned("n1", {"GPU-a"});
  auto states = ledger.Snapshot(names, nullptr);
  EXPECT_NE(states[0].generation, g1);
  EXPECT_TRUE(states[0].devices[0].cordoned);
}

TEST(UsageLedgerTest, ChangedSinceListsEachChangedNodeOnce) {
  UsageLedger ledger;
  uint64_t v0 = 0;
  EXPECT_TRUE(ledger.ChangedSince(0, &v0).empty());
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a")});
  ledger.SetNodeDevices("n2", "NVIDIA", {Dev("GPU-b")});
  uint64_t v1 = 0;
  EXPECT_EQ(ledger.ChangedSince(v0, &v1), (std::vector<std::string>{"n1", "n2"}));
  uint64_t same = 0;
  EXPECT_TRUE(ledger.ChangedSince(v1, &same).empty());
  EXPECT_EQ(same, v1);
  ledger.AddPod(Allocation("u1", "n2", {{{"GPU-b", "NVIDIA", 1, 1}}}));
  ledger.AddPod(Allocation("u2", "n2", {{{"GPU-b", "NVIDIA", 1, 1}}}));  // n2 twice: listed once
  uint64_t v2 = 0;
  EXPECT_EQ(ledger.ChangedSince(v1, &v2), (std::vector<std::string>{"n2"}));
  // A removal is a change too, and stays visible until the name comes back.
  ledger.RemoveNode("n1");
  uint64_t v3 = 0;
  EXPECT_EQ(ledger.ChangedSince(v2, &v3), (std::vector<std::string>{"n1"}));
  EXPECT_EQ(ledger.ChangedSince(0, &v3), (std::vector<std::string>{"n2", "n1"}));
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a")});
  uint64_t v4 = 0;
  EXPECT_EQ(ledger.ChangedSince(v3, &v4), (std::vector<std::string>{"n1"}));
  EXPECT_EQ(ledger.ChangedSince(0, &v4).size(), 2u);
  // Moving a pod changes both nodes.
  ledger.AddPod(Allocation("u1", "n1", {{{"GPU-a", "NVIDIA", 1, 1}}}));
  uint64_t v5 = 0;
  auto moved = ledger.ChangedSince(v4, &v5);
  std::sort(moved.begin(), moved.end());
  EXPECT_EQ(moved, (std::vector<std::string>{"n1", "n2"}));
}

TEST(UsageLedgerTest, PodsSurviveTheirNodeGoingAwayAndComingBack) {
  UsageLedger ledger;
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a")});
  ledger.AddPod(Allocation("u1", "n1", {{{"GPU-a", "NVIDIA", 3000, 30}}}));
  ledger.RemoveNode("n1");
  EXPECT_FALSE(ledger.HasNode("n1"));
  EXPECT_TRUE(ledger.NodeNames().empty());
  EXPECT_EQ(ledger.PodCount(), 1u);
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a")});
  std::vector<std::string> names = {"n1"};
  EXPECT_EQ(ledger.Snapshot(names, nullptr)[0].devices[0].used_mem_mib, 3000);
}

TEST(UsageLedgerTest, ReplacingAPodMovesItsUsage) {
  UsageLedger ledger;
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a")});
  ledger.SetNodeDevices("n2", "NVIDIA", {Dev("GPU-b")});
  ledger.AddPod(Allocation("u1", "n1", {{{"GPU-a", "NVIDIA", 3000, 30}}}));
  ledger.AddPod(
      Allocation("u1", "n2", {{{"GPU-b", "NVIDIA", 3000, 30}}}));  // re-filtered elsewhere
  std::vector<std::string> names = {"n1", "n2"};
  auto states = ledger.Snapshot(names, nullptr);
  EXPECT_EQ(states[0].devices[0].used, 0);
  EXPECT_EQ(states[1].devices[0].used, 1);
  EXPECT_EQ(ledger.GetPod("u1")->node, "n2");
}

TEST(UsageLedgerTest, MaxDeviceMemory) {
  UsageLedger ledger;
  EXPECT_EQ(ledger.MaxDeviceMemoryMib(), 0);
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a", 16384)});
  ledger.SetNodeDevices("n2", "NVIDIA", {Dev("GPU-b", 81920)});
  EXPECT_EQ(ledger.MaxDeviceMemoryMib(), 81920);
}

TEST(UsageLedgerTest, CheckCapacityFindsOverCommitAfterARegistrationShrinks) {
  UsageLedger ledger;
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a", 16384)});
  ledger.AddPod(Allocation("u1", "n1", {{{"GPU-a", "NVIDIA", 12000, 30}}}));
  EXPECT_TRUE(ledger.CheckCapacity().ok());
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a", 8192)});
  Status status = ledger.CheckCapacity();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("GPU-a"), std::string::npos);
}

TEST(UsageLedgerTest, ConcurrentWritersAndReadersStayConsistent) {
  UsageLedger ledger;
  ledger.SetNodeDevices("n1", "NVIDIA", {Dev("GPU-a", 1 << 30)});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&ledger, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string uid = std::to_string(t) + "-" + std::to_string(i);
        ledger.AddPod(Allocation(uid, "n1", {{{"GPU-a", "NVIDIA", 1, 0}}}));
        if (i % 2 == 0) ledger.RemovePod(uid);
      }
    });
  }
  threads.emplace_back([&ledger] {
    std::vector<std::string> names = {"n1"};
    for (int i = 0; i < 500; ++i) (void)ledger.Snapshot(names, nullptr);
  });
  for (std::thread& t : threads) t.join();
  std::vector<std::string> names = {"n1"};
  EXPECT_EQ(ledger.PodCount(), 1000u);
  EXPECT_EQ(ledger.Snapshot(names, nullptr)[0].devices[0].used_mem_mib, 1000);
}

}  // namespace
}  // namespace hami::scheduler

namespace hami::scheduler {
namespace {

TEST(UsageLedgerTest, ALockedNodeCountsAsInFlightAndRepeatedEventsChangeNothing) {
  UsageLedger ledger;
  ledger.SetNodeDevices("n1", "NVIDIA", {testing::TestDevice("GPU-a")});
  const std::vector<std::string> names = {"n1"};
  auto state = [&] { return ledger.Snapshot(names, nullptr).at(0); };
  EXPECT_FALSE(state().allocation_in_flight);
  const uint64_t before = state().generation;
  // A node event re-applies the same registration, cordon list and lock state: no change.
  ledger.SetNodeDevices("n1", "NVIDIA", {testing::TestDevice("GPU-a")});
  ledger.SetCordoned("n1", {});
  ledger.SetNodeLocked("n1", false);
  EXPECT_EQ(state().generation, before);
  // The lock taken: a bind there would wait, so the node ranks with the busy ones.
  ledger.SetNodeLocked("n1", true);
  EXPECT_TRUE(state().allocation_in_flight);
  EXPECT_NE(state().generation, before);
  ledger.SetNodeLocked("n1", false);
  EXPECT_FALSE(state().allocation_in_flight);
}

}  // namespace
}  // namespace hami::scheduler
