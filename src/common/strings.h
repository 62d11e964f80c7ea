// Small, allocation-light string helpers shared by the codecs and loaders.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hami {

// Splits on every occurrence of `sep`, keeping empty pieces ("a,,b" -> {"a","","b"},
// "" -> {""}), like Go's strings.Split. Views point into `text`.
std::vector<std::string_view> Split(std::string_view text, char sep);

// Removes ASCII whitespace from both ends.
std::string_view Trim(std::string_view text);

std::string ToLower(std::string_view text);

// Case-insensitive (ASCII) substring test; an empty needle is contained in everything.
bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle);

// Strict decimal parse of the whole string (optional leading '-'/'+', no spaces, no
// trailing garbage, in range). Returns nullopt otherwise.
std::optional<int64_t> ParseInt64(std::string_view text);
std::optional<int32_t> ParseInt32(std::string_view text);

// Go strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False.
std::optional<bool> ParseGoBool(std::string_view text);

// Comma list as used by HAMi selection annotations: pieces trimmed, empty pieces dropped.
std::vector<std::string> SplitCommaList(std::string_view text);

// Quotes a value for an error message, truncated to `max_len` characters so a hostile
// multi-megabyte annotation cannot flood logs.
std::string QuoteForError(std::string_view text, size_t max_len = 80);

}  // namespace hami
