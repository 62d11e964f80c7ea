#include "sim/extender_replay.h"

#include <gtest/gtest.h>

#include "device/annotations.h"
#include "tests/sim/openb_data.h"

namespace hami::sim {
namespace {

TEST(ToPodJsonTest, TracePodBecomesTheResourcesAndAnnotationHamiReads) {
  SimPod pod;
  pod.name = "job";
  pod.cpu_milli = 8000;
  pod.memory_mib = 30000;
  pod.num_gpu = 1;
  pod.gpu_milli = 455;
  pod.gpu_spec = {"V100M16", "V100M32"};
  nlohmann::json json = ToPodJson(pod, "u7");
  EXPECT_EQ(json["metadata"]["uid"], "u7");
  const nlohmann::json& resources = json["spec"]["containers"][0]["resources"];
  EXPECT_EQ(resources["limits"]["nvidia.com/gpu"], "1");
  EXPECT_EQ(resources["limits"]["nvidia.com/gpucores"], "46");  // ceil(455 / 10)
  EXPECT_EQ(resources["limits"]["nvidia.com/gpumem-percentage"], "46");
  EXPECT_EQ(resources["requests"]["cpu"], "8000m");
  EXPECT_EQ(resources["requests"]["memory"], "30000Mi");
  EXPECT_EQ(json["metadata"]["annotations"][kNvidiaUseGpuTypeAnnotation], "V100M16,V100M32");
  pod.num_gpu = 0;
  EXPECT_TRUE(ToPodJson(pod, "u8")["spec"]["containers"][0]["resources"]["limits"].empty());
}

TEST(RunExtenderReplayTest, SyntheticReplayIsDeterministicVerifiedAndRecorded) {
  Cluster cluster = MakeSyntheticCluster(7, 60);
  Workload workload = MakeSyntheticWorkload(cluster, 7, 600);
  for (const std::string& name : PolicyNames()) {
    ReplayOptions options;
    options.seed = 42;
    options.verify = true;  // no device and no host over-committed at the end
    std::vector<RecordedArrival> record;
    auto a = RunExtenderReplay(cluster, workload, std::move(*MakePolicy(name, workload)), options,
                               &record);
    ASSERT_TRUE(a.ok()) << name << ": " << a.status().message();
    auto b = RunExtenderReplay(cluster, workload, std::move(*MakePolicy(name, workload)), options);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->unallocated_at_100, b->unallocated_at_100) << name;
    EXPECT_EQ(a->pods_failed, b->pods_failed) << name;
    EXPECT_GT(a->pods_failed, 0) << name;
    ASSERT_EQ(record.size(), static_cast<size_t>(a->pods_total));
    int64_t placed = 0, via_extender = 0;
    for (const RecordedArrival& r : record) {
      placed += r.node.empty() ? 0 : 1;
      via_extender += r.via_extender ? 1 : 0;
      if (r.via_extender && !r.node.empty()) {
        EXPECT_FALSE(r.devices.empty()) << r.uid;
        // The chosen node was one of kube-scheduler's candidates.
        EXPECT_NE(std::find(r.candidates.begin(), r.candidates.end(), r.node), r.candidates.end());
      }
    }
    EXPECT_EQ(placed, a->pods_total - a->pods_failed);
    EXPECT_GT(via_extender, 0);
    EXPECT_LT(via_extender, a->pods_total) << "the synthetic workload has CPU-only pods";
  }
}

TEST(RunExtenderReplayTest, OpenbDefaultHamiFragLearnsOnlineAndBeatsBinpackAndFgd) {
  std::optional<testing::OpenbTrace> openb = testing::LoadOpenb();
  if (!openb) GTEST_SKIP() << "HAMI_SHARED_DATA/openb not available";
  const Cluster* cluster = &openb->cluster;
  const Workload* workload = &openb->workload;
  ReplayOptions options;
  options.seed = 42;
  options.record_curve = false;
  auto run = [&](const std::string& name) {
    auto result =
        RunExtenderReplay(*cluster, *workload, std::move(*MakePolicy(name, *workload)), options);
    EXPECT_TRUE(result.ok()) << result.status().message();
    return result.ok() ? result->unallocated_at_100 : 100.0;
  };
  const double frag = run("hami-frag");
  EXPECT_LT(frag, 5.6);
  EXPECT_LT(frag, run("hami-binpack") - 3);
  EXPECT_LT(frag, run("fgd") - 3);
}

}  // namespace
}  // namespace hami::sim
