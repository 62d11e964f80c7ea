// Node registration codecs: the JSON array (§1.1) and the legacy colon form (§1.2).
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "common/strings.h"
#include "device/codec.h"

namespace hami {
namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr int kMaxJsonDepth = 32;

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

Status ValidateId(std::string_view id) {
  if (id.empty()) {
    return InvalidArgument("device id is empty");
  }
  if (id.find_first_of(",:;") != std::string_view::npos) {
    return InvalidArgument("device id " + QuoteForError(id) +
                           " contains ',', ':' or ';' (not allowed in device ids)");
  }
  return Status::Ok();
}

Result<DeviceInfo> DecodeJsonDevice(const OrderedJson& item) {
  if (!item.is_object()) {
    return InvalidArgument("expected an object, got " + JsonTypeName(item));
  }
  DeviceInfo d;
  d.mode.clear();
  for (const auto& [raw_key, value] : item.items()) {
    // encoding/json matches keys case-insensitively; processing in document order makes the
    // last duplicate win, as in Go.
    const std::string key = ToLower(raw_key);
    Status st;
    if (key == "id") {
      st = ReadString(value, "id", &d.id);
    } else if (key == "index") {
      st = ReadInt(value, "index", 0, &d.index);
    } else if (key == "count") {
      st = ReadInt(value, "count", 0, &d.count);
    } else if (key == "devmem") {
      st = ReadInt(value, "devmem", 0, &d.devmem_mib);
    } else if (key == "devcore") {
      st = ReadInt(value, "devcore", 0, &d.devcore);
    } else if (key == "type") {
      st = ReadString(value, "type", &d.type);
    } else if (key == "numa") {
      st = ReadInt(value, "numa", 0, &d.numa);
    } else if (key == "mode") {
      st = ReadString(value, "mode", &d.mode);
    } else if (key == "health") {
      st = ReadBool(value, "health", &d.health);
    }
    HAMI_RETURN_IF_ERROR(st);
  }
  if (d.mode.empty()) {
    d.mode = kModeHamiCore;
  }
  HAMI_RETURN_IF_ERROR(ValidateId(d.id));
  return d;
}

// ---- Legacy helpers ----------------------------------------------------------------------------

Status ParseLegacyInt(std::string_view text, std::string_view field, int32_t* out) {
  std::optional<int32_t> v = ParseInt32(text);
  if (!v || *v < 0) {
    return InvalidArgument("field " + std::string(field) + " " + QuoteForError(text) +
                           " is not a non-negative 32-bit integer");
  }
  *out = *v;
  return Status::Ok();
}

Result<DeviceInfo> DecodeLegacyDevice(std::string_view piece) {
  std::vector<std::string_view> f = Split(piece, ',');
  if (f.size() != 7 && f.size() != 9) {
    return InvalidArgument("has " + std::to_string(f.size()) +
                           " comma-separated fields, want 7 or 9 "
                           "(id,count,devmem,devcore,type,numa,health[,index,mode])");
  }
  DeviceInfo d;
  d.id = std::string(f[0]);
  HAMI_RETURN_IF_ERROR(ValidateId(d.id));
  HAMI_RETURN_IF_ERROR(ParseLegacyInt(f[1], "count", &d.count));
  HAMI_RETURN_IF_ERROR(ParseLegacyInt(f[2], "devmem", &d.devmem_mib));
  HAMI_RETURN_IF_ERROR(ParseLegacyInt(f[3], "devcore", &d.devcore));
  d.type = std::string(f[4]);
  HAMI_RETURN_IF_ERROR(ParseLegacyInt(f[5], "numa", &d.numa));
  std::optional<bool> health = ParseGoBool(f[6]);
  if (!health) {
    return InvalidArgument("field health " + QuoteForError(f[6]) +
                           " is not a boolean (true/false/1/0/t/f)");
  }
  d.health = *health;
  if (f.size() == 9) {
    HAMI_RETURN_IF_ERROR(ParseLegacyInt(f[7], "index", &d.index));
    if (!f[8].empty()) {
      d.mode = std::string(f[8]);
    }
  }
  return d;
}

}  // namespace

std::string EncodeNodeDevicesJson(const std::vector<DeviceInfo>& devices) {
  std::string out = "[";
  for (size_t i = 0; i < devices.size(); ++i) {
    const DeviceInfo& d = devices[i];
    if (i > 0) {
      out.push_back(',');
    }
    out.push_back('{');
    bool first = true;
    auto key = [&](const char* name) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      out.push_back('"');
      out += name;
      out += "\":";
    };
    if (!d.id.empty()) {
      key("id");
      AppendGoJsonString(out, d.id);
    }
    auto int_field = [&](const char* name, int32_t v) {
      if (v == 0) {
        return;
      }
      key(name);
      out += std::to_string(v);
    };
    int_field("index", d.index);
    int_field("count", d.count);
    int_field("devmem", d.devmem_mib);
    int_field("devcore", d.devcore);
    if (!d.type.empty()) {
      key("type");
      AppendGoJsonString(out, d.type);
    }
    int_field("numa", d.numa);
    if (!d.mode.empty()) {
      key("mode");
      AppendGoJsonString(out, d.mode);
    }
    if (d.health) {
      key("health");
      out += "true";
    }
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

Result<std::vector<DeviceInfo>> DecodeNodeDevicesJson(std::string_view json) {
  const std::string context = "node device registration JSON";
  if (MaxNesting(json) > kMaxJsonDepth) {
    return InvalidArgument(context + ": nested deeper than " + std::to_string(kMaxJsonDepth) +
                           " levels");
  }
  OrderedJson doc;
  try {
    doc = OrderedJson::parse(json.begin(), json.end());
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; keep position and reason.
    if (size_t p = what.find("] "); p != std::string::npos) {
      what = what.substr(p + 2);
    }
    return InvalidArgument(context + " " + QuoteForError(json) + " does not parse: " + what);
  }
  if (doc.is_null()) {
    return std::vector<DeviceInfo>{};
  }
  if (!doc.is_array()) {
    return InvalidArgument(context + " " + QuoteForError(json) + ": expected an array, got " +
                           JsonTypeName(doc));
  }
  std::vector<DeviceInfo> out;
  out.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    Result<DeviceInfo> d = DecodeJsonDevice(doc[i]);
    if (!d.ok()) {
      return d.status().WithContext(context + ": device " + std::to_string(i));
    }
    out.push_back(std::move(d).value());
  }
  return out;
}

std::string EncodeNodeDevicesLegacy(const std::vector<DeviceInfo>& devices) {
  std::string out;
  for (const DeviceInfo& d : devices) {
    out += d.id;
    for (int64_t v : {int64_t{d.count}, int64_t{d.devmem_mib}, int64_t{d.devcore}}) {
      out += ',' + std::to_string(v);
    }
    out += ',' + d.type + ',' + std::to_string(d.numa) + ',' + (d.health ? "true" : "false") + ',' +
           std::to_string(d.index) + ',' + d.mode + ':';
  }
  return out;
}

Result<std::vector<DeviceInfo>> DecodeNodeDevicesLegacy(std::string_view text) {
  const std::string context = "node device registration (legacy colon form)";
  text = Trim(text);
  if (text.find(':') == std::string_view::npos) {
    return InvalidArgument(context + " " + QuoteForError(text) +
                           ": no ':' found (each device must end with ':')");
  }
  std::vector<DeviceInfo> out;
  size_t index = 0;
  for (std::string_view piece : Split(text, ':')) {
    if (Trim(piece).empty()) {
      continue;
    }
    Result<DeviceInfo> d = DecodeLegacyDevice(piece);
    if (!d.ok()) {
      return d.status().WithContext(context + ": device " + std::to_string(index) + " " +
                                    QuoteForError(piece));
    }
    out.push_back(std::move(d).value());
    ++index;
  }
  return out;
}

Result<std::vector<DeviceInfo>> DecodeNodeDevices(std::string_view text) {
  std::string_view trimmed = Trim(text);
  if (!trimmed.empty() && trimmed.front() == '[') {
    return DecodeNodeDevicesJson(text);
  }
  return DecodeNodeDevicesLegacy(text);
}

}  // namespace hami
