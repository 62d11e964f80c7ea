// Fuzz target: the Moore Threads decoders (the cards MthreadsVendor synthesises from node
// capacity, the request derivation, webhook admission and its memory-size check, the UUID
// selectors, the decision annotations).
// The input is split at the first two newlines: a "name=value,..." node capacity list, then a
// "name=value,..." resource list, then the selection annotation value (also read as the
// node label mthreads.com/sgpu.cores).
// Properties: never crash; synthesised cards are 1..kMaxSynthesizedDevices with devcore 16,
// non-negative memory and distinct IDs ending in their index; a derived request has count >= 1,
// type "Mthreads", and takes whole cards (16 core groups, 100 % memory) when it asks for more
// than one; an admitted container's mutated limits derive a request again; the decision
// annotations carry a device string that decodes back and the index list.
#include <cstddef>
#include <cstdint>
#include <set>

#include "device/codec.h"
#include "device/mthreads.h"
#include "device/synthesized.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view capacity = hami::fuzz::NextLine(&text);
  const std::string_view resources = hami::fuzz::NextLine(&text);
  const std::string_view selection = text;

  const hami::MthreadsVendor vendor{hami::MthreadsConfig{}};
  hami::NodeFacts node;
  node.name = "n";
  node.capacity = hami::fuzz::ParseResourceList(capacity);
  auto devices = vendor.DecodeNode(node);
  if (devices.ok()) {
    HAMI_FUZZ_CHECK(!devices->empty() &&
                    static_cast<int64_t>(devices->size()) <= hami::kMaxSynthesizedDevices);
    std::set<std::string> ids;
    for (const hami::DeviceInfo& d : *devices) {
      HAMI_FUZZ_CHECK(d.count == 100 && d.devcore == hami::kMthreadsCoresPerCard);
      HAMI_FUZZ_CHECK(d.devmem_mib >= 0 && hami::SynthesizedIndex(d.id) == d.index);
      HAMI_FUZZ_CHECK(ids.insert(d.id).second);
    }
  } else {
    HAMI_FUZZ_CHECK(!devices.status().message().empty());
  }

  // The third part doubles as the mthreads.com/sgpu.cores label: parsed ids are distinct and
  // non-negative, and cards built from them carry them as index and ID suffix.
  auto card_ids = hami::ParseMthreadsCardIds(selection);
  if (card_ids.ok()) {
    HAMI_FUZZ_CHECK(!card_ids->empty());
    const std::set<int32_t> distinct(card_ids->begin(), card_ids->end());
    HAMI_FUZZ_CHECK(distinct.size() == card_ids->size() && *distinct.begin() >= 0);
  }
  node.labels[hami::kMthreadsSgpuCoresLabel] = std::string(selection);
  auto labelled = vendor.DecodeNode(node);
  if (labelled.ok() && !selection.empty()) {
    HAMI_FUZZ_CHECK(card_ids.ok() && labelled->size() == card_ids->size());
    for (size_t i = 0; i < labelled->size(); ++i) {
      HAMI_FUZZ_CHECK((*labelled)[i].index == (*card_ids)[i]);
      HAMI_FUZZ_CHECK(hami::SynthesizedIndex((*labelled)[i].id) == (*labelled)[i].index);
    }
  } else if (!labelled.ok()) {
    HAMI_FUZZ_CHECK(!labelled.status().message().empty());
  }

  const hami::ResourceList limits = hami::fuzz::ParseResourceList(resources);
  auto request = vendor.RequestFromResources(limits, {});
  if (request.ok() && request->has_value()) {
    const hami::ContainerDeviceRequest& r = **request;
    HAMI_FUZZ_CHECK(r.count >= 1 && r.type == hami::kMthreadsCommonWord);
    HAMI_FUZZ_CHECK(r.memory_mib >= 0 && r.cores_percent >= 0);
    if (r.count > 1) {
      HAMI_FUZZ_CHECK(r.memory_percent == 100 && r.cores_percent == hami::kMthreadsCoresPerCard);
    }
    if (devices.ok()) {
      hami::Annotations out;
      const hami::DeviceInfo& d = devices->back();
      vendor.AddDecisionAnnotations({{{d.id, "Mthreads", r.memory_mib, r.cores_percent}}}, "n", 1,
                                    &out);
      auto decoded = hami::DecodePodDevices(out[hami::kMthreadsAllocatedAnnotation]);
      HAMI_FUZZ_CHECK(decoded.ok() && decoded->size() == 1);
      HAMI_FUZZ_CHECK(out[hami::kMthreadsGpuIndexAnnotation] == std::to_string(d.index));
    }
  }
  auto admission = vendor.MutateAdmission("c", limits, {});
  if (admission.ok() && admission->uses_device) {
    auto again = vendor.RequestFromResources(admission->limits, {});
    HAMI_FUZZ_CHECK(again.ok());
  }

  const std::string value(selection);
  auto selectors = vendor.ParseSelectors({{hami::kMthreadsUseUuidAnnotation, value}});
  HAMI_FUZZ_CHECK(selectors.ok() && selectors->nouse_uuids.empty());
  return 0;
}
