// Fuzz target: device config YAML loader.
// Properties: never crash or throw; a loaded nvidia section renders to YAML that loads back to
// the same configuration and passes validation.
#include <cstddef>
#include <cstdint>

#include "device/config.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > size_t{64} * 1024) {
    return 0;  // real configs are a few KiB; keeps iterations fast
  }
  const std::string_view text = hami::fuzz::AsText(data, size);
  hami::Result<hami::DeviceConfig> config = hami::LoadDeviceConfig(text, "fuzz");
  if (!config.ok()) {
    HAMI_FUZZ_CHECK(config.status().message().rfind("fuzz", 0) == 0);
    return 0;
  }
  if (!config->nvidia) {
    return 0;
  }
  HAMI_FUZZ_CHECK(hami::ValidateNvidiaConfig(*config->nvidia).ok());
  const std::string yaml = hami::DeviceConfigToYaml(*config);
  hami::Result<hami::DeviceConfig> again = hami::LoadDeviceConfig(yaml, "fuzz-again");
  HAMI_FUZZ_CHECK(again.ok());
  HAMI_FUZZ_CHECK(again->nvidia == config->nvidia);
  HAMI_FUZZ_CHECK(hami::DeviceConfigToYaml(*again) == yaml);
  return 0;
}
