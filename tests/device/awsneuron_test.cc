#include "device/awsneuron.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>

namespace hami {
namespace {

using IndexSets = std::vector<std::vector<int32_t>>;

// As AWS's device plugin publishes a node: devices and NeuronCores in status.capacity.
NodeFacts NeuronNode(const std::string& name, const std::string& devices,
                     const std::string& cores) {
  NodeFacts node;
  node.name = name;
  node.capacity = {{"aws.amazon.com/neuron", devices}, {"aws.amazon.com/neuroncore", cores}};
  return node;
}

TEST(AwsNeuronDevicesTest, SynthesisesDevicesPerNodeGeometry) {
  const AwsNeuronConfig config;
  // HAMi's geometry tests: inf2.8xlarge-like (2 devices, 4 cores) and inf1.6xlarge-like
  // (2 devices, 8 cores) keep their own geometry whichever is seen first.
  for (const auto& [cores, per_device, mask] : {std::tuple{"4", 2, 3}, std::tuple{"8", 4, 15},
                                                std::tuple{"2", 1, 1}, std::tuple{"16", 8, 15}}) {
    auto devices = SynthesizeAwsNeuronDevices(config, NeuronNode("inf-node", "2", cores));
    ASSERT_TRUE(devices.ok()) << devices.status().message();
    ASSERT_EQ(devices->size(), 2u);
    for (int32_t i = 0; i < 2; ++i) {
      const DeviceInfo& d = (*devices)[static_cast<size_t>(i)];
      EXPECT_EQ(d.id, "inf-node-AWSNeuron-" + std::to_string(i));
      EXPECT_EQ(d.index, i);
      EXPECT_EQ(d.type, "AWSNeuron");
      EXPECT_EQ(d.count, 1);  // one container per device (see awsneuron.h)
      EXPECT_EQ(d.devmem_mib, per_device) << cores;
      EXPECT_EQ(d.devcore, mask) << cores;  // HAMi's core mask, capped at 4 cores
      EXPECT_EQ(d.numa, 0);
      EXPECT_TRUE(d.health);
    }
  }
}

TEST(AwsNeuronDevicesTest, BadCapacityIsRefusedNamingTheResource) {
  const AwsNeuronConfig config;
  NodeFacts none;
  none.name = "n";
  EXPECT_EQ(SynthesizeAwsNeuronDevices(config, none).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(SynthesizeAwsNeuronDevices(config, NeuronNode("n", "0", "4")).status().code(),
            StatusCode::kNotFound);
  struct Case {
    NodeFacts node;
    const char* says;
  } cases[] = {
      {NeuronNode("n", "lots", "4"), "aws.amazon.com/neuron"},
      {NeuronNode("n", "-2", "4"), "aws.amazon.com/neuron"},
      {NeuronNode("n", "5000", "10000"), "aws.amazon.com/neuron"},
      {NeuronNode("n", "2", "x"), "aws.amazon.com/neuroncore"},
      {NeuronNode("n", "2", "0"), "aws.amazon.com/neuroncore"},
      {NeuronNode("n", "2", "3"), "is not divisible"},  // HAMi's invalid-geometry test
      {NeuronNode("n", "1", "99999999999"), "aws.amazon.com/neuroncore"},
  };
  for (const Case& c : cases) {
    auto r = SynthesizeAwsNeuronDevices(config, c.node);
    ASSERT_FALSE(r.ok()) << c.says;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().message();
  }
  NodeFacts devices_only;
  devices_only.name = "n";
  devices_only.capacity = {{"aws.amazon.com/neuron", "2"}};
  EXPECT_EQ(SynthesizeAwsNeuronDevices(config, devices_only).status().code(),
            StatusCode::kInvalidArgument);
}

// The sets of AwsNeuronIndexSets(count)'s rule for devices of `device_type`.
IndexSets SetsFor(int32_t count, const std::string& device_type) {
  ContainerDeviceRequest request;
  request.index_sets = AwsNeuronIndexSets(count);
  const IndexSetRule* rule = request.IndexSetRuleFor(device_type);
  return rule ? rule->sets : IndexSets{};
}

TEST(AwsNeuronIndexSetsTest, AlignedRunsForPowersContiguousRunsOtherwise) {
  EXPECT_FALSE(AwsNeuronIndexSets(1));
  EXPECT_FALSE(AwsNeuronIndexSets(0));
  EXPECT_FALSE(AwsNeuronIndexSets(kAwsNeuronMaxDevicesPerContainer + 1));
  // No instance-type label: devices keep type "AWSNeuron" and this rule.
  const IndexSets fours = SetsFor(4, kAwsNeuronCommonWord);
  ASSERT_EQ(fours.size(), 8u);
  EXPECT_EQ(fours[0], (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(fours[1], (std::vector<int32_t>{4, 5, 6, 7}));
  EXPECT_EQ(SetsFor(16, kAwsNeuronCommonWord).size(), 2u);
  const IndexSets pairs = SetsFor(2, kAwsNeuronCommonWord);
  ASSERT_EQ(pairs.size(), 31u);
  EXPECT_EQ(pairs[0], (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(pairs[1], (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(SetsFor(3, kAwsNeuronCommonWord)[1], (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(AwsNeuronIndexSets(2).get(), AwsNeuronIndexSets(2).get());
  // One rule per family, each naming its device type; no rule for other devices.
  const std::vector<IndexSetRule>& rules = *AwsNeuronIndexSets(4);
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].device_type, kAwsNeuronTrainiumType);
  EXPECT_EQ(rules[1].device_type, kAwsNeuronInferentiaType);
  EXPECT_EQ(rules[2].device_type, kAwsNeuronCommonWord);
  EXPECT_TRUE(SetsFor(4, "NVIDIA-Tesla T4").empty());
}

// HAMi's graphSelect by instance family: Trainium (any type without "inf"/"Inf") takes aligned
// runs of 4, 8 or 16 and nothing else; Inferentia any run, lowest first.
TEST(AwsNeuronIndexSetsTest, EachFamilyHasHamisRuns) {
  const IndexSets trn_fours = SetsFor(4, kAwsNeuronTrainiumType);
  ASSERT_EQ(trn_fours.size(), 8u);
  EXPECT_EQ(trn_fours[1], (std::vector<int32_t>{4, 5, 6, 7}));
  for (int32_t count : {2, 3, 5, 6, 12}) {
    EXPECT_TRUE(SetsFor(count, kAwsNeuronTrainiumType).empty()) << count;
  }
  const IndexSets inf_fours = SetsFor(4, kAwsNeuronInferentiaType);
  ASSERT_EQ(inf_fours.size(), 29u);
  EXPECT_EQ(inf_fours[1], (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(SetsFor(3, kAwsNeuronInferentiaType)[2], (std::vector<int32_t>{2, 3, 4}));
}

// HAMi's graphSelect: the first allowed run of `count` devices on a node of `instance_type`
// whose devices in `used` are taken; the indexes of the chosen devices, empty when none fits.
std::vector<int32_t> FirstFreeRun(const std::string& instance_type, int32_t devices, int32_t count,
                                  const std::set<int32_t>& used) {
  NodeFacts node = NeuronNode("n", std::to_string(devices), std::to_string(2 * devices));
  node.labels["node.kubernetes.io/instance-type"] = instance_type;
  auto infos = SynthesizeAwsNeuronDevices(AwsNeuronConfig{}, node);
  std::set<int32_t> free;
  for (int32_t i = 0; i < devices; ++i) {
    if (used.count(i) == 0) free.insert((*infos)[static_cast<size_t>(i)].index);
  }
  for (const std::vector<int32_t>& set : SetsFor(count, (*infos)[0].type)) {
    if (std::all_of(set.begin(), set.end(), [&](int32_t i) { return free.count(i) > 0; })) {
      return set;
    }
  }
  return {};
}

TEST(AwsNeuronIndexSetsTest, HamisGraphSelectCases) {
  // Golden cases of HAMi's Test_graphSelect (pkg/device/awsneuron/device_test.go).
  EXPECT_EQ(FirstFreeRun("inf2", 16, 16, {}),
            (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(FirstFreeRun("trn", 16, 8, {7, 13}), std::vector<int32_t>{});
  EXPECT_EQ(FirstFreeRun("trn", 16, 8, {7}), (std::vector<int32_t>{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(FirstFreeRun("inf", 16, 8, {5, 14}),
            (std::vector<int32_t>{6, 7, 8, 9, 10, 11, 12, 13}));
  // Real instance types; Trainium refuses counts other than 4, 8 and 16.
  EXPECT_EQ(FirstFreeRun("trn1.32xlarge", 16, 2, {}), std::vector<int32_t>{});
  EXPECT_EQ(FirstFreeRun("trn1.32xlarge", 16, 4, {1}), (std::vector<int32_t>{4, 5, 6, 7}));
  EXPECT_EQ(FirstFreeRun("inf2.48xlarge", 12, 4, {1}), (std::vector<int32_t>{2, 3, 4, 5}));
  EXPECT_EQ(FirstFreeRun("Inf1", 4, 3, {0}), (std::vector<int32_t>{1, 2, 3}));
}

TEST(AwsNeuronDevicesTest, InstanceTypeLabelPicksTheFamily) {
  auto family = [](std::optional<std::string> type) {
    NodeFacts node = NeuronNode("n", "2", "4");
    if (type) node.labels["node.kubernetes.io/instance-type"] = *type;
    return AwsNeuronFamilyOf(node);
  };
  EXPECT_EQ(family(std::nullopt), AwsNeuronFamily::kUnknown);
  EXPECT_EQ(family(""), AwsNeuronFamily::kUnknown);
  EXPECT_EQ(family("inf2.xlarge"), AwsNeuronFamily::kInferentia);
  EXPECT_EQ(family("Inf1"), AwsNeuronFamily::kInferentia);
  EXPECT_EQ(family("trn1.32xlarge"), AwsNeuronFamily::kTrainium);
  EXPECT_EQ(family("trn2.48xlarge"), AwsNeuronFamily::kTrainium);
  EXPECT_EQ(family("INF2"), AwsNeuronFamily::kTrainium);  // HAMi checks "inf" and "Inf" only
  EXPECT_EQ(AwsNeuronDeviceType(AwsNeuronFamily::kUnknown), "AWSNeuron");
  EXPECT_EQ(AwsNeuronDeviceType(AwsNeuronFamily::kTrainium), "AWSNeuron-Trainium");
  EXPECT_EQ(AwsNeuronDeviceType(AwsNeuronFamily::kInferentia), "AWSNeuron-Inferentia");
  for (const auto& [instance_type, device_type] :
       {std::pair{"trn1.2xlarge", kAwsNeuronTrainiumType},
        std::pair{"inf2.xlarge", kAwsNeuronInferentiaType}}) {
    NodeFacts node = NeuronNode("n", "2", "4");
    node.labels["node.kubernetes.io/instance-type"] = instance_type;
    auto devices = SynthesizeAwsNeuronDevices(AwsNeuronConfig{}, node);
    ASSERT_TRUE(devices.ok());
    // The family is the type; the index, the ID and AWS_NEURON_IDS keep i.
    EXPECT_EQ((*devices)[1].type, device_type);
    EXPECT_EQ((*devices)[1].index, 1);
    EXPECT_EQ((*devices)[1].id, "n-AWSNeuron-1");
    // The device string names the vendor key, never the family type.
    Annotations out;
    AwsNeuronVendor(AwsNeuronConfig{})
        .AddDecisionAnnotations({{{(*devices)[1].id, "AWSNeuron", 0, 3}}}, "n", 1, &out);
    EXPECT_EQ(out.at("AWS_NEURON_IDS"), "1");
    EXPECT_EQ(out.at(kAwsNeuronAllocatedAnnotation), "n-AWSNeuron-1,AWSNeuron,0,3:;");
  }
}

TEST(AwsNeuronRequestTest, DevicesOrCoresAsHami) {
  const AwsNeuronConfig config;
  struct Case {
    ResourceList limits, requests;
    int32_t count, cores_mask, memory_percent;
  } cases[] = {
      {{{"aws.amazon.com/neuron", "1"}}, {}, 1, 3, kMemoryPercentUnset},
      {{{"aws.amazon.com/neuron", "4"}}, {}, 4, 3, kMemoryPercentUnset},
      {{}, {{"aws.amazon.com/neuron", "2"}}, 2, 3, kMemoryPercentUnset},
      // The device resource wins over cores.
      {{{"aws.amazon.com/neuron", "1"}, {"aws.amazon.com/neuroncore", "1"}},
       {},
       1,
       3,
       kMemoryPercentUnset},
      {{{"aws.amazon.com/neuroncore", "1"}}, {}, 1, 1, 100},
      {{{"aws.amazon.com/neuroncore", "2"}}, {}, 1, 3, 100},
      {{{"aws.amazon.com/neuroncore", "4"}}, {}, 2, 3, 100},
      {{}, {{"aws.amazon.com/neuroncore", "8"}}, 4, 3, 100},
  };
  for (const Case& c : cases) {
    auto r = DeriveAwsNeuronRequest(config, c.limits, c.requests);
    ASSERT_TRUE(r.ok() && r->has_value()) << r.status().message();
    const ContainerDeviceRequest& req = **r;
    EXPECT_EQ(req.count, c.count);
    EXPECT_EQ(req.type, "AWSNeuron");
    EXPECT_EQ(req.memory_mib, 0);
    EXPECT_EQ(req.memory_percent, c.memory_percent);
    EXPECT_EQ(req.cores_percent, c.cores_mask);
    EXPECT_EQ(req.index_sets, AwsNeuronIndexSets(c.count));
  }
  for (const ResourceList& none :
       {ResourceList{{"aws.amazon.com/neuron", "0"}}, ResourceList{{"nvidia.com/gpu", "1"}}}) {
    auto n = DeriveAwsNeuronRequest(config, none, {});
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(n->has_value());
  }
  struct Bad {
    ResourceList limits;
    const char* says;
  } bad[] = {
      {{{"aws.amazon.com/neuron", "-1"}}, "greater than 0"},
      {{{"aws.amazon.com/neuron", "1.5"}}, "aws.amazon.com/neuron"},
      {{{"aws.amazon.com/neuron", "33"}}, "at most 32"},
      {{{"aws.amazon.com/neuroncore", "0"}}, "greater than 0"},
      {{{"aws.amazon.com/neuroncore", "3"}}, "must be 1 or a multiple of 2, got 3"},
      {{{"aws.amazon.com/neuroncore", "lots"}}, "aws.amazon.com/neuroncore"},
      {{{"aws.amazon.com/neuroncore", "66"}}, "at most 32"},
  };
  for (const Bad& b : bad) {
    auto r = DeriveAwsNeuronRequest(config, b.limits, {});
    ASSERT_FALSE(r.ok()) << b.says;
    EXPECT_NE(r.status().message().find(b.says), std::string::npos) << r.status().message();
  }
}

TEST(AwsNeuronVendorTest, KeysSelectorsAndAdmission) {
  const AwsNeuronVendor vendor{AwsNeuronConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "AWSNeuron");
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"", "", "", "hami.io/aws-neuron-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(), (VendorResourceNames{"aws.amazon.com/neuron", "", "", "", ""}));
  auto s = vendor.ParseSelectors({{"aws.amazon.com/use-neuron-uuid", "n-AWSNeuron-0"},
                                  {"aws.amazon.com/nouse-neuron-uuid", "n-AWSNeuron-0"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"n-AWSNeuron-0"}));
  EXPECT_EQ(s->nouse_uuids,
            (std::vector<std::string>{"n-AWSNeuron-0"}));  // both lists apply, as HAMi >= 2.9
  auto nouse = vendor.ParseSelectors({{"aws.amazon.com/nouse-neuron-uuid", "a,b"}});
  ASSERT_TRUE(nouse.ok());
  EXPECT_EQ(nouse->nouse_uuids, (std::vector<std::string>{"a", "b"}));

  // Webhook: either resource, limits or requests, makes the pod ours.
  for (const auto& [limits, requests] :
       {std::pair{ResourceList{{"aws.amazon.com/neuron", "1"}}, ResourceList{}},
        std::pair{ResourceList{}, ResourceList{{"aws.amazon.com/neuroncore", "2"}}}}) {
    auto a = vendor.MutateAdmission("c", limits, requests);
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_TRUE(a->uses_device);
    EXPECT_EQ(a->limits, limits);
    EXPECT_TRUE(a->request.has_value());
  }
  auto other = vendor.MutateAdmission("c", {{"nvidia.com/gpu", "1"}}, {});
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->uses_device);
  for (const ResourceList& refused :
       {ResourceList{{"aws.amazon.com/neuron", "0"}}, ResourceList{{"aws.amazon.com/neuron", "x"}},
        ResourceList{{"aws.amazon.com/neuroncore", "5"}}}) {
    auto a = vendor.MutateAdmission("c", refused, {});
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.status().message().find("aws.amazon.com/neuron"), std::string::npos);
  }
}

TEST(AwsNeuronVendorTest, DecisionListsDevicesOrCoresAsHamisPatchAnnotations) {
  const AwsNeuronVendor vendor{AwsNeuronConfig{}};
  // Whole devices: device indexes (HAMi's device string on a 2-core node).
  Annotations whole;
  vendor.AddDecisionAnnotations(
      {{{"trn-AWSNeuron-4", "AWSNeuron", 0, 3}, {"trn-AWSNeuron-5", "AWSNeuron", 0, 3}}}, "trn",
      1'700'000'000, &whole);
  EXPECT_EQ(whole, (Annotations{
                       {"hami.io/aws-neuron-devices-allocated",
                        "trn-AWSNeuron-4,AWSNeuron,0,3:trn-AWSNeuron-5,AWSNeuron,0,3:;"},
                       {"AWS_NEURON_IDS", "4,5"},
                       {"NEURON_ALLOC_TIME", "1700000000000000000"},
                       {"NEURON_ALLOCATED", "false"},
                       {"aws.amazon.com/predicate-node", "trn"},
                   }));
  // HAMi's mixed-geometry workflow: neuroncore 2 on device 1 lists cores 2,3 on a 2-core node
  // and 4,5 on a 4-core one.
  for (const auto& [stride, want] : {std::pair{2, "2,3"}, std::pair{4, "4,5"}}) {
    Annotations cores;
    vendor.AddDecisionAnnotations({{{"inf-AWSNeuron-1", "AWSNeuron", stride, 3}}}, "inf", 7,
                                  &cores);
    EXPECT_EQ(cores["AWS_NEURON_IDS"], want);
    EXPECT_EQ(cores["NEURON_RESOURCE_TYPE"], "aws.amazon.com/neuroncore");
    EXPECT_EQ(cores["NEURON_ALLOC_TIME"], "7000000000");
  }
  // One core; containers accumulate in order (HAMi's value is pod-wide).
  Annotations two;
  vendor.AddDecisionAnnotations(
      {{{"n-AWSNeuron-0", "AWSNeuron", 0, 3}}, {}, {{"n-AWSNeuron-3", "AWSNeuron", 2, 1}}}, "n", 0,
      &two);
  EXPECT_EQ(two["AWS_NEURON_IDS"], "0,6");
  EXPECT_EQ(two["NEURON_RESOURCE_TYPE"], "aws.amazon.com/neuroncore");
  // No devices: nothing written.
  Annotations nothing;
  vendor.AddDecisionAnnotations({{}}, "n", 0, &nothing);
  EXPECT_TRUE(nothing.empty());
  // An ID without an index: only the device string.
  Annotations odd;
  vendor.AddDecisionAnnotations({{{"weird", "AWSNeuron", 0, 3}}}, "n", 0, &odd);
  EXPECT_EQ(odd, (Annotations{{"hami.io/aws-neuron-devices-allocated", "weird,AWSNeuron,0,3:;"}}));
}

TEST(AwsNeuronConfigTest, SectionEnablesTheVendor) {
  DeviceConfig config;
  config.awsneuron = AwsNeuronConfig{};
  auto registry = MakeVendorRegistry(config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  const Vendor* vendor = registry->Find("AWSNeuron");
  ASSERT_NE(vendor, nullptr);
  auto devices = vendor->DecodeNode(NeuronNode("n", "2", "4"));
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 2u);
  config.awsneuron->resource_core_name = "";
  EXPECT_FALSE(MakeVendorRegistry(config).ok());
}

}  // namespace
}  // namespace hami
