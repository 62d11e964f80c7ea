#include "common/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <utility>

#include "common/strings.h"

namespace hami {

MetricsEndpoint::MetricsEndpoint(std::function<Result<std::string>()> render)
    : render_(std::move(render)) {}

MetricsEndpoint::~MetricsEndpoint() { Stop(); }

Result<int> MetricsEndpoint::Start(const std::string& host, int port) {
  server_ = std::make_unique<httplib::Server>();
  server_->set_tcp_nodelay(true);
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    Result<std::string> text = render_();
    if (!text.ok()) {
      res.status = 500;
      res.set_content(text.status().message() + "\n", "text/plain; charset=utf-8");
      return;
    }
    res.set_content(*text, "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  return BindAndServe(*server_, host, port, &thread_);
}

Result<int> BindAndServe(httplib::Server& server, const std::string& host, int port,
                         std::thread* thread) {
  server.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const int bound = port == 0                         ? server.bind_to_any_port(host)
                    : server.bind_to_port(host, port) ? port
                                                      : -1;
  if (bound < 0) {
    return Status(StatusCode::kUnavailable,
                  "cannot listen on " + host + ":" + std::to_string(port));
  }
  *thread = std::thread([&server] { server.listen_after_bind(); });
  // A stop() before the accept loop runs would be lost: wait until it runs.
  for (int i = 0; i < 1000 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return bound;
}

void MetricsEndpoint::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

Result<std::pair<std::string, int>> ParseBindAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Status(StatusCode::kInvalidArgument, "bind address " + address + " is not host:port");
  }
  std::optional<int32_t> port = ParseInt32(address.substr(colon + 1));
  if (!port || *port < 0 || *port > 65535) {
    return Status(StatusCode::kInvalidArgument,
                  "bind address " + address + ": port must be 0..65535");
  }
  std::string host = address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // "[::1]:80": an IPv6 literal
  }
  return std::make_pair(std::move(host), static_cast<int>(*port));
}

}  // namespace hami
