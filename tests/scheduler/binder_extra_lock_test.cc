// The binder takes a vendor's own node lock (Vendor::ExtraNodeLockAnnotation; Cambricon's
// cambricon.com/dsmlu.lock) after HAMi's, as HAMi's LockNode does per device type: set to now in
// RFC 3339 when absent or older than the vendor's expiry, refused while young or unreadable,
// and removed again when the Binding fails.
#include <gtest/gtest.h>

#include "device/annotations.h"
#include "device/cambricon.h"
#include "device/codec.h"
#include "device/time_format.h"
#include "scheduler/binder.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

constexpr int64_t kNow = 1735830245;  // 2025-01-02T15:04:05Z

DeviceConfig WithCambricon() {
  DeviceConfig config = DefaultDeviceConfig();
  config.cambricon = CambriconConfig{};
  return config;
}

class BinderExtraLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = server_.Start();
    ASSERT_TRUE(url.ok()) << url.status().message();
    client_ = testing::TestClient(*url, 2);
    ASSERT_TRUE(
        server_.Put({{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "node-a"}}}})
            .ok());
    binder_ =
        std::make_unique<Binder>(*client_, registry_, ledger_, BindOptions{}, [] { return kNow; });
  }

  // A pod /filter placed on node-a with devices of `vendor`.
  std::string AddPod(const std::string& name, const std::string& vendor) {
    auto stored =
        server_.Put({{"kind", "Pod"},
                     {"apiVersion", "v1"},
                     {"metadata", {{"name", name}, {"namespace", "default"}}},
                     {"spec", {{"containers", nlohmann::json::array({{{"name", "c"}}})}}}});
    EXPECT_TRUE(stored.ok());
    const std::string uid = (*stored)["metadata"]["uid"].get<std::string>();
    PodAllocation allocation;
    allocation.uid = uid;
    allocation.ns = "default";
    allocation.name = name;
    allocation.node = "node-a";
    if (vendor == "MLU") {
      allocation.by_vendor["MLU"] = {{{"node-a-cambricon-mlu-1", "MLU", 5120, 10}}};
    } else {
      allocation.by_vendor["NVIDIA"] = {{{"GPU-a", "NVIDIA", 1000, 10}}};
    }
    allocation.in_flight = true;
    allocation.decision_written = false;
    allocation.decided_unix_seconds = kNow - 1;
    ledger_.AddPod(allocation);
    return uid;
  }

  nlohmann::json NodeAnnotations() {
    auto node = server_.Get("nodes", "", "node-a");
    return (*node)["metadata"].value("annotations", nlohmann::json::object());
  }

  void SetDsmluLock(const std::string& value) {
    auto node = *server_.Get("nodes", "", "node-a");
    node["metadata"]["annotations"][kCambriconLockAnnotation] = value;
    ASSERT_TRUE(server_.Put(node).ok());
  }

  ExtenderBindingArgs Args(const std::string& name, const std::string& uid) {
    return ExtenderBindingArgs{name, "default", uid, "node-a"};
  }

  fakes::FakeApiServer server_;
  std::unique_ptr<kube::KubeClient> client_;
  VendorRegistry registry_ = *MakeVendorRegistry(WithCambricon());
  UsageLedger ledger_;
  std::unique_ptr<Binder> binder_;
};

TEST_F(BinderExtraLockTest, SetsTheDsmluLockWithHamisNodeLock) {
  const std::string uid = AddPod("mlu", "MLU");
  EXPECT_EQ(binder_->Bind(Args("mlu", uid)), "");
  const nlohmann::json annotations = NodeAnnotations();
  EXPECT_EQ(annotations[kCambriconLockAnnotation], "2025-01-02T15:04:05Z");
  EXPECT_TRUE(annotations.contains(kNodeLockAnnotation));
  auto pod = *server_.Get("pods", "default", "mlu");
  EXPECT_EQ(pod["spec"]["nodeName"], "node-a");
  EXPECT_EQ(pod["metadata"]["annotations"]["CAMBRICON_DSMLU_PROFILE"], "1_10_20");
  EXPECT_EQ(pod["metadata"]["annotations"]["CAMBRICON_DSMLU_ASSIGNED"], "false");
}

TEST_F(BinderExtraLockTest, OtherVendorsPodsLeaveItAlone) {
  const std::string uid = AddPod("gpu", "NVIDIA");
  SetDsmluLock("2025-01-02T15:04:00Z");  // young, but not this pod's business
  EXPECT_EQ(binder_->Bind(Args("gpu", uid)), "");
  EXPECT_EQ(NodeAnnotations()[kCambriconLockAnnotation], "2025-01-02T15:04:00Z");
}

TEST_F(BinderExtraLockTest, AYoungOrUnreadableLockRefusesTheBindAndFreesHamisLock) {
  for (const std::string held : {"2025-01-02T15:02:05Z",       // exactly 2 minutes: still held
                                 "2025-01-02T16:04:05+01:00",  // now, in another zone
                                 "yesterday"}) {
    SetDsmluLock(held);
    const std::string name = "mlu-" + std::to_string(held.size());
    const std::string uid = AddPod(name, "MLU");
    server_.ClearRequests();
    const std::string error = binder_->Bind(Args(name, uid));
    EXPECT_NE(error.find("cambricon.com/dsmlu.lock"), std::string::npos) << error;
    if (held == "yesterday") {
      EXPECT_NE(error.find("unreadable"), std::string::npos) << error;
    } else {
      EXPECT_NE(error.find("is locked by"), std::string::npos) << error;
    }
    const nlohmann::json annotations = NodeAnnotations();
    EXPECT_EQ(annotations[kCambriconLockAnnotation], held);
    EXPECT_FALSE(annotations.contains(kNodeLockAnnotation)) << annotations.dump();
    EXPECT_FALSE(ledger_.GetPod(uid).has_value());  // filtered again by kube-scheduler
    EXPECT_FALSE((*server_.Get("pods", "default", name))["spec"].contains("nodeName"));
    EXPECT_EQ(server_.RequestCount("create", "/binding"), 0);
    EXPECT_EQ(server_.RequestCount("create", "/events"), 1);
  }
}

TEST_F(BinderExtraLockTest, AnExpiredLockIsTakenOver) {
  SetDsmluLock("2025-01-02T15:02:04Z");  // 2 minutes and 1 second old
  const std::string uid = AddPod("mlu", "MLU");
  EXPECT_EQ(binder_->Bind(Args("mlu", uid)), "");
  EXPECT_EQ(NodeAnnotations()[kCambriconLockAnnotation], "2025-01-02T15:04:05Z");
}

TEST_F(BinderExtraLockTest, AFailedBindingRemovesTheDsmluLockAgain) {
  const std::string uid = AddPod("mlu", "MLU");
  server_.FailNext(-1, 500, "create", "/binding");  // every attempt, until cleared
  const std::string error = binder_->Bind(Args("mlu", uid));
  EXPECT_NE(error.find("bind pod default/mlu"), std::string::npos) << error;
  const nlohmann::json annotations = NodeAnnotations();
  EXPECT_FALSE(annotations.contains(kCambriconLockAnnotation)) << annotations.dump();
  EXPECT_FALSE(annotations.contains(kNodeLockAnnotation)) << annotations.dump();
  server_.ClearFaults();
  // The next bind of the pod finds the node free.
  const std::string again = AddPod("mlu-2", "MLU");
  EXPECT_EQ(binder_->Bind(Args("mlu-2", again)), "");
}

}  // namespace
}  // namespace hami::scheduler
