// A scripted HttpTransport for client and informer unit tests: answers come from a queue,
// every request is recorded. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kube/http.h"

namespace hami::kube::testing {

struct ScriptedReply {
  Status transport_error;  // not OK: the transport fails with it
  HttpResponse response;
  std::vector<std::string> chunks;  // for Stream(): the 2xx body, piece by piece
  bool hold_open = false;           // for Stream(): after the chunks, wait for cancel
};

class ScriptedTransport : public HttpTransport {
 public:
  void Push(ScriptedReply reply) {
    std::lock_guard<std::mutex> lock(mu_);
    replies_.push_back(std::move(reply));
  }
  void PushJson(int status, const nlohmann::json& body,
                std::map<std::string, std::string> headers = {}) {
    ScriptedReply reply;
    reply.response.status = status;
    reply.response.body = body.dump();
    reply.response.headers = std::move(headers);
    Push(std::move(reply));
  }
  void PushError(StatusCode code, std::string message = "scripted transport failure") {
    ScriptedReply reply;
    reply.transport_error = Status(code, std::move(message));
    Push(std::move(reply));
  }
  void PushStream(std::vector<std::string> chunks, bool hold_open = false, int status = 200) {
    ScriptedReply reply;
    reply.response.status = status;
    reply.chunks = std::move(chunks);
    reply.hold_open = hold_open;
    Push(std::move(reply));
  }

  std::vector<HttpRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  size_t remaining() const {
    std::lock_guard<std::mutex> lock(mu_);
    return replies_.size();
  }

  Result<HttpResponse> Request(const HttpRequest& request) override {
    ScriptedReply reply = Next(request);
    if (!reply.transport_error.ok()) return reply.transport_error;
    return reply.response;
  }

  // With an empty script, a stream stays open until cancelled (an idle watch).
  Result<HttpResponse> Stream(const HttpRequest& request, const ChunkCallback& on_chunk) override {
    ScriptedReply reply = Next(request, /*idle_when_empty=*/true);
    if (!reply.transport_error.ok()) return reply.transport_error;
    HttpResponse response = reply.response;
    if (response.status < 200 || response.status >= 300) return response;
    for (const std::string& chunk : reply.chunks) {
      if (!on_chunk(chunk)) return response;
    }
    if (reply.hold_open && request.cancel != nullptr) {
      std::mutex mu;
      std::condition_variable cv;
      bool woken = false;
      uint64_t id = request.cancel->Register([&] {
        std::lock_guard<std::mutex> lock(mu);
        woken = true;
        cv.notify_all();
      });
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return woken; });
      }
      request.cancel->Unregister(id);
    }
    return response;
  }

 private:
  ScriptedReply Next(const HttpRequest& request, bool idle_when_empty = false) {
    std::lock_guard<std::mutex> lock(mu_);
    HttpRequest copy = request;
    copy.cancel = nullptr;
    requests_.push_back(std::move(copy));
    if (replies_.empty()) {
      ScriptedReply reply;
      if (idle_when_empty) {
        reply.response.status = 200;
        reply.hold_open = true;
      } else {
        reply.transport_error =
            Status(StatusCode::kUnavailable, "script exhausted: " + request.url);
      }
      return reply;
    }
    ScriptedReply reply = std::move(replies_.front());
    replies_.pop_front();
    return reply;
  }

  mutable std::mutex mu_;
  std::deque<ScriptedReply> replies_;
  std::vector<HttpRequest> requests_;
};

}  // namespace hami::kube::testing
