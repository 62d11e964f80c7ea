#include "tests/fakes/fake_apiserver.h"

#include <httplib.h>

#include <algorithm>
#include <utility>

#include "common/strings.h"
#include "tests/fakes/api_resources.h"
#include "tests/fakes/fake_apiserver_internal.h"
#include "tests/fakes/json_patch.h"
#include "tests/fakes/selectors.h"

namespace hami::fakes {

using internal::Clock;
using internal::Dump;
using internal::Matches;
using internal::MetaString;
using internal::ParamTrue;
using internal::ParseObjectBody;
using nlohmann::json;

FakeApiServer::FakeApiServer() : FakeApiServer(FakeApiServerOptions{}) {}

FakeApiServer::FakeApiServer(FakeApiServerOptions options)
    : options_(std::move(options)), port_(options_.port), rng_(std::random_device{}()) {}

FakeApiServer::~FakeApiServer() { Stop(); }

// ---------------------------------------------------------------------------------------------
// Lifecycle

Result<std::string> FakeApiServer::Start() {
  std::lock_guard<std::mutex> start_lock(start_mu_);
  if (server_) return FailedPrecondition("fake API server already running");
  const bool tls = !options_.tls_cert_path.empty() && !options_.tls_key_path.empty();
  std::unique_ptr<httplib::Server> server;
  if (tls) {
    server = std::make_unique<httplib::SSLServer>(options_.tls_cert_path.c_str(),
                                                  options_.tls_key_path.c_str());
  } else {
    server = std::make_unique<httplib::Server>();
  }
  if (!server->is_valid()) {
    return Status(StatusCode::kUnavailable, "fake API server: cannot load TLS cert/key");
  }
  const size_t threads = std::max<size_t>(options_.worker_threads, 2);
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_tcp_nodelay(true);  // small watch chunks must not wait for delayed ACKs
  server->set_keep_alive_timeout(static_cast<time_t>(options_.keep_alive_timeout.count()));
  server->set_read_timeout(5, 0);
  server->set_write_timeout(2, 0);
  // httplib gzips application/json when the client accepts it, buffering a watch stream
  // until it ends. Never compressing keeps every event on the wire as soon as it happens.
  server->set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    // The Request object is not const; httplib only hands it out as const.
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
  server->Get(".*", handler);
  server->Post(".*", handler);
  server->Put(".*", handler);
  server->Patch(".*", handler);
  server->Delete(".*", handler);
  server->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
        res.status = 500;
        res.set_content(Dump(FailureStatus(500, "InternalError", "fake API server exception")),
                        "application/json");
      });

  int port;
  {
    std::lock_guard<std::mutex> lock(mu_);
    port = port_;
  }
  if (port > 0) {
    if (!server->bind_to_port("127.0.0.1", port)) {
      return Status(StatusCode::kUnavailable,
                    "fake API server: cannot bind 127.0.0.1:" + std::to_string(port));
    }
  } else {
    port = server->bind_to_any_port("127.0.0.1");
    if (port <= 0) return Status(StatusCode::kUnavailable, "fake API server: cannot bind");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  httplib::Server* raw = server.get();
  listen_thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs, so do not hand out a server before then.
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  while (!raw->is_running() && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_ = std::move(server);
  std::string url = std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port);
  std::lock_guard<std::mutex> lock(mu_);
  port_ = port;
  base_url_ = url;
  return url;
}

void FakeApiServer::Stop() {
  std::lock_guard<std::mutex> start_lock(start_mu_);
  if (!server_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    base_url_.clear();
  }
  cv_.notify_all();
  server_->stop();
  if (listen_thread_.joinable()) listen_thread_.join();  // joins the worker pool too
  server_.reset();
}

std::string FakeApiServer::base_url() const {
  std::lock_guard<std::mutex> lock(mu_);
  return base_url_;
}

// ---------------------------------------------------------------------------------------------
// HTTP entry point

void FakeApiServer::Handle(const httplib::Request& req, httplib::Response& res) {
  std::optional<ApiPath> path = ParseApiPath(req.path);
  const bool watch = ParamTrue(req, "watch");
  const std::string verb = path ? VerbOf(req.method, *path, watch) : "";

  std::optional<InjectedFault> fault;
  {
    std::unique_lock<std::mutex> lock(mu_);
    requests_.push_back({req.method, verb, req.path, req.target});
    if (latency_.delay.count() > 0 && Matches(latency_.verb, verb) &&
        Matches(latency_.path_substring, req.path)) {
      cv_.wait_for(lock, latency_.delay, [this] { return stopping_; });
    }
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (!Matches(it->verb, verb) || !Matches(it->path_substring, req.path)) continue;
      fault = *it;
      if (it->count > 0 && --it->count == 0) faults_.erase(it);
      break;
    }
  }
  auto reply = [&res](int code, const json& body) {
    res.status = code;
    res.set_content(Dump(body), "application/json");
  };
  if (fault) {
    if (fault->retry_after_seconds > 0) {
      res.set_header("Retry-After", std::to_string(fault->retry_after_seconds));
    }
    reply(fault->http_code, InjectedStatus(fault->http_code, fault->retry_after_seconds));
    return;
  }
  if (!path) {
    if (req.method == "GET" &&
        (req.path == "/healthz" || req.path == "/readyz" || req.path == "/livez")) {
      res.status = 200;
      res.set_content("ok", "text/plain");
    } else if (req.method == "GET" && req.path == "/version") {
      reply(200, {{"major", "1"}, {"minor", "29"}, {"gitVersion", "v1.29.0-hami-fake"}});
    } else {
      reply(404, FailureStatus(404, "NotFound", "the server could not find the requested resource",
                               json::object()));
    }
    return;
  }
  if (verb == "watch") {
    HandleWatch(req, res, *path->resource, path->ns);
    return;
  }
  Reply r = Dispatch(req, verb, *path->resource, path->ns, path->name, path->subresource);
  reply(r.code, r.body);
}

FakeApiServer::Reply FakeApiServer::Dispatch(const httplib::Request& req, const std::string& verb,
                                             const ApiResource& r, const std::string& ns,
                                             const std::string& name, const std::string& sub) {
  const json not_allowed = FailureStatus(
      405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  if (!sub.empty()) {
    if (r.plural == "pods" && sub == "binding") {
      if (verb != "create") return {405, not_allowed};
      return HandleBinding(req, ns, name);
    }
    if (sub != "status" || !r.has_status) {
      return {404,
              FailureStatus(404, "NotFound", "the server could not find the requested resource")};
    }
  }
  const bool status_only = sub == "status";
  if (verb == "get") {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = store_.find(Key{r.qualified(), ns, name});
    if (it == store_.end()) return {404, NotFoundStatus(r, name)};
    return {200, it->second};
  }
  if (verb == "list") return HandleList(req, r, ns);
  if (verb == "create" && name.empty() && !ns.empty() == r.namespaced) {
    return HandleCreate(req, r, ns);
  }
  if (verb == "update") return HandleUpdate(req, r, ns, name, status_only);
  if (verb == "patch") return HandlePatch(req, r, ns, name, status_only);
  if (verb == "delete" && !status_only) return HandleDelete(req, r, ns, name);
  return {405, not_allowed};
}

// ---------------------------------------------------------------------------------------------
// Verbs

FakeApiServer::Reply FakeApiServer::HandleList(const httplib::Request& req, const ApiResource& r,
                                               const std::string& ns) {
  Result<LabelSelector> labels = LabelSelector::Parse(req.get_param_value("labelSelector"));
  if (!labels.ok()) return {400, BadRequestStatus(labels.status().message())};
  Result<FieldSelector> fields = FieldSelector::Parse(req.get_param_value("fieldSelector"));
  if (!fields.ok()) return {400, BadRequestStatus(fields.status().message())};
  for (const std::string& f : fields->fields()) {
    if (!FieldSelectable(r, f)) {
      return {400, BadRequestStatus("field label not supported: " + f)};
    }
  }
  int64_t limit = 0;
  if (req.has_param("limit")) {
    std::optional<int64_t> l = ParseInt64(req.get_param_value("limit"));
    if (!l || *l < 0) return {400, BadRequestStatus("invalid limit")};
    limit = *l;
  }
  std::string after = req.get_param_value("continue");  // opaque to clients: "<ns>/<name>"
  if (!after.empty() && after.find('/') == std::string::npos) {
    return {400, BadRequestStatus("invalid continue token")};
  }
  WatchState filter{};
  filter.resource = &r;
  filter.ns = ns;
  filter.labels = *labels;
  filter.fields = *fields;

  std::lock_guard<std::mutex> lock(mu_);
  json items = json::array();
  std::string next;
  int64_t remaining = 0;
  const std::string res_name = r.qualified();
  auto it = store_.lower_bound(Key{res_name, ns, ""});
  if (!after.empty()) {
    size_t slash = after.find('/');
    it = store_.upper_bound(Key{res_name, after.substr(0, slash), after.substr(slash + 1)});
  }
  for (; it != store_.end() && std::get<0>(it->first) == res_name; ++it) {
    if (!ns.empty() && std::get<1>(it->first) != ns) break;
    if (!filter.Selects(it->second)) continue;
    if (limit > 0 && static_cast<int64_t>(items.size()) >= limit) {
      ++remaining;
      continue;
    }
    json item = it->second;
    item.erase("kind");  // list items carry no type meta, as on the real server
    item.erase("apiVersion");
    items.push_back(std::move(item));
    next = std::get<1>(it->first) + "/" + std::get<2>(it->first);
  }
  json meta = {{"resourceVersion", std::to_string(rv_)}};
  if (remaining > 0) {
    meta["continue"] = next;
    meta["remainingItemCount"] = remaining;
  }
  return {200,
          {{"kind", r.list_kind},
           {"apiVersion", r.api_version()},
           {"metadata", meta},
           {"items", std::move(items)}}};
}

FakeApiServer::Reply FakeApiServer::HandleCreate(const httplib::Request& req, const ApiResource& r,
                                                 const std::string& ns) {
  json error;
  std::optional<json> body = ParseObjectBody(req.body, &error);
  if (!body) return {400, error};
  json& obj = *body;
  if (obj.contains("kind") && obj["kind"] != r.kind) {
    return {400, BadRequestStatus("the kind of the object does not match the URL (" +
                                  std::string(r.plural) + ")")};
  }
  json& meta = obj["metadata"];
  if (meta.is_null()) meta = json::object();
  std::string obj_ns = MetaString(obj, "namespace");
  if (r.namespaced && !obj_ns.empty() && obj_ns != ns) {
    return {400, BadRequestStatus("the namespace of the provided object does not match the "
                                  "namespace sent on the request")};
  }
  if (!MetaString(obj, "resourceVersion").empty()) {
    return {500, FailureStatus(500, "InternalError",
                               "resourceVersion should not be set on objects to be created")};
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::string name = MetaString(obj, "name");
  if (name.empty() && !MetaString(obj, "generateName").empty()) {
    static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    name = MetaString(obj, "generateName");
    for (int i = 0; i < 5; ++i) name += kAlphabet[rng_() % (sizeof kAlphabet - 1)];
  }
  if (name.empty()) {
    return {422, InvalidStatus(r, "",
                               "metadata.name: Required value: name or generateName is "
                               "required")};
  }
  Key key{r.qualified(), ns, name};
  if (store_.count(key) != 0) return {409, AlreadyExistsStatus(r, name)};
  meta["name"] = name;
  if (r.namespaced) meta["namespace"] = ns;
  meta["uid"] = NewUidLocked();
  meta["creationTimestamp"] = NowRfc3339();
  obj["kind"] = r.kind;
  obj["apiVersion"] = r.api_version();
  if (r.plural == "pods") {
    if (!obj["spec"].is_object()) obj["spec"] = json::object();
    if (!obj["spec"].contains("schedulerName")) obj["spec"]["schedulerName"] = "default-scheduler";
    if (!obj["status"].is_object()) obj["status"] = json::object();
    if (!obj["status"].contains("phase")) obj["status"]["phase"] = "Pending";
  }
  return {201, CommitLocked(r, key, std::move(obj))};
}

// The shared end of PUT and PATCH: a status write keeps everything but the status; a main
// write keeps the server-owned metadata and (for resources with one) the old status. A write
// that changes nothing does not bump the resourceVersion, as on the real server.
FakeApiServer::Reply FakeApiServer::CommitUpdateLocked(const ApiResource& r, const Key& key,
                                                       const std::string& ns, const json& old,
                                                       json obj, bool status_only) {
  if (status_only) {
    json updated = old;
    updated["status"] = obj.contains("status") ? obj["status"] : json::object();
    obj = std::move(updated);
  } else {
    json& meta = obj["metadata"];
    meta["uid"] = MetaString(old, "uid");
    meta["creationTimestamp"] = MetaString(old, "creationTimestamp");
    if (r.namespaced) meta["namespace"] = ns;
    obj["kind"] = r.kind;
    obj["apiVersion"] = r.api_version();
    if (r.has_status) {
      if (old.contains("status")) {
        obj["status"] = old["status"];
      } else {
        obj.erase("status");
      }
    }
  }
  obj["metadata"]["resourceVersion"] = MetaString(old, "resourceVersion");
  if (obj == old) return {200, old};
  return {200, CommitLocked(r, key, std::move(obj))};
}

FakeApiServer::Reply FakeApiServer::HandleUpdate(const httplib::Request& req, const ApiResource& r,
                                                 const std::string& ns, const std::string& name,
                                                 bool status_only) {
  json error;
  std::optional<json> body = ParseObjectBody(req.body, &error);
  if (!body) return {400, error};
  json obj = std::move(*body);
  if (MetaString(obj, "name") != name) {
    return {400, BadRequestStatus("the name of the object (" + MetaString(obj, "name") +
                                  ") does not match the name on the URL (" + name + ")")};
  }
  if (r.namespaced && !MetaString(obj, "namespace").empty() && MetaString(obj, "namespace") != ns) {
    return {400, BadRequestStatus("the namespace of the provided object does not match the "
                                  "namespace sent on the request")};
  }
  std::lock_guard<std::mutex> lock(mu_);
  Key key{r.qualified(), ns, name};
  auto it = store_.find(key);
  if (it == store_.end()) return {404, NotFoundStatus(r, name)};
  const json& old = it->second;
  if (TakeConflictLocked(key)) return {409, ConflictStatus(r, name)};
  std::string rv = MetaString(obj, "resourceVersion");
  if (!rv.empty() && rv != MetaString(old, "resourceVersion")) {
    return {409, ConflictStatus(r, name)};
  }
  return CommitUpdateLocked(r, key, ns, old, std::move(obj), status_only);
}

FakeApiServer::Reply FakeApiServer::HandlePatch(const httplib::Request& req, const ApiResource& r,
                                                const std::string& ns, const std::string& name,
                                                bool status_only) {
  std::string type = req.get_header_value("Content-Type");
  type = std::string(Trim(type.substr(0, type.find(';'))));
  const bool merge = type == "application/merge-patch+json";
  if (!merge && type != "application/json-patch+json") {
    return {415, FailureStatus(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted "
                               "media types include: application/json-patch+json, "
                               "application/merge-patch+json")};
  }
  json patch = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (patch.is_discarded()) return {400, BadRequestStatus("the patch is not valid JSON")};

  std::lock_guard<std::mutex> lock(mu_);
  Key key{r.qualified(), ns, name};
  auto it = store_.find(key);
  if (it == store_.end()) return {404, NotFoundStatus(r, name)};
  const json& old = it->second;
  if (TakeConflictLocked(key)) return {409, ConflictStatus(r, name)};
  Result<json> patched = merge ? ApplyMergePatch(old, patch) : ApplyJsonPatch(old, patch);
  if (!patched.ok()) {
    if (patched.status().code() == StatusCode::kInvalidArgument) {
      return {400, BadRequestStatus(patched.status().message())};
    }
    return {422, InvalidStatus(r, name, patched.status().message())};
  }
  json obj = std::move(patched).value();
  if (!obj.is_object() || (obj.contains("metadata") && !obj["metadata"].is_object())) {
    return {422, InvalidStatus(r, name, "the patched object is not a valid object")};
  }
  if (MetaString(obj, "name") != name || (r.namespaced && MetaString(obj, "namespace") != ns)) {
    return {400, BadRequestStatus("the patch changes metadata.name or metadata.namespace")};
  }
  // A resourceVersion left in the patched object is a precondition, which is how clients get
  // compare-and-swap from a patch.
  std::string rv = MetaString(obj, "resourceVersion");
  if (!rv.empty() && rv != MetaString(old, "resourceVersion")) {
    return {409, ConflictStatus(r, name)};
  }
  std::string uid = MetaString(obj, "uid");
  if (!uid.empty() && uid != MetaString(old, "uid")) {
    return {409, ConflictStatus(r, name,
                                "Precondition failed: UID in precondition: " + uid +
                                    ", UID in object meta: " + MetaString(old, "uid"))};
  }
  return CommitUpdateLocked(r, key, ns, old, std::move(obj), status_only);
}

FakeApiServer::Reply FakeApiServer::HandleDelete(const httplib::Request& req, const ApiResource& r,
                                                 const std::string& ns, const std::string& name) {
  json options = json::object();
  if (!req.body.empty()) {
    options = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (options.is_discarded() || !options.is_object()) {
      return {400, BadRequestStatus("DeleteOptions must be a JSON object")};
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  Key key{r.qualified(), ns, name};
  auto it = store_.find(key);
  if (it == store_.end()) return {404, NotFoundStatus(r, name)};
  if (options.contains("preconditions") && options["preconditions"].is_object()) {
    const json& pre = options["preconditions"];
    for (const char* field : {"uid", "resourceVersion"}) {
      if (!pre.contains(field) || !pre[field].is_string()) continue;
      std::string want = pre[field].get<std::string>();
      std::string have = MetaString(it->second, field);
      if (want != have) {
        const std::string label = field == std::string("uid") ? "UID" : "ResourceVersion";
        std::string why = "Precondition failed: ";
        why.append(label).append(" in precondition: ").append(want);
        why.append(", ").append(label).append(" in object meta: ").append(have);
        return {409, ConflictStatus(r, name, why)};
      }
    }
  }
  return {200, CommitLocked(r, key, nullptr)};
}

FakeApiServer::Reply FakeApiServer::HandleBinding(const httplib::Request& req,
                                                  const std::string& ns, const std::string& name) {
  const ApiResource& pods = *FindResource("pods");
  json error;
  std::optional<json> body = ParseObjectBody(req.body, &error);
  if (!body) return {400, error};
  const json& binding = *body;
  std::string body_name = MetaString(binding, "name");
  if (!body_name.empty() && body_name != name) {
    return {400, BadRequestStatus("name in URL does not match name in Binding object")};
  }
  const json target = binding.contains("target") ? binding["target"] : json::object();
  if (!target.is_object()) return {422, InvalidStatus(pods, name, "target: must be an object")};
  std::string target_kind = target.value("kind", std::string());
  std::string node = target.value("name", std::string());
  if (!target_kind.empty() && target_kind != "Node") {
    return {422, InvalidStatus(pods, name,
                               "target.kind: Unsupported value: \"" + target_kind +
                                   "\": supported values: \"Node\"")};
  }
  if (node.empty()) return {422, InvalidStatus(pods, name, "target.name: Required value")};

  std::lock_guard<std::mutex> lock(mu_);
  Key key{pods.qualified(), ns, name};
  auto it = store_.find(key);
  if (it == store_.end()) return {404, NotFoundStatus(pods, name)};
  json pod = it->second;
  std::string uid = MetaString(binding, "uid");
  if (!uid.empty() && uid != MetaString(pod, "uid")) {
    return {409, ConflictStatus(pods, name,
                                "Precondition failed: UID in precondition: " + uid +
                                    ", UID in object meta: " + MetaString(pod, "uid"))};
  }
  std::string rv = MetaString(binding, "resourceVersion");
  if (!rv.empty() && rv != MetaString(pod, "resourceVersion")) {
    return {409, ConflictStatus(pods, name)};
  }
  static constexpr ApiResource kBindingResource = {"", "v1", "pods/binding", "Binding",
                                                   "", true, false};
  if (!MetaString(pod, "deletionTimestamp").empty()) {
    return {409, ConflictStatus(kBindingResource, name,
                                "pod " + name + " is being deleted, cannot be assigned to a host")};
  }
  std::string bound = pod["spec"].is_object() ? pod["spec"].value("nodeName", std::string()) : "";
  if (!bound.empty()) {
    return {409, ConflictStatus(kBindingResource, name,
                                "pod " + name + " is already assigned to node \"" + bound + "\"")};
  }
  if (!pod["spec"].is_object()) pod["spec"] = json::object();
  pod["spec"]["nodeName"] = node;
  if (binding.contains("metadata") && binding["metadata"].contains("annotations") &&
      binding["metadata"]["annotations"].is_object()) {
    for (const auto& [k, v] : binding["metadata"]["annotations"].items()) {
      pod["metadata"]["annotations"][k] = v;
    }
  }
  if (!pod["status"].is_object()) pod["status"] = json::object();
  json& conditions = pod["status"]["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  json scheduled = {{"type", "PodScheduled"},
                    {"status", "True"},
                    {"lastProbeTime", nullptr},
                    {"lastTransitionTime", NowRfc3339()}};
  auto cond = std::find_if(conditions.begin(), conditions.end(), [](const json& c) {
    return c.is_object() && c.contains("type") && c["type"] == "PodScheduled";
  });
  if (cond == conditions.end()) {
    conditions.push_back(scheduled);
  } else {
    *cond = scheduled;
  }
  CommitLocked(pods, key, std::move(pod));
  return {201,
          {{"kind", "Status"},
           {"apiVersion", "v1"},
           {"metadata", json::object()},
           {"status", "Success"},
           {"code", 201}}};
}

}  // namespace hami::fakes
