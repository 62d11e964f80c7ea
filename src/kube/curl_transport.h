// HttpTransport over libcurl, with TLS settings taken from a ClusterConfig.
//
// Ownership: owns a small pool of idle curl easy handles (their connection caches give
// keep-alive reuse across requests). Thread-safe: each call uses its own handle; the pool is
// guarded. curl_global_init runs once per process, on first construction. Streams run on a
// curl multi handle so CancelToken::Cancel() wakes them at once instead of waiting for data.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "kube/http.h"
#include "kube/kube_config.h"

namespace hami::kube {

struct CurlOptions {
  std::chrono::milliseconds connect_timeout{10000};
  size_t max_idle_handles = 8;
  std::string user_agent = "hami/0.1";
};

class CurlTransport final : public HttpTransport {
 public:
  // Copies the TLS material and paths from `config` (files are read by curl on each new
  // connection, so a rotated CA file is picked up). Never fails: bad TLS material surfaces as
  // kInvalidArgument or kUnavailable from the first request.
  explicit CurlTransport(const ClusterConfig& config, CurlOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<HttpResponse> Request(const HttpRequest& request) override;
  Result<HttpResponse> Stream(const HttpRequest& request, const ChunkCallback& on_chunk) override;
  void Abort() override { aborting_.store(true); }

 private:
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  const ClusterConfig tls_;
  const CurlOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL*, guarded by mu_
  std::atomic<bool> aborting_{false};
};

}  // namespace hami::kube
