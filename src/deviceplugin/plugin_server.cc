#include "deviceplugin/plugin_server.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <set>

namespace hami::deviceplugin {

std::vector<AdvertisedDevice> ReplicaDevices(std::span<const DeviceInfo> gpus, bool numa_topology) {
  std::vector<AdvertisedDevice> out;
  for (const DeviceInfo& gpu : gpus) {
    for (int32_t i = 0; i < gpu.count; ++i) {
      AdvertisedDevice d;
      d.id = gpu.id + "-" + std::to_string(i);
      d.healthy = gpu.health;
      if (numa_topology) d.numa = gpu.numa;
      out.push_back(std::move(d));
    }
  }
  return out;
}

std::string PhysicalId(const std::string& replica_id) {
  const size_t dash = replica_id.rfind('-');
  if (dash == std::string::npos || dash + 1 == replica_id.size()) return replica_id;
  for (size_t i = dash + 1; i < replica_id.size(); ++i) {
    if (replica_id[i] < '0' || replica_id[i] > '9') return replica_id;
  }
  return replica_id.substr(0, dash);
}

std::vector<std::string> PreferReplicas(std::span<const std::string> available,
                                        std::span<const std::string> must_include, int size) {
  std::vector<std::string> chosen(must_include.begin(), must_include.end());
  std::set<std::string> taken(chosen.begin(), chosen.end());
  std::set<std::string> gpus;
  for (const std::string& id : chosen) gpus.insert(PhysicalId(id));
  auto take = [&](bool distinct_gpu) {
    for (const std::string& id : available) {
      if (static_cast<int>(chosen.size()) >= size) return;
      if (taken.count(id) > 0) continue;
      if (distinct_gpu && gpus.count(PhysicalId(id)) > 0) continue;
      chosen.push_back(id);
      taken.insert(id);
      gpus.insert(PhysicalId(id));
    }
  };
  take(/*distinct_gpu=*/true);
  take(/*distinct_gpu=*/false);
  return chosen;
}

class PluginServer::Service final : public v1beta1::DevicePlugin::Service {
 public:
  explicit Service(PluginServer& owner) : owner_(owner) {}

  grpc::Status GetDevicePluginOptions(grpc::ServerContext*, const v1beta1::Empty*,
                                      v1beta1::DevicePluginOptions* options) override {
    options->set_pre_start_required(false);
    options->set_get_preferred_allocation_available(owner_.preferred_allocation_);
    return grpc::Status::OK;
  }

  grpc::Status ListAndWatch(grpc::ServerContext* context, const v1beta1::Empty*,
                            grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) override {
    std::unique_lock<std::mutex> lock(owner_.mu_);
    ++owner_.open_streams_;
    uint64_t sent = 0;
    bool first = true;
    while (!owner_.stopping_ && !context->IsCancelled()) {
      if (first || owner_.version_ != sent) {
        first = false;
        sent = owner_.version_;
        v1beta1::ListAndWatchResponse response;
        for (const AdvertisedDevice& d : owner_.devices_) {
          v1beta1::Device* device = response.add_devices();
          device->set_id(d.id);
          device->set_health(d.healthy ? kHealthy : kUnhealthy);
          if (d.numa) device->mutable_topology()->add_nodes()->set_id(*d.numa);
        }
        lock.unlock();
        const bool written = writer->Write(response);
        lock.lock();
        if (!written) break;  // kubelet went away
      }
      // Wake up now and then to notice a cancelled stream.
      owner_.cv_.wait_for(lock, std::chrono::milliseconds(500));
    }
    --owner_.open_streams_;
    owner_.cv_.notify_all();
    return grpc::Status::OK;
  }

  grpc::Status GetPreferredAllocation(grpc::ServerContext*,
                                      const v1beta1::PreferredAllocationRequest* request,
                                      v1beta1::PreferredAllocationResponse* response) override {
    for (const auto& container : request->container_requests()) {
      const std::vector<std::string> available(container.available_deviceids().begin(),
                                               container.available_deviceids().end());
      const std::vector<std::string> must(container.must_include_deviceids().begin(),
                                          container.must_include_deviceids().end());
      auto* out = response->add_container_responses();
      for (const std::string& id : PreferReplicas(available, must, container.allocation_size())) {
        out->add_deviceids(id);
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Allocate(grpc::ServerContext*, const v1beta1::AllocateRequest* request,
                        v1beta1::AllocateResponse* response) override {
    Result<v1beta1::AllocateResponse> answer = owner_.allocate_(*request);
    if (!answer.ok()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, answer.status().message());
    }
    *response = std::move(*answer);
    return grpc::Status::OK;
  }

  grpc::Status PreStartContainer(grpc::ServerContext*, const v1beta1::PreStartContainerRequest*,
                                 v1beta1::PreStartContainerResponse*) override {
    return grpc::Status::OK;
  }

 private:
  PluginServer& owner_;
};

PluginServer::PluginServer(std::string socket_path, bool preferred_allocation, AllocateFn allocate)
    : socket_path_(std::move(socket_path)),
      preferred_allocation_(preferred_allocation),
      allocate_(std::move(allocate)) {}

PluginServer::~PluginServer() { Stop(); }

Status PluginServer::Start() {
  if (server_) return FailedPrecondition("device plugin server already started");
  unlink(socket_path_.c_str());  // a stale socket from a previous run
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  service_ = std::make_unique<Service>(*this);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + socket_path_, grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_) {
    return Status(StatusCode::kUnavailable, "device plugin: cannot listen on " + socket_path_);
  }
  return Status::Ok();
}

void PluginServer::Stop() {
  if (!server_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();  // ListAndWatch streams return, so Shutdown does not wait on them
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_.reset();
  service_.reset();
  unlink(socket_path_.c_str());
}

void PluginServer::SetDevices(std::vector<AdvertisedDevice> devices) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (devices == devices_) return;
    devices_ = std::move(devices);
    ++version_;
  }
  cv_.notify_all();
}

int PluginServer::open_streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_streams_;
}

}  // namespace hami::deviceplugin
