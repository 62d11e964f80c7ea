// The mutating admission webhook (POST /webhook), spec §4: for pods that ask for a shared
// device it sets schedulerName, applies each vendor's MutateAdmission (for NVIDIA: device
// count, whole-card exclusivity, env for priority and core policy, runtimeClassName) and refuses
// what cannot work (privileged GPU containers, a preset nodeName, malformed or impossible requests)
// with a message the user sees in `kubectl apply`. Pure: JSON in, JSON out; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "device/vendor.h"
#include "scheduler/quota.h"

namespace hami::scheduler {

// The vendors of the built-in default device config (NVIDIA, chart defaults); shared,
// immutable.
std::shared_ptr<const VendorRegistry> DefaultWebhookVendors();

struct WebhookConfig {
  std::string scheduler_name = "hami-scheduler";  // empty: never set schedulerName
  bool force_overwrite_default_scheduler = true;  // take pods that name default-scheduler
  // The vendors whose MutateAdmission runs on every container, in registry order (HAMi's
  // device map); a pod is ours when one of them finds a device request. Null = none.
  std::shared_ptr<const VendorRegistry> vendors = DefaultWebhookVendors();
  // Largest device memory registered in the cluster (MiB); requests above it can never be
  // scheduled and are refused. 0 = unknown (no check).
  int64_t max_device_memory_mib = 0;
  // The ResourceQuota pre-check (spec §4 step 6): the first quota of `ns` that `requested` on
  // top of the namespace's current usage passes, or nullopt. Unset = no check. `requested` is
  // the least the pod can take (quota.h RequestQuotaLowerBound: percentages count 0).
  std::function<std::optional<QuotaViolation>(const std::string& ns, const QuotaAmounts& requested)>
      check_quota;
};

struct AdmissionDecision {
  bool allowed = true;
  int32_t code = 200;    // 403 for refusals
  std::string message;   // why it was refused (empty when allowed)
  nlohmann::json patch;  // RFC 6902 operations (array; may be empty)
};

// Decides on one pod (the AdmissionReview's request.object). `request_namespace` (the
// review's request.namespace) names the pod's namespace when its metadata has none.
AdmissionDecision AdmitPod(const nlohmann::json& pod, const WebhookConfig& config,
                           std::string_view request_namespace = {});

// Handles a whole AdmissionReview (admission.k8s.io/v1 or v1beta1) and returns the response
// review in the same apiVersion, with the patch base64-encoded as JSONPatch.
// Failure: InvalidArgument when the body is not an AdmissionReview with request.uid and
// request.object (the HTTP layer answers 400).
Result<std::string> HandleAdmissionReview(std::string_view body, const WebhookConfig& config);

}  // namespace hami::scheduler
