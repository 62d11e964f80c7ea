#include "kube/client.h"

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "kube/api_error.h"
#include "kube/curl_transport.h"
#include "kube/paths.h"

namespace hami::kube {
namespace {

using nlohmann::json;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kMergePatch = "application/merge-patch+json";
constexpr std::string_view kJsonPatch = "application/json-patch+json";

double DefaultRandom01() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

ClientOptions WithDefaults(ClientOptions options) {
  if (!options.sleep) {
    options.sleep = [](std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); };
  }
  if (!options.random01) options.random01 = DefaultRandom01;
  if (!options.now) options.now = [] { return std::chrono::steady_clock::now(); };
  return options;
}

Result<json> ParseBody(std::string_view method, std::string_view path, const std::string& body) {
  if (body.empty()) return json::object();
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    return Status(StatusCode::kInternal,
                  std::string(method) + " " + std::string(path) + ": response is not JSON");
  }
  return parsed;
}

}  // namespace

bool IsTransient(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

KubeClient::KubeClient(std::shared_ptr<HttpTransport> transport, ClusterConfig config,
                       ClientOptions options)
    : transport_(std::move(transport)),
      config_(std::move(config)),
      real_sleep_(!options.sleep),
      options_(WithDefaults(std::move(options))),
      tokens_(config_),
      limiter_(options_.qps, options_.burst, options_.now) {}

Result<std::shared_ptr<KubeClient>> KubeClient::FromKubeconfigFlag(const std::string& kubeconfig) {
  HAMI_ASSIGN_OR_RETURN(ClusterConfig cluster,
                        kubeconfig.empty() ? LoadDefault() : LoadKubeconfig(kubeconfig));
  return std::shared_ptr<KubeClient>(WithCurl(cluster));
}

std::unique_ptr<KubeClient> KubeClient::WithCurl(const ClusterConfig& config,
                                                 ClientOptions options) {
  return std::make_unique<KubeClient>(std::make_shared<CurlTransport>(config), config,
                                      std::move(options));
}

void KubeClient::Shutdown() {
  shutdown_.Cancel();
  transport_->Abort();
}

void KubeClient::Wait(std::chrono::nanoseconds delay, CancelToken* cancel) {
  if (delay.count() <= 0) return;
  if (shutdown_.IsCancelled()) return;
  if (cancel == nullptr) {
    // Without a token of its own the wait still ends at Shutdown(); the injected sleep (tests)
    // keeps simulated time.
    if (!real_sleep_) {
      options_.sleep(delay);
      return;
    }
    cancel = &shutdown_;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  uint64_t id = cancel->Register([&] {
    std::lock_guard<std::mutex> lock(mu);
    woken = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, delay, [&] { return woken; });
  }
  cancel->Unregister(id);
}

Result<HttpRequest> KubeClient::BuildRequest(std::string_view method, std::string_view path,
                                             std::string body, std::string_view content_type,
                                             std::chrono::milliseconds timeout) {
  HttpRequest request;
  request.method = std::string(method);
  request.url = config_.server + std::string(path);
  request.timeout = timeout;
  request.headers.emplace_back("Accept", std::string(kJson));
  if (!content_type.empty())
    request.headers.emplace_back("Content-Type", std::string(content_type));
  HAMI_ASSIGN_OR_RETURN(std::string token, tokens_.Token());
  if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
  request.body = std::move(body);
  return request;
}

Result<json> KubeClient::Do(std::string_view method, std::string_view path, const json* body,
                            std::string_view content_type, bool idempotent, CancelToken* cancel) {
  std::string payload = body != nullptr && !body->is_null() ? body->dump() : std::string();
  const RetryPolicy& policy = options_.retry;
  const int attempts = std::max(1, policy.max_attempts);
  for (int attempt = 0;; ++attempt) {
    Wait(limiter_.Reserve(), cancel);
    if ((cancel != nullptr && cancel->IsCancelled()) || (attempt > 0 && shutdown_.IsCancelled())) {
      return Status(StatusCode::kAborted,
                    std::string(method) + " " + std::string(path) + ": cancelled");
    }
    HAMI_ASSIGN_OR_RETURN(
        HttpRequest request,
        BuildRequest(method, path, payload, payload.empty() ? std::string_view() : content_type,
                     options_.request_timeout));
    request.cancel = cancel;
    Result<HttpResponse> response = transport_->Request(request);
    AttemptOutcome outcome;
    Status error;
    if (!response.ok()) {
      outcome.transport_code = response.status().code();
      error = response.status();
    } else {
      if (response->status >= 200 && response->status < 300) {
        return ParseBody(method, path, response->body);
      }
      outcome.http_status = response->status;
      outcome.retry_after = ParseRetryAfter(response->Header("retry-after"));
      error = StatusFromResponse(method, path, *response);
    }
    if (attempt + 1 >= attempts || !ShouldRetry(policy, idempotent, outcome)) return error;
    if ((cancel != nullptr && cancel->IsCancelled()) || shutdown_.IsCancelled()) return error;
    Wait(BackoffDelay(policy, attempt, options_.random01(), outcome.retry_after), cancel);
    retries_.fetch_add(1, std::memory_order_relaxed);
  }
}

Result<json> KubeClient::Get(std::string_view path, CancelToken* cancel) {
  return Do("GET", path, nullptr, "", true, cancel);
}

Result<json> KubeClient::List(std::string_view path, std::string_view label_selector,
                              std::string_view field_selector) {
  std::string full = WithQuery(path, {{"labelSelector", std::string(label_selector)},
                                      {"fieldSelector", std::string(field_selector)}});
  return Do("GET", full, nullptr, "", true);
}

Result<json> KubeClient::Create(std::string_view path, const json& object) {
  return Do("POST", path, &object, kJson, false);
}

Result<json> KubeClient::Update(std::string_view path, const json& object) {
  return Do("PUT", path, &object, kJson, true);
}

Result<json> KubeClient::Delete(std::string_view path, const json& delete_options) {
  return Do("DELETE", path, &delete_options, kJson, true);
}

Result<json> KubeClient::MergePatch(std::string_view path, const json& patch) {
  return Do("PATCH", path, &patch, kMergePatch, true);
}

Result<json> KubeClient::JsonPatch(std::string_view path, const json& operations) {
  return Do("PATCH", path, &operations, kJsonPatch, false);
}

Status KubeClient::CreateBinding(std::string_view ns, std::string_view pod, std::string_view uid,
                                 std::string_view node,
                                 const std::map<std::string, std::string>& annotations) {
  json body = BindingBody(ns, pod, uid, node);
  if (!annotations.empty()) body["metadata"]["annotations"] = annotations;
  Result<json> result = Create(PodBindingPath(ns, pod), body);
  return result.ok() ? Status::Ok() : result.status();
}

Result<json> KubeClient::GetLease(std::string_view ns, std::string_view name) {
  return Get(LeasePath(ns, name));
}

Result<json> KubeClient::CreateLease(std::string_view ns, const json& lease) {
  return Create(LeasesPath(ns), lease);
}

Result<json> KubeClient::UpdateLease(std::string_view ns, std::string_view name,
                                     const json& lease) {
  return Update(LeasePath(ns, name), lease);
}

Result<json> KubeClient::CreateEvent(const EventSpec& spec) {
  std::string ns = spec.involved_namespace.empty() ? "default" : spec.involved_namespace;
  json body = EventBody(spec, std::chrono::system_clock::now());
  body["metadata"]["namespace"] = ns;
  return Create(EventsPath(ns), body);
}

Status KubeClient::Watch(std::string_view path, std::chrono::milliseconds timeout,
                         const std::function<bool(WatchEvent&& event)>& on_event,
                         CancelToken* cancel) {
  Wait(limiter_.Reserve(), cancel);
  HAMI_ASSIGN_OR_RETURN(HttpRequest request, BuildRequest("GET", path, "", "", timeout));
  request.cancel = cancel;
  WatchDecoder decoder;
  Status decode_error;
  auto on_chunk = [&](std::string_view chunk) {
    Result<std::vector<WatchEvent>> events = decoder.Feed(chunk);
    if (!events.ok()) {
      decode_error = events.status();
      return false;
    }
    for (WatchEvent& event : *events) {
      if (!on_event(std::move(event))) return false;
    }
    return true;
  };
  Result<HttpResponse> response = transport_->Stream(request, on_chunk);
  if (!decode_error.ok()) return decode_error.WithContext(std::string(path));
  if (!response.ok()) return response.status();
  if (response->status != 0 && (response->status < 200 || response->status >= 300)) {
    return StatusFromResponse("GET", path, *response);
  }
  return Status::Ok();
}

}  // namespace hami::kube
