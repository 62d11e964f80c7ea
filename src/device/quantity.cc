#include "device/quantity.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "common/strings.h"

namespace hami {
namespace {

// Go's fast path keeps at most this many decimal digits in an int64 mantissa.
constexpr int32_t kMaxInt64Digits = 18;
// Smallest decimal scale Go keeps in its int64 form (nano).
constexpr int32_t kMinFastScale = -9;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

enum class SuffixKind { kDecimal, kBinary };

struct Tokens {
  bool negative = false;
  std::string_view num;     // integer digits, leading zeros stripped ("0" when none remain)
  std::string_view denom;   // fraction digits, possibly empty
  std::string_view suffix;  // everything after the number
};

Status FormatError(std::string_view text, std::string_view why) {
  return InvalidArgument("quantity " + QuoteForError(text) + " is malformed: " + std::string(why) +
                         " (expected <number><suffix>, e.g. 2, 1.5k, 16Gi, 1e3)");
}

// Splits `text` the way Go's scanner does: [sign] digits [. digits] suffix-letters [sign]
// [digits]. Returns an error when characters are left over.
Result<Tokens> Tokenize(std::string_view text) {
  static constexpr std::string_view kZero = "0";
  Tokens t;
  size_t pos = 0;
  const size_t end = text.size();
  if (pos < end && (text[0] == '-' || text[0] == '+')) {
    t.negative = text[0] == '-';
    ++pos;
  }
  while (pos < end && text[pos] == '0') {
    ++pos;
  }
  if (pos >= end) {  // only zeros (or nothing) after the sign
    t.num = kZero;
    return t;
  }
  size_t num_start = pos;
  while (pos < end && IsDigit(text[pos])) {
    ++pos;
  }
  t.num = text.substr(num_start, pos - num_start);
  if (t.num.empty()) {
    t.num = kZero;
  }
  if (pos < end && text[pos] == '.') {
    ++pos;
    size_t denom_start = pos;
    while (pos < end && IsDigit(text[pos])) {
      ++pos;
    }
    t.denom = text.substr(denom_start, pos - denom_start);
  }
  size_t suffix_start = pos;
  static constexpr std::string_view kSuffixLetters = "eEinumkKMGTP";
  while (pos < end && kSuffixLetters.find(text[pos]) != std::string_view::npos) {
    ++pos;
  }
  if (pos < end && (text[pos] == '-' || text[pos] == '+')) {
    ++pos;
  }
  while (pos < end && IsDigit(text[pos])) {
    ++pos;
  }
  if (pos < end) {
    return FormatError(text, "unexpected character " + QuoteForError(text.substr(pos, 1)) +
                                 " at offset " + std::to_string(pos));
  }
  t.suffix = text.substr(suffix_start);
  return t;
}

struct Suffix {
  SuffixKind kind = SuffixKind::kDecimal;
  int32_t exponent = 0;  // power of 10 (decimal) or of 2 (binary)
};

std::optional<Suffix> InterpretSuffix(std::string_view s) {
  struct Entry {
    std::string_view name;
    SuffixKind kind;
    int32_t exponent;
  };
  static constexpr Entry kTable[] = {
      {"n", SuffixKind::kDecimal, -9}, {"u", SuffixKind::kDecimal, -6},
      {"m", SuffixKind::kDecimal, -3}, {"", SuffixKind::kDecimal, 0},
      {"k", SuffixKind::kDecimal, 3},  {"M", SuffixKind::kDecimal, 6},
      {"G", SuffixKind::kDecimal, 9},  {"T", SuffixKind::kDecimal, 12},
      {"P", SuffixKind::kDecimal, 15}, {"E", SuffixKind::kDecimal, 18},
      {"Ki", SuffixKind::kBinary, 10}, {"Mi", SuffixKind::kBinary, 20},
      {"Gi", SuffixKind::kBinary, 30}, {"Ti", SuffixKind::kBinary, 40},
      {"Pi", SuffixKind::kBinary, 50}, {"Ei", SuffixKind::kBinary, 60},
  };
  for (const Entry& e : kTable) {
    if (e.name == s) {
      return Suffix{e.kind, e.exponent};
    }
  }
  if (s.size() > 1 && (s[0] == 'e' || s[0] == 'E')) {
    std::optional<int64_t> exp = ParseInt64(s.substr(1));
    if (!exp) {
      return std::nullopt;
    }
    // Go narrows the parsed exponent to int32 (wrapping); C++20 conversion is modular too.
    return Suffix{SuffixKind::kDecimal, static_cast<int32_t>(*exp)};
  }
  return std::nullopt;
}

Status UnknownSuffix(std::string_view text, std::string_view suffix) {
  return InvalidArgument("quantity " + QuoteForError(text) + " has unknown suffix " +
                         QuoteForError(suffix) +
                         " (expected one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or e<int>)");
}

int32_t WrapInt32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

}  // namespace

Result<int64_t> ParseQuantityInt64(std::string_view text) {
  if (text.empty()) {
    return InvalidArgument("quantity is empty (expected e.g. 2, 1.5k, 16Gi)");
  }
  if (text == "0") {
    return int64_t{0};
  }

  Result<Tokens> tokens = Tokenize(text);
  if (!tokens.ok()) {
    return tokens.status();
  }
  const Tokens& t = *tokens;
  std::optional<Suffix> suffix = InterpretSuffix(t.suffix);
  if (!suffix) {
    return UnknownSuffix(text, t.suffix);
  }

  const auto num_len = static_cast<int64_t>(t.num.size());
  const auto denom_len = static_cast<int64_t>(t.denom.size());
  int64_t precision = 0;
  int32_t scale = 0;
  int64_t mantissa = 1;
  if (suffix->kind == SuffixKind::kDecimal) {
    scale = suffix->exponent;
    precision = kMaxInt64Digits - num_len - denom_len;
  } else if (t.denom.empty()) {
    mantissa = int64_t{1} << suffix->exponent;
    // Go's estimate of the decimal digits a binary multiplier consumes: exponent*3/10.
    precision = 15 - num_len - (suffix->exponent * 3 / 10) - 1;
  } else {
    return InvalidArgument("quantity " + QuoteForError(text) +
                           " is a fraction with a binary suffix; Kubernetes cannot convert it "
                           "to an integer (write it in the next smaller unit, e.g. 1536Mi)");
  }
  if (precision < 0) {
    return InvalidArgument("quantity " + QuoteForError(text) +
                           " is too large to convert to an integer (Kubernetes' int64 form "
                           "holds at most 18 significant digits, fewer with binary suffixes)");
  }
  scale = WrapInt32(int64_t{scale} - denom_len);
  if (scale < kMinFastScale) {
    return InvalidArgument("quantity " + QuoteForError(text) +
                           " has more than 9 fractional digits and is not an integer");
  }
  std::string digits(t.num);
  digits.append(t.denom);
  std::optional<int64_t> value = ParseInt64(digits);  // <= 18 digits: always fits
  int64_t amount = 0;
  if (!value || __builtin_mul_overflow(*value, mantissa, &amount)) {
    return InvalidArgument("quantity " + QuoteForError(text) + " overflows int64");
  }
  if (t.negative) {
    amount = -amount;
  }
  if (scale < 0) {
    return InvalidArgument("quantity " + QuoteForError(text) +
                           " is not an integer: it has fractional digits (or a milli/micro/"
                           "nano suffix) that the suffix does not absorb; Kubernetes' AsInt64 "
                           "rejects it (e.g. 500m, 1.5, 1.0, 1000m)");
  }
  if (amount == 0) {
    return int64_t{0};
  }
  for (int32_t i = 0; i < scale; ++i) {
    if (__builtin_mul_overflow(amount, int64_t{10}, &amount)) {
      return InvalidArgument("quantity " + QuoteForError(text) + " overflows int64");
    }
  }
  return amount;
}

Result<double> ParseQuantityValue(std::string_view text) {
  if (text.empty()) return InvalidArgument("quantity is empty (expected e.g. 2, 500m, 16Gi)");
  Result<Tokens> tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  const Tokens& t = *tokens;
  std::optional<Suffix> suffix = InterpretSuffix(t.suffix);
  if (!suffix) {
    return UnknownSuffix(text, t.suffix);
  }
  std::string number(t.num);
  if (!t.denom.empty()) number += "." + std::string(t.denom);
  double value = std::strtod(number.c_str(), nullptr);
  value *= suffix->kind == SuffixKind::kDecimal ? std::pow(10.0, suffix->exponent)
                                                : std::ldexp(1.0, suffix->exponent);
  if (!std::isfinite(value)) {
    return InvalidArgument("quantity " + QuoteForError(text) + " is out of range");
  }
  return t.negative ? -value : value;
}

}  // namespace hami
