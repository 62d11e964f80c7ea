// hami-device-plugin's reconciler pass at start, on the fake NVML and the fake API server: a node
// in operating mode mig returns its MIG GPU to a clean state except what a live pod reserves; a
// node in another mode (static MIG) keeps every instance.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "device/annotations.h"
#include "deviceplugin/daemon.h"
#include "tests/deviceplugin/test_util.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/fake_kubelet.h"
#include "tests/scheduler/test_util.h"

namespace hami::deviceplugin {
namespace {

// An A100-40GB in MIG mode with a 3g.20gb at slices 4+4 (GPU instance 2) and a 1g.5gb at
// slice 0 (GPU instance 7), as a previous plugin run left them.
nlohmann::json A100WithTwoInstances() {
  const nlohmann::json instances = nlohmann::json::array({
      {{"uuid", "MIG-3g"}, {"profile_id", 2}, {"start", 4}, {"size", 4}, {"gi", 2}, {"ci", 0}},
      {{"uuid", "MIG-1g"}, {"profile_id", 0}, {"start", 0}, {"size", 1}, {"gi", 7}, {"ci", 0}},
  });
  return {{"devices",
           {{{"uuid", "GPU-a100"},
             {"name", "NVIDIA A100-SXM4-40GB"},
             {"memory_mib", 40960},
             {"bus_id", "00000000:AF:00.0"},
             {"mig", true},
             {"mig_model", "A100-SXM4-40GB"},
             {"mig_instances", instances}}}}};
}

class MigReconcileDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    ASSERT_TRUE(
        api_.Put({{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "n1"}}}}).ok());
    char pattern[] = "/tmp/hami_mig_rd_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ + "/nvml.json") << A100WithTwoInstances().dump();
    setenv("HAMI_FAKE_NVML_CONFIG", (dir_ + "/nvml.json").c_str(), 1);
    kubelet_ = std::make_unique<fakes::FakeKubelet>(dir_);
    ASSERT_TRUE(kubelet_->Start().ok());
    options_ = testing::TestDaemonOptions(dir_);
    client_ = scheduler::testing::TestClient(*url, 2);
    // A running pod holds the 3g instance.
    nlohmann::json pod = {
        {"kind", "Pod"},
        {"apiVersion", "v1"},
        {"metadata",
         {{"name", "live"},
          {"namespace", "default"},
          {"annotations",
           {{kVgpuMigAllocationsAnnotation,
             R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a100","profile":"3g.20gb",)"
             R"("placement":{"start":4,"size":4}}])"}}}}},
        {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "main"}}}}}},
        {"status", {{"phase", "Running"}}}};
    ASSERT_TRUE(api_.Put(pod).ok());
  }
  void TearDown() override { unsetenv("HAMI_FAKE_NVML_CONFIG"); }

  // The GPU instance ids the fake NVML holds now, from the file it persists them in (a second
  // NVML handle in this process would shut the daemon's down: the fake does not count inits).
  std::vector<uint32_t> GpuInstanceIds() {
    std::ifstream file(dir_ + "/nvml.json");
    const nlohmann::json config = nlohmann::json::parse(file, nullptr, false);
    std::vector<uint32_t> ids;
    if (config.is_discarded()) return {99};  // mid-write: not an answer
    const nlohmann::json& gpu = config["devices"][0];
    if (gpu.contains("gpu_instances")) {
      for (const nlohmann::json& gi : gpu["gpu_instances"]) ids.push_back(gi.value("id", 0u));
    } else {
      for (const nlohmann::json& m : gpu["mig_instances"]) ids.push_back(m.value("gi", 0u));
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  fakes::FakeApiServer api_;
  std::string dir_;
  std::unique_ptr<fakes::FakeKubelet> kubelet_;
  PluginDaemonOptions options_;
  std::shared_ptr<kube::KubeClient> client_;
};

TEST_F(MigReconcileDaemonTest, DynamicMigNodeKeepsOnlyWhatLivePodsReserve) {
  options_.discovery.mode = kModeMig;
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (GpuInstanceIds().size() != 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(GpuInstanceIds(), std::vector<uint32_t>{2});
  // The pod ends: its instance goes too, and the GPU is clean.
  ASSERT_TRUE(api_.Delete("pods", "default", "live").ok());
  while (!GpuInstanceIds().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(GpuInstanceIds().empty());
  daemon.Stop();
}

TEST_F(MigReconcileDaemonTest, StaticMigNodeKeepsEveryInstance) {
  options_.discovery.mode = kModeHamiCore;  // the GPU is in MIG mode: static MIG
  ASSERT_TRUE(api_.Delete("pods", "default", "live").ok());
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  ASSERT_TRUE(kubelet_->WaitForRegistrations(1, std::chrono::milliseconds(5000)));
  // Several refreshes (100 ms each) pass.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(GpuInstanceIds(), (std::vector<uint32_t>{2, 7}));
  daemon.Stop();
}

TEST_F(MigReconcileDaemonTest, AnIdleGpuIsReturnedToACleanMigReadyStateAtStart) {
  // No live pod, and besides the two instances a bare GPU instance (a crash between the two
  // creations): 2g.10gb at slices 2+2, GPU instance 3.
  ASSERT_TRUE(api_.Delete("pods", "default", "live").ok());
  nlohmann::json config = A100WithTwoInstances();
  config["devices"][0]["gpu_instances"] = {
      {{"id", 3}, {"profile_id", 1}, {"start", 2}, {"size", 2}}};
  std::ofstream(dir_ + "/nvml.json") << config.dump();
  ASSERT_EQ(GpuInstanceIds(), (std::vector<uint32_t>{3}));  // the file as written
  options_.discovery.mode = kModeMig;
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  // The fake rewrites gpu_instances on every destroy; done when none is left.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto clean = [&] {
    std::ifstream file(dir_ + "/nvml.json");
    const nlohmann::json now = nlohmann::json::parse(file, nullptr, false);
    if (now.is_discarded()) return false;
    const nlohmann::json& gpu = now["devices"][0];
    return gpu.contains("gpu_instances") && gpu["gpu_instances"].empty() &&
           gpu.value("mig_instances", nlohmann::json::array()).empty();
  };
  while (!clean() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(clean()) << "every GPU and compute instance destroyed, the bare one included";
  // MIG-ready: still in MIG mode, and published for dynamic MIG (every profile offered, the
  // whole-GPU 7g.40gb included, whose only placement needed all those slices).
  std::ifstream file(dir_ + "/nvml.json");
  EXPECT_TRUE(nlohmann::json::parse(file)["devices"][0].value("mig", false));
  ASSERT_TRUE(api_.WaitUntil(
      [&] {
        auto node = api_.Get("nodes", "", "n1");
        const std::string registered = (*node)["metadata"]
                                           .value("annotations", nlohmann::json::object())
                                           .value(kNodeNvidiaRegisterAnnotation, "");
        return registered.find("7g.40gb") != std::string::npos;
      },
      std::chrono::milliseconds(5000)));
  daemon.Stop();
}

TEST_F(MigReconcileDaemonTest, AConflictIsOneNodeEventAcrossRefreshes) {
  // Pod "blocked" reserved a 2g.10gb at slices 0+2, where the 1g.5gb (GPU instance 7) is, and
  // processes still run on that 1g (NVML refuses to destroy it).
  nlohmann::json config = A100WithTwoInstances();
  config["devices"][0]["mig_instances"][1]["in_use"] = true;
  std::ofstream(dir_ + "/nvml.json") << config.dump();
  nlohmann::json pod = *api_.Get("pods", "default", "live");
  pod["metadata"]["name"] = "blocked";
  pod["metadata"].erase("uid");
  pod["metadata"].erase("resourceVersion");
  pod["metadata"]["annotations"][kVgpuMigAllocationsAnnotation] =
      R"([{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a100","profile":"2g.10gb",)"
      R"("placement":{"start":0,"size":2}}])";
  ASSERT_TRUE(api_.Put(pod).ok());
  options_.discovery.mode = kModeMig;
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  auto events = [&] {
    std::vector<nlohmann::json> out;
    for (const nlohmann::json& e : api_.List("events", "default")) {
      if (e.value("reason", "") == "MigInstanceConflict") out.push_back(e);
    }
    return out;
  };
  ASSERT_TRUE(api_.WaitUntil([&] { return !events().empty(); }, std::chrono::milliseconds(5000)));
  // Several refreshes (100 ms each) pass, each trying to destroy it: still one Event; the live
  // pod's 3g and the 1g in use are both there.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const std::vector<nlohmann::json> seen = events();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["involvedObject"].value("name", ""), "n1");
  EXPECT_EQ(seen[0].value("type", ""), "Warning");
  const std::string message = seen[0].value("message", "");
  EXPECT_NE(message.find("1g.5gb at slices 0+1 (GPU instance 7) on GPU GPU-a100 blocks pod "
                         "default/blocked's reservation of 2g.10gb at slices 0+2"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("could not destroy it: "), std::string::npos) << message;
  EXPECT_EQ(GpuInstanceIds(), (std::vector<uint32_t>{2, 7}));
  daemon.Stop();
}

}  // namespace
}  // namespace hami::deviceplugin
