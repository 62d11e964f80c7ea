#include "kube/api_error.h"

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace hami::kube {

Status StatusFromResponse(std::string_view method, std::string_view path,
                          const HttpResponse& response) {
  const int code = response.status;
  if (code >= 200 && code < 300) return Status::Ok();
  std::string reason;
  std::string message;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object() && body.value("kind", "") == "Status") {
    if (auto it = body.find("reason"); it != body.end() && it->is_string()) {
      reason = it->get<std::string>();
    }
    if (auto it = body.find("message"); it != body.end() && it->is_string()) {
      message = it->get<std::string>();
    }
  } else {
    message = QuoteForError(Trim(response.body), 300);
  }
  StatusCode status_code = StatusCode::kInternal;
  switch (code) {
    case 400:
    case 422:
      status_code = StatusCode::kInvalidArgument;
      break;
    case 401:
      status_code = StatusCode::kUnauthenticated;
      break;
    case 403:
      status_code = StatusCode::kPermissionDenied;
      break;
    case 404:
      status_code = StatusCode::kNotFound;
      break;
    case 409:
      status_code = reason == "AlreadyExists" ? StatusCode::kAlreadyExists : StatusCode::kConflict;
      break;
    case 410:
      status_code = StatusCode::kGone;
      break;
    case 504:
      status_code = StatusCode::kDeadlineExceeded;
      break;
    default:
      if (code == 429 || code >= 500) status_code = StatusCode::kUnavailable;
      break;
  }
  if (reason == "Timeout") status_code = StatusCode::kDeadlineExceeded;
  std::string text =
      std::string(method) + " " + std::string(path) + ": HTTP " + std::to_string(code);
  if (!reason.empty()) text += " " + reason;
  if (!message.empty()) text += ": " + message;
  return Status(status_code, std::move(text));
}

}  // namespace hami::kube
