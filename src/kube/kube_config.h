// Where the API server is and how to authenticate to it: in-cluster service account or a
// kubeconfig file.
//
// Loaders are pure functions of their inputs (files, environment) and thread-safe. Every error
// is InvalidArgument or NotFound with a message naming the file and the key that was wrong, so
// an operator can fix the config without reading code. Credential plugins (exec,
// auth-provider) and basic auth are rejected with a clear "not supported" error rather than
// silently connecting anonymously.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hami::kube {

// Everything the transport and client need to reach one API server. Plain value type.
// For each certificate either the PEM data or a file path is set (data wins when both are);
// for the token, token_file wins (it is re-read) and bearer_token is the fallback. File paths
// are absolute once a loader returns.
struct ClusterConfig {
  std::string server;  // "https://host:port[/prefix]", no trailing slash
  std::string bearer_token;
  // Re-read by TokenSource when it changes: kubelet rotates bound service-account tokens.
  std::string token_file;
  std::string ca_pem;
  std::string ca_file;
  std::string client_cert_pem;
  std::string client_cert_file;
  std::string client_key_pem;
  std::string client_key_file;
  bool insecure_skip_tls_verify = false;
  std::string namespace_name = "default";  // the context's / service account's namespace
};

// Environment lookup, injectable for tests. Returns nullopt when the variable is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Reads the real process environment (getenv). Thread-safe as long as nobody calls setenv.
std::optional<std::string> ProcessEnv(const std::string& name);

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// In-cluster config: server from KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT (IPv6 hosts
// bracketed), token (kept as token_file, read once to validate), ca.crt (ca_file) and namespace
// (optional, default "default") from `sa_dir`.
// Failure: NotFound when the env variables are unset (not running in a pod); InvalidArgument
// when the token or CA file is missing or empty.
Result<ClusterConfig> LoadInCluster(const EnvLookup& env = ProcessEnv,
                                    const std::filesystem::path& sa_dir = kServiceAccountDir);

// Parses kubeconfig YAML text. `context` empty = current-context. Relative file paths are
// resolved against `base_dir` (the kubeconfig's directory). `source` names the file in errors.
// Failure: InvalidArgument (bad YAML, missing context/cluster/user, wrong type, bad base64,
// unsupported auth) or NotFound (a named context that does not exist).
Result<ClusterConfig> ParseKubeconfig(const std::string& yaml_text,
                                      const std::filesystem::path& base_dir,
                                      const std::string& context = "",
                                      const std::string& source = "kubeconfig");

// Reads and parses a kubeconfig file. Failure: NotFound if unreadable, else as ParseKubeconfig.
Result<ClusterConfig> LoadKubeconfig(const std::filesystem::path& path,
                                     const std::string& context = "");

// $KUBECONFIG (first existing entry of the colon-separated list; entries are not merged),
// else in-cluster when KUBERNETES_SERVICE_HOST is set, else $HOME/.kube/config.
// Failure: the chosen loader's error; NotFound naming all places tried when none applies.
Result<ClusterConfig> LoadDefault(const EnvLookup& env = ProcessEnv,
                                  const std::filesystem::path& sa_dir = kServiceAccountDir);

// Standard base64 (RFC 4648, padding optional, ASCII whitespace ignored), as used by
// kubeconfig *-data fields. Failure: InvalidArgument on any other character.
Result<std::string> DecodeBase64(std::string_view text);

// Supplies the bearer token for each request. With a token_file it re-reads the file whenever
// its modification time or size changes (projected service-account tokens are rotated by
// kubelet through an atomic symlink swap), and keeps the last good token if a re-read fails.
// Thread-safe; cheap (one stat) per call.
class TokenSource {
 public:
  explicit TokenSource(const ClusterConfig& config);

  // Current token, "" when the config has none. Failure: InvalidArgument when the token file
  // cannot be read and no token was ever read from it.
  Result<std::string> Token();

 private:
  std::mutex mu_;
  std::string token_;  // guarded by mu_
  std::string token_file_;
  std::filesystem::file_time_type mtime_{};  // guarded by mu_
  uintmax_t size_ = 0;                       // guarded by mu_
  bool loaded_ = false;                      // guarded by mu_
};

}  // namespace hami::kube
