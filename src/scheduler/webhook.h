// The mutating admission webhook (POST /webhook), spec §4: for pods that ask for a shared
// device it sets schedulerName, applies the NVIDIA defaults (device count, whole-card
// exclusivity, env for priority and core policy, runtimeClassName) and refuses what cannot
// work (privileged GPU containers, a preset nodeName, malformed or impossible requests) with
// a message the user sees in `kubectl apply`. Pure: JSON in, JSON out; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "device/config.h"

namespace hami::scheduler {

struct WebhookConfig {
  std::string scheduler_name = "hami-scheduler";  // empty: never set schedulerName
  bool force_overwrite_default_scheduler = true;  // take pods that name default-scheduler
  NvidiaConfig nvidia;
  // Largest device memory registered in the cluster (MiB); requests above it can never be
  // scheduled and are refused. 0 = unknown (no check).
  int64_t max_device_memory_mib = 0;
};

struct AdmissionDecision {
  bool allowed = true;
  int32_t code = 200;    // 403 for refusals
  std::string message;   // why it was refused (empty when allowed)
  nlohmann::json patch;  // RFC 6902 operations (array; may be empty)
};

// Decides on one pod (the AdmissionReview's request.object).
AdmissionDecision AdmitPod(const nlohmann::json& pod, const WebhookConfig& config);

// Handles a whole AdmissionReview (admission.k8s.io/v1 or v1beta1) and returns the response
// review in the same apiVersion, with the patch base64-encoded as JSONPatch.
// Failure: InvalidArgument when the body is not an AdmissionReview with request.uid and
// request.object (the HTTP layer answers 400).
Result<std::string> HandleAdmissionReview(std::string_view body, const WebhookConfig& config);

}  // namespace hami::scheduler
