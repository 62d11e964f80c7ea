// FakeKubelet: kubelet's side of the Device Plugin API v1beta1, for tests. It serves the
// Registration service on <dir>/kubelet.sock over gRPC, as kubelet does, validating requests
// the way kubelet does (API version "v1beta1", an extended resource name "<domain>/<name>",
// an endpoint file name), records what registered, can be told to refuse, and dials a
// registered plugin's socket to call it as kubelet would. Stop() removes the socket, which is
// what a plugin sees when kubelet restarts.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace grpc {
class Server;
}

namespace hami::fakes {

class FakeKubelet {
 public:
  explicit FakeKubelet(std::string dir);  // the device-plugins directory
  ~FakeKubelet();
  FakeKubelet(const FakeKubelet&) = delete;
  FakeKubelet& operator=(const FakeKubelet&) = delete;

  Status Start();
  void Stop();
  std::string socket_path() const { return dir_ + "/kubelet.sock"; }

  std::vector<v1beta1::RegisterRequest> Registrations() const;
  bool WaitForRegistrations(size_t count, std::chrono::milliseconds timeout) const;
  // Registrations from now on answer INVALID_ARGUMENT with `message` ("" = accept again).
  void RefuseRegistrations(std::string message);

  // A client of the plugin that registered `endpoint` (a file in the directory).
  std::unique_ptr<v1beta1::DevicePlugin::Stub> DialPlugin(const std::string& endpoint) const;

 private:
  class Service;
  grpc::Status OnRegister(const v1beta1::RegisterRequest& request);

  const std::string dir_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<v1beta1::RegisterRequest> registrations_;  // GUARDED_BY(mu_)
  std::string refusal_;                                  // GUARDED_BY(mu_)
};

}  // namespace hami::fakes
