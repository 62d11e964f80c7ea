// Fuzz target: pod device string decoder (§2.5).
// Properties: never crash; Decode(Encode(Decode(s))) == Decode(s); Encode is a fixed point on
// its own output; one container group decodes the same through both entry points.
#include <cstddef>
#include <cstdint>

#include "device/codec.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  hami::Result<hami::PodDevices> pod = hami::DecodePodDevices(text);
  if (pod.ok()) {
    const std::string canonical = hami::EncodePodDevices(*pod);
    hami::Result<hami::PodDevices> again = hami::DecodePodDevices(canonical);
    HAMI_FUZZ_CHECK(again.ok());
    HAMI_FUZZ_CHECK(*again == *pod);
    HAMI_FUZZ_CHECK(hami::EncodePodDevices(*again) == canonical);
    HAMI_FUZZ_CHECK(canonical.empty() || canonical.back() == ';');
  } else {
    HAMI_FUZZ_CHECK(!pod.status().message().empty());
  }
  hami::Result<hami::ContainerDevices> group = hami::DecodeContainerDevices(text);
  if (group.ok()) {
    const std::string encoded = hami::EncodeContainerDevices(*group);
    hami::Result<hami::ContainerDevices> again = hami::DecodeContainerDevices(encoded);
    HAMI_FUZZ_CHECK(again.ok() && *again == *group);
    // A single group is also a one-container pod string.
    hami::Result<hami::PodDevices> as_pod = hami::DecodePodDevices(encoded + ";");
    HAMI_FUZZ_CHECK(as_pod.ok() && as_pod->size() == 1 && (*as_pod)[0] == *group);
  }
  return 0;
}
