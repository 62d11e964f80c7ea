#include "device/metax.h"

#include <gtest/gtest.h>

#include "device/codec.h"

namespace hami {
namespace {

// HAMi's sdevice_test.go TestGetMetaxSDevices "test normal node" registration (MetaX's sGPU
// plugin format, with its spaces).
constexpr char kSgpuRegistration[] =
    R"([{"uuid": "GPU-123", "model": "sgpu", "totalDevCount": 16, "totalCompute": 100, )"
    R"("bdf": "0000:44:00.0", "totalVRam" : 32768, "numa": 1, "healthy": true, )"
    R"("qosPolicy": "fixed-share"}])";

ContainerDeviceRequest Request(int32_t count, const char* type, int32_t memory_mib,
                               int32_t memory_percent, int32_t cores) {
  return ContainerDeviceRequest{count, type, memory_mib, memory_percent, cores};
}

// ----- whole cards ----------------------------------------------------------------------------

NodeFacts CapacityNode(const std::string& name, ResourceList capacity) {
  NodeFacts node;
  node.name = name;
  node.capacity = std::move(capacity);
  return node;
}

TEST(MetaxGpuTest, CardsComeFromCapacityAsHamiSynthesisesThem) {
  auto cards = MetaxGpuDevicesFromCapacity(CapacityNode("node1", {{"metax-tech.com/gpu", "2"}}),
                                           "metax-tech.com/gpu");
  ASSERT_TRUE(cards.ok()) << cards.status().message();
  ASSERT_EQ(cards->size(), 2u);
  DeviceInfo want;
  want.id = "node1-metax-1";
  want.index = 1;
  want.count = 1;
  want.devmem_mib = 65536;
  want.devcore = 100;
  want.type = "Metax-GPU";
  want.health = true;
  EXPECT_EQ((*cards)[1], want);
  EXPECT_EQ((*cards)[0].id, "node1-metax-0");
  EXPECT_EQ((*cards)[0].index, 0);
}

TEST(MetaxGpuTest, AbsentOrZeroCapacityIsNotFoundAndBadCapacityIsRefused) {
  const std::string name = "metax-tech.com/gpu";
  EXPECT_EQ(MetaxGpuDevicesFromCapacity(CapacityNode("n", {}), name).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(MetaxGpuDevicesFromCapacity(CapacityNode("n", {{name, "0"}}), name).status().code(),
            StatusCode::kNotFound);
  for (const char* bad : {"-1", "1.5", "two", "", "1025", "9223372036854775807"}) {
    auto r = MetaxGpuDevicesFromCapacity(CapacityNode("n", {{name, bad}}), name);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(MetaxGpuDevicesFromCapacity(CapacityNode("n", {{name, "1024"}}), name)->size(), 1024u);
}

TEST(MetaxGpuTest, RequestTakesWholeCardsFromLimitsThenRequests) {
  const MetaxConfig config;
  auto r = DeriveMetaxGpuRequest(config, {{"metax-tech.com/gpu", "2"}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Request(2, "Metax-GPU", 0, 100, 100));
  auto from_requests = DeriveMetaxGpuRequest(config, {}, {{"metax-tech.com/gpu", "1"}});
  ASSERT_TRUE(from_requests.ok() && from_requests->has_value());
  EXPECT_EQ((*from_requests)->count, 1);
  for (const ResourceList& none :
       {ResourceList{{"metax-tech.com/gpu", "0"}}, ResourceList{{"metax-tech.com/sgpu", "1"}}}) {
    auto n = DeriveMetaxGpuRequest(config, none, {});
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(n->has_value());
  }
  for (const char* bad : {"0.5", "-1", "lots"}) {
    auto b = DeriveMetaxGpuRequest(config, {{"metax-tech.com/gpu", bad}}, {});
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("metax-tech.com/gpu"), std::string::npos);
  }
}

TEST(MetaxGpuTest, VendorKeysAndDecodeNode) {
  const MetaxGpuVendor vendor{MetaxConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "Metax-GPU");
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"", "", "hami.io/metax-gpu-devices-to-allocate",
                                  "hami.io/metax-gpu-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(), (VendorResourceNames{"metax-tech.com/gpu", "", "", "", ""}));
  NodeFacts node;
  node.name = "metax-node";
  node.capacity = {{"metax-tech.com/gpu", "8"}};
  auto cards = vendor.DecodeNode(node);
  ASSERT_TRUE(cards.ok());
  ASSERT_EQ(cards->size(), 8u);
  EXPECT_EQ(cards->back().id, "metax-node-metax-7");
  // Allocatable alone is not a registration (HAMi reads capacity).
  node.capacity.clear();
  node.allocatable = {{"metax-tech.com/gpu", "8"}};
  EXPECT_EQ(vendor.DecodeNode(node).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(vendor.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
  auto s = vendor.ParseSelectors({{"metax-tech.com/use-gpuuuid", "x"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, DeviceSelectors{});
  auto admission = vendor.MutateAdmission("c", {{"metax-tech.com/gpu", "1"}}, {});
  ASSERT_TRUE(admission.ok());
  EXPECT_TRUE(admission->uses_device);
  // The default decision annotations: the device string under both keys, nothing else.
  Annotations out;
  vendor.AddDecisionAnnotations({{{"metax-node-metax-7", "Metax-GPU", 65536, 100}}}, "metax-node",
                                1700000000, &out);
  EXPECT_EQ(
      out,
      (Annotations{
          {"hami.io/metax-gpu-devices-allocated", "metax-node-metax-7,Metax-GPU,65536,100:;"},
          {"hami.io/metax-gpu-devices-to-allocate", "metax-node-metax-7,Metax-GPU,65536,100:;"}}));
}

// ----- sGPU -----------------------------------------------------------------------------------

TEST(MetaxSgpuTest, DecodesHamisExampleRegistration) {
  auto devices = DecodeMetaxSgpuDevices(kSgpuRegistration);
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 1u);
  DeviceInfo want;
  want.id = "GPU-123";
  want.index = 0;
  want.count = 16;
  want.devmem_mib = 32768;
  want.devcore = 100;
  want.type = "Metax-SGPU";
  want.numa = 1;
  want.health = true;
  EXPECT_EQ((*devices)[0], want);
}

TEST(MetaxSgpuTest, DecodesAsHamisConvertTest) {
  // protocol_test.go TestConvertMetaxSDeviceToHAMIDevice, as the JSON MetaX writes: index is
  // the position, numa -1 is kept, an unhealthy card stays listed but unhealthy.
  auto devices = DecodeMetaxSgpuDevices(
      R"([{"uuid":"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a9","bdf":"0000:0a:00.0",)"
      R"("totalDevCount":16,"totalCompute":100,"totalVRam":65536,"availableDevCount":6,)"
      R"("availableCompute":50,"availableVRam":32768,"healthy":true},)"
      R"({"uuid":"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a8","bdf":"0000:09:00.0",)"
      R"("totalDevCount":8,"totalCompute":100,"totalVRam":32768,"availableDevCount":6,)"
      R"("availableCompute":50,"availableVRam":32768,"numa":-1,"linkZone":2}])");
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].id, "GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a9");
  EXPECT_EQ((*devices)[0].count, 16);
  EXPECT_EQ((*devices)[0].devmem_mib, 65536);
  EXPECT_TRUE((*devices)[0].health);
  EXPECT_EQ((*devices)[1].index, 1);
  EXPECT_EQ((*devices)[1].count, 8);
  EXPECT_EQ((*devices)[1].numa, -1);
  EXPECT_FALSE((*devices)[1].health);
}

TEST(MetaxSgpuTest, KeysMatchCaseInsensitivelyLastWins) {
  auto devices =
      DecodeMetaxSgpuDevices(R"([{"UUID":"a","uuid":"b","TotalDevCount":4,"HEALTHY":true}])");
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  EXPECT_EQ((*devices)[0].id, "b");
  EXPECT_EQ((*devices)[0].count, 4);
  EXPECT_TRUE((*devices)[0].health);
}

TEST(MetaxSgpuTest, RefusesMalformedRegistrations) {
  for (const char* bad : {"",
                          "null",
                          "[]",
                          "{}",
                          "[null]",
                          "[1]",
                          R"([{"uuid":""}])",
                          R"([{"totalDevCount":4}])",
                          R"([{"uuid":"a,b"}])",
                          R"([{"uuid":"a:b"}])",
                          R"([{"uuid":"a","totalDevCount":"4"}])",
                          R"([{"uuid":"a","totalDevCount":-1}])",
                          R"([{"uuid":"a","totalVRam":4294967296}])",
                          R"([{"uuid":"a","totalCompute":1.5}])",
                          R"([{"uuid":"a","healthy":1}])",
                          R"([{"uuid":"a","qosPolicy":3}])",
                          R"([{"uuid":"a","linkZone":"1"}])",
                          R"([{"uuid":"a","bdf":false}])",
                          "[{\"uuid\":\"a\"}",
                          R"([{"uuid":"a"},{"uuid":"b"},{"uuid":"a"}])"}) {
    auto r = DecodeMetaxSgpuDevices(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(r.status().message().empty());
  }
  std::string deep(100, '[');
  EXPECT_FALSE(DecodeMetaxSgpuDevices(deep).ok());
}

TEST(MetaxSgpuTest, VendorDecodesTheAnnotationAndNamesItInErrors) {
  const MetaxSgpuVendor vendor{MetaxConfig{}};
  auto devices = vendor.DecodeRegistration({{kMetaxSgpuRegisterAnnotation, kSgpuRegistration}});
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 1u);
  EXPECT_EQ(vendor.DecodeRegistration({}).status().code(), StatusCode::kNotFound);
  auto bad = vendor.DecodeRegistration({{kMetaxSgpuRegisterAnnotation, "[]"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("metax-tech.com/node-gpu-devices"), std::string::npos);
  // DecodeNode reads the annotation, not capacity.
  NodeFacts node;
  node.capacity = {{"metax-tech.com/sgpu", "16"}};
  EXPECT_EQ(vendor.DecodeNode(node).status().code(), StatusCode::kNotFound);
}

TEST(MetaxSgpuTest, RequestsMatchHamisGenerateResourceRequestsTests) {
  // sdevice_test.go TestGenerateResourceRequests, case by case.
  const MetaxConfig config;
  struct Case {
    ResourceList limits;
    ContainerDeviceRequest want;
  };
  const Case cases[] = {
      {{{"metax-tech.com/sgpu", "1"}}, Request(1, "Metax-SGPU", 0, 100, 100)},
      {{{"metax-tech.com/sgpu", "2"}}, Request(2, "Metax-SGPU", 0, 100, 100)},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vcore", "30"}},
       Request(1, "Metax-SGPU", 0, 100, 30)},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vmemory", "16"}},
       Request(1, "Metax-SGPU", 16 * 1024, kMemoryPercentUnset, 100)},
      {{{"metax-tech.com/sgpu", "1"},
        {"metax-tech.com/vcore", "60"},
        {"metax-tech.com/vmemory", "16"}},
       Request(1, "Metax-SGPU", 16 * 1024, kMemoryPercentUnset, 60)},
      {{{"metax-tech.com/sgpu", "1"},
        {"metax-tech.com/vcore", "60"},
        {"metax-tech.com/vmemory", "1024Mi"}},
       Request(1, "Metax-SGPU", 1024, kMemoryPercentUnset, 60)},
      {{{"metax-tech.com/sgpu", "1"},
        {"metax-tech.com/vcore", "60"},
        {"metax-tech.com/vmemory", "16Gi"}},
       Request(1, "Metax-SGPU", 16 * 1024, kMemoryPercentUnset, 60)},
      // With a unit the value is bytes, floored to MiB: under 1 MiB is no memory, i.e. the
      // whole device's (HAMi's arithmetic).
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vmemory", "1M"}},
       Request(1, "Metax-SGPU", 0, 100, 100)},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vmemory", "2e9"}},
       Request(1, "Metax-SGPU", 1907, kMemoryPercentUnset, 100)},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vcore", "0"}},
       Request(1, "Metax-SGPU", 0, 100, 0)},
  };
  for (const Case& c : cases) {
    auto r = DeriveMetaxSgpuRequest(config, c.limits, {});
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ(**r, c.want) << c.limits.rbegin()->second;
  }
}

TEST(MetaxSgpuTest, RequestReadsLimitsOnly) {
  const MetaxConfig config;
  auto none = DeriveMetaxSgpuRequest(config, {}, {{"metax-tech.com/sgpu", "1"}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto zero = DeriveMetaxSgpuRequest(config, {{"metax-tech.com/sgpu", "0"}}, {});
  ASSERT_TRUE(zero.ok());
  EXPECT_FALSE(zero->has_value());
  // vcore / vmemory in requests are not read (HAMi reads limits only).
  auto r =
      DeriveMetaxSgpuRequest(config, {{"metax-tech.com/sgpu", "1"}},
                             {{"metax-tech.com/vcore", "10"}, {"metax-tech.com/vmemory", "1"}});
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, Request(1, "Metax-SGPU", 0, 100, 100));
}

TEST(MetaxSgpuTest, RefusesUnusableRequestsNamingTheResource) {
  const MetaxConfig config;
  struct Case {
    ResourceList limits;
    const char* names;
  };
  const Case cases[] = {
      {{{"metax-tech.com/sgpu", "-1"}}, "metax-tech.com/sgpu"},
      {{{"metax-tech.com/sgpu", "1.5"}}, "metax-tech.com/sgpu"},
      {{{"metax-tech.com/sgpu", "3000000000"}}, "metax-tech.com/sgpu"},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vcore", "101"}}, "metax-tech.com/vcore"},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vcore", "-5"}}, "metax-tech.com/vcore"},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vcore", "half"}}, "metax-tech.com/vcore"},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vmemory", "-1"}}, "metax-tech.com/vmemory"},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vmemory", "-1Gi"}},
       "metax-tech.com/vmemory"},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vmemory", "2097152"}},
       "metax-tech.com/vmemory"},  // 2 PiB in GiB: beyond int32 MiB
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vmemory", "1.5"}}, "metax-tech.com/vmemory"},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vmemory", "1.5Gi"}},
       "metax-tech.com/vmemory"},
      {{{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vmemory", "8E"}}, "metax-tech.com/vmemory"},
  };
  for (const Case& c : cases) {
    auto r = DeriveMetaxSgpuRequest(config, c.limits, {});
    ASSERT_FALSE(r.ok()) << c.limits.rbegin()->second;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.names), std::string::npos) << r.status().message();
  }
}

TEST(MetaxSgpuTest, VendorKeysSelectorsAndAdmission) {
  const MetaxSgpuVendor vendor{MetaxConfig{}};
  EXPECT_EQ(vendor.CommonWord(), "Metax-SGPU");
  EXPECT_EQ(vendor.MemoryFactor(), 1024);
  EXPECT_EQ(vendor.AnnotationKeys(),
            (VendorAnnotationKeys{"metax-tech.com/node-gpu-devices", "",
                                  "hami.io/metax-sgpu-devices-to-allocate",
                                  "hami.io/metax-sgpu-devices-allocated"}));
  EXPECT_EQ(vendor.ResourceNames(),
            (VendorResourceNames{"metax-tech.com/sgpu", "metax-tech.com/vmemory", "",
                                 "metax-tech.com/vcore", ""}));
  auto s = vendor.ParseSelectors(
      {{"metax-tech.com/use-gpuuuid", "GPU-1,GPU-2"}, {"metax-tech.com/nouse-gpuuuid", "GPU-2"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->use_uuids, (std::vector<std::string>{"GPU-1", "GPU-2"}));
  EXPECT_EQ(s->nouse_uuids,
            (std::vector<std::string>{"GPU-2"}));  // both lists apply, as HAMi >= 2.9
  auto nouse = vendor.ParseSelectors({{"metax-tech.com/nouse-gpuuuid", "GPU-2"}});
  ASSERT_TRUE(nouse.ok());
  EXPECT_EQ(nouse->nouse_uuids, (std::vector<std::string>{"GPU-2"}));

  auto a = vendor.MutateAdmission("c", {{"metax-tech.com/sgpu", "1"}}, {});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->uses_device);
  ASSERT_TRUE(a->request.has_value());
  EXPECT_EQ(a->request->count, 1);
  auto not_ours = vendor.MutateAdmission("c", {}, {{"metax-tech.com/sgpu", "1"}});
  ASSERT_TRUE(not_ours.ok());
  EXPECT_FALSE(not_ours->uses_device);
  EXPECT_FALSE(
      vendor
          .MutateAdmission("c", {{"metax-tech.com/sgpu", "1"}, {"metax-tech.com/vcore", "200"}}, {})
          .ok());
}

TEST(MetaxSgpuTest, PodDevicesJsonMatchesHamisConvertTest) {
  // protocol_test.go TestConvertHAMIPodDeviceToMetaxPodDevice, marshalled as Go does.
  const PodDevices devices = {
      {{"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a0", "Metax-SGPU", 10, 50},
       {"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a1", "Metax-SGPU", 1024, 30}},
      {{"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a3", "Metax-SGPU", 10 * 1024, 20},
       {"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a7", "Metax-SGPU", 64 * 1024, 80}}};
  EXPECT_EQ(EncodeMetaxPodDevices(devices),
            R"([[{"uuid":"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a0","compute":50,"vRam":10},)"
            R"({"uuid":"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a1","compute":30,"vRam":1024}],)"
            R"([{"uuid":"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a3","compute":20,"vRam":10240},)"
            R"({"uuid":"GPU-a16ac188-0592-5c8f-2b6e-8bd8e7a604a7","compute":80,"vRam":65536}]])");
  // omitempty on compute and vRam; a container without devices is an empty list; Go's
  // HTML-safe escaping.
  EXPECT_EQ(EncodeMetaxPodDevices({{}, {{"G<1>", "Metax-SGPU", 0, 0}}}),
            R"([[],[{"uuid":"G\u003c1\u003e"}]])");
  EXPECT_EQ(EncodeMetaxPodDevices({}), "[]");
}

TEST(MetaxSgpuTest, DecisionAnnotationsAddMetaxsKeys) {
  const MetaxSgpuVendor vendor{MetaxConfig{}};
  Annotations out = {{"hami.io/vgpu-node", "n1"}};
  vendor.AddDecisionAnnotations({{}, {{"GPU-123", "Metax-SGPU", 8192, 30}}}, "n1", 1700000000,
                                &out);
  EXPECT_EQ(
      out, (Annotations{{"hami.io/vgpu-node", "n1"},
                        {"hami.io/metax-sgpu-devices-to-allocate", ";GPU-123,Metax-SGPU,8192,30:;"},
                        {"hami.io/metax-sgpu-devices-allocated", ";GPU-123,Metax-SGPU,8192,30:;"},
                        {"metax-tech.com/gpu-devices-allocated",
                         R"([[],[{"uuid":"GPU-123","compute":30,"vRam":8192}]])"},
                        {"metax-tech.com/predicate-time", "1700000000000000000"}}));
}

TEST(MetaxSgpuTest, PodAdmissionMatchesHamisMutateAdmissionTests) {
  // sdevice_test.go TestMutateAdmission, plus the app-class rules of sdevice.go.
  const MetaxSgpuVendor vendor{MetaxConfig{}};
  const std::vector<ContainerDeviceRequest> one = {Request(1, "Metax-SGPU", 0, 100, 100)};
  const std::string qos_error =
      "metax-tech.com/sgpu-qos-policy must be set one of [best-effort, fixed-share, burst-share]";
  Annotations bad = {{kMetaxQosPolicyAnnotation, "best-effortx"}};
  Status refused = vendor.MutatePodAdmission(one, &bad);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.message(), qos_error);
  EXPECT_EQ(bad, (Annotations{{kMetaxQosPolicyAnnotation, "best-effortx"}}));  // untouched
  Annotations none;
  ASSERT_TRUE(vendor.MutatePodAdmission(one, &none).ok());
  EXPECT_EQ(none, (Annotations{{"metax-tech.com/sgpu-qos-policy", "best-effort"}}));
  for (const char* qos : {"best-effort", "fixed-share", "burst-share"}) {
    Annotations given = {{kMetaxQosPolicyAnnotation, qos}};
    ASSERT_TRUE(vendor.MutatePodAdmission(one, &given).ok()) << qos;
    EXPECT_EQ(given, (Annotations{{kMetaxQosPolicyAnnotation, qos}}));
  }
  // app-class: only online/offline; such pods ask one sGPU per container; online pods are not
  // given (or checked for) a QoS policy, offline ones are.
  Annotations wrong_class = {{kMetaxAppClassAnnotation, "batch"}};
  Status class_refused = vendor.MutatePodAdmission(one, &wrong_class);
  EXPECT_EQ(class_refused.message(),
            "metax-tech.com/sgpu-app-class must be set one of [online, offline]");
  Annotations online = {{kMetaxAppClassAnnotation, "online"}, {kMetaxQosPolicyAnnotation, "x"}};
  ASSERT_TRUE(vendor.MutatePodAdmission(one, &online).ok());
  EXPECT_EQ(online.size(), 2u);
  Annotations offline = {{kMetaxAppClassAnnotation, "offline"}};
  ASSERT_TRUE(vendor.MutatePodAdmission(one, &offline).ok());
  EXPECT_EQ(offline[kMetaxQosPolicyAnnotation], "best-effort");
  Annotations two_devices = {{kMetaxAppClassAnnotation, "online"}};
  Status count_refused = vendor.MutatePodAdmission(
      {ContainerDeviceRequest{}, Request(2, "Metax-SGPU", 0, 100, 100)}, &two_devices);
  EXPECT_EQ(count_refused.message(), "app-class pod must request single device");
  // Whole cards and Vastai-like vendors keep the default (nothing to do).
  const MetaxGpuVendor whole{MetaxConfig{}};
  Annotations untouched;
  ASSERT_TRUE(whole.MutatePodAdmission(one, &untouched).ok());
  EXPECT_TRUE(untouched.empty());
}

TEST(MetaxVendorsTest, OnlySgpuTakesHamisNodeLock) {
  // HAMi's whole-card LockNode does nothing; its sGPU one takes hami.io/mutex.lock.
  EXPECT_FALSE(MetaxGpuVendor{MetaxConfig{}}.TakesNodeLock());
  EXPECT_TRUE(MetaxSgpuVendor{MetaxConfig{}}.TakesNodeLock());
}

// ----- config ---------------------------------------------------------------------------------

TEST(MetaxConfigTest, SectionEnablesBothVendors) {
  auto config = LoadDeviceConfig(
      "metax:\n  resourceCountName: metax-tech.com/gpu\n  resourceVCountName: "
      "metax-tech.com/sgpu\n  resourceVMemoryName: metax-tech.com/vmemory\n  "
      "resourceVCoreName: metax-tech.com/vcore\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_TRUE(config->metax.has_value());
  auto registry = MakeVendorRegistry(*config);
  ASSERT_TRUE(registry.ok()) << registry.status().message();
  ASSERT_NE(registry->Find("Metax-GPU"), nullptr);
  ASSERT_NE(registry->Find("Metax-SGPU"), nullptr);
  EXPECT_EQ(registry->Find("Metax-SGPU")->ResourceNames().count, "metax-tech.com/sgpu");
  // The names come from the section.
  MetaxConfig renamed;
  renamed.resource_count_name = "example.com/gpu";
  renamed.resource_vcount_name = "example.com/sgpu";
  DeviceConfig custom;
  custom.metax = renamed;
  auto custom_registry = MakeVendorRegistry(custom);
  ASSERT_TRUE(custom_registry.ok());
  auto r = custom_registry->Find("Metax-GPU")->RequestFromResources({{"example.com/gpu", "1"}}, {});
  ASSERT_TRUE(r.ok() && r->has_value());
  // A section that fails validation is refused.
  DeviceConfig invalid;
  invalid.metax = MetaxConfig{};
  invalid.metax->resource_vcount_name = "not a resource name";
  EXPECT_FALSE(MakeVendorRegistry(invalid).ok());
  // Without the section neither vendor exists.
  auto none = MakeVendorRegistry(DeviceConfig{});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->Find("Metax-GPU"), nullptr);
  EXPECT_EQ(none->Find("Metax-SGPU"), nullptr);
}

}  // namespace
}  // namespace hami
