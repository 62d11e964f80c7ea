// Fuzz target: the Vastai decoders (hami.io/node-va-register through VastaiVendor, the Vastai
// request derivation and webhook admission, the UUID selectors).
// The input is split at the first two newlines: registration value, then a "name=value,..."
// resource list, then the selection annotation value.
// Properties: never crash; a registration that decodes is non-empty with devcore 100 and a
// writable id on every device; a derived request has count >= 1, type "Vastai", no memory and
// no cores; admission fails exactly when derivation does.
#include <cstddef>
#include <cstdint>

#include "device/vastai.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view registration = hami::fuzz::NextLine(&text);
  const std::string_view resources = hami::fuzz::NextLine(&text);
  const std::string_view selection = text;

  const hami::VastaiVendor vendor{hami::VastaiConfig{}};
  auto devices =
      vendor.DecodeRegistration({{hami::kVastaiRegisterAnnotation, std::string(registration)}});
  if (devices.ok()) {
    HAMI_FUZZ_CHECK(!devices->empty());
    for (const hami::DeviceInfo& d : *devices) {
      HAMI_FUZZ_CHECK(d.devcore == 100);
      HAMI_FUZZ_CHECK(!d.id.empty() && d.id.find_first_of(",:;") == std::string::npos);
    }
  } else {
    HAMI_FUZZ_CHECK(!devices.status().message().empty());
  }

  const hami::ResourceList limits = hami::fuzz::ParseResourceList(resources);
  auto request = vendor.RequestFromResources(limits, {});
  if (request.ok() && request->has_value()) {
    const hami::ContainerDeviceRequest& r = **request;
    HAMI_FUZZ_CHECK(r.count >= 1 && r.type == hami::kVastaiCommonWord);
    HAMI_FUZZ_CHECK(r.memory_mib == 0 && r.cores_percent == 0);
  }
  auto admission = vendor.MutateAdmission("c", limits, {});
  HAMI_FUZZ_CHECK(admission.ok() == request.ok());

  const std::string value(selection);
  auto selectors = vendor.ParseSelectors(
      {{hami::kVastaiNoUseUuidAnnotation, value}, {hami::kVastaiUseTypeAnnotation, value}});
  HAMI_FUZZ_CHECK(selectors.ok() && selectors->use_uuids.empty() && selectors->use_types.empty());
  return 0;
}
