// Fuzz target: the AMD decoders (hami.io/node-amd-register through AmdVendor, the AMD resource
// derivation and webhook admission, the AMD selection annotations).
// The input is split at the first two newlines: registration value, then a "name=value,..."
// resource list, then the selection annotation value.
// Properties: never crash; a registration that decodes is non-empty and re-encodes to JSON that
// decodes to the same devices; a derived request has count >= 1, type "AMD", non-negative
// memory, cores in 1..100, and a memory percentage only when no memory was given.
#include <cstddef>
#include <cstdint>

#include "device/amd.h"
#include "device/codec.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view registration = hami::fuzz::NextLine(&text);
  const std::string_view resources = hami::fuzz::NextLine(&text);
  const std::string_view selection = text;

  const hami::AmdVendor vendor{hami::AmdConfig{}};

  auto devices =
      vendor.DecodeRegistration({{hami::kAmdRegisterAnnotation, std::string(registration)}});
  if (devices.ok()) {
    HAMI_FUZZ_CHECK(!devices->empty());
    auto again = hami::DecodeNodeDevicesJson(hami::EncodeNodeDevicesJson(*devices));
    HAMI_FUZZ_CHECK(again.ok() && *again == *devices);
  } else {
    HAMI_FUZZ_CHECK(!devices.status().message().empty());
  }

  const hami::ResourceList limits = hami::fuzz::ParseResourceList(resources);
  auto request = vendor.RequestFromResources(limits, {});
  if (request.ok() && request->has_value()) {
    const hami::ContainerDeviceRequest& r = **request;
    HAMI_FUZZ_CHECK(r.count >= 1 && r.type == hami::kAmdCommonWord);
    HAMI_FUZZ_CHECK(r.memory_mib >= 0 && r.cores_percent >= 1 && r.cores_percent <= 100);
    HAMI_FUZZ_CHECK((r.memory_mib == 0) == (r.memory_percent == 100));
  } else if (!request.ok()) {
    HAMI_FUZZ_CHECK(!request.status().message().empty());
  }
  auto admission = vendor.MutateAdmission("c", limits, {});
  if (!request.ok()) HAMI_FUZZ_CHECK(!admission.ok());
  if (admission.ok()) HAMI_FUZZ_CHECK(admission->request == *request);

  const std::string value(selection);
  auto selectors = vendor.ParseSelectors({{hami::kAmdUseTypeAnnotation, value},
                                          {hami::kAmdNoUseTypeAnnotation, value},
                                          {hami::kAmdNoUseUuidAnnotation, value}});
  HAMI_FUZZ_CHECK(selectors.ok() && selectors->use_types == selectors->nouse_types &&
                  selectors->use_uuids.empty());
  return 0;
}
