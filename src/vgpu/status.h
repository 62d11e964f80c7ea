// Status and Result<T> for libvgpu's core (hami_vgpu).
//
// libvgpu is built without exceptions and must not depend on src/common, so it carries its own
// small error type. A Status is OK or carries a Code and a human-readable message meant to be
// logged as-is. The message lives in a fixed buffer: building, copying or returning a Status never
// allocates, so it is usable on allocation paths, after fork() in a child and from code that must
// not call malloc. Messages longer than the buffer are truncated (never overflowed).
//
// Thread-compatible (no internal synchronisation); cheap enough to return by value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

namespace hami::vgpu {

enum class Code : uint8_t {
  kOk = 0,
  kInvalidArgument,  // bad device index, malformed value
  kOutOfMemory,      // a charge was refused: it would take usage past the limit
  kNoFreeSlot,       // every process slot of the shared region is held by a live process
  kCorrupt,          // the shared-region file is truncated, foreign or inconsistent
  kIoError,          // a system call (open, ftruncate, mmap, fcntl) failed; errno in the message
  kTimeout,          // a bounded wait expired
};

// Short stable name of a code ("ok", "out_of_memory", ...), for key=value logs.
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  static constexpr size_t kMaxMessage = 240;  // bytes, including the terminating NUL

  Status() { message_[0] = '\0'; }
  static Status Ok() { return Status(); }
  // printf-style message; truncated to kMaxMessage - 1 characters.
  static Status Error(Code code, const char* format, ...) __attribute__((format(printf, 2, 3)));

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // NUL-terminated; "" for OK. Valid as long as this Status lives.
  const char* message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  char message_[kMaxMessage];
};

// A T or a non-OK Status. T may be move-only.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}     // NOLINT(google-explicit-constructor)
  Result(const Status& status) : status_(status) {  // NOLINT(google-explicit-constructor)
    if (status_.ok())
      status_ = Status::Error(Code::kInvalidArgument, "Result built from OK status");
  }

  bool ok() const { return value_.has_value(); }
  // OK when a value is held.
  const Status& status() const { return status_; }

  // Precondition: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace hami::vgpu
