// FakeApiServer: watch streams and their control.
#include <httplib.h>

#include <algorithm>
#include <memory>

#include "tests/fakes/fake_apiserver.h"
#include "tests/fakes/fake_apiserver_internal.h"

namespace hami::fakes {

using internal::Clock;
using internal::Dump;
using internal::ParamTrue;
using internal::ParseRv;
using nlohmann::json;

namespace {
// How often an idle watch wakes to notice a hung-up client or a deadline.
constexpr auto kWatchPoll = std::chrono::milliseconds(50);
}  // namespace

void FakeApiServer::HandleWatch(const httplib::Request& req, httplib::Response& res,
                                const ApiResource& r, const std::string& ns) {
  auto fail = [&res](const json& status) {
    res.status = status["code"].get<int>();
    res.set_content(Dump(status), "application/json");
  };
  auto w = std::make_shared<WatchState>();
  w->resource = &r;
  w->ns = ns;
  Result<LabelSelector> labels = LabelSelector::Parse(req.get_param_value("labelSelector"));
  if (!labels.ok()) return fail(BadRequestStatus(labels.status().message()));
  Result<FieldSelector> fields = FieldSelector::Parse(req.get_param_value("fieldSelector"));
  if (!fields.ok()) return fail(BadRequestStatus(fields.status().message()));
  for (const std::string& f : fields->fields()) {
    if (!FieldSelectable(r, f)) return fail(BadRequestStatus("field label not supported: " + f));
  }
  w->labels = *labels;
  w->fields = *fields;
  const std::string rv_text = req.get_param_value("resourceVersion");
  std::optional<uint64_t> from;
  if (!rv_text.empty() && rv_text != "0") {
    from = ParseRv(rv_text);
    if (!from) return fail(BadRequestStatus("invalid resourceVersion " + QuoteForError(rv_text)));
  }
  if (req.has_param("timeoutSeconds")) {
    std::optional<int64_t> secs = ParseInt64(req.get_param_value("timeoutSeconds"));
    if (!secs || *secs < 0) return fail(BadRequestStatus("invalid timeoutSeconds"));
    if (*secs > 0) w->deadline = Clock::now() + std::chrono::seconds(*secs);
  }
  w->bookmarks = ParamTrue(req, "allowWatchBookmarks");
  {
    std::lock_guard<std::mutex> lock(mu_);
    w->bookmark_generation = bookmark_generation_;
    w->close_generation = close_generation_;
    if (w->bookmarks && options_.bookmark_interval.count() > 0) {
      w->next_bookmark = Clock::now() + options_.bookmark_interval;
    }
    if (!from) {
      // No resourceVersion (or "0"): the current state as synthetic ADDED events, then live.
      const std::string res_name = r.qualified();
      for (auto it = store_.lower_bound(Key{res_name, ns, ""});
           it != store_.end() && std::get<0>(it->first) == res_name; ++it) {
        if (!ns.empty() && std::get<1>(it->first) != ns) break;
        if (w->Selects(it->second)) {
          w->pending += Dump({{"type", "ADDED"}, {"object", it->second}}) + "\n";
        }
      }
      w->cursor = rv_;
    } else if (*from < compacted_rv_) {
      // The real server answers 200 and puts the 410 inside the stream.
      w->pending =
          Dump({{"type", "ERROR"}, {"object", ExpiredStatus(*from, compacted_rv_)}}) + "\n";
      w->end_after_pending = true;
    } else {
      w->cursor = *from;
    }
    ++active_watches_;
  }
  cv_.notify_all();
  res.status = 200;
  res.set_chunked_content_provider(
      "application/json",
      [this, w](size_t, httplib::DataSink& sink) { return WatchStep(*w, sink); },
      [this](bool) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          --active_watches_;
        }
        cv_.notify_all();
      });
}

bool FakeApiServer::WatchStep(WatchState& w, httplib::DataSink& sink) {
  std::string out;
  bool finish = false;
  bool drop = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!w.pending.empty() || w.end_after_pending) {
      out = std::move(w.pending);
      w.pending.clear();
      finish = w.end_after_pending;
    } else {
      auto wake = std::min({Clock::now() + kWatchPoll, w.deadline, w.next_bookmark});
      cv_.wait_until(lock, wake, [&] {
        return stopping_ || w.close_generation != close_generation_ ||
               (!history_.empty() && history_.back().rv > w.cursor) ||
               (w.bookmarks && w.bookmark_generation != bookmark_generation_);
      });
      const auto now = Clock::now();
      if (stopping_) {
        finish = true;
      } else if (w.close_generation != close_generation_) {
        drop = close_abrupt_;
        finish = true;
      } else if (w.cursor < compacted_rv_) {
        // Fell behind the history window while streaming.
        out = Dump({{"type", "ERROR"}, {"object", ExpiredStatus(w.cursor, compacted_rv_)}}) + "\n";
        finish = true;
      } else {
        out = RenderEventsLocked(w);
        const bool periodic = now >= w.next_bookmark;
        if (w.bookmarks && (periodic || w.bookmark_generation != bookmark_generation_)) {
          json bookmark = {{"kind", w.resource->kind},
                           {"apiVersion", w.resource->api_version()},
                           {"metadata", {{"resourceVersion", std::to_string(w.cursor)}}}};
          out += Dump({{"type", "BOOKMARK"}, {"object", bookmark}}) + "\n";
          w.bookmark_generation = bookmark_generation_;
          if (options_.bookmark_interval.count() > 0) {
            w.next_bookmark = now + options_.bookmark_interval;
          }
        }
        finish = now >= w.deadline;
      }
    }
  }
  // A client that went away is noticed here (httplib peeks at the socket), so its worker is
  // released even when no events flow.
  if (drop || !sink.is_writable()) return false;
  if (!out.empty() && !sink.write(out.data(), out.size())) return false;
  if (finish) sink.done();
  return true;
}

std::string FakeApiServer::RenderEventsLocked(WatchState& w) {
  std::string out;
  auto it = std::upper_bound(history_.begin(), history_.end(), w.cursor,
                             [](uint64_t rv, const Event& e) { return rv < e.rv; });
  for (; it != history_.end(); ++it) {
    const Event& e = *it;
    if (e.resource != w.resource) continue;
    // An object moving into or out of the selection is an ADDED or DELETED for this watch.
    const bool now_in = w.Selects(e.object);
    const bool was_in = !e.old_object.is_null() && w.Selects(e.old_object);
    const char* type = e.type;
    if (std::string_view(e.type) == "MODIFIED") {
      if (now_in && !was_in) type = "ADDED";
      if (!now_in && was_in) type = "DELETED";
      if (!now_in && !was_in) continue;
    } else if (!now_in) {
      continue;
    }
    out += Dump({{"type", type}, {"object", e.object}}) + "\n";
  }
  w.cursor = std::max(w.cursor, rv_);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Watch control

void FakeApiServer::Compact() {
  std::lock_guard<std::mutex> lock(mu_);
  history_.clear();
  compacted_rv_ = rv_;
  cv_.notify_all();
}

void FakeApiServer::SendBookmarks() {
  std::lock_guard<std::mutex> lock(mu_);
  ++bookmark_generation_;
  cv_.notify_all();
}

void FakeApiServer::CloseWatches(bool abrupt) {
  std::lock_guard<std::mutex> lock(mu_);
  ++close_generation_;
  close_abrupt_ = abrupt;
  cv_.notify_all();
}

int FakeApiServer::ActiveWatches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_watches_;
}

bool FakeApiServer::WaitForWatches(int count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return active_watches_ >= count; });
}

}  // namespace hami::fakes
