// Kubernetes resource quantities ("2", "1.5k", "16Gi", "1e3") as plain integers.
//
// Container resource values reach us as the strings Kubernetes serialises. HAMi reads them with
// Go's `resource.ParseQuantity(s)` followed by `Quantity.AsInt64()`, and a value for which
// AsInt64 reports "not possible" is treated as absent. ParseQuantityInt64 succeeds for exactly
// the strings where that Go pair succeeds and returns the same number, so requests derived
// here match HAMi's, including its corner cases:
//   - "1.5k" = 1500 and "1.50k" = 1500 (fraction digits absorbed by the suffix), but "1.0",
//     "1000m" and "1.5000k" fail: Go keeps a negative decimal scale and AsInt64 refuses it
//     even when the value is whole;
//   - more than 18 significant digits fail ("1000000000000000000"), as do values that
//     overflow int64 after the suffix is applied ("10E", "9223372036854775808");
//   - binary suffixes fail when fractional ("1.5Gi") or too large for Go's fast path
//     (any "Pi"/"Ei" value, "100Ti", "100000Gi", "1000000000Mi", "100000000000Ki");
//   - "0", "-0", "+", "-", "." and "5." parse (to 0, 0, 0, 0, 0 and 5), like Go;
//   - no surrounding whitespace is accepted (Go's JSON decoder trims before parsing; do that
//     in the caller if the value comes from hand-written text).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace hami {

// Parses `text` as a Kubernetes quantity and converts it to int64 (units are whatever the
// resource uses: a count, MiB, percent).
// Failure: InvalidArgument with a message quoting the input (truncated by QuoteForError) and
// saying why: empty, malformed number, unknown suffix, not an integer in Go's AsInt64 sense,
// or too large.
Result<int64_t> ParseQuantityInt64(std::string_view text);

// The quantity's value as a real number, for resources that are fractional by nature
// (CPU "500m" = 0.5, memory "1.5Gi"): same syntax as above, no integer restriction. Callers
// round as Kubernetes does (e.g. MilliValue rounds up).
// Failure: InvalidArgument for an empty or malformed text, an unknown suffix, or a value out
// of double's range.
Result<double> ParseQuantityValue(std::string_view text);

}  // namespace hami
