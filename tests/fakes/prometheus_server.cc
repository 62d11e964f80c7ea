#include "tests/fakes/prometheus_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

extern char** environ;

namespace hami::fakes {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A port the kernel considers free right now. Another process may take it before Prometheus
// binds it; Start() retries in that case.
int PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = -1;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// YAML double-quoted scalar (targets and paths come from tests, but keep the file well-formed).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ConfigYaml(const std::vector<PromScrapeTarget>& targets) {
  std::ostringstream y;
  y << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
    << "scrape_configs:\n";
  for (const PromScrapeTarget& t : targets) {
    y << "  - job_name: " << Quote(t.job) << "\n"
      << "    metrics_path: " << Quote(t.metrics_path) << "\n"
      << "    static_configs:\n      - targets: [" << Quote(t.address) << "]\n";
  }
  return y.str();
}

// Parses a sample value as the HTTP API writes it: a string ("1", "NaN", "+Inf").
Result<double> ParseValue(const nlohmann::json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) {
    return InvalidArgument("malformed sample value: " + pair.dump());
  }
  const std::string s = pair[1].get<std::string>();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return InvalidArgument("malformed sample value: " + s);
  return v;
}

}  // namespace

std::string PrometheusServer::Unavailable(const std::string& binary) {
  if (::access(binary.c_str(), X_OK) != 0) {
    return binary +
           " not found or not executable (install Debian's `prometheus` package: "
           "scripts/install-deps.sh)";
  }
  return "";
}

PrometheusServer::PrometheusServer(std::string binary) : binary_(std::move(binary)) {}

PrometheusServer::~PrometheusServer() { Stop(); }

Result<std::string> PrometheusServer::Start(const std::vector<PromScrapeTarget>& targets,
                                            milliseconds ready_timeout) {
  if (std::string why = Unavailable(binary_); !why.empty()) {
    return Status(StatusCode::kFailedPrecondition, why);
  }
  target_count_ = targets.size();
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    last = StartOnce(targets, ready_timeout);
    if (last.ok()) return "http://127.0.0.1:" + std::to_string(port_);
    if (last.code() != StatusCode::kAborted) break;  // only a lost port race is retried
  }
  return last;
}

Status PrometheusServer::StartOnce(const std::vector<PromScrapeTarget>& targets,
                                   milliseconds ready_timeout) {
  Stop();
  std::string tmpl = (std::filesystem::temp_directory_path() / "hami-prometheus-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status(StatusCode::kInternal, "mkdtemp failed for " + tmpl);
  }
  dir_ = tmpl;
  {
    std::ofstream config(dir_ + "/prometheus.yml");
    config << ConfigYaml(targets);
    if (!config) return Status(StatusCode::kInternal, "cannot write " + dir_ + "/prometheus.yml");
  }
  port_ = PickFreePort();
  if (port_ < 0) return Status(StatusCode::kUnavailable, "no free loopback port");

  std::vector<std::string> args = {binary_,
                                   "--config.file=" + dir_ + "/prometheus.yml",
                                   "--storage.tsdb.path=" + dir_ + "/data",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                   "--web.console.templates=" + dir_,
                                   "--web.console.libraries=" + dir_,
                                   "--log.level=info"};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = dir_ + "/prometheus.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, binary_.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Status(StatusCode::kInternal, "posix_spawn " + binary_ + ": " + std::strerror(rc));
  }
  pid_ = pid;

  const auto deadline = steady_clock::now() + ready_timeout;
  httplib::Client http("127.0.0.1", port_);
  http.set_connection_timeout(0, 200000);
  http.set_read_timeout(1, 0);
  while (steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      const std::string tail = LogTail();
      // "address already in use": somebody took the port between PickFreePort and bind.
      const StatusCode code = tail.find("address already in use") != std::string::npos
                                  ? StatusCode::kAborted
                                  : StatusCode::kUnavailable;
      return Status(
          code, "prometheus exited before ready (status " + std::to_string(status) + "):\n" + tail);
    }
    if (auto res = http.Get("/-/ready"); res && res->status == 200) return Status::Ok();
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Status(
      StatusCode::kDeadlineExceeded,
      "prometheus not ready after " + std::to_string(ready_timeout.count()) + " ms:\n" + LogTail());
}

void PrometheusServer::Stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = steady_clock::now() + std::chrono::seconds(5);
    bool reaped = false;
    while (steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        reaped = true;
        break;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    if (!reaped) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
  port_ = -1;
}

std::string PrometheusServer::LogTail(size_t max_bytes) const {
  if (dir_.empty()) return "";
  std::ifstream in(dir_ + "/prometheus.log", std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

Result<std::string> PrometheusServer::Get(const std::string& path) const {
  if (port_ < 0) return Status(StatusCode::kFailedPrecondition, "prometheus not started");
  httplib::Client http("127.0.0.1", port_);
  http.set_connection_timeout(1, 0);
  http.set_read_timeout(5, 0);
  auto res = http.Get(path);
  if (!res) {
    return Status(StatusCode::kUnavailable, "GET " + path + ": " + httplib::to_string(res.error()));
  }
  // The query API answers 400/422 with a JSON error body; let the caller report it.
  if (res->status != 200 && res->status != 400 && res->status != 422) {
    return Status(StatusCode::kUnavailable,
                  "GET " + path + ": HTTP " + std::to_string(res->status) + " " + res->body);
  }
  return res->body;
}

Result<std::vector<PromSample>> PrometheusServer::Query(const std::string& promql) const {
  auto body = Get("/api/v1/query?query=" + httplib::detail::encode_query_param(promql));
  if (!body.ok()) return body.status();
  const nlohmann::json doc = nlohmann::json::parse(*body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidArgument("query " + promql + ": not JSON: " + *body);
  }
  if (doc.value("status", "") != "success") {
    return InvalidArgument("query " + promql + ": " + doc.value("errorType", "") + ": " +
                           doc.value("error", ""));
  }
  const nlohmann::json& data = doc["data"];
  const std::string type = data.value("resultType", "");
  std::vector<PromSample> out;
  if (type == "scalar") {
    auto v = ParseValue(data["result"]);
    if (!v.ok()) return v.status();
    out.push_back(PromSample{{}, *v});
    return out;
  }
  if (type != "vector") return InvalidArgument("query " + promql + ": result type " + type);
  for (const nlohmann::json& item : data["result"]) {
    PromSample s;
    if (item.contains("metric") && item["metric"].is_object()) {
      for (const auto& [k, v] : item["metric"].items()) {
        if (v.is_string()) s.labels[k] = v.get<std::string>();
      }
    }
    auto v = ParseValue(item.value("value", nlohmann::json()));
    if (!v.ok()) return v.status();
    s.value = *v;
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<PromSample>> PrometheusServer::WaitForValue(
    const std::string& promql, milliseconds timeout,
    const std::function<bool(const std::vector<PromSample>&)>& accept) const {
  const auto deadline = steady_clock::now() + timeout;
  std::string last = "no result";
  while (true) {
    auto r = Query(promql);
    if (r.ok()) {
      if (!r->empty() && (!accept || accept(*r))) return r;
      std::string values;
      for (const PromSample& s : *r) values += " " + std::to_string(s.value);
      last = std::to_string(r->size()) + " series:" + values;
    } else {
      last = r.status().message();
      // A PromQL syntax error will not fix itself.
      if (r.status().code() == StatusCode::kInvalidArgument) return r;
    }
    if (steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return Status(StatusCode::kDeadlineExceeded, "waiting for " + promql + ": " + last);
}

Result<std::vector<PromTargetHealth>> PrometheusServer::Targets() const {
  auto body = Get("/api/v1/targets?state=active");
  if (!body.ok()) return body.status();
  const nlohmann::json doc = nlohmann::json::parse(*body, nullptr, false);
  if (doc.is_discarded() || doc.value("status", "") != "success") {
    return InvalidArgument("targets: " + *body);
  }
  std::vector<PromTargetHealth> out;
  for (const nlohmann::json& t : doc["data"].value("activeTargets", nlohmann::json::array())) {
    PromTargetHealth h;
    h.job = t.value("scrapePool", "");
    h.scrape_url = t.value("scrapeUrl", "");
    h.health = t.value("health", "");
    h.last_error = t.value("lastError", "");
    out.push_back(std::move(h));
  }
  return out;
}

Result<std::vector<PromTargetHealth>> PrometheusServer::WaitForScrapes(milliseconds timeout) const {
  const auto deadline = steady_clock::now() + timeout;
  while (true) {
    auto r = Targets();
    if (r.ok() && r->size() >= target_count_) {
      bool all = true;
      for (const PromTargetHealth& t : *r) all = all && t.health != "unknown";
      if (all) return r;
    }
    if (steady_clock::now() >= deadline) {
      return Status(
          StatusCode::kDeadlineExceeded,
          "targets not scraped in time" + (r.ok() ? std::string() : ": " + r.status().message()));
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
}

}  // namespace hami::fakes
