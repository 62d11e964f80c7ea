// REST paths of the objects HAMi touches, and query-string building.
//
// Pure functions; thread-safe. Names and namespaces are percent-encoded, so a hostile name
// cannot change the path. An empty namespace in a collection path means all namespaces.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hami::kube {

// Percent-encodes everything except RFC 3986 unreserved characters.
std::string UrlEncode(std::string_view text);

// Appends "?k=v&k2=v2" (or "&..." when `path` already has a query), encoding the values;
// pairs with an empty value are skipped.
std::string WithQuery(std::string_view path,
                      const std::vector<std::pair<std::string, std::string>>& query);

std::string PodsPath(std::string_view ns);  // "/api/v1/namespaces/<ns>/pods" or "/api/v1/pods"
std::string PodPath(std::string_view ns, std::string_view name);
std::string PodBindingPath(std::string_view ns, std::string_view name);  // ".../binding"
std::string NodesPath();                                                 // "/api/v1/nodes"
std::string NodePath(std::string_view name);
std::string EventsPath(std::string_view ns);  // core/v1 events
// "/api/v1/namespaces/<ns>/resourcequotas" or "/api/v1/resourcequotas"
std::string ResourceQuotasPath(std::string_view ns);
std::string LeasesPath(std::string_view ns);  // coordination.k8s.io/v1
std::string LeasePath(std::string_view ns, std::string_view name);

}  // namespace hami::kube
