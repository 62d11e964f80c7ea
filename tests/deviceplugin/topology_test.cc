// GPU topology end to end on the device plugin's side: the fake NVML's topology model (NVML's
// semantics and codes), the Nvml wrapper's link matrix, HAMi's link scores and their
// publication in hami.io/node-nvidia-score with the AsymmetricGPUP2PLink warning.
#include "deviceplugin/topology.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "device/annotations.h"
#include "device/pair_scores.h"
#include "deviceplugin/daemon.h"
#include "nvml/nvml.h"
#include "tests/deviceplugin/test_util.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/fake_kubelet.h"
#include "tests/scheduler/test_util.h"

namespace hami::deviceplugin {
namespace {

using std::chrono::milliseconds;

nlohmann::json Gpu(int index, nlohmann::json extra = nlohmann::json::object()) {
  char bus[32];
  std::snprintf(bus, sizeof(bus), "00000000:%02X:00.0", 0x10 + index);
  nlohmann::json gpu = {{"uuid", "GPU-" + std::to_string(index)},
                        {"name", "NVIDIA A100-SXM4-40GB"},
                        {"memory_mib", 40960},
                        {"bus_id", bus}};
  gpu.update(extra);
  return gpu;
}

// Four GPUs: 0-1 joined by two NVLinks under one PCIe switch on CPU 0; 2-3 by one active NVLink
// (GPU 2's second link is down) under one host bridge on CPU 1.
nlohmann::json TwoPairs() {
  return {{"devices",
           {Gpu(0, {{"nvlinks", {1, 1}}, {"pcie_switches", {"sw0"}}, {"cpu", 0}}),
            Gpu(1, {{"nvlinks", {0, 0}}, {"pcie_switches", {"sw0"}}, {"cpu", 0}}),
            Gpu(2, {{"nvlinks", {3, nullptr}}, {"host_bridge", "hb1"}, {"cpu", 1}}),
            Gpu(3, {{"nvlinks", {2}}, {"host_bridge", "hb1"}, {"cpu", 1}})}}};
}

class TopologyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hami_topo_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { unsetenv("HAMI_FAKE_NVML_CONFIG"); }
  void Configure(const nlohmann::json& config) {
    std::ofstream(dir_ + "/nvml.json") << config.dump();
    setenv("HAMI_FAKE_NVML_CONFIG", (dir_ + "/nvml.json").c_str(), 1);
  }
  std::string dir_;
};

// The fake's C entry points, called as NVML's users call them.
struct RawNvml {
  RawNvml() {
    handle = dlopen(HAMI_FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL);
    init = reinterpret_cast<nvmlInit_v2_fn>(dlsym(handle, "nvmlInit_v2"));
    shutdown = reinterpret_cast<nvmlShutdown_fn>(dlsym(handle, "nvmlShutdown"));
    get = reinterpret_cast<nvmlDeviceGetHandleByIndex_v2_fn>(
        dlsym(handle, "nvmlDeviceGetHandleByIndex_v2"));
    ancestor = reinterpret_cast<nvmlDeviceGetTopologyCommonAncestor_fn>(
        dlsym(handle, "nvmlDeviceGetTopologyCommonAncestor"));
    state =
        reinterpret_cast<nvmlDeviceGetNvLinkState_fn>(dlsym(handle, "nvmlDeviceGetNvLinkState"));
    remote = reinterpret_cast<nvmlDeviceGetNvLinkRemotePciInfo_v2_fn>(
        dlsym(handle, "nvmlDeviceGetNvLinkRemotePciInfo_v2"));
    type = reinterpret_cast<nvmlDeviceGetNvLinkRemoteDeviceType_fn>(
        dlsym(handle, "nvmlDeviceGetNvLinkRemoteDeviceType"));
  }
  ~RawNvml() { dlclose(handle); }
  nvmlDevice_t Device(unsigned int index) {
    nvmlDevice_t device = nullptr;
    EXPECT_EQ(get(index, &device), NVML_SUCCESS);
    return device;
  }
  void* handle;
  nvmlInit_v2_fn init;
  nvmlShutdown_fn shutdown;
  nvmlDeviceGetHandleByIndex_v2_fn get;
  nvmlDeviceGetTopologyCommonAncestor_fn ancestor;
  nvmlDeviceGetNvLinkState_fn state;
  nvmlDeviceGetNvLinkRemotePciInfo_v2_fn remote;
  nvmlDeviceGetNvLinkRemoteDeviceType_fn type;
};

TEST_F(TopologyTest, FakeNvmlAnswersTopologyQueriesAsNvmlDoes) {
  nlohmann::json config = TwoPairs();
  config["devices"][0]["board"] = "";
  config["devices"].push_back(Gpu(4, {{"nvlinks", {"switch", "switch"}}, {"board", "b"}}));
  config["devices"].push_back(Gpu(5, {{"board", "b"}, {"lost", false}}));
  Configure(config);
  RawNvml nvml;
  ASSERT_NE(nvml.ancestor, nullptr);
  nvmlGpuTopologyLevel_t level = -1;
  ASSERT_EQ(nvml.init(), NVML_SUCCESS);
  struct Pair {
    unsigned int a, b;
    nvmlGpuTopologyLevel_t want;
  };
  for (const Pair& p : {Pair{0, 1, NVML_TOPOLOGY_SINGLE}, Pair{2, 3, NVML_TOPOLOGY_HOSTBRIDGE},
                        Pair{0, 4, NVML_TOPOLOGY_NODE}, Pair{1, 2, NVML_TOPOLOGY_SYSTEM},
                        Pair{4, 5, NVML_TOPOLOGY_INTERNAL}}) {
    ASSERT_EQ(nvml.ancestor(nvml.Device(p.a), nvml.Device(p.b), &level), NVML_SUCCESS);
    EXPECT_EQ(level, p.want) << p.a << "-" << p.b;
  }
  EXPECT_EQ(nvml.ancestor(nvml.Device(0), nvml.Device(0), &level), NVML_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nvml.ancestor(nvml.Device(0), nvml.Device(1), nullptr), NVML_ERROR_INVALID_ARGUMENT);

  nvmlEnableState_t active = -1;
  ASSERT_EQ(nvml.state(nvml.Device(2), 0, &active), NVML_SUCCESS);
  EXPECT_EQ(active, kNvmlFeatureEnabled);
  ASSERT_EQ(nvml.state(nvml.Device(2), 1, &active), NVML_SUCCESS);
  EXPECT_EQ(active, 0);                                                            // not active
  EXPECT_EQ(nvml.state(nvml.Device(2), 2, &active), NVML_ERROR_INVALID_ARGUMENT);  // no such link
  EXPECT_EQ(nvml.state(nvml.Device(2), kNvmlNvLinkMaxLinks, &active), NVML_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nvml.state(nvml.Device(5), 0, &active), NVML_ERROR_NOT_SUPPORTED);  // no NVLink
  nvmlPciInfo_t pci{};
  ASSERT_EQ(nvml.remote(nvml.Device(0), 1, &pci), NVML_SUCCESS);
  EXPECT_STREQ(pci.busId, "00000000:11:00.0");  // GPU 1's
  EXPECT_EQ(nvml.remote(nvml.Device(2), 1, &pci), NVML_ERROR_NOT_SUPPORTED);
  nvmlIntNvLinkDeviceType_t far_end = -1;
  ASSERT_EQ(nvml.type(nvml.Device(4), 0, &far_end), NVML_SUCCESS);
  EXPECT_EQ(far_end, kNvmlNvLinkDeviceTypeSwitch);
  ASSERT_EQ(nvml.type(nvml.Device(3), 0, &far_end), NVML_SUCCESS);
  EXPECT_EQ(far_end, kNvmlNvLinkDeviceTypeGpu);
  nvmlDevice_t first = nvml.Device(0), second = nvml.Device(1);
  nvml.shutdown();
  EXPECT_EQ(nvml.ancestor(first, second, &level), NVML_ERROR_UNINITIALIZED);
  EXPECT_EQ(nvml.state(first, 0, &active), NVML_ERROR_UNINITIALIZED);
}

TEST_F(TopologyTest, FakeNvmlLostGpuAndConfiguredErrorsAreAnswered) {
  nlohmann::json config = TwoPairs();
  config["devices"][3]["lost"] = true;
  config["devices"][1]["topology_error"] = NVML_ERROR_UNKNOWN;
  Configure(config);
  RawNvml nvml;
  ASSERT_EQ(nvml.init(), NVML_SUCCESS);
  nvmlGpuTopologyLevel_t level = 0;
  EXPECT_EQ(nvml.ancestor(nvml.Device(2), nvml.Device(3), &level), NVML_ERROR_GPU_IS_LOST);
  EXPECT_EQ(nvml.ancestor(nvml.Device(0), nvml.Device(1), &level), NVML_ERROR_UNKNOWN);
  nvmlEnableState_t active = 0;
  EXPECT_EQ(nvml.state(nvml.Device(3), 0, &active), NVML_ERROR_GPU_IS_LOST);
  nvml.shutdown();
}

TEST_F(TopologyTest, NvmlReadsTheLinkMatrix) {
  nlohmann::json config = TwoPairs();
  // An NVSwitch system on top: GPUs 4 and 5 reach each other only through switches.
  config["devices"].push_back(Gpu(4, {{"nvlinks", {"switch", "switch", "switch"}}}));
  config["devices"].push_back(Gpu(5, {{"nvlinks", {"switch", "switch"}}}));
  Configure(config);
  auto nvml = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml.ok()) << nvml.status().message();
  auto topology = (*nvml)->Topology();
  ASSERT_TRUE(topology.ok()) << topology.status().message();
  ASSERT_EQ(topology->uuids.size(), 6u);
  EXPECT_EQ(topology->uuids[3], "GPU-3");
  auto link = [&](int a, int b) {
    return topology->links[static_cast<size_t>(a)][static_cast<size_t>(b)];
  };
  EXPECT_EQ(link(0, 1), (nvml::NvmlLink{NVML_TOPOLOGY_SINGLE, 2}));
  EXPECT_EQ(link(1, 0), (nvml::NvmlLink{NVML_TOPOLOGY_SINGLE, 2}));
  EXPECT_EQ(link(2, 3), (nvml::NvmlLink{NVML_TOPOLOGY_HOSTBRIDGE, 1}));  // link 1 is down
  EXPECT_EQ(link(0, 2), (nvml::NvmlLink{NVML_TOPOLOGY_SYSTEM, 0}));
  EXPECT_EQ(link(4, 5), (nvml::NvmlLink{NVML_TOPOLOGY_NODE, 2}));  // min of 3 and 2 switch links
  EXPECT_EQ(link(0, 4), (nvml::NvmlLink{NVML_TOPOLOGY_NODE, 0}));  // GPU 0 has no switch link
}

TEST_F(TopologyTest, NvmlTopologyFailsNamingTheGpusAndCall) {
  nlohmann::json config = TwoPairs();
  config["devices"][2]["topology_error"] = NVML_ERROR_UNKNOWN;
  Configure(config);
  auto nvml = nvml::Nvml::Open(HAMI_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml.ok());
  auto topology = (*nvml)->Topology();
  ASSERT_FALSE(topology.ok());
  EXPECT_NE(topology.status().message().find("nvmlDeviceGetTopologyCommonAncestor"),
            std::string::npos)
      << topology.status().message();
  EXPECT_NE(topology.status().message().find("GPUs 0 and 2"), std::string::npos)
      << topology.status().message();
}

TEST(PcieLinkScoreTest, HamisScale) {
  EXPECT_EQ(PcieLinkScore(NVML_TOPOLOGY_INTERNAL), 60);
  EXPECT_EQ(PcieLinkScore(NVML_TOPOLOGY_SINGLE), 50);
  EXPECT_EQ(PcieLinkScore(NVML_TOPOLOGY_MULTIPLE), 40);
  EXPECT_EQ(PcieLinkScore(NVML_TOPOLOGY_HOSTBRIDGE), 30);
  EXPECT_EQ(PcieLinkScore(NVML_TOPOLOGY_NODE), 20);
  EXPECT_EQ(PcieLinkScore(NVML_TOPOLOGY_SYSTEM), 10);
  EXPECT_EQ(PcieLinkScore(std::nullopt), 0);
  EXPECT_EQ(PcieLinkScore(35), 0);
}

DeviceInfo Registered(const std::string& uuid) {
  DeviceInfo d;
  d.id = uuid;
  return d;
}

TEST(ScoreLinksTest, ScoresRegisteredGpusAndZeroesAsymmetricPairs) {
  nvml::NvmlTopology topology;
  topology.uuids = {"GPU-0", "GPU-1", "GPU-2"};
  topology.links.assign(3, std::vector<nvml::NvmlLink>(3));
  auto set = [&](int a, int b, std::optional<int> level, int nvlinks) {
    topology.links[static_cast<size_t>(a)][static_cast<size_t>(b)] = {level, nvlinks};
  };
  set(0, 1, NVML_TOPOLOGY_SINGLE, 4);
  set(1, 0, NVML_TOPOLOGY_SINGLE, 4);
  set(0, 2, NVML_TOPOLOGY_SYSTEM, 1);  // GPU 2 does not see this NVLink
  set(2, 0, NVML_TOPOLOGY_SYSTEM, 0);
  set(1, 2, std::nullopt, 0);
  set(2, 1, std::nullopt, 0);
  // Registered in another order than NVML's, one GPU NVML does not list (filtered elsewhere).
  const std::vector<DeviceInfo> registered = {Registered("GPU-2"), Registered("GPU-0"),
                                              Registered("GPU-9"), Registered("GPU-1")};
  const LinkScoreReport report = ScoreLinks(topology, registered);
  const std::vector<DevicePairScore> want = {{"GPU-2", {{"GPU-0", 0}, {"GPU-1", 0}}},
                                             {"GPU-0", {{"GPU-2", 0}, {"GPU-1", 450}}},
                                             {"GPU-1", {{"GPU-2", 0}, {"GPU-0", 450}}}};
  EXPECT_EQ(report.scores, want);
  ASSERT_EQ(report.asymmetric.size(), 1u);
  EXPECT_EQ(report.asymmetric[0],
            "GPU-0/GPU-2 (GPU-0 sees 1 NVLinks and level 50, GPU-2 sees 0 NVLinks and level 50)");
}

TEST(WarningThrottleTest, OncePerIntervalPerReason) {
  WarningThrottle throttle(std::chrono::hours(1));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(5);
  EXPECT_TRUE(throttle.Allow("A", t0));
  EXPECT_FALSE(throttle.Allow("A", t0 + std::chrono::minutes(59)));
  EXPECT_TRUE(throttle.Allow("B", t0 + std::chrono::minutes(1)));
  EXPECT_TRUE(throttle.Allow("A", t0 + std::chrono::minutes(60)));
  EXPECT_FALSE(throttle.Allow("A", t0 + std::chrono::minutes(61)));
}

class TopologyDaemonTest : public TopologyTest {
 protected:
  void SetUp() override {
    TopologyTest::SetUp();
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    ASSERT_TRUE(
        api_.Put({{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "n1"}}}}).ok());
    kubelet_ = std::make_unique<fakes::FakeKubelet>(dir_);
    ASSERT_TRUE(kubelet_->Start().ok());
    options_ = testing::TestDaemonOptions(dir_);
    options_.refresh_period = options_.retry_period = milliseconds(50);
    options_.health.enabled = false;
    options_.topology_score = true;
    client_ = scheduler::testing::TestClient(*url, 2);
  }
  std::optional<std::string> Annotation(const char* key) {
    auto node = api_.Get("nodes", "", "n1");
    const nlohmann::json annotations =
        (*node)["metadata"].value("annotations", nlohmann::json::object());
    if (!annotations.contains(key)) return std::nullopt;
    return annotations[key].get<std::string>();
  }
  std::vector<nlohmann::json> Warnings() {
    std::vector<nlohmann::json> out;
    for (const nlohmann::json& e : api_.List("events", "default")) {
      if (e.value("reason", "") == "AsymmetricGPUP2PLink") out.push_back(e);
    }
    return out;
  }

  fakes::FakeApiServer api_;
  std::unique_ptr<fakes::FakeKubelet> kubelet_;
  PluginDaemonOptions options_;
  std::shared_ptr<kube::KubeClient> client_;
};

TEST_F(TopologyDaemonTest, PublishesHamisScoresOnceAndAgainWhenTheLinksChange) {
  Configure(TwoPairs());
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  const std::optional<std::string> published = Annotation(kNodeNvidiaScoreAnnotation);
  ASSERT_TRUE(published.has_value());
  auto scores = DecodePairScoresJson(*published);
  ASSERT_TRUE(scores.ok()) << *published;
  const std::vector<DevicePairScore> want = {
      {"GPU-0", {{"GPU-1", 250}, {"GPU-2", 10}, {"GPU-3", 10}}},
      {"GPU-1", {{"GPU-0", 250}, {"GPU-2", 10}, {"GPU-3", 10}}},
      {"GPU-2", {{"GPU-0", 10}, {"GPU-1", 10}, {"GPU-3", 130}}},
      {"GPU-3", {{"GPU-0", 10}, {"GPU-1", 10}, {"GPU-2", 130}}}};
  EXPECT_EQ(*scores, want);
  EXPECT_EQ(*published, EncodePairScoresJson(want));  // HAMi's bytes
  std::this_thread::sleep_for(milliseconds(300));     // several refreshes, nothing changed
  EXPECT_EQ(daemon.publications(), 1u);
  EXPECT_TRUE(Warnings().empty());

  // GPU 3 loses its NVLink (GPU 2 still reports it): an asymmetric pair, scored 0, one warning.
  nlohmann::json broken = TwoPairs();
  broken["devices"][3]["nvlinks"] = {nullptr};
  Configure(broken);
  ASSERT_TRUE(api_.WaitUntil(
      [&] {
        auto now = Annotation(kNodeNvidiaScoreAnnotation);
        return now && now->find(R"("GPU-3":0)") != std::string::npos;
      },
      milliseconds(3000)));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(daemon.publications(), 2u);
  const std::vector<nlohmann::json> warnings = Warnings();
  ASSERT_EQ(warnings.size(), 1u);  // not one per refresh
  EXPECT_EQ(warnings[0]["type"], "Warning");
  EXPECT_EQ(warnings[0]["involvedObject"]["kind"], "Node");
  EXPECT_EQ(warnings[0]["involvedObject"]["name"], "n1");
  EXPECT_NE(warnings[0]["message"].get<std::string>().find("GPU-2/GPU-3"), std::string::npos)
      << warnings[0]["message"];
  daemon.Stop();
}

TEST_F(TopologyDaemonTest, OffByDefault) {
  options_.topology_score = false;
  Configure(TwoPairs());
  PluginDaemon daemon(client_, options_);
  ASSERT_TRUE(daemon.Start().ok());
  EXPECT_TRUE(Annotation(kNodeNvidiaRegisterAnnotation).has_value());
  EXPECT_FALSE(Annotation(kNodeNvidiaScoreAnnotation).has_value());
  daemon.Stop();
}

}  // namespace
}  // namespace hami::deviceplugin
