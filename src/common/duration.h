// Go's time.ParseDuration for flags and env vars that HAMi takes as Go durations
// ("5m", "28s", "1h30m", "1.5h", "300ms"). Pure; thread-safe.
#pragma once

#include <chrono>
#include <string_view>

#include "common/status.h"

namespace hami {

// Units ns, us (µs), ms, s, m, h; a sign; fractions; "0" alone. Failure: InvalidArgument
// naming the text (empty, missing unit, unknown unit, overflow).
Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);

// ParseGoDuration for settings that must be positive (timeouts, intervals): "0s" and negative
// durations fail with InvalidArgument "must be positive".
Result<std::chrono::nanoseconds> ParsePositiveGoDuration(std::string_view text);

}  // namespace hami
