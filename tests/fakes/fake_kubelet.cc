#include "tests/fakes/fake_kubelet.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

namespace hami::fakes {

class FakeKubelet::Service final : public v1beta1::Registration::Service {
 public:
  explicit Service(FakeKubelet& owner) : owner_(owner) {}
  grpc::Status Register(grpc::ServerContext*, const v1beta1::RegisterRequest* request,
                        v1beta1::Empty*) override {
    return owner_.OnRegister(*request);
  }

 private:
  FakeKubelet& owner_;
};

FakeKubelet::FakeKubelet(std::string dir) : dir_(std::move(dir)) {}

FakeKubelet::~FakeKubelet() { Stop(); }

Status FakeKubelet::Start() {
  if (server_) return FailedPrecondition("fake kubelet already started");
  unlink(socket_path().c_str());
  service_ = std::make_unique<Service>(*this);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + socket_path(), grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_)
    return Status(StatusCode::kUnavailable, "fake kubelet: cannot listen on " + socket_path());
  return Status::Ok();
}

void FakeKubelet::Stop() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  server_.reset();
  service_.reset();
  unlink(socket_path().c_str());
}

grpc::Status FakeKubelet::OnRegister(const v1beta1::RegisterRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!refusal_.empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, refusal_);
  // kubelet's checks: a supported version, an extended resource name, a socket file name.
  if (request.version() != "v1beta1") {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "requested device plugin API version " +
                                                                request.version() +
                                                                " is not supported by kubelet");
  }
  const std::string& name = request.resource_name();
  const size_t slash = name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == name.size() ||
      name.rfind("kubernetes.io/", 0) == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "invalid name of device plugin socket: resource name " + name +
                            " is not an extended resource name");
  }
  if (request.endpoint().empty() || request.endpoint().find('/') != std::string::npos) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "endpoint " + request.endpoint() + " is not a file name");
  }
  registrations_.push_back(request);
  cv_.notify_all();
  return grpc::Status::OK;
}

std::vector<v1beta1::RegisterRequest> FakeKubelet::Registrations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return registrations_;
}

bool FakeKubelet::WaitForRegistrations(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return registrations_.size() >= count; });
}

void FakeKubelet::RefuseRegistrations(std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  refusal_ = std::move(message);
}

std::unique_ptr<v1beta1::DevicePlugin::Stub> FakeKubelet::DialPlugin(
    const std::string& endpoint) const {
  return v1beta1::DevicePlugin::NewStub(
      grpc::CreateChannel("unix://" + dir_ + "/" + endpoint, grpc::InsecureChannelCredentials()));
}

}  // namespace hami::fakes
