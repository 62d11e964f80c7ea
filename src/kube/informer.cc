#include "kube/informer.h"

#include <algorithm>
#include <exception>

#include "kube/objects.h"
#include "kube/paths.h"

namespace hami::kube {
namespace {

using nlohmann::json;

// A watch that ends this soon without delivering anything counts as a failure (backoff), so
// a server that closes watches at once cannot make us spin.
constexpr std::chrono::seconds kMinHealthyWatch{1};
// Extra client-side time over the server's timeoutSeconds before we give up on a watch.
constexpr std::chrono::seconds kWatchSlack{15};

bool IsGoneEvent(const json& status) {
  const json* code = FindPath(status, {"code"});
  if (code != nullptr && code->is_number_integer() && code->get<int64_t>() == 410) return true;
  std::string_view reason = StringAt(status, {"reason"});
  return reason == "Expired" || reason == "Gone";
}

}  // namespace

Informer::Informer(std::shared_ptr<KubeClient> client, InformerOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

Informer::~Informer() { Stop(); }

Status Informer::AddHandlers(InformerHandlers handlers) {
  if (started_.load()) {
    return FailedPrecondition("informer " + options_.path + ": handlers added after Start()");
  }
  handlers_.push_back(std::move(handlers));
  return Status::Ok();
}

void Informer::Start() {
  if (started_.exchange(true)) return;
  thread_ = std::thread([this] { Run(); });
}

void Informer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
  }
  cancel_.Cancel();
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Informer::HasSynced() const {
  std::lock_guard<std::mutex> lock(mu_);
  return synced_;
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return synced_; });
}

std::vector<Informer::ObjectPtr> Informer::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(store_.size());
  for (const auto& [key, object] : store_) out.push_back(object);
  return out;
}

Informer::ObjectPtr Informer::Get(std::string_view key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = store_.find(std::string(key));
  return it == store_.end() ? nullptr : it->second;
}

size_t Informer::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_.size();
}

std::string Informer::resource_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resource_version_;
}

Status Informer::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

void Informer::RecordError(const Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = status;
}

void Informer::Dispatch(const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    RecordError(Status(StatusCode::kInternal,
                       "informer " + options_.path + ": handler threw: " + e.what()));
  } catch (...) {
    RecordError(Status(StatusCode::kInternal, "informer " + options_.path + ": handler threw"));
  }
}

void Informer::BackoffWait(int failures) {
  auto delay = options_.backoff_base * (int64_t{1} << std::clamp(failures, 0, 20));
  delay = std::min<std::chrono::milliseconds>(delay, options_.backoff_max);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

Status Informer::ListAndReplace() {
  std::unordered_map<std::string, ObjectPtr> fresh;
  std::vector<std::string> order;  // keys in list order, so handlers see the server's order
  std::string list_rv;
  std::string continue_token;
  do {
    std::vector<std::pair<std::string, std::string>> query = {
        {"labelSelector", options_.label_selector},
        {"fieldSelector", options_.field_selector},
        {"limit", options_.page_size > 0 ? std::to_string(options_.page_size) : ""},
        {"continue", continue_token}};
    Result<json> page = client_->Get(WithQuery(options_.path, query), &cancel_);
    if (!page.ok()) return page.status();
    std::string_view kind = StringAt(*page, {"kind"});
    std::string item_kind;
    if (kind.size() > 4 && kind.substr(kind.size() - 4) == "List") {
      item_kind = std::string(kind.substr(0, kind.size() - 4));
    }
    std::string_view api_version = StringAt(*page, {"apiVersion"});
    const json* items = FindPath(*page, {"items"});
    if (items != nullptr && items->is_array()) {
      for (json& item : page->at("items")) {
        if (!item.is_object()) continue;
        // List items omit kind/apiVersion; fill them in so they look like watched objects.
        if (!item.contains("kind") && !item_kind.empty()) item["kind"] = item_kind;
        if (!item.contains("apiVersion") && !api_version.empty()) {
          item["apiVersion"] = std::string(api_version);
        }
        if (options_.transform) options_.transform(item);
        std::string key = ObjectKey(item);
        auto [it, inserted] = fresh.insert_or_assign(key, nullptr);
        it->second = std::make_shared<const json>(std::move(item));
        if (inserted) order.push_back(std::move(key));
      }
    }
    list_rv = std::string(StringAt(*page, {"metadata", "resourceVersion"}));
    continue_token = std::string(StringAt(*page, {"metadata", "continue"}));
  } while (!continue_token.empty() && !stopping_.load());
  if (stopping_.load()) return Status(StatusCode::kAborted, "informer stopping");

  // Reconcile: adds and updates in list order, then deletes of what vanished.
  std::vector<std::function<void()>> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& key : order) {
      const ObjectPtr& object = fresh[key];
      auto old = store_.find(key);
      if (old == store_.end()) {
        for (const auto& h : handlers_) {
          if (h.on_add) calls.emplace_back([&h, object] { h.on_add(*object); });
        }
      } else if (StringAt(*old->second, {"metadata", "resourceVersion"}) !=
                 StringAt(*object, {"metadata", "resourceVersion"})) {
        ObjectPtr before = old->second;
        for (const auto& h : handlers_) {
          if (h.on_update) {
            calls.emplace_back([&h, before, object] { h.on_update(*before, *object); });
          }
        }
      }
    }
    for (const auto& [key, object] : store_) {
      if (fresh.count(key) != 0) continue;
      ObjectPtr gone = object;
      for (const auto& h : handlers_) {
        if (h.on_delete) calls.emplace_back([&h, gone] { h.on_delete(*gone); });
      }
    }
    store_ = std::move(fresh);
    resource_version_ = list_rv;
  }
  lists_.fetch_add(1);  // before the handlers, so a handler-observed relist is counted
  for (const auto& call : calls) Dispatch(call);
  {
    std::lock_guard<std::mutex> lock(mu_);
    synced_ = true;
  }
  cv_.notify_all();
  return Status::Ok();
}

bool Informer::ApplyEvent(WatchEvent&& event, bool* gone, Status* error) {
  if (stopping_.load()) return false;
  if (event.type == "ERROR") {
    if (IsGoneEvent(event.object)) {
      *gone = true;
    } else {
      *error =
          Status(StatusCode::kUnavailable, "informer " + options_.path + ": watch error event: " +
                                               std::string(StringAt(event.object, {"message"})));
    }
    return false;
  }
  std::string rv(StringAt(event.object, {"metadata", "resourceVersion"}));
  if (event.type == "BOOKMARK") {
    std::lock_guard<std::mutex> lock(mu_);
    if (!rv.empty()) resource_version_ = rv;
    return true;
  }
  if (event.type != "ADDED" && event.type != "MODIFIED" && event.type != "DELETED") return true;
  if (options_.transform) options_.transform(event.object);
  std::string key = ObjectKey(event.object);
  auto object = std::make_shared<const json>(std::move(event.object));
  ObjectPtr before;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = store_.find(key);
    if (it != store_.end()) before = it->second;
    if (event.type == "DELETED") {
      if (it != store_.end()) store_.erase(it);
    } else {
      store_[key] = object;
    }
    if (!rv.empty()) resource_version_ = rv;
  }
  for (const auto& h : handlers_) {
    if (event.type == "DELETED") {
      if (before && h.on_delete) Dispatch([&] { h.on_delete(*object); });
    } else if (before) {
      if (h.on_update) Dispatch([&] { h.on_update(*before, *object); });
    } else if (h.on_add) {
      Dispatch([&] { h.on_add(*object); });
    }
  }
  return true;
}

void Informer::Run() {
  int failures = 0;
  bool need_list = true;
  while (!stopping_.load()) {
    if (need_list) {
      Status listed = ListAndReplace();
      if (stopping_.load()) break;
      if (!listed.ok()) {
        RecordError(listed);
        BackoffWait(failures++);
        continue;
      }
      need_list = false;
    }
    std::string path = WithQuery(
        options_.path, {{"watch", "true"},
                        {"resourceVersion", resource_version()},
                        {"allowWatchBookmarks", "true"},
                        {"timeoutSeconds", std::to_string(options_.watch_timeout.count())},
                        {"labelSelector", options_.label_selector},
                        {"fieldSelector", options_.field_selector}});
    bool gone = false;
    Status event_error;
    size_t events = 0;
    auto started = std::chrono::steady_clock::now();
    watches_.fetch_add(1);
    Status watched = client_->Watch(
        path,
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.watch_timeout + kWatchSlack),
        [&](WatchEvent&& event) {
          ++events;
          return ApplyEvent(std::move(event), &gone, &event_error);
        },
        &cancel_);
    if (stopping_.load()) break;
    if (events > 0) failures = 0;  // the server was healthy for a while
    if (gone || watched.code() == StatusCode::kGone) {
      // The version expired: relist now; back off only if that keeps happening.
      if (failures > 0) BackoffWait(failures - 1);
      ++failures;
      need_list = true;
      continue;
    }
    if (!event_error.ok() || !watched.ok()) {
      RecordError(!watched.ok() ? watched : event_error);
      BackoffWait(failures++);
      continue;
    }
    bool healthy = events > 0 || std::chrono::steady_clock::now() - started >= kMinHealthyWatch;
    if (healthy) {
      failures = 0;
    } else {
      BackoffWait(failures++);
    }
  }
}

}  // namespace hami::kube
