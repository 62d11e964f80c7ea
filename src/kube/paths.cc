#include "kube/paths.h"

namespace hami::kube {
namespace {

std::string Namespaced(std::string_view prefix, std::string_view ns, std::string_view kind) {
  std::string out(prefix);
  if (!ns.empty()) out += "/namespaces/" + UrlEncode(ns);
  out += "/";
  out += kind;
  return out;
}

}  // namespace

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                      u == '-' || u == '.' || u == '_' || u == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

std::string WithQuery(std::string_view path,
                      const std::vector<std::pair<std::string, std::string>>& query) {
  std::string out(path);
  bool has_query = out.find('?') != std::string::npos;
  for (const auto& [key, value] : query) {
    if (value.empty()) continue;
    out.push_back(has_query ? '&' : '?');
    has_query = true;
    out += UrlEncode(key) + "=" + UrlEncode(value);
  }
  return out;
}

std::string PodsPath(std::string_view ns) { return Namespaced("/api/v1", ns, "pods"); }
std::string PodPath(std::string_view ns, std::string_view name) {
  return PodsPath(ns) + "/" + UrlEncode(name);
}
std::string PodBindingPath(std::string_view ns, std::string_view name) {
  return PodPath(ns, name) + "/binding";
}
std::string NodesPath() { return "/api/v1/nodes"; }
std::string ResourceQuotasPath(std::string_view ns) {
  return Namespaced("/api/v1", ns, "resourcequotas");
}
std::string NodePath(std::string_view name) { return NodesPath() + "/" + UrlEncode(name); }
std::string EventsPath(std::string_view ns) { return Namespaced("/api/v1", ns, "events"); }
std::string LeasesPath(std::string_view ns) {
  return Namespaced("/apis/coordination.k8s.io/v1", ns, "leases");
}
std::string LeasePath(std::string_view ns, std::string_view name) {
  return LeasesPath(ns) + "/" + UrlEncode(name);
}

}  // namespace hami::kube
