#include "device/go_json.h"

#include <limits>

#include "common/strings.h"

namespace hami::go_json {
namespace {

// ---- Go encoding/json string escaping ---------------------------------------------------------

// Decodes one UTF-8 sequence at text[i] like Go's utf8.DecodeRuneInString. Returns the code
// point and its length, or {-1, 1} for an invalid byte (overlong, surrogate, > U+10FFFF,
// truncated).
std::pair<int32_t, size_t> DecodeRune(std::string_view text, size_t i) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) {
    return {b0, 1};
  }
  auto cont = [&](size_t k) -> int32_t {
    if (i + k >= text.size()) {
      return -1;
    }
    const auto b = static_cast<unsigned char>(text[i + k]);
    return (b & 0xC0) == 0x80 ? (b & 0x3F) : -1;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    int32_t c1 = cont(1);
    if (c1 < 0) {
      return {-1, 1};
    }
    return {((b0 & 0x1F) << 6) | c1, 2};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    int32_t c1 = cont(1), c2 = cont(2);
    if (c1 < 0 || c2 < 0) {
      return {-1, 1};
    }
    int32_t cp = ((b0 & 0x0F) << 12) | (c1 << 6) | c2;
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return {-1, 1};
    }
    return {cp, 3};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    int32_t c1 = cont(1), c2 = cont(2), c3 = cont(3);
    if (c1 < 0 || c2 < 0 || c3 < 0) {
      return {-1, 1};
    }
    int32_t cp = ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
    if (cp < 0x10000 || cp > 0x10FFFF) {
      return {-1, 1};
    }
    return {cp, 4};
  }
  return {-1, 1};
}

}  // namespace

void AppendGoJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      switch (b) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (b < 0x20 || b == '<' || b == '>' || b == '&') {
            out += "\\u00";
            out.push_back(kHex[b >> 4]);
            out.push_back(kHex[b & 0xF]);
          } else {
            out.push_back(static_cast<char>(b));
          }
      }
      ++i;
      continue;
    }
    auto [cp, len] = DecodeRune(s, i);
    if (cp < 0) {
      out += "\\ufffd";
    } else if (cp == 0x2028 || cp == 0x2029) {
      out += cp == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out.push_back('"');
}

// ---- JSON decoding helpers ---------------------------------------------------------------------

// Deepest [ / { nesting outside strings; lets us refuse pathological input before parsing.
int MaxNesting(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

std::string JsonTypeName(const OrderedJson& v) {
  if (v.is_number_float()) {
    return "a non-integer number";
  }
  if (v.is_number()) {
    return "a number";
  }
  if (v.is_string()) {
    return "a string";
  }
  if (v.is_boolean()) {
    return "a boolean";
  }
  if (v.is_array()) {
    return "an array";
  }
  if (v.is_object()) {
    return "an object";
  }
  return "null";
}

// Integer field in [min, int32 max]; JSON floats (1.0, 1e2) are rejected like Go does for ints.
Status ReadInt(const OrderedJson& v, std::string_view field, int64_t min, int32_t* out) {
  if (v.is_null()) {
    return Status::Ok();  // Go leaves the field unchanged
  }
  if (!v.is_number_integer()) {
    return InvalidArgument("field \"" + std::string(field) + "\": expected an integer, got " +
                           JsonTypeName(v));
  }
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(kMax)) {
      return InvalidArgument("field \"" + std::string(field) + "\": " + std::to_string(u) +
                             " is out of range (max " + std::to_string(kMax) + ")");
    }
    *out = static_cast<int32_t>(u);
  } else {
    const auto s = v.get<int64_t>();
    if (s < min || s > kMax) {
      return InvalidArgument("field \"" + std::string(field) + "\": " + std::to_string(s) +
                             " is out of range (" + std::to_string(min) + ".." +
                             std::to_string(kMax) + ")");
    }
    *out = static_cast<int32_t>(s);
  }
  return Status::Ok();
}

Status ReadString(const OrderedJson& v, std::string_view field, std::string* out) {
  if (v.is_null()) {
    return Status::Ok();
  }
  if (!v.is_string()) {
    return InvalidArgument("field \"" + std::string(field) + "\": expected a string, got " +
                           JsonTypeName(v));
  }
  *out = v.get<std::string>();
  return Status::Ok();
}

Status ReadBool(const OrderedJson& v, std::string_view field, bool* out) {
  if (v.is_null()) {
    return Status::Ok();
  }
  if (!v.is_boolean()) {
    return InvalidArgument("field \"" + std::string(field) + "\": expected true or false, got " +
                           JsonTypeName(v));
  }
  *out = v.get<bool>();
  return Status::Ok();
}

Status ParseDocument(std::string_view json, const std::string& context, OrderedJson* doc) {
  if (MaxNesting(json) > kMaxJsonDepth) {
    return InvalidArgument(context + ": nested deeper than " + std::to_string(kMaxJsonDepth) +
                           " levels");
  }
  try {
    *doc = OrderedJson::parse(json.begin(), json.end());
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; keep position and reason.
    if (size_t p = what.find("] "); p != std::string::npos) {
      what = what.substr(p + 2);
    }
    return InvalidArgument(context + " " + QuoteForError(json) + " does not parse: " + what);
  }
  return Status::Ok();
}

}  // namespace hami::go_json
