// Fuzz target: the Biren decoders (hami.io/node-biren-register through BirenVendor, the Biren
// request derivation and webhook admission, the UUID selectors).
// The input is split at the first two newlines: registration value, then a "name=value,..."
// resource list, then the selection annotation value.
// Properties: never crash; a registration that decodes is non-empty with devcore 100 on every
// device; a derived request has count >= 1, type "Biren", no memory and no cores.
#include <cstddef>
#include <cstdint>

#include "device/biren.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view registration = hami::fuzz::NextLine(&text);
  const std::string_view resources = hami::fuzz::NextLine(&text);
  const std::string_view selection = text;

  const hami::BirenVendor vendor{hami::BirenConfig{}};
  auto devices =
      vendor.DecodeRegistration({{hami::kBirenRegisterAnnotation, std::string(registration)}});
  if (devices.ok()) {
    HAMI_FUZZ_CHECK(!devices->empty());
    for (const hami::DeviceInfo& d : *devices) HAMI_FUZZ_CHECK(d.devcore == 100);
  } else {
    HAMI_FUZZ_CHECK(!devices.status().message().empty());
  }

  const hami::ResourceList limits = hami::fuzz::ParseResourceList(resources);
  auto request = vendor.RequestFromResources(limits, {});
  if (request.ok() && request->has_value()) {
    const hami::ContainerDeviceRequest& r = **request;
    HAMI_FUZZ_CHECK(r.count >= 1 && r.type == hami::kBirenCommonWord);
    HAMI_FUZZ_CHECK(r.memory_mib == 0 && r.cores_percent == 0);
  }
  auto admission = vendor.MutateAdmission("c", limits, {});
  HAMI_FUZZ_CHECK(admission.ok() == request.ok());

  const std::string value(selection);
  auto selectors = vendor.ParseSelectors({{hami::kBirenNoUseUuidAnnotation, value}});
  HAMI_FUZZ_CHECK(selectors.ok() && selectors->use_uuids.empty());
  return 0;
}
