// Fuzz target: the Cambricon decoders (the cards CambriconVendor synthesises from node
// capacity, the MLU request derivation and webhook admission, the UUID selectors, the
// decision annotations).
// The input is split at the first two newlines: a "name=value,..." node capacity list, then a
// "name=value,..." resource list, then the selection annotation value.
// Properties: never crash; synthesised cards are 1..kMaxSynthesizedDevices with HAMi's fixed
// count/devcore, non-negative memory and distinct IDs ending in their index; a derived request
// has count >= 1, type "MLU", memory >= 0 and a 100 % memory share exactly when no memory is
// given; the decision annotations carry a device string that decodes back.
#include <cstddef>
#include <cstdint>
#include <set>

#include "device/cambricon.h"
#include "device/codec.h"
#include "device/synthesized.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view capacity = hami::fuzz::NextLine(&text);
  const std::string_view resources = hami::fuzz::NextLine(&text);
  const std::string_view selection = text;

  const hami::CambriconVendor vendor{hami::CambriconConfig{}};
  hami::NodeFacts node;
  node.name = "n";
  node.capacity = hami::fuzz::ParseResourceList(capacity);
  auto devices = vendor.DecodeNode(node);
  if (devices.ok()) {
    HAMI_FUZZ_CHECK(!devices->empty() &&
                    static_cast<int64_t>(devices->size()) <= hami::kMaxSynthesizedDevices);
    std::set<std::string> ids;
    for (const hami::DeviceInfo& d : *devices) {
      HAMI_FUZZ_CHECK(d.count == 100 && d.devcore == 100 && d.devmem_mib >= 0 && d.health);
      HAMI_FUZZ_CHECK(hami::SynthesizedIndex(d.id) == d.index);
      HAMI_FUZZ_CHECK(ids.insert(d.id).second);
    }
  } else {
    HAMI_FUZZ_CHECK(!devices.status().message().empty());
  }

  const hami::ResourceList limits = hami::fuzz::ParseResourceList(resources);
  auto request = vendor.RequestFromResources(limits, {});
  if (request.ok() && request->has_value()) {
    const hami::ContainerDeviceRequest& r = **request;
    HAMI_FUZZ_CHECK(r.count >= 1 && r.type == hami::kCambriconCommonWord);
    HAMI_FUZZ_CHECK(r.memory_mib >= 0 && r.cores_percent >= 0);
    HAMI_FUZZ_CHECK((r.memory_mib == 0) == (r.memory_percent == 100));
    if (devices.ok()) {
      hami::Annotations out;
      const hami::DeviceInfo& d = devices->front();
      vendor.AddDecisionAnnotations({{{d.id, "MLU", r.memory_mib, r.cores_percent}}}, "n", 1, &out);
      auto decoded = hami::DecodePodDevices(out[hami::kCambriconAllocatedAnnotation]);
      HAMI_FUZZ_CHECK(decoded.ok() && decoded->size() == 1 && (*decoded)[0][0].uuid == d.id);
      HAMI_FUZZ_CHECK(out.count(hami::kCambriconDsmluProfileAnnotation) == 1);
    }
  }
  auto admission = vendor.MutateAdmission("c", limits, {});
  HAMI_FUZZ_CHECK(admission.ok() == request.ok());

  const std::string value(selection);
  auto selectors = vendor.ParseSelectors({{hami::kCambriconNoUseUuidAnnotation, value}});
  HAMI_FUZZ_CHECK(selectors.ok() && selectors->use_uuids.empty());
  return 0;
}
