#include "deviceplugin/allocate.h"

#include <gtest/gtest.h>

namespace hami::deviceplugin {
namespace {

ContainerDevice Dev(const std::string& uuid, int32_t mem, int32_t cores) {
  return ContainerDevice{uuid, "NVIDIA", mem, cores};
}

class PlanAllocateTest : public ::testing::Test {
 protected:
  Result<AllocatePlan> Plan(const PodDevices& to_allocate,
                            std::vector<std::vector<std::string>> requested,
                            std::vector<PodContainer> containers = {{"main", false}}) {
    return PlanAllocate(to_allocate, requested, containers, "uid-1", settings_,
                        [this] { return "cache-" + std::to_string(next_++) + ".cache"; });
  }
  AllocateSettings settings_{"/usr/local", "/usr/local/vgpu/libvgpu.so.v2.4", 1.0, false, "",
                             false};
  int next_ = 0;
};

TEST_F(PlanAllocateTest, OneContainerGetsItsLimitsMountsAndEmptiesTheAnnotation) {
  auto plan = Plan({{Dev("GPU-a", 3000, 30)}}, {{"GPU-a-3"}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->containers.size(), 1u);
  const ContainerAllocation& c = plan->containers[0];
  EXPECT_EQ(c.container_index, 0u);
  const std::map<std::string, std::string> want_envs = {
      {"NVIDIA_VISIBLE_DEVICES", "GPU-a"},
      {"CUDA_DEVICE_MEMORY_LIMIT_0", "3000m"},
      {"CUDA_DEVICE_SM_LIMIT", "30"},
      {"CUDA_DEVICE_MEMORY_SHARED_CACHE", "/usr/local/vgpu/cache-0.cache"}};
  EXPECT_EQ(c.envs, want_envs);
  const std::vector<MountPlan> want_mounts = {
      {"/usr/local/vgpu/libvgpu.so", "/usr/local/vgpu/libvgpu.so.v2.4", true},
      {"/usr/local/vgpu", "/usr/local/vgpu/containers/uid-1_main", false},
      {"/tmp/vgpulock", "/tmp/vgpulock", false},
      {"/etc/ld.so.preload", "/usr/local/vgpu/ld.so.preload", true}};
  EXPECT_EQ(c.mounts, want_mounts);
  EXPECT_EQ(c.host_cache_dir, "/usr/local/vgpu/containers/uid-1_main");
  EXPECT_EQ(plan->remaining, (PodDevices{{}}));
  EXPECT_TRUE(plan->all_allocated);
}

TEST_F(PlanAllocateTest, SeveralDevicesAreListedInOrderWithTheirOwnMemory) {
  auto plan = Plan({{Dev("GPU-a", 3000, 30), Dev("GPU-b", 5000, 30)}}, {{"x-0", "y-1"}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const auto& envs = plan->containers[0].envs;
  EXPECT_EQ(envs.at("NVIDIA_VISIBLE_DEVICES"), "GPU-a,GPU-b");
  EXPECT_EQ(envs.at("CUDA_DEVICE_MEMORY_LIMIT_0"), "3000m");
  EXPECT_EQ(envs.at("CUDA_DEVICE_MEMORY_LIMIT_1"), "5000m");
  EXPECT_EQ(envs.at("CUDA_DEVICE_SM_LIMIT"), "30");
}

TEST_F(PlanAllocateTest, ContainersAreTakenInOrderAcrossCallsSkippingThoseWithoutDevices) {
  // An init container with a device, an app container without, an app container with one.
  const PodDevices annotation = {{Dev("GPU-a", 1000, 10)}, {}, {Dev("GPU-b", 2000, 20)}};
  const std::vector<PodContainer> containers = {
      {"init", false}, {"sidecar", false}, {"main", false}};
  auto first = Plan(annotation, {{"i-0"}}, containers);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->containers[0].container_index, 0u);
  EXPECT_EQ(first->containers[0].host_cache_dir, "/usr/local/vgpu/containers/uid-1_init");
  EXPECT_FALSE(first->all_allocated);
  auto second = Plan(first->remaining, {{"m-0"}}, containers);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->containers[0].container_index, 2u);
  EXPECT_EQ(second->containers[0].envs.at("NVIDIA_VISIBLE_DEVICES"), "GPU-b");
  EXPECT_EQ(second->containers[0].envs.at("CUDA_DEVICE_MEMORY_SHARED_CACHE"),
            "/usr/local/vgpu/cache-1.cache")
      << "every container gets its own region file";
  EXPECT_TRUE(second->all_allocated);
  EXPECT_EQ(second->remaining, (PodDevices{{}, {}, {}}));
}

TEST_F(PlanAllocateTest, OneCallMayCarrySeveralContainers) {
  auto plan = Plan({{Dev("GPU-a", 1000, 10)}, {Dev("GPU-b", 2000, 20)}}, {{"a-0"}, {"b-0"}},
                   {{"one", false}, {"two", false}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->containers.size(), 2u);
  EXPECT_EQ(plan->containers[1].envs.at("CUDA_DEVICE_MEMORY_LIMIT_0"), "2000m");
  EXPECT_TRUE(plan->all_allocated);
}

TEST_F(PlanAllocateTest, SettingsAndPerContainerOptOut) {
  settings_.memory_scaling = 1.5;
  settings_.disable_core_limit = true;
  settings_.log_level = "4";
  settings_.license_present = true;
  auto plan = Plan({{Dev("GPU-a", 3000, 30)}}, {{"a-0"}}, {{"main", /*disable_control=*/true}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const ContainerAllocation& c = plan->containers[0];
  EXPECT_EQ(c.envs.at("CUDA_OVERSUBSCRIBE"), "true");
  EXPECT_EQ(c.envs.at("GPU_CORE_UTILIZATION_POLICY"), "disable");
  EXPECT_EQ(c.envs.at("LIBCUDA_LOG_LEVEL"), "4");
  for (const MountPlan& m : c.mounts) {
    EXPECT_NE(m.container_path, "/etc/ld.so.preload") << "CUDA_DISABLE_CONTROL opts out";
  }
  EXPECT_EQ(c.mounts[c.mounts.size() - 2],
            (MountPlan{"/tmp/license", "/usr/local/vgpu/license", true}));
  EXPECT_EQ(c.mounts.back(),
            (MountPlan{"/usr/bin/vgpuvalidator", "/usr/local/vgpu/vgpuvalidator", true}));
}

TEST_F(PlanAllocateTest, VolumeMountsAndCdiCriReplaceTheVisibleDevicesList) {
  settings_.device_list = {/*envvar=*/false, /*volume_mounts=*/true, /*cdi_annotations=*/false,
                           /*cdi_cri=*/true};
  auto plan = Plan({{Dev("GPU-a", 3000, 30), Dev("GPU-b", 5000, 30)}}, {{"x-0", "y-1"}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const ContainerAllocation& c = plan->containers[0];
  EXPECT_EQ(c.envs.at("NVIDIA_VISIBLE_DEVICES"), "/var/run/nvidia-container-devices");
  EXPECT_EQ(c.envs.at("CUDA_DEVICE_MEMORY_LIMIT_1"), "5000m") << "HAMi-core's limits stay";
  const std::vector<MountPlan> want_mounts = {
      {"/var/run/nvidia-container-devices/GPU-a", "/dev/null", false},
      {"/var/run/nvidia-container-devices/GPU-b", "/dev/null", false},
      {"/usr/local/vgpu/libvgpu.so", "/usr/local/vgpu/libvgpu.so.v2.4", true},
      {"/usr/local/vgpu", "/usr/local/vgpu/containers/uid-1_main", false},
      {"/tmp/vgpulock", "/tmp/vgpulock", false},
      {"/etc/ld.so.preload", "/usr/local/vgpu/ld.so.preload", true}};
  EXPECT_EQ(c.mounts, want_mounts);
  EXPECT_EQ(c.cdi_devices, (std::vector<std::string>{"k8s.device-plugin.nvidia.com/gpu=GPU-a",
                                                     "k8s.device-plugin.nvidia.com/gpu=GPU-b"}));
  EXPECT_TRUE(c.annotations.empty());

  settings_.device_list = {false, false, /*cdi_annotations=*/true, false};
  auto annotated = Plan({{Dev("GPU-a", 3000, 30)}}, {{"x-0"}});
  ASSERT_TRUE(annotated.ok()) << annotated.status().message();
  const ContainerAllocation& a = annotated->containers[0];
  EXPECT_EQ(a.envs.count("NVIDIA_VISIBLE_DEVICES"), 0u) << "CDI only, as upstream";
  EXPECT_EQ(a.annotations,
            (std::map<std::string, std::string>{{"cdi.k8s.io/nvidia-device-plugin_cache-1",
                                                 "k8s.device-plugin.nvidia.com/gpu=GPU-a"}}))
      << "keyed by the container's fresh name";

  settings_.device_list = {false, true, false, false};
  auto refused = Plan({{Dev("../etc", 3000, 30)}}, {{"x-0"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("container request 0"), std::string::npos)
      << refused.status().message();
}

TEST_F(PlanAllocateTest, MismatchesAreRefusedWithAMessageForKubelet) {
  auto wrong_count = Plan({{Dev("GPU-a", 3000, 30)}}, {{"a-0", "b-0"}});
  ASSERT_FALSE(wrong_count.ok());
  EXPECT_EQ(wrong_count.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong_count.status().message().find("device number not matched"), std::string::npos);

  auto nothing_left = Plan({{}}, {{"a-0"}});
  ASSERT_FALSE(nothing_left.ok());
  EXPECT_NE(nothing_left.status().message().find("no devices left"), std::string::npos);

  auto too_few = Plan({{Dev("GPU-a", 1, 1)}}, {{"a-0"}, {"b-0"}});
  EXPECT_FALSE(too_few.ok()) << "a second request with nothing left to give";

  auto no_container = Plan({{}, {Dev("GPU-a", 1, 1)}}, {{"a-0"}}, {{"only", false}});
  ASSERT_FALSE(no_container.ok());
  EXPECT_NE(no_container.status().message().find("pod has 1 containers"), std::string::npos)
      << no_container.status().message();
}

}  // namespace
}  // namespace hami::deviceplugin

namespace hami::deviceplugin {
namespace {

// Static MIG: the instances the admin created on GPU-m, as NVML lists them.
Result<MigInstanceRef> FindInstance(const std::string& gpu, const std::string& profile,
                                    const MigPlacement& placement) {
  if (gpu != "GPU-m" || profile != "1g.10gb") return NotFound("none");
  if (placement == MigPlacement{0, 1}) return MigInstanceRef{"MIG-m-0", 7, 0};
  if (placement == MigPlacement{1, 1}) return MigInstanceRef{"MIG-m-1", 8, 0};
  return NotFound("none");
}

MigAllocation Reserved(int32_t container, int32_t device, int32_t start) {
  return MigAllocation{container, device, "GPU-m", "1g.10gb", {start, 1}, "", {}, {}};
}

TEST(PlanAllocateMigTest, AMigContainerGetsItsInstancesAndNothingOfHamiCore) {
  const PodDevices to_allocate = {
      {ContainerDevice{"GPU-m", "NVIDIA", 9856, 15}, ContainerDevice{"GPU-m", "NVIDIA", 9856, 15}}};
  const std::vector<MigAllocation> mig = {Reserved(0, 0, 1), Reserved(0, 1, 0)};
  AllocateSettings settings;
  auto plan = PlanAllocate(
      to_allocate, std::vector<std::vector<std::string>>{{"GPU-m-0", "GPU-m-1"}},
      std::vector<PodContainer>{{"main", false}}, "uid-1", settings, [] { return "c.cache"; }, mig,
      FindInstance);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const ContainerAllocation& c = plan->containers[0];
  EXPECT_EQ(c.envs,
            (std::map<std::string, std::string>{{"NVIDIA_VISIBLE_DEVICES", "MIG-m-1,MIG-m-0"}}));
  EXPECT_TRUE(c.mounts.empty());
  EXPECT_TRUE(c.host_cache_dir.empty());
  EXPECT_EQ(c.device_uuids, (std::vector<std::string>{"GPU-m", "GPU-m"}));
  ASSERT_TRUE(plan->mig_realized);
  EXPECT_EQ(plan->mig_allocations[0].mig_uuid, "MIG-m-1");
  EXPECT_EQ(plan->mig_allocations[0].gpu_instance_id, 8u);
  EXPECT_EQ(plan->mig_allocations[0].compute_instance_id, 0u);
  EXPECT_EQ(plan->mig_allocations[1].mig_uuid, "MIG-m-0");
  EXPECT_TRUE(plan->all_allocated);
}

TEST(PlanAllocateMigTest, MissingInstancesAndMixedContainersAreRefused) {
  AllocateSettings settings;
  const std::vector<PodContainer> containers = {{"main", false}};
  const std::vector<std::vector<std::string>> one = {{"x"}};
  // Reserved where no instance exists (the admin reconfigured the GPU).
  auto gone = PlanAllocate(
      PodDevices{{ContainerDevice{"GPU-m", "NVIDIA", 9856, 15}}}, one, containers, "u", settings,
      [] { return "c.cache"; }, std::vector<MigAllocation>{Reserved(0, 0, 5)}, FindInstance);
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.status().message().find("no MIG device 1g.10gb at slices 5+1 of GPU GPU-m"),
            std::string::npos)
      << gone.status().message();
  // No lookup at all (a node without MIG devices).
  EXPECT_FALSE(PlanAllocate(
                   PodDevices{{ContainerDevice{"GPU-m", "NVIDIA", 9856, 15}}}, one, containers, "u",
                   settings, [] { return "c.cache"; },
                   std::vector<MigAllocation>{Reserved(0, 0, 0)}, nullptr)
                   .ok());
  // One MIG and one shared GPU in a container.
  auto mixed = PlanAllocate(
      PodDevices{{ContainerDevice{"GPU-m", "NVIDIA", 9856, 15},
                  ContainerDevice{"GPU-t", "NVIDIA", 1000, 10}}},
      std::vector<std::vector<std::string>>{{"x", "y"}}, containers, "u", settings,
      [] { return "c.cache"; }, std::vector<MigAllocation>{Reserved(0, 0, 0)}, FindInstance);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.status().message().find("cannot be mixed"), std::string::npos);
  // A reservation naming another GPU than the device string at that position.
  MigAllocation wrong = Reserved(0, 0, 0);
  wrong.gpu_uuid = "GPU-other";
  EXPECT_FALSE(PlanAllocate(
                   PodDevices{{ContainerDevice{"GPU-m", "NVIDIA", 9856, 15}}}, one, containers, "u",
                   settings, [] { return "c.cache"; }, std::vector<MigAllocation>{wrong},
                   FindInstance)
                   .ok());
}

}  // namespace
}  // namespace hami::deviceplugin
