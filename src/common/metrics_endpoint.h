// A plain-HTTP /metrics endpoint (plus /healthz) on its own thread, shared by hami-scheduler and
// hami-monitor. The body comes from a callback per request, so every scrape sees current values.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace hami {

class MetricsEndpoint {
 public:
  // `render` returns the exposition text, or an error answered as HTTP 500 with its message.
  explicit MetricsEndpoint(std::function<Result<std::string>()> render);
  ~MetricsEndpoint();  // Stop()s
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Binds host:port (0: an ephemeral port) and serves on a background thread; returns the bound
  // port. Failure: kUnavailable naming the address.
  Result<int> Start(const std::string& host, int port);
  void Stop();

 private:
  std::function<Result<std::string>()> render_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// Splits a bind address "host:port" (":9394" = every interface, "0.0.0.0") at its last ':'.
// Failure: kInvalidArgument when there is no ':' or the port is not 0..65535.
Result<std::pair<std::string, int>> ParseBindAddress(const std::string& address);

}  // namespace hami
