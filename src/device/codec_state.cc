// Small state values kept in annotations: handshake (§1.3), node lock (§3.7), bind phase (§2.4).
#include <string>

#include "common/strings.h"
#include "device/codec.h"
#include "device/time_format.h"

namespace hami {

std::string EncodeHandshake(HandshakeKind kind, int64_t unix_seconds, int32_t utc_offset_seconds) {
  const char* prefix = nullptr;
  switch (kind) {
    case HandshakeKind::kRequesting:
      prefix = "Requesting_";
      break;
    case HandshakeKind::kReported:
      prefix = "Reported_";
      break;
    case HandshakeKind::kDeleted:
      prefix = "Deleted_";
      break;
    case HandshakeKind::kNone:
      return "";
  }
  return prefix + FormatGoDateTime(unix_seconds, utc_offset_seconds);
}

Handshake ParseHandshake(std::string_view value, int32_t utc_offset_seconds) {
  Handshake h;
  if (value.find("Requesting") != std::string_view::npos) {
    h.kind = HandshakeKind::kRequesting;
  } else if (value.find("Deleted") != std::string_view::npos) {
    h.kind = HandshakeKind::kDeleted;
  } else if (value.find("Reported") != std::string_view::npos) {
    h.kind = HandshakeKind::kReported;
  } else {
    return h;
  }
  // HAMi takes strings.Split(value, "_")[1]: the text between the first and second '_'.
  std::vector<std::string_view> parts = Split(value, '_');
  if (parts.size() >= 2) {
    h.unix_seconds = ParseGoDateTime(parts[1], utc_offset_seconds);
  }
  return h;
}

bool HandshakeRequestExpired(const Handshake& h, int64_t now_unix_seconds) {
  if (h.kind != HandshakeKind::kRequesting || !h.unix_seconds) {
    return false;
  }
  // now >= ts + grace, rearranged so that neither side can overflow.
  int64_t latest_fresh = 0;
  if (__builtin_sub_overflow(now_unix_seconds, kHandshakeGraceSeconds, &latest_fresh)) {
    return false;  // now is near INT64_MIN: nothing can be older than that
  }
  return latest_fresh >= *h.unix_seconds;
}

std::string EncodeNodeLock(const NodeLock& lock, int32_t utc_offset_seconds) {
  std::string out = FormatRfc3339(lock.unix_seconds, utc_offset_seconds);
  if (lock.legacy) {
    return out;
  }
  out.push_back(',');
  out += lock.ns;
  out.push_back(',');
  out += lock.name;
  return out;
}

Result<NodeLock> ParseNodeLock(std::string_view value) {
  NodeLock lock;
  std::vector<std::string_view> parts = Split(value, ',');
  if (parts.size() != 1 && parts.size() != 3) {
    return InvalidArgument("node lock " + QuoteForError(value) + " has " +
                           std::to_string(parts.size()) +
                           " comma-separated fields, want 3 (<RFC3339 time>,<namespace>,<pod>) "
                           "or 1 (legacy bare time)");
  }
  Result<int64_t> t = ParseRfc3339(parts[0]);
  if (!t.ok()) {
    return t.status().WithContext("node lock " + QuoteForError(value));
  }
  lock.unix_seconds = *t;
  if (parts.size() == 1) {
    lock.legacy = true;
    return lock;
  }
  if (parts[1].empty() || parts[2].empty()) {
    return InvalidArgument("node lock " + QuoteForError(value) +
                           " has an empty owner namespace or pod name");
  }
  lock.ns = std::string(parts[1]);
  lock.name = std::string(parts[2]);
  return lock;
}

bool NodeLockValueOwnedBy(std::string_view value, std::string_view ns, std::string_view name) {
  std::string suffix = ",";
  suffix += ns;
  suffix.push_back(',');
  suffix += name;
  return value.size() >= suffix.size() && value.substr(value.size() - suffix.size()) == suffix;
}

std::string_view BindPhaseName(BindPhase phase) {
  switch (phase) {
    case BindPhase::kAllocating:
      return "allocating";
    case BindPhase::kSuccess:
      return "success";
    case BindPhase::kFailed:
      return "failed";
  }
  return "failed";  // unreachable for valid enum values
}

Result<BindPhase> ParseBindPhase(std::string_view value) {
  for (BindPhase p : {BindPhase::kAllocating, BindPhase::kSuccess, BindPhase::kFailed}) {
    if (value == BindPhaseName(p)) {
      return p;
    }
  }
  return InvalidArgument("bind phase " + QuoteForError(value) +
                         " is not one of allocating, success, failed");
}

}  // namespace hami
