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

}  // namespace
}  // namespace hami::policy
