#include "vgpu/status.h"

#include <cstdarg>
#include <cstdio>

namespace hami::vgpu {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kOutOfMemory:
      return "out_of_memory";
    case Code::kNoFreeSlot:
      return "no_free_slot";
    case Code::kCorrupt:
      return "corrupt";
    case Code::kIoError:
      return "io_error";
    case Code::kTimeout:
      return "timeout";
  }
  return "unknown";
}

Status Status::Error(Code code, const char* format, ...) {
  Status s;
  s.code_ = code == Code::kOk ? Code::kInvalidArgument : code;  // an error is never OK
  va_list args;
  va_start(args, format);
  int n = std::vsnprintf(s.message_, sizeof(s.message_), format, args);
  va_end(args);
  if (n < 0) s.message_[0] = '\0';
  return s;
}

}  // namespace hami::vgpu
