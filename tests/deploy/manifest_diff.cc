#include "tests/deploy/manifest_diff.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

namespace hami::deploy {
namespace {

using Json = nlohmann::json;

const std::set<std::string> kHelmMetadataKeys = {"helm.sh/chart", "app.kubernetes.io/managed-by",
                                                 "app.kubernetes.io/instance",
                                                 "app.kubernetes.io/version"};

// A plain scalar resolved as YAML 1.2's core schema does; quoted scalars are strings.
Json Resolve(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;
  static const std::regex kNull("~|null|Null|NULL|");
  static const std::regex kTrue("true|True|TRUE");
  static const std::regex kFalse("false|False|FALSE");
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (std::regex_match(text, kNull)) return nullptr;
  if (std::regex_match(text, kTrue)) return true;
  if (std::regex_match(text, kFalse)) return false;
  try {
    if (std::regex_match(text, kInt)) return std::stoll(text);
    if (std::regex_match(text, kFloat)) return std::stod(text);
  } catch (const std::exception&) {
    // Out of range: keep the text, both sides are compared the same way.
  }
  return text;
}

Json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Resolve(node);
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const YAML::Node& item : node) out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& entry : node) out[entry.first.Scalar()] = ToJson(entry.second);
      return out;
    }
    default:
      return nullptr;
  }
}

std::string RightTrimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// An image with a tag other than latest (or a digest): the API server defaults its
// imagePullPolicy to IfNotPresent.
bool PinnedImage(const std::string& image) {
  if (image.find('@') != std::string::npos) return true;
  const size_t slash = image.rfind('/');
  const size_t colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return false;
  return image.substr(colon + 1) != "latest";
}

void Normalize(Json& value, const DiffOptions& options) {
  if (value.is_array()) {
    for (Json& item : value) Normalize(item, options);
    return;
  }
  if (!value.is_object()) return;
  for (const char* key : {"labels", "annotations", "matchLabels"}) {
    auto it = value.find(key);
    if (it == value.end() || !it->is_object()) continue;
    for (auto entry = it->begin(); entry != it->end();) {
      const std::string& name = entry.key();
      if (kHelmMetadataKeys.count(name) != 0 || name.rfind("checksum/", 0) == 0) {
        entry = it->erase(entry);
      } else {
        ++entry;
      }
    }
    if (it->empty()) value.erase(key);
  }
  auto image = value.find("image");
  if (image != value.end() && image->is_string() && value.contains("name") &&
      !value.contains("imagePullPolicy") && PinnedImage(image->get<std::string>())) {
    value["imagePullPolicy"] = "IfNotPresent";
  }
  for (auto& [key, child] : value.items()) {
    Normalize(child, options);
    if (child.is_array() && options.set_like_keys.count(key) != 0) {
      std::sort(child.begin(), child.end(),
                [](const Json& a, const Json& b) { return a.dump() < b.dump(); });
    }
  }
}

// A ConfigMap's values as what they mean: a parsed document when both renderers wrote YAML or
// JSON structure, otherwise the text.
Json ConfigMapValue(const std::string& text, const DiffOptions& options) {
  try {
    const YAML::Node parsed = YAML::Load(text);
    if (parsed.IsMap() || parsed.IsSequence()) {
      Json out = ToJson(parsed);
      Normalize(out, options);
      return Json{{"<parsed>", out}};
    }
  } catch (const YAML::Exception&) {
    // Not YAML: compared as text.
  }
  return RightTrimmed(text);
}

std::string Id(const Json& object) {
  const Json& metadata = object.value("metadata", Json::object());
  const std::string ns = metadata.value("namespace", "");
  return object.value("kind", "") + "/" + (ns.empty() ? "" : ns + "/") + metadata.value("name", "");
}

Json Prepared(const YAML::Node& document, const DiffOptions& options) {
  Json object = ToJson(document);
  if (object.value("kind", "") == "ConfigMap" && object.contains("data") &&
      object["data"].is_object()) {
    for (auto& [key, value] : object["data"].items()) {
      if (value.is_string()) value = ConfigMapValue(value.get<std::string>(), options);
    }
  }
  Normalize(object, options);
  return object;
}

std::string Shown(const Json* value) {
  if (value == nullptr) return "<absent>";
  std::string text = value->dump();
  if (text.size() > 400) text = text.substr(0, 400) + "...";
  return text;
}

std::string KeyPath(const std::string& key) {
  static const std::regex kPlain("[A-Za-z0-9_-]+");
  return std::regex_match(key, kPlain) ? "." + key : "[\"" + key + "\"]";
}

void Diff(const Json* kustomize, const Json* helm, const std::string& path, const std::string& id,
          Problems* problems) {
  if (kustomize != nullptr && helm != nullptr) {
    if (kustomize->is_object() && helm->is_object()) {
      std::set<std::string> keys;
      for (const auto& [key, value] : kustomize->items()) keys.insert(key);
      for (const auto& [key, value] : helm->items()) keys.insert(key);
      for (const std::string& key : keys) {
        auto a = kustomize->find(key);
        auto b = helm->find(key);
        Diff(a != kustomize->end() ? &*a : nullptr, b != helm->end() ? &*b : nullptr,
             path + KeyPath(key), id, problems);
      }
      return;
    }
    if (kustomize->is_array() && helm->is_array() && kustomize->size() == helm->size()) {
      for (size_t i = 0; i < kustomize->size(); ++i) {
        Diff(&(*kustomize)[i], &(*helm)[i], path + "[" + std::to_string(i) + "]", id, problems);
      }
      return;
    }
    if (*kustomize == *helm) return;
  }
  problems->push_back(id + ": " + (path.empty() ? "." : path) + ": kustomize " + Shown(kustomize) +
                      ", helm " + Shown(helm));
}

}  // namespace

Problems DiffRenderings(const Objects& kustomize, const Objects& helm, const DiffOptions& options) {
  Problems problems;
  std::map<std::string, Json> left, right;
  for (const YAML::Node& document : kustomize) {
    Json object = Prepared(document, options);
    const std::string id = Id(object);
    if (!left.emplace(id, std::move(object)).second)
      problems.push_back(id + ": twice in kustomize");
  }
  for (const YAML::Node& document : helm) {
    Json object = Prepared(document, options);
    const std::string id = Id(object);
    if (!right.emplace(id, std::move(object)).second) problems.push_back(id + ": twice in helm");
  }
  for (const std::string& id : options.kustomize_only) {
    if (left.count(id) == 0) problems.push_back(id + ": expected in kustomize only, not rendered");
    if (right.count(id) != 0) problems.push_back(id + ": expected in kustomize only, in helm too");
  }
  for (auto& [id, object] : left) {
    auto it = right.find(id);
    if (it == right.end()) {
      if (options.kustomize_only.count(id) == 0) problems.push_back(id + ": only in kustomize");
      continue;
    }
    // The chart may label an object's own metadata more; it may not drop or change a label.
    Json& helm_object = it->second;
    if (helm_object.contains("metadata") && helm_object["metadata"].contains("labels")) {
      Json& labels = helm_object["metadata"]["labels"];
      const Json kustomize_labels =
          object.value("metadata", Json::object()).value("labels", Json::object());
      for (auto label = labels.begin(); label != labels.end();) {
        label = kustomize_labels.contains(label.key()) ? std::next(label) : labels.erase(label);
      }
      if (labels.empty()) helm_object["metadata"].erase("labels");
    }
    Diff(&object, &helm_object, "", id, &problems);
  }
  for (const auto& [id, object] : right) {
    if (left.count(id) == 0) problems.push_back(id + ": only in helm");
  }
  return problems;
}

}  // namespace hami::deploy
