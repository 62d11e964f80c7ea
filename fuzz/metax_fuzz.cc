// Fuzz target: the MetaX decoders (metax-tech.com/node-gpu-devices through MetaxSgpuVendor and
// the metax-tech.com/gpu-devices-allocated encoding of a grant on the decoded cards; whole cards
// from a node's metax-tech.com/gpu capacity; both request derivations and admissions; the UUID
// selectors).
// The input is split at the first three newlines: sGPU registration value, a "name=value,..."
// resource list, the metax-tech.com/gpu capacity value, then the selection annotation value.
// Properties: never crash; a registration that decodes is non-empty, indexed by position, with
// unique writable ids and non-negative sizes, and a grant on it encodes as JSON listing the same
// uuids; capacity cards number 1..kMaxSynthesizedDevices, named after the node; derived
// requests are in range (sGPU cores 0..100, whole memory exactly when no MiB); admission fails
// exactly when derivation does.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "device/metax.h"
#include "device/synthesized.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view registration = hami::fuzz::NextLine(&text);
  const std::string_view resources = hami::fuzz::NextLine(&text);
  const std::string_view capacity = hami::fuzz::NextLine(&text);
  const std::string_view selection = text;

  const hami::MetaxSgpuVendor sgpu{hami::MetaxConfig{}};
  auto devices =
      sgpu.DecodeRegistration({{hami::kMetaxSgpuRegisterAnnotation, std::string(registration)}});
  if (devices.ok()) {
    HAMI_FUZZ_CHECK(!devices->empty());
    hami::ContainerDevices grant;
    for (size_t i = 0; i < devices->size(); ++i) {
      const hami::DeviceInfo& d = (*devices)[i];
      HAMI_FUZZ_CHECK(d.index == static_cast<int32_t>(i) && d.type == hami::kMetaxSgpuCommonWord);
      HAMI_FUZZ_CHECK(!d.id.empty() && d.id.find_first_of(",:;") == std::string::npos);
      HAMI_FUZZ_CHECK(d.count >= 0 && d.devmem_mib >= 0 && d.devcore >= 0);
      grant.push_back({d.id, hami::kMetaxSgpuCommonWord, d.devmem_mib, d.devcore});
      for (size_t k = 0; k < i; ++k) HAMI_FUZZ_CHECK((*devices)[k].id != d.id);
    }
    const std::string encoded = hami::EncodeMetaxPodDevices({grant});
    const nlohmann::json parsed = nlohmann::json::parse(encoded, nullptr, false);
    HAMI_FUZZ_CHECK(parsed.is_array() && parsed.size() == 1 && parsed[0].size() == grant.size());
    for (size_t i = 0; i < grant.size(); ++i) {
      if (hami::fuzz::IsValidUtf8(grant[i].uuid)) {
        HAMI_FUZZ_CHECK(parsed[0][i]["uuid"] == grant[i].uuid);
      }
    }
  } else {
    HAMI_FUZZ_CHECK(!devices.status().message().empty());
  }

  const hami::ResourceList limits = hami::fuzz::ParseResourceList(resources);
  auto request = sgpu.RequestFromResources(limits, {});
  if (request.ok() && request->has_value()) {
    const hami::ContainerDeviceRequest& r = **request;
    HAMI_FUZZ_CHECK(r.count >= 1 && r.type == hami::kMetaxSgpuCommonWord);
    HAMI_FUZZ_CHECK(r.cores_percent >= 0 && r.cores_percent <= 100 && r.memory_mib >= 0);
    HAMI_FUZZ_CHECK((r.memory_mib == 0) == (r.memory_percent == 100));
  }
  HAMI_FUZZ_CHECK(sgpu.MutateAdmission("c", limits, {}).ok() == request.ok());

  const hami::MetaxGpuVendor gpu{hami::MetaxConfig{}};
  hami::NodeFacts node;
  node.name = "fuzz-node";
  node.capacity = {{"metax-tech.com/gpu", std::string(capacity)}};
  auto cards = gpu.DecodeNode(node);
  if (cards.ok()) {
    HAMI_FUZZ_CHECK(!cards->empty() &&
                    cards->size() <= static_cast<size_t>(hami::kMaxSynthesizedDevices));
    HAMI_FUZZ_CHECK(cards->back().id == "fuzz-node-metax-" + std::to_string(cards->size() - 1));
  } else {
    HAMI_FUZZ_CHECK(!cards.status().message().empty());
  }
  auto whole = gpu.RequestFromResources(limits, {});
  if (whole.ok() && whole->has_value()) {
    HAMI_FUZZ_CHECK((*whole)->count >= 1 && (*whole)->memory_percent == 100 &&
                    (*whole)->cores_percent == 100);
  }
  HAMI_FUZZ_CHECK(gpu.MutateAdmission("c", limits, {}).ok() == whole.ok());

  const std::string value(selection);
  auto selectors = sgpu.ParseSelectors({{hami::kMetaxNoUseUuidAnnotation, value}});
  HAMI_FUZZ_CHECK(selectors.ok() && selectors->use_uuids.empty());
  return 0;
}
