#include "scheduler/extender_types.h"

#include "common/strings.h"

namespace hami::scheduler {

namespace {

// Go's encoding/json matches keys case-insensitively (exact match preferred).
const nlohmann::json* FindKey(const nlohmann::json& object, std::string_view key) {
  auto exact = object.find(std::string(key));
  if (exact != object.end()) return &*exact;
  const std::string lower = ToLower(key);
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (ToLower(it.key()) == lower) return &*it;
  }
  return nullptr;
}

Result<nlohmann::json> ParseObject(std::string_view body, const char* what) {
  if (body.size() > kMaxExtenderBodyBytes) {
    return InvalidArgument(std::string(what) + " body is " + std::to_string(body.size()) +
                           " bytes, more than the " + std::to_string(kMaxExtenderBodyBytes) +
                           " allowed");
  }
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return InvalidArgument(std::string(what) + " body is not valid JSON");
  if (!json.is_object()) return InvalidArgument(std::string(what) + " body is not a JSON object");
  return json;
}

Result<std::string> StringField(const nlohmann::json& object, std::string_view key, bool required) {
  const nlohmann::json* value = FindKey(object, key);
  if (value == nullptr || value->is_null()) {
    if (required) return InvalidArgument("missing " + std::string(key));
    return std::string();
  }
  if (!value->is_string()) return InvalidArgument(std::string(key) + " is not a string");
  if (required && value->get_ref<const std::string&>().empty()) {
    return InvalidArgument(std::string(key) + " is empty");
  }
  return value->get<std::string>();
}

nlohmann::json NodesJson(const std::optional<std::vector<nlohmann::json>>& nodes) {
  if (!nodes) return nullptr;
  nlohmann::json list = {{"metadata", nlohmann::json::object()}, {"items", *nodes}};
  return list;
}

nlohmann::json MapJson(const std::map<std::string, std::string>& map) {
  if (map.empty()) return nullptr;  // Go encodes a nil map as null
  return nlohmann::json(map);
}

}  // namespace

Result<ExtenderArgs> DecodeExtenderArgs(std::string_view body) {
  HAMI_ASSIGN_OR_RETURN(nlohmann::json json, ParseObject(body, "ExtenderArgs"));
  ExtenderArgs args;
  const nlohmann::json* pod = FindKey(json, "Pod");
  if (pod == nullptr || !pod->is_object()) {
    return InvalidArgument("ExtenderArgs: missing Pod object");
  }
  args.pod = *pod;
  if (const nlohmann::json* nodes = FindKey(json, "Nodes"); nodes && !nodes->is_null()) {
    const nlohmann::json* items = nodes->is_object() ? FindKey(*nodes, "items") : nullptr;
    if (items == nullptr || !(items->is_array() || items->is_null())) {
      return InvalidArgument("ExtenderArgs: Nodes is not a NodeList");
    }
    args.nodes.emplace();
    if (items->is_array()) {
      for (const nlohmann::json& node : *items) {
        if (!node.is_object())
          return InvalidArgument("ExtenderArgs: a Nodes item is not an object");
        args.nodes->push_back(node);
      }
    }
  }
  if (const nlohmann::json* names = FindKey(json, "NodeNames"); names && !names->is_null()) {
    if (!names->is_array()) return InvalidArgument("ExtenderArgs: NodeNames is not an array");
    args.node_names.emplace();
    for (const nlohmann::json& name : *names) {
      if (!name.is_string())
        return InvalidArgument("ExtenderArgs: a NodeNames item is not a string");
      args.node_names->push_back(name.get<std::string>());
    }
  }
  return args;
}

std::string EncodeExtenderFilterResult(const ExtenderFilterResult& result) {
  nlohmann::ordered_json json;
  json["Nodes"] = NodesJson(result.nodes);
  json["NodeNames"] = result.node_names ? nlohmann::json(*result.node_names) : nlohmann::json();
  json["FailedNodes"] = MapJson(result.failed_nodes);
  json["FailedAndUnresolvableNodes"] = MapJson(result.failed_and_unresolvable);
  json["Error"] = result.error;
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<ExtenderBindingArgs> DecodeExtenderBindingArgs(std::string_view body) {
  HAMI_ASSIGN_OR_RETURN(nlohmann::json json, ParseObject(body, "ExtenderBindingArgs"));
  ExtenderBindingArgs args;
  auto field = [&](std::string_view key, bool required, std::string* out) -> Status {
    auto value = StringField(json, key, required);
    if (!value.ok()) return value.status().WithContext("ExtenderBindingArgs");
    *out = std::move(*value);
    return Status::Ok();
  };
  HAMI_RETURN_IF_ERROR(field("PodName", true, &args.pod_name));
  HAMI_RETURN_IF_ERROR(field("PodNamespace", true, &args.pod_namespace));
  HAMI_RETURN_IF_ERROR(field("PodUID", false, &args.pod_uid));
  HAMI_RETURN_IF_ERROR(field("Node", true, &args.node));
  return args;
}

std::string EncodeExtenderBindingResult(const std::string& error) {
  nlohmann::ordered_json json;
  json["Error"] = error;
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hami::scheduler
