// Status and Result<T>: errors as values across module boundaries.
//
// A Status is either OK or carries a code and a human-readable message meant to be shown to
// an operator as-is (it should say what was wrong and where). Result<T> holds a T or a non-OK
// Status. Both are cheap to move, thread-compatible (no internal synchronisation).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace hami {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // malformed input (annotation, file, flag)
  kNotFound,
  kFailedPrecondition,
  kResourceExhausted,  // does not fit
  kUnavailable,  // transient: server overloaded or unreachable, request not applied; retry
  kInternal,
  kConflict,          // optimistic-concurrency failure (stale resourceVersion); re-read and retry
  kAlreadyExists,     // create of an object that exists
  kGone,              // resourceVersion too old (watch/list expired); relist
  kDeadlineExceeded,  // timed out; the operation may or may not have been applied
  kAborted,           // connection lost after the request was sent; outcome unknown
  kPermissionDenied,  // authenticated but not allowed (HTTP 403)
  kUnauthenticated,   // missing or rejected credentials (HTTP 401)
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>" (used to add file/line or field).
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}
inline Status NotFound(std::string message) {
  return Status(StatusCode::kNotFound, std::move(message));
}
inline Status FailedPrecondition(std::string message) {
  return Status(StatusCode::kFailedPrecondition, std::move(message));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!status_.ok() && "Result constructed from an OK status without a value");
    if (status_.ok()) status_ = Status(StatusCode::kInternal, "Result built from OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace hami

#define HAMI_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::hami::Status hami_status_ = (expr);        \
    if (!hami_status_.ok()) return hami_status_; \
  } while (0)

#define HAMI_STATUS_CONCAT_INNER_(a, b) a##b
#define HAMI_STATUS_CONCAT_(a, b) HAMI_STATUS_CONCAT_INNER_(a, b)
// Evaluates `expr` (a Result<T>); on error returns its Status from the enclosing function,
// else moves the value into `lhs` (which may be a declaration: `auto x`).
#define HAMI_ASSIGN_OR_RETURN(lhs, expr) \
  HAMI_ASSIGN_OR_RETURN_IMPL_(HAMI_STATUS_CONCAT_(hami_result_, __LINE__), lhs, expr)
// `result` is an identifier and `lhs` may be a declaration: neither can be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define HAMI_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                                \
  if (!result.ok()) return result.status();            \
  lhs = std::move(result).value()
// NOLINTEND(bugprone-macro-parentheses)
