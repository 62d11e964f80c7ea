// The two timestamp layouts of the HAMi wire format, without any clock or time-zone database.
//
// Times are int64 Unix seconds (UTC). Layouts that carry local time take the UTC offset of the
// writer/reader as an explicit `utc_offset_seconds` (e.g. +3600 for UTC+1), so callers decide
// the zone and tests stay deterministic. Supported range: years 0000..9999 after applying the
// offset; outside it formatting still produces text but parsing will not accept it back.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hami {

// Go `time.DateTime` layout "2006-01-02 15:04:05" of the instant in the zone `utc_offset_seconds`.
std::string FormatGoDateTime(int64_t unix_seconds, int32_t utc_offset_seconds);

// Parses the Go `time.DateTime` layout as time.Parse does: 4-digit year, 2-digit month, day,
// minute and second, 1- or 2-digit hour, an optional fraction (".123" or ",123", dropped),
// fields range-checked (Feb 30 is rejected), nothing else around it. The civil time is
// interpreted in the zone `utc_offset_seconds`. Returns nullopt when it does not parse.
std::optional<int64_t> ParseGoDateTime(std::string_view text, int32_t utc_offset_seconds);

// RFC 3339 as Go's time.RFC3339 formats it: "2006-01-02T15:04:05Z" when the offset is 0,
// else "2006-01-02T15:04:05+07:00" (offset written as hours:minutes, seconds truncated).
std::string FormatRfc3339(int64_t unix_seconds, int32_t utc_offset_seconds);

// Parses RFC 3339 like Go's time.Parse(time.RFC3339, ...) fast path: "YYYY-MM-DDTHH:MM:SS",
// optional ".fraction" (any number of digits, dropped: the result is floored to the second),
// then "Z" or "+hh:mm"/"-hh:mm" (hh <= 23, mm <= 59). Returns Unix seconds.
// Failure: InvalidArgument quoting the input and naming the offending part.
Result<int64_t> ParseRfc3339(std::string_view text);

}  // namespace hami
