#include "deviceplugin/registration.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "tests/fakes/fake_kubelet.h"

namespace hami::deviceplugin {
namespace {

using std::chrono::milliseconds;

class RegistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Unix socket paths are limited to 107 bytes: keep the directory short.
    char pattern[] = "/tmp/hami_dp_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    kubelet_ = std::make_unique<fakes::FakeKubelet>(dir_);
  }

  RegistrationRequest Request() {
    return RegistrationRequest{kubelet_->socket_path(), "nvidia-gpu.sock", "nvidia.com/gpu", false,
                               true};
  }

  std::string dir_;
  std::unique_ptr<fakes::FakeKubelet> kubelet_;
};

TEST_F(RegistrationTest, RegistersOurSocketAndResourceWithTheApiVersion) {
  ASSERT_TRUE(kubelet_->Start().ok());
  Status registered = RegisterWithKubelet(Request(), milliseconds(2000));
  ASSERT_TRUE(registered.ok()) << registered.message();
  auto seen = kubelet_->Registrations();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].version(), "v1beta1");
  EXPECT_EQ(seen[0].endpoint(), "nvidia-gpu.sock");
  EXPECT_EQ(seen[0].resource_name(), "nvidia.com/gpu");
  EXPECT_FALSE(seen[0].options().pre_start_required());
  EXPECT_TRUE(seen[0].options().get_preferred_allocation_available());
}

TEST_F(RegistrationTest, KubeletRefusalIsAnErrorWithItsMessage) {
  ASSERT_TRUE(kubelet_->Start().ok());
  RegistrationRequest bad = Request();
  bad.resource_name = "gpu";  // not an extended resource name
  Status refused = RegisterWithKubelet(bad, milliseconds(2000));
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("not an extended resource name"), std::string::npos)
      << refused.message();
  kubelet_->RefuseRegistrations("resource nvidia.com/gpu already registered");
  refused = RegisterWithKubelet(Request(), milliseconds(2000));
  EXPECT_NE(refused.message().find("already registered"), std::string::npos) << refused.message();
  EXPECT_TRUE(kubelet_->Registrations().empty());
}

TEST_F(RegistrationTest, NoKubeletIsUnavailableWithinTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  Status missing = RegisterWithKubelet(Request(), milliseconds(300));
  EXPECT_EQ(missing.code(), StatusCode::kUnavailable) << missing.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(RegistrationTest, WaitsForAKubeletThatIsComingBack) {
  // kubelet restarting: its socket appears while we wait.
  std::thread restart([&] {
    std::this_thread::sleep_for(milliseconds(200));
    ASSERT_TRUE(kubelet_->Start().ok());
  });
  Status registered = RegisterWithKubelet(Request(), milliseconds(5000));
  restart.join();
  EXPECT_TRUE(registered.ok()) << registered.message();
  EXPECT_EQ(kubelet_->Registrations().size(), 1u);
}

}  // namespace
}  // namespace hami::deviceplugin
