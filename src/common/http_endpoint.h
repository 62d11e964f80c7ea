// HTTP serving shared by the daemons: BindAndServe for every front (the extender, /metrics), and
// MetricsEndpoint, a plain-HTTP /metrics (plus /healthz) on its own thread for hami-scheduler
// and hami-monitor. Its body comes from a callback per request, so every scrape sees current
// values.
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

// Binds `server` to host:port (0: an ephemeral port) with SO_REUSEADDR only (httplib's default
// adds SO_REUSEPORT, which would let a second process bind the same port and silently take
// half of the requests), starts its accept loop on `*thread` and returns the bound port.
// Failure: kUnavailable naming the address. Shared by every HTTP front of the daemons.
Result<int> BindAndServe(httplib::Server& server, const std::string& host, int port,
                         std::thread* thread);

// Splits a bind address "host:port" (":9394" = every interface, "0.0.0.0"; "[::1]:80" = the
// IPv6 host ::1) at its last ':'.
// Failure: kInvalidArgument when there is no ':' or the port is not 0..65535.
Result<std::pair<std::string, int>> ParseBindAddress(const std::string& address);

}  // namespace hami
