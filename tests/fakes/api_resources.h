// The pieces of the Kubernetes REST protocol the fake API server needs that are not about
// storage: which resources exist and where, URL paths, Status error objects, field selector
// values. Pure functions over static data: thread-safe, no exceptions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace hami::fakes {

struct ApiResource {
  std::string_view group;  // "" for core
  std::string_view version;
  std::string_view plural;
  std::string_view kind;
  std::string_view list_kind;
  bool namespaced;
  bool has_status;  // status is a subresource: main-resource writes keep the old status

  std::string api_version() const;  // "v1", "coordination.k8s.io/v1"
  std::string qualified() const;    // "pods", "leases.coordination.k8s.io" (used in messages)
};

// By plural ("pods") or kind ("Pod"); nullptr when not served.
const ApiResource* FindResource(std::string_view plural_or_kind);

// A URL path split into its REST parts. Examples:
//   /api/v1/namespaces/ns/pods/p/binding -> pods, ns, p, binding
//   /api/v1/pods                         -> pods, "", "", ""   (all namespaces)
//   /apis/coordination.k8s.io/v1/namespaces/ns/leases/l
struct ApiPath {
  const ApiResource* resource;
  std::string ns;
  std::string name;
  std::string subresource;
};
// nullopt for anything that is not a served resource path (unknown group/version/resource,
// a namespace on a cluster-scoped resource, a name without namespace on a namespaced one).
std::optional<ApiPath> ParseApiPath(std::string_view path);

// Kubernetes verb of a request: get list watch create update patch delete deletecollection.
std::string VerbOf(std::string_view method, const ApiPath& path, bool watch);

// metav1.Status with status Failure. `details` may be null (omitted).
nlohmann::json FailureStatus(int code, std::string_view reason, const std::string& message,
                             nlohmann::json details = nullptr);
// {"name", "group"?, "kind": plural} as the real server fills details for resource errors.
nlohmann::json ResourceDetails(const ApiResource& r, const std::string& name);
nlohmann::json NotFoundStatus(const ApiResource& r, const std::string& name);
nlohmann::json AlreadyExistsStatus(const ApiResource& r, const std::string& name);
// `why` defaults to the optimistic-concurrency message clients look for.
nlohmann::json ConflictStatus(const ApiResource& r, const std::string& name,
                              const std::string& why = "");
nlohmann::json InvalidStatus(const ApiResource& r, const std::string& name, const std::string& why);
nlohmann::json BadRequestStatus(const std::string& message);
// The Status a fault injection answers with: the reason the real server uses for `code`.
nlohmann::json InjectedStatus(int code, int retry_after_seconds);
// 410 Expired for a watch from a compacted resourceVersion.
nlohmann::json ExpiredStatus(uint64_t requested_rv, uint64_t oldest_rv);

// Whether the real server accepts `field` in a field selector for `r`.
bool FieldSelectable(const ApiResource& r, const std::string& field);
// The value of a selectable field (dotted path; missing -> "", booleans "true"/"false").
std::string FieldValue(const nlohmann::json& object, const std::string& field);

// Current UTC time as RFC 3339 with second precision ("2024-05-01T12:00:00Z").
std::string NowRfc3339();

}  // namespace hami::fakes
