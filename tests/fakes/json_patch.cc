#include "tests/fakes/json_patch.h"

#include <string>

namespace hami::fakes {

Result<nlohmann::json> ApplyMergePatch(const nlohmann::json& target, const nlohmann::json& patch) {
  if (!patch.is_object()) return InvalidArgument("merge patch must be a JSON object");
  nlohmann::json out = target;
  out.merge_patch(patch);  // nlohmann implements RFC 7386 exactly; it does not throw
  return out;
}

Result<nlohmann::json> ApplyJsonPatch(const nlohmann::json& target, const nlohmann::json& patch) {
  if (!patch.is_array()) return InvalidArgument("json patch must be a JSON array of operations");
  for (const auto& op : patch) {
    if (!op.is_object() || !op.contains("op") || !op["op"].is_string() || !op.contains("path") ||
        !op["path"].is_string()) {
      return InvalidArgument("json patch operation needs string members 'op' and 'path'");
    }
    const std::string name = op["op"].get<std::string>();
    if (name != "add" && name != "remove" && name != "replace" && name != "move" &&
        name != "copy" && name != "test") {
      return InvalidArgument("unknown json patch operation '" + name + "'");
    }
    if ((name == "add" || name == "replace" || name == "test") && !op.contains("value")) {
      return InvalidArgument("json patch operation '" + name + "' needs a 'value'");
    }
    if ((name == "move" || name == "copy") && !(op.contains("from") && op["from"].is_string())) {
      return InvalidArgument("json patch operation '" + name + "' needs a string 'from'");
    }
  }
  // The document is well formed now; what remains can only fail to apply. nlohmann reports
  // pointer syntax errors as parse_error, which the checks above cannot see, so those are
  // told apart here.
  try {
    return target.patch(patch);
  } catch (const nlohmann::json::parse_error& e) {
    return InvalidArgument(std::string("malformed json patch: ") + e.what());
  } catch (const nlohmann::json::exception& e) {
    return FailedPrecondition(std::string("json patch does not apply: ") + e.what());
  }
}

}  // namespace hami::fakes
