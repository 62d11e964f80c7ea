#include "tests/fakes/api_resources.h"

#include <array>
#include <chrono>
#include <ctime>
#include <vector>

#include "common/strings.h"

namespace hami::fakes {
namespace {

constexpr std::array<ApiResource, 5> kResources = {{
    {"", "v1", "pods", "Pod", "PodList", true, true},
    {"", "v1", "resourcequotas", "ResourceQuota", "ResourceQuotaList", true, true},
    {"", "v1", "nodes", "Node", "NodeList", false, true},
    {"", "v1", "events", "Event", "EventList", true, false},
    {"coordination.k8s.io", "v1", "leases", "Lease", "LeaseList", true, false},
}};

const char* ReasonForCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}

}  // namespace

std::string ApiResource::api_version() const {
  if (group.empty()) return std::string(version);
  return std::string(group) + "/" + std::string(version);
}

std::string ApiResource::qualified() const {
  if (group.empty()) return std::string(plural);
  return std::string(plural) + "." + std::string(group);
}

const ApiResource* FindResource(std::string_view plural_or_kind) {
  for (const ApiResource& r : kResources) {
    if (r.plural == plural_or_kind || r.kind == plural_or_kind) return &r;
  }
  return nullptr;
}

std::optional<ApiPath> ParseApiPath(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::vector<std::string_view> seg = Split(path.substr(1), '/');
  for (std::string_view s : seg) {
    if (s.empty()) return std::nullopt;  // "//" or a trailing slash
  }
  std::string_view group;
  size_t i;
  if (seg.size() >= 2 && seg[0] == "api") {
    i = 1;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    group = seg[1];
    i = 2;
  } else {
    return std::nullopt;
  }
  std::string_view version = seg[i++];
  ApiPath out{nullptr, "", "", ""};
  if (i + 1 < seg.size() && seg[i] == "namespaces" && i + 2 < seg.size()) {
    out.ns = std::string(seg[i + 1]);
    i += 2;
  }
  if (i >= seg.size() || seg.size() - i > 3) return std::nullopt;
  std::string_view plural = seg[i];
  for (const ApiResource& r : kResources) {
    if (r.group == group && r.version == version && r.plural == plural) out.resource = &r;
  }
  if (out.resource == nullptr) return std::nullopt;
  if (i + 1 < seg.size()) out.name = std::string(seg[i + 1]);
  if (i + 2 < seg.size()) out.subresource = std::string(seg[i + 2]);
  if (!out.resource->namespaced && !out.ns.empty()) return std::nullopt;
  if (out.resource->namespaced && out.ns.empty() && !out.name.empty()) return std::nullopt;
  return out;
}

std::string VerbOf(std::string_view method, const ApiPath& path, bool watch) {
  if (method == "GET" || method == "HEAD") {
    if (!path.name.empty()) return "get";
    return watch ? "watch" : "list";
  }
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return path.name.empty() ? "deletecollection" : "delete";
  return ToLower(method);
}

nlohmann::json FailureStatus(int code, std::string_view reason, const std::string& message,
                             nlohmann::json details) {
  nlohmann::json s = {
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
      {"status", "Failure"}, {"message", message}, {"reason", reason},
      {"code", code}};
  if (!details.is_null()) s["details"] = std::move(details);
  return s;
}

nlohmann::json ResourceDetails(const ApiResource& r, const std::string& name) {
  nlohmann::json d = {{"name", name}, {"kind", r.plural}};
  if (!r.group.empty()) d["group"] = r.group;
  return d;
}

nlohmann::json NotFoundStatus(const ApiResource& r, const std::string& name) {
  return FailureStatus(404, "NotFound", r.qualified() + " \"" + name + "\" not found",
                       ResourceDetails(r, name));
}

nlohmann::json AlreadyExistsStatus(const ApiResource& r, const std::string& name) {
  return FailureStatus(409, "AlreadyExists", r.qualified() + " \"" + name + "\" already exists",
                       ResourceDetails(r, name));
}

nlohmann::json ConflictStatus(const ApiResource& r, const std::string& name,
                              const std::string& why) {
  std::string reason_text =
      why.empty() ? "the object has been modified; please apply your changes to the latest "
                    "version and try again"
                  : why;
  return FailureStatus(
      409, "Conflict",
      "Operation cannot be fulfilled on " + r.qualified() + " \"" + name + "\": " + reason_text,
      ResourceDetails(r, name));
}

nlohmann::json InvalidStatus(const ApiResource& r, const std::string& name,
                             const std::string& why) {
  nlohmann::json details = {{"name", name}, {"kind", r.kind}};
  if (!r.group.empty()) details["group"] = r.group;
  details["causes"] = nlohmann::json::array({{{"message", why}}});
  return FailureStatus(422, "Invalid", std::string(r.kind) + " \"" + name + "\" is invalid: " + why,
                       details);
}

nlohmann::json BadRequestStatus(const std::string& message) {
  return FailureStatus(400, "BadRequest", message);
}

nlohmann::json InjectedStatus(int code, int retry_after_seconds) {
  nlohmann::json details = nullptr;
  if (retry_after_seconds > 0) details = {{"retryAfterSeconds", retry_after_seconds}};
  return FailureStatus(code, ReasonForCode(code),
                       "injected failure (HTTP " + std::to_string(code) + ")", details);
}

nlohmann::json ExpiredStatus(uint64_t requested_rv, uint64_t oldest_rv) {
  return FailureStatus(410, "Expired",
                       "too old resource version: " + std::to_string(requested_rv) + " (" +
                           std::to_string(oldest_rv) + ")");
}

bool FieldSelectable(const ApiResource& r, const std::string& field) {
  if (field == "metadata.name") return true;
  if (field == "metadata.namespace") return r.namespaced;
  if (r.plural == "pods") {
    return field == "spec.nodeName" || field == "spec.schedulerName" ||
           field == "spec.restartPolicy" || field == "spec.serviceAccountName" ||
           field == "status.phase" || field == "status.podIP" ||
           field == "status.nominatedNodeName";
  }
  if (r.plural == "nodes") return field == "spec.unschedulable";
  if (r.plural == "events") {
    return field == "involvedObject.kind" || field == "involvedObject.namespace" ||
           field == "involvedObject.name" || field == "involvedObject.uid" || field == "reason" ||
           field == "type" || field == "source";
  }
  return false;
}

std::string FieldValue(const nlohmann::json& object, const std::string& field) {
  const nlohmann::json* cur = &object;
  for (std::string_view part : Split(field, '.')) {
    if (!cur->is_object()) return "";
    auto it = cur->find(std::string(part));
    if (it == cur->end()) {
      return field == "spec.unschedulable" ? "false" : "";
    }
    cur = &*it;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_boolean()) return cur->get<bool>() ? "true" : "false";
  if (cur->is_null()) return "";
  return cur->dump();
}

std::string NowRfc3339() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace hami::fakes
