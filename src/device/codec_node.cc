// Node registration codecs: the JSON array (§1.1) and the legacy colon form (§1.2).
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "common/strings.h"
#include "device/codec.h"
#include "device/go_json.h"

namespace hami {
namespace {

using go_json::AppendGoJsonString;
using go_json::JsonTypeName;
using go_json::kMaxJsonDepth;
using go_json::MaxNesting;
using go_json::OrderedJson;
using go_json::ReadBool;
using go_json::ReadInt;
using go_json::ReadString;

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

Status ReadMigPlacement(const OrderedJson& v, const std::string& field, MigPlacement* out) {
  if (!v.is_object()) {
    return InvalidArgument("field \"" + field + "\": expected an object, got " + JsonTypeName(v));
  }
  for (const auto& [raw_key, value] : v.items()) {
    const std::string key = ToLower(raw_key);
    if (key == "start") {
      HAMI_RETURN_IF_ERROR(ReadInt(value, field + ".start", 0, &out->start));
    } else if (key == "size") {
      HAMI_RETURN_IF_ERROR(ReadInt(value, field + ".size", 0, &out->size));
    }
  }
  if (out->size <= 0) {
    return InvalidArgument("field \"" + field + "\": a placement needs a positive size");
  }
  return Status::Ok();
}

// migProfiles: [{"name","memoryMB","core","sliceCount","placements":[{"start","size"}]}].
Status ReadMigProfiles(const OrderedJson& v, std::vector<MigProfile>* out) {
  out->clear();
  if (v.is_null()) {
    return Status::Ok();
  }
  if (!v.is_array()) {
    return InvalidArgument("field \"migProfiles\": expected an array, got " + JsonTypeName(v));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string field = "migProfiles[" + std::to_string(i) + "]";
    const OrderedJson& item = v[i];
    if (!item.is_object()) {
      return InvalidArgument("field \"" + field + "\": expected an object, got " +
                             JsonTypeName(item));
    }
    MigProfile profile;
    for (const auto& [raw_key, value] : item.items()) {
      const std::string key = ToLower(raw_key);
      if (key == "name") {
        HAMI_RETURN_IF_ERROR(ReadString(value, field + ".name", &profile.name));
      } else if (key == "memorymb") {
        HAMI_RETURN_IF_ERROR(ReadInt(value, field + ".memoryMB", 0, &profile.memory_mib));
      } else if (key == "core") {
        HAMI_RETURN_IF_ERROR(ReadInt(value, field + ".core", 0, &profile.core));
      } else if (key == "slicecount") {
        HAMI_RETURN_IF_ERROR(ReadInt(value, field + ".sliceCount", 0, &profile.slice_count));
      } else if (key == "placements") {
        profile.placements.clear();
        if (value.is_null()) continue;
        if (!value.is_array()) {
          return InvalidArgument("field \"" + field + ".placements\": expected an array, got " +
                                 JsonTypeName(value));
        }
        for (size_t k = 0; k < value.size(); ++k) {
          MigPlacement placement;
          HAMI_RETURN_IF_ERROR(ReadMigPlacement(
              value[k], field + ".placements[" + std::to_string(k) + "]", &placement));
          profile.placements.push_back(placement);
        }
      }
    }
    if (profile.name.empty()) {
      return InvalidArgument("field \"" + field + ".name\": a MIG profile needs a name");
    }
    out->push_back(std::move(profile));
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
    } else if (key == "migprofiles") {
      st = ReadMigProfiles(value, &d.mig_profiles);
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

void AppendMigProfiles(std::string& out, const std::vector<MigProfile>& profiles) {
  out.push_back('[');
  for (size_t i = 0; i < profiles.size(); ++i) {
    const MigProfile& p = profiles[i];
    if (i > 0) out.push_back(',');
    out += "{\"name\":";
    AppendGoJsonString(out, p.name);
    out += ",\"memoryMB\":" + std::to_string(p.memory_mib) + ",\"core\":" + std::to_string(p.core) +
           ",\"sliceCount\":" + std::to_string(p.slice_count) + ",\"placements\":[";
    for (size_t k = 0; k < p.placements.size(); ++k) {
      if (k > 0) out.push_back(',');
      out += "{\"start\":" + std::to_string(p.placements[k].start) +
             ",\"size\":" + std::to_string(p.placements[k].size) + "}";
    }
    out += "]}";
  }
  out.push_back(']');
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
    if (!d.mig_profiles.empty()) {
      key("migProfiles");
      AppendMigProfiles(out, d.mig_profiles);
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
  OrderedJson doc;
  HAMI_RETURN_IF_ERROR(go_json::ParseDocument(json, context, &doc));
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
