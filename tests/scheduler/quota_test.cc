// The pure ResourceQuota accounting of scheduler/quota.h: parsing, per-pod usage, the request's
// least demand, the check, and the tracker's view per namespace.
#include "scheduler/quota.h"

#include <gtest/gtest.h>

#include "device/config.h"
#include "tests/policy/test_util.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

const std::vector<std::string> kManaged = {"nvidia.com/gpumem", "nvidia.com/gpucores"};

nlohmann::json Quota(const std::string& ns, const std::string& name, nlohmann::json hard) {
  return {{"kind", "ResourceQuota"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", {{"hard", std::move(hard)}}}};
}

ContainerDevice Use(const std::string& uuid, int32_t mem, int32_t cores) {
  return {uuid, "NVIDIA", mem, cores, {}, {}};
}

using policy::testing::Req;

VendorRegistry DefaultRegistry() { return std::move(*MakeVendorRegistry(DefaultDeviceConfig())); }

struct ParseCase {
  std::string name;
  nlohmann::json hard;
  std::map<std::string, int64_t> want;
  size_t warnings = 0;
  std::string warning_has;
};

TEST(ParseResourceQuotaTest, Table) {
  const std::vector<ParseCase> cases = {
      {"both keys",
       {{"limits.nvidia.com/gpumem", "8000"}, {"limits.nvidia.com/gpucores", "200"}},
       {{"nvidia.com/gpumem", 8000}, {"nvidia.com/gpucores", 200}}},
      {"suffixes as Kubernetes quantities",
       {{"limits.nvidia.com/gpumem", "4k"}},
       {{"nvidia.com/gpumem", 4000}}},
      {"explicit zero is kept",
       {{"limits.nvidia.com/gpucores", "0"}},
       {{"nvidia.com/gpucores", 0}}},
      {"requests. prefix is not ours", {{"requests.nvidia.com/gpumem", "10"}}, {}},
      {"bare resource name is not ours", {{"nvidia.com/gpumem", "10"}}, {}},
      {"other resources are ignored", {{"limits.cpu", "4"}, {"limits.memory", "8Gi"}}, {}},
      {"malformed value: key ignored, warned",
       {{"limits.nvidia.com/gpumem", "lots"}, {"limits.nvidia.com/gpucores", "50"}},
       {{"nvidia.com/gpucores", 50}},
       1,
       "limits.nvidia.com/gpumem"},
      {"fraction: key ignored", {{"limits.nvidia.com/gpumem", "1.5"}}, {}, 1, "ignored"},
      {"negative: key ignored", {{"limits.nvidia.com/gpucores", "-5"}}, {}, 1, "negative"},
      {"number instead of string still reads",
       {{"limits.nvidia.com/gpumem", 300}},
       {{"nvidia.com/gpumem", 300}}},
  };
  for (const ParseCase& c : cases) {
    std::vector<std::string> warnings;
    auto parsed = ParseResourceQuota(Quota("team", "q", c.hard), kManaged, &warnings);
    ASSERT_TRUE(parsed.ok()) << c.name;
    EXPECT_EQ(parsed->ns, "team") << c.name;
    EXPECT_EQ(parsed->name, "q") << c.name;
    EXPECT_EQ(parsed->limits, c.want) << c.name;
    ASSERT_EQ(warnings.size(), c.warnings) << c.name;
    if (!c.warning_has.empty()) {
      EXPECT_NE(warnings[0].find(c.warning_has), std::string::npos)
          << c.name << ": " << warnings[0];
      EXPECT_NE(warnings[0].find("resourcequota=team/q"), std::string::npos) << warnings[0];
    }
  }
}

TEST(ParseResourceQuotaTest, NoSpecOrWrongTypesAreEmptyNotErrors) {
  for (const nlohmann::json& spec : {nlohmann::json(nullptr), nlohmann::json("x"),
                                     nlohmann::json{{"hard", 3}}, nlohmann::json::object()}) {
    nlohmann::json q = Quota("ns", "q", nullptr);
    q["spec"] = spec;
    auto parsed = ParseResourceQuota(q, kManaged, nullptr);
    ASSERT_TRUE(parsed.ok());
    EXPECT_TRUE(parsed->limits.empty());
  }
  EXPECT_FALSE(ParseResourceQuota({{"metadata", {{"name", "q"}}}}, kManaged, nullptr).ok());
  EXPECT_FALSE(ParseResourceQuota(nlohmann::json::array(), kManaged, nullptr).ok());
}

struct UsageCase {
  std::string name;
  PodDevices devices;
  int init = 0;
  int64_t mem = 0, cores = 0;
};

TEST(PodQuotaUsageTest, Table) {
  const std::vector<UsageCase> cases = {
      {"one GPU", {{Use("g0", 3000, 30)}}, 0, 3000, 30},
      {"per-GPU value x GPU count", {{Use("g0", 3000, 30), Use("g1", 3000, 30)}}, 0, 6000, 60},
      {"app containers add up", {{Use("g0", 1000, 10)}, {Use("g0", 2000, 20)}}, 0, 3000, 30},
      {"init peak vs app sum on the same GPU: the larger",
       {{Use("g0", 5000, 10)}, {Use("g0", 1000, 40)}, {Use("g0", 1000, 40)}},
       1,
       5000,
       80},
      {"init containers on different GPUs than the app: both count",
       {{Use("g1", 4000, 50)}, {Use("g0", 1000, 10)}},
       1,
       5000,
       60},
      {"init containers run one at a time: peak, not sum",
       {{Use("g0", 4000, 50)}, {Use("g0", 3000, 60)}, {}},
       2,
       4000,
       60},
      {"no devices", {{}}, 0, 0, 0},
  };
  const VendorRegistry registry = DefaultRegistry();
  for (const UsageCase& c : cases) {
    PodAllocation pod = testing::Allocation("u", "n", c.devices, c.init);
    const QuotaAmounts got = PodQuotaUsage(registry, pod);
    QuotaAmounts want;
    if (c.mem > 0) want["nvidia.com/gpumem"] = c.mem;
    if (c.cores > 0) want["nvidia.com/gpucores"] = c.cores;
    EXPECT_EQ(got, want) << c.name;
  }
}

TEST(PodQuotaUsageTest, UnknownVendorCountsNothing) {
  const VendorRegistry registry = DefaultRegistry();
  PodAllocation pod = testing::Allocation("u", "n", {{Use("g0", 3000, 30)}});
  pod.by_vendor["Other"] = pod.by_vendor["NVIDIA"];
  pod.by_vendor.erase("NVIDIA");
  EXPECT_TRUE(PodQuotaUsage(registry, pod).empty());
}

struct BoundCase {
  std::string name;
  std::vector<ContainerDeviceRequest> containers;
  int init = 0;
  int64_t smallest = 0;
  bool cores_known = true;
  int64_t mem = 0, cores = 0;
};

TEST(RequestQuotaLowerBoundTest, Table) {
  const std::vector<BoundCase> cases = {
      {"count x per-GPU", {Req(2, 3000, 30)}, 0, 0, true, 6000, 60},
      {"apps add up", {Req(1, 1000, 10), Req(1, 2000, 20)}, 0, 0, true, 3000, 30},
      {"init peak vs app sum", {Req(1, 5000, 5), Req(1, 1000, 20)}, 1, 0, true, 5000, 20},
      {"percentage unknown without a device", {Req(1, 0, 10, 50)}, 0, 0, true, 0, 10},
      {"percentage of the smallest device", {Req(2, 0, 10, 50)}, 0, 16000, true, 16000, 20},
      {"cores clamped to 100", {Req(1, 100, 250)}, 0, 0, true, 100, 100},
      {"cores unknown on MIG nodes", {Req(1, 100, 50)}, 0, 0, false, 100, 0},
      {"containers without devices count nothing", {Req(0, 5000, 50)}, 0, 0, true, 0, 0},
  };
  VendorResourceNames names;
  names.memory = "nvidia.com/gpumem";
  names.cores = "nvidia.com/gpucores";
  for (const BoundCase& c : cases) {
    QuotaAmounts want;
    if (c.mem > 0) want["nvidia.com/gpumem"] = c.mem;
    if (c.cores > 0) want["nvidia.com/gpucores"] = c.cores;
    EXPECT_EQ(RequestQuotaLowerBound(names, c.containers, c.init, c.smallest, c.cores_known), want)
        << c.name;
  }
}

struct CheckCase {
  std::string name;
  std::vector<ResourceQuotaLimits> quotas;
  QuotaAmounts used, requested;
  std::optional<std::string> violated_quota;  // nullopt = fits
  int64_t factor = 1;
};

TEST(CheckQuotasTest, Table) {
  auto q = [](const std::string& name, std::map<std::string, int64_t> limits) {
    return ResourceQuotaLimits{"ns", name, std::move(limits)};
  };
  const std::string mem = "nvidia.com/gpumem", cores = "nvidia.com/gpucores";
  const std::vector<CheckCase> cases = {
      {"fits exactly", {q("a", {{mem, 4000}})}, {{mem, 3000}}, {{mem, 1000}}, std::nullopt},
      {"one over", {q("a", {{mem, 4000}})}, {{mem, 3000}}, {{mem, 1001}}, "a"},
      {"request alone over", {q("a", {{mem, 4000}})}, {}, {{mem, 5000}}, "a"},
      {"smallest of several quotas binds",
       {q("big", {{mem, 9000}}), q("small", {{mem, 2000}})},
       {},
       {{mem, 3000}},
       "small"},
      {"smallest reported when both are exceeded",
       {q("a", {{mem, 2500}}), q("b", {{mem, 2000}})},
       {},
       {{mem, 3000}},
       "b"},
      {"explicit zero blocks", {q("z", {{cores, 0}})}, {}, {{cores, 1}}, "z"},
      {"explicit zero does not block a pod not asking the resource",
       {q("z", {{cores, 0}})},
       {},
       {{mem, 1000}},
       std::nullopt},
      {"usage already over does not block a pod not asking the resource",
       {q("a", {{mem, 1000}})},
       {{mem, 5000}},
       {{cores, 10}},
       std::nullopt},
      {"no limit on the resource", {q("a", {{cores, 10}})}, {}, {{mem, 99999}}, std::nullopt},
      {"memoryFactor scales the limit",
       {q("a", {{mem, 1000}})},
       {},
       {{mem, 4000}},
       std::nullopt,
       4},
      {"memoryFactor scales the limit (over)", {q("a", {{mem, 1000}})}, {}, {{mem, 4001}}, "a", 4},
  };
  for (const CheckCase& c : cases) {
    const std::map<std::string, int64_t> factors = {{mem, c.factor}};
    auto v = CheckQuotas("ns", c.quotas, factors, c.used, c.requested);
    ASSERT_EQ(v.has_value(), c.violated_quota.has_value()) << c.name;
    if (v) EXPECT_EQ(v->quota_name, *c.violated_quota) << c.name;
  }
}

TEST(CheckQuotasTest, MessageNamesKeyNamespaceAndNumbers) {
  const ResourceQuotaLimits q{"team-a", "gpu", {{"nvidia.com/gpumem", 4000}}};
  auto v = CheckQuotas("team-a", std::span(&q, 1), {}, {{"nvidia.com/gpumem", 3000}},
                       {{"nvidia.com/gpumem", 2000}});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->Message(),
            "exceeding resource quota: limits.nvidia.com/gpumem in namespace team-a: used 3000 + "
            "requested 2000 > limit 4000 (ResourceQuota gpu)");
}

TEST(QuotaTrackerTest, ManagedKeysComeFromTheDeviceConfig) {
  DeviceConfig config = DefaultDeviceConfig();
  config.nvidia->resource_memory_name = "example.com/vmem";
  config.nvidia->resource_core_name = "example.com/vcores";
  config.nvidia->memory_factor = 2;
  const VendorRegistry registry = std::move(*MakeVendorRegistry(config));
  QuotaTracker tracker(registry);
  EXPECT_EQ(tracker.managed(),
            (std::vector<std::string>{"example.com/vmem", "example.com/vcores"}));
  EXPECT_EQ(tracker.factors().at("example.com/vmem"), 2);
  auto applied = tracker.Apply(
      Quota("ns", "q", {{"limits.example.com/vmem", "100"}, {"limits.nvidia.com/gpumem", "1"}}));
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(tracker.Limits("ns").at("example.com/vmem").limit, 100);
  EXPECT_EQ(tracker.Limits("ns").count("nvidia.com/gpumem"), 0u);
}

TEST(QuotaTrackerTest, ApplyReplaceRemoveAndSmallestLimit) {
  const VendorRegistry registry = DefaultRegistry();
  QuotaTracker tracker(registry);
  ASSERT_TRUE(tracker.Apply(Quota("ns", "a", {{"limits.nvidia.com/gpumem", "8000"}})).ok());
  ASSERT_TRUE(tracker
                  .Apply(Quota("ns", "b",
                               {{"limits.nvidia.com/gpumem", "6000"},
                                {"limits.nvidia.com/gpucores", "100"}}))
                  .ok());
  ASSERT_TRUE(tracker.Apply(Quota("other", "cpu", {{"limits.cpu", "4"}})).ok());
  EXPECT_FALSE(tracker.HasQuotas("other"));  // nothing of ours
  auto limits = tracker.Limits("ns");
  EXPECT_EQ(limits.at("nvidia.com/gpumem").limit, 6000);
  EXPECT_EQ(limits.at("nvidia.com/gpumem").quota_name, "b");
  EXPECT_EQ(limits.at("nvidia.com/gpucores").limit, 100);
  // An update that drops our keys forgets the quota.
  ASSERT_TRUE(tracker.Apply(Quota("ns", "b", {{"limits.cpu", "4"}})).ok());
  EXPECT_EQ(tracker.Limits("ns").at("nvidia.com/gpumem").limit, 8000);
  EXPECT_EQ(tracker.Limits("ns").count("nvidia.com/gpucores"), 0u);
  tracker.Remove(Quota("ns", "a", nullptr));
  EXPECT_FALSE(tracker.HasQuotas("ns"));
  // Malformed keys are reported and skipped.
  auto warned = tracker.Apply(Quota("ns", "bad", {{"limits.nvidia.com/gpumem", "x"}}));
  ASSERT_TRUE(warned.ok());
  EXPECT_EQ(warned->size(), 1u);
  EXPECT_FALSE(tracker.HasQuotas("ns"));
  EXPECT_FALSE(tracker.Apply(nlohmann::json::object()).ok());
}

TEST(QuotaTrackerTest, UsageAndCheckCountUnwrittenDecisionsOfTheNamespaceOnly) {
  const VendorRegistry registry = DefaultRegistry();
  QuotaTracker tracker(registry);
  UsageLedger ledger;
  PodAllocation bound = testing::Allocation("b", "n", {{Use("g0", 3000, 30)}});
  PodAllocation decided = testing::Allocation("d", "n", {{Use("g1", 2000, 20)}});
  decided.decision_written = false;
  PodAllocation elsewhere = testing::Allocation("e", "n", {{Use("g1", 9000, 90)}});
  elsewhere.ns = "other";
  for (PodAllocation p : {bound, decided, elsewhere}) ledger.AddPod(std::move(p));
  EXPECT_EQ(tracker.Usage(ledger, "default"),
            (QuotaAmounts{{"nvidia.com/gpumem", 5000}, {"nvidia.com/gpucores", 50}}));
  EXPECT_FALSE(tracker.Check(ledger, "default", {{"nvidia.com/gpumem", 99999}}).has_value());
  ASSERT_TRUE(tracker.Apply(Quota("default", "q", {{"limits.nvidia.com/gpumem", "6000"}})).ok());
  EXPECT_FALSE(tracker.Check(ledger, "default", {{"nvidia.com/gpumem", 1000}}).has_value());
  auto v = tracker.Check(ledger, "default", {{"nvidia.com/gpumem", 1001}});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->used, 5000);
  EXPECT_EQ(v->requested, 1001);
  EXPECT_EQ(v->limit, 6000);
}

TEST(QuotaTrackerTest, StatusesListUsageWithAndWithoutQuotas) {
  const VendorRegistry registry = DefaultRegistry();
  QuotaTracker tracker(registry);
  ASSERT_TRUE(tracker.Apply(Quota("a", "q", {{"limits.nvidia.com/gpumem", "8000"}})).ok());
  ASSERT_TRUE(tracker.Apply(Quota("idle", "q", {{"limits.nvidia.com/gpucores", "0"}})).ok());
  PodAllocation pa = testing::Allocation("1", "n", {{Use("g0", 3000, 30)}});
  pa.ns = "a";
  PodAllocation pb = testing::Allocation("2", "n", {{Use("g0", 1000, 10)}});
  pb.ns = "b";
  const std::vector<QuotaStatus> rows = tracker.Statuses({pa, pb});
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].ns, "a");
  EXPECT_EQ(rows[0].resource, "nvidia.com/gpucores");
  EXPECT_EQ(rows[0].used, 30);
  EXPECT_FALSE(rows[0].limit.has_value());
  EXPECT_EQ(rows[1].resource, "nvidia.com/gpumem");
  EXPECT_EQ(rows[1].used, 3000);
  ASSERT_TRUE(rows[1].limit.has_value());
  EXPECT_EQ(rows[1].limit->limit, 8000);
  EXPECT_EQ(rows[2].ns, "b");
  EXPECT_EQ(rows[4].ns, "idle");
  EXPECT_EQ(rows[4].used, 0);
  ASSERT_TRUE(rows[4].limit.has_value());
  EXPECT_EQ(rows[4].limit->limit, 0);
}

}  // namespace
}  // namespace hami::scheduler
