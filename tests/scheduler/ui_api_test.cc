// The Web UI's decision log, reason texts and JSON API v1 (ui_api.h) on a populated cluster.
#include "scheduler/ui_api.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "policy/fit.h"
#include "tests/scheduler/ui_fixture.h"

namespace hami::scheduler {
namespace {

using nlohmann::json;

DecisionRecord Rec(const std::string& uid, const std::string& ns, const std::string& name,
                   int64_t at) {
  DecisionRecord r;
  r.uid = uid;
  r.ns = ns;
  r.name = name;
  r.at_unix_seconds = at;
  return r;
}

TEST(DecisionLogTest, KeepsTheLastNAndAnswersTheNewestPerPod) {
  DecisionLog log(3);
  EXPECT_FALSE(log.Latest("ns", "a"));
  log.Record(Rec("u1", "ns", "a", 1));
  log.Record(Rec("u2", "ns", "b", 2));
  log.Record(Rec("u1", "ns", "a", 3));
  EXPECT_EQ(log.Latest("ns", "a")->at_unix_seconds, 3);
  std::vector<DecisionPtr> latest = log.LatestPerPod();
  ASSERT_EQ(latest.size(), 2u);
  EXPECT_EQ(latest[0]->uid, "u1");  // newest first
  EXPECT_EQ(latest[0]->at_unix_seconds, 3);
  EXPECT_EQ(latest[1]->uid, "u2");
  log.Record(Rec("u3", "ns", "c", 4));
  log.Record(Rec("u4", "ns", "d", 5));  // evicts u2 and the first u1
  EXPECT_FALSE(log.Latest("ns", "b"));
  EXPECT_EQ(log.Latest("ns", "a")->at_unix_seconds, 3);
  log.Record(Rec("u5", "ns", "e", 6));  // evicts the second u1
  EXPECT_FALSE(log.Latest("ns", "a"));
  EXPECT_EQ(log.LatestPerPod().size(), 3u);
  EXPECT_EQ(log.recorded(), 6u);
  EXPECT_EQ(log.capacity(), 3u);
  EXPECT_EQ(DecisionLog(0).capacity(), 1u);
}

TEST(DecisionLogTest, ConcurrentRecordsAndReadsStayBounded) {
  DecisionLog log(64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 2000; ++i) {
        log.Record(Rec("u" + std::to_string(t) + "-" + std::to_string(i % 100), "ns",
                       "p" + std::to_string(i % 100), i));
        if (i % 50 == 0) EXPECT_LE(log.LatestPerPod().size(), 64u);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(log.recorded(), 8000u);
  EXPECT_EQ(log.LatestPerPod().size(), 64u);
}

TEST(ReasonTest, EveryFitReasonRoundTripsThroughTheFailedNodesText) {
  for (size_t i = 0; i < static_cast<size_t>(policy::FitReason::kCount); ++i) {
    policy::FitFailure failure;
    failure.total_devices = 8;
    failure.counts[i] = 3;
    auto parsed = ParseFailedNodeReason(failure.ToString());
    ASSERT_EQ(parsed.size(), 1u) << failure.ToString();
    EXPECT_EQ(parsed[0].code, policy::FitReasonName(static_cast<policy::FitReason>(i)));
    EXPECT_EQ(parsed[0].count, 3);
    EXPECT_EQ(parsed[0].total, 8);
  }
  policy::FitFailure two;
  two.total_devices = 4;
  two.Add(policy::FitReason::kCardNotHealth);
  two.Add(policy::FitReason::kCardInsufficientMemory);
  two.Add(policy::FitReason::kCardInsufficientMemory);
  auto parsed = ParseFailedNodeReason(two.ToString());
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].code, "CardInsufficientMemory");
  EXPECT_EQ(parsed[0].count, 2);
  EXPECT_EQ(parsed[1].code, "CardNotHealth");
}

TEST(ReasonTest, ExtenderTextsAndGarbageParse) {
  EXPECT_EQ(ParseFailedNodeReason(kNodeUnregistered)[0].code, "NodeUnregistered");
  EXPECT_EQ(ParseFailedNodeReason("Insufficient host resources")[0].code,
            "InsufficientHostResources");
  for (const char* garbage : {"", "oops", "3/x CardNotHealth", "1/2 NoSuchReason", "1/2",
                              "1/2 CardNotHealth, junk", "/ CardNotHealth"}) {
    auto parsed = ParseFailedNodeReason(garbage);
    ASSERT_EQ(parsed.size(), 1u) << garbage;
    EXPECT_EQ(parsed[0].code, "Unknown") << garbage;
  }
  EXPECT_EQ(ParseFailedNodeReason("1/2 NoSuchReason")[0].raw, "1/2 NoSuchReason");
}

ReasonContext NvidiaContext() {
  static const VendorRegistry registry = *MakeVendorRegistry(DefaultDeviceConfig());
  ReasonContext c;
  c.count = 2;
  c.memory_mib = 50000;
  c.cores_percent = 30;
  c.names = registry.Find("NVIDIA")->ResourceNames();
  return c;
}

TEST(ReasonTest, EveryCodeHasItsOwnWordsAndAHint) {
  const ReasonContext c = NvidiaContext();
  std::set<std::string> texts, hints;
  const std::vector<std::string> codes = AllReasonCodes();
  EXPECT_EQ(codes.size(), static_cast<size_t>(policy::FitReason::kCount) + 3);
  for (const std::string& code : codes) {
    const ReasonExplanation e = ExplainReason({code, 2, 4, code == "Unknown" ? "raw text" : ""}, c);
    EXPECT_FALSE(e.text.empty()) << code;
    EXPECT_FALSE(e.hint.empty()) << code;
    if (code != "Unknown") {
      EXPECT_EQ(e.text.find("the scheduler reported"), std::string::npos) << code;
    }
    texts.insert(e.text);
    hints.insert(e.hint);
  }
  EXPECT_EQ(texts.size(), codes.size());  // no two codes share their words
}

TEST(ReasonTest, WordsNameTheNumbersAndTheKnobs) {
  const ReasonContext c = NvidiaContext();
  auto explain = [&](const std::string& code) { return ExplainReason({code, 2, 4, ""}, c); };
  auto has = [](const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
  };
  ReasonExplanation e = explain("CardInsufficientMemory");
  EXPECT_TRUE(has(e.text, "50000 MiB free")) << e.text;
  EXPECT_TRUE(has(e.text, "2 of 4 GPUs")) << e.text;
  EXPECT_TRUE(has(e.hint, "nvidia.com/gpumem")) << e.hint;
  e = explain("CardTypeMismatch");
  EXPECT_TRUE(has(e.hint, "nvidia.com/use-gputype")) << e.hint;
  EXPECT_TRUE(has(e.hint, "nvidia.com/nouse-gputype")) << e.hint;
  EXPECT_TRUE(has(explain("CardUuidMismatch").hint, "nvidia.com/use-gpuuuid"));
  EXPECT_TRUE(has(explain("CardMigModeNotRequested").hint, "nvidia.com/vgpu-mode: mig"));
  EXPECT_TRUE(has(explain("CardMigTopologyInfeasible").text, "MIG"));
  EXPECT_TRUE(has(explain("ResourceQuotaNotFit").hint, "ResourceQuota"));
  EXPECT_TRUE(has(explain("ResourceQuotaNotFit").hint, "limits.nvidia.com/gpumem"));
  EXPECT_TRUE(has(explain("CardInsufficientCore").text, "30%"));
  EXPECT_TRUE(has(explain("CardInsufficientCore").hint, "nvidia.com/gpucores"));
  EXPECT_TRUE(has(explain("CardComputeUnitsExhausted").hint, "nvidia.com/gpucores"));
  EXPECT_TRUE(has(explain("ExclusiveDeviceAllocateConflict").hint, "below 100"));
  EXPECT_TRUE(has(explain("CardNotHealth").text, "unhealthy"));
  EXPECT_TRUE(has(explain("CardCordoned").text, "hami.io/device-cordon"));
  EXPECT_TRUE(has(explain("CardTimeSlicingExhausted").hint, "deviceSplitCount"));
  EXPECT_TRUE(has(explain("NodeInsufficientDevice").text, "the 2 asked"));
  EXPECT_TRUE(has(explain("NodeInsufficientDevice").hint, "nvidia.com/gpu"));
  EXPECT_TRUE(has(explain("AllocatedCardsInsufficientRequest").hint, "nvidia.com/gpu"));
  EXPECT_TRUE(has(explain("NumaNotFit").text, "NUMA"));
  EXPECT_TRUE(has(explain("NodeUnregistered").text, "device plugin"));
  EXPECT_TRUE(has(explain("InsufficientHostResources").text, "CPU or memory"));
  EXPECT_TRUE(has(ExplainReason({"Unknown", 1, 0, "strange"}, c).text, "strange"));
  ReasonContext pct = c;
  pct.memory_mib = 0;
  pct.memory_percent = 40;
  EXPECT_TRUE(has(ExplainReason({"CardInsufficientMemory", 1, 2, ""}, pct).text, "40%"));
}

class UiApiTest : public ::testing::Test {
 protected:
  std::vector<policy::NodeState> Nodes() const {
    return cluster_.ledger_.Snapshot(cluster_.ledger_.NodeNames(), nullptr);
  }
  std::vector<PodAllocation> Pods() const { return cluster_.ledger_.Pods(); }
  std::vector<DecisionPtr> Pending() const {
    return PendingDecisions(cluster_.decisions_.LatestPerPod(), Pods());
  }

  testing::UiCluster cluster_;
};

TEST_F(UiApiTest, TheFilterPathRecordedBothPendingPods) {
  auto big = cluster_.decisions_.Latest("team-a", "big");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->uid, "uid-big");
  EXPECT_EQ(big->vendor, "NVIDIA");
  EXPECT_EQ(big->at_unix_seconds, 1700000200);
  EXPECT_EQ(big->nodes_evaluated, 3);
  EXPECT_TRUE(big->feasible.empty());
  ASSERT_EQ(big->request.size(), 1u);
  EXPECT_EQ(big->request[0].memory_mib, 50000);
  EXPECT_EQ(big->failed_nodes.at("node-3"), kNodeUnregistered);
  EXPECT_EQ(Pending().size(), 2u);
}

TEST_F(UiApiTest, Summary) {
  const auto nodes = Nodes();
  const auto pods = Pods();
  const std::string vendor = MainVendor(nodes);
  EXPECT_EQ(vendor, "NVIDIA");
  const auto fits = CountFits(nodes, vendor, CommonFitShapes(pods, vendor, 2));
  LiveUsage usage;
  usage.configured = true;
  usage.ok = true;
  usage.by_uuid["GPU-1a"] = {9000, 70};
  usage.by_uuid["GPU-2a"] = {100, 1};
  SummaryInputs in;
  in.version = "0.1.0";
  in.now_unix_seconds = 1700000300;
  in.synced = true;
  in.leader = true;
  in.nodes = nodes;
  in.pods = pods;
  in.pending_pods = Pending().size();
  in.usage = &usage;
  in.fits = fits;
  const json s = SummaryJson(in);
  EXPECT_EQ(s["version"], "0.1.0");
  EXPECT_EQ(s["generatedAt"], 1700000300);
  EXPECT_EQ(s["prometheus"], json({{"configured", true}, {"ok", true}}));
  ASSERT_EQ(s["groups"].size(), 2u);
  EXPECT_EQ(s["groups"][0], json({{"vendor", "NVIDIA"},
                                  {"type", "NVIDIA-A100"},
                                  {"devices", 1},
                                  {"memoryMiB", 40960},
                                  {"memoryAllocatedMiB", 0},
                                  {"memoryUsedMiB", 100},
                                  {"cores", 100},
                                  {"coresAllocated", 0},
                                  {"tasks", 0}}));
  EXPECT_EQ(s["groups"][1], json({{"vendor", "NVIDIA"},
                                  {"type", "NVIDIA-Tesla T4"},
                                  {"devices", 3},
                                  {"memoryMiB", 3 * 16384},
                                  {"memoryAllocatedMiB", 16000},
                                  {"memoryUsedMiB", 9000},
                                  {"cores", 300},
                                  {"coresAllocated", 100},
                                  {"tasks", 3}}));
  EXPECT_EQ(s["fragmentation"]["devicesIdle"], 2);
  EXPECT_EQ(s["fragmentation"]["devicesPartial"], 2);
  EXPECT_EQ(s["fragmentation"]["devicesFull"], 0);
  std::map<std::string, int64_t> by_label;
  for (const json& f : s["fragmentation"]["fits"]) by_label[f["label"]] = f["pods"];
  // Whole GPUs: only the idle healthy A100; two on one node: none.
  EXPECT_EQ(by_label.at("1 whole GPU"), 1);
  EXPECT_EQ(by_label.at("2 whole GPUs"), 0);
  // Half (50% memory, 50 cores): one on GPU-1b, two on the A100.
  EXPECT_EQ(by_label.at("1 GPU, 50% memory, 50%"), 3);
  // A quarter: 1 on GPU-1a (4384 MiB, 25 cores left), 3 on GPU-1b, 4 on the A100.
  EXPECT_EQ(by_label.at("1 GPU, 25% memory, 25%"), 8);
  // The shapes seen: train's (1 GPU, 8000 MiB, 50%) and infer's (2 GPUs, 4000 MiB, 25%).
  EXPECT_EQ(by_label.at("1 GPU, 8000 MiB, 50%"), 3);
  EXPECT_EQ(by_label.at("2 GPUs, 4000 MiB, 25%"), 1);
  EXPECT_EQ(s["fragmentation"]["fits"][0], json({{"label", "1 whole GPU"},
                                                 {"count", 1},
                                                 {"memoryMiB", 0},
                                                 {"memoryPercent", 100},
                                                 {"cores", 100},
                                                 {"pods", 1}}));
  EXPECT_EQ(s["pods"], json({{"allocated", 2}, {"pending", 2}}));

  // Without Prometheus: used is null and the error is carried when it failed.
  in.usage = nullptr;
  json none = SummaryJson(in);
  EXPECT_TRUE(none["groups"][0]["memoryUsedMiB"].is_null());
  EXPECT_EQ(none["prometheus"], json({{"configured", false}, {"ok", false}}));
  LiveUsage down;
  down.configured = true;
  down.error = "prometheus: connection refused";
  in.usage = &down;
  json failed = SummaryJson(in);
  EXPECT_EQ(failed["prometheus"]["error"], "prometheus: connection refused");
  EXPECT_TRUE(failed["groups"][1]["memoryUsedMiB"].is_null());
}

TEST_F(UiApiTest, Nodes) {
  const json j = NodesJson(Nodes(), Pods(), cluster_.ledger_.LockedNodes());
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0], json({{"name", "node-1"},
                                 {"vendors", {"NVIDIA"}},
                                 {"devices", 2},
                                 {"memoryMiB", 32768},
                                 {"memoryAllocatedMiB", 16000},
                                 {"cores", 200},
                                 {"coresAllocated", 100},
                                 {"tasks", 3},
                                 {"pods", 2},
                                 {"locked", true},
                                 {"unhealthyDevices", 0}}));
  EXPECT_EQ(j["nodes"][1]["locked"], false);
  EXPECT_EQ(j["nodes"][1]["unhealthyDevices"], 1);
  EXPECT_EQ(j["nodes"][1]["pods"], 0);
}

TEST_F(UiApiTest, OneNodeWithItsCardsSplitByPod) {
  LiveUsage usage;
  usage.configured = usage.ok = true;
  usage.by_uuid["GPU-1b"] = {3500, 42.5};
  auto j = NodeJson("node-1", Nodes(), Pods(), &usage);
  ASSERT_TRUE(j.ok());
  ASSERT_EQ((*j)["devices"].size(), 2u);
  const json& a = (*j)["devices"][0];
  EXPECT_EQ(a["uuid"], "GPU-1a");
  EXPECT_EQ(a["type"], "NVIDIA-Tesla T4");
  EXPECT_EQ(a["mode"], "hami-core");
  EXPECT_EQ(a["memoryAllocatedMiB"], 12000);
  EXPECT_EQ(a["coresAllocated"], 75);
  EXPECT_EQ(a["split"], 10);
  EXPECT_EQ(a["tasks"], 2);
  EXPECT_TRUE(a["usage"].is_null());
  ASSERT_EQ(a["pods"].size(), 2u);
  std::set<std::string> names;
  for (const json& p : a["pods"])
    names.insert(p["namespace"].get<std::string>() + "/" + p["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"default/train", "team-a/infer"}));
  const json& b = (*j)["devices"][1];
  EXPECT_EQ(b["usage"], json({{"memoryUsedMiB", 3500}, {"smUtil", 42.5}}));
  EXPECT_EQ(b["pods"], json::array({{{"namespace", "team-a"},
                                     {"name", "infer"},
                                     {"uid", "uid-infer"},
                                     {"container", 0},
                                     {"memoryMiB", 4000},
                                     {"cores", 25}}}));
  auto missing = NodeJson("node-9", Nodes(), Pods(), nullptr);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(UiApiTest, PodsWithFilters) {
  auto q = ParsePodsQuery({});
  ASSERT_TRUE(q.ok());
  json all = PodsJson(*q, Pods(), Pending());
  ASSERT_EQ(all["pods"].size(), 4u);
  EXPECT_EQ(all["truncated"], false);
  // Pending first (newest decision first), then allocated by namespace/name.
  EXPECT_EQ(all["pods"][0]["name"], "typed");
  EXPECT_EQ(all["pods"][0]["state"], "pending");
  EXPECT_TRUE(all["pods"][0]["node"].is_null());
  EXPECT_EQ(all["pods"][1]["name"], "big");
  EXPECT_EQ(all["pods"][1]["reason"], "no node fits (3 of 3 nodes refused)");
  EXPECT_EQ(all["pods"][2],
            json({{"namespace", "default"},
                  {"name", "train"},
                  {"uid", "uid-train"},
                  {"node", "node-1"},
                  {"state", "allocated"},
                  {"vendor", "NVIDIA"},
                  {"decidedAt", 1700000000},
                  {"devices",
                   {{{"container", 0}, {"uuid", "GPU-1a"}, {"memoryMiB", 8000}, {"cores", 50}}}}}));
  EXPECT_TRUE(all["pods"][3]["decidedAt"].is_null());
  EXPECT_EQ(all["pods"][3]["devices"].size(), 2u);

  auto only = [&](std::map<std::string, std::string> params) {
    auto parsed = ParsePodsQuery(params);
    EXPECT_TRUE(parsed.ok()) << parsed.status().message();
    std::vector<std::string> out;
    json j = PodsJson(*parsed, Pods(), Pending());
    for (const json& p : j["pods"]) out.push_back(p["name"]);
    return out;
  };
  EXPECT_EQ(only({{"namespace", "team-a"}}), (std::vector<std::string>{"big", "infer"}));
  EXPECT_EQ(only({{"state", "allocated"}}), (std::vector<std::string>{"train", "infer"}));
  EXPECT_EQ(only({{"state", "pending"}, {"namespace", "team-b"}}),
            (std::vector<std::string>{"typed"}));
  EXPECT_TRUE(only({{"vendor", "Hygon"}}).empty());
  EXPECT_EQ(only({{"vendor", "NVIDIA"}}).size(), 4u);
  auto limited = ParsePodsQuery({{"limit", "3"}});
  json j = PodsJson(*limited, Pods(), Pending());
  EXPECT_EQ(j["pods"].size(), 3u);
  EXPECT_EQ(j["truncated"], true);

  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"state", "running"},
                                                        {"limit", "0"},
                                                        {"limit", "x"},
                                                        {"limit", "10001"},
                                                        {"limit", "5x"},
                                                        {"sort", "name"}}) {
    auto bad = ParsePodsQuery({{key, value}});
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << key << "=" << value;
  }
}

TEST_F(UiApiTest, DiagnosisOfAPodThatFitsNowhere) {
  auto j = DiagnosisJson("team-a", "big", cluster_.ledger_.PodsInNamespace("team-a"),
                         cluster_.decisions_.Latest("team-a", "big").get(), cluster_.registry_);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["state"], "pending");
  EXPECT_EQ((*j)["uid"], "uid-big");
  EXPECT_EQ((*j)["request"], json::array({{{"container", 0},
                                           {"vendor", "NVIDIA"},
                                           {"count", 1},
                                           {"memoryMiB", 50000},
                                           {"memoryPercent", nullptr},
                                           {"cores", 0}}}));
  const json& f = (*j)["lastFilter"];
  EXPECT_EQ(f["at"], 1700000200);
  EXPECT_EQ(f["nodesEvaluated"], 3);
  EXPECT_EQ(f["feasibleNodes"], json::array());
  EXPECT_FALSE(f.contains("error"));
  std::map<std::string, json> by_node;
  for (const json& n : f["nodes"]) by_node[n["node"]] = n["reasons"];
  ASSERT_EQ(by_node.size(), 3u);
  EXPECT_EQ(by_node["node-1"].size(), 1u);
  EXPECT_EQ(by_node["node-1"][0]["code"], "CardInsufficientMemory");
  EXPECT_EQ(by_node["node-1"][0]["count"], 2);
  EXPECT_NE(by_node["node-1"][0]["text"].get<std::string>().find("50000 MiB free"),
            std::string::npos);
  EXPECT_NE(by_node["node-1"][0]["hint"].get<std::string>().find("nvidia.com/gpumem"),
            std::string::npos);
  std::set<std::string> node2;
  for (const json& r : by_node["node-2"]) node2.insert(r["code"]);
  EXPECT_EQ(node2, (std::set<std::string>{"CardInsufficientMemory", "CardNotHealth"}));
  EXPECT_EQ(by_node["node-3"][0]["code"], "NodeUnregistered");
  const std::string summary = (*j)["summary"];
  EXPECT_NE(summary.find("on 2 of 3 nodes no GPU on this node has 50000 MiB free"),
            std::string::npos)
      << summary;
}

TEST_F(UiApiTest, DiagnosisNamesTheTypeAnnotation) {
  auto j = DiagnosisJson("team-b", "typed", {}, cluster_.decisions_.Latest("team-b", "typed").get(),
                         cluster_.registry_);
  ASSERT_TRUE(j.ok());
  ASSERT_EQ((*j)["lastFilter"]["nodes"].size(), 2u);
  for (const json& n : (*j)["lastFilter"]["nodes"]) {
    std::set<std::string> codes;
    for (const json& r : n["reasons"]) codes.insert(r["code"]);
    // node-2's unhealthy T4 says so before its type is checked.
    const std::set<std::string> want =
        n["node"] == "node-1" ? std::set<std::string>{"CardTypeMismatch"}
                              : std::set<std::string>{"CardNotHealth", "CardTypeMismatch"};
    EXPECT_EQ(codes, want);
  }
  EXPECT_NE((*j)["summary"].get<std::string>().find("nvidia.com/use-gputype"), std::string::npos);
}

TEST_F(UiApiTest, DiagnosisOfAnAllocatedPodAndOfAnUnknownOne) {
  auto j = DiagnosisJson("team-a", "infer", cluster_.ledger_.PodsInNamespace("team-a"), nullptr,
                         cluster_.registry_);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["state"], "allocated");
  EXPECT_TRUE((*j)["lastFilter"].is_null());
  EXPECT_EQ((*j)["request"][0]["count"], 2);
  EXPECT_EQ((*j)["request"][0]["memoryMiB"], 4000);
  EXPECT_EQ((*j)["summary"], "Allocated on node node-1 (2 devices).");
  auto missing = DiagnosisJson("team-a", "ghost", cluster_.ledger_.PodsInNamespace("team-a"),
                               nullptr, cluster_.registry_);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  // A filter error is the summary.
  DecisionRecord errored = Rec("uid-e", "team-c", "broken", 5);
  errored.error = "pod team-c/broken asks for devices of several vendors";
  auto e = DiagnosisJson("team-c", "broken", {}, &errored, cluster_.registry_);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)["lastFilter"]["error"], errored.error);
  EXPECT_EQ((*e)["summary"], "The last /filter failed: " + errored.error + ".");
}

TEST(UiApiPureTest, QuotasAndUsage) {
  std::vector<QuotaStatus> rows(2);
  rows[0].ns = "team-a";
  rows[0].resource = "nvidia.com/gpumem";
  rows[0].used = 8000;
  rows[0].limit = QuotaLimit{"gpu", 5};
  rows[1].ns = "team-b";
  rows[1].resource = "nvidia.com/gpucores";
  rows[1].used = 30;  // no limit: not listed
  EXPECT_EQ(QuotasJson(rows, {{"nvidia.com/gpumem", 2048}}),
            json({{"quotas",
                   {{{"namespace", "team-a"},
                     {"resource", "nvidia.com/gpumem"},
                     {"limit", 10240},
                     {"used", 8000}}}}}));
  EXPECT_EQ(QuotasJson({}, {}), json({{"quotas", json::array()}}));

  UsageHistory h;
  h.available = true;
  h.series.push_back({"memoryMiB", {{100, 2048.0}, {115, 4096.0}}});
  EXPECT_EQ(
      UsageJson(h),
      json({{"available", true},
            {"series", {{{"name", "memoryMiB"}, {"points", {{100, 2048.0}, {115, 4096.0}}}}}}}));
  UsageHistory none;
  none.reason = "no Prometheus";
  EXPECT_EQ(UsageJson(none),
            json({{"available", false}, {"reason", "no Prometheus"}, {"series", json::array()}}));
  EXPECT_EQ(ErrorBody("x \"y\""), R"({"error":"x \"y\""})");
}

}  // namespace
}  // namespace hami::scheduler
