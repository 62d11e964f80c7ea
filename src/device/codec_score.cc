// The GPU link score annotation (hami.io/node-nvidia-score): see pair_scores.h.
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "common/strings.h"
#include "device/go_json.h"
#include "device/pair_scores.h"

namespace hami {
namespace {

using go_json::JsonTypeName;
using go_json::OrderedJson;

Result<DevicePairScore> DecodeEntry(const OrderedJson& item) {
  if (!item.is_object()) return InvalidArgument("expected an object, got " + JsonTypeName(item));
  DevicePairScore entry;
  for (const auto& [raw_key, value] : item.items()) {
    const std::string key = ToLower(raw_key);
    if (key == "uuid") {
      HAMI_RETURN_IF_ERROR(go_json::ReadString(value, "uuid", &entry.uuid));
    } else if (key == "score") {
      entry.score.clear();
      if (value.is_null()) continue;
      if (!value.is_object()) {
        return InvalidArgument("field \"score\": expected an object, got " + JsonTypeName(value));
      }
      for (const auto& [peer, raw] : value.items()) {
        int32_t score = 0;
        HAMI_RETURN_IF_ERROR(
            go_json::ReadInt(raw, "score." + peer, std::numeric_limits<int32_t>::min(), &score));
        entry.score[peer] = score;
      }
    }
  }
  if (entry.uuid.empty()) return InvalidArgument("field \"uuid\": missing or empty");
  return entry;
}

}  // namespace

std::string EncodePairScoresJson(const std::vector<DevicePairScore>& scores) {
  std::string out = "[";
  for (size_t i = 0; i < scores.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"uuid\":";
    go_json::AppendGoJsonString(out, scores[i].uuid);
    out += ",\"score\":{";
    bool first = true;
    for (const auto& [peer, score] : scores[i].score) {
      if (!first) out += ',';
      first = false;
      go_json::AppendGoJsonString(out, peer);
      out += ':' + std::to_string(score);
    }
    out += "}}";
  }
  out += ']';
  return out;
}

Result<std::vector<DevicePairScore>> DecodePairScoresJson(std::string_view json) {
  const std::string context = "GPU link scores JSON";
  OrderedJson doc;
  HAMI_RETURN_IF_ERROR(go_json::ParseDocument(json, context, &doc));
  if (doc.is_null()) return std::vector<DevicePairScore>{};
  if (!doc.is_array()) {
    return InvalidArgument(context + " " + QuoteForError(json) + ": expected an array, got " +
                           JsonTypeName(doc));
  }
  std::vector<DevicePairScore> out;
  out.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    Result<DevicePairScore> entry = DecodeEntry(doc[i]);
    if (!entry.ok()) return entry.status().WithContext(context + ": entry " + std::to_string(i));
    out.push_back(std::move(entry).value());
  }
  return out;
}

}  // namespace hami
