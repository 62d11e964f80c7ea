// FakeApiServer: the store, direct access for tests, fault injection and request accounting.
#include <algorithm>
#include <utility>

#include "tests/fakes/api_resources.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/fake_apiserver_internal.h"

namespace hami::fakes {

using internal::Clock;
using internal::MetaString;
using nlohmann::json;

json FakeApiServer::CommitLocked(const ApiResource& r, const Key& key, json object) {
  ++rv_;
  ++generation_;
  auto it = store_.find(key);
  Event e{rv_, "ADDED", &r, nullptr, nullptr};
  if (object.is_null()) {
    e.type = "DELETED";
    e.object = std::move(it->second);
    e.object["metadata"]["resourceVersion"] = std::to_string(rv_);
    store_.erase(it);
  } else {
    object["metadata"]["resourceVersion"] = std::to_string(rv_);
    if (it != store_.end()) {
      e.type = "MODIFIED";
      e.old_object = std::move(it->second);
      it->second = object;
    } else {
      store_.emplace(key, object);
    }
    e.object = std::move(object);
  }
  json result = e.object;
  history_.push_back(std::move(e));
  while (history_.size() > options_.history_limit) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
  cv_.notify_all();
  return result;
}

bool FakeApiServer::TakeConflictLocked(const Key& key) {
  auto it = conflicts_.find(key);
  if (it == conflicts_.end()) return false;
  if (--it->second <= 0) conflicts_.erase(it);
  return true;
}

std::string FakeApiServer::NewUidLocked() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string uid;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) uid += '-';
    uid += kHex[rng_() % 16];
  }
  return uid;
}

Result<json> FakeApiServer::Put(json object) {
  if (!object.is_object()) return InvalidArgument("Put: object must be a JSON object");
  const ApiResource* r = object.contains("kind") && object["kind"].is_string()
                             ? FindResource(object["kind"].get<std::string>())
                             : nullptr;
  if (r == nullptr) return InvalidArgument("Put: missing or unserved kind");
  std::string name = MetaString(object, "name");
  if (name.empty()) return InvalidArgument("Put: metadata.name is required");
  std::string ns = r->namespaced ? MetaString(object, "namespace") : "";
  if (r->namespaced && ns.empty()) ns = "default";
  json& meta = object["metadata"];
  if (r->namespaced) meta["namespace"] = ns;
  object["kind"] = r->kind;
  object["apiVersion"] = r->api_version();
  std::lock_guard<std::mutex> lock(mu_);
  Key key{r->qualified(), ns, name};
  auto it = store_.find(key);
  for (const char* field : {"uid", "creationTimestamp"}) {
    if (!MetaString(object, field).empty()) continue;
    if (it != store_.end() && !MetaString(it->second, field).empty()) {
      meta[field] = it->second["metadata"][field];
    } else {
      meta[field] = std::string(field) == "uid" ? NewUidLocked() : NowRfc3339();
    }
  }
  return CommitLocked(*r, key, std::move(object));
}

std::optional<json> FakeApiServer::Get(std::string_view resource, std::string_view ns,
                                       std::string_view name) const {
  const ApiResource* r = FindResource(resource);
  if (r == nullptr) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it =
      store_.find(Key{r->qualified(), r->namespaced ? std::string(ns) : "", std::string(name)});
  if (it == store_.end()) return std::nullopt;
  return it->second;
}

Status FakeApiServer::Delete(std::string_view resource, std::string_view ns,
                             std::string_view name) {
  const ApiResource* r = FindResource(resource);
  if (r == nullptr) return InvalidArgument("unserved resource " + QuoteForError(resource));
  std::lock_guard<std::mutex> lock(mu_);
  Key key{r->qualified(), r->namespaced ? std::string(ns) : "", std::string(name)};
  if (store_.count(key) == 0) return NotFound(r->qualified() + " \"" + std::string(name) + "\"");
  CommitLocked(*r, key, nullptr);
  return Status::Ok();
}

std::vector<json> FakeApiServer::List(std::string_view resource, std::string_view ns) const {
  std::vector<json> out;
  const ApiResource* r = FindResource(resource);
  if (r == nullptr) return out;
  const std::string res_name = r->qualified();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = store_.lower_bound(Key{res_name, std::string(ns), ""});
       it != store_.end() && std::get<0>(it->first) == res_name; ++it) {
    if (!ns.empty() && std::get<1>(it->first) != ns) break;
    out.push_back(it->second);
  }
  return out;
}

uint64_t FakeApiServer::ResourceVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rv_;
}

bool FakeApiServer::WaitUntil(const std::function<bool()>& pred,
                              std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen = generation_;
    }
    if (pred()) return true;
    std::unique_lock<std::mutex> lock(mu_);
    // Also wake now and then: `pred` may depend on things outside the store.
    auto wake = std::min(deadline, Clock::now() + std::chrono::milliseconds(10));
    cv_.wait_until(lock, wake, [&] { return generation_ != seen; });
    if (Clock::now() >= deadline) {
      lock.unlock();
      return pred();
    }
  }
}

std::optional<json> FakeApiServer::WaitForObject(std::string_view resource, std::string_view ns,
                                                 std::string_view name,
                                                 const std::function<bool(const json&)>& pred,
                                                 std::chrono::milliseconds timeout) const {
  std::optional<json> found;
  WaitUntil(
      [&] {
        found = Get(resource, ns, name);
        return found && pred(*found);
      },
      timeout);
  if (found && pred(*found)) return found;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Faults and accounting

void FakeApiServer::InjectFault(InjectedFault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fault.count != 0) faults_.push_back(std::move(fault));
}

void FakeApiServer::FailNext(int count, int http_code, std::string verb,
                             std::string path_substring) {
  InjectedFault f;
  f.count = count;
  f.http_code = http_code;
  f.verb = std::move(verb);
  f.path_substring = std::move(path_substring);
  InjectFault(std::move(f));
}

void FakeApiServer::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
  conflicts_.clear();
  latency_ = Latency{};
}

void FakeApiServer::SetLatency(std::chrono::milliseconds latency, std::string verb,
                               std::string path_substring) {
  std::lock_guard<std::mutex> lock(mu_);
  latency_ = Latency{latency, std::move(verb), std::move(path_substring)};
}

void FakeApiServer::InjectConflict(std::string_view resource, std::string_view ns,
                                   std::string_view name, int count) {
  const ApiResource* r = FindResource(resource);
  if (r == nullptr || count <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  conflicts_[Key{r->qualified(), r->namespaced ? std::string(ns) : "", std::string(name)}] += count;
}

std::vector<RequestRecord> FakeApiServer::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int FakeApiServer::RequestCount(std::string_view verb, std::string_view path_substring) const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(), [&](const auto& r) {
    return (verb.empty() || r.verb == verb) && r.path.find(path_substring) != std::string::npos;
  }));
}

void FakeApiServer::ClearRequests() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.clear();
}

}  // namespace hami::fakes
