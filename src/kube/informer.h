// Informer: a watch cache for one kind of object (one collection path plus selectors).
//
// It LISTs (paged), then WATCHes from the list's resourceVersion with bookmarks, keeping a
// store keyed by ObjectKey ("ns/name" or "name") and calling handlers for every change. On an
// expired resourceVersion (HTTP 410 or a watch ERROR event with code 410) it relists and
// reconciles the store against the fresh list: objects that vanished get a (synthetic)
// delete, changed ones an update, new ones an add. When a watch ends normally (the server's
// timeoutSeconds) it re-watches from the last seen resourceVersion at once; after a network or
// server error it backs off (exponential, capped) and re-watches, relisting only if the server
// says the version is gone.
//
// Threading: Start() runs one background thread that does all I/O and calls all handlers, in
// event order, never concurrently with each other and never with the store lock held (a
// handler may call Get/Snapshot). Store reads (Get, Snapshot, size, HasSynced) are
// thread-safe from any thread. Stop() is prompt (it cancels the in-flight request) and joins;
// it must not be called from a handler. Handlers must not throw (an exception is caught and
// recorded as last_error()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "kube/client.h"
#include "kube/http.h"

namespace hami::kube {

struct InformerOptions {
  std::string path;  // collection path, e.g. PodsPath("") for all pods, NodesPath()
  std::string label_selector;
  std::string field_selector;
  // Server-side bound of one watch (timeoutSeconds); the client waits a little longer.
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds backoff_base{250};  // after an error; doubles per failure
  std::chrono::milliseconds backoff_max{30000};
  int64_t page_size = 500;  // LIST limit per page (continue tokens); 0 = one request
  // Applied to every listed or watched object before it is stored and handed to handlers
  // (client-go's SetTransform): drop what the consumer never reads, so a cache of 50,000
  // pods holds only what scheduling needs. Must keep metadata name/namespace/resourceVersion.
  std::function<void(nlohmann::json& object)> transform;
};

struct InformerHandlers {
  std::function<void(const nlohmann::json& object)> on_add;
  std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)> on_update;
  // The object's final state: from the DELETED event, or the last cached copy for a delete
  // discovered by a relist.
  std::function<void(const nlohmann::json& last_state)> on_delete;
};

class Informer {
 public:
  using ObjectPtr = std::shared_ptr<const nlohmann::json>;

  // `client` is shared; it must not be destroyed while the informer runs (the shared_ptr
  // guarantees that).
  Informer(std::shared_ptr<KubeClient> client, InformerOptions options);
  ~Informer();  // Stop()s
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Registers handlers; only before Start() (FailedPrecondition after), so every handler sees
  // every event from the initial list on.
  Status AddHandlers(InformerHandlers handlers);

  // Starts the background thread. Calling it twice is a no-op.
  void Start();
  // Cancels the in-flight request, wakes any backoff, joins the thread. Idempotent. The store
  // keeps its last contents.
  void Stop();

  // True once the first LIST has been applied and its add handlers have run; stays true.
  bool HasSynced() const;
  // Blocks until HasSynced() or `timeout`; returns HasSynced().
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  // Copies of the pointers to the cached objects (the objects themselves are immutable).
  std::vector<ObjectPtr> Snapshot() const;
  // The cached object, or nullptr.
  ObjectPtr Get(std::string_view key) const;
  size_t size() const;

  // The resourceVersion the next watch resumes from.
  std::string resource_version() const;
  uint64_t lists_total() const { return lists_.load(); }      // successful LISTs
  uint64_t watches_total() const { return watches_.load(); }  // watch requests opened
  Status last_error() const;  // the most recent failure, OK if none yet

 private:
  void Run();
  Status ListAndReplace();
  // Applies one watch event; sets *gone on an expired-version ERROR event. Returns false to
  // end the stream.
  bool ApplyEvent(WatchEvent&& event, bool* gone, Status* error);
  void BackoffWait(int failures);
  void RecordError(const Status& status);
  void Dispatch(const std::function<void()>& call);

  const std::shared_ptr<KubeClient> client_;
  const InformerOptions options_;
  std::vector<InformerHandlers> handlers_;  // fixed once started

  CancelToken cancel_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::atomic<bool> started_{false};

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;                // sync and stop notifications
  std::unordered_map<std::string, ObjectPtr> store_;  // guarded by mu_
  std::string resource_version_;                      // guarded by mu_
  bool synced_ = false;                               // guarded by mu_
  Status last_error_;                                 // guarded by mu_
  std::atomic<uint64_t> lists_{0};
  std::atomic<uint64_t> watches_{0};
};

}  // namespace hami::kube
