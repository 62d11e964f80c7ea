// Fuzz target: node registration decoders (JSON and legacy colon form).
// Properties: never crash; whatever decodes re-encodes to a string that decodes to the same
// devices (JSON always when strings are valid UTF-8, legacy when fields allow it and there are
// no MIG profiles, which the colon form cannot carry).
#include <cstddef>
#include <cstdint>

#include "common/strings.h"
#include "device/codec.h"
#include "fuzz_check.h"

namespace {

bool LegacyRepresentable(const std::vector<hami::DeviceInfo>& devices) {
  for (size_t i = 0; i < devices.size(); ++i) {
    const hami::DeviceInfo& d = devices[i];
    if (!d.mig_profiles.empty()) return false;  // the colon form has no field for them
    for (const std::string* s : {&d.id, &d.type, &d.mode}) {
      if (s->find_first_of(",:") != std::string::npos) {
        return false;
      }
    }
    // The decoder trims the whole text, which would eat the first id's leading whitespace.
    if (i == 0 && hami::Trim(d.id).size() != d.id.size()) {
      return false;
    }
  }
  return true;
}

bool AllUtf8(const std::vector<hami::DeviceInfo>& devices) {
  for (const hami::DeviceInfo& d : devices) {
    if (!hami::fuzz::IsValidUtf8(d.id) || !hami::fuzz::IsValidUtf8(d.type) ||
        !hami::fuzz::IsValidUtf8(d.mode)) {
      return false;
    }
    for (const hami::MigProfile& p : d.mig_profiles) {
      if (!hami::fuzz::IsValidUtf8(p.name)) return false;
    }
  }
  return true;
}

void CheckRoundTrips(const std::vector<hami::DeviceInfo>& devices) {
  if (AllUtf8(devices)) {
    const std::string json = hami::EncodeNodeDevicesJson(devices);
    hami::Result<std::vector<hami::DeviceInfo>> again = hami::DecodeNodeDevicesJson(json);
    HAMI_FUZZ_CHECK(again.ok());
    HAMI_FUZZ_CHECK(*again == devices);
    HAMI_FUZZ_CHECK(hami::EncodeNodeDevicesJson(*again) == json);
    hami::Result<std::vector<hami::DeviceInfo>> auto_again = hami::DecodeNodeDevices(json);
    HAMI_FUZZ_CHECK(auto_again.ok() && *auto_again == devices);
  }
  if (!devices.empty() && LegacyRepresentable(devices)) {
    const std::string legacy = hami::EncodeNodeDevicesLegacy(devices);
    hami::Result<std::vector<hami::DeviceInfo>> again = hami::DecodeNodeDevicesLegacy(legacy);
    HAMI_FUZZ_CHECK(again.ok());
    HAMI_FUZZ_CHECK(*again == devices);
    HAMI_FUZZ_CHECK(hami::EncodeNodeDevicesLegacy(*again) == legacy);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  hami::Result<std::vector<hami::DeviceInfo>> any = hami::DecodeNodeDevices(text);
  if (any.ok()) {
    CheckRoundTrips(*any);
  }
  hami::Result<std::vector<hami::DeviceInfo>> json = hami::DecodeNodeDevicesJson(text);
  if (json.ok()) {
    CheckRoundTrips(*json);
  }
  hami::Result<std::vector<hami::DeviceInfo>> legacy = hami::DecodeNodeDevicesLegacy(text);
  if (legacy.ok()) {
    CheckRoundTrips(*legacy);
  }
  if (!any.ok()) {
    HAMI_FUZZ_CHECK(!any.status().message().empty());
  }
  return 0;
}
