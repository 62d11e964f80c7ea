#include "kube/objects.h"

#include <cstdio>
#include <ctime>

namespace hami::kube {
namespace {

using nlohmann::json;

std::optional<std::string_view> StringEntry(const json* map, std::string_view key) {
  if (map == nullptr || !map->is_object()) return std::nullopt;
  auto it = map->find(key);
  if (it == map->end() || !it->is_string()) return std::nullopt;
  return std::string_view(it->get_ref<const std::string&>());
}

StringMap StringMapOf(const json* map) {
  StringMap out;
  if (map == nullptr || !map->is_object()) return out;
  for (auto it = map->begin(); it != map->end(); ++it) {
    if (it.value().is_string()) out.emplace(it.key(), it.value().get<std::string>());
  }
  return out;
}

std::string_view StringOf(const json* value) {
  if (value == nullptr || !value->is_string()) return {};
  return value->get_ref<const std::string&>();
}

std::vector<ContainerView> ContainersAt(const json& pod, std::string_view list_key) {
  std::vector<ContainerView> out;
  const json* list = FindPath(pod, {"spec", list_key});
  if (list == nullptr || !list->is_array()) return out;
  for (const json& c : *list) {
    if (!c.is_object()) continue;
    ContainerView view;
    view.name = std::string(StringAt(c, {"name"}));
    view.limits = StringMapAt(c, {"resources", "limits"});
    view.requests = StringMapAt(c, {"resources", "requests"});
    out.push_back(std::move(view));
  }
  return out;
}

std::optional<int64_t> IntOf(const json* value) {
  if (value == nullptr || !value->is_number_integer()) return std::nullopt;
  return value->get<int64_t>();
}

std::vector<ContainerStatusView> StatusesAt(const json& pod, std::string_view list_key) {
  std::vector<ContainerStatusView> out;
  const json* list = FindPath(pod, {"status", list_key});
  if (list == nullptr || !list->is_array()) return out;
  for (const json& s : *list) {
    if (!s.is_object()) continue;
    ContainerStatusView view;
    view.name = std::string(StringAt(s, {"name"}));
    const json* ready = FindPath(s, {"ready"});
    view.ready = ready != nullptr && ready->is_boolean() && ready->get<bool>();
    view.restart_count = IntOf(FindPath(s, {"restartCount"})).value_or(0);
    for (const char* state : {"terminated", "running", "waiting"}) {
      const json* detail = FindPath(s, {"state", state});
      if (detail == nullptr || !detail->is_object()) continue;
      view.state = state;
      view.reason = std::string(StringAt(*detail, {"reason"}));
      if (view.state == "terminated") view.exit_code = IntOf(FindPath(*detail, {"exitCode"}));
      break;
    }
    out.push_back(std::move(view));
  }
  return out;
}

json KeyedPatch(std::string_view field,
                const std::map<std::string, std::optional<std::string>>& entries,
                std::string_view resource_version) {
  json values = json::object();
  for (const auto& [key, value] : entries) {
    values[key] = value ? json(*value) : json(nullptr);
  }
  json metadata = json::object();
  metadata[std::string(field)] = std::move(values);
  if (!resource_version.empty()) metadata["resourceVersion"] = std::string(resource_version);
  return json{{"metadata", std::move(metadata)}};
}

}  // namespace

const json* FindPath(const json& root, std::initializer_list<std::string_view> path) {
  const json* node = &root;
  for (std::string_view key : path) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

std::string_view StringAt(const json& root, std::initializer_list<std::string_view> path) {
  return StringOf(FindPath(root, path));
}

StringMap StringMapAt(const json& root, std::initializer_list<std::string_view> path) {
  return StringMapOf(FindPath(root, path));
}

std::string ObjectKey(const json& object) {
  std::string_view ns = StringAt(object, {"metadata", "namespace"});
  std::string_view name = StringAt(object, {"metadata", "name"});
  if (ns.empty()) return std::string(name);
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).append("/").append(name);
  return key;
}

std::string_view ObjectView::Namespace() const {
  return StringAt(*json_, {"metadata", "namespace"});
}
std::string_view ObjectView::Name() const { return StringAt(*json_, {"metadata", "name"}); }
std::string_view ObjectView::Uid() const { return StringAt(*json_, {"metadata", "uid"}); }
std::string_view ObjectView::ResourceVersion() const {
  return StringAt(*json_, {"metadata", "resourceVersion"});
}
StringMap ObjectView::Labels() const { return StringMapAt(*json_, {"metadata", "labels"}); }
StringMap ObjectView::Annotations() const {
  return StringMapAt(*json_, {"metadata", "annotations"});
}
std::optional<std::string_view> ObjectView::Label(std::string_view key) const {
  return StringEntry(FindPath(*json_, {"metadata", "labels"}), key);
}
std::optional<std::string_view> ObjectView::Annotation(std::string_view key) const {
  return StringEntry(FindPath(*json_, {"metadata", "annotations"}), key);
}
std::string_view ObjectView::DeletionTimestamp() const {
  return StringAt(*json_, {"metadata", "deletionTimestamp"});
}

std::string_view PodView::NodeName() const { return StringAt(*json_, {"spec", "nodeName"}); }
std::string_view PodView::SchedulerName() const {
  return StringAt(*json_, {"spec", "schedulerName"});
}
std::string_view PodView::Phase() const { return StringAt(*json_, {"status", "phase"}); }
std::vector<ContainerView> PodView::Containers() const {
  return ContainersAt(*json_, "containers");
}
std::vector<ContainerView> PodView::InitContainers() const {
  return ContainersAt(*json_, "initContainers");
}
std::vector<ContainerStatusView> PodView::ContainerStatuses() const {
  return StatusesAt(*json_, "containerStatuses");
}
std::vector<ContainerStatusView> PodView::InitContainerStatuses() const {
  return StatusesAt(*json_, "initContainerStatuses");
}

StringMap PodView::Overhead() const { return StringMapAt(*json_, {"spec", "overhead"}); }
StringMap NodeView::Allocatable() const { return StringMapAt(*json_, {"status", "allocatable"}); }
StringMap NodeView::Capacity() const { return StringMapAt(*json_, {"status", "capacity"}); }
bool NodeView::Unschedulable() const {
  const nlohmann::json* value = FindPath(*json_, {"spec", "unschedulable"});
  return value != nullptr && value->is_boolean() && value->get<bool>();
}
bool NodeView::Ready() const {
  const nlohmann::json* conditions = FindPath(*json_, {"status", "conditions"});
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const nlohmann::json& c : *conditions) {
    if (StringAt(c, {"type"}) == "Ready") return StringAt(c, {"status"}) == "True";
  }
  return false;
}

std::string_view LeaseView::HolderIdentity() const {
  return StringAt(*json_, {"spec", "holderIdentity"});
}
std::optional<int64_t> LeaseView::LeaseDurationSeconds() const {
  return IntOf(FindPath(*json_, {"spec", "leaseDurationSeconds"}));
}
std::string_view LeaseView::RenewTime() const { return StringAt(*json_, {"spec", "renewTime"}); }
std::string_view LeaseView::AcquireTime() const {
  return StringAt(*json_, {"spec", "acquireTime"});
}

json AnnotationsPatch(const std::map<std::string, std::optional<std::string>>& annotations,
                      std::string_view resource_version) {
  return KeyedPatch("annotations", annotations, resource_version);
}

json LabelsPatch(const std::map<std::string, std::optional<std::string>>& labels,
                 std::string_view resource_version) {
  return KeyedPatch("labels", labels, resource_version);
}

json BindingBody(std::string_view ns, std::string_view pod, std::string_view uid,
                 std::string_view node) {
  json metadata = {{"name", std::string(pod)}, {"namespace", std::string(ns)}};
  if (!uid.empty()) metadata["uid"] = std::string(uid);
  return json{{"apiVersion", "v1"},
              {"kind", "Binding"},
              {"metadata", std::move(metadata)},
              {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", std::string(node)}}}};
}

std::string FormatRfc3339Utc(std::chrono::system_clock::time_point time, bool micros) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - seconds).count();
  std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (micros) {
    std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(us));
    out += buf;
  }
  out += "Z";
  return out;
}

json EventBody(const EventSpec& spec, std::chrono::system_clock::time_point now) {
  auto ns_since_epoch =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  char hex[32];
  std::snprintf(hex, sizeof(hex), "%llx", static_cast<unsigned long long>(ns_since_epoch));
  std::string stamp = FormatRfc3339Utc(now);
  json involved = {{"kind", spec.involved_kind},
                   {"apiVersion", spec.involved_api_version},
                   {"name", spec.involved_name}};
  if (!spec.involved_namespace.empty()) involved["namespace"] = spec.involved_namespace;
  if (!spec.involved_uid.empty()) involved["uid"] = spec.involved_uid;
  json source = {{"component", spec.component}};
  if (!spec.host.empty()) source["host"] = spec.host;
  json metadata = {{"name", spec.involved_name + "." + hex}};
  if (!spec.involved_namespace.empty()) metadata["namespace"] = spec.involved_namespace;
  return json{{"apiVersion", "v1"},
              {"kind", "Event"},
              {"metadata", std::move(metadata)},
              {"involvedObject", std::move(involved)},
              {"reason", spec.reason},
              {"message", spec.message},
              {"type", spec.type},
              {"source", std::move(source)},
              {"reportingComponent", spec.component},
              {"firstTimestamp", stamp},
              {"lastTimestamp", stamp},
              {"count", 1}};
}

}  // namespace hami::kube
