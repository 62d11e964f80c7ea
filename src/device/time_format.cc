#include "device/time_format.h"

#include <cstdio>
#include <limits>

#include "common/strings.h"

namespace hami {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

struct CivilDate {
  int64_t year = 1970;
  int32_t month = 1;  // 1..12
  int32_t day = 1;    // 1..31
};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's era arithmetic).
int64_t DaysFromCivil(int64_t y, int32_t m, int32_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                          // [0, 399]
  const int64_t mp = m > 2 ? m - 3 : m + 9;                   // March-based month
  const int64_t doy = (153 * mp + 2) / 5 + d - 1;             // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468;
}

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  CivilDate out;
  out.day = static_cast<int32_t>(doy - (153 * mp + 2) / 5 + 1);
  out.month = static_cast<int32_t>(mp < 10 ? mp + 3 : mp - 9);
  out.year = yoe + era * 400 + (out.month <= 2 ? 1 : 0);
  return out;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int32_t DaysInMonth(int64_t y, int32_t m) {
  static constexpr int32_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && IsLeap(y)) {
    return 29;
  }
  return kDays[m - 1];
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) {
    --q;
  }
  return q;
}

struct Civil {
  CivilDate date;
  int32_t hour = 0, minute = 0, second = 0;
};

Civil ToCivil(int64_t unix_seconds, int32_t utc_offset_seconds) {
  int64_t local = 0;
  if (__builtin_add_overflow(unix_seconds, int64_t{utc_offset_seconds}, &local)) {
    local = unix_seconds;  // out of the supported range anyway; avoid UB
  }
  const int64_t days = FloorDiv(local, kSecondsPerDay);
  const int64_t secs = local - days * kSecondsPerDay;
  Civil c;
  c.date = CivilFromDays(days);
  c.hour = static_cast<int32_t>(secs / 3600);
  c.minute = static_cast<int32_t>(secs / 60 % 60);
  c.second = static_cast<int32_t>(secs % 60);
  return c;
}

int64_t FromCivil(const Civil& c) {
  return DaysFromCivil(c.date.year, c.date.month, c.date.day) * kSecondsPerDay +
         int64_t{c.hour} * 3600 + int64_t{c.minute} * 60 + c.second;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Fixed-width unsigned decimal field; nullopt unless all `text` characters are digits.
std::optional<int32_t> FixedDigits(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  int32_t v = 0;
  for (char c : text) {
    if (!IsDigit(c)) {
      return std::nullopt;
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string FormatDateTime(const Civil& c, char sep) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d%c%02d:%02d:%02d",
                static_cast<long long>(c.date.year), c.date.month, c.date.day, sep, c.hour,
                c.minute, c.second);
  return buf;
}

}  // namespace

std::string FormatGoDateTime(int64_t unix_seconds, int32_t utc_offset_seconds) {
  return FormatDateTime(ToCivil(unix_seconds, utc_offset_seconds), ' ');
}

std::optional<int64_t> ParseGoDateTime(std::string_view text, int32_t utc_offset_seconds) {
  // "2006-01-02 15:04:05" with a 1- or 2-digit hour.
  if (text.size() < 18) {
    return std::nullopt;
  }
  Civil c;
  auto year = FixedDigits(text.substr(0, 4));
  auto month = FixedDigits(text.substr(5, 2));
  auto day = FixedDigits(text.substr(8, 2));
  if (!year || !month || !day || text[4] != '-' || text[7] != '-' || text[10] != ' ') {
    return std::nullopt;
  }
  std::string_view rest = text.substr(11);
  size_t hour_len = (rest.size() > 1 && IsDigit(rest[1])) ? 2 : 1;
  auto hour = FixedDigits(rest.substr(0, hour_len));
  rest.remove_prefix(hour_len);
  if (!hour || rest.size() < 6 || rest[0] != ':' || rest[3] != ':') {
    return std::nullopt;
  }
  auto minute = FixedDigits(rest.substr(1, 2));
  auto second = FixedDigits(rest.substr(4, 2));
  rest.remove_prefix(6);
  if (!minute || !second) {
    return std::nullopt;
  }
  if (rest.size() >= 2 && (rest[0] == '.' || rest[0] == ',') && IsDigit(rest[1])) {
    size_t n = 1;
    while (n < rest.size() && IsDigit(rest[n])) {
      ++n;
    }
    rest.remove_prefix(n);
  }
  if (!rest.empty()) {
    return std::nullopt;
  }
  if (*month < 1 || *month > 12 || *day < 1 || *day > DaysInMonth(*year, *month) || *hour > 23 ||
      *minute > 59 || *second > 59) {
    return std::nullopt;
  }
  c.date = {*year, *month, *day};
  c.hour = *hour;
  c.minute = *minute;
  c.second = *second;
  return FromCivil(c) - utc_offset_seconds;
}

std::string FormatRfc3339(int64_t unix_seconds, int32_t utc_offset_seconds) {
  std::string out = FormatDateTime(ToCivil(unix_seconds, utc_offset_seconds), 'T');
  if (utc_offset_seconds == 0) {
    return out + "Z";
  }
  const int64_t abs_offset =
      utc_offset_seconds < 0 ? -int64_t{utc_offset_seconds} : int64_t{utc_offset_seconds};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%02lld:%02lld", utc_offset_seconds < 0 ? '-' : '+',
                static_cast<long long>(abs_offset / 3600),
                static_cast<long long>(abs_offset / 60 % 60));
  return out + buf;
}

Result<int64_t> ParseRfc3339(std::string_view text) {
  auto fail = [&](std::string_view why) -> Status {
    return InvalidArgument("time " + QuoteForError(text) + " is not RFC 3339 (" + std::string(why) +
                           "; expected e.g. 2025-01-02T15:04:05Z or " +
                           "2025-01-02T15:04:05+08:00)");
  };
  if (text.size() < 20) {
    return fail("too short");
  }
  auto year = FixedDigits(text.substr(0, 4));
  auto month = FixedDigits(text.substr(5, 2));
  auto day = FixedDigits(text.substr(8, 2));
  auto hour = FixedDigits(text.substr(11, 2));
  auto minute = FixedDigits(text.substr(14, 2));
  auto second = FixedDigits(text.substr(17, 2));
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      text[10] != 'T' || text[13] != ':' || text[16] != ':') {
    return fail("date/time part must be YYYY-MM-DDTHH:MM:SS");
  }
  if (*month < 1 || *month > 12) {
    return fail("month out of range");
  }
  if (*day < 1 || *day > DaysInMonth(*year, *month)) {
    return fail("day out of range");
  }
  if (*hour > 23 || *minute > 59 || *second > 59) {
    return fail("time of day out of range");
  }
  std::string_view rest = text.substr(19);
  if (rest.size() >= 2 && rest[0] == '.' && IsDigit(rest[1])) {
    size_t n = 1;
    while (n < rest.size() && IsDigit(rest[n])) {
      ++n;
    }
    rest.remove_prefix(n);
  }
  int64_t offset = 0;
  if (rest != "Z") {
    if (rest.size() != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':') {
      return fail("zone must be Z or +hh:mm / -hh:mm");
    }
    auto oh = FixedDigits(rest.substr(1, 2));
    auto om = FixedDigits(rest.substr(4, 2));
    if (!oh || !om || *oh > 23 || *om > 59) {
      return fail("zone offset out of range");
    }
    offset = (int64_t{*oh} * 60 + *om) * 60;
    if (rest[0] == '-') {
      offset = -offset;
    }
  }
  Civil c;
  c.date = {*year, *month, *day};
  c.hour = *hour;
  c.minute = *minute;
  c.second = *second;
  return FromCivil(c) - offset;
}

}  // namespace hami
