#include "scheduler/requeue.h"

#include <gtest/gtest.h>

#include "scheduler/state_sync.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

nlohmann::json Parked(const std::string& name, const std::string& reason) {
  nlohmann::json pod = testing::PodObject(name, {{"nvidia.com/gpu", "1"}});
  pod["spec"]["schedulerName"] = "hami-scheduler";
  pod["status"] = {{"phase", "Pending"},
                   {"conditions", nlohmann::json::array({{{"type", "PodScheduled"},
                                                          {"status", "False"},
                                                          {"reason", reason},
                                                          {"message",
                                                           "Post \"https://127.0.0.1:443/filter\": "
                                                           "connection refused"}}})}};
  return pod;
}

TEST(RequeueTest, OnlyPodsParkedAfterAnExtenderErrorAreRequeued) {
  EXPECT_TRUE(ParkedAfterSchedulerError(Parked("p", "SchedulerError"), "hami-scheduler"));
  EXPECT_FALSE(ParkedAfterSchedulerError(Parked("p", "Unschedulable"), "hami-scheduler"))
      << "a pod that does not fit waits for a change in the cluster";
  EXPECT_FALSE(ParkedAfterSchedulerError(Parked("p", "SchedulerError"), "other-scheduler"));
  nlohmann::json bound = Parked("p", "SchedulerError");
  bound["spec"]["nodeName"] = "n1";
  EXPECT_FALSE(ParkedAfterSchedulerError(bound, "hami-scheduler"));
  nlohmann::json deleting = Parked("p", "SchedulerError");
  deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_FALSE(ParkedAfterSchedulerError(deleting, "hami-scheduler"));
  nlohmann::json fresh = Parked("p", "SchedulerError");
  fresh["status"].erase("conditions");
  EXPECT_FALSE(ParkedAfterSchedulerError(fresh, "hami-scheduler"));
  EXPECT_FALSE(ParkedAfterSchedulerError(nlohmann::json("garbage"), "hami-scheduler"));
}

TEST(RequeueTest, TheWatchCacheKeepsWhatTheDecisionReads) {
  // The daemon decides from trimmed pods: schedulerName and the PodScheduled condition survive.
  VendorRegistry registry = *MakeVendorRegistry(DefaultDeviceConfig());
  nlohmann::json pod = Parked("p", "SchedulerError");
  pod["status"]["conditions"].push_back({{"type", "Ready"}, {"status", "False"}});
  TrimPodForCache(registry, pod);
  EXPECT_TRUE(ParkedAfterSchedulerError(pod, "hami-scheduler")) << pod.dump();
  EXPECT_EQ(pod["status"]["conditions"].size(), 1u);
}

TEST(RequeueTest, ParkedPodsAreStampedOthersUntouched) {
  fakes::FakeApiServer api;
  auto url = api.Start();
  ASSERT_TRUE(url.ok());
  auto client = testing::TestClient(*url, 1);
  std::vector<std::shared_ptr<const nlohmann::json>> pods;
  for (const auto& [name, reason] : std::vector<std::pair<std::string, std::string>>{
           {"parked", "SchedulerError"}, {"nofit", "Unschedulable"}}) {
    auto stored = api.Put(Parked(name, reason));
    ASSERT_TRUE(stored.ok());
    pods.push_back(std::make_shared<const nlohmann::json>(*stored));
  }
  pods.push_back(nullptr);
  EXPECT_EQ(RequeueParkedPods(*client, pods, "hami-scheduler", 1764000000), 1);
  EXPECT_EQ(
      (*api.Get("pods", "default", "parked"))["metadata"]["annotations"][kRequeueTimeAnnotation],
      "1764000000");
  EXPECT_FALSE((*api.Get("pods", "default", "nofit"))["metadata"].contains("annotations"));
}

}  // namespace
}  // namespace hami::scheduler
