#include "common/metrics_endpoint.h"

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
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second process
  // bind the same port and silently take half of the scrapes.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
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
  int bound = port;
  if (bound == 0) {
    bound = server_->bind_to_any_port(host.c_str());
  } else if (!server_->bind_to_port(host.c_str(), bound)) {
    bound = -1;
  }
  if (bound < 0) {
    server_.reset();
    return Status(StatusCode::kUnavailable,
                  "cannot listen for metrics on " + host + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // A stop() before the accept loop runs would be lost: wait until it runs.
  for (int i = 0; i < 1000 && !server_->is_running(); ++i) {
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
  return std::make_pair(std::move(host), static_cast<int>(*port));
}

}  // namespace hami
