// The region limit check: the allocation looked up in the pod, the comparison table, and region
// files written the way libvgpu.so writes them from the device plugin's environment, then
// tampered with at the layout's offsets as a process inside the container could.
#include "monitor/limit_check.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <string>

#include "device/annotations.h"
#include "device/codec.h"
#include "tests/monitor/monitor_test_util.h"
#include "vgpu/env.h"
#include "vgpu/region_layout.h"
#include "vgpu/shared_region.h"

namespace hami::monitor {
namespace {

namespace layout = vgpu::layout;
using testing::PWriteAt;
using testing::TempDir;

constexpr uint64_t kMiB = uint64_t{1} << 20;

constexpr size_t LimitOffset(int dev) {
  return offsetof(layout::Region, limit) + static_cast<size_t>(dev) * sizeof(uint64_t);
}
constexpr size_t SmLimitOffset(int dev) {
  return offsetof(layout::Region, sm_limit) + static_cast<size_t>(dev) * sizeof(uint64_t);
}

ContainerDevice Dev(const std::string& uuid, int32_t mem_mib, int32_t cores) {
  ContainerDevice d;
  d.uuid = uuid;
  d.type = "NVIDIA";
  d.used_mem_mib = mem_mib;
  d.used_cores = cores;
  return d;
}

// A pod as the monitor's informer keeps it (TrimPodForMonitor).
nlohmann::json Pod(const std::string& allocated,
                   const std::vector<std::string>& containers = {"main"},
                   const std::vector<std::string>& init = {}) {
  nlohmann::json pod = {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"uid", "uid-1"}}},
                        {"spec", {{"containers", nlohmann::json::array()}}}};
  for (const std::string& c : containers) pod["spec"]["containers"].push_back({{"name", c}});
  for (const std::string& c : init) pod["spec"]["initContainers"].push_back({{"name", c}});
  if (!allocated.empty()) {
    pod["metadata"]["annotations"][kVgpuDevicesAllocatedAnnotation] = allocated;
  }
  return pod;
}

RegionLimits Limits(std::initializer_list<uint64_t> memory, std::initializer_list<uint64_t> sm) {
  RegionLimits r;
  size_t i = 0;
  for (uint64_t v : memory) r.memory_bytes[i++] = v;
  i = 0;
  for (uint64_t v : sm) r.sm_percent[i++] = v;
  return r;
}

TEST(ContainerNamesTest, InitContainersFirstAndOddJsonKeepsPlaces) {
  EXPECT_EQ(ContainerNamesInGroupOrder(Pod("", {"a", "b"}, {"init"})),
            (std::vector<std::string>{"init", "a", "b"}));
  nlohmann::json odd = Pod("", {"a"});
  odd["spec"]["containers"].push_back(5);  // not an object: keeps its place, unnamed
  odd["spec"]["containers"].push_back({{"name", "c"}});
  EXPECT_EQ(ContainerNamesInGroupOrder(odd), (std::vector<std::string>{"a", "", "c"}));
  EXPECT_TRUE(ContainerNamesInGroupOrder(nlohmann::json("x")).empty());
  EXPECT_TRUE(ContainerNamesInGroupOrder({{"spec", {{"containers", "x"}}}}).empty());
}

TEST(AllocatedDevicesTest, FindsTheContainersGroup) {
  const std::string two = "GPU-a,NVIDIA,3000,30:GPU-b,NVIDIA,2000,30:;";
  auto main = AllocatedDevicesOf(Pod(two), "main");
  ASSERT_TRUE(main.ok()) << main.status().message();
  ASSERT_TRUE(main->has_value());
  EXPECT_EQ(**main, (ContainerDevices{Dev("GPU-a", 3000, 30), Dev("GPU-b", 2000, 30)}));

  // Groups are in init-first order: the init container holds none, "main" the second group.
  auto with_init = AllocatedDevicesOf(Pod(";GPU-c,NVIDIA,1000,10:;", {"main"}, {"setup"}), "main");
  ASSERT_TRUE(with_init.ok());
  ASSERT_TRUE(with_init->has_value());
  EXPECT_EQ(**with_init, ContainerDevices{Dev("GPU-c", 1000, 10)});
}

TEST(AllocatedDevicesTest, NothingToCompareIsNotAnError) {
  const std::string one = "GPU-a,NVIDIA,3000,30:;";
  struct Case {
    const char* what;
    nlohmann::json pod;
    std::string container;
  };
  nlohmann::json not_string = Pod("");
  not_string["metadata"]["annotations"][kVgpuDevicesAllocatedAnnotation] = 42;
  const Case cases[] = {
      {"no annotation: not bound yet", Pod(""), "main"},
      {"annotation not a string", not_string, "main"},
      {"a container the pod does not list", Pod(one), "other"},
      {"an empty container name", Pod(one, {""}), ""},
      {"no group for the container", Pod(one, {"main", "sidecar"}), "sidecar"},
      {"an empty group: no vGPU", Pod(";GPU-a,NVIDIA,3000,30:;", {"a", "b"}), "a"},
      {"no groups at all", Pod(";;;"), "main"},
  };
  for (const Case& c : cases) {
    auto got = AllocatedDevicesOf(c.pod, c.container);
    ASSERT_TRUE(got.ok()) << c.what << ": " << got.status().message();
    EXPECT_FALSE(got->has_value()) << c.what;
  }
}

TEST(AllocatedDevicesTest, MalformedAnnotationIsAnErrorNeverACrash) {
  for (const char* bad : {"GPU-a,NVIDIA,abc,30:", "GPU-a,NVIDIA,-5,30:", "GPU-a,NVIDIA:",
                          ",NVIDIA,1,1:", "GPU-a,NVIDIA,99999999999,30:", "\xff\xfe,,,:"}) {
    auto got = AllocatedDevicesOf(Pod(bad), "main");
    ASSERT_FALSE(got.ok()) << bad;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(got.status().message().find(kVgpuDevicesAllocatedAnnotation), std::string::npos);
    const nlohmann::json pod = Pod(bad);
    const ContainerLimitCheck check = CheckContainerLimits(&pod, "main", Limits({1}, {1}));
    EXPECT_FALSE(check.compared) << bad;
    EXPECT_FALSE(check.problem.empty()) << bad;
    EXPECT_TRUE(check.mismatches.empty()) << bad;
  }
}

TEST(CompareLimitsTest, Table) {
  const ContainerDevices one = {Dev("GPU-a", 3000, 30)};
  const ContainerDevices two = {Dev("GPU-a", 3000, 30), Dev("GPU-b", 2000, 50)};
  using M = LimitMismatch;
  constexpr LimitKind kMem = LimitKind::kMemory;
  constexpr LimitKind kSm = LimitKind::kSm;
  struct Case {
    const char* what;
    ContainerDevices allocated;
    RegionLimits region;
    std::vector<LimitMismatch> want;
  };
  const Case cases[] = {
      {"equal", one, Limits({3000 * kMiB}, {30}), {}},
      {"lowered memory",
       one,
       Limits({1000 * kMiB}, {30}),
       {M{0, "GPU-a", kMem, 1000 * kMiB, 3000 * kMiB}}},
      {"raised memory",
       one,
       Limits({16000 * kMiB}, {30}),
       {M{0, "GPU-a", kMem, 16000 * kMiB, 3000 * kMiB}}},
      {"raised by one byte",
       one,
       Limits({3000 * kMiB + 1}, {30}),
       {M{0, "GPU-a", kMem, 3000 * kMiB + 1, 3000 * kMiB}}},
      {"zeroed memory: unlimited", one, Limits({0}, {30}), {M{0, "GPU-a", kMem, 0, 3000 * kMiB}}},
      {"raised SM", one, Limits({3000 * kMiB}, {90}), {M{0, "GPU-a", kSm, 90, 30}}},
      {"zeroed SM: unthrottled", one, Limits({3000 * kMiB}, {0}), {M{0, "GPU-a", kSm, 0, 30}}},
      {"both",
       one,
       Limits({0}, {100}),
       {M{0, "GPU-a", kMem, 0, 3000 * kMiB}, M{0, "GPU-a", kSm, 100, 30}}},
      // 0 and 100 both mean unthrottled: libvgpu.so stores 100 where HAMi-core keeps 0.
      {"SM 100 for 0 cores", {Dev("GPU-a", 3000, 0)}, Limits({3000 * kMiB}, {100}), {}},
      {"SM 0 for 100 cores", {Dev("GPU-a", 3000, 100)}, Limits({3000 * kMiB}, {0}), {}},
      // The plugin gives the first device's cores to every device (one CUDA_DEVICE_SM_LIMIT).
      {"SM of the first device everywhere", two, Limits({3000 * kMiB, 2000 * kMiB}, {30, 30}), {}},
      {"second device tampered",
       two,
       Limits({3000 * kMiB, 8000 * kMiB}, {30, 30}),
       {M{1, "GPU-b", kMem, 8000 * kMiB, 2000 * kMiB}}},
      {"second device zeroed (a stale one-GPU region)",
       two,
       Limits({3000 * kMiB}, {30, 30}),
       {M{1, "GPU-b", kMem, 0, 2000 * kMiB}}},
      // Indexes past the allocation are not the container's devices (an env default may set
      // them): never compared.
      {"indexes past the allocation", one, Limits({3000 * kMiB, 5, 7}, {30, 30, 30}), {}},
      {"no allocation", {}, Limits({1}, {1}), {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CompareLimits(c.allocated, c.region), c.want) << c.what;
  }
  // More devices than the region holds: only its 16 indexes are compared.
  ContainerDevices many(20, Dev("GPU-x", 1, 30));
  EXPECT_EQ(CompareLimits(many, RegionLimits{}).size(), 32u);
}

TEST(LimitKindTest, Labels) {
  EXPECT_STREQ(LimitKindLabel(LimitKind::kMemory), "memory_bytes");
  EXPECT_STREQ(LimitKindLabel(LimitKind::kSm), "sm_percent");
}

// Region files as libvgpu.so creates them inside the container: from the environment the
// device plugin gives for the allocation.
class RegionFileLimitTest : public ::testing::Test {
 protected:
  // The device plugin's environment for `devices` (see deviceplugin/allocate.cc AddLimits).
  static vgpu::RegionInit InitFor(const ContainerDevices& devices) {
    std::map<std::string, std::string> env;
    for (size_t i = 0; i < devices.size(); ++i) {
      env["CUDA_DEVICE_MEMORY_LIMIT_" + std::to_string(i)] =
          std::to_string(devices[i].used_mem_mib) + "m";
    }
    env["CUDA_DEVICE_SM_LIMIT"] = std::to_string(devices.front().used_cores);
    const vgpu::EnvConfig config = vgpu::ParseEnv([&env](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    });
    EXPECT_TRUE(config.warnings.empty());
    return vgpu::RegionInitFromEnv(config);
  }

  // Writes the region for `devices` at a fresh path; returns the path.
  std::string Write(const ContainerDevices& devices) {
    std::string path = tmp_.path() + "/r.cache";
    auto writer = vgpu::SharedRegion::Open(path, InitFor(devices));
    EXPECT_TRUE(writer.ok()) << writer.status().message();
    return path;
  }

  ContainerLimitCheck Check(const std::string& path, const nlohmann::json& pod) {
    auto region = MappedRegion::Open(path);
    EXPECT_TRUE(region.ok()) << region.status().message();
    if (!region.ok()) return {};
    // The scrape's snapshot carries the same limits as the round's cheaper read.
    const RegionSnapshot snapshot = (*region)->Snapshot();
    const RegionLimits limits = (*region)->Limits();
    EXPECT_EQ(snapshot.limits.memory_bytes, limits.memory_bytes);
    EXPECT_EQ(snapshot.limits.sm_percent, limits.sm_percent);
    return CheckContainerLimits(&pod, "main", limits);
  }

  TempDir tmp_;
  const ContainerDevices allocated_ = {Dev("GPU-a", 3000, 30), Dev("GPU-b", 3000, 30)};
  const nlohmann::json pod_ = Pod(EncodePodDevices({allocated_}));
};

TEST_F(RegionFileLimitTest, RegionAsCreatedAgrees) {
  const ContainerLimitCheck check = Check(Write(allocated_), pod_);
  EXPECT_TRUE(check.compared);
  EXPECT_TRUE(check.problem.empty());
  EXPECT_TRUE(check.mismatches.empty());
}

TEST_F(RegionFileLimitTest, TamperedLimitsAreFound) {
  const std::string path = Write(allocated_);
  PWriteAt<uint64_t>(path, LimitOffset(0), 1000 * kMiB);   // lowered
  PWriteAt<uint64_t>(path, LimitOffset(1), 15360 * kMiB);  // raised
  PWriteAt<uint64_t>(path, SmLimitOffset(0), 100);         // unthrottled
  const ContainerLimitCheck check = Check(path, pod_);
  EXPECT_TRUE(check.compared);
  EXPECT_EQ(check.mismatches, (std::vector<LimitMismatch>{
                                  {0, "GPU-a", LimitKind::kMemory, 1000 * kMiB, 3000 * kMiB},
                                  {0, "GPU-a", LimitKind::kSm, 100, 30},
                                  {1, "GPU-b", LimitKind::kMemory, 15360 * kMiB, 3000 * kMiB}}));
}

TEST_F(RegionFileLimitTest, ZeroedLimitIsAMismatch) {
  const std::string path = Write(allocated_);
  PWriteAt<uint64_t>(path, LimitOffset(0), 0);
  const ContainerLimitCheck check = Check(path, pod_);
  EXPECT_EQ(check.mismatches,
            (std::vector<LimitMismatch>{{0, "GPU-a", LimitKind::kMemory, 0, 3000 * kMiB}}));
}

TEST_F(RegionFileLimitTest, StaleRegionOfAnotherPodIsFound) {
  // Another pod's region (one GPU, 8000 MiB, 60 % on another device) left where this
  // container's is expected.
  const std::string path = tmp_.path() + "/stale.cache";
  auto writer = vgpu::SharedRegion::Open(path, InitFor({Dev("GPU-z", 8000, 60)}));
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  const std::string_view uuids[] = {"GPU-z"};
  ASSERT_TRUE((*writer)->SetDevices(uuids).ok());  // as HAMi-core records them
  const ContainerLimitCheck check = Check(path, pod_);
  EXPECT_EQ(check.mismatches,
            (std::vector<LimitMismatch>{{0, "GPU-a", LimitKind::kMemory, 8000 * kMiB, 3000 * kMiB},
                                        {0, "GPU-a", LimitKind::kSm, 60, 30},
                                        {1, "GPU-b", LimitKind::kMemory, 0, 3000 * kMiB},
                                        {1, "GPU-b", LimitKind::kSm, 60, 30}}));
}

TEST_F(RegionFileLimitTest, NoAllocationYetOrMalformedNeverReports) {
  const std::string path = Write(allocated_);
  PWriteAt<uint64_t>(path, LimitOffset(0), 0);  // would be a mismatch if there were something
  const ContainerLimitCheck unbound = Check(path, Pod(""));
  EXPECT_FALSE(unbound.compared);
  EXPECT_TRUE(unbound.problem.empty());
  EXPECT_TRUE(unbound.mismatches.empty());
  const ContainerLimitCheck malformed = Check(path, Pod("GPU-a,NVIDIA,lots,30:;"));
  EXPECT_FALSE(malformed.compared);
  EXPECT_NE(malformed.problem.find("hami.io/vgpu-devices-allocated"), std::string::npos)
      << malformed.problem;
  EXPECT_TRUE(malformed.mismatches.empty());
  const ContainerLimitCheck unknown_pod = CheckContainerLimits(nullptr, "main", RegionLimits{});
  EXPECT_FALSE(unknown_pod.compared);
  EXPECT_TRUE(unknown_pod.mismatches.empty());
}

}  // namespace
}  // namespace hami::monitor
