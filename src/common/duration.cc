#include "common/duration.h"

#include <cmath>
#include <string>

#include "common/strings.h"

namespace hami {

Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  const std::string quoted = QuoteForError(text);
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return InvalidArgument("invalid duration " + quoted);
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == 0) return InvalidArgument("invalid duration " + quoted);
    const std::string number(s.substr(0, i));
    if (number == "." || number.find('.') != number.rfind('.')) {
      return InvalidArgument("invalid duration " + quoted);
    }
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !((s[u] >= '0' && s[u] <= '9') || s[u] == '.')) ++u;
    const std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    long double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      scale = 1e3L;
    else if (unit == "ms")
      scale = 1e6L;
    else if (unit == "s")
      scale = 1e9L;
    else if (unit == "m")
      scale = 60e9L;
    else if (unit == "h")
      scale = 3600e9L;
    else if (unit.empty())
      return InvalidArgument("missing unit in duration " + quoted);
    else
      return InvalidArgument("unknown unit " + QuoteForError(unit) + " in duration " + quoted);
    total += std::stold(number) * scale;
  }
  if (total > 9.2e18L) return InvalidArgument("invalid duration " + quoted + " (overflow)");
  const auto ns = static_cast<int64_t>(std::llround(static_cast<double>(total)));
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

Result<std::chrono::nanoseconds> ParsePositiveGoDuration(std::string_view text) {
  HAMI_ASSIGN_OR_RETURN(std::chrono::nanoseconds parsed, ParseGoDuration(text));
  if (parsed.count() <= 0) return Status(StatusCode::kInvalidArgument, "must be positive");
  return parsed;
}

}  // namespace hami
