// Fuzz target: Kubernetes quantity parsing (ParseQuantityInt64).
// Properties: never crash; a parsed value's decimal form (when Go's fast path can hold it:
// <= 18 digits) parses back to the same value; plain decimal integers agree with a strict
// integer parser; adding a "k" suffix multiplies by 1000.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/strings.h"
#include "device/quantity.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  hami::Result<int64_t> q = hami::ParseQuantityInt64(text);
  if (!q.ok()) {
    HAMI_FUZZ_CHECK(!q.status().message().empty());
    HAMI_FUZZ_CHECK(q.status().code() == hami::StatusCode::kInvalidArgument);
  }
  // Plain integers with at most 18 significant digits must agree with a strict parser.
  std::string_view digits = text;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    digits.remove_prefix(1);
  }
  bool plain = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
  if (plain) {
    std::string_view significant =
        digits.substr(std::min(digits.find_first_not_of('0'), digits.size()));
    if (significant.size() <= 18) {
      std::optional<int64_t> strict = hami::ParseInt64(text);
      HAMI_FUZZ_CHECK(strict.has_value());
      HAMI_FUZZ_CHECK(q.ok() && *q == *strict);
    }
  }
  if (!q.ok()) {
    return 0;
  }
  const int64_t v = *q;
  const std::string canonical = std::to_string(v);
  const size_t sig_digits = canonical.size() - (v < 0 ? 1 : 0);
  if (sig_digits <= 18) {
    hami::Result<int64_t> again = hami::ParseQuantityInt64(canonical);
    HAMI_FUZZ_CHECK(again.ok() && *again == v);
    if (v > -1000000000000000 && v < 1000000000000000) {
      hami::Result<int64_t> kilo = hami::ParseQuantityInt64(canonical + "k");
      HAMI_FUZZ_CHECK(kilo.ok() && *kilo == v * 1000);
    }
  }
  return 0;
}
