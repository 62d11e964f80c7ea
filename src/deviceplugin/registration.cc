#include "deviceplugin/registration.h"

#include <grpcpp/grpcpp.h>

#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace hami::deviceplugin {

Status RegisterWithKubelet(const RegistrationRequest& request, std::chrono::milliseconds timeout) {
  auto channel =
      grpc::CreateChannel("unix://" + request.kubelet_socket, grpc::InsecureChannelCredentials());
  auto stub = v1beta1::Registration::NewStub(channel);
  v1beta1::RegisterRequest message;
  message.set_version(kApiVersion);
  message.set_endpoint(request.endpoint);
  message.set_resource_name(request.resource_name);
  message.mutable_options()->set_pre_start_required(request.pre_start_required);
  message.mutable_options()->set_get_preferred_allocation_available(
      request.preferred_allocation_available);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  // Wait for the socket to come up within the deadline (kubelet may be restarting) instead of
  // failing at once.
  context.set_wait_for_ready(true);
  v1beta1::Empty reply;
  const grpc::Status status = stub->Register(&context, message, &reply);
  if (status.ok()) return Status::Ok();
  const std::string where =
      "register " + request.resource_name + " with kubelet at " + request.kubelet_socket + ": ";
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status(StatusCode::kUnavailable,
                    where + "kubelet not answering (" + status.error_message() + ")");
    default:
      return FailedPrecondition(where + "refused: " + status.error_message());
  }
}

}  // namespace hami::deviceplugin
