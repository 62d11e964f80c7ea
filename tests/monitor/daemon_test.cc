// hami-monitor assembled: the fake API server's pods, region files written by libvgpu's own
// SharedRegion under a temp hook directory, and the fake NVML for the host families.
#include "monitor/daemon.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/clock.h"
#include "device/annotations.h"
#include "device/codec.h"
#include "kube/client.h"
#include "monitor/region_set.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/prometheus_server.h"
#include "tests/monitor/monitor_test_util.h"
#include "tests/scheduler/test_util.h"
#include "vgpu/shared_region.h"

namespace hami::monitor {
namespace {

using std::chrono::milliseconds;
using testing::TempDir;
constexpr uint64_t kMiB = uint64_t{1} << 20;
// The injected clock: the wall clock when the test starts (directories get real mtimes).
const int64_t kNow = UnixNowSeconds();

std::shared_ptr<kube::KubeClient> Client(const std::string& url) {
  return scheduler::testing::TestClient(url, 2);
}

nlohmann::json Pod(const std::string& name, const std::string& uid, const std::string& node,
                   std::vector<std::string> containers = {"main"}) {
  nlohmann::json list = nlohmann::json::array();
  for (const std::string& c : containers) list.push_back({{"name", c}, {"image", "cuda"}});
  return {{"kind", "Pod"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", name}, {"namespace", "team-a"}, {"uid", uid}}},
          {"spec", {{"nodeName", node}, {"containers", list}}},
          {"status", {{"phase", "Running"}}}};
}

class MonitorDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = api_.Start();
    ASSERT_TRUE(url.ok());
    url_ = *url;
    std::filesystem::create_directories(hook_.path() + "/containers");
    nvml_config_ = hook_.path() + "/nvml.json";
    std::ofstream(nvml_config_) << R"({"devices": [
        {"uuid": "GPU-aaa", "name": "Tesla T4", "memory_mib": 15360, "bus_id": "00000000:3B:00.0",
         "memory_used_mib": 2048, "utilization": {"gpu": 37, "memory": 12}},
        {"uuid": "GPU-bbb", "name": "Tesla T4", "memory_mib": 15360, "bus_id": "00000000:3C:00.0",
         "memory_used_mib": 0, "utilization": null}]})";
    setenv("HAMI_FAKE_NVML_CONFIG", nvml_config_.c_str(), 1);
    options_.node_name = "n1";
    options_.hook_path = hook_.path();
    options_.metrics_host = "127.0.0.1";
    options_.metrics_port = 0;
    options_.nvml_library = HAMI_FAKE_NVML_PATH;
    options_.background_rounds = false;  // rounds run when the test says
    options_.now_unix_s = [] { return kNow; };
  }
  void TearDown() override { unsetenv("HAMI_FAKE_NVML_CONFIG"); }

  // A container's region as libvgpu.so writes it: limit, priority, `used` bytes charged by this
  // process on device 0, recent_kernel.
  std::unique_ptr<vgpu::SharedRegion> Region(const std::string& uid, const std::string& container,
                                             uint64_t limit, uint64_t used, int32_t priority,
                                             int32_t recent_kernel) {
    const std::string dir = hook_.path() + "/containers/" + uid + "_" + container;
    std::filesystem::create_directories(dir);
    vgpu::RegionInit init;
    init.memory_limit_bytes[0] = limit;
    init.sm_limit_percent[0] = 30;
    init.priority = priority;
    auto region = vgpu::SharedRegion::Open(dir + "/0123.cache", init);
    EXPECT_TRUE(region.ok()) << region.status().message();
    if (!region.ok()) return nullptr;
    const std::string_view uuids[] = {"GPU-aaa"};
    EXPECT_TRUE((*region)->SetDevices(uuids).ok());
    EXPECT_TRUE((*region)->TryCharge(0, used, vgpu::layout::ChargeKind::kData).ok());
    (*region)->SetRecentKernel(recent_kernel);
    // libvgpu stamps the creation time; the test wants a known one (it only ever raises it).
    testing::PWriteAt<uint64_t>(dir + "/0123.cache",
                                offsetof(vgpu::layout::Region, last_kernel_time),
                                static_cast<uint64_t>(kNow - 7));
    return std::move(*region);
  }

  std::unique_ptr<MonitorDaemon> StartDaemon() {
    auto daemon = std::make_unique<MonitorDaemon>(Client(url_), options_);
    Status started = daemon->Start();
    EXPECT_TRUE(started.ok()) << started.message();
    for (int i = 0; i < 500 && !daemon->RunRound(); ++i) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    return daemon;
  }

  fakes::FakeApiServer api_;
  std::string url_;
  TempDir hook_;
  std::string nvml_config_;
  MonitorDaemonOptions options_;
};

TEST_F(MonitorDaemonTest, ExportsContainersOfThisNodesPodsAndTheHostsGpus) {
  ASSERT_TRUE(api_.Put(Pod("trainer", "uid-1", "n1")).ok());
  ASSERT_TRUE(api_.Put(Pod("elsewhere", "uid-9", "n2")).ok());  // another node's pod
  auto r1 = Region("uid-1", "main", 3000 * kMiB, 512 * kMiB, 1, 0);
  ASSERT_NE(r1, nullptr);
  auto daemon = StartDaemon();
  EXPECT_EQ(daemon->open_regions(), 1u);

  httplib::Client http("127.0.0.1", daemon->metrics_port());
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("version=0.0.4"), std::string::npos);
  const std::string& text = res->body;
  const std::string c =
      "{namespace=\"team-a\",pod=\"trainer\",container=\"main\",vdevice_index=\"0\","
      "device_uuid=\"GPU-aaa\",zone=\"vGPU\"}";
  EXPECT_NE(text.find("hami_vgpu_memory_limit_bytes" + c + " 3145728000\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("hami_vgpu_memory_used_bytes" + c + " 536870912\n"), std::string::npos);
  EXPECT_NE(text.find("hami_container_device_memory_bytes" + c + " 536870912\n"),
            std::string::npos);
  EXPECT_NE(text.find("hami_container_last_kernel_elapsed_seconds" + c + " 7\n"),
            std::string::npos);
  const std::string h0 =
      "{node=\"n1\",device_index=\"0\",device_uuid=\"GPU-aaa\",device_type=\"NVIDIA-Tesla T4\","
      "zone=\"vGPU\"}";
  const std::string h1 =
      "{node=\"n1\",device_index=\"1\",device_uuid=\"GPU-bbb\",device_type=\"NVIDIA-Tesla T4\","
      "zone=\"vGPU\"}";
  EXPECT_NE(text.find("hami_host_gpu_memory_used_bytes" + h0 + " 2147483648\n"), std::string::npos);
  EXPECT_NE(text.find("hami_host_gpu_memory_used_bytes" + h1 + " 0\n"), std::string::npos);
  EXPECT_NE(text.find("hami_host_gpu_utilization_ratio" + h0 + " 37\n"), std::string::npos);
  EXPECT_NE(text.find("hami_host_gpu_memory_controller_utilization_ratio" + h0 + " 12\n"),
            std::string::npos);
  // GPU-bbb does not report utilisation (NOT_SUPPORTED): no sample rather than a made-up 0.
  EXPECT_EQ(text.find("hami_host_gpu_utilization_ratio" + h1), std::string::npos);
  EXPECT_EQ(text.find("HostGPUMemoryUsage"), std::string::npos);  // legacy names are opt-in
  EXPECT_EQ(http.Get("/healthz")->status, 200);
  daemon->Stop();
}

// The monitor's /metrics scraped by a real Prometheus (Debian's package): the exposition, legacy
// names included, must parse with the upstream parser, and the values read back through PromQL.
TEST_F(MonitorDaemonTest, RealPrometheusScrapesAndQueriesTheMonitor) {
  if (std::string why = fakes::PrometheusServer::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  ASSERT_TRUE(api_.Put(Pod("trainer", "uid-1", "n1", {"main", "helper"})).ok());
  auto main = Region("uid-1", "main", 3000 * kMiB, 512 * kMiB, 1, 0);
  auto helper = Region("uid-1", "helper", 1000 * kMiB, 100 * kMiB, 1, 0);
  options_.exposition.legacy = true;
  auto daemon = StartDaemon();
  ASSERT_EQ(daemon->open_regions(), 2u);

  fakes::PrometheusServer prom;
  const std::string target = "127.0.0.1:" + std::to_string(daemon->metrics_port());
  auto started = prom.Start({{target, "/metrics", "hami-monitor"}});
  ASSERT_TRUE(started.ok()) << started.status().message();
  auto targets = prom.WaitForScrapes(milliseconds(15000));
  ASSERT_TRUE(targets.ok()) << targets.status().message() << "\n" << prom.LogTail();
  ASSERT_EQ(targets->size(), 1u);
  EXPECT_EQ((*targets)[0].health, "up") << (*targets)[0].last_error;
  EXPECT_EQ((*targets)[0].last_error, "");

  auto used = prom.WaitForValue(
      "hami_vgpu_memory_used_bytes{namespace=\"team-a\",pod=\"trainer\",container=\"main\"}",
      milliseconds(3000));
  ASSERT_TRUE(used.ok()) << used.status().message();
  ASSERT_EQ(used->size(), 1u);
  EXPECT_EQ((*used)[0].value, 512.0 * kMiB);
  EXPECT_EQ((*used)[0].labels.at("device_uuid"), "GPU-aaa");
  EXPECT_EQ((*used)[0].labels.at("zone"), "vGPU");
  auto pod_total = prom.Query("sum by (pod) (hami_vgpu_memory_limit_bytes)");
  ASSERT_TRUE(pod_total.ok()) << pod_total.status().message();
  ASSERT_EQ(pod_total->size(), 1u);
  EXPECT_EQ((*pod_total)[0].value, 4000.0 * kMiB);
  // Share of the limit in use, as a dashboard computes it.
  auto share = prom.Query(
      "hami_vgpu_memory_used_bytes{container=\"helper\"} / "
      "hami_vgpu_memory_limit_bytes{container=\"helper\"}");
  ASSERT_TRUE(share.ok()) << share.status().message();
  ASSERT_EQ(share->size(), 1u);
  EXPECT_DOUBLE_EQ((*share)[0].value, 0.1);
  auto host = prom.Query("hami_host_gpu_utilization_ratio{device_uuid=\"GPU-aaa\"}");
  ASSERT_TRUE(host.ok()) << host.status().message();
  ASSERT_EQ(host->size(), 1u);
  EXPECT_EQ((*host)[0].value, 37);
  EXPECT_EQ((*host)[0].labels.at("node"), "n1");
  auto host_memory = prom.Query("sum(hami_host_gpu_memory_used_bytes)");
  ASSERT_TRUE(host_memory.ok());
  ASSERT_EQ(host_memory->size(), 1u);
  EXPECT_EQ((*host_memory)[0].value, 2048.0 * kMiB);
  // A legacy family with its label-borne breakdown.
  auto legacy = prom.Query("Device_memory_desc_of_container{ctrname=\"main\"}");
  ASSERT_TRUE(legacy.ok()) << legacy.status().message();
  ASSERT_EQ(legacy->size(), 1u);
  EXPECT_EQ((*legacy)[0].labels.at("data"), std::to_string(512 * kMiB));
  daemon->Stop();
}

TEST_F(MonitorDaemonTest, LegacyNamesWhenAskedFor) {
  ASSERT_TRUE(api_.Put(Pod("trainer", "uid-1", "n1")).ok());
  auto r1 = Region("uid-1", "main", 3000 * kMiB, 512 * kMiB, 1, 0);
  options_.exposition.legacy = true;
  auto daemon = StartDaemon();
  auto text = daemon->RenderMetrics();
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("vGPU_device_memory_usage_in_bytes{podnamespace=\"team-a\",podname="
                       "\"trainer\",ctrname=\"main\",vdeviceid=\"0\",deviceuuid=\"GPU-aaa\","
                       "zone=\"vGPU\"} 536870912\n"),
            std::string::npos)
      << *text;
  EXPECT_NE(text->find("Device_memory_desc_of_container{podnamespace=\"team-a\",podname="
                       "\"trainer\",ctrname=\"main\",vdeviceid=\"0\",deviceuuid=\"GPU-aaa\","
                       "context=\"0\",module=\"0\",data=\"536870912\",offset=\"0\",zone="
                       "\"vGPU\"} 536870912\n"),
            std::string::npos);
  EXPECT_NE(text->find("HostGPUMemoryUsage{deviceidx=\"0\",deviceuuid=\"GPU-aaa\",devicetype="
                       "\"NVIDIA-Tesla T4\",zone=\"vGPU\"} 2147483648\n"),
            std::string::npos);
  EXPECT_NE(text->find("hami_vgpu_memory_used_bytes{"), std::string::npos);  // current kept
}

TEST_F(MonitorDaemonTest, HighPriorityTaskBlocksTheLowOneUntilItEnds) {
  ASSERT_TRUE(api_.Put(Pod("urgent", "uid-hi", "n1")).ok());
  ASSERT_TRUE(api_.Put(Pod("batch", "uid-lo", "n1")).ok());
  auto high = Region("uid-hi", "main", 1000 * kMiB, kMiB, 0, 3);  // active for two more rounds
  auto low = Region("uid-lo", "main", 1000 * kMiB, kMiB, 1, 5);
  auto daemon = StartDaemon();  // round 1: high 3 -> 2 (active), low 5 -> blocked
  EXPECT_EQ(high->recent_kernel(), 2);
  EXPECT_EQ(low->recent_kernel(), -1);
  EXPECT_EQ(low->utilization_switch(), 1);
  EXPECT_EQ(high->utilization_switch(), 0);
  ASSERT_TRUE(daemon->RunRound());  // high 2 -> 1: still active
  EXPECT_EQ(low->recent_kernel(), -1);
  ASSERT_TRUE(daemon->RunRound());  // high 1 -> 0: idle, the low task is released
  EXPECT_EQ(high->recent_kernel(), 0);
  EXPECT_EQ(low->recent_kernel(), 0);
  EXPECT_EQ(low->utilization_switch(), 0);
}

TEST_F(MonitorDaemonTest, GonePodsDirectoriesAreRemovedAfterTheGraceAndBadFilesSkipped) {
  ASSERT_TRUE(api_.Put(Pod("trainer", "uid-1", "n1")).ok());
  auto live = Region("uid-1", "main", 1000 * kMiB, kMiB, 1, 0);
  auto gone = Region("uid-gone", "main", 1000 * kMiB, kMiB, 1, 0);
  const std::string gone_dir = hook_.path() + "/containers/uid-gone_main";
  testing::SetMtime(gone_dir, kNow - 301);
  // A live pod's second container whose file is not a region: reported, skipped, kept.
  const std::string junk_dir = hook_.path() + "/containers/uid-1_sidecar";
  std::filesystem::create_directories(junk_dir);
  testing::WriteFile(junk_dir + "/x.cache", std::string(100, 'x'));
  auto daemon = StartDaemon();
  EXPECT_FALSE(std::filesystem::exists(gone_dir));
  EXPECT_TRUE(std::filesystem::exists(junk_dir));
  EXPECT_EQ(daemon->open_regions(), 1u);

  // The pod is deleted: its directory stays while young, goes once older than the grace.
  ASSERT_TRUE(api_.Delete("pods", "team-a", "trainer").ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(daemon->RunRound());
    if (daemon->open_regions() == 0) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(daemon->open_regions(), 0u);
  const std::string live_dir = hook_.path() + "/containers/uid-1_main";
  EXPECT_TRUE(std::filesystem::exists(live_dir));
  testing::SetMtime(live_dir, kNow - 300);
  ASSERT_TRUE(daemon->RunRound());
  EXPECT_FALSE(std::filesystem::exists(live_dir));
  auto text = daemon->RenderMetrics();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("hami_vgpu_memory_used_bytes"), std::string::npos);
}

// Issue 14: a region whose limit differs from the pod's hami.io/vgpu-devices-allocated is
// exported and logged once per change; containers whose limits agree, and pods without an
// allocation yet, are not.
TEST_F(MonitorDaemonTest, RegionLimitDifferingFromTheAllocationIsExportedAndLoggedOnChange) {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  struct Restore {
    std::shared_ptr<spdlog::logger> logger;
    ~Restore() { spdlog::set_default_logger(logger); }
  } restore{previous};
  auto count = [&log](const std::string& needle) {
    const std::string text = log.str();
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };

  nlohmann::json trainer = Pod("trainer", "uid-1", "n1", {"main", "helper"});
  trainer["metadata"]["annotations"][kVgpuDevicesAllocatedAnnotation] =
      "GPU-aaa,NVIDIA,3000,30:;GPU-aaa,NVIDIA,1000,30:;";
  ASSERT_TRUE(api_.Put(trainer).ok());
  ASSERT_TRUE(api_.Put(Pod("fresh", "uid-2", "n1")).ok());           // no allocation annotation yet
  auto main = Region("uid-1", "main", 3000 * kMiB, kMiB, 1, 0);      // as allocated
  auto helper = Region("uid-1", "helper", 1000 * kMiB, kMiB, 1, 0);  // tampered below
  auto fresh = Region("uid-2", "main", 7000 * kMiB, kMiB, 1, 0);     // nothing to compare
  const std::string helper_file = hook_.path() + "/containers/uid-1_helper/0123.cache";
  const size_t limit0 = offsetof(vgpu::layout::Region, limit);
  testing::PWriteAt<uint64_t>(helper_file, limit0, 15360 * kMiB);  // raised from inside
  auto daemon = StartDaemon();
  ASSERT_EQ(daemon->open_regions(), 3u);
  ASSERT_TRUE(daemon->RunRound());
  ASSERT_TRUE(daemon->RunRound());
  const std::string warned = "region limit differs from the allocation";
  EXPECT_EQ(count(warned), 1u) << log.str();  // once, not every round
  EXPECT_EQ(count("container=helper vdevice_index=0 device_uuid=GPU-aaa limit=memory_bytes "
                  "region_value=16106127360 allocated_value=1048576000"),
            1u)
      << log.str();

  const std::string series =
      "hami_container_region_limit_mismatch{namespace=\"team-a\",pod=\"trainer\","
      "container=\"helper\",vdevice_index=\"0\",device_uuid=\"GPU-aaa\","
      "limit=\"memory_bytes\",region_value=\"16106127360\",allocated_value=\"1048576000\","
      "zone=\"vGPU\"} 1\n";
  auto text = daemon->RenderMetrics();
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find(series), std::string::npos) << *text;
  EXPECT_EQ(text->find("hami_container_region_limit_mismatch{namespace=\"team-a\",pod=\"fresh\""),
            std::string::npos);
  EXPECT_EQ(text->find("container=\"main\",vdevice_index=\"0\",device_uuid=\"GPU-aaa\",limit="),
            std::string::npos);

  // Zeroed (unlimited): a new value, a new line.
  testing::PWriteAt<uint64_t>(helper_file, limit0, 0);
  ASSERT_TRUE(daemon->RunRound());
  EXPECT_EQ(count(warned), 2u) << log.str();
  EXPECT_EQ(count("region_value=0 allocated_value=1048576000"), 1u) << log.str();
  // Put back: one line that it agrees again, and the series is gone.
  testing::PWriteAt<uint64_t>(helper_file, limit0, 1000 * kMiB);
  ASSERT_TRUE(daemon->RunRound());
  ASSERT_TRUE(daemon->RunRound());
  EXPECT_EQ(count(warned), 2u);
  EXPECT_EQ(count("region limit agrees with the allocation again: namespace=team-a pod=trainer "
                  "container=helper vdevice_index=0 limit=memory_bytes"),
            1u)
      << log.str();
  text = daemon->RenderMetrics();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("hami_container_region_limit_mismatch"), std::string::npos) << *text;
  daemon->Stop();
}

TEST_F(MonitorDaemonTest, WithoutNvmlOrApiServerItKeepsWorking) {
  options_.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  ASSERT_TRUE(api_.Put(Pod("trainer", "uid-1", "n1")).ok());
  auto r1 = Region("uid-1", "main", 1000 * kMiB, 10 * kMiB, 1, 0);
  auto daemon = StartDaemon();
  api_.Stop();  // the API server goes away: the last pod list is kept, nothing deleted
  ASSERT_TRUE(daemon->RunRound());
  auto text = daemon->RenderMetrics();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("hami_host_gpu"), std::string::npos);
  EXPECT_NE(text->find("hami_vgpu_memory_used_bytes{namespace=\"team-a\",pod=\"trainer\""),
            std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(hook_.path() + "/containers/uid-1_main"));

  // The containers directory becomes unreadable (renamed away): the open regions stay exported.
  std::filesystem::rename(hook_.path() + "/containers", hook_.path() + "/moved");
  ASSERT_TRUE(daemon->RunRound());
  EXPECT_EQ(daemon->open_regions(), 1u);
}

TEST_F(MonitorDaemonTest, BackgroundRoundsRunEveryPeriodOnceThePodsAreListed) {
  ASSERT_TRUE(api_.Put(Pod("batch", "uid-lo", "n1")).ok());
  auto region = Region("uid-lo", "main", 1000 * kMiB, kMiB, 1, 50);
  options_.background_rounds = true;
  options_.round_period = milliseconds(50);
  MonitorDaemon daemon(Client(url_), options_);
  ASSERT_TRUE(daemon.Start().ok());
  for (int i = 0; i < 400 && daemon.rounds() < 3; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_GE(daemon.rounds(), 3u);
  daemon.Stop();
  // Each round decayed the container's recent_kernel by one, no more (rounds never overlap).
  EXPECT_EQ(region->recent_kernel(), 50 - static_cast<int32_t>(daemon.rounds()));
}

TEST(MonitorDaemonStartTest, RefusesWithoutNodeNameAndOnABusyPort) {
  MonitorDaemonOptions options;
  MonitorDaemon no_node(Client("http://127.0.0.1:1"), options);
  EXPECT_EQ(no_node.Start().code(), StatusCode::kInvalidArgument);

  options.node_name = "n1";
  options.metrics_host = "127.0.0.1";
  options.metrics_port = 0;
  MonitorDaemon first(Client("http://127.0.0.1:1"), options);
  ASSERT_TRUE(first.Start().ok());
  options.metrics_port = first.metrics_port();
  MonitorDaemon second(Client("http://127.0.0.1:1"), options);
  EXPECT_EQ(second.Start().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(first.RunRound());  // no pod list yet: nothing scanned, nothing deleted
}

TEST(TrimPodForMonitorTest, KeepsOnlyWhatTheMonitorReads) {
  nlohmann::json pod = Pod("p", "uid-1", "n1", {"a", "b"});
  pod["metadata"]["annotations"] = {{kVgpuMigAllocationsAnnotation, "[]"},
                                    {kVgpuDevicesAllocatedAnnotation, "GPU-a,NVIDIA,1,1:;"},
                                    {kVgpuDevicesToAllocateAnnotation, ";"},
                                    {"other", "x"}};
  pod["metadata"]["resourceVersion"] = "12";
  pod["metadata"]["labels"] = {{"app", "x"}};
  TrimPodForMonitor(pod);
  EXPECT_EQ(pod["metadata"],
            nlohmann::json({{"name", "p"},
                            {"namespace", "team-a"},
                            {"uid", "uid-1"},
                            {"resourceVersion", "12"},
                            {"annotations",
                             {{kVgpuMigAllocationsAnnotation, "[]"},
                              {kVgpuDevicesAllocatedAnnotation, "GPU-a,NVIDIA,1,1:;"}}}}));
  EXPECT_EQ(pod["spec"], nlohmann::json({{"containers", {{{"name", "a"}}, {{"name", "b"}}}}}));
  // Init containers are kept too: the allocation groups count them first.
  nlohmann::json with_init = Pod("p", "uid-1", "n1", {"a"});
  with_init["spec"]["initContainers"] = {{{"name", "setup"}, {"image", "busybox"}}};
  TrimPodForMonitor(with_init);
  EXPECT_EQ(with_init["spec"], nlohmann::json({{"initContainers", {{{"name", "setup"}}}},
                                               {"containers", {{{"name", "a"}}}}}));
  nlohmann::json odd = {{"metadata", 5}, {"spec", "x"}};
  TrimPodForMonitor(odd);  // malformed objects do not throw
  EXPECT_TRUE(odd["spec"]["containers"].empty());
}

TEST(MigReadingsTest, OnlyCompletedAllocationsOfKnownContainers) {
  MigAllocation done;
  done.container_index = 1;
  done.device_index = 0;
  done.gpu_uuid = "GPU-a100";
  done.profile = "1g.10gb";
  done.placement = {0, 1};
  done.mig_uuid = "MIG-1";
  done.gpu_instance_id = 7;
  done.compute_instance_id = 0;
  MigAllocation pending = done;
  pending.device_index = 1;
  pending.mig_uuid.clear();
  pending.gpu_instance_id.reset();
  pending.compute_instance_id.reset();
  MigAllocation bad_index = done;
  bad_index.container_index = 5;
  nlohmann::json pod = Pod("p", "uid-1", "n1", {"a", "b"});
  pod["metadata"]["annotations"] = {
      {kVgpuMigAllocationsAnnotation, EncodeMigAllocations({done, pending, bad_index})}};
  nlohmann::json broken = Pod("q", "uid-2", "n1");
  broken["metadata"]["annotations"] = {{kVgpuMigAllocationsAnnotation, "{not json"}};
  auto readings = MigReadingsFromPods({std::make_shared<const nlohmann::json>(pod),
                                       std::make_shared<const nlohmann::json>(broken)});
  ASSERT_EQ(readings.size(), 1u);
  EXPECT_EQ(readings[0].pod_uid, "uid-1");
  EXPECT_EQ(readings[0].container, "b");
  EXPECT_EQ(readings[0].mig_uuid, "MIG-1");
  EXPECT_EQ(readings[0].gpu_instance_id, 7u);

  // containerIndex counts init containers first (the pod device strings' groups).
  nlohmann::json with_init = Pod("r", "uid-3", "n1", {"a", "b"});
  with_init["spec"]["initContainers"] = {{{"name", "setup"}}};
  with_init["metadata"]["annotations"] = {
      {kVgpuMigAllocationsAnnotation, EncodeMigAllocations({done})}};
  readings = MigReadingsFromPods({std::make_shared<const nlohmann::json>(with_init)});
  ASSERT_EQ(readings.size(), 1u);
  EXPECT_EQ(readings[0].container, "a");
}

}  // namespace
}  // namespace hami::monitor
