// Decoder for the API server's watch stream: one JSON object per line,
// {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}.
//
// Not thread-safe (one decoder per stream). Bytes may arrive split anywhere.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hami::kube {

struct WatchEvent {
  std::string type;
  nlohmann::json object;
};

class WatchDecoder {
 public:
  explicit WatchDecoder(size_t max_line_bytes = size_t{256} << 20) : max_line_(max_line_bytes) {}

  // Appends `chunk` and returns the events completed by it, in order. Blank lines are skipped.
  // Failure: InvalidArgument for a line that is not a JSON object with a string "type" and an
  // object "object", or a line longer than the limit; the decoder is then unusable (the stream
  // must be restarted).
  Result<std::vector<WatchEvent>> Feed(std::string_view chunk);

  // Bytes of an incomplete trailing line.
  size_t Pending() const { return buffer_.size(); }

 private:
  size_t max_line_;
  std::string buffer_;
  size_t scanned_ = 0;  // prefix of buffer_ known to hold no newline
};

}  // namespace hami::kube
