#include "kube/watch_stream.h"

#include <algorithm>

#include "common/strings.h"

namespace hami::kube {

Result<std::vector<WatchEvent>> WatchDecoder::Feed(std::string_view chunk) {
  buffer_.append(chunk);
  std::vector<WatchEvent> events;
  size_t start = 0;
  size_t scan = scanned_;  // the kept tail had no newline: do not rescan it
  while (true) {
    size_t newline = buffer_.find('\n', std::max(start, scan));
    if (newline == std::string::npos) break;
    std::string_view line = Trim(std::string_view(buffer_).substr(start, newline - start));
    start = newline + 1;
    if (line.empty()) continue;
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    if (!parsed.is_object()) {
      return InvalidArgument("watch stream: malformed event line " + QuoteForError(line));
    }
    auto type = parsed.find("type");
    auto object = parsed.find("object");
    if (type == parsed.end() || !type->is_string() || object == parsed.end() ||
        !object->is_object()) {
      return InvalidArgument("watch stream: event without type/object " + QuoteForError(line));
    }
    events.push_back(WatchEvent{type->get<std::string>(), std::move(*object)});
  }
  buffer_.erase(0, start);
  scanned_ = buffer_.size();
  if (buffer_.size() > max_line_) {
    return InvalidArgument("watch stream: event line longer than " + std::to_string(max_line_) +
                           " bytes");
  }
  return events;
}

}  // namespace hami::kube
