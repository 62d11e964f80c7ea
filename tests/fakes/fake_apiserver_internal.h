// Internals shared by the fake_apiserver*.cc files; not for tests to include.
#pragma once

#include <httplib.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/strings.h"
#include "tests/fakes/api_resources.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/selectors.h"

namespace hami::fakes {
namespace internal {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Empty string when absent or not a string.
inline std::string MetaString(const json& obj, const char* field) {
  if (!obj.is_object()) return "";
  auto meta = obj.find("metadata");
  if (meta == obj.end() || !meta->is_object()) return "";
  auto it = meta->find(field);
  if (it == meta->end() || !it->is_string()) return "";
  return it->get<std::string>();
}

inline std::optional<uint64_t> ParseRv(std::string_view text) {
  std::optional<int64_t> v = ParseInt64(text);
  if (!v || *v < 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

inline bool ParamTrue(const httplib::Request& req, const char* name) {
  std::string v = req.get_param_value(name);
  return v == "1" || v == "true";
}

// The request body as a JSON object, or the 400 the real server sends.
inline std::optional<json> ParseObjectBody(const std::string& body, json* error) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    *error = BadRequestStatus("the request body is not a JSON object");
    return std::nullopt;
  }
  if (parsed.contains("metadata") && !parsed["metadata"].is_object()) {
    *error = BadRequestStatus("metadata must be an object");
    return std::nullopt;
  }
  return parsed;
}

inline bool Matches(const std::string& filter, std::string_view value) {
  return filter.empty() || value.find(filter) != std::string_view::npos;
}

}  // namespace internal

// An open watch. Only its worker thread touches it, under mu_ where it reads shared state.
struct FakeApiServer::WatchState {
  using Clock = internal::Clock;
  using json = nlohmann::json;

  const ApiResource* resource;
  std::string ns;  // "" = all namespaces
  LabelSelector labels;
  FieldSelector fields;
  uint64_t cursor = 0;  // every event up to here has been considered
  std::string pending;  // lines to send before anything else (initial ADDEDs or an ERROR)
  bool end_after_pending = false;
  bool bookmarks = false;
  uint64_t bookmark_generation = 0;
  uint64_t close_generation = 0;
  Clock::time_point next_bookmark = Clock::time_point::max();
  Clock::time_point deadline = Clock::time_point::max();

  bool Selects(const json& obj) const {
    if (!ns.empty() && internal::MetaString(obj, "namespace") != ns) return false;
    static const json no_labels;
    const json* labels_json = &no_labels;
    auto meta = obj.find("metadata");
    if (meta != obj.end() && meta->is_object() && meta->contains("labels")) {
      labels_json = &(*meta)["labels"];
    }
    if (!labels.Matches(*labels_json)) return false;
    return fields.Matches(
        [&](const std::string& f) -> std::optional<std::string> { return FieldValue(obj, f); });
  }
};

}  // namespace hami::fakes
