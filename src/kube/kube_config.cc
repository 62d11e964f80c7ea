#include "kube/kube_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include "common/strings.h"

namespace hami::kube {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(what + ": cannot read file " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return InvalidArgument(what + ": error reading file " + path.string());
  return out.str();
}

fs::path Resolve(const fs::path& base_dir, const std::string& file) {
  fs::path p(file);
  if (p.is_relative() && !base_dir.empty()) p = base_dir / p;
  return p.lexically_normal();
}

// yaml-cpp throws on type queries of a missing key's node, so every query goes through this.
bool Present(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

// A kubeconfig scalar field: "" when absent or null, error when present with another shape.
Result<std::string> StringField(const YAML::Node& map, const std::string& key,
                                const std::string& where) {
  const YAML::Node node = map[key];
  if (!Present(node)) return std::string();
  if (!node.IsScalar()) return InvalidArgument(where + "." + key + ": expected a string");
  return node.Scalar();
}

Result<bool> BoolField(const YAML::Node& map, const std::string& key, const std::string& where) {
  const YAML::Node node = map[key];
  if (!Present(node)) return false;
  std::optional<bool> value;
  if (node.IsScalar()) value = ParseGoBool(node.Scalar());
  if (!value && node.IsScalar()) {
    std::string lower = ToLower(node.Scalar());
    if (lower == "yes" || lower == "on") value = true;
    if (lower == "no" || lower == "off") value = false;
  }
  if (!value) return InvalidArgument(where + "." + key + ": expected true or false");
  return *value;
}

// Finds the entry called `name` in a kubeconfig list (`clusters`, `users`, `contexts`) and
// returns its inner map (`cluster`, `user`, `context`).
Result<YAML::Node> FindNamed(const YAML::Node& root, const std::string& list_key,
                             const std::string& inner_key, const std::string& name,
                             const std::string& source) {
  const YAML::Node list = root[list_key];
  if (Present(list) && !list.IsSequence()) {
    return InvalidArgument(source + ": " + list_key + ": expected a list");
  }
  if (Present(list)) {
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node entry = list[i];
      if (!Present(entry) || !entry.IsMap()) continue;
      const YAML::Node entry_name = entry["name"];
      if (!Present(entry_name) || !entry_name.IsScalar() || entry_name.Scalar() != name) continue;
      const YAML::Node inner = entry[inner_key];
      if (!Present(inner) || !inner.IsMap()) {
        std::string message = source;
        message.append(": ").append(list_key);
        message.append("[").append(QuoteForError(name)).append("].").append(inner_key);
        return InvalidArgument(message + ": expected a map");
      }
      return inner;
    }
  }
  return NotFound(source + ": " + inner_key + " " + QuoteForError(name) + " not found in " +
                  list_key);
}

// Fills PEM data (decoded from `data_key`) or an absolute file path (from `file_key`).
Status CredentialField(const YAML::Node& map, const std::string& data_key,
                       const std::string& file_key, const std::string& where,
                       const fs::path& base_dir, std::string* pem, std::string* file) {
  HAMI_ASSIGN_OR_RETURN(std::string data, StringField(map, data_key, where));
  HAMI_ASSIGN_OR_RETURN(std::string path, StringField(map, file_key, where));
  if (!data.empty()) {
    auto decoded = DecodeBase64(data);
    if (!decoded.ok()) return decoded.status().WithContext(where + "." + data_key);
    *pem = std::move(decoded).value();
  } else if (!path.empty()) {
    *file = Resolve(base_dir, path).string();
  }
  return Status::Ok();
}

Result<ClusterConfig> ParseKubeconfigRoot(const YAML::Node& root, const fs::path& base_dir,
                                          const std::string& context_arg,
                                          const std::string& source) {
  if (!Present(root) || !root.IsMap())
    return InvalidArgument(source + ": expected a kubeconfig map at top level");
  std::string context_name = context_arg;
  if (context_name.empty()) {
    HAMI_ASSIGN_OR_RETURN(context_name, StringField(root, "current-context", source));
    if (context_name.empty()) {
      return InvalidArgument(source + ": current-context is not set and no context was named");
    }
  }
  const std::string ctx_where = source + ": context " + QuoteForError(context_name);
  HAMI_ASSIGN_OR_RETURN(YAML::Node context,
                        FindNamed(root, "contexts", "context", context_name, source));
  HAMI_ASSIGN_OR_RETURN(std::string cluster_name, StringField(context, "cluster", ctx_where));
  HAMI_ASSIGN_OR_RETURN(std::string user_name, StringField(context, "user", ctx_where));
  HAMI_ASSIGN_OR_RETURN(std::string ns, StringField(context, "namespace", ctx_where));
  if (cluster_name.empty()) return InvalidArgument(ctx_where + ": no cluster");

  ClusterConfig config;
  if (!ns.empty()) config.namespace_name = ns;

  auto cluster = FindNamed(root, "clusters", "cluster", cluster_name, source);
  if (!cluster.ok()) {
    return InvalidArgument(ctx_where + ": " + cluster.status().message());
  }
  const std::string cl_where = source + ": clusters[" + QuoteForError(cluster_name) + "]";
  HAMI_ASSIGN_OR_RETURN(config.server, StringField(*cluster, "server", cl_where));
  if (config.server.empty()) return InvalidArgument(cl_where + ".server: missing");
  if (config.server.find("://") == std::string::npos) {
    return InvalidArgument(cl_where + ".server: " + QuoteForError(config.server) +
                           " is not a URL (want https://host:port)");
  }
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  HAMI_ASSIGN_OR_RETURN(config.insecure_skip_tls_verify,
                        BoolField(*cluster, "insecure-skip-tls-verify", cl_where));
  HAMI_RETURN_IF_ERROR(CredentialField(*cluster, "certificate-authority-data",
                                       "certificate-authority", cl_where, base_dir, &config.ca_pem,
                                       &config.ca_file));

  if (user_name.empty()) return config;  // anonymous
  auto user = FindNamed(root, "users", "user", user_name, source);
  if (!user.ok()) return InvalidArgument(ctx_where + ": " + user.status().message());
  const std::string u_where = source + ": users[" + QuoteForError(user_name) + "]";
  const YAML::Node& user_map = *user;
  if (Present(user_map["exec"])) {
    return InvalidArgument(u_where +
                           ".exec: exec credential plugins are not supported; use a "
                           "token, tokenFile or client certificate");
  }
  if (Present(user_map["auth-provider"])) {
    return InvalidArgument(u_where +
                           ".auth-provider: auth-provider plugins are not supported; use a "
                           "token, tokenFile or client certificate");
  }
  HAMI_ASSIGN_OR_RETURN(std::string username, StringField(*user, "username", u_where));
  if (!username.empty()) {
    return InvalidArgument(u_where + ".username: basic authentication is not supported");
  }
  HAMI_ASSIGN_OR_RETURN(config.bearer_token, StringField(*user, "token", u_where));
  HAMI_ASSIGN_OR_RETURN(std::string token_file, StringField(*user, "tokenFile", u_where));
  if (!token_file.empty()) config.token_file = Resolve(base_dir, token_file).string();
  HAMI_RETURN_IF_ERROR(CredentialField(*user, "client-certificate-data", "client-certificate",
                                       u_where, base_dir, &config.client_cert_pem,
                                       &config.client_cert_file));
  HAMI_RETURN_IF_ERROR(CredentialField(*user, "client-key-data", "client-key", u_where, base_dir,
                                       &config.client_key_pem, &config.client_key_file));
  bool has_cert = !config.client_cert_pem.empty() || !config.client_cert_file.empty();
  bool has_key = !config.client_key_pem.empty() || !config.client_key_file.empty();
  if (has_cert != has_key) {
    return InvalidArgument(u_where + ": client-certificate and client-key must be set together");
  }
  return config;
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

Result<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    uint32_t v = 0;
    if (c >= 'A' && c <= 'Z') {
      v = static_cast<uint32_t>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      v = static_cast<uint32_t>(c - 'a' + 26);
    } else if (c >= '0' && c <= '9') {
      v = static_cast<uint32_t>(c - '0' + 52);
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return InvalidArgument("invalid base64 character at offset " + std::to_string(i));
    }
    if (padding > 0) return InvalidArgument("invalid base64: data after '=' padding");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFFu));
    }
  }
  if (bits >= 6 || padding > 2) return InvalidArgument("invalid base64: truncated input");
  return out;
}

Result<ClusterConfig> LoadInCluster(const EnvLookup& env, const fs::path& sa_dir) {
  std::optional<std::string> host = env("KUBERNETES_SERVICE_HOST");
  std::optional<std::string> port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return NotFound(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
        "set");
  }
  if (!ParseInt32(*port)) {
    return InvalidArgument("KUBERNETES_SERVICE_PORT: " + QuoteForError(*port) +
                           " is not a port number");
  }
  ClusterConfig config;
  std::string h = *host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";  // IPv6
  config.server = "https://" + h + ":" + *port;

  const fs::path token_path = sa_dir / "token";
  auto token = ReadFile(token_path, "in-cluster service account token");
  if (!token.ok()) return InvalidArgument(token.status().message());
  if (Trim(*token).empty()) {
    return InvalidArgument("in-cluster service account token: file " + token_path.string() +
                           " is empty");
  }
  config.bearer_token = std::string(Trim(*token));
  config.token_file = token_path.string();

  const fs::path ca_path = sa_dir / "ca.crt";
  std::error_code ec;
  if (!fs::is_regular_file(ca_path, ec) || fs::file_size(ca_path, ec) == 0 || ec) {
    return InvalidArgument("in-cluster CA certificate: file " + ca_path.string() +
                           " is missing or empty");
  }
  config.ca_file = ca_path.string();

  auto ns = ReadFile(sa_dir / "namespace", "namespace");
  if (ns.ok() && !Trim(*ns).empty()) config.namespace_name = std::string(Trim(*ns));
  return config;
}

Result<ClusterConfig> ParseKubeconfig(const std::string& yaml_text, const fs::path& base_dir,
                                      const std::string& context, const std::string& source) {
  try {
    YAML::Node root = YAML::Load(yaml_text);
    const YAML::Node& const_root = root;
    return ParseKubeconfigRoot(const_root, base_dir, context, source);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(source + ": invalid YAML: " + e.what());
  }
}

Result<ClusterConfig> LoadKubeconfig(const fs::path& path, const std::string& context) {
  HAMI_ASSIGN_OR_RETURN(std::string text, ReadFile(path, "kubeconfig"));
  fs::path abs = fs::absolute(path);
  return ParseKubeconfig(text, abs.parent_path(), context, path.string());
}

Result<ClusterConfig> LoadDefault(const EnvLookup& env, const fs::path& sa_dir) {
  std::optional<std::string> kubeconfig = env("KUBECONFIG");
  if (kubeconfig && !kubeconfig->empty()) {
    for (std::string_view entry : Split(*kubeconfig, ':')) {
      std::error_code ec;
      if (!entry.empty() && fs::exists(fs::path(entry), ec)) {
        return LoadKubeconfig(fs::path(entry));
      }
    }
    return NotFound("KUBECONFIG=" + QuoteForError(*kubeconfig, 200) + ": no such file");
  }
  std::optional<std::string> host = env("KUBERNETES_SERVICE_HOST");
  if (host && !host->empty()) return LoadInCluster(env, sa_dir);
  std::optional<std::string> home = env("HOME");
  if (home && !home->empty()) {
    fs::path path = fs::path(*home) / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(path, ec)) return LoadKubeconfig(path);
  }
  return NotFound(
      "no Kubernetes config: KUBECONFIG is unset, KUBERNETES_SERVICE_HOST is unset (not in a "
      "pod) and $HOME/.kube/config does not exist");
}

TokenSource::TokenSource(const ClusterConfig& config)
    : token_(config.bearer_token), token_file_(config.token_file) {}

Result<std::string> TokenSource::Token() {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_file_.empty()) return token_;
  std::error_code ec;
  auto mtime = fs::last_write_time(token_file_, ec);
  uintmax_t size = ec ? 0 : fs::file_size(token_file_, ec);
  if (!ec && (!loaded_ || mtime != mtime_ || size != size_)) {
    auto text = ReadFile(token_file_, "token file");
    if (text.ok() && !Trim(*text).empty()) {
      token_ = std::string(Trim(*text));
      mtime_ = mtime;
      size_ = size;
      loaded_ = true;
    }
  }
  if (!loaded_ && token_.empty()) {
    return InvalidArgument("token file " + token_file_ + ": cannot read a token");
  }
  return token_;
}

}  // namespace hami::kube
