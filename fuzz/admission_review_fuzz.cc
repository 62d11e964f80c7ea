// Fuzz target: the webhook's AdmissionReview handling. Property: never crash; every accepted
// review yields a JSON response with the same uid, and an allowed response's patch applies
// cleanly to the request's pod.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.h"
#include "scheduler/webhook.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  auto response = hami::scheduler::HandleAdmissionReview(text, hami::scheduler::WebhookConfig{});
  if (!response.ok()) return 0;
  const nlohmann::json review = nlohmann::json::parse(text);
  const nlohmann::json out = nlohmann::json::parse(*response);
  HAMI_FUZZ_CHECK(out["response"]["uid"] == review["request"]["uid"]);
  const nlohmann::json decision =
      hami::scheduler::AdmitPod(review["request"]["object"], hami::scheduler::WebhookConfig{})
          .patch;
  if (out["response"]["allowed"] == true && decision.is_array() && !decision.empty()) {
    try {
      (void)review["request"]["object"].patch(decision);
    } catch (const nlohmann::json::exception&) {
      HAMI_FUZZ_CHECK(false && "webhook patch does not apply to its own pod");
    }
  }
  return 0;
}
