// Typed views over real-shaped Pod/Node/Lease JSON, tolerance of malformed fields, and the
// patch/binding/event builders.
#include "kube/objects.h"

#include <gtest/gtest.h>

#include "kube/watch_stream.h"

namespace hami::kube {
namespace {

using nlohmann::json;

const json kPod = json::parse(R"({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {
    "name": "gpu-pod", "namespace": "team-a", "uid": "0b1c", "resourceVersion": "4711",
    "labels": {"app": "train"},
    "annotations": {"hami.io/vgpu-node": "node-1", "weird": 5},
    "deletionTimestamp": "2025-01-02T15:04:05Z",
    "managedFields": [{"manager": "kubectl"}]
  },
  "spec": {
    "nodeName": "node-1", "schedulerName": "hami-scheduler",
    "initContainers": [{"name": "init", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
    "containers": [
      {"name": "main", "image": "cuda",
       "resources": {"limits": {"nvidia.com/gpu": "2", "nvidia.com/gpumem": "3000", "cpu": 1},
                     "requests": {"cpu": "500m"}}},
      {"name": "sidecar"}
    ]
  },
  "status": {
    "phase": "Running",
    "initContainerStatuses": [
      {"name": "init", "ready": false, "restartCount": 0,
       "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
    "containerStatuses": [
      {"name": "main", "ready": true, "restartCount": 2, "state": {"running": {}}},
      {"name": "sidecar", "ready": false, "restartCount": "x",
       "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
  }
})");

TEST(PodViewTest, ReadsRealShapedPod) {
  PodView pod(kPod);
  EXPECT_EQ(pod.Namespace(), "team-a");
  EXPECT_EQ(pod.Name(), "gpu-pod");
  EXPECT_EQ(pod.Uid(), "0b1c");
  EXPECT_EQ(pod.ResourceVersion(), "4711");
  EXPECT_EQ(pod.Key(), "team-a/gpu-pod");
  EXPECT_EQ(pod.Labels(), (StringMap{{"app", "train"}}));
  EXPECT_EQ(pod.Annotations(), (StringMap{{"hami.io/vgpu-node", "node-1"}}));  // 5 skipped
  EXPECT_EQ(pod.Annotation("hami.io/vgpu-node"), "node-1");
  EXPECT_EQ(pod.Annotation("weird"), std::nullopt);
  EXPECT_EQ(pod.Annotation("absent"), std::nullopt);
  EXPECT_EQ(pod.Label("app"), "train");
  EXPECT_TRUE(pod.IsTerminating());
  EXPECT_EQ(pod.NodeName(), "node-1");
  EXPECT_EQ(pod.SchedulerName(), "hami-scheduler");
  EXPECT_EQ(pod.Phase(), "Running");

  auto containers = pod.Containers();
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0].name, "main");
  EXPECT_EQ(containers[0].limits,
            (StringMap{{"nvidia.com/gpu", "2"}, {"nvidia.com/gpumem", "3000"}}));
  EXPECT_EQ(containers[0].requests, (StringMap{{"cpu", "500m"}}));
  EXPECT_TRUE(containers[1].limits.empty());
  auto init = pod.InitContainers();
  ASSERT_EQ(init.size(), 1u);
  EXPECT_EQ(init[0].limits.at("nvidia.com/gpu"), "1");

  auto init_statuses = pod.InitContainerStatuses();
  ASSERT_EQ(init_statuses.size(), 1u);
  EXPECT_EQ(init_statuses[0].state, "terminated");
  EXPECT_EQ(init_statuses[0].exit_code, 0);
  EXPECT_EQ(init_statuses[0].reason, "Completed");
  auto statuses = pod.ContainerStatuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_TRUE(statuses[0].ready);
  EXPECT_EQ(statuses[0].restart_count, 2);
  EXPECT_EQ(statuses[0].state, "running");
  EXPECT_EQ(statuses[0].exit_code, std::nullopt);
  EXPECT_EQ(statuses[1].restart_count, 0);  // wrong type reads as default
  EXPECT_EQ(statuses[1].state, "waiting");
  EXPECT_EQ(statuses[1].reason, "CrashLoopBackOff");
}

TEST(PodViewTest, MalformedShapesReadAsMissing) {
  for (const char* text : {"null", "[]", "\"pod\"", "{}", R"({"metadata": 3, "spec": []})",
                           R"({"metadata": {"name": 1, "labels": [], "annotations": "x"},
                               "spec": {"containers": {"a": 1}, "nodeName": false},
                               "status": {"containerStatuses": [1, "x", {"state": 7}]}})"}) {
    json j = json::parse(text);
    PodView pod(j);
    EXPECT_EQ(pod.Name(), "") << text;
    EXPECT_EQ(pod.Namespace(), "");
    EXPECT_TRUE(pod.Labels().empty());
    EXPECT_TRUE(pod.Annotations().empty());
    EXPECT_EQ(pod.Annotation("x"), std::nullopt);
    EXPECT_EQ(pod.NodeName(), "");
    EXPECT_TRUE(pod.Containers().empty());
    EXPECT_FALSE(pod.IsTerminating());
    for (const auto& s : pod.ContainerStatuses()) EXPECT_EQ(s.state, "");
    EXPECT_EQ(pod.Key(), "");
  }
}

TEST(NodeViewTest, ReadsNode) {
  json node = json::parse(R"({
    "kind": "Node",
    "metadata": {"name": "node-1", "resourceVersion": "12",
                 "annotations": {"hami.io/node-nvidia-register": "GPU-0,10,..."}},
    "spec": {"unschedulable": true},
    "status": {"allocatable": {"nvidia.com/gpu": "20", "cpu": "8"},
               "capacity": {"nvidia.com/gpu": "20"},
               "conditions": [{"type": "MemoryPressure", "status": "False"},
                              {"type": "Ready", "status": "True"}]}})");
  NodeView view(node);
  EXPECT_EQ(view.Name(), "node-1");
  EXPECT_EQ(view.Key(), "node-1");
  EXPECT_EQ(view.ResourceVersion(), "12");
  EXPECT_EQ(view.Annotation("hami.io/node-nvidia-register"), "GPU-0,10,...");
  EXPECT_EQ(view.Allocatable(), (StringMap{{"cpu", "8"}, {"nvidia.com/gpu", "20"}}));
  EXPECT_EQ(view.Capacity().size(), 1u);
  EXPECT_TRUE(view.Unschedulable());
  EXPECT_TRUE(view.Ready());

  json bare = {{"metadata", {{"name", "n"}}}, {"spec", {{"unschedulable", "true"}}}};
  NodeView bare_view(bare);
  EXPECT_FALSE(bare_view.Unschedulable());  // a string is not a JSON bool
  EXPECT_FALSE(bare_view.Ready());
  EXPECT_TRUE(bare_view.Allocatable().empty());
}

// Vendors read node labels (Moore Threads' mthreads.com/sgpu.cores, AWS Neuron's instance
// type); a label whose value is not a string is skipped, not fatal.
TEST(NodeViewTest, ReadsLabels) {
  json node = json::parse(R"({"metadata": {"name": "n", "labels": {
    "node.kubernetes.io/instance-type": "trn1.32xlarge", "mthreads.com/sgpu.cores": "0-2-3",
    "odd": 7}}})");
  EXPECT_EQ(NodeView(node).Labels(),
            (StringMap{{"mthreads.com/sgpu.cores", "0-2-3"},
                       {"node.kubernetes.io/instance-type", "trn1.32xlarge"}}));
  json bare = {{"metadata", {{"name", "n"}, {"labels", "not-a-map"}}}};
  EXPECT_TRUE(NodeView(bare).Labels().empty());
}

TEST(LeaseViewTest, ReadsLease) {
  json lease = json::parse(R"({"metadata": {"name": "hami-scheduler", "namespace": "kube-system"},
    "spec": {"holderIdentity": "sched-0_abc", "leaseDurationSeconds": 15,
             "renewTime": "2025-01-02T15:04:05.000000Z"}})");
  LeaseView view(lease);
  EXPECT_EQ(view.HolderIdentity(), "sched-0_abc");
  EXPECT_EQ(view.LeaseDurationSeconds(), 15);
  EXPECT_EQ(view.RenewTime(), "2025-01-02T15:04:05.000000Z");
  EXPECT_EQ(view.AcquireTime(), "");
}

TEST(PatchTest, AnnotationsPatchWithPreconditionAndDeletes) {
  json patch = AnnotationsPatch(
      {{"hami.io/mutex.lock", "2025-01-02T15:04:05Z,default,gpu-pod"}, {"old", std::nullopt}},
      "4711");
  EXPECT_EQ(patch, json::parse(R"({"metadata": {"annotations": {
      "hami.io/mutex.lock": "2025-01-02T15:04:05Z,default,gpu-pod", "old": null},
      "resourceVersion": "4711"}})"));
  json unconditional = AnnotationsPatch({{"a", "b"}});
  EXPECT_FALSE(unconditional["metadata"].contains("resourceVersion"));
  EXPECT_EQ(LabelsPatch({{"hami.io/scheduler-role",
                          "leader"}})["metadata"]["labels"]["hami.io/scheduler-role"],
            "leader");
}

TEST(PatchTest, BindingBody) {
  EXPECT_EQ(BindingBody("ns", "p", "u", "n"), json::parse(R"({
      "apiVersion": "v1", "kind": "Binding",
      "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
      "target": {"apiVersion": "v1", "kind": "Node", "name": "n"}})"));
  EXPECT_FALSE(BindingBody("ns", "p", "", "n")["metadata"].contains("uid"));
}

TEST(TimeTest, FormatsRfc3339Utc) {
  auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1735830245)) +
           std::chrono::microseconds(123456);
  EXPECT_EQ(FormatRfc3339Utc(t), "2025-01-02T15:04:05Z");
  EXPECT_EQ(FormatRfc3339Utc(t, true), "2025-01-02T15:04:05.123456Z");
}

TEST(WatchDecoderTest, SplitsLinesAcrossChunks) {
  WatchDecoder decoder;
  std::string stream =
      "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n\n"
      "{\"type\":\"DELETED\",\"object\":{}}\r\n";
  std::vector<std::string> types;
  for (char c : stream) {  // the worst case: one byte at a time
    auto events = decoder.Feed(std::string_view(&c, 1));
    ASSERT_TRUE(events.ok()) << events.status().message();
    for (auto& e : *events) types.push_back(e.type);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "DELETED"}));
  EXPECT_EQ(decoder.Pending(), 0u);

  auto partial = decoder.Feed("{\"type\":");
  ASSERT_TRUE(partial.ok());
  EXPECT_TRUE(partial->empty());
  EXPECT_EQ(decoder.Pending(), 8u);
}

TEST(WatchDecoderTest, RejectsMalformedLines) {
  for (const char* line :
       {"garbage\n", "[1]\n", "{\"object\":{}}\n", "{\"type\":1,\"object\":{}}\n",
        "{\"type\":\"ADDED\",\"object\":[]}\n"}) {
    WatchDecoder decoder;
    EXPECT_FALSE(decoder.Feed(line).ok()) << line;
  }
  WatchDecoder small(16);
  EXPECT_FALSE(small.Feed(std::string(64, 'x')).ok());
}

}  // namespace
}  // namespace hami::kube
