// Fuzz target: the hami.io/vgpu-mig-allocations decoder and AttachMigAllocations.
// Properties: never crash; whatever decodes re-encodes to a string that decodes to the same
// entries (when strings are valid UTF-8); attaching decoded entries to a pod device string
// either fails with a message or leaves every device's MIG fields as the entries say, and
// MigAllocationsOf gives back exactly the entries (ordered by container, then device).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "device/codec.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  hami::Result<std::vector<hami::MigAllocation>> entries = hami::DecodeMigAllocations(text);
  if (!entries.ok()) {
    HAMI_FUZZ_CHECK(!entries.status().message().empty());
    return 0;
  }
  bool utf8 = true;
  for (const hami::MigAllocation& a : *entries) {
    utf8 = utf8 && hami::fuzz::IsValidUtf8(a.gpu_uuid) && hami::fuzz::IsValidUtf8(a.profile) &&
           hami::fuzz::IsValidUtf8(a.mig_uuid);
  }
  if (utf8) {
    const std::string json = hami::EncodeMigAllocations(*entries);
    auto again = hami::DecodeMigAllocations(json);
    HAMI_FUZZ_CHECK(again.ok() && *again == *entries);
    HAMI_FUZZ_CHECK(hami::EncodeMigAllocations(*again) == json);
  }
  // A pod with two containers of two devices each, on GPUs named like the entries' first one.
  const std::string gpu = entries->empty() ? "GPU-x" : (*entries)[0].gpu_uuid;
  hami::PodDevices pod = {{{gpu, "NVIDIA", 1, 1}, {gpu, "NVIDIA", 1, 1}},
                          {{gpu, "NVIDIA", 1, 1}, {gpu, "NVIDIA", 1, 1}}};
  const hami::PodDevices before = pod;
  hami::Status attached = hami::AttachMigAllocations(*entries, &pod);
  if (!attached.ok()) {
    HAMI_FUZZ_CHECK(!attached.message().empty());
    return 0;
  }
  std::vector<hami::MigAllocation> expected;
  for (const hami::MigAllocation& a : *entries) {
    hami::MigAllocation scheduled = a;
    scheduled.mig_uuid.clear();
    scheduled.gpu_instance_id.reset();
    scheduled.compute_instance_id.reset();
    expected.push_back(scheduled);
  }
  std::sort(expected.begin(), expected.end(), [](const auto& x, const auto& y) {
    return std::tie(x.container_index, x.device_index) <
           std::tie(y.container_index, y.device_index);
  });
  HAMI_FUZZ_CHECK(hami::MigAllocationsOf(pod) == expected);
  HAMI_FUZZ_CHECK(hami::MigAllocationsOf(before).empty());
  return 0;
}
