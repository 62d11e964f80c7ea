// Fuzz target: the Enflame decoders (enflame.com/gcu-drs-capacity through EnflameDrsVendor, the
// GCU cards synthesised from node capacity, both request derivations and the DRS webhook
// admission).
// The input is split at the first two newlines: the DRS capacity annotation value, then the
// enflame.com/gcu capacity value, then a "name=value,..." resource list.
// Properties: never crash; DRS cards are non-empty with count == devcore > 0 slices, memory a
// positive multiple of 1024 MiB and distinct IDs ending in their index; GCU cards have count 1,
// devmem 100, devcore 100; a DRS request is one card and >= 1 slice; a GCU request has count
// >= 1 and takes whole cards.
#include <cstddef>
#include <cstdint>
#include <set>

#include "device/enflame.h"
#include "device/synthesized.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view drs_capacity = hami::fuzz::NextLine(&text);
  const std::string_view gcu_capacity = hami::fuzz::NextLine(&text);
  const std::string_view resources = text;

  const hami::EnflameDrsVendor drs{hami::EnflameConfig{}};
  const hami::GcuVendor gcu{hami::EnflameConfig{}};
  hami::NodeFacts node;
  node.name = "n";
  node.annotations = {{hami::kEnflameDrsCapacityAnnotation, std::string(drs_capacity)}};
  node.capacity = {{"enflame.com/gcu", std::string(gcu_capacity)}};

  auto cards = drs.DecodeNode(node);
  if (cards.ok()) {
    HAMI_FUZZ_CHECK(!cards->empty());
    std::set<std::string> ids;
    for (const hami::DeviceInfo& d : *cards) {
      HAMI_FUZZ_CHECK(d.count > 0 && d.devcore == d.count);
      HAMI_FUZZ_CHECK(d.devmem_mib > 0 && d.devmem_mib % 1024 == 0);
      HAMI_FUZZ_CHECK(hami::SynthesizedIndex(d.id) == d.index && ids.insert(d.id).second);
    }
  } else {
    HAMI_FUZZ_CHECK(!cards.status().message().empty());
  }
  auto whole = gcu.DecodeNode(node);
  if (whole.ok()) {
    HAMI_FUZZ_CHECK(!whole->empty());
    for (const hami::DeviceInfo& d : *whole) {
      HAMI_FUZZ_CHECK(d.count == 1 && d.devmem_mib == 100 && d.devcore == 100);
    }
  }

  const hami::ResourceList limits = hami::fuzz::ParseResourceList(resources);
  auto share = drs.RequestFromResources(limits, {});
  if (share.ok() && share->has_value()) {
    HAMI_FUZZ_CHECK((*share)->count == 1 && (*share)->cores_percent >= 1);
    HAMI_FUZZ_CHECK((*share)->type == hami::kEnflameDrsCommonWord);
  }
  auto admission = drs.MutateAdmission("c", limits, {});
  HAMI_FUZZ_CHECK(admission.ok() == share.ok());
  auto cards_request = gcu.RequestFromResources(limits, {});
  if (cards_request.ok() && cards_request->has_value()) {
    HAMI_FUZZ_CHECK((*cards_request)->count >= 1 && (*cards_request)->cores_percent == 100);
  }
  return 0;
}
