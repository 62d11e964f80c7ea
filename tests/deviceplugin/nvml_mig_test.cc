// Dynamic MIG through the NVML wrapper against the fake libnvidia-ml.so.1: profiles and
// placements, GPU and compute instances created and destroyed with NVML's rules, state kept in
// the fake's file across processes.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "nvml/nvml.h"

namespace hami::nvml {
namespace {

// GPU 0: a T4 (no MIG); GPU 1: an A100-40GB in MIG mode with no instances; GPU 2: an
// H100-80GB with MIG off.
nlohmann::json ThreeGpus() {
  return {{"devices",
           {{{"uuid", "GPU-t4"},
             {"name", "Tesla T4"},
             {"memory_mib", 15360},
             {"bus_id", "00000000:3B:00.0"}},
            {{"uuid", "GPU-a100"},
             {"name", "NVIDIA A100-SXM4-40GB"},
             {"memory_mib", 40960},
             {"bus_id", "00000000:AF:00.0"},
             {"mig", true},
             {"mig_model", "A100-SXM4-40GB"}},
            {{"uuid", "GPU-h100"},
             {"name", "NVIDIA H100 80GB HBM3"},
             {"memory_mib", 81559},
             {"bus_id", "00000000:D8:00.0"},
             {"mig", false},
             {"mig_model", "H100-80GB-HBM3"}}}}};
}

class NvmlMigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hami_nvml_mig_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    path_ = std::string(pattern) + "/nvml.json";
    Write(ThreeGpus());
    setenv("HAMI_FAKE_NVML_CONFIG", path_.c_str(), 1);
    Reopen();
  }
  void TearDown() override {
    nvml_.reset();
    unsetenv("HAMI_FAKE_NVML_CONFIG");
  }
  void Write(const nlohmann::json& config) { std::ofstream(path_) << config.dump(); }
  nlohmann::json Read() {
    std::ifstream in(path_);
    return nlohmann::json::parse(in);
  }
  void Reopen() {
    nvml_.reset();
    auto opened = Nvml::Open(HAMI_FAKE_NVML_PATH);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    nvml_ = std::move(*opened);
  }
  std::string path_;
  std::unique_ptr<Nvml> nvml_;
};

TEST_F(NvmlMigTest, ListsTheProfilesAndPlacementsOfAnA100) {
  auto profiles = nvml_->MigProfiles(1);
  ASSERT_TRUE(profiles.ok()) << profiles.status().message();
  std::map<std::string, NvmlMigProfileInfo> by_name;
  for (const NvmlMigProfileInfo& p : *profiles) by_name[p.name] = p;
  ASSERT_EQ(by_name.size(), 7u);
  for (const char* name :
       {"1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"}) {
    EXPECT_EQ(by_name.count(name), 1u) << name;
  }
  EXPECT_EQ(by_name["3g.20gb"].profile_id, 2u);
  EXPECT_EQ(by_name["3g.20gb"].slice_count, 3);
  EXPECT_EQ(by_name["3g.20gb"].instance_count, 2);
  EXPECT_EQ(by_name["3g.20gb"].placements, (std::vector<MigPlacement>{{0, 4}, {4, 4}}));
  EXPECT_EQ(by_name["2g.10gb"].placements, (std::vector<MigPlacement>{{0, 2}, {2, 2}, {4, 2}}));
  EXPECT_EQ(by_name["1g.5gb"].placements.size(), 7u);
  EXPECT_EQ(by_name["1g.10gb"].placements,
            (std::vector<MigPlacement>{{0, 2}, {2, 2}, {4, 2}, {6, 2}}));
  EXPECT_EQ(by_name["7g.40gb"].placements, (std::vector<MigPlacement>{{0, 8}}));
  EXPECT_EQ(by_name["7g.40gb"].multiprocessor_count, 98);
}

TEST_F(NvmlMigTest, TheH100And80GbA100TablesNameTheirProfiles) {
  nlohmann::json config = ThreeGpus();
  config["devices"][2]["mig"] = true;
  config["devices"][1]["mig_model"] = "A100-SXM4-80GB";
  Write(config);
  Reopen();
  for (auto [gpu, expected] : std::vector<std::pair<uint32_t, std::vector<std::string>>>{
           {1, {"1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb", "1g.10gb+me", "1g.20gb"}},
           {2, {"1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb", "1g.10gb+me", "1g.20gb"}}}) {
    auto profiles = nvml_->MigProfiles(gpu);
    ASSERT_TRUE(profiles.ok()) << profiles.status().message();
    std::vector<std::string> names;
    for (const NvmlMigProfileInfo& p : *profiles) names.push_back(p.name);
    EXPECT_EQ(names, expected) << "GPU " << gpu;
  }
  auto h100 = nvml_->MigProfiles(2);
  ASSERT_TRUE(h100.ok());
  EXPECT_EQ(h100->back().name, "1g.20gb");
  EXPECT_EQ(h100->back().placements, (std::vector<MigPlacement>{{0, 2}, {2, 2}, {4, 2}, {6, 2}}));
}

TEST_F(NvmlMigTest, CreatesAtThePlacementAndRefusesOverlapsAndIllegalStarts) {
  auto three = nvml_->CreateGpuInstance(1, 2, {4, 4});  // 3g.20gb in the upper half
  ASSERT_TRUE(three.ok()) << three.status().message();
  auto instances = nvml_->GpuInstances(1);
  ASSERT_TRUE(instances.ok()) << instances.status().message();
  ASSERT_EQ(instances->size(), 1u);
  EXPECT_EQ((*instances)[0].id, *three);
  EXPECT_EQ((*instances)[0].profile_id, 2u);
  EXPECT_EQ((*instances)[0].placement, (MigPlacement{4, 4}));
  EXPECT_TRUE((*instances)[0].compute_instance_ids.empty());

  // A 2g.10gb at slice 4 overlaps it: NVML's INSUFFICIENT_RESOURCES, named.
  auto overlap = nvml_->CreateGpuInstance(1, 1, {4, 2});
  ASSERT_FALSE(overlap.ok());
  EXPECT_EQ(overlap.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(overlap.status().message().find(
                "GPU 1 (GPU-a100): nvmlDeviceCreateGpuInstanceWithPlacement(profile 1, placement "
                "start 4 size 2): Insufficient resources"),
            std::string::npos)
      << overlap.status().message();
  // A 3g.20gb may start at 0 or 4 only.
  auto illegal = nvml_->CreateGpuInstance(1, 2, {2, 4});
  ASSERT_FALSE(illegal.ok());
  EXPECT_EQ(illegal.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(illegal.status().message().find("placement start 2 size 4"), std::string::npos);
  // A second 4g would be fine by memory but not by count; the 4g at 0 fits beside the 3g
  // (4 + 3 = 7 GPU slices), after which not even a 1g fits anywhere.
  auto four = nvml_->CreateGpuInstance(1, 3, {0, 4});
  ASSERT_TRUE(four.ok()) << four.status().message();
  EXPECT_NE(*four, *three);
  for (int start = 0; start < 7; ++start) {
    EXPECT_EQ(nvml_->CreateGpuInstance(1, 0, {start, 1}).status().code(),
              StatusCode::kResourceExhausted)
        << start;
  }
  ASSERT_TRUE(nvml_->GpuInstances(1).ok());
  EXPECT_EQ(nvml_->GpuInstances(1)->size(), 2u);
}

TEST_F(NvmlMigTest, ComputeInstancesAreCreatedWholeAndMustGoBeforeTheirGpuInstance) {
  auto gi = nvml_->CreateGpuInstance(1, 1, {2, 2});  // 2g.10gb
  ASSERT_TRUE(gi.ok()) << gi.status().message();
  auto mig = nvml_->CreateComputeInstance(1, *gi);
  ASSERT_TRUE(mig.ok()) << mig.status().message();
  EXPECT_EQ(mig->uuid.rfind("MIG-", 0), 0u) << mig->uuid;
  EXPECT_EQ(mig->gpu_instance_id, *gi);
  EXPECT_EQ(mig->compute_instance_id, 0u);
  EXPECT_EQ(mig->profile, "2g.10gb");
  EXPECT_EQ(mig->slice_count, 2);
  EXPECT_EQ(mig->placement, (MigPlacement{2, 2}));
  EXPECT_EQ(mig->core_percent, 29);  // 28 of 98 SMs, rounded up
  // Discovery now sees the MIG device.
  auto gpus = nvml_->Gpus();
  ASSERT_TRUE(gpus.ok()) << gpus.status().message();
  ASSERT_EQ((*gpus)[1].mig_instances.size(), 1u);
  EXPECT_EQ((*gpus)[1].mig_instances[0], *mig);
  // The GPU instance's slices are all taken: a second full compute instance does not fit.
  auto second = nvml_->CreateComputeInstance(1, *gi);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(nvml_->GpuInstances(1)->at(0).compute_instance_ids, std::vector<uint32_t>{0});

  Status in_use = nvml_->DestroyGpuInstance(1, *gi);
  EXPECT_EQ(in_use.code(), StatusCode::kFailedPrecondition) << in_use.message();
  EXPECT_NE(in_use.message().find("In use by another client"), std::string::npos);
  EXPECT_EQ(nvml_->DestroyComputeInstance(1, *gi, 7).code(), StatusCode::kNotFound);
  ASSERT_TRUE(nvml_->DestroyComputeInstance(1, *gi, 0).ok());
  EXPECT_TRUE(nvml_->Gpus()->at(1).mig_instances.empty());
  ASSERT_TRUE(nvml_->DestroyGpuInstance(1, *gi).ok());
  EXPECT_TRUE(nvml_->GpuInstances(1)->empty());
  Status gone = nvml_->DestroyGpuInstance(1, *gi);
  EXPECT_EQ(gone.code(), StatusCode::kNotFound) << gone.message();
  EXPECT_EQ(nvml_->CreateComputeInstance(1, *gi).status().code(), StatusCode::kNotFound);
}

TEST_F(NvmlMigTest, InstancesOutliveTheProcessThatMadeThem) {
  auto gi = nvml_->CreateGpuInstance(1, 2, {0, 4});
  ASSERT_TRUE(gi.ok()) << gi.status().message();
  auto mig = nvml_->CreateComputeInstance(1, *gi);
  ASSERT_TRUE(mig.ok()) << mig.status().message();
  // Written to the fake's file, as the driver keeps them.
  const nlohmann::json saved = Read();
  EXPECT_EQ(saved["devices"][1]["gpu_instances"].size(), 1u);
  EXPECT_EQ(saved["devices"][1]["mig_instances"][0]["uuid"], mig->uuid);
  EXPECT_EQ(saved["devices"][1]["mig_model"], "A100-SXM4-40GB");  // the rest kept

  // A restarted plugin (NVML opened again) finds them.
  Reopen();
  auto instances = nvml_->GpuInstances(1);
  ASSERT_TRUE(instances.ok()) << instances.status().message();
  ASSERT_EQ(instances->size(), 1u);
  EXPECT_EQ((*instances)[0].placement, (MigPlacement{0, 4}));
  EXPECT_EQ((*instances)[0].compute_instance_ids, std::vector<uint32_t>{0});
  ASSERT_EQ(nvml_->Gpus()->at(1).mig_instances.size(), 1u);
  EXPECT_EQ(nvml_->Gpus()->at(1).mig_instances[0].uuid, mig->uuid);

  // Another process creating one is seen by this one, which then cannot take its slices.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto other = Nvml::Open(HAMI_FAKE_NVML_PATH);
    const bool ok = other.ok() && (*other)->CreateGpuInstance(1, 2, {4, 4}).ok();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(nvml_->GpuInstances(1)->size(), 2u);
  EXPECT_EQ(nvml_->CreateGpuInstance(1, 2, {4, 4}).status().code(), StatusCode::kResourceExhausted);
}

TEST_F(NvmlMigTest, AComputeInstanceWithProcessesIsNotDestroyed) {
  auto gi = nvml_->CreateGpuInstance(1, 0, {6, 1});
  ASSERT_TRUE(gi.ok()) << gi.status().message();
  ASSERT_TRUE(nvml_->CreateComputeInstance(1, *gi).ok());
  nlohmann::json config = Read();  // a process starts on it
  config["devices"][1]["mig_instances"][0]["in_use"] = true;
  Write(config);
  Status busy = nvml_->DestroyComputeInstance(1, *gi, 0);
  EXPECT_EQ(busy.code(), StatusCode::kFailedPrecondition) << busy.message();
  EXPECT_NE(busy.message().find("processes still use it"), std::string::npos);
  EXPECT_EQ(nvml_->GpuInstances(1)->at(0).compute_instance_ids, std::vector<uint32_t>{0});
  config["devices"][1]["mig_instances"][0]["in_use"] = false;  // it exits
  Write(config);
  EXPECT_TRUE(nvml_->DestroyComputeInstance(1, *gi, 0).ok());
  EXPECT_TRUE(nvml_->DestroyGpuInstance(1, *gi).ok());
}

TEST_F(NvmlMigTest, AGpuNotInMigModeIsRefusedByName) {
  for (uint32_t gpu : {0u, 2u}) {  // a T4 (no MIG at all) and an H100 with MIG off
    auto profiles = nvml_->MigProfiles(gpu);
    ASSERT_FALSE(profiles.ok());
    EXPECT_EQ(profiles.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(profiles.status().message().find("not in MIG mode"), std::string::npos);
    auto created = nvml_->CreateGpuInstance(gpu, 0, {0, 1});
    EXPECT_EQ(created.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(nvml_->GpuInstances(gpu).status().code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_NE(nvml_->CreateGpuInstance(2, 0, {0, 1}).status().message().find("GPU 2 (GPU-h100)"),
            std::string::npos);
}

// NVML's own answers, which the wrapper relies on, straight from the fake.
TEST_F(NvmlMigTest, TheFakeAnswersWithNvmlsErrorCodes) {
  void* lib = dlopen(HAMI_FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr);
  auto get_handle = reinterpret_cast<nvmlDeviceGetHandleByIndex_v2_fn>(
      dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
  auto create = reinterpret_cast<nvmlDeviceCreateGpuInstanceWithPlacement_fn>(
      dlsym(lib, "nvmlDeviceCreateGpuInstanceWithPlacement"));
  auto destroy = reinterpret_cast<nvmlGpuInstanceDestroy_fn>(dlsym(lib, "nvmlGpuInstanceDestroy"));
  auto placements = reinterpret_cast<nvmlDeviceGetGpuInstancePossiblePlacements_v2_fn>(
      dlsym(lib, "nvmlDeviceGetGpuInstancePossiblePlacements_v2"));
  auto profile_info = reinterpret_cast<nvmlDeviceGetGpuInstanceProfileInfo_fn>(
      dlsym(lib, "nvmlDeviceGetGpuInstanceProfileInfo"));
  ASSERT_TRUE(get_handle && create && destroy && placements && profile_info);
  nvmlDevice_t t4 = nullptr, a100 = nullptr, h100 = nullptr;
  ASSERT_EQ(get_handle(0, &t4), NVML_SUCCESS);
  ASSERT_EQ(get_handle(1, &a100), NVML_SUCCESS);
  ASSERT_EQ(get_handle(2, &h100), NVML_SUCCESS);
  // Profile index 0 (1g.5gb) reports its unique id, 19, as a driver does; 7g (index 4) 0.
  nvmlGpuInstanceProfileInfo_t info{};
  ASSERT_EQ(profile_info(a100, 0, &info), NVML_SUCCESS);
  EXPECT_EQ(info.id, 19u);
  ASSERT_EQ(profile_info(a100, 4, &info), NVML_SUCCESS);
  EXPECT_EQ(info.id, 0u);
  EXPECT_EQ(info.memorySizeMB, 40448u);
  nvmlGpuInstance_t gi = nullptr;
  const nvmlGpuInstancePlacement_t at0{0, 1};
  EXPECT_EQ(create(t4, 0, &at0, &gi), NVML_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(create(h100, 0, &at0, &gi), NVML_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(create(a100, 3, &at0, &gi), NVML_ERROR_INVALID_ARGUMENT);  // no such profile
  EXPECT_EQ(create(a100, 0, &at0, &gi), NVML_ERROR_INVALID_ARGUMENT);  // 7g (unique id 0) at 0:1
  const nvmlGpuInstancePlacement_t odd{1, 2};
  EXPECT_EQ(create(a100, 14, &odd, &gi), NVML_ERROR_INVALID_ARGUMENT);  // 2g at an odd slice
  unsigned int count = 0;
  EXPECT_EQ(placements(a100, 19, nullptr, &count), NVML_SUCCESS);
  EXPECT_EQ(count, 7u);
  nvmlGpuInstancePlacement_t two[2];
  count = 2;
  EXPECT_EQ(placements(a100, 19, two, &count), NVML_ERROR_INSUFFICIENT_SIZE);
  EXPECT_EQ(count, 7u);
  EXPECT_EQ(placements(t4, 19, nullptr, &count), NVML_ERROR_NOT_SUPPORTED);
  ASSERT_EQ(create(a100, 19, &at0, &gi), NVML_SUCCESS);
  EXPECT_EQ(create(a100, 19, &at0, &gi), NVML_ERROR_INSUFFICIENT_RESOURCES);
  EXPECT_EQ(destroy(gi), NVML_SUCCESS);
  EXPECT_EQ(destroy(gi), NVML_ERROR_INVALID_ARGUMENT);  // a stale handle
  dlclose(lib);
}

// An older driver's library: the names changed in its string tables so dlsym misses them.
std::string FakeNvmlWithout(const std::string& symbol) {
  std::ifstream in(HAMI_FAKE_NVML_PATH, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string name = symbol + '\0';
  for (size_t at = bytes.find(name); at != std::string::npos; at = bytes.find(name, at)) {
    bytes[at] = 'X';
  }
  char pattern[] = "/tmp/hami_oldnvml_XXXXXX";
  EXPECT_NE(mkdtemp(pattern), nullptr);
  const std::string path = std::string(pattern) + "/libnvidia-ml.so.1";
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST_F(NvmlMigTest, ADriverWithoutDynamicMigSaysSo) {
  nvml_.reset();
  auto old = Nvml::Open(FakeNvmlWithout("nvmlDeviceCreateGpuInstanceWithPlacement"));
  ASSERT_TRUE(old.ok()) << old.status().message();
  auto created = (*old)->CreateGpuInstance(1, 0, {0, 1});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(created.status().message().find("NVML has no nvmlDeviceCreateGpuInstanceWithPlacement"),
            std::string::npos)
      << created.status().message();
  EXPECT_TRUE((*old)->Gpus().ok());  // discovery unaffected
}

}  // namespace
}  // namespace hami::nvml
