#include "scheduler/ui_server.h"

#include <httplib.h>

#include <algorithm>

#include "common/clock.h"
#include "common/http_endpoint.h"
#include "scheduler/ui_assets.h"

namespace hami::scheduler {

namespace {

constexpr char kJson[] = "application/json";
constexpr size_t kWorkerThreads = 4;  // a UI is a few browsers; keep the scheduler's CPU

UiResponse Json(int status, const nlohmann::json& body) {
  return UiResponse{status, kJson, body.dump()};
}

UiResponse Error(int status, const std::string& message) {
  return UiResponse{status, kJson, ErrorBody(message)};
}

UiResponse FromStatus(const Status& status) {
  return Error(status.code() == StatusCode::kNotFound ? 404 : 400, status.message());
}

// Splits "a/b/c" into its segments (empty segments kept, so "a//b" does not match a route).
std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    out.emplace_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

UiServer::UiServer(UiSources sources) : sources_(std::move(sources)) {
  if (!sources_.now_unix_seconds) sources_.now_unix_seconds = UnixNowSeconds;
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  server_->set_tcp_nodelay(true);
  server_->set_payload_max_length(64 * 1024);
  auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> params;
    for (const auto& [key, value] : req.params) params[key] = value;
    UiResponse out = Handle(req.method, req.path, params);
    res.status = out.status;
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "no-store");
    if (out.status == 405) res.set_header("Allow", "GET, HEAD");
    res.set_content(out.body, out.content_type);
  };
  server_->Get(".*", handle);
  server_->Post(".*", handle);
  server_->Put(".*", handle);
  server_->Patch(".*", handle);
  server_->Delete(".*", handle);
  server_->Options(".*", handle);
}

UiServer::~UiServer() { Stop(); }

Result<int> UiServer::Start(const std::string& host, int port) {
  return BindAndServe(*server_, host, port, &thread_);
}

void UiServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

UiResponse UiServer::Handle(const std::string& method, const std::string& path,
                            const std::map<std::string, std::string>& params) {
  if (method != "GET" && method != "HEAD") return Error(405, "read-only: only GET is allowed");
  if (path == "/healthz") return UiResponse{200, "text/plain", "ok"};
  if (path.starts_with("/api/")) return Api(path, params);
  if (path == "/" || path == "/index.html") return Asset("index.html");
  if (path.starts_with("/assets/")) return Asset(path.substr(1));
  return Error(404, "not found: " + path);
}

UiResponse UiServer::Asset(const std::string& path) {
  if (path.find("..") != std::string::npos) return Error(404, "not found");
  const EmbeddedFile* file = FindEmbeddedAsset(path);
  if (file == nullptr) {
    if (path == "index.html") {
      return UiResponse{503, "text/plain; charset=utf-8",
                        "UI assets not built: this hami-scheduler was built without ui/dist/. "
                        "The JSON API under api/v1/ works."};
    }
    return Error(404, "not found: /" + path);
  }
  return UiResponse{200, std::string(file->content_type), std::string(file->data)};
}

std::vector<FitCount> UiServer::Fits(std::span<const policy::NodeState> nodes,
                                     std::span<const PodAllocation> pods) {
  std::lock_guard<std::mutex> lock(fits_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (fits_ && now - fits_at_ < sources_.fits_ttl) return *fits_;
  const std::string vendor = MainVendor(nodes);
  fits_ = vendor.empty() ? std::vector<FitCount>{}
                         : CountFits(nodes, vendor, CommonFitShapes(pods, vendor, 2));
  fits_at_ = now;
  return *fits_;
}

std::shared_ptr<const UiServer::View> UiServer::CurrentView() {
  std::lock_guard<std::mutex> lock(view_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (view_ && now - view_->at < sources_.snapshot_ttl) return view_;
  auto view = std::make_shared<View>();
  view->at = now;
  const UsageLedger& ledger = *sources_.ledger;
  const auto shared = ledger.SharedSnapshot();  // pointers under the lock, copies after
  view->nodes.reserve(shared.size());
  for (const auto& node : shared) view->nodes.push_back(*node);
  view->pods = ledger.Pods();
  view->locked = ledger.LockedNodes();
  view->pending = PendingDecisions(sources_.decisions->LatestPerPod(), view->pods);
  view_ = std::move(view);
  return view_;
}

UiResponse UiServer::Api(const std::string& path,
                         const std::map<std::string, std::string>& params) {
  if (!path.starts_with("/api/v1/")) return Error(404, "unknown API version: " + path);
  const std::vector<std::string> seg = Segments(std::string_view(path).substr(8));
  auto no_params = [&]() -> std::optional<UiResponse> {
    if (params.empty()) return std::nullopt;
    return Error(400, "unknown query parameter \"" + params.begin()->first + "\"");
  };

  if (seg.size() == 1 && seg[0] == "summary") {
    if (auto bad = no_params()) return *bad;
    const std::shared_ptr<const View> view = CurrentView();
    const std::vector<FitCount> fits = Fits(view->nodes, view->pods);
    std::optional<LiveUsage> usage;
    if (sources_.usage != nullptr) usage = sources_.usage->Current();
    SummaryInputs in;
    in.version = sources_.version;
    in.now_unix_seconds = sources_.now_unix_seconds();
    in.synced = sources_.is_synced();
    in.leader = sources_.is_leader();
    in.nodes = view->nodes;
    in.pods = view->pods;
    in.pending_pods = view->pending.size();
    in.usage = usage ? &*usage : nullptr;
    in.fits = fits;
    return Json(200, SummaryJson(in));
  }
  if (seg.size() == 1 && seg[0] == "nodes") {
    if (auto bad = no_params()) return *bad;
    const std::shared_ptr<const View> view = CurrentView();
    return Json(200, NodesJson(view->nodes, view->pods, view->locked));
  }
  if (seg.size() == 2 && seg[0] == "nodes" && !seg[1].empty()) {
    if (auto bad = no_params()) return *bad;
    const std::shared_ptr<const View> view = CurrentView();
    const bool known = std::any_of(view->nodes.begin(), view->nodes.end(),
                                   [&](const policy::NodeState& n) { return n.name == seg[1]; });
    std::optional<LiveUsage> usage;
    if (sources_.usage != nullptr && known) usage = sources_.usage->Current();
    auto out = NodeJson(seg[1], view->nodes, view->pods, usage ? &*usage : nullptr);
    return out.ok() ? Json(200, *out) : FromStatus(out.status());
  }
  if (seg.size() == 1 && seg[0] == "pods") {
    auto query = ParsePodsQuery(params);
    if (!query.ok()) return FromStatus(query.status());
    const std::shared_ptr<const View> view = CurrentView();
    return Json(200, PodsJson(*query, view->pods, view->pending));
  }
  if (seg.size() == 4 && seg[0] == "pods" && seg[3] == "diagnosis" && !seg[1].empty() &&
      !seg[2].empty()) {
    if (auto bad = no_params()) return *bad;
    // Fresh, not from the view: one namespace's pods and one decision are cheap to read.
    const DecisionPtr last = sources_.decisions->Latest(seg[1], seg[2]);
    auto out = DiagnosisJson(seg[1], seg[2], sources_.ledger->PodsInNamespace(seg[1]), last.get(),
                             *sources_.registry);
    return out.ok() ? Json(200, *out) : FromStatus(out.status());
  }
  if (seg.size() == 1 && seg[0] == "quotas") {
    if (auto bad = no_params()) return *bad;
    if (sources_.quota == nullptr) return Json(200, QuotasJson({}, {}));
    const std::vector<QuotaStatus> rows = sources_.quota->Statuses(CurrentView()->pods);
    return Json(200, QuotasJson(rows, sources_.quota->factors()));
  }
  if (seg.size() == 1 && seg[0] == "usage") {
    std::string range = "1h";
    for (const auto& [key, value] : params) {
      if (key != "range") return Error(400, "unknown query parameter \"" + key + "\"");
      range = value;
    }
    auto seconds = ParseUsageRange(range);
    if (!seconds) {
      return Error(
          400, "range: must be a duration from 1m to 7d like 30m, 1h or 1d, not \"" + range + "\"");
    }
    if (sources_.usage == nullptr) {
      UsageHistory none;
      none.reason = "no Prometheus configured (hami-scheduler --ui-prometheus-url)";
      return Json(200, UsageJson(none));
    }
    return Json(200, UsageJson(sources_.usage->History(*seconds)));
  }
  return Error(404, "unknown API path: " + path);
}

}  // namespace hami::scheduler
