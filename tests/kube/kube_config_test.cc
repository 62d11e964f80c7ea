#include "kube/kube_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <map>
#include <thread>

namespace hami::kube {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kubecfg-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    path_ = made != nullptr ? fs::path(made) : fs::temp_directory_path();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path Write(const std::string& name, const std::string& content) const {
    fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  fs::path path_;
};

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// "hello" / "world" in base64.
constexpr const char* kHelloB64 = "aGVsbG8=";
constexpr const char* kWorldB64 = "d29ybGQ=";

std::string Kubeconfig(const std::string& user_body) {
  return R"(apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: gpu}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
clusters:
- name: dev-cluster
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: )" +
         std::string(kHelloB64) + R"(
- name: prod-cluster
  cluster:
    server: https://prod.example:443
    certificate-authority: certs/ca.pem
    insecure-skip-tls-verify: true
users:
- name: dev-user
  user:
)" + user_body +
         R"(
- name: prod-user
  user:
    client-certificate: /abs/client.crt
    client-key: keys/client.key
)";
}

TEST(KubeconfigTest, CurrentContextWithTokenAndInlineCa) {
  auto config = ParseKubeconfig(Kubeconfig("    token: abc123"), "/home/u/.kube");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");  // trailing slash dropped
  EXPECT_EQ(config->ca_pem, "hello");
  EXPECT_EQ(config->bearer_token, "abc123");
  EXPECT_EQ(config->namespace_name, "gpu");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
}

TEST(KubeconfigTest, NamedContextResolvesRelativeFiles) {
  auto config = ParseKubeconfig(Kubeconfig("    token: x"), "/home/u/.kube", "prod");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->server, "https://prod.example:443");
  EXPECT_EQ(config->ca_file, "/home/u/.kube/certs/ca.pem");
  EXPECT_EQ(config->client_cert_file, "/abs/client.crt");
  EXPECT_EQ(config->client_key_file, "/home/u/.kube/keys/client.key");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->namespace_name, "default");
}

TEST(KubeconfigTest, ClientCertDataAndTokenFile) {
  auto config = ParseKubeconfig(
      Kubeconfig(std::string("    client-certificate-data: ") + kHelloB64 +
                 "\n    client-key-data: " + kWorldB64 + "\n    tokenFile: ../token"),
      "/home/u/.kube");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->client_cert_pem, "hello");
  EXPECT_EQ(config->client_key_pem, "world");
  EXPECT_EQ(config->token_file, "/home/u/token");
}

TEST(KubeconfigTest, UnsupportedAuthIsAClearError) {
  struct Case {
    std::string user;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {"    exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}", "exec"},
           {"    auth-provider: {name: gcp}", "auth-provider"},
           {"    username: admin\n    password: pw", "basic authentication"},
       }) {
    auto config = ParseKubeconfig(Kubeconfig(c.user), "/tmp", "", "/tmp/kc");
    ASSERT_FALSE(config.ok()) << c.user;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(config.status().message().find(c.expect), std::string::npos)
        << config.status().message();
    EXPECT_NE(config.status().message().find("not supported"), std::string::npos);
    EXPECT_NE(config.status().message().find("/tmp/kc"), std::string::npos);
  }
}

TEST(KubeconfigTest, BadInputsNameTheProblem) {
  struct Case {
    std::string yaml;
    std::string context;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"", "", "expected a kubeconfig map"},
      {"[1, 2", "", "invalid YAML"},
      {"clusters: []\ncontexts: []\n", "", "current-context is not set"},
      {Kubeconfig("    token: x"), "staging", "context \"staging\" not found"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n", "",
       "cluster \"c\" not found"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
       "clusters:\n- name: c\n  cluster: {server: https://h}\n",
       "", "user \"u\" not found"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
       "clusters:\n- name: c\n  cluster: {certificate-authority-data: aGVsbG8=}\n",
       "", "server: missing"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
       "clusters:\n- name: c\n  cluster: {server: https://h, certificate-authority-data: '!!'}\n",
       "", "certificate-authority-data: invalid base64"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
       "clusters:\n- name: c\n  cluster: {server: [1]}\n",
       "", "server: expected a string"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
       "clusters:\n- name: c\n  cluster: {server: h:1}\n",
       "", "is not a URL"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
       "clusters:\n- name: c\n  cluster: {server: https://h, insecure-skip-tls-verify: maybe}\n",
       "", "insecure-skip-tls-verify: expected true or false"},
      {"current-context: a\ncontexts: {a: 1}\n", "", "contexts: expected a list"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
       "clusters:\n- name: c\n  cluster: {server: https://h}\n"
       "users:\n- name: u\n  user: {client-certificate: c.crt}\n",
       "", "must be set together"},
  };
  for (const Case& c : cases) {
    auto config = ParseKubeconfig(c.yaml, "/tmp", c.context, "kc.yaml");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.status().message().find(c.expect), std::string::npos)
        << "want '" << c.expect << "' in: " << config.status().message();
    EXPECT_EQ(config.status().message().rfind("kc.yaml", 0), 0u) << config.status().message();
  }
}

TEST(KubeconfigTest, LoadFromFileResolvesAgainstItsDirectory) {
  TempDir dir;
  fs::path file = dir.Write("sub/config", Kubeconfig("    token: t"));
  auto config = LoadKubeconfig(file, "prod");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->ca_file, (dir.path() / "sub/certs/ca.pem").string());

  auto missing = LoadKubeconfig(dir.path() / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
}

TEST(InClusterTest, ReadsServiceAccountDirectory) {
  TempDir dir;
  dir.Write("token", "tok-1\n");
  dir.Write("ca.crt", "-----BEGIN CERTIFICATE-----\n");
  dir.Write("namespace", "hami-system");
  auto config = LoadInCluster(
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      dir.path());
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->bearer_token, "tok-1");
  EXPECT_EQ(config->token_file, (dir.path() / "token").string());
  EXPECT_EQ(config->ca_file, (dir.path() / "ca.crt").string());
  EXPECT_EQ(config->namespace_name, "hami-system");
}

TEST(InClusterTest, Ipv6HostIsBracketedAndNamespaceDefaults) {
  TempDir dir;
  dir.Write("token", "t");
  dir.Write("ca.crt", "x");
  auto config = LoadInCluster(
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "6443"}}),
      dir.path());
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->server, "https://[fd00::1]:6443");
  EXPECT_EQ(config->namespace_name, "default");
}

TEST(InClusterTest, Failures) {
  TempDir dir;
  auto env = FakeEnv({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  auto no_env = LoadInCluster(FakeEnv({}), dir.path());
  EXPECT_EQ(no_env.status().code(), StatusCode::kNotFound);

  auto bad_port = LoadInCluster(
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "https"}}),
      dir.path());
  EXPECT_EQ(bad_port.status().code(), StatusCode::kInvalidArgument);

  auto no_token = LoadInCluster(env, dir.path());
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.status().message().find("token"), std::string::npos);

  dir.Write("token", "  \n");
  auto empty_token = LoadInCluster(env, dir.path());
  ASSERT_FALSE(empty_token.ok());
  EXPECT_NE(empty_token.status().message().find("empty"), std::string::npos);

  dir.Write("token", "t");
  auto no_ca = LoadInCluster(env, dir.path());
  ASSERT_FALSE(no_ca.ok());
  EXPECT_NE(no_ca.status().message().find("ca.crt"), std::string::npos);
}

TEST(LoadDefaultTest, Precedence) {
  TempDir dir;
  fs::path kc = dir.Write("kc", Kubeconfig("    token: from-kubeconfig"));
  dir.Write("sa/token", "from-sa");
  dir.Write("sa/ca.crt", "x");
  dir.Write("home/.kube/config", Kubeconfig("    token: from-home"));
  const std::string home = (dir.path() / "home").string();

  auto from_env = LoadDefault(FakeEnv({{"KUBECONFIG", "/nonexistent:" + kc.string()},
                                       {"KUBERNETES_SERVICE_HOST", "h"},
                                       {"KUBERNETES_SERVICE_PORT", "1"},
                                       {"HOME", home}}),
                              dir.path() / "sa");
  ASSERT_TRUE(from_env.ok()) << from_env.status().message();
  EXPECT_EQ(from_env->bearer_token, "from-kubeconfig");

  auto in_cluster = LoadDefault(
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "1"}, {"HOME", home}}),
      dir.path() / "sa");
  ASSERT_TRUE(in_cluster.ok()) << in_cluster.status().message();
  EXPECT_EQ(in_cluster->bearer_token, "from-sa");

  auto from_home = LoadDefault(FakeEnv({{"HOME", home}}), dir.path() / "sa");
  ASSERT_TRUE(from_home.ok()) << from_home.status().message();
  EXPECT_EQ(from_home->bearer_token, "from-home");

  auto none = LoadDefault(FakeEnv({{"HOME", (dir.path() / "nohome").string()}}), dir.path());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  auto bad_env = LoadDefault(FakeEnv({{"KUBECONFIG", "/nonexistent"}}), dir.path());
  EXPECT_EQ(bad_env.status().code(), StatusCode::kNotFound);
  EXPECT_NE(bad_env.status().message().find("/nonexistent"), std::string::npos);
}

TEST(Base64Test, DecodesStandardAlphabet) {
  struct Case {
    std::string in;
    std::optional<std::string> out;
  };
  for (const Case& c : std::vector<Case>{{"", ""},
                                         {"Zg==", "f"},
                                         {"Zm8=", "fo"},
                                         {"Zm9v", "foo"},
                                         {"Zm9vYg", "foob"},
                                         {"Zm9v\nYmFy\n", "foobar"},
                                         {"+/+/", "\xfb\xff\xbf"},
                                         {"Z", std::nullopt},
                                         {"Zm9v!", std::nullopt},
                                         {"Zg==Zg", std::nullopt},
                                         {"Zg===", std::nullopt}}) {
    auto decoded = DecodeBase64(c.in);
    if (c.out) {
      ASSERT_TRUE(decoded.ok()) << c.in << ": " << decoded.status().message();
      EXPECT_EQ(*decoded, *c.out) << c.in;
    } else {
      EXPECT_FALSE(decoded.ok()) << c.in;
    }
  }
}

TEST(TokenSourceTest, RereadsRotatedTokenFile) {
  TempDir dir;
  fs::path token = dir.Write("token", "first\n");
  ClusterConfig config;
  config.token_file = token.string();
  TokenSource source(config);
  ASSERT_TRUE(source.Token().ok());
  EXPECT_EQ(*source.Token(), "first");
  dir.Write("token", "second-token");  // different size: noticed even within one mtime tick
  EXPECT_EQ(*source.Token(), "second-token");
  fs::remove(token);  // a rotation in progress: keep the last good token
  EXPECT_EQ(*source.Token(), "second-token");

  ClusterConfig missing;
  missing.token_file = (dir.path() / "absent").string();
  TokenSource bad(missing);
  EXPECT_FALSE(bad.Token().ok());

  ClusterConfig fixed;
  fixed.bearer_token = "static";
  EXPECT_EQ(*TokenSource(fixed).Token(), "static");
}

}  // namespace
}  // namespace hami::kube
