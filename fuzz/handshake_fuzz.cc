// Fuzz target: handshake values (§1.3) and the Go DateTime parser under them.
// Properties: never crash; a value with a parsed time re-encodes to one that parses to the
// same {kind, time}; the expiry test never overflows.
#include <cstddef>
#include <cstdint>
#include <limits>

#include "device/codec.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  for (int32_t offset : {0, 8 * 3600, -(9 * 3600 + 1800)}) {
    const hami::Handshake h = hami::ParseHandshake(text, offset);
    if (h.kind == hami::HandshakeKind::kNone) {
      HAMI_FUZZ_CHECK(!h.unix_seconds.has_value());
      continue;
    }
    for (int64_t now :
         {std::numeric_limits<int64_t>::min(), int64_t{0}, std::numeric_limits<int64_t>::max()}) {
      (void)hami::HandshakeRequestExpired(h, now);
    }
    if (!h.unix_seconds) {
      continue;
    }
    const std::string encoded = hami::EncodeHandshake(h.kind, *h.unix_seconds, offset);
    const hami::Handshake again = hami::ParseHandshake(encoded, offset);
    HAMI_FUZZ_CHECK(again == h);
  }
  return 0;
}
