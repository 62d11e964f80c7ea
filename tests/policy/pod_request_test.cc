#include "policy/pod_request.h"

#include <gtest/gtest.h>

#include "device/config.h"
#include "device/nvidia.h"

namespace hami::policy {
namespace {

class BuildPodRequestTest : public ::testing::Test {
 protected:
  NvidiaVendor vendor_{NvidiaConfig{}};
};

TEST_F(BuildPodRequestTest, InitContainersFirstAndEveryContainerGetsAnEntry) {
  std::vector<ContainerResources> init = {{{}, {}}};
  std::vector<ContainerResources> apps = {
      {{{"nvidia.com/gpu", "2"}, {"nvidia.com/gpumem", "3000"}, {"nvidia.com/gpucores", "30"}}, {}},
      {{}, {{"cpu", "1"}}}};
  auto pod = BuildPodRequest(vendor_, init, apps, {});
  ASSERT_TRUE(pod.ok()) << pod.status().message();
  ASSERT_EQ(pod->containers.size(), 3u);
  EXPECT_EQ(pod->init_containers, 1);
  EXPECT_EQ(pod->containers[0].count, 0);
  EXPECT_EQ(pod->containers[1].count, 2);
  EXPECT_EQ(pod->containers[1].memory_mib, 3000);
  EXPECT_EQ(pod->containers[1].cores_percent, 30);
  EXPECT_EQ(pod->containers[1].type, "NVIDIA");
  EXPECT_EQ(pod->containers[2].count, 0);
  EXPECT_TRUE(pod->WantsDevices());
}

TEST_F(BuildPodRequestTest, AnnotationsBecomeSelectorsAndOverrides) {
  std::vector<ContainerResources> apps = {{{{"nvidia.com/gpu", "1"}}, {}}};
  Annotations annotations = {{"nvidia.com/use-gputype", "A100, V100"},
                             {"nvidia.com/numa-bind", "true"},
                             {"hami.io/node-scheduler-policy", "spread"},
                             {"hami.io/gpu-scheduler-policy", "binpack,numa"},
                             {"hami.io/device-scoring-weights", "slot=0,core=2,memory=1"}};
  auto pod = BuildPodRequest(vendor_, {}, apps, annotations);
  ASSERT_TRUE(pod.ok()) << pod.status().message();
  EXPECT_EQ(pod->selectors.use_types, (std::vector<std::string>{"A100", "V100"}));
  EXPECT_TRUE(pod->selectors.numa_bind);
  EXPECT_EQ(pod->node_policy, NodePolicy::kSpread);
  ASSERT_TRUE(pod->gpu_policy.has_value());
  EXPECT_EQ(pod->gpu_policy->chain,
            (std::vector<GpuPolicyKey>{GpuPolicyKey::kBinpack, GpuPolicyKey::kNuma}));
  EXPECT_EQ(pod->weights.core, 2);
}

TEST_F(BuildPodRequestTest, BadInputNamesTheContainerOrAnnotation) {
  std::vector<ContainerResources> apps = {{{}, {}}, {{{"nvidia.com/gpu", "1.5"}}, {}}};
  auto pod = BuildPodRequest(vendor_, {}, apps, {});
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.status().message().rfind("container 1: ", 0), 0u) << pod.status().message();

  std::vector<ContainerResources> one = {{{{"nvidia.com/gpu", "1"}}, {}}};
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"hami.io/node-scheduler-policy", "fullest"},
           {"hami.io/gpu-scheduler-policy", "best"},
           {"hami.io/device-scoring-weights", "slot=1"},
           {"nvidia.com/numa-bind", "maybe"}}) {
    auto bad = BuildPodRequest(vendor_, {}, one, {{key, value}});
    ASSERT_FALSE(bad.ok()) << key;
    EXPECT_NE(bad.status().message().find(key == "nvidia.com/numa-bind" ? "numa" : key),
              std::string::npos)
        << bad.status().message();
  }
}

TEST(PodHostRequestTest, KubeSchedulerRuleRequestsFallBackToLimitsAndRoundUp) {
  // Apps add up, the largest init container competes with them, overhead comes on top.
  std::vector<ContainerResources> init = {{{}, {{"cpu", "3"}, {"memory", "100Mi"}}},
                                          {{}, {{"cpu", "500m"}, {"memory", "3Gi"}}}};
  std::vector<ContainerResources> apps = {
      {{}, {{"cpu", "1500m"}, {"memory", "1Gi"}}},
      {{{"cpu", "250m"}, {"memory", "1000000"}}, {}},  // no request: the limit counts
  };
  HostRequest host = PodHostRequest(init, apps, {{"cpu", "100m"}, {"memory", "1Mi"}});
  EXPECT_EQ(host.cpu_milli, 3000 + 100);  // init 3 > apps 1.75
  EXPECT_EQ(host.memory_mib, 3072 + 1);   // init 3 GiB > apps 1 GiB + 0.95 MiB
  host = PodHostRequest({}, apps);
  EXPECT_EQ(host.cpu_milli, 1750);
  EXPECT_EQ(host.memory_mib, 1024 + 1);  // 1000000 bytes rounds up to 1 MiB
  EXPECT_EQ(PodHostRequest({}, {}).cpu_milli, 0);
}

TEST(PodHostRequestTest, UnparsableValuesCountAsZero) {
  std::vector<ContainerResources> apps = {{{}, {{"cpu", "lots"}, {"memory", "-5Gi"}}},
                                          {{}, {{"cpu", "2"}}}};
  HostRequest host = PodHostRequest({}, apps);
  EXPECT_EQ(host.cpu_milli, 2000);
  EXPECT_EQ(host.memory_mib, 0);
}

}  // namespace
}  // namespace hami::policy
