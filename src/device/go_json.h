// Helpers shared by the codecs that read and write HAMi's JSON annotation values: Go
// encoding/json's string escaping (so our bytes equal the Go original's) and typed field
// readers that report a wrong JSON type or range as an error value. Pure, thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hami::go_json {

using OrderedJson = nlohmann::ordered_json;

// Deeper nesting is refused before parsing (untrusted annotation text).
inline constexpr int kMaxJsonDepth = 32;

// Appends `s` as a JSON string the way Go's encoding/json writes it: HTML-safe \u003c \u003e
// \u0026, \u2028 \u2029 escaped, invalid UTF-8 replaced by \ufffd.
void AppendGoJsonString(std::string& out, std::string_view s);

// Deepest [ / { nesting outside strings.
int MaxNesting(std::string_view text);

// "a string", "an array", ... for error messages.
std::string JsonTypeName(const OrderedJson& v);

// Typed field readers; a JSON null leaves *out unchanged (as Go does). ReadInt accepts only
// integers in [min, int32 max] (Go refuses 1.0 for an int field).
Status ReadInt(const OrderedJson& v, std::string_view field, int64_t min, int32_t* out);
Status ReadString(const OrderedJson& v, std::string_view field, std::string* out);
Status ReadBool(const OrderedJson& v, std::string_view field, bool* out);

// Parses `json` (depth-checked) into `doc`; the error names `context` and quotes the input.
Status ParseDocument(std::string_view json, const std::string& context, OrderedJson* doc);

}  // namespace hami::go_json
