#include "monitor/container_scan.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/monitor/monitor_test_util.h"

namespace hami::monitor {
namespace {

namespace fs = std::filesystem;
using testing::SetMtime;
using testing::TempDir;
using testing::WriteFile;

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kGrace = 300;

class ScanTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(base()); }
  std::string base() const { return tmp_.path() + "/containers"; }
  // A container dir with the given files; mtime set last (creating files bumps it).
  std::string MakeDir(const std::string& name, std::initializer_list<std::string> files,
                      int64_t mtime = kNow) {
    std::string dir = base() + "/" + name;
    fs::create_directories(dir);
    for (const std::string& f : files) WriteFile((fs::path(dir) / f).string(), "x");
    SetMtime(dir, mtime);
    return dir;
  }
  ScanResult Scan(const std::set<std::string>& live) {
    auto r = ScanContainers(tmp_.path(), live, {kNow, kGrace});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : ScanResult{};
  }
  static bool HasProblem(const ScanResult& r, const std::string& path, const std::string& word) {
    for (const ScanProblem& p : r.problems) {
      if (p.path == path && p.reason.find(word) != std::string::npos) return true;
    }
    return false;
  }

  TempDir tmp_;
};

TEST(SplitContainerDirNameTest, SplitsAtFirstUnderscore) {
  std::string pod, ctr;
  ASSERT_TRUE(SplitContainerDirName("6f1c-aa_main_sidecar", &pod, &ctr));
  EXPECT_EQ(pod, "6f1c-aa");
  EXPECT_EQ(ctr, "main_sidecar");
  EXPECT_FALSE(SplitContainerDirName("nounderscore", &pod, &ctr));
  EXPECT_FALSE(SplitContainerDirName("_ctr", &pod, &ctr));
  EXPECT_FALSE(SplitContainerDirName("pod_", &pod, &ctr));
}

TEST_F(ScanTest, ListsLiveContainersWithOneCacheFile) {
  const std::string a = MakeDir("uid-a_main", {"4242.cache", "notes.txt"});
  const std::string b = MakeDir("uid-b_side_car", {"x.cache"});
  ScanResult r = Scan({"uid-a", "uid-b"});
  ASSERT_EQ(r.containers.size(), 2u);
  EXPECT_EQ(r.containers[0].pod_uid, "uid-a");
  EXPECT_EQ(r.containers[0].container_name, "main");
  EXPECT_EQ(r.containers[0].dir_path, a);
  EXPECT_EQ(r.containers[0].cache_path, a + "/4242.cache");
  EXPECT_EQ(r.containers[1].pod_uid, "uid-b");
  EXPECT_EQ(r.containers[1].container_name, "side_car");
  EXPECT_EQ(r.containers[1].cache_path, b + "/x.cache");
  EXPECT_TRUE(r.problems.empty());
  EXPECT_TRUE(r.deleted.empty());
}

TEST_F(ScanTest, SeveralOrNoCacheFilesAreReportedAndSkipped) {
  const std::string two = MakeDir("uid-a_two", {"1.cache", "2.cache"});
  const std::string none = MakeDir("uid-a_none", {"data.bin"});
  // A directory named *.cache is not a cache file.
  const std::string dir_only = MakeDir("uid-a_dironly", {});
  fs::create_directories(dir_only + "/sub.cache");
  ScanResult r = Scan({"uid-a"});
  EXPECT_TRUE(r.containers.empty());
  EXPECT_TRUE(HasProblem(r, two, "2 *.cache files"));
  EXPECT_TRUE(HasProblem(r, none, "no *.cache"));
  EXPECT_TRUE(HasProblem(r, dir_only, "no *.cache"));
  EXPECT_TRUE(fs::exists(two));  // live pod: never deleted
  EXPECT_TRUE(fs::exists(none));
}

TEST_F(ScanTest, JunkEntriesAreReportedAndLeftAlone) {
  const std::string junk = MakeDir("nounderscore", {"a.cache"}, kNow - 10 * kGrace);
  const std::string empty_ctr = MakeDir("uid-x_", {"a.cache"}, kNow - 10 * kGrace);
  WriteFile(base() + "/uid-y_file", "not a dir");
  fs::create_symlink(junk, base() + "/uid-z_link");
  ScanResult r = Scan({"uid-z"});
  EXPECT_TRUE(r.containers.empty());
  EXPECT_TRUE(r.deleted.empty());
  EXPECT_TRUE(HasProblem(r, junk, "name"));
  EXPECT_TRUE(HasProblem(r, empty_ctr, "name"));
  EXPECT_TRUE(HasProblem(r, base() + "/uid-y_file", "not a directory"));
  EXPECT_TRUE(HasProblem(r, base() + "/uid-z_link", "not a directory"));
  EXPECT_TRUE(fs::exists(junk));
  EXPECT_TRUE(fs::exists(empty_ctr));
  EXPECT_TRUE(fs::exists(base() + "/uid-y_file"));
}

TEST_F(ScanTest, StaleDirOfGonePodIsDeleted) {
  const std::string stale = MakeDir("uid-gone_main", {"1.cache"}, kNow - kGrace);  // exactly grace
  const std::string older = MakeDir("uid-gone2_main", {"1.cache"}, kNow - 10 * kGrace);
  ScanResult r = Scan({"uid-live"});
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(older));
  ASSERT_EQ(r.deleted.size(), 2u);  // in name order: '2' sorts before '_'
  EXPECT_EQ(r.deleted[0], older);
  EXPECT_EQ(r.deleted[1], stale);
  EXPECT_TRUE(r.containers.empty());
}

TEST_F(ScanTest, LivePodsOldDirIsKept) {
  const std::string old_live = MakeDir("uid-live_main", {"1.cache"}, kNow - 100 * kGrace);
  ScanResult r = Scan({"uid-live"});
  EXPECT_TRUE(fs::exists(old_live));
  EXPECT_TRUE(r.deleted.empty());
  ASSERT_EQ(r.containers.size(), 1u);
}

TEST_F(ScanTest, YoungDirOfUnknownPodIsKeptButNotListed) {
  const std::string young = MakeDir("uid-new_main", {"1.cache"}, kNow - kGrace + 1);
  ScanResult r = Scan({});
  EXPECT_TRUE(fs::exists(young));
  EXPECT_TRUE(r.deleted.empty());
  EXPECT_TRUE(r.containers.empty());
  EXPECT_TRUE(r.problems.empty());
}

TEST(ScanErrorsTest, MissingOrBadRoot) {
  TempDir tmp;
  auto missing = ScanContainers(tmp.path(), {}, {kNow, kGrace});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  WriteFile(tmp.path() + "/containers", "file");
  auto file = ScanContainers(tmp.path(), {}, {kNow, kGrace});
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hami::monitor
