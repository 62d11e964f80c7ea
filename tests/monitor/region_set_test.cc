#include "monitor/region_set.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/monitor/monitor_test_util.h"
#include "vgpu/shared_region.h"

namespace hami::monitor {
namespace {

using testing::TempDir;

class RegionSetTest : public ::testing::Test {
 protected:
  ContainerDir Make(const std::string& name, bool valid = true) {
    const std::string dir = tmp_.path() + "/" + name;
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/r.cache";
    if (valid) {
      auto region = vgpu::SharedRegion::Open(path, vgpu::RegionInit{});
      EXPECT_TRUE(region.ok()) << region.status().message();
    } else {
      testing::WriteFile(path, "not a region");
    }
    return ContainerDir{"uid-" + name, "main", dir, path};
  }
  TempDir tmp_;
};

TEST_F(RegionSetTest, OpensKeepsReopensAndDrops) {
  RegionSet set;
  ContainerDir a = Make("a");
  ContainerDir b = Make("b");
  ReconcileReport first = set.Reconcile({a, b});
  EXPECT_EQ(first.opened.size(), 2u);
  ASSERT_EQ(set.size(), 2u);
  const MappedRegion* a_mapping = set.Entries()[0].region.get();

  // Same files: nothing reopened, the mapping kept.
  ReconcileReport same = set.Reconcile({a, b});
  EXPECT_TRUE(same.opened.empty());
  EXPECT_TRUE(same.dropped.empty());
  EXPECT_EQ(set.Entries()[0].region.get(), a_mapping);

  // a's file replaced (a new container of the same name): mapped again. b no longer listed.
  std::shared_ptr<MappedRegion> held = set.Entries()[1].region;  // a scrape still reading b
  std::filesystem::remove(a.cache_path);
  Make("a");
  ReconcileReport next = set.Reconcile({a});
  EXPECT_EQ(next.opened, std::vector<std::string>{a.cache_path});
  EXPECT_EQ(next.dropped.size(), 2u);  // the old a mapping and b
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set.Entries()[0].dir.pod_uid, "uid-a");
  EXPECT_EQ(held->Snapshot().devices.size(), 0u);  // still readable by its holder
}

TEST_F(RegionSetTest, BadFileReportedOnceThenOpenedWhenFixed) {
  RegionSet set;
  ContainerDir bad = Make("bad", /*valid=*/false);
  EXPECT_EQ(set.Reconcile({bad}).new_problems.size(), 1u);
  EXPECT_TRUE(set.Reconcile({bad}).new_problems.empty());  // same reason: not again
  EXPECT_EQ(set.size(), 0u);
  std::filesystem::remove(bad.cache_path);
  Make("bad");  // libvgpu finished creating it
  ReconcileReport fixed = set.Reconcile({bad});
  EXPECT_TRUE(fixed.new_problems.empty());
  EXPECT_EQ(fixed.opened.size(), 1u);
  // A vanished file (removed between the scan and the reconcile) is simply not listed.
  std::filesystem::remove(bad.cache_path);
  ReconcileReport gone = set.Reconcile({bad});
  EXPECT_EQ(gone.dropped.size(), 1u);
  EXPECT_EQ(set.size(), 0u);
}

}  // namespace
}  // namespace hami::monitor
