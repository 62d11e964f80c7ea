#include "deviceplugin/plugin_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <thread>

#include "tests/fakes/fake_kubelet.h"

namespace hami::deviceplugin {
namespace {

DeviceInfo Gpu(const std::string& id, bool healthy, int32_t numa, int32_t count = 3) {
  DeviceInfo d;
  d.id = id;
  d.health = healthy;
  d.numa = numa;
  d.count = count;
  return d;
}

TEST(ReplicaDevicesTest, CountReplicasPerGpuWithItsHealthAndNuma) {
  const std::vector<DeviceInfo> gpus = {Gpu("GPU-a", true, 0), Gpu("GPU-b", false, 1)};
  auto replicas = ReplicaDevices(gpus, /*numa_topology=*/true);
  ASSERT_EQ(replicas.size(), 6u);
  EXPECT_EQ(replicas[0], (AdvertisedDevice{"GPU-a-0", true, 0}));
  EXPECT_EQ(replicas[5], (AdvertisedDevice{"GPU-b-2", false, 1}));
  EXPECT_FALSE(ReplicaDevices(gpus, false)[0].numa.has_value());
}

TEST(ReplicaDevicesTest, EachGpuAdvertisesItsOwnCount) {
  // A T4 shared 10 ways, a MIG GPU with 3 instances, a MIG GPU without any yet.
  const std::vector<DeviceInfo> gpus = {Gpu("GPU-t4", true, 0, 10), Gpu("GPU-mig", true, 0, 3),
                                        Gpu("GPU-empty", true, 0, 0)};
  auto replicas = ReplicaDevices(gpus, false);
  std::vector<std::string> ids;
  for (const AdvertisedDevice& d : replicas) ids.push_back(d.id);
  ASSERT_EQ(ids.size(), 13u);
  EXPECT_EQ(ids[9], "GPU-t4-9");
  EXPECT_EQ(std::vector<std::string>(ids.begin() + 10, ids.end()),
            (std::vector<std::string>{"GPU-mig-0", "GPU-mig-1", "GPU-mig-2"}));
}

TEST(ReplicaDevicesTest, PhysicalIdStripsTheReplicaNumberOnly) {
  EXPECT_EQ(PhysicalId("GPU-0fc3eda5-e98b-a25b-5b0d-3"), "GPU-0fc3eda5-e98b-a25b-5b0d");
  EXPECT_EQ(PhysicalId("GPU-0fc3eda5-e98b"), "GPU-0fc3eda5-e98b") << "not a number: kept";
  EXPECT_EQ(PhysicalId("GPU-a-12"), "GPU-a");
  EXPECT_EQ(PhysicalId("plain"), "plain");
  EXPECT_EQ(PhysicalId("trailing-"), "trailing-");
}

TEST(PreferReplicasTest, MustIncludeFirstThenDistinctGpusThenAny) {
  const std::vector<std::string> available = {"GPU-a-0", "GPU-a-1", "GPU-b-0", "GPU-c-0"};
  EXPECT_EQ(PreferReplicas(available, std::vector<std::string>{"GPU-a-1"}, 3),
            (std::vector<std::string>{"GPU-a-1", "GPU-b-0", "GPU-c-0"}));
  EXPECT_EQ(PreferReplicas(available, {}, 4),
            (std::vector<std::string>{"GPU-a-0", "GPU-b-0", "GPU-c-0", "GPU-a-1"}));
  EXPECT_EQ(PreferReplicas(available, {}, 9).size(), 4u);
}

class PluginServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hami_dp_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    server_ = std::make_unique<PluginServer>(
        dir_ + "/hami.sock", /*preferred_allocation=*/true,
        [this](const v1beta1::AllocateRequest& request) -> Result<v1beta1::AllocateResponse> {
          ++allocations_;
          if (request.container_requests_size() == 0) {
            return FailedPrecondition("no binding pod found on node n1");
          }
          v1beta1::AllocateResponse response;
          (*response.add_container_responses()->mutable_envs())["NVIDIA_VISIBLE_DEVICES"] = "GPU-a";
          return response;
        });
    ASSERT_TRUE(server_->Start().ok());
    kubelet_ = std::make_unique<fakes::FakeKubelet>(dir_);
    stub_ = kubelet_->DialPlugin("hami.sock");
  }

  std::string dir_;
  std::unique_ptr<PluginServer> server_;
  std::unique_ptr<fakes::FakeKubelet> kubelet_;
  std::unique_ptr<v1beta1::DevicePlugin::Stub> stub_;
  std::atomic<int> allocations_{0};
};

TEST_F(PluginServerTest, OptionsAdvertisePreferredAllocation) {
  grpc::ClientContext context;
  v1beta1::DevicePluginOptions options;
  ASSERT_TRUE(stub_->GetDevicePluginOptions(&context, v1beta1::Empty(), &options).ok());
  EXPECT_TRUE(options.get_preferred_allocation_available());
  EXPECT_FALSE(options.pre_start_required());
}

TEST_F(PluginServerTest, ListAndWatchSendsTheListAndEveryChangeUntilStopped) {
  server_->SetDevices({{"GPU-a-0", true, 0}, {"GPU-a-1", true, 0}});
  grpc::ClientContext context;
  auto reader = stub_->ListAndWatch(&context, v1beta1::Empty());
  v1beta1::ListAndWatchResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_EQ(response.devices_size(), 2);
  EXPECT_EQ(response.devices(0).id(), "GPU-a-0");
  EXPECT_EQ(response.devices(0).health(), "Healthy");
  EXPECT_EQ(response.devices(0).topology().nodes(0).id(), 0);

  server_->SetDevices({{"GPU-a-0", false, 0}, {"GPU-a-1", false, 0}});  // the GPU failed
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.devices(1).health(), "Unhealthy");
  EXPECT_EQ(server_->open_streams(), 1);

  server_->Stop();  // as on plugin shutdown: the stream ends, kubelet re-dials later
  EXPECT_FALSE(reader->Read(&response));
}

TEST_F(PluginServerTest, AllocateDelegatesAndRefusalsReachKubeletAsErrors) {
  v1beta1::AllocateRequest request;
  request.add_container_requests()->add_devices_ids("GPU-a-0");
  v1beta1::AllocateResponse response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Allocate(&context, request, &response).ok());
    EXPECT_EQ(response.container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), "GPU-a");
  }
  grpc::ClientContext context;
  const grpc::Status refused = stub_->Allocate(&context, v1beta1::AllocateRequest(), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(refused.error_message(), "no binding pod found on node n1");
  EXPECT_EQ(allocations_.load(), 2);
}

TEST_F(PluginServerTest, PreferredAllocationPerContainer) {
  v1beta1::PreferredAllocationRequest request;
  auto* container = request.add_container_requests();
  for (const char* id : {"GPU-a-0", "GPU-a-1", "GPU-b-0"}) container->add_available_deviceids(id);
  container->set_allocation_size(2);
  v1beta1::PreferredAllocationResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetPreferredAllocation(&context, request, &response).ok());
  ASSERT_EQ(response.container_responses_size(), 1);
  EXPECT_EQ(response.container_responses(0).deviceids(0), "GPU-a-0");
  EXPECT_EQ(response.container_responses(0).deviceids(1), "GPU-b-0");
}

}  // namespace
}  // namespace hami::deviceplugin
