// Dynamic MIG at Allocate against the fake libnvidia-ml.so.1: the reserved instance is created
// at exactly its placement, handed to the container and written back; an existing one is
// adopted (no second create); every failure leaves no instance behind.
#include "deviceplugin/mig_realize.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <tuple>

#include "device/annotations.h"
#include "device/codec.h"
#include "deviceplugin/allocator.h"
#include "deviceplugin/mig_reconcile.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::deviceplugin {
namespace {

constexpr int64_t kNow = 1735830245;

// GPU 0: an A100-40GB in MIG mode with no instances (NVML index 0); GPU 1: an H100 with MIG off.
nlohmann::json TwoGpus() {
  return {{"devices",
           {{{"uuid", "GPU-a100"},
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

// The real driver, with one call made to fail on demand (an NVML error the fake cannot
// produce by itself: a compute instance refused right after its GPU instance was made).
class FlakyDriver : public NvmlMigDriver {
 public:
  using NvmlMigDriver::NvmlMigDriver;
  Result<uint32_t> CreateGpuInstance(uint32_t gpu, uint32_t profile,
                                     MigPlacement placement) override {
    ++gi_creates;
    if (fail_gi) return Status(StatusCode::kUnavailable, "nvml: Unknown Error (injected)");
    if (race) {
      // Another actor (an admin, NVIDIA's MIG manager) takes a slice of the placement between
      // the realizer's check and its create: NVML itself must refuse the create.
      race = false;
      auto foreign = NvmlMigDriver::CreateGpuInstance(gpu, 0, {placement.start + 1, 1});
      if (!foreign.ok()) return foreign.status().WithContext("test race");
      raced_gi = *foreign;
    }
    return NvmlMigDriver::CreateGpuInstance(gpu, profile, placement);
  }
  Result<nvml::NvmlMigInstance> CreateComputeInstance(uint32_t gpu, uint32_t gi) override {
    ++ci_creates;
    if (fail_ci) return Status(StatusCode::kUnavailable, "nvml: Unknown Error (injected)");
    return NvmlMigDriver::CreateComputeInstance(gpu, gi);
  }
  Status DestroyComputeInstance(uint32_t gpu, uint32_t gi, uint32_t ci) override {
    if (fail_destroy) return Status(StatusCode::kUnavailable, "nvml: Unknown Error (injected)");
    return NvmlMigDriver::DestroyComputeInstance(gpu, gi, ci);
  }
  Status DestroyGpuInstance(uint32_t gpu, uint32_t gi) override {
    if (fail_destroy) return Status(StatusCode::kUnavailable, "nvml: Unknown Error (injected)");
    return NvmlMigDriver::DestroyGpuInstance(gpu, gi);
  }
  bool fail_gi = false;
  bool fail_ci = false;
  bool fail_destroy = false;  // every GPU or compute instance destroy fails
  bool race = false;          // the next GPU instance create loses a race for its slices
  uint32_t raced_gi = 0;
  int gi_creates = 0;
  int ci_creates = 0;
};

class MigRealizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hami_mig_realize_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ + "/nvml.json") << TwoGpus().dump();
    setenv("HAMI_FAKE_NVML_CONFIG", (dir_ + "/nvml.json").c_str(), 1);
    Reopen();
  }
  void TearDown() override {
    realizer_.reset();
    driver_.reset();
    nvml_.reset();
    unsetenv("HAMI_FAKE_NVML_CONFIG");
  }
  // A restarted plugin: NVML opened again, a fresh realizer with nothing pending.
  void Reopen() {
    realizer_.reset();
    driver_.reset();
    nvml_.reset();
    auto opened = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    nvml_ = std::move(*opened);
    driver_ = std::make_unique<FlakyDriver>(*nvml_);
    realizer_ = std::make_unique<MigRealizer>(*driver_);
  }
  std::vector<nvml::NvmlGpuInstance> Instances() {
    auto gis = nvml_->GpuInstances(0);
    EXPECT_TRUE(gis.ok()) << gis.status().message();
    return gis.ok() ? *gis : std::vector<nvml::NvmlGpuInstance>{};
  }

  std::string dir_;
  std::unique_ptr<nvml::Nvml> nvml_;
  std::unique_ptr<FlakyDriver> driver_;
  std::unique_ptr<MigRealizer> realizer_;
};

TEST_F(MigRealizeTest, CreatesAtTheReservedPlacementAndAdoptsItAfterwards) {
  auto made = realizer_->Realize("GPU-a100", "3g.20gb", {4, 4});
  ASSERT_TRUE(made.ok()) << made.status().message();
  EXPECT_EQ(made->uuid.rfind("MIG-", 0), 0u) << made->uuid;
  ASSERT_EQ(Instances().size(), 1u);
  EXPECT_EQ(Instances()[0].placement, (MigPlacement{4, 4}));
  EXPECT_EQ(Instances()[0].profile_id, 2u);  // NVML_GPU_INSTANCE_PROFILE_3_SLICE
  EXPECT_EQ(Instances()[0].id, made->gpu_instance_id);
  EXPECT_EQ(Instances()[0].compute_instance_ids, std::vector<uint32_t>{made->compute_instance_id});
  // Discovery sees it as the MIG device of that profile and placement.
  const nvml::NvmlGpu gpu = nvml_->Gpus()->at(0);
  ASSERT_EQ(gpu.mig_instances.size(), 1u);
  EXPECT_EQ(gpu.mig_instances[0].uuid, made->uuid);
  EXPECT_EQ(gpu.mig_instances[0].profile, "3g.20gb");
  EXPECT_EQ(realizer_->PendingCreated(), 1u);
  realizer_->Commit();

  // Kubelet retrying, or a restarted plugin: the same instance, no second create.
  const int creates = driver_->ci_creates;
  auto again = realizer_->Realize("GPU-a100", "3g.20gb", {4, 4});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->uuid, made->uuid);
  EXPECT_EQ(driver_->ci_creates, creates);
  EXPECT_EQ(realizer_->PendingCreated(), 0u);
  Reopen();
  auto restarted = realizer_->Realize("GPU-a100", "3g.20gb", {4, 4});
  ASSERT_TRUE(restarted.ok()) << restarted.status().message();
  EXPECT_EQ(restarted->uuid, made->uuid);
  EXPECT_EQ(driver_->ci_creates, 0);
  EXPECT_EQ(Instances().size(), 1u);
  // Adopted instances are not ours to roll back.
  ASSERT_TRUE(realizer_->RollBack().ok());
  EXPECT_EQ(Instances().size(), 1u);
}

TEST_F(MigRealizeTest, AGpuInstanceLeftWithoutComputeInstanceIsFinished) {
  // A crash between the two creations left the GPU instance bare.
  auto bare = nvml_->CreateGpuInstance(0, 2, {0, 4});
  ASSERT_TRUE(bare.ok()) << bare.status().message();
  auto made = realizer_->Realize("GPU-a100", "3g.20gb", {0, 4});
  ASSERT_TRUE(made.ok()) << made.status().message();
  EXPECT_EQ(made->gpu_instance_id, *bare);
  ASSERT_EQ(Instances().size(), 1u);
  EXPECT_EQ(Instances()[0].compute_instance_ids.size(), 1u);
  // Rolling back removes the compute instance it made, not the GPU instance it found.
  ASSERT_TRUE(realizer_->RollBack().ok());
  ASSERT_EQ(Instances().size(), 1u);
  EXPECT_TRUE(Instances()[0].compute_instance_ids.empty());
}

TEST_F(MigRealizeTest, RollBackDestroysWhatThisAllocateCreatedNewestFirst) {
  auto kept = realizer_->Realize("GPU-a100", "1g.5gb", {6, 1});
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  realizer_->Commit();
  for (int start : {0, 1, 2}) {
    ASSERT_TRUE(realizer_->Realize("GPU-a100", "1g.5gb", {start, 1}).ok()) << start;
  }
  EXPECT_EQ(Instances().size(), 4u);
  EXPECT_EQ(realizer_->PendingCreated(), 3u);
  ASSERT_TRUE(realizer_->RollBack().ok());
  ASSERT_EQ(Instances().size(), 1u);
  EXPECT_EQ(Instances()[0].placement, (MigPlacement{6, 1}));
  EXPECT_EQ(realizer_->PendingCreated(), 0u);
}

struct FailureCase {
  const char* name;
  std::string gpu;
  std::string profile;
  MigPlacement placement;
  std::string expected;  // in the message
  bool fail_gi = false;
  bool fail_ci = false;
};

TEST_F(MigRealizeTest, EveryFailureNamesGpuProfileAndPlacementAndLeavesNothing) {
  const std::vector<FailureCase> cases = {
      {"placement taken", "GPU-a100", "3g.20gb", {4, 4}, "the placement is taken"},
      {"not MIG mode", "GPU-h100", "3g.40gb", {0, 4}, "the GPU is not in MIG mode"},
      {"not on node", "GPU-gone", "3g.20gb", {0, 4}, "the GPU is not on this node"},
      {"illegal start", "GPU-a100", "3g.20gb", {2, 4}, "NVML allows no 3g.20gb instance"},
      {"unknown profile", "GPU-a100", "5g.30gb", {0, 4}, "has no MIG profile 5g.30gb"},
      {"GI error", "GPU-a100", "3g.20gb", {0, 4}, "Unknown Error (injected)", true, false},
      {"CI error", "GPU-a100", "3g.20gb", {0, 4}, "Unknown Error (injected)", false, true},
  };
  // Someone else's 2g.10gb at slices 4+2: a 3g at 4+4 would overlap it.
  auto other = nvml_->CreateGpuInstance(0, 1, {4, 2});
  ASSERT_TRUE(other.ok()) << other.status().message();
  for (const FailureCase& c : cases) {
    driver_->fail_gi = c.fail_gi;
    driver_->fail_ci = c.fail_ci;
    auto made = realizer_->Realize(c.gpu, c.profile, c.placement);
    ASSERT_FALSE(made.ok()) << c.name;
    const std::string where = "MIG " + c.profile + " at slices " +
                              std::to_string(c.placement.start) + "+" +
                              std::to_string(c.placement.size) + " of GPU " + c.gpu;
    EXPECT_EQ(made.status().message().rfind(where, 0), 0u)
        << c.name << ": " << made.status().message();
    EXPECT_NE(made.status().message().find(c.expected), std::string::npos)
        << c.name << ": " << made.status().message();
    ASSERT_EQ(Instances().size(), 1u) << c.name << ": only the other instance is left";
    EXPECT_EQ(Instances()[0].id, *other) << c.name;
    EXPECT_EQ(realizer_->PendingCreated(), 0u) << c.name;
  }
  EXPECT_EQ(driver_->ci_creates, 1) << "the CI case reached CreateComputeInstance";
}

// The Allocator with dynamic MIG, on the fake API server and the fake NVML.
class DynamicMigAllocatorTest : public MigRealizeTest {
 protected:
  void SetUp() override {
    MigRealizeTest::SetUp();
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    client_ = scheduler::testing::TestClient(*url, 1);
    char pattern[] = "/tmp/hami_hook_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    hook_ = pattern;
    ASSERT_TRUE(
        api_.Put({{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "n1"}}}}).ok());
  }
  // `reclaim`: AllocatorOptions::reclaim_stale_mig (none: a failed creation is not retried).
  std::unique_ptr<Allocator> MakeAllocator(std::function<void()> reclaim = {}) {
    AllocatorOptions options;
    options.node_name = "n1";
    options.settings.hook_path = hook_;
    options.mig_realizer = realizer_.get();
    options.reclaim_stale_mig = std::move(reclaim);
    return std::make_unique<Allocator>(
        *client_, options, [] { return kNow; }, [] { return "x.cache"; });
  }
  // A pod bound to n1 whose containers each take one A100 MIG device, reserved at `mig`.
  void BoundMigPod(const std::string& name, const std::string& to_allocate, const std::string& mig,
                   size_t containers) {
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < containers; ++i) list.push_back({{"name", "c" + std::to_string(i)}});
    nlohmann::json pod = {{"kind", "Pod"},
                          {"apiVersion", "v1"},
                          {"metadata",
                           {{"name", name},
                            {"namespace", "default"},
                            {"annotations",
                             {{kVgpuNodeAnnotation, "n1"},
                              {"hami.io/vgpu-devices-to-allocate", to_allocate},
                              {"hami.io/vgpu-devices-allocated", to_allocate},
                              {kVgpuMigAllocationsAnnotation, mig},
                              {kBindPhaseAnnotation, "allocating"},
                              {kBindTimeAnnotation, std::to_string(kNow)}}}}},
                          {"spec", {{"nodeName", "n1"}, {"containers", list}}},
                          {"status", {{"phase", "Pending"}}}};
    ASSERT_TRUE(api_.Put(pod).ok());
    nlohmann::json node = *api_.Get("nodes", "", "n1");
    node["metadata"]["annotations"][kNodeLockAnnotation] =
        EncodeNodeLock(NodeLock{kNow, "default", name, false}, 0);
    ASSERT_TRUE(api_.Put(node).ok());
  }
  v1beta1::AllocateRequest Request(size_t containers) {
    v1beta1::AllocateRequest request;
    for (size_t i = 0; i < containers; ++i) {
      request.add_container_requests()->add_devices_ids("GPU-x-" + std::to_string(i));
    }
    return request;
  }
  std::string Annotation(const std::string& pod, const std::string& key) {
    auto p = api_.Get("pods", "default", pod);
    return (*p)["metadata"]["annotations"].value(key, std::string());
  }

  fakes::FakeApiServer api_;
  std::unique_ptr<kube::KubeClient> client_;
  std::string hook_;
};

constexpr const char* k3gAt4 =
    R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a100","profile":"3g.20gb",)"
    R"("placement":{"start":4,"size":4}}])";

TEST_F(DynamicMigAllocatorTest, CreatesTheReservedInstanceHandsItOutAndWritesItBack) {
  auto allocator = MakeAllocator();
  BoundMigPod("p1", "GPU-a100,NVIDIA,20480,43:;", k3gAt4, 1);
  auto response = allocator->Allocate(Request(1));
  ASSERT_TRUE(response.ok()) << response.status().message();
  ASSERT_EQ(Instances().size(), 1u);
  const nvml::NvmlMigInstance mig = nvml_->Gpus()->at(0).mig_instances.at(0);
  EXPECT_EQ(mig.placement, (MigPlacement{4, 4}));
  EXPECT_EQ(response->container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), mig.uuid);
  EXPECT_EQ(response->container_responses(0).mounts_size(), 0);
  auto written = DecodeMigAllocations(Annotation("p1", kVgpuMigAllocationsAnnotation));
  ASSERT_TRUE(written.ok()) << written.status().message();
  ASSERT_EQ(written->size(), 1u);
  EXPECT_EQ((*written)[0].mig_uuid, mig.uuid);
  EXPECT_EQ((*written)[0].gpu_instance_id, mig.gpu_instance_id);
  EXPECT_EQ((*written)[0].compute_instance_id, mig.compute_instance_id);
  EXPECT_EQ(Annotation("p1", kBindPhaseAnnotation), "success");
  EXPECT_EQ(realizer_->PendingCreated(), 0u) << "committed";

  // The plugin restarted after creating it but before the pod's annotation was written: the
  // same reservation is served by the existing instance.
  ASSERT_TRUE(api_.Delete("pods", "default", "p1").ok());
  Reopen();
  auto restarted = MakeAllocator();
  BoundMigPod("p1", "GPU-a100,NVIDIA,20480,43:;", k3gAt4, 1);
  auto again = restarted->Allocate(Request(1));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), mig.uuid);
  EXPECT_EQ(driver_->ci_creates, 0);
  EXPECT_EQ(Instances().size(), 1u);
}

TEST_F(DynamicMigAllocatorTest, AFailedContainerUndoesTheInstancesCreatedBeforeIt) {
  // Container 0 gets a 3g at 0+4; container 1's 3g at 4+4 overlaps someone's 1g at slice 5.
  auto other = nvml_->CreateGpuInstance(0, 0, {5, 1});
  ASSERT_TRUE(other.ok()) << other.status().message();
  auto allocator = MakeAllocator();
  BoundMigPod("p2", "GPU-a100,NVIDIA,20480,43:;GPU-a100,NVIDIA,20480,43:;",
              R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a100","profile":"3g.20gb",)"
              R"("placement":{"start":0,"size":4}},{"containerIndex":1,"deviceIndex":0,)"
              R"("gpuUUID":"GPU-a100","profile":"3g.20gb","placement":{"start":4,"size":4}}])",
              2);
  auto response = allocator->Allocate(Request(2));
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find(
                "MIG 3g.20gb at slices 4+4 of GPU GPU-a100: the placement is taken"),
            std::string::npos)
      << response.status().message();
  ASSERT_EQ(Instances().size(), 1u) << "the 3g at 0+4 was destroyed again";
  EXPECT_EQ(Instances()[0].id, *other);
  EXPECT_EQ(Annotation("p2", kBindPhaseAnnotation), "failed");
  EXPECT_EQ(Annotation("p2", kVgpuMigAllocationsAnnotation).find("migUUID"), std::string::npos);

  // GPU not in MIG mode: refused, nothing created.
  BoundMigPod("p3", "GPU-h100,NVIDIA,40960,43:;",
              R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-h100","profile":"3g.40gb",)"
              R"("placement":{"start":0,"size":4}}])",
              1);
  auto refused = allocator->Allocate(Request(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(
                "MIG 3g.40gb at slices 0+4 of GPU GPU-h100: the GPU is not in MIG mode"),
            std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(nvml_->GpuInstances(1).status().code() == StatusCode::kFailedPrecondition);
  EXPECT_EQ(Annotation("p3", kBindPhaseAnnotation), "failed");
}

TEST_F(DynamicMigAllocatorTest, AConflictReplansOntoTheSameInstanceAndAFailedWriteUndoesIt) {
  auto allocator = MakeAllocator();
  // The first write of the pod loses a race: the plan is made again from the re-read pod and
  // finds the instance this Allocate already created (one create, one instance).
  BoundMigPod("p4", "GPU-a100,NVIDIA,20480,43:;", k3gAt4, 1);
  api_.InjectConflict("pods", "default", "p4");
  auto response = allocator->Allocate(Request(1));
  ASSERT_TRUE(response.ok()) << response.status().message();
  int pod_writes = 0;
  for (const fakes::RequestRecord& r : api_.Requests()) {
    if (r.verb == "patch" && r.path.ends_with("/pods/p4")) ++pod_writes;
  }
  EXPECT_EQ(pod_writes, 2) << "the conflicting write and the one after the re-plan";
  EXPECT_EQ(driver_->ci_creates, 1);
  ASSERT_EQ(Instances().size(), 1u);
  EXPECT_EQ(response->container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"),
            nvml_->Gpus()->at(0).mig_instances.at(0).uuid);
  ASSERT_TRUE(api_.Delete("pods", "default", "p4").ok());

  // The pod cannot be written at all: the 1g created for it is destroyed again.
  BoundMigPod("p5", "GPU-a100,NVIDIA,5120,15:;",
              R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a100","profile":"1g.5gb",)"
              R"("placement":{"start":0,"size":1}}])",
              1);
  api_.FailNext(1, 500, "patch", "/pods/p5");
  auto failed = allocator->Allocate(Request(1));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(driver_->ci_creates, 2) << "the 1g was created";
  ASSERT_EQ(Instances().size(), 1u) << "and destroyed: only the 3g is left";
  EXPECT_EQ(Instances()[0].placement, (MigPlacement{4, 4}));
  EXPECT_EQ(Annotation("p5", kBindPhaseAnnotation), "failed");
}

// Issue 17's restart adoption: the plugin restarts after creating the instance for a live pod
// (kubelet calls Allocate again); the restarted plugin's first reconciler pass keeps the
// instance and its Allocate adopts it: no second instance, the annotation names the same ids.
TEST_F(DynamicMigAllocatorTest, ARestartedPluginAdoptsTheInstanceAndWritesTheSameIds) {
  auto allocator = MakeAllocator();
  BoundMigPod("p6", "GPU-a100,NVIDIA,20480,43:;", k3gAt4, 1);
  ASSERT_TRUE(allocator->Allocate(Request(1)).ok());
  auto first = DecodeMigAllocations(Annotation("p6", kVgpuMigAllocationsAnnotation));
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 1u);
  ASSERT_FALSE((*first)[0].mig_uuid.empty());

  // Restart: NVML opened again, a new realizer, allocator and reconciler; the pod is back in
  // the state the scheduler left it in (kubelet retries Allocate for it).
  allocator.reset();
  Reopen();
  BoundMigPod("p6", "GPU-a100,NVIDIA,20480,43:;", k3gAt4, 1);
  MigReconciler reconciler(*client_, *driver_, "n1", [](const nvml::NvmlGpu&) { return true; });
  auto pass = reconciler.RunOnce();
  ASSERT_TRUE(pass.ok()) << pass.status().message();
  EXPECT_EQ(pass->destroyed, 0u);
  EXPECT_EQ(pass->kept, 1u);
  auto restarted = MakeAllocator();
  auto response = restarted->Allocate(Request(1));
  ASSERT_TRUE(response.ok()) << response.status().message();
  EXPECT_EQ(driver_->ci_creates, 0);
  ASSERT_EQ(Instances().size(), 1u);
  auto again = DecodeMigAllocations(Annotation("p6", kVgpuMigAllocationsAnnotation));
  ASSERT_TRUE(again.ok()) << again.status().message();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].mig_uuid, (*first)[0].mig_uuid);
  EXPECT_EQ((*again)[0].gpu_instance_id, (*first)[0].gpu_instance_id);
  EXPECT_EQ((*again)[0].compute_instance_id, (*first)[0].compute_instance_id);
  EXPECT_EQ(response->container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"),
            (*first)[0].mig_uuid);
  EXPECT_EQ(Annotation("p6", kBindPhaseAnnotation), "success");
}

// Issue 17's creation failures at Allocate: NVML refuses the create (a foreign instance took a
// slice meanwhile) or fails; each fails the pod's Allocate naming the GPU and the placement
// and leaves no instance of ours. The foreign instance then blocks the reservation: kubelet's
// retry fails before any NVML create, and the reconciler raises MigInstanceConflict.
TEST_F(DynamicMigAllocatorTest, CreationFailuresFailThePodClearlyAndLeaveNothing) {
  auto allocator = MakeAllocator();
  BoundMigPod("p7", "GPU-a100,NVIDIA,20480,43:;", k3gAt4, 1);
  driver_->fail_ci = true;
  auto failed = allocator->Allocate(Request(1));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("MIG 3g.20gb at slices 4+4 of GPU GPU-a100: "),
            std::string::npos)
      << failed.status().message();
  EXPECT_NE(failed.status().message().find("Unknown Error (injected)"), std::string::npos)
      << failed.status().message();
  EXPECT_TRUE(Instances().empty()) << "the GPU instance made before the failure is destroyed";
  EXPECT_EQ(Annotation("p7", kBindPhaseAnnotation), "failed");
  driver_->fail_ci = false;

  BoundMigPod("p7", "GPU-a100,NVIDIA,20480,43:;", k3gAt4, 1);
  driver_->race = true;
  failed = allocator->Allocate(Request(1));
  ASSERT_FALSE(failed.ok());
  const std::string message = failed.status().message();
  EXPECT_NE(message.find("MIG 3g.20gb at slices 4+4 of GPU GPU-a100: "), std::string::npos)
      << message;
  EXPECT_NE(message.find("slices of the placement are taken"), std::string::npos) << message;
  ASSERT_EQ(Instances().size(), 1u) << "only the foreign instance";
  EXPECT_EQ(Instances()[0].id, driver_->raced_gi);
  EXPECT_EQ(Instances()[0].placement, (MigPlacement{5, 1}));
  EXPECT_EQ(Annotation("p7", kBindPhaseAnnotation), "failed");
  EXPECT_EQ(Annotation("p7", kVgpuMigAllocationsAnnotation).find("migUUID"), std::string::npos);

  // Kubelet retries: refused before NVML is asked, naming what holds the slices.
  BoundMigPod("p7", "GPU-a100,NVIDIA,20480,43:;", k3gAt4, 1);
  const int creates = driver_->gi_creates;
  failed = allocator->Allocate(Request(1));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("the placement is taken: GPU instance " +
                                           std::to_string(driver_->raced_gi)),
            std::string::npos)
      << failed.status().message();
  EXPECT_EQ(driver_->gi_creates, creates);
  ASSERT_EQ(Instances().size(), 1u);

  // The pod is still pending with its reservation: the reconciler destroys the foreign
  // instance that blocks it. While NVML refuses (here an error), it is a conflict: one
  // MigInstanceConflict Event on the Node naming the pod, however many passes fail.
  MigReconciler reconciler(*client_, *driver_, "n1", [](const nvml::NvmlGpu&) { return true; });
  driver_->fail_destroy = true;
  for (int pass = 0; pass < 2; ++pass) {
    auto report = reconciler.RunOnce();
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_EQ(report->conflicts, 1u);
    EXPECT_EQ(report->destroyed, 0u);
  }
  int events = 0;
  for (const nlohmann::json& e : api_.List("events", "default")) {
    if (e.value("reason", "") != kMigInstanceConflictReason) continue;
    ++events;
    const std::string message = e.value("message", "");
    EXPECT_NE(message.find("pod default/p7"), std::string::npos) << e.dump();
    EXPECT_NE(message.find("1g.5gb at slices 5+1"), std::string::npos) << e.dump();
    EXPECT_NE(message.find("could not destroy it: nvml: Unknown Error (injected)"),
              std::string::npos)
        << e.dump();
  }
  EXPECT_EQ(events, 1);
  ASSERT_EQ(Instances().size(), 1u);
  // NVML lets it go: the next pass destroys it and the pod's Allocate succeeds.
  driver_->fail_destroy = false;
  auto report = reconciler.RunOnce();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->unblocked, 1u);
  EXPECT_EQ(report->conflicts, 0u);
  EXPECT_TRUE(Instances().empty());
  BoundMigPod("p7", "GPU-a100,NVIDIA,20480,43:;", k3gAt4, 1);
  auto allocated = allocator->Allocate(Request(1));
  ASSERT_TRUE(allocated.ok()) << allocated.status().message();
  ASSERT_EQ(Instances().size(), 1u);
  EXPECT_EQ(Instances()[0].placement, (MigPlacement{4, 4}));
}

constexpr const char* k7gAt0 =
    R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a100","profile":"7g.40gb",)"
    R"("placement":{"start":0,"size":8}}])";

// The end-to-end bug: pods A (1g at 0+1), B (2g at 2+2) and C (3g at 4+4) are deleted and the
// scheduler reserves pod D's 7g at 0+8 at once; kubelet calls D's Allocate before the plugin's
// next reconcile pass. The Allocate's reclaim pass must destroy the stale instances that block
// D (an older rule kept them as "conflicts", and D failed).
TEST_F(DynamicMigAllocatorTest, StaleInstancesBlockingTheReservationAreReclaimedAtAllocate) {
  for (const auto& [profile, start, size] :
       {std::tuple<const char*, int32_t, int32_t>{"1g.5gb", 0, 1},
        {"2g.10gb", 2, 2},
        {"3g.20gb", 4, 4}}) {
    ASSERT_TRUE(realizer_->Realize("GPU-a100", profile, {start, size}).ok()) << profile;
    realizer_->Commit();
  }
  ASSERT_EQ(Instances().size(), 3u);
  BoundMigPod("d", "GPU-a100,NVIDIA,40960,100:;", k7gAt0, 1);

  // Without a reclaim pass the creation is not retried: D fails, nothing is destroyed.
  auto plain = MakeAllocator();
  auto failed = plain->Allocate(Request(1));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("MIG 7g.40gb at slices 0+8 of GPU GPU-a100: "),
            std::string::npos)
      << failed.status().message();
  EXPECT_EQ(Instances().size(), 3u);

  // With the daemon's wiring (one reconciler pass, then one retry): D gets its 7g.
  BoundMigPod("d", "GPU-a100,NVIDIA,40960,100:;", k7gAt0, 1);
  MigReconciler reconciler(*client_, *driver_, "n1", [](const nvml::NvmlGpu&) { return true; });
  int passes = 0;
  auto allocator = MakeAllocator([&] {
    ++passes;
    auto report = reconciler.RunOnce();
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_EQ(report->destroyed, 3u);
    EXPECT_EQ(report->unblocked, 3u);
    EXPECT_EQ(report->conflicts, 0u);
  });
  auto response = allocator->Allocate(Request(1));
  ASSERT_TRUE(response.ok()) << response.status().message();
  EXPECT_EQ(passes, 1);
  ASSERT_EQ(Instances().size(), 1u) << "the stale ones are gone";
  EXPECT_EQ(Instances()[0].placement, (MigPlacement{0, 8}));
  const nvml::NvmlMigInstance mig = nvml_->Gpus()->at(0).mig_instances.at(0);
  EXPECT_EQ(response->container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), mig.uuid);
  auto written = DecodeMigAllocations(Annotation("d", kVgpuMigAllocationsAnnotation));
  ASSERT_TRUE(written.ok()) << written.status().message();
  ASSERT_EQ(written->size(), 1u);
  EXPECT_EQ((*written)[0].mig_uuid, mig.uuid);
  EXPECT_EQ(Annotation("d", kBindPhaseAnnotation), "success");
  for (const nlohmann::json& e : api_.List("events", "default")) {
    EXPECT_NE(e.value("reason", ""), kMigInstanceConflictReason) << e.dump();
  }
}

// The blocking instance cannot be destroyed (processes still run on it: NVML answers IN_USE):
// the Allocate fails naming the GPU and the placement, the Node gets exactly one
// MigInstanceConflict Event, and the instance a live pod reserves is untouched.
TEST_F(DynamicMigAllocatorTest, ABlockingInstanceInUseFailsTheAllocateWithOneConflictEvent) {
  nlohmann::json config = TwoGpus();
  config["devices"][0]["mig_instances"] = {
      // A gone pod's 1g at slice 0, its processes still running.
      {{"uuid", "MIG-busy"},
       {"profile_id", 0},
       {"start", 0},
       {"size", 1},
       {"gi", 1},
       {"ci", 0},
       {"in_use", true}},
      // Live pod L's 3g at 4+4.
      {{"uuid", "MIG-live"}, {"profile_id", 2}, {"start", 4}, {"size", 4}, {"gi", 2}, {"ci", 0}},
      // A gone pod's 1g at slice 3: blocks nobody.
      {{"uuid", "MIG-stale"}, {"profile_id", 0}, {"start", 3}, {"size", 1}, {"gi", 3}, {"ci", 0}}};
  std::ofstream(dir_ + "/nvml.json") << config.dump();
  Reopen();
  ASSERT_EQ(Instances().size(), 3u);
  nlohmann::json live = {{"kind", "Pod"},
                         {"apiVersion", "v1"},
                         {"metadata", {{"name", "l"}, {"namespace", "default"}}},
                         {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "c0"}}}}}},
                         {"status", {{"phase", "Running"}}}};
  live["metadata"]["annotations"][kVgpuMigAllocationsAnnotation] = k3gAt4;
  ASSERT_TRUE(api_.Put(live).ok());

  MigReconciler reconciler(*client_, *driver_, "n1", [](const nvml::NvmlGpu&) { return true; });
  auto allocator = MakeAllocator([&] { ASSERT_TRUE(reconciler.RunOnce().ok()); });
  const std::string k2gAt0 =
      R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a100","profile":"2g.10gb",)"
      R"("placement":{"start":0,"size":2}}])";
  auto conflict_events = [&] {
    std::vector<nlohmann::json> out;
    for (const nlohmann::json& e : api_.List("events", "default")) {
      if (e.value("reason", "") == kMigInstanceConflictReason) out.push_back(e);
    }
    return out;
  };
  // Twice: kubelet retries the Allocate; still one Event.
  for (int attempt = 0; attempt < 2; ++attempt) {
    BoundMigPod("d", "GPU-a100,NVIDIA,10240,28:;", k2gAt0, 1);
    auto failed = allocator->Allocate(Request(1));
    ASSERT_FALSE(failed.ok()) << attempt;
    EXPECT_NE(failed.status().message().find("MIG 2g.10gb at slices 0+2 of GPU GPU-a100: "),
              std::string::npos)
        << failed.status().message();
    EXPECT_EQ(Annotation("d", kBindPhaseAnnotation), "failed");
    const std::vector<nlohmann::json> events = conflict_events();
    ASSERT_EQ(events.size(), 1u) << attempt;
    const std::string message = events[0].value("message", "");
    for (const std::string& part :
         {std::string("1g.5gb at slices 0+1 (GPU instance 1) on GPU GPU-a100 blocks pod "
                      "default/d's reservation of 2g.10gb at slices 0+2"),
          std::string("could not destroy it: "), std::string("processes still use it")}) {
      EXPECT_NE(message.find(part), std::string::npos) << part << " in " << message;
    }
    std::vector<uint32_t> ids;
    for (const nvml::NvmlGpuInstance& gi : Instances()) ids.push_back(gi.id);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<uint32_t>{1, 2})) << "the stale 1g at slice 3 went; L's 3g stays";
  }
}

}  // namespace
}  // namespace hami::deviceplugin
