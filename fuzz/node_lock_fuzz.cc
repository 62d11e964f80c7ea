// Fuzz target: node lock values (§3.7) and the RFC 3339 parser under them.
// Properties: never crash; a parsed lock re-encodes (in UTC and in a fuzz-chosen zone) to a value
// that parses to the same lock; the owner test accepts the lock's own owner.
#include <cstddef>
#include <cstdint>

#include "device/codec.h"
#include "device/time_format.h"
#include "fuzz_check.h"

namespace {
// 0000-01-02T00:00:00Z and 9999-12-30T23:59:59Z: a day of margin for any zone offset.
constexpr int64_t kMinSafe = -62167219200 + 86400;
constexpr int64_t kMaxSafe = 253402300799 - 86400;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  hami::Result<hami::NodeLock> lock = hami::ParseNodeLock(text);
  if (!lock.ok()) {
    HAMI_FUZZ_CHECK(!lock.status().message().empty());
    return 0;
  }
  if (!lock->legacy) {
    HAMI_FUZZ_CHECK(hami::NodeLockValueOwnedBy(text, lock->ns, lock->name));
  }
  if (lock->unix_seconds < kMinSafe || lock->unix_seconds > kMaxSafe) {
    return 0;
  }
  // Whole-minute offsets in (-24h, 24h), derived from the input so they vary.
  int32_t minutes = 0;
  for (size_t i = 0; i < size; ++i) {
    minutes = (minutes * 31 + data[i]) % (24 * 60);
  }
  for (int32_t offset : {0, minutes * 60, -minutes * 60}) {
    const std::string encoded = hami::EncodeNodeLock(*lock, offset);
    hami::Result<hami::NodeLock> again = hami::ParseNodeLock(encoded);
    HAMI_FUZZ_CHECK(again.ok());
    HAMI_FUZZ_CHECK(*again == *lock);
  }
  return 0;
}
