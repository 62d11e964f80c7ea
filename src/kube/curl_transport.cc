#include "kube/curl_transport.h"

#include <curl/curl.h>

#include <memory>

#include "common/strings.h"

namespace hami::kube {
namespace {

constexpr size_t kMaxErrorBodyBytes = 1 << 20;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

size_t HeaderCallback(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  std::string_view line(data, size * count);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (redirect, 100 Continue)
    response->headers.clear();
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    response->headers[ToLower(Trim(line.substr(0, colon)))] =
        std::string(Trim(line.substr(colon + 1)));
  }
  return size * count;
}

size_t BodyCallback(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct StreamContext {
  CURL* easy = nullptr;
  const ChunkCallback* on_chunk = nullptr;
  CancelToken* cancel = nullptr;
  HttpResponse* response = nullptr;
  bool stopped = false;  // by the callback or cancellation: a normal end
};

size_t StreamCallback(char* data, size_t size, size_t count, void* user) {
  auto* ctx = static_cast<StreamContext*>(user);
  size_t n = size * count;
  long code = 0;
  curl_easy_getinfo(ctx->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code >= 300) {
    if (ctx->response->body.size() < kMaxErrorBodyBytes) ctx->response->body.append(data, n);
    return n;
  }
  if ((ctx->cancel != nullptr && ctx->cancel->IsCancelled()) ||
      !(*ctx->on_chunk)(std::string_view(data, n))) {
    ctx->stopped = true;
    return 0;  // anything but n aborts the transfer
  }
  return n;
}

// curl's progress callback (at least once a second, also while idle): a non-zero return ends
// the transfer, which is how Abort() reaches transfers that have no cancel token.
int AbortCheck(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load(std::memory_order_relaxed) ? 1 : 0;
}

void WatchForAbort(CURL* easy, std::atomic<bool>* aborting) {
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, AbortCheck);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, static_cast<void*>(aborting));
}

// Applies everything common to Request and Stream. `headers` keeps the list alive.
Status Configure(CURL* easy, const HttpRequest& request, const ClusterConfig& tls,
                 const CurlOptions& options, HttpResponse* response, Slist* headers,
                 char* error_buffer) {
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, HeaderCallback);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, response);

  if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET" || !request.body.empty()) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  curl_slist* list = nullptr;
  auto append = [&list](const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next != nullptr) list = next;
  };
  for (const auto& [name, value] : request.headers) {
    std::string line = name;
    line.append(": ").append(value);
    append(line);
  }
  append("Expect:");  // no 100-continue round trip for large bodies
  headers->reset(list);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);

  if (tls.insecure_skip_tls_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!tls.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls.ca_pem.data()), tls.ca_pem.size(), CURL_BLOB_COPY};
    if (curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK) {
      return InvalidArgument("this libcurl cannot take in-memory CA data; use a CA file");
    }
  } else if (!tls.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, tls.ca_file.c_str());
  }
  if (!tls.client_cert_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls.client_cert_pem.data()), tls.client_cert_pem.size(),
                   CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &blob);
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (!tls.client_cert_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, tls.client_cert_file.c_str());
  }
  if (!tls.client_key_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls.client_key_pem.data()), tls.client_key_pem.size(),
                   CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &blob);
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!tls.client_key_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLKEY, tls.client_key_file.c_str());
  }
  return Status::Ok();
}

// Maps a failed transfer to the transport Status contract in http.h.
Status TransferError(CURL* easy, CURLcode code, const HttpRequest& request,
                     const char* error_buffer) {
  std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  std::string message = request.method + " " + request.url + ": " + detail;
  switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_BAD_FUNCTION_ARGUMENT:
      return InvalidArgument(message);
    default:
      break;
  }
  curl_off_t pretransfer_us = 0;
  curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
  if (pretransfer_us == 0) {
    return Status(StatusCode::kUnavailable, message + " (request not sent)");
  }
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return Status(StatusCode::kDeadlineExceeded,
                  message + " (timed out; the request may have been applied)");
  }
  return Status(StatusCode::kAborted,
                message + " (connection failed; the request may have been applied)");
}

// Runs the transfer on `easy`. Without a cancel token that is curl_easy_perform (which keeps
// the handle's connection cache); with one, a multi handle whose poll Cancel() wakes at once.
CURLcode Perform(CURL* easy, CancelToken* cancel, bool* cancelled) {
  *cancelled = false;
  if (cancel == nullptr) return curl_easy_perform(easy);
  if (cancel->IsCancelled()) {
    *cancelled = true;
    return CURLE_ABORTED_BY_CALLBACK;
  }
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return CURLE_OUT_OF_MEMORY;
  curl_multi_add_handle(multi, easy);
  uint64_t wake_id = cancel->Register([multi] { curl_multi_wakeup(multi); });
  CURLcode result = CURLE_OK;
  bool done = false;
  while (!done) {
    if (cancel->IsCancelled()) {
      *cancelled = true;
      result = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      result = CURLE_RECV_ERROR;
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg == CURLMSG_DONE) {
        result = msg->data.result;
        done = true;
      }
    }
    if (done || running == 0) break;
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  cancel->Unregister(wake_id);
  curl_multi_remove_handle(multi, easy);
  curl_multi_cleanup(multi);
  return result;
}

}  // namespace

CurlTransport::CurlTransport(const ClusterConfig& config, CurlOptions options)
    : tls_(config), options_(std::move(options)) {
  GlobalInitOnce();
}

CurlTransport::~CurlTransport() {
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* CurlTransport::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void CurlTransport::ReleaseHandle(void* handle) {
  // Reset keeps the live connections, so the next request can reuse them.
  curl_easy_reset(static_cast<CURL*>(handle));
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < options_.max_idle_handles) {
    idle_.push_back(handle);
    return;
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

Result<HttpResponse> CurlTransport::Request(const HttpRequest& request) {
  if (aborting_.load()) {
    return Status(StatusCode::kAborted, request.method + " " + request.url + ": shutting down");
  }
  CURL* easy = static_cast<CURL*>(AcquireHandle());
  if (easy == nullptr) return Status(StatusCode::kInternal, "curl_easy_init failed");
  HttpResponse response;
  Slist headers;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  Status status = Configure(easy, request, tls_, options_, &response, &headers, error_buffer);
  if (status.ok()) {
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, BodyCallback);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &response.body);
    WatchForAbort(easy, &aborting_);
    bool cancelled = false;
    CURLcode code = Perform(easy, request.cancel, &cancelled);
    if (cancelled || code == CURLE_ABORTED_BY_CALLBACK) {
      status = Status(StatusCode::kAborted, request.method + " " + request.url + ": cancelled");
    } else if (code != CURLE_OK) {
      status = TransferError(easy, code, request, error_buffer);
    }
    long http_status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
    response.status = static_cast<int>(http_status);
  }
  ReleaseHandle(easy);
  if (!status.ok()) return status;
  return response;
}

Result<HttpResponse> CurlTransport::Stream(const HttpRequest& request,
                                           const ChunkCallback& on_chunk) {
  if (aborting_.load()) {
    return Status(StatusCode::kAborted, request.method + " " + request.url + ": shutting down");
  }
  CURL* easy = static_cast<CURL*>(AcquireHandle());
  if (easy == nullptr) return Status(StatusCode::kInternal, "curl_easy_init failed");
  HttpResponse response;
  Slist headers;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  StreamContext ctx{easy, &on_chunk, request.cancel, &response, false};
  Status status = Configure(easy, request, tls_, options_, &response, &headers, error_buffer);
  if (status.ok()) {
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, StreamCallback);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &ctx);
    WatchForAbort(easy, &aborting_);
    bool cancelled = false;
    CURLcode code = Perform(easy, request.cancel, &cancelled);
    long http_status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
    response.status = static_cast<int>(http_status);
    // Ending by choice, or by the watch's own time bound once a response began, is normal.
    bool normal_end = cancelled || ctx.stopped || code == CURLE_ABORTED_BY_CALLBACK ||
                      (code == CURLE_OPERATION_TIMEDOUT && http_status != 0);
    if (code != CURLE_OK && !normal_end) status = TransferError(easy, code, request, error_buffer);
  }
  ReleaseHandle(easy);
  if (!status.ok()) return status;
  return response;
}

}  // namespace hami::kube
