// The HTTP seam between the Kubernetes client and the network.
//
// HttpTransport is the injected interface (CurlTransport in curl_transport.h is the real one;
// tests use scripted fakes). Transport failures are Status values with codes that tell the
// caller whether the request may have reached the server, which decides whether a
// non-idempotent request may be retried:
//   kUnavailable       the request was certainly not sent (DNS, connect, TLS handshake);
//   kDeadlineExceeded  the timeout expired; the server may have applied the request;
//   kAborted           the connection failed after sending began; outcome unknown;
//   kInvalidArgument   the request itself is unusable (bad URL, bad TLS material).
// An HTTP error status (4xx/5xx) is not a transport failure: it comes back as an HttpResponse.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace hami::kube {

class CancelToken;

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute: "https://host:port/api/v1/pods?limit=10"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};  // total, including connect; 0 = no limit
  // Not owned, may be null; must outlive the call. When it fires, Request() fails with
  // kAborted ("cancelled") and Stream() ends normally, both promptly.
  CancelToken* cancel = nullptr;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; last value wins
  std::string body;                            // for Stream(): only filled for non-2xx responses

  // Value of a header by lower-case name, "" when absent.
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A one-shot cancellation signal shared between the thread that owns a long request and the
// thread that wants it to stop. Cancel() is sticky. Thread-safe.
class CancelToken {
 public:
  CancelToken() = default;
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  // Sets the flag and runs every registered wake-up function (on the calling thread, under the
  // token's lock, so they must be short and must not touch this token).
  void Cancel();
  bool IsCancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // Registers `wake` to run on Cancel() (immediately if already cancelled); used by transports
  // to interrupt a blocking poll. Returns an id for Unregister. After Unregister returns, `wake`
  // is not running and never will.
  uint64_t Register(std::function<void()> wake);
  void Unregister(uint64_t id);

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  uint64_t next_id_ = 1;                                           // guarded by mu_
  std::vector<std::pair<uint64_t, std::function<void()>>> wakes_;  // guarded by mu_
};

// Receives successive pieces of a 2xx streaming body; returns false to end the stream early
// (a normal end, not an error). Called on the thread that called Stream().
using ChunkCallback = std::function<bool(std::string_view chunk)>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // Performs one request and returns the whole response. Thread-safe: may be called from many
  // threads at once. Failure: a transport Status as described at the top of this file.
  virtual Result<HttpResponse> Request(const HttpRequest& request) = 0;

  // Performs a request whose 2xx body is delivered incrementally to `on_chunk` (a watch).
  // Returns the response status and headers once the stream ends: by the server closing it,
  // the timeout expiring (OK, not an error: watches are bounded on purpose), `on_chunk`
  // returning false, or request.cancel firing. A non-2xx body is collected in
  // the response instead of being passed to `on_chunk`. A transport failure returns a
  // transport Status even when chunks were already delivered (the caller keeps what it saw
  // and resumes from there). Thread-safe.
  virtual Result<HttpResponse> Stream(const HttpRequest& request,
                                      const ChunkCallback& on_chunk) = 0;

  // Ends transfers in progress within about a second and fails later ones at once (kAborted):
  // the process is shutting down. Irreversible. Thread-safe. Default: nothing to abort.
  virtual void Abort() {}
};

}  // namespace hami::kube
