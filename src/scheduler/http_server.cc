#include "scheduler/http_server.h"

#include <httplib.h>

#include <chrono>

#include "common/clock.h"
#include "common/http_endpoint.h"
#include "kube/objects.h"
#include "scheduler/tls_reloader.h"

namespace hami::scheduler {

namespace {

constexpr char kJson[] = "application/json";
constexpr size_t kWorkerThreads = 64;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

ExtenderServer::ExtenderServer(FilterCore& filter, Binder& binder, ServerHooks hooks,
                               std::string cert_file, std::string key_file)
    : filter_(filter), binder_(binder), hooks_(std::move(hooks)) {
  if (!hooks_.now_unix_seconds) hooks_.now_unix_seconds = UnixNowSeconds;
  if (!cert_file.empty() && !key_file.empty()) {
    auto reloader = CertificateReloader::Create(cert_file, key_file);
    if (reloader.ok()) {
      tls_ = std::move(*reloader);
      server_ = std::make_unique<httplib::SSLServer>([this](SSL_CTX& ctx) {
        SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
        tls_->Install(&ctx);
        return true;
      });
    } else {
      tls_status_ = reloader.status();
    }
  }
  if (!server_) server_ = std::make_unique<httplib::Server>();
  server_->set_payload_max_length(kMaxExtenderBodyBytes);
  // Responses go out as header and body writes; with Nagle on, the body waits for the
  // client's delayed ACK (40 ms) on every keep-alive request.
  server_->set_tcp_nodelay(true);
  Routes();
}

ExtenderServer::~ExtenderServer() { Stop(); }

std::string ExtenderServer::HandleFilter(const std::string& body) {
  const auto start = std::chrono::steady_clock::now();
  std::string response = FilterImpl(body);
  if (hooks_.metrics != nullptr) hooks_.metrics->ObserveFilterSeconds(SecondsSince(start));
  return response;
}

std::string ExtenderServer::FilterImpl(const std::string& body) {
  auto count_failure = [this](const char* reason) {
    if (hooks_.metrics != nullptr) hooks_.metrics->FilterFailure(reason);
  };
  ExtenderFilterResult result;
  auto args = DecodeExtenderArgs(body);
  if (!args.ok()) {
    count_failure("bad_request");
    result.error = args.status().message();
    return EncodeExtenderFilterResult(result);
  }
  if (const char* not_ready = WaitUntilReady(); not_ready != nullptr) {
    count_failure(not_ready);
    result.error = std::string(not_ready) == "not_leader"
                       ? "this hami-scheduler replica is not the leader"
                       : "hami-scheduler has not finished its first node registration pass";
    return EncodeExtenderFilterResult(result);
  }
  // Decides in memory only: the decision is written onto the pod by /bind.
  FilterDecision decision = filter_.Filter(*args, hooks_.now_unix_seconds());
  if (!decision.result.error.empty()) {
    count_failure("error");
  } else if (!decision.result.node_names || decision.result.node_names->empty()) {
    count_failure("no_fit");
  }
  std::string response = EncodeExtenderFilterResult(decision.result);
  if (hooks_.decisions != nullptr && !decision.vendor.empty()) {
    // After encoding, so the record takes the result's strings by move: no copy, no JSON.
    const kube::PodView pod(args->pod);
    DecisionRecord record;
    record.uid = std::string(pod.Uid());
    record.ns = std::string(pod.Namespace());
    record.name = std::string(pod.Name());
    record.at_unix_seconds = hooks_.now_unix_seconds();
    record.vendor = std::move(decision.vendor);
    record.request = std::move(decision.request);
    record.init_containers = decision.init_containers;
    if (args->node_names) {
      record.nodes_evaluated = static_cast<int32_t>(args->node_names->size());
    } else if (args->nodes) {
      record.nodes_evaluated = static_cast<int32_t>(args->nodes->size());
    }
    if (decision.result.node_names) {
      record.feasible = std::move(*decision.result.node_names);
    } else if (decision.result.nodes) {
      for (const nlohmann::json& node : *decision.result.nodes) {
        record.feasible.emplace_back(kube::NodeView(node).Name());
      }
    }
    record.failed_nodes = std::move(decision.result.failed_nodes);
    record.error = std::move(decision.result.error);
    hooks_.decisions->Record(std::move(record));
  }
  return response;
}

const char* ExtenderServer::WaitUntilReady() {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + hooks_.filter_wait;
  // kube-scheduler only calls the extender of the replica whose kube-scheduler just won the
  // Lease, so a follower's view is likely stale: look again now and then every 200 ms.
  auto next_leader_check = start;
  for (;;) {
    const bool leader = hooks_.is_leader();
    if (leader && hooks_.is_synced()) return nullptr;
    const auto now = std::chrono::steady_clock::now();
    if (!leader && hooks_.recheck_leader && now >= next_leader_check) {
      hooks_.recheck_leader();
      next_leader_check = now + std::chrono::milliseconds(200);
    }
    if (stopping_.load() || now >= deadline) {
      return leader ? "not_synced" : "not_leader";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ExtenderServer::HandleBind(const std::string& body) {
  const auto start = std::chrono::steady_clock::now();
  std::string response = BindImpl(body);
  if (hooks_.metrics != nullptr) hooks_.metrics->ObserveBindSeconds(SecondsSince(start));
  return response;
}

std::string ExtenderServer::BindImpl(const std::string& body) {
  auto args = DecodeExtenderBindingArgs(body);
  if (!args.ok()) return EncodeExtenderBindingResult(args.status().message());
  if (!hooks_.is_leader()) {
    return EncodeExtenderBindingResult("this hami-scheduler replica is not the leader");
  }
  return EncodeExtenderBindingResult(binder_.Bind(*args));
}

void ExtenderServer::Routes() {
  // kube-scheduler binds in parallel goroutines over keep-alive connections, and each open
  // connection holds a worker; httplib's default pool (8) would leave new requests queued
  // behind idle connections.
  server_->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  auto empty_body = [](const httplib::Request& req, httplib::Response& res) {
    if (!req.body.empty()) return false;
    res.status = 400;
    res.set_content("Please send a request body", "text/plain");
    return true;
  };
  server_->Post("/filter", [this, empty_body](const httplib::Request& req, httplib::Response& res) {
    if (empty_body(req, res)) return;
    res.set_content(HandleFilter(req.body), kJson);
  });
  server_->Post("/bind", [this, empty_body](const httplib::Request& req, httplib::Response& res) {
    if (empty_body(req, res)) return;
    res.set_content(HandleBind(req.body), kJson);
  });
  server_->Post("/webhook",
                [this, empty_body](const httplib::Request& req, httplib::Response& res) {
                  if (empty_body(req, res)) return;
                  auto response = HandleAdmissionReview(req.body, hooks_.webhook_config());
                  if (!response.ok()) {
                    res.status = 400;
                    res.set_content(response.status().message(), "text/plain");
                    return;
                  }
                  res.set_content(*response, kJson);
                });
  server_->Get("/healthz",
               [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ready = hooks_.is_synced();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? (hooks_.is_leader() ? "ok: leader" : "ok: follower") : "not synced",
                    "text/plain");
  });
}

Result<int> ExtenderServer::Start(const std::string& host, int port) {
  if (!tls_status_.ok()) {
    return Status(StatusCode::kUnavailable, tls_status_.message());
  }
  if (!server_->is_valid()) return Status(StatusCode::kUnavailable, "TLS setup failed");
  return BindAndServe(*server_, host, port, &thread_);
}

void ExtenderServer::Stop() {
  stopping_ = true;
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hami::scheduler
