// Standard base64 (RFC 4648) encoding, as Kubernetes uses for AdmissionReview patches and
// kubeconfig *-data fields. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace hami {

// Encodes with padding, no line breaks.
std::string EncodeBase64(std::string_view bytes);

}  // namespace hami
