// Fuzz target: the Hygon DCU decoders (hami.io/node-dcu-register through HygonVendor, the DCU
// resource derivation, the DCU selection annotations).
// The input is split at the first two newlines: registration value, then a "name=value,..."
// resource list, then the selection annotation value.
// Properties: never crash; a registration that decodes is non-empty, re-encodes in the legacy
// form and decodes to the same devices; a derived request has count >= 1, type "DCU",
// non-negative memory and cores, and a memory percentage only when no memory was given.
#include <cstddef>
#include <cstdint>

#include "common/strings.h"
#include "device/codec.h"
#include "device/hygon.h"
#include "fuzz_check.h"

namespace {

bool LegacyRepresentable(const std::vector<hami::DeviceInfo>& devices) {
  for (size_t i = 0; i < devices.size(); ++i) {
    for (const std::string* s : {&devices[i].id, &devices[i].type, &devices[i].mode}) {
      if (s->find_first_of(",:") != std::string::npos) return false;
    }
    if (i == 0 && hami::Trim(devices[i].id).size() != devices[i].id.size()) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view registration = hami::fuzz::NextLine(&text);
  const std::string_view resources = hami::fuzz::NextLine(&text);
  const std::string_view selection = text;

  hami::HygonConfig config;
  config.memory_factor = size % 3 == 0 ? 1024 : 1;
  const hami::HygonVendor vendor(config);

  auto devices =
      vendor.DecodeRegistration({{hami::kHygonRegisterAnnotation, std::string(registration)}});
  if (devices.ok()) {
    HAMI_FUZZ_CHECK(!devices->empty());
    if (LegacyRepresentable(*devices)) {
      auto again = hami::DecodeNodeDevicesLegacy(hami::EncodeNodeDevicesLegacy(*devices));
      HAMI_FUZZ_CHECK(again.ok() && *again == *devices);
    }
  } else {
    HAMI_FUZZ_CHECK(!devices.status().message().empty());
  }

  const hami::ResourceList limits = hami::fuzz::ParseResourceList(resources);
  auto request = vendor.RequestFromResources(limits, {});
  if (request.ok() && request->has_value()) {
    const hami::ContainerDeviceRequest& r = **request;
    HAMI_FUZZ_CHECK(r.count >= 1 && r.type == hami::kHygonCommonWord);
    HAMI_FUZZ_CHECK(r.memory_mib >= 0 && r.cores_percent >= 0);
    HAMI_FUZZ_CHECK((r.memory_mib == 0) == (r.memory_percent == 100));
  } else if (!request.ok()) {
    HAMI_FUZZ_CHECK(!request.status().message().empty());
  }
  auto admission = vendor.MutateAdmission("c", limits, {});
  HAMI_FUZZ_CHECK(admission.ok() == request.ok());

  const std::string value(selection);
  auto selectors = vendor.ParseSelectors({{hami::kHygonUseTypeAnnotation, value},
                                          {hami::kHygonNoUseTypeAnnotation, value},
                                          {hami::kHygonNoUseUuidAnnotation, value}});
  HAMI_FUZZ_CHECK(selectors.ok() && selectors->nouse_types.empty() && selectors->use_uuids.empty());
  return 0;
}
