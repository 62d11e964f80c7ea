// Fuzz target: the Iluvatar decoders (hami.io/node-<commonWord>-register through
// IluvatarVendor, the request derivation and webhook mutation, the UUID selectors).
// The input is split at the first two newlines: registration value, then a "name=value,..."
// resource list, then the selection annotation value.
// Properties: never crash; a registration that decodes is non-empty; a derived request has
// count >= 1, the chip's commonWord as type, memory a multiple of 256 MiB, non-negative cores;
// the webhook mutation fails exactly when the derivation from its limits does.
#include <cstddef>
#include <cstdint>

#include "common/strings.h"
#include "device/iluvatar.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view registration = hami::fuzz::NextLine(&text);
  const std::string_view resources = hami::fuzz::NextLine(&text);
  const std::string value(text);

  const hami::IluvatarVendor vendor({"BI-V150", "BI-V150", "iluvatar.ai/BI-V150-vgpu",
                                     "iluvatar.ai/BI-V150.vMem", "iluvatar.ai/BI-V150.vCore"});
  auto devices =
      vendor.DecodeRegistration({{"hami.io/node-BI-V150-register", std::string(registration)}});
  HAMI_FUZZ_CHECK(devices.ok() ? !devices->empty() : !devices.status().message().empty());

  const hami::ResourceList limits = hami::fuzz::ParseResourceList(resources);
  auto request = vendor.RequestFromResources(limits, {});
  if (request.ok() && request->has_value()) {
    const hami::ContainerDeviceRequest& r = **request;
    HAMI_FUZZ_CHECK(r.count >= 1 && r.type == "BI-V150");
    HAMI_FUZZ_CHECK(r.memory_mib >= 0 && r.memory_mib % hami::kIluvatarMemoryUnitMib == 0);
    HAMI_FUZZ_CHECK(r.cores_percent >= 0);
  }
  auto admission = vendor.MutateAdmission(value, limits, {});
  if (admission.ok()) {
    HAMI_FUZZ_CHECK(vendor.RequestFromResources(admission->limits, {}).ok());
  }

  auto selectors = vendor.ParseSelectors(
      {{"hami.io/use-BI-V150-uuid", value}, {"hami.io/no-use-BI-V150-uuid", value}});
  // Both lists apply (HAMi >= 2.9's CheckUUID): the same value gives the same two lists.
  HAMI_FUZZ_CHECK(selectors.ok() && selectors->nouse_uuids == selectors->use_uuids);
  return 0;
}
