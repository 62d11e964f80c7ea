// Mixed-vendor clusters in `hami simulate`: the vendor columns of the node and pod lists, the
// per-vendor report, and replays of clusters with several vendors on both paths (direct and
// through FilterCore): every pod lands on its own vendor's devices, pods of a vendor without
// nodes stay unplaced, no device or host is over-committed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "sim/extender_replay.h"
#include "sim/replay.h"
#include "sim/report.h"
#include "sim/trace.h"
#include "sim/vendor_pods.h"

namespace hami::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Result<Cluster> Nodes(const std::string& text) {
  std::istringstream in(text);
  return ParseOpenbNodes(in, "nodes.csv");
}

Result<Workload> Pods(const std::string& text) {
  std::istringstream in(text);
  return ParseOpenbPods(in, "pods.csv");
}

constexpr char kVendorNodeHeader[] = "sn,cpu_milli,memory_mib,gpu,model,vendor\n";
constexpr char kVendorMemoryNodeHeader[] =
    "sn,cpu_milli,memory_mib,gpu,model,vendor,gpu_memory_mib\n";

TEST(MixedVendorTraceTest, NodeVendorAndMemoryColumns) {
  auto six = Nodes(std::string(kVendorNodeHeader) + "n0,64000,262144,2,T4,NVIDIA\n");
  ASSERT_TRUE(six.ok()) << six.status().message();
  EXPECT_EQ(six->nodes[0].vendor, "NVIDIA");
  EXPECT_EQ(six->nodes[0].gpu_memory_mib, 15360);

  auto seven = Nodes(std::string(kVendorMemoryNodeHeader) +
                     "n0,64000,262144,2,T4,NVIDIA,\n"            // empty: the table's size
                     "n1,64000,262144,4,Z100,DCU,32768\n"        // a model outside the table
                     "n2,32000,131072,8,MI100,AMD,32768\n"       //
                     "n3,32000,131072,1,V100M32,NVIDIA,32768\n"  // the table's size, given
                     "n4,32000,131072,0,none.1_x,AMD,1\n");      // no GPUs
  ASSERT_TRUE(seven.ok()) << seven.status().message();
  ASSERT_EQ(seven->nodes.size(), 5u);
  EXPECT_EQ(seven->nodes[0].gpu_memory_mib, 15360);
  EXPECT_EQ(seven->nodes[1].vendor, "DCU");
  EXPECT_EQ(seven->nodes[1].model, "Z100");
  EXPECT_EQ(seven->nodes[1].gpu_memory_mib, 32768);
  EXPECT_EQ(seven->nodes[2].vendor, "AMD");
  EXPECT_EQ(seven->nodes[3].gpu_memory_mib, 32768);
  EXPECT_EQ(seven->TotalGpuMilli(), 15000);

  // The openb header still means NVIDIA.
  auto five = Nodes("sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,G2\n");
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(five->nodes[0].vendor, "NVIDIA");
}

TEST(MixedVendorTraceTest, NodeRowErrorsNameLineAndValue) {
  struct Case {
    std::string row;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"n1,1,1,2,Z100,DCU,", "unknown GPU model \"Z100\""},
      {"n1,1,1,2,Z100,DCU,", "needs the gpu_memory_mib column"},
      {"n1,1,1,2,Z100,DCU,0", "gpu_memory_mib \"0\" out of range 1..10000000"},
      {"n1,1,1,2,Z100,DCU,-5", "gpu_memory_mib \"-5\" out of range"},
      {"n1,1,1,2,Z100,DCU,10000001", "gpu_memory_mib \"10000001\" out of range"},
      {"n1,1,1,2,Z100,DCU,32k", "gpu_memory_mib \"32k\" is not an integer"},
      {"n1,1,1,2,Z100,DCU,99999999999999999999", "gpu_memory_mib"},
      {"n1,1,1,2,T4,NVIDIA,16384", "gpu_memory_mib \"16384\" does not match model \"T4\""},
      {"n1,1,1,2,Z100,,32768", "vendor \"\" must be 1..63 characters"},
      {"n1,1,1,2,Z100," + std::string(64, 'a') + ",32768", "must be 1..63 characters"},
      {"n1,1,1,2,Z100,DC U,32768", "vendor \"DC U\" may hold only letters"},
      {"n1,1,1,2,Z100,DCU/2,32768", "vendor \"DCU/2\" may hold only letters"},
      {"n1,1,1,2,Z 100,DCU,32768", "model \"Z 100\" may hold only letters"},
      {"n1,1,1,2,,DCU,32768", "unknown GPU model \"\""},
      {"n1,1,1,2,Z100,DCU", "expected 7 fields, got 6"},
      {"n1,1,1,2,Z100,DCU,1,2", "expected 7 fields, got 8"},
  };
  for (const Case& c : cases) {
    auto r = Nodes(std::string(kVendorMemoryNodeHeader) + "n0,1,1,1,T4,NVIDIA,\n" + c.row + "\n");
    ASSERT_FALSE(r.ok()) << c.row;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.row;
    EXPECT_THAT(r.status().message(), StartsWith("nodes.csv:3: ")) << c.row;
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.row;
  }
  // Without the memory column a model outside the table cannot be sized.
  auto r = Nodes(std::string(kVendorNodeHeader) + "n0,1,1,1,MI100,AMD\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), StartsWith("nodes.csv:2: model: unknown GPU model \"MI100\""));
  EXPECT_THAT(r.status().message(), HasSubstr("needs the gpu_memory_mib column"));
  auto bad_header = Nodes("sn,cpu_milli,memory_mib,gpu,model,vendr\nn0,1,1,1,T4,NVIDIA\n");
  ASSERT_FALSE(bad_header.ok());
  EXPECT_THAT(bad_header.status().message(), StartsWith("nodes.csv:1: "));
  EXPECT_THAT(bad_header.status().message(), HasSubstr("unknown column(s) \"vendr\""));
  auto gpu_memory_alone =
      Nodes("sn,cpu_milli,memory_mib,gpu,model,gpu_memory_mib\nn0,1,1,1,T4,1\n");
  ASSERT_FALSE(gpu_memory_alone.ok());
  EXPECT_THAT(gpu_memory_alone.status().message(), HasSubstr("\"gpu_memory_mib\""));
}

TEST(MixedVendorTraceTest, PodVendorColumnOnBothForms) {
  auto short_form = Pods(
      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,vendor\n"
      "a,1000,1024,1,500,DCU\n"
      "b,1000,1024,0,0,AMD\n");
  ASSERT_TRUE(short_form.ok()) << short_form.status().message();
  EXPECT_EQ(short_form->pods[0].vendor, "DCU");
  EXPECT_EQ(short_form->pods[0].gpu_milli, 500);
  EXPECT_EQ(short_form->pods[1].vendor, "AMD");
  auto long_form = Pods(
      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
      "deletion_time,scheduled_time,vendor\n"
      "a,1000,1024,2,1000,,LS,Running,1,2,3,Ascend910B3\n"
      "b,1000,1024,1,300,T4|P100,LS,Running,1,2,3,NVIDIA\n");
  ASSERT_TRUE(long_form.ok()) << long_form.status().message();
  EXPECT_EQ(long_form->pods[0].vendor, "Ascend910B3");
  EXPECT_EQ(long_form->pods[0].num_gpu, 2);
  EXPECT_EQ(long_form->pods[1].vendor, "NVIDIA");
  EXPECT_EQ(long_form->pods[1].gpu_spec, (std::vector<std::string>{"T4", "P100"}));
  auto openb = Pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1,1,1,100\n");
  ASSERT_TRUE(openb.ok());
  EXPECT_EQ(openb->pods[0].vendor, "NVIDIA");
}

TEST(MixedVendorTraceTest, PodVendorErrors) {
  struct Case {
    std::string row;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"p,1,1,1,500,", "vendor \"\" must be 1..63 characters"},
      {"p,1,1,1,500,A MD", "vendor \"A MD\" may hold only letters"},
      {"p,1,1,1,500,AMD,", "expected 6 fields, got 7"},
      {"p,1,1,1,500", "expected 6 fields, got 5"},
      {"p,1,1,1,500," + std::string(64, 'x'), "must be 1..63 characters"},
      {"p,1,1,1,1001,AMD", "gpu_milli \"1001\" out of range"},
  };
  for (const Case& c : cases) {
    auto r =
        Pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli,vendor\nok,1,1,1,1000,AMD\n" + c.row);
    ASSERT_FALSE(r.ok()) << c.row;
    EXPECT_THAT(r.status().message(), StartsWith("pods.csv:3: ")) << c.row;
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.row;
  }
  auto bad_header = Pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli,vendors\np,1,1,1,500,AMD\n");
  ASSERT_FALSE(bad_header.ok());
  EXPECT_THAT(bad_header.status().message(), HasSubstr("unknown column(s) \"vendors\""));
}

TEST(MixedVendorReplayTest, BuildNodesAndRequestsCarryTheVendor) {
  Cluster c;
  c.nodes.push_back(SimNode{"d", 32000, 65536, 2, "Z100", 32768, "DCU"});
  c.nodes.push_back(SimNode{"n", 32000, 65536, 1, "T4", 15360});
  auto nodes = BuildNodes(c, 10);
  ASSERT_EQ(nodes[0].devices.size(), 2u);
  EXPECT_EQ(nodes[0].devices[1].info.type, "DCU-Z100");
  EXPECT_EQ(nodes[0].devices[1].vendor, "DCU");
  EXPECT_EQ(nodes[0].devices[1].info.devmem_mib, 32768);
  EXPECT_EQ(nodes[1].devices[0].info.type, "NVIDIA-T4");
  EXPECT_EQ(nodes[1].devices[0].vendor, "NVIDIA");
  SimPod pod{"p", 1000, 1024, 1, 500, {"T4"}, "DCU"};
  policy::PodRequest request = ToPodRequest(pod);
  EXPECT_EQ(request.containers[0].type, "DCU");
  EXPECT_TRUE(request.selectors.use_types.empty()) << "gpu_spec is NVIDIA's type selector only";
  pod.vendor = "NVIDIA";
  EXPECT_EQ(ToPodRequest(pod).selectors.use_types, std::vector<std::string>{"T4"});
  const auto capacities = VendorCapacities(c);
  EXPECT_EQ(capacities, (std::vector<VendorAllocation>{{"DCU", 2000, 0}, {"NVIDIA", 1000, 0}}));
}

// Every pod placed by the wrapped policy is checked against the vendor of the devices it got.
struct VendorTally {
  std::map<std::string, int64_t> placed;  // pod vendor -> placements with devices
  int64_t mismatches = 0;
};

class VendorCheckingPolicy : public policy::PlacementPolicy {
 public:
  VendorCheckingPolicy(std::unique_ptr<policy::PlacementPolicy> inner, VendorTally* tally)
      : inner_(std::move(inner)), tally_(tally) {}
  std::string_view name() const override { return inner_->name(); }
  void Reseed(uint64_t seed) override { inner_->Reseed(seed); }
  void Observe(const policy::PodRequest& pod) override { inner_->Observe(pod); }
  policy::PlacementOutcome Place(const policy::PodRequest& pod, policy::NodeList nodes,
                                 bool collect_reasons) override {
    policy::PlacementOutcome out = inner_->Place(pod, nodes, collect_reasons);
    if (!out.placement || !pod.WantsDevices()) return out;
    const policy::NodeState& node = nodes[static_cast<size_t>(out.placement->node_index)];
    for (size_t c = 0; c < pod.containers.size(); ++c) {
      for (int index : out.placement->container_devices[c]) {
        if (node.devices[static_cast<size_t>(index)].vendor != pod.containers[c].type) {
          ++tally_->mismatches;
        }
      }
    }
    ++tally_->placed[pod.containers[0].type];
    return out;
  }

 private:
  std::unique_ptr<policy::PlacementPolicy> inner_;
  VendorTally* tally_;
};

// Per vendor: a few pods of each shape (sharing, whole, two GPUs, CPU only).
Workload VendorWorkload(const std::vector<std::string>& vendors) {
  Workload w;
  const int32_t milli[] = {300, 500, 700, 1000, 1000, 0};
  for (const std::string& vendor : vendors) {
    for (int i = 0; i < 12; ++i) {
      SimPod p;
      p.name = vendor + "-" + std::to_string(i);
      p.vendor = vendor;
      p.cpu_milli = 2000;
      p.memory_mib = 4096;
      p.gpu_milli = milli[i % 6];
      p.num_gpu = p.gpu_milli == 0 ? 0 : (i % 6 == 4 ? 2 : 1);
      w.pods.push_back(p);
    }
  }
  return w;
}

Cluster VendorCluster(const std::vector<std::string>& vendors) {
  Cluster c;
  for (const std::string& vendor : vendors) {
    for (int n = 0; n < 2; ++n) {
      SimNode node;
      node.name = vendor + "-node" + std::to_string(n);
      node.cpu_milli = 64000;
      node.memory_mib = 262144;
      node.gpu_count = 4;
      node.vendor = vendor;
      node.model = vendor == "NVIDIA" ? "T4" : "card";
      node.gpu_memory_mib = vendor == "NVIDIA" ? 15360 : 32768 - 1024 * n;
      c.nodes.push_back(node);
    }
  }
  return c;
}

std::map<std::string, std::string> NodeVendors(const Cluster& cluster) {
  std::map<std::string, std::string> out;
  for (const SimNode& n : cluster.nodes) out[n.name] = n.vendor;
  return out;
}

// Runs both paths with `policy_name`; returns pods placed per vendor on each path.
void ReplayBothPaths(const Cluster& cluster, const Workload& workload,
                     const std::string& policy_name, std::map<std::string, int64_t>* direct,
                     std::map<std::string, int64_t>* daemon) {
  ReplayOptions options;
  options.seed = 42;
  options.verify = true;  // fit rules on every placement, capacities at the end
  const std::map<std::string, std::string> node_vendor = NodeVendors(cluster);
  {
    VendorTally tally;
    VendorCheckingPolicy policy(std::move(*MakePolicy(policy_name, workload)), &tally);
    auto result = RunReplay(cluster, workload, policy, options);
    ASSERT_TRUE(result.ok()) << policy_name << ": " << result.status().message();
    EXPECT_EQ(tally.mismatches, 0) << policy_name;
    int64_t allocated = 0;
    for (const VendorAllocation& v : result->vendors) {
      EXPECT_LE(v.allocated_milli, v.capacity_milli) << v.vendor;
      allocated += v.allocated_milli;
    }
    EXPECT_NEAR(
        100.0 - result->unallocated_at_130,
        100.0 * static_cast<double>(allocated) / static_cast<double>(cluster.TotalGpuMilli()),
        1e-9);
    *direct = tally.placed;
  }
  VendorTally tally;
  std::vector<RecordedArrival> record;
  auto result = RunExtenderReplay(
      cluster, workload,
      std::make_unique<VendorCheckingPolicy>(std::move(*MakePolicy(policy_name, workload)), &tally),
      options, &record);
  ASSERT_TRUE(result.ok()) << policy_name << ": " << result.status().message();
  EXPECT_EQ(tally.mismatches, 0) << policy_name;
  const std::vector<int> order =
      ArrivalOrder(workload, cluster.TotalGpuMilli(), options.seed, options.inflation_percent);
  ASSERT_EQ(record.size(), order.size());
  daemon->clear();
  for (size_t k = 0; k < record.size(); ++k) {
    const SimPod& pod = workload.pods[static_cast<size_t>(order[k])];
    if (record[k].node.empty() || pod.num_gpu == 0) continue;
    EXPECT_EQ(node_vendor.at(record[k].node), pod.vendor) << pod.name << " on " << record[k].node;
    // The device string names the pod's vendor as the device type.
    EXPECT_THAT(record[k].devices, HasSubstr("," + pod.vendor + ",")) << pod.name;
    ++(*daemon)[pod.vendor];
  }
  // A vendor that takes a cores percent bounds each device's shares to 100 %, so its pods'
  // gpu_milli cannot exceed its capacity; vendors without one (slot-only, or memory rounded
  // up on larger devices) do not promise that (docs/simulate.md).
  auto config = SimDeviceConfig(options.split_count);
  ASSERT_TRUE(config.ok());
  auto registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok());
  auto plans = PlanVendorPods(*registry, cluster, workload);
  ASSERT_TRUE(plans.ok());
  for (const VendorAllocation& v : result->vendors) {
    if (!plans->at(v.vendor).asks_cores) continue;
    EXPECT_LE(v.allocated_milli, v.capacity_milli) << v.vendor;
  }
}

TEST(MixedVendorReplayTest, NvidiaDcuAmdClusterAndAVendorWithoutNodes) {
  const Cluster cluster = VendorCluster({"NVIDIA", "DCU", "AMD"});
  // MLU (Cambricon) pods have no node of theirs.
  const Workload workload = VendorWorkload({"NVIDIA", "DCU", "AMD", "MLU"});
  for (const std::string& name : {"hami-frag", "hami-binpack", "fgd"}) {
    std::map<std::string, int64_t> direct, daemon;
    ReplayBothPaths(cluster, workload, name, &direct, &daemon);
    for (const std::string& vendor : {"NVIDIA", "DCU", "AMD"}) {
      EXPECT_GT(direct[vendor], 0) << name << " direct " << vendor;
      EXPECT_GT(daemon[vendor], 0) << name << " daemon " << vendor;
    }
    EXPECT_EQ(direct["MLU"], 0) << name;
    EXPECT_EQ(daemon["MLU"], 0) << name;
  }
}

TEST(MixedVendorReplayTest, EveryRegistryVendorPlacesOnlyOnItsOwnDevices) {
  auto config = SimDeviceConfig(10);
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  std::vector<std::string> vendors;
  for (const Vendor* v : registry->Vendors()) vendors.emplace_back(v->CommonWord());
  ASSERT_GE(vendors.size(), 3u);
  const Cluster cluster = VendorCluster(vendors);
  const Workload workload = VendorWorkload(vendors);
  std::map<std::string, int64_t> direct, daemon;
  ReplayBothPaths(cluster, workload, "hami-binpack", &direct, &daemon);
  for (const std::string& vendor : vendors) {
    EXPECT_GT(direct[vendor], 0) << "direct " << vendor;
    EXPECT_GT(daemon[vendor], 0) << "daemon " << vendor;
  }
}

TEST(MixedVendorReplayTest, UnknownVendorIsAnErrorListingTheKnownOnes) {
  Cluster cluster = VendorCluster({"NVIDIA"});
  Workload workload = VendorWorkload({"NVIDIA", "NoSuchVendor"});
  auto result =
      RunExtenderReplay(cluster, workload, std::move(*MakePolicy("hami-binpack", workload)), {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(),
              HasSubstr("vendor \"NoSuchVendor\" of pod NoSuchVendor-0"));
  EXPECT_THAT(result.status().message(), HasSubstr("known: "));
  EXPECT_THAT(result.status().message(), HasSubstr("DCU"));
  EXPECT_THAT(result.status().message(), HasSubstr("NVIDIA"));
  cluster.nodes[0].vendor = "Foo";
  result = RunExtenderReplay(cluster, VendorWorkload({"NVIDIA"}),
                             std::move(*MakePolicy("hami-binpack", workload)), {});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("vendor \"Foo\" of node NVIDIA-node0"));
}

TEST(VendorLimitsTest, NvidiaAsTodayOthersThroughTheirMemoryUnit) {
  auto config = SimDeviceConfig(10);
  ASSERT_TRUE(config.ok());
  auto registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok());
  std::vector<std::string> vendors;
  for (const Vendor* v : registry->Vendors()) vendors.emplace_back(v->CommonWord());
  const Cluster cluster = VendorCluster(vendors);  // reference memory 31744 (non-NVIDIA)
  auto plans = PlanVendorPods(*registry, cluster, VendorWorkload(vendors));
  ASSERT_TRUE(plans.ok()) << plans.status().message();

  SimPod pod{"p", 1000, 1024, 1, 455, {"V100M16"}, "NVIDIA"};
  const VendorPodPlan& nvidia = plans->at("NVIDIA");
  EXPECT_EQ(nvidia.memory_unit_mib, 0);  // a percentage
  EXPECT_EQ(nvidia.reference_memory_mib, 15360);
  EXPECT_EQ(PodJsonWithLimits(pod, "u1", VendorLimits(pod, nvidia), true), ToPodJson(pod, "u1"));

  const VendorPodPlan& dcu = plans->at("DCU");
  EXPECT_EQ(dcu.memory_unit_mib, 1);
  EXPECT_EQ(dcu.reference_memory_mib, 31744);
  pod.vendor = "DCU";
  const ResourceList limits = VendorLimits(pod, dcu);
  const VendorResourceNames& names = dcu.vendor->ResourceNames();
  EXPECT_EQ(limits.at(names.count), "1");
  EXPECT_EQ(limits.at(names.cores), "46");
  EXPECT_EQ(limits.at(names.memory), "14444");  // ceil(0.455 x 31744)
  EXPECT_FALSE(PodJsonWithLimits(pod, "u1", limits, false)["metadata"]["annotations"].contains(
      "nvidia.com/use-gputype"));

  // Every vendor with a memory unit: what the vendor derives never exceeds the smallest device
  // and covers the pod's share, unless one more unit would not fit that device.
  int rounding_vendors = 0;
  for (const auto& [key, plan] : *plans) {
    if (plan.memory_unit_mib <= 0 || !plan.asks_memory) continue;
    rounding_vendors += plan.memory_linear ? 0 : 1;
    const VendorResourceNames& vendor_names = plan.vendor->ResourceNames();
    auto derived = [&](int64_t quantity) -> int64_t {
      auto r = plan.vendor->RequestFromResources(
          {{vendor_names.count, "1"}, {vendor_names.memory, std::to_string(quantity)}}, {});
      return r.ok() && r->has_value() ? (*r)->memory_mib : 0;
    };
    if (derived(1) > plan.reference_memory_mib) continue;  // no quantity fits: asks 1
    for (int32_t milli : {1, 300, 455, 700, 999, 1000}) {
      SimPod p{"p", 1000, 1024, 1, milli, {}, key};
      const ResourceList l = VendorLimits(p, plan);
      ASSERT_TRUE(l.count(vendor_names.memory)) << key;
      const int64_t quantity = std::stoll(l.at(vendor_names.memory));
      EXPECT_EQ(quantity, MemoryQuantity(plan, milli));
      const int64_t mib = derived(quantity);
      const int64_t target = (int64_t{milli} * plan.reference_memory_mib + 999) / 1000;
      EXPECT_GT(mib, 0) << key << " " << milli;
      EXPECT_LE(mib, plan.reference_memory_mib) << key << " " << milli;
      if (mib < target) {
        const int64_t next = derived(quantity + 1);
        EXPECT_TRUE(next == 0 || next > plan.reference_memory_mib) << key << " " << milli;
      }
      if (plan.memory_linear) {
        EXPECT_EQ(quantity,
                  std::min<int64_t>((target + plan.memory_unit_mib - 1) / plan.memory_unit_mib,
                                    plan.reference_memory_mib / plan.memory_unit_mib))
            << key << " " << milli;
      }
    }
  }
  EXPECT_GT(rounding_vendors, 0) << "the registry's Ascend vendors round to templates";
  SimPod cpu{"c", 1000, 1024, 0, 0, {}, "DCU"};
  EXPECT_TRUE(VendorLimits(cpu, dcu).empty());
}

TEST(MixedVendorReportTest, PerVendorColumnOnlyWithSeveralVendors) {
  ReplayResult a;
  a.policy = "hami-frag";
  a.seed = 1;
  a.vendors = {{"AMD", 4000, 3000}, {"NVIDIA", 8000, 8000}};
  ReplayResult b = a;
  b.seed = 2;
  b.vendors = {{"AMD", 4000, 1000}, {"NVIDIA", 8000, 4000}};
  const auto summary = Summarize({a, b});
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_EQ(summary[0].vendor_allocated_percent,
            (std::vector<std::pair<std::string, double>>{{"AMD", 50.0}, {"NVIDIA", 75.0}}));
  std::ostringstream table;
  PrintSummaryTable(summary, table);
  EXPECT_THAT(table.str(), HasSubstr("alloc@130% by vendor"));
  EXPECT_THAT(table.str(), HasSubstr("AMD 50.00, NVIDIA 75.00"));
  std::ostringstream csv;
  b.vendors.pop_back();  // a run without NVIDIA leaves its cell empty
  WriteResultsCsv({a, b}, csv);
  EXPECT_THAT(csv.str(), HasSubstr("wall_seconds,allocated_at_130_AMD,allocated_at_130_NVIDIA\n"));
  EXPECT_THAT(csv.str(), HasSubstr(",75.0000,100.0000\n"));
  EXPECT_THAT(csv.str(), HasSubstr(",25.0000,\n"));

  a.vendors = {{"NVIDIA", 8000, 8000}};
  std::ostringstream one_table, one_csv;
  PrintSummaryTable(Summarize({a}), one_table);
  WriteResultsCsv({a}, one_csv);
  EXPECT_THAT(one_table.str(), ::testing::Not(HasSubstr("by vendor")));
  EXPECT_THAT(one_csv.str(), ::testing::Not(HasSubstr("allocated_at_130_")));
}

}  // namespace
}  // namespace hami::sim
