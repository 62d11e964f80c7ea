#include "deviceplugin/allocator.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "device/annotations.h"
#include "device/codec.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::deviceplugin {
namespace {

constexpr int64_t kNow = 1735830245;

class AllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    client_ = scheduler::testing::TestClient(*url, 1);
    char pattern[] = "/tmp/hami_hook_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    hook_ = pattern;
    ASSERT_TRUE(
        api_.Put({{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "n1"}}}}).ok());
    AllocatorOptions options;
    options.node_name = "n1";
    options.settings.hook_path = hook_;
    options.settings.host_libvgpu = hook_ + "/vgpu/libvgpu.so";
    allocator_ = std::make_unique<Allocator>(
        *client_, options, [] { return kNow; },
        [this] { return "r" + std::to_string(next_++) + ".cache"; });
  }

  // A pod the scheduler bound to n1: devices-to-allocate per container, bind-phase allocating,
  // and (unless `locked` is false) the node lock naming it.
  std::string BoundPod(const std::string& name, const std::string& to_allocate,
                       std::vector<std::string> containers = {"main"}, bool locked = true) {
    nlohmann::json list = nlohmann::json::array();
    for (const std::string& c : containers) list.push_back({{"name", c}});
    nlohmann::json pod = {{"kind", "Pod"},
                          {"apiVersion", "v1"},
                          {"metadata",
                           {{"name", name},
                            {"namespace", "default"},
                            {"annotations",
                             {{kVgpuNodeAnnotation, "n1"},
                              {"hami.io/vgpu-devices-to-allocate", to_allocate},
                              {"hami.io/vgpu-devices-allocated", to_allocate},
                              {kBindPhaseAnnotation, "allocating"},
                              {kBindTimeAnnotation, std::to_string(kNow)}}}}},
                          {"spec", {{"nodeName", "n1"}, {"containers", list}}},
                          {"status", {{"phase", "Pending"}}}};
    auto stored = api_.Put(pod);
    EXPECT_TRUE(stored.ok());
    if (locked) {
      nlohmann::json node = *api_.Get("nodes", "", "n1");
      node["metadata"]["annotations"][kNodeLockAnnotation] =
          EncodeNodeLock(NodeLock{kNow, "default", name, false}, 0);
      EXPECT_TRUE(api_.Put(node).ok());
    }
    return (*stored)["metadata"]["uid"].get<std::string>();
  }

  v1beta1::AllocateRequest Request(std::vector<int> device_counts) {
    v1beta1::AllocateRequest request;
    for (int count : device_counts) {
      auto* c = request.add_container_requests();
      for (int i = 0; i < count; ++i) c->add_devices_ids("GPU-x-" + std::to_string(i));
    }
    return request;
  }

  std::string Annotation(const std::string& pod, const std::string& key) {
    auto p = api_.Get("pods", "default", pod);
    return (*p)["metadata"]["annotations"].value(key, std::string());
  }
  std::string Lock() {
    auto n = api_.Get("nodes", "", "n1");
    return (*n)["metadata"]
        .value("annotations", nlohmann::json::object())
        .value(kNodeLockAnnotation, std::string());
  }

  fakes::FakeApiServer api_;
  std::unique_ptr<kube::KubeClient> client_;
  std::string hook_;
  std::unique_ptr<Allocator> allocator_;
  int next_ = 0;
};

TEST_F(AllocatorTest, LockOwnerGetsItsLimitsThenSuccessAndTheLockIsReleased) {
  const std::string uid = BoundPod("p1", "GPU-a,NVIDIA,3000,30:;");
  auto response = allocator_->Allocate(Request({1}));
  ASSERT_TRUE(response.ok()) << response.status().message();
  const auto& envs = response->container_responses(0).envs();
  EXPECT_EQ(envs.at("NVIDIA_VISIBLE_DEVICES"), "GPU-a");
  EXPECT_EQ(envs.at("CUDA_DEVICE_MEMORY_LIMIT_0"), "3000m");
  EXPECT_EQ(envs.at("CUDA_DEVICE_SM_LIMIT"), "30");
  EXPECT_EQ(envs.at("CUDA_DEVICE_MEMORY_SHARED_CACHE"), hook_ + "/vgpu/r0.cache");
  EXPECT_EQ(response->container_responses(0).mounts_size(), 4);
  EXPECT_EQ(Annotation("p1", "hami.io/vgpu-devices-to-allocate"), ";");
  EXPECT_EQ(Annotation("p1", "hami.io/vgpu-devices-allocated"), "GPU-a,NVIDIA,3000,30:;")
      << "the allocated record is never touched";
  EXPECT_EQ(Annotation("p1", kBindPhaseAnnotation), "success");
  EXPECT_EQ((*api_.Get("pods", "default", "p1"))["metadata"]["labels"][kVgpuNodeAnnotation], "n1");
  EXPECT_EQ(Lock(), "");
  // The remaining groups and bind-phase "success" go in one pod write; the lock release is
  // the only node write.
  EXPECT_EQ(api_.RequestCount("patch", "/pods/"), 1);
  EXPECT_EQ(api_.RequestCount("patch", "/nodes/"), 1);
  EXPECT_EQ(api_.RequestCount("get", "/nodes/"), 1) << "the release reuses the node it read";
  const std::filesystem::path dir = hook_ + "/vgpu/containers/" + uid + "_main";
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  EXPECT_EQ(std::filesystem::status(dir).permissions(), std::filesystem::perms::all);
}

TEST_F(AllocatorTest, CdiStrategiesReachKubeletAsAnnotationsAndCdiDevices) {
  AllocateSettings settings;
  settings.hook_path = hook_;
  settings.host_libvgpu = hook_ + "/vgpu/libvgpu.so";
  settings.device_list = {/*envvar=*/false, /*volume_mounts=*/false, /*cdi_annotations=*/true,
                          /*cdi_cri=*/true};
  allocator_->SetSettings(settings);
  BoundPod("p1", "GPU-a,NVIDIA,3000,30:GPU-b,NVIDIA,1000,30:;");
  auto response = allocator_->Allocate(Request({2}));
  ASSERT_TRUE(response.ok()) << response.status().message();
  ASSERT_EQ(response->container_responses_size(), 1);
  const v1beta1::ContainerAllocateResponse& c = response->container_responses(0);
  ASSERT_EQ(c.annotations_size(), 1);
  EXPECT_EQ(c.annotations().at("cdi.k8s.io/nvidia-device-plugin_r0"),
            "k8s.device-plugin.nvidia.com/gpu=GPU-a,k8s.device-plugin.nvidia.com/gpu=GPU-b");
  ASSERT_EQ(c.cdi_devices_size(), 2);
  EXPECT_EQ(c.cdi_devices(0).name(), "k8s.device-plugin.nvidia.com/gpu=GPU-a");
  EXPECT_EQ(c.cdi_devices(1).name(), "k8s.device-plugin.nvidia.com/gpu=GPU-b");
  EXPECT_EQ(c.envs().count("NVIDIA_VISIBLE_DEVICES"), 0u);
  EXPECT_EQ(c.envs().at("CUDA_DEVICE_MEMORY_LIMIT_1"), "1000m");

  // What kubelet decodes from the wire carries both fields.
  v1beta1::AllocateResponse decoded;
  ASSERT_TRUE(decoded.ParseFromString(response->SerializeAsString()));
  EXPECT_EQ(decoded.container_responses(0).annotations().at("cdi.k8s.io/nvidia-device-plugin_r0"),
            c.annotations().at("cdi.k8s.io/nvidia-device-plugin_r0"));
  EXPECT_EQ(decoded.container_responses(0).cdi_devices(1).name(),
            "k8s.device-plugin.nvidia.com/gpu=GPU-b");
}

TEST_F(AllocatorTest, ContainersOneByOneKeepTheLockUntilTheLast) {
  BoundPod("p1", "GPU-a,NVIDIA,1000,10:;GPU-b,NVIDIA,2000,20:;", {"first", "second"});
  ASSERT_TRUE(allocator_->Allocate(Request({1})).ok());
  EXPECT_EQ(Annotation("p1", "hami.io/vgpu-devices-to-allocate"), ";GPU-b,NVIDIA,2000,20:;");
  EXPECT_EQ(Annotation("p1", kBindPhaseAnnotation), "allocating");
  EXPECT_NE(Lock(), "");
  auto second = allocator_->Allocate(Request({1}));
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), "GPU-b");
  EXPECT_EQ(Annotation("p1", kBindPhaseAnnotation), "success");
  EXPECT_EQ(Lock(), "");
}

TEST_F(AllocatorTest, WithoutALockThePendingPodBoundHereIsFound) {
  BoundPod("p1", "GPU-a,NVIDIA,3000,30:;", {"main"}, /*locked=*/false);
  auto found = allocator_->FindPendingPod();
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ((*found)["metadata"]["name"], "p1");
  EXPECT_TRUE(allocator_->Allocate(Request({1})).ok());
}

TEST_F(AllocatorTest, UnreadableOrOrphanedLockFallsBackToThePendingPod) {
  BoundPod("p1", "GPU-a,NVIDIA,3000,30:;", {"main"}, /*locked=*/false);
  for (const std::string& lock :
       {std::string("not-a-lock"), EncodeNodeLock(NodeLock{kNow, "default", "gone", false}, 0)}) {
    nlohmann::json node = *api_.Get("nodes", "", "n1");
    node["metadata"]["annotations"][kNodeLockAnnotation] = lock;
    ASSERT_TRUE(api_.Put(node).ok());
    auto found = allocator_->FindPendingPod();
    ASSERT_TRUE(found.ok()) << lock << ": " << found.status().message();
    EXPECT_EQ((*found)["metadata"]["name"], "p1") << lock;
  }
}

TEST_F(AllocatorTest, LockLeftBehindIsReleasedAndThePendingPodFound) {
  // The lock names a pod that was bound and allocated elsewhere (a scheduler killed between
  // taking the lock and binding, the pod then re-filtered): it is released, not obeyed.
  nlohmann::json elsewhere = {
      {"kind", "Pod"},
      {"apiVersion", "v1"},
      {"metadata",
       {{"name", "moved"},
        {"namespace", "default"},
        {"annotations", {{kVgpuNodeAnnotation, "n2"}, {kBindPhaseAnnotation, "success"}}}}},
      {"spec", {{"nodeName", "n2"}}},
      {"status", {{"phase", "Running"}}}};
  ASSERT_TRUE(api_.Put(elsewhere).ok());
  BoundPod("p1", "GPU-a,NVIDIA,3000,30:;", {"main"}, /*locked=*/false);
  nlohmann::json node = *api_.Get("nodes", "", "n1");
  node["metadata"]["annotations"][kNodeLockAnnotation] =
      EncodeNodeLock(NodeLock{kNow, "default", "moved", false}, 0);
  ASSERT_TRUE(api_.Put(node).ok());
  auto found = allocator_->FindPendingPod();
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ((*found)["metadata"]["name"], "p1");
  EXPECT_EQ(Lock(), "");

  // The periodic check releases such a lock too, and leaves a legitimate one alone.
  node = *api_.Get("nodes", "", "n1");
  node["metadata"]["annotations"][kNodeLockAnnotation] =
      EncodeNodeLock(NodeLock{kNow, "default", "moved", false}, 0);
  ASSERT_TRUE(api_.Put(node).ok());
  auto released = allocator_->ReleaseOrphanedLock();
  ASSERT_TRUE(released.ok());
  EXPECT_NE(released->find("bound to n2"), std::string::npos) << *released;
  EXPECT_EQ(Lock(), "");
  BoundPod("p2", "GPU-a,NVIDIA,3000,30:;");  // locked by p2, being allocated here
  released = allocator_->ReleaseOrphanedLock();
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(*released, "");
  EXPECT_NE(Lock(), "");
}

TEST_F(AllocatorTest, ADeviceThatIsGoneOrUnhealthyIsRefusedWithNoHalfState) {
  AllocatorOptions options;
  options.node_name = "n1";
  options.settings.hook_path = hook_;
  options.usable_devices = [] { return std::set<std::string>{"GPU-a"}; };
  Allocator checked(
      *client_, options, [] { return kNow; }, [] { return "x.cache"; });
  BoundPod("p1", "GPU-b,NVIDIA,3000,30:;");
  auto response = checked.Allocate(Request({1}));
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("GPU-b is not a healthy GPU of this node"),
            std::string::npos)
      << response.status().message();
  EXPECT_EQ(Annotation("p1", "hami.io/vgpu-devices-to-allocate"), "GPU-b,NVIDIA,3000,30:;");
  EXPECT_EQ(Annotation("p1", kBindPhaseAnnotation), "failed");
  EXPECT_EQ(Lock(), "");
  EXPECT_FALSE(std::filesystem::exists(hook_ + "/vgpu/containers")) << "no directory made";
}

TEST_F(AllocatorTest, MigPodGetsTheReservedInstancesAndTheirIdentityIsRecorded) {
  AllocatorOptions options;
  options.node_name = "n1";
  options.settings.hook_path = hook_;
  options.mig_instances = [](const std::string& gpu, const std::string& profile,
                             const MigPlacement& placement) -> Result<MigInstanceRef> {
    if (gpu == "GPU-m" && profile == "3g.40gb" && placement == MigPlacement{4, 4}) {
      return MigInstanceRef{"MIG-m-4", 2, 0};
    }
    return NotFound("no such instance");
  };
  Allocator mig(
      *client_, options, [] { return kNow; }, [] { return "x.cache"; });
  BoundPod("p1", "GPU-m,NVIDIA,40448,43:;");
  nlohmann::json pod = *api_.Get("pods", "default", "p1");
  pod["metadata"]["annotations"][kVgpuMigAllocationsAnnotation] =
      R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-m","profile":"3g.40gb",)"
      R"("placement":{"start":4,"size":4}}])";
  ASSERT_TRUE(api_.Put(pod).ok());
  auto response = mig.Allocate(Request({1}));
  ASSERT_TRUE(response.ok()) << response.status().message();
  const auto& envs = response->container_responses(0).envs();
  EXPECT_EQ(envs.at("NVIDIA_VISIBLE_DEVICES"), "MIG-m-4");
  EXPECT_EQ(envs.count("CUDA_DEVICE_MEMORY_LIMIT_0"), 0u);
  EXPECT_EQ(response->container_responses(0).mounts_size(), 0);
  EXPECT_EQ(Annotation("p1", kVgpuMigAllocationsAnnotation),
            R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-m","profile":"3g.40gb",)"
            R"("placement":{"start":4,"size":4},"migUUID":"MIG-m-4","gpuInstanceID":2,)"
            R"("computeInstanceID":0}])");
  EXPECT_EQ(Annotation("p1", kBindPhaseAnnotation), "success");
  EXPECT_EQ(Lock(), "");
  EXPECT_FALSE(std::filesystem::exists(hook_ + "/vgpu/containers")) << "no HAMi-core cache dir";

  // A reservation the node cannot honour fails the pod cleanly; so does a malformed one.
  for (const char* value :
       {R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-m","profile":"1g.10gb",)"
        R"("placement":{"start":0,"size":1}}])",
        R"([{"containerIndex":0}])"}) {
    BoundPod("p2", "GPU-m,NVIDIA,9856,15:;");
    nlohmann::json p2 = *api_.Get("pods", "default", "p2");
    p2["metadata"]["annotations"][kVgpuMigAllocationsAnnotation] = value;
    ASSERT_TRUE(api_.Put(p2).ok());
    auto refused = mig.Allocate(Request({1}));
    ASSERT_FALSE(refused.ok()) << value;
    EXPECT_EQ(Annotation("p2", kBindPhaseAnnotation), "failed");
    EXPECT_EQ(Annotation("p2", "hami.io/vgpu-devices-to-allocate"), "GPU-m,NVIDIA,9856,15:;");
    EXPECT_EQ(Lock(), "");
    ASSERT_TRUE(api_.Delete("pods", "default", "p2").ok());
  }
}

TEST_F(AllocatorTest, NoPodIsAClearErrorAndChangesNothing) {
  auto response = allocator_->Allocate(Request({1}));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().message(), "no binding pod found on node n1");
}

TEST_F(AllocatorTest, MismatchMarksThePodFailedAndReleasesTheLock) {
  BoundPod("p1", "GPU-a,NVIDIA,3000,30:;");
  auto response = allocator_->Allocate(Request({2}));
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("device number not matched"), std::string::npos)
      << response.status().message();
  EXPECT_EQ(Annotation("p1", kBindPhaseAnnotation), "failed");
  EXPECT_EQ(Lock(), "");
  EXPECT_EQ(Annotation("p1", "hami.io/vgpu-devices-to-allocate"), "GPU-a,NVIDIA,3000,30:;")
      << "a refused plan writes nothing";
}

TEST_F(AllocatorTest, MalformedAnnotationIsRefusedSafely) {
  BoundPod("p1", "GPU-a,NVIDIA,lots,30:;");
  auto response = allocator_->Allocate(Request({1}));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(Annotation("p1", kBindPhaseAnnotation), "failed");
  EXPECT_EQ(Lock(), "");
}

TEST_F(AllocatorTest, ConcurrentPodChangeIsReadAgainNotOverwritten) {
  BoundPod("p1", "GPU-a,NVIDIA,3000,30:;");
  api_.InjectConflict("pods", "default", "p1", 1);  // kubelet updated the pod meanwhile
  auto response = allocator_->Allocate(Request({1}));
  ASSERT_TRUE(response.ok()) << response.status().message();
  EXPECT_EQ(Annotation("p1", kBindPhaseAnnotation), "success");
}

TEST_F(AllocatorTest, ContainerThatOptsOutOfInterceptionGetsNoPreload) {
  BoundPod("p1", "GPU-a,NVIDIA,3000,30:;");
  nlohmann::json pod = *api_.Get("pods", "default", "p1");
  pod["spec"]["containers"][0]["env"] =
      nlohmann::json::array({{{"name", "CUDA_DISABLE_CONTROL"}, {"value", "true"}}});
  ASSERT_TRUE(api_.Put(pod).ok());
  auto response = allocator_->Allocate(Request({1}));
  ASSERT_TRUE(response.ok()) << response.status().message();
  for (const auto& m : response->container_responses(0).mounts()) {
    EXPECT_NE(m.container_path(), "/etc/ld.so.preload");
  }
}

TEST(PrepareCacheDirTest, EmptiesWhatAPreviousRunLeft) {
  char pattern[] = "/tmp/hami_cache_XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string dir = std::string(pattern) + "/c";
  ASSERT_TRUE(PrepareCacheDir(dir).ok());
  std::ofstream(dir + "/old.cache") << "stale region";
  ASSERT_TRUE(PrepareCacheDir(dir).ok());
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

}  // namespace
}  // namespace hami::deviceplugin
