// ResourceQuota enforcement where it happens: /filter (FilterCore, including pods racing for
// the last unit), the webhook's pre-check, and the quota gauges.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "device/codec.h"
#include "scheduler/filter.h"
#include "scheduler/metrics.h"
#include "scheduler/quota.h"
#include "scheduler/webhook.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

DeviceInfo Dev(const std::string& id, int32_t mem = 16384) { return testing::TestDevice(id, mem); }

nlohmann::json Quota(const std::string& ns, const std::string& name, nlohmann::json hard) {
  return {{"metadata", {{"name", name}, {"namespace", ns}}}, {"spec", {{"hard", std::move(hard)}}}};
}

nlohmann::json Pod(const std::string& uid, nlohmann::json limits, const std::string& ns = "team") {
  return {{"metadata", {{"name", "pod-" + uid}, {"namespace", ns}, {"uid", uid}}},
          {"spec",
           {{"containers",
             nlohmann::json::array({{{"name", "c"}, {"resources", {{"limits", limits}}}}})}}}};
}

nlohmann::json Mem(int count, int mib, int cores = 10) {
  return {{"nvidia.com/gpu", std::to_string(count)},
          {"nvidia.com/gpumem", std::to_string(mib)},
          {"nvidia.com/gpucores", std::to_string(cores)}};
}

class QuotaFilterTest : public ::testing::Test {
 protected:
  QuotaFilterTest()
      : registry_(std::move(*MakeVendorRegistry(DefaultDeviceConfig()))),
        quota_(registry_),
        core_(registry_, ledger_,
              std::make_unique<policy::HamiPolicy>("hami-default", policy::NodePolicy::kBinpack,
                                                   policy::GpuPolicy{})) {
    ledger_.SetNodeDevices("node-a", "NVIDIA", {Dev("GPU-a0"), Dev("GPU-a1")});
    ledger_.SetNodeDevices("node-b", "NVIDIA", {Dev("GPU-b0"), Dev("GPU-b1")});
    core_.set_quota(&quota_);
  }

  void SetQuota(const std::string& name, nlohmann::json hard, const std::string& ns = "team") {
    auto applied = quota_.Apply(Quota(ns, name, std::move(hard)));
    ASSERT_TRUE(applied.ok());
    ASSERT_TRUE(applied->empty());
  }

  FilterDecision Filter(nlohmann::json pod, std::vector<std::string> names = {"node-a", "node-b"}) {
    ExtenderArgs args;
    args.pod = std::move(pod);
    args.node_names = std::move(names);
    return core_.Filter(args, 1700000000);
  }

  int64_t Used(const std::string& resource, const std::string& ns = "team") {
    const QuotaAmounts used = quota_.Usage(ledger_, ns);
    auto it = used.find(resource);
    return it == used.end() ? 0 : it->second;
  }

  VendorRegistry registry_;
  UsageLedger ledger_;
  QuotaTracker quota_;
  FilterCore core_;
};

TEST_F(QuotaFilterTest, DecidesWithinTheQuotaAndRefusesPastIt) {
  SetQuota("gpu", {{"limits.nvidia.com/gpumem", "10000"}});
  // 2 GPUs x 3000 = 6000 of 10000.
  FilterDecision first = Filter(Pod("u1", Mem(2, 3000)));
  ASSERT_TRUE(first.decided.has_value()) << first.result.error;
  EXPECT_EQ(Used("nvidia.com/gpumem"), 6000);
  // 6000 + 2 x 2500 > 10000: every node fails with ResourceQuotaNotFit, nothing recorded.
  FilterDecision second = Filter(Pod("u2", Mem(2, 2500)));
  EXPECT_FALSE(second.decided.has_value());
  EXPECT_FALSE(second.result.node_names.has_value());
  EXPECT_EQ(second.result.failed_nodes.at("node-a"), "2/2 ResourceQuotaNotFit");
  EXPECT_EQ(second.result.failed_nodes.at("node-b"), "2/2 ResourceQuotaNotFit");
  EXPECT_FALSE(ledger_.GetPod("u2").has_value());
  // 6000 + 2 x 2000 = 10000 fits exactly.
  EXPECT_TRUE(Filter(Pod("u3", Mem(2, 2000))).decided.has_value());
  EXPECT_EQ(Used("nvidia.com/gpumem"), 10000);
  // Another namespace is not limited.
  EXPECT_TRUE(Filter(Pod("u4", Mem(1, 5000), "free")).decided.has_value());
}

TEST_F(QuotaFilterTest, UnboundDecisionsCountAndAReFilterReplacesItsOwn) {
  SetQuota("gpu", {{"limits.nvidia.com/gpucores", "50"}});
  FilterDecision first = Filter(Pod("u1", Mem(1, 1000, 40)));
  ASSERT_TRUE(first.decided.has_value());
  ASSERT_FALSE(ledger_.GetPod("u1")->decision_written);
  // The decision is not bound yet, and still counts.
  EXPECT_FALSE(Filter(Pod("u2", Mem(1, 1000, 20))).decided.has_value());
  // kube-scheduler filtering u1 again replaces its decision instead of adding to it.
  EXPECT_TRUE(Filter(Pod("u1", Mem(1, 1000, 40))).decided.has_value());
  EXPECT_EQ(Used("nvidia.com/gpucores"), 40);
  // Once the decision is gone (bind failed), its cores are free again.
  core_.Forget("u1");
  EXPECT_TRUE(Filter(Pod("u2", Mem(1, 1000, 20))).decided.has_value());
}

TEST_F(QuotaFilterTest, ExplicitZeroBlocksOnlyPodsAskingTheResource) {
  SetQuota("no-cores", {{"limits.nvidia.com/gpucores", "0"}});
  FilterDecision asks = Filter(Pod("u1", Mem(1, 1000, 1)));
  EXPECT_FALSE(asks.decided.has_value());
  EXPECT_EQ(asks.result.failed_nodes.at("node-a"), "2/2 ResourceQuotaNotFit");
  // Memory only (no cores asked, defaultCores 0): not limited by the cores quota.
  EXPECT_TRUE(Filter(Pod("u2", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}}))
                  .decided.has_value());
}

TEST_F(QuotaFilterTest, SeveralQuotasTheSmallestBinds) {
  SetQuota("loose", {{"limits.nvidia.com/gpumem", "100000"}});
  SetQuota("tight", {{"limits.nvidia.com/gpumem", "3000"}});
  EXPECT_FALSE(Filter(Pod("u1", Mem(1, 3001))).decided.has_value());
  EXPECT_TRUE(Filter(Pod("u2", Mem(1, 3000))).decided.has_value());
}

TEST_F(QuotaFilterTest, PercentageCountsAsResolvedOnTheChosenDevice) {
  // node-a: 16 GiB GPUs, node-b: 8 GiB GPUs. Half a GPU is 8192 MiB on node-a, 4096 on node-b;
  // binpack alone would not prefer node-b, the quota leaves it as the only choice.
  ledger_.SetNodeDevices("node-b", "NVIDIA", {Dev("GPU-b0", 8192)});
  SetQuota("gpu", {{"limits.nvidia.com/gpumem", "4096"}});
  FilterDecision d =
      Filter(Pod("u1", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "50"}}));
  ASSERT_TRUE(d.decided.has_value()) << d.result.error;
  EXPECT_EQ(d.decided->node, "node-b");
  EXPECT_EQ(d.result.failed_nodes.at("node-a"), "2/2 ResourceQuotaNotFit");
  EXPECT_EQ(Used("nvidia.com/gpumem"), 4096);
}

TEST_F(QuotaFilterTest, PlacementOverTheQuotaIsRetriedOnAnotherNode) {
  // node-a has an 8 GiB and a 16 GiB GPU: its least possible demand for half a GPU (4096) fits
  // the quota, but the 8 GiB GPU is taken by another namespace, so the placement there is the
  // 16 GiB GPU (8192 > 4096). The node is dropped and node-b's 8 GiB GPU chosen.
  ledger_.SetNodeDevices("node-a", "NVIDIA", {Dev("GPU-a0", 8192), Dev("GPU-a1")});
  ledger_.SetNodeDevices("node-b", "NVIDIA", {Dev("GPU-b0", 8192)});
  PodAllocation other =
      testing::Allocation("x", "node-a", {{ContainerDevice{"GPU-a0", "NVIDIA", 6000, 10, {}, {}}}});
  ledger_.AddPod(other);
  SetQuota("gpu", {{"limits.nvidia.com/gpumem", "4096"}});
  FilterDecision d = Filter(
      Pod("u1", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "50"}}), {"node-a"});
  EXPECT_FALSE(d.decided.has_value());
  EXPECT_EQ(d.result.failed_nodes.at("node-a"), "2/2 ResourceQuotaNotFit");
  d = Filter(Pod("u1", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem-percentage", "50"}}));
  ASSERT_TRUE(d.decided.has_value()) << d.result.error;
  EXPECT_EQ(d.decided->node, "node-b");
  EXPECT_EQ(Used("nvidia.com/gpumem"), 4096);
}

TEST_F(QuotaFilterTest, PodsRacingForTheLastUnitNeverGoOver) {
  // 2 nodes x 2 GPUs x 10 slots hold 40 pods of 1000 MiB; the quota holds 7. Every round,
  // 24 threads filter one pod each at once: exactly 7 are decided, never more.
  SetQuota("gpu", {{"limits.nvidia.com/gpumem", "7000"}});
  for (int round = 0; round < 5; ++round) {
    constexpr int kThreads = 24;
    std::atomic<int> decided{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        const std::string uid = "r" + std::to_string(round) + "-" + std::to_string(t);
        if (Filter(Pod(uid, Mem(1, 1000))).decided) ++decided;
        EXPECT_LE(Used("nvidia.com/gpumem"), 7000);
      });
    }
    go = true;
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(decided.load(), 7) << "round " << round;
    EXPECT_EQ(Used("nvidia.com/gpumem"), 7000);
    EXPECT_TRUE(ledger_.CheckCapacity().ok());
    // Free the namespace for the next round.
    for (const PodAllocation& p : ledger_.PodsInNamespace("team")) core_.Forget(p.uid);
  }
}

TEST_F(QuotaFilterTest, SimulationModeAnswersNoNodeOverTheQuota) {
  // kube-scheduler without nodeCacheCapable sends whole nodes: the quota applies all the same.
  // Another namespace fills the small GPU; the team holds 3000 MiB of its 4000 on the big one.
  ledger_.AddPod(testing::Allocation("x", "sim-1", {{{"GPU-s2", "NVIDIA", 4000, 0}}}));
  ledger_.AddPod([] {
    PodAllocation p = testing::Allocation("y", "sim-1", {{{"GPU-s1", "NVIDIA", 3000, 0}}});
    p.ns = "team";
    return p;
  }());
  SetQuota("gpu", {{"limits.nvidia.com/gpumem", "4000"}});
  auto simulate = [&](const std::string& mem, const std::string& percent) {
    ExtenderArgs args;
    nlohmann::json limits = {{"nvidia.com/gpu", "1"}};
    if (!mem.empty()) limits["nvidia.com/gpumem"] = mem;
    if (!percent.empty()) limits["nvidia.com/gpumem-percentage"] = percent;
    args.pod = Pod("u1", limits);
    args.nodes = std::vector<nlohmann::json>{
        {{"metadata",
          {{"name", "sim-1"},
           {"annotations",
            {{"hami.io/node-nvidia-register",
              EncodeNodeDevicesJson({Dev("GPU-s1"), Dev("GPU-s2", 4096)})}}}}}}};
    return core_.Filter(args, 0);
  };
  FilterDecision fits = simulate("1000", "");
  ASSERT_TRUE(fits.result.nodes.has_value());
  EXPECT_EQ(fits.result.nodes->size(), 1u);
  FilterDecision over = simulate("1001", "");
  ASSERT_TRUE(over.result.nodes.has_value());
  EXPECT_TRUE(over.result.nodes->empty());
  EXPECT_EQ(over.result.failed_nodes.at("sim-1"), "2/2 ResourceQuotaNotFit");
  // 20 % is 819 MiB of the small GPU (the least demand fits) but 3276 of the big one, the only
  // GPU with room: the exact check refuses it.
  FilterDecision exact = simulate("", "20");
  ASSERT_TRUE(exact.result.nodes.has_value());
  EXPECT_TRUE(exact.result.nodes->empty());
  EXPECT_EQ(exact.result.failed_nodes.at("sim-1"), "2/2 ResourceQuotaNotFit");
  EXPECT_EQ(ledger_.PodCount(), 2u);
}

// The webhook pre-check, wired the way the daemon wires it.
class QuotaWebhookTest : public QuotaFilterTest {
 protected:
  WebhookConfig Config() {
    WebhookConfig config;
    config.check_quota = [this](const std::string& ns, const QuotaAmounts& requested) {
      return quota_.Check(ledger_, ns, requested);
    };
    return config;
  }
};

TEST_F(QuotaWebhookTest, RefusesARequestThatCanNeverFit) {
  SetQuota("gpu", {{"limits.nvidia.com/gpumem", "5000"}});
  AdmissionDecision d = AdmitPod(Pod("u1", Mem(2, 3000)), Config());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, 403);
  EXPECT_EQ(d.message,
            "exceeding resource quota: limits.nvidia.com/gpumem in namespace team: used 0 + "
            "requested 6000 > limit 5000 (ResourceQuota gpu)");
  EXPECT_TRUE(AdmitPod(Pod("u2", Mem(1, 5000)), Config()).allowed);
}

TEST_F(QuotaWebhookTest, CountsCurrentUsageLikeHami) {
  SetQuota("gpu", {{"limits.nvidia.com/gpumem", "5000"}});
  ASSERT_TRUE(Filter(Pod("u1", Mem(1, 3000))).decided.has_value());
  AdmissionDecision d = AdmitPod(Pod("u2", Mem(1, 3000)), Config());
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("used 3000 + requested 3000 > limit 5000"), std::string::npos)
      << d.message;
  EXPECT_TRUE(AdmitPod(Pod("u3", Mem(1, 2000)), Config()).allowed);
}

TEST_F(QuotaWebhookTest, ExplicitZeroRefusesWholeCardPods) {
  SetQuota("no-cores", {{"limits.nvidia.com/gpucores", "0"}});
  // nvidia.com/gpu alone becomes a whole card (cores 100): refused.
  AdmissionDecision d = AdmitPod(Pod("u1", {{"nvidia.com/gpu", "1"}}), Config());
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("limits.nvidia.com/gpucores"), std::string::npos) << d.message;
  // Memory only: allowed; a pod asking no device is never checked.
  EXPECT_TRUE(
      AdmitPod(Pod("u2", {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "1000"}}), Config())
          .allowed);
  EXPECT_TRUE(AdmitPod(Pod("u3", {{"cpu", "1"}}), Config()).allowed);
}

TEST_F(QuotaWebhookTest, PercentageIsNotCountedBeforePlacementAndNamespaceComesFromTheReview) {
  SetQuota("gpu", {{"limits.nvidia.com/gpumem", "10"}});
  EXPECT_TRUE(AdmitPod(Pod("u1", {{"nvidia.com/gpu", "1"},
                                  {"nvidia.com/gpumem-percentage", "50"},
                                  {"nvidia.com/gpucores", "10"}}),
                       Config())
                  .allowed);
  nlohmann::json pod = Pod("u2", Mem(1, 3000));
  pod["metadata"].erase("namespace");
  nlohmann::json review = {{"apiVersion", "admission.k8s.io/v1"},
                           {"kind", "AdmissionReview"},
                           {"request", {{"uid", "r1"}, {"namespace", "team"}, {"object", pod}}}};
  auto out = HandleAdmissionReview(review.dump(), Config());
  ASSERT_TRUE(out.ok());
  const nlohmann::json response = nlohmann::json::parse(*out)["response"];
  EXPECT_EQ(response["allowed"], false);
  EXPECT_NE(response["status"]["message"].get<std::string>().find("namespace team"),
            std::string::npos);
}

TEST(QuotaMetricsTest, RendersHamiLabels) {
  std::vector<QuotaStatus> rows(3);
  rows[0] = {"team-a", "nvidia.com/gpumem", 4096, QuotaLimit{"q", 8192}};
  rows[1] = {"team-b", "nvidia.com/gpumem", 1024, std::nullopt};
  rows[2] = {"team-c", "nvidia.com/gpucores", 0, QuotaLimit{"zero", 0}};
  const std::string text = RenderQuotaGauges(rows);
  EXPECT_NE(text.find("# TYPE hami_resource_quota_used gauge\n"), std::string::npos);
  EXPECT_NE(text.find("hami_resource_quota_used{namespace=\"team-a\",quota_name=\"nvidia.com/"
                      "gpumem\",limit=\"8192\"} 4096\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hami_resource_quota_used{namespace=\"team-b\",quota_name=\"nvidia.com/"
                      "gpumem\",limit=\"0\"} 1024\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hami_resource_quota_limit{namespace=\"team-a\",quota_name=\"nvidia.com/"
                      "gpumem\"} 8192\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hami_resource_quota_limit{namespace=\"team-c\",quota_name=\"nvidia.com/"
                      "gpucores\"} 0\n"),
            std::string::npos)
      << text;
  // No limit series where no ResourceQuota sets one.
  EXPECT_EQ(text.find("hami_resource_quota_limit{namespace=\"team-b\""), std::string::npos);
}

TEST_F(QuotaFilterTest, SchedulerMetricsRenderTheLedgersQuotaUsage) {
  SetQuota("gpu", {{"limits.nvidia.com/gpumem", "10000"}});
  ASSERT_TRUE(Filter(Pod("u1", Mem(2, 3000))).decided.has_value());
  SchedulerMetrics metrics;
  const std::string text = metrics.Render(ledger_, &quota_);
  EXPECT_NE(text.find("hami_resource_quota_used{namespace=\"team\",quota_name=\"nvidia.com/"
                      "gpumem\",limit=\"10000\"} 6000\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hami_resource_quota_used{namespace=\"team\",quota_name=\"nvidia.com/"
                      "gpucores\",limit=\"0\"} 20\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(metrics.Render(ledger_).find("hami_resource_quota"), std::string::npos);
}

}  // namespace
}  // namespace hami::scheduler
