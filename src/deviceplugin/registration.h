// Registration with kubelet over the Device Plugin API v1beta1: one Register call on kubelet's
// socket that names our socket (relative to kubelet's device-plugins directory) and resource.
// kubelet then dials that socket and starts ListAndWatch.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace hami::deviceplugin {

inline constexpr char kApiVersion[] = "v1beta1";
inline constexpr char kKubeletSocketName[] = "kubelet.sock";

struct RegistrationRequest {
  std::string kubelet_socket;  // e.g. /var/lib/kubelet/device-plugins/kubelet.sock
  std::string endpoint;        // our socket's file name, e.g. "nvidia-gpu.sock"
  std::string resource_name;   // e.g. "nvidia.com/gpu"
  bool pre_start_required = false;
  bool preferred_allocation_available = false;
};

// Registers once. Failure: kUnavailable when kubelet's socket does not answer within
// `timeout` (kubelet down or restarting), kFailedPrecondition with kubelet's message when it
// refuses (unsupported version, resource name taken or malformed).
Status RegisterWithKubelet(const RegistrationRequest& request, std::chrono::milliseconds timeout);

}  // namespace hami::deviceplugin
