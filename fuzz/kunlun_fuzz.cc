// Fuzz target: the Kunlunxin decoders (whole XPUs synthesised from a capacity value through
// KunlunVendor, vXPU registration hami.io/node-register-xpu through KunlunVxpuVendor, both
// request derivations and admissions, the decision annotations).
// The input is split at the first two newlines: the kunlunxin.com/xpu capacity value, then the
// vXPU registration value, then a "name=value,..." resource list.
// Properties: never crash; synthesised XPUs are 98304 MiB / 100 cores with their index in the
// ID and are at most kMaxSynthesizedDevices; a decoded vXPU registration is non-empty; a
// derived request asks for 1, 2, 4 or 8 devices with the index sets of that count, whole XPUs
// for "kunlun" and a vXPU size (24576, 49152, 98304 MiB) with cores = memory * 100 / 98304
// for "XPU"; BAIDU_COM_DEVICE_IDX lists the last container's indexes.
#include <cstddef>
#include <cstdint>

#include "device/kunlun.h"
#include "device/synthesized.h"
#include "fuzz_check.h"

namespace {

void CheckRequest(const hami::Result<std::optional<hami::ContainerDeviceRequest>>& request,
                  const char* type) {
  if (!request.ok()) {
    HAMI_FUZZ_CHECK(!request.status().message().empty());
    return;
  }
  if (!request->has_value()) return;
  const hami::ContainerDeviceRequest& r = **request;
  HAMI_FUZZ_CHECK(r.type == type);
  HAMI_FUZZ_CHECK(r.count == 1 || r.count == 2 || r.count == 4 || r.count == 8);
  HAMI_FUZZ_CHECK(r.index_sets == hami::KunlunIndexSets(r.count));
  HAMI_FUZZ_CHECK(r.index_sets->size() == 1 && r.index_sets->front().device_type.empty());
  for (const std::vector<int32_t>& set : r.index_sets->front().sets) {
    HAMI_FUZZ_CHECK(static_cast<int32_t>(set.size()) == r.count);
  }
  if (r.type == hami::kKunlunCommonWord) {
    HAMI_FUZZ_CHECK(r.memory_percent == 100 && r.cores_percent == 100 && r.memory_mib == 0);
  } else {
    HAMI_FUZZ_CHECK(r.memory_mib == 24576 || r.memory_mib == 49152 || r.memory_mib == 98304);
    HAMI_FUZZ_CHECK(r.cores_percent == r.memory_mib * 100 / 98304);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string capacity(hami::fuzz::NextLine(&text));
  const std::string registration(hami::fuzz::NextLine(&text));
  const hami::ResourceList limits = hami::fuzz::ParseResourceList(text);

  const hami::KunlunVendor xpu{hami::KunlunConfig{}};
  const hami::KunlunVxpuVendor vxpu{hami::KunlunConfig{}};
  hami::NodeFacts node;
  node.name = "node";
  node.capacity = {{"kunlunxin.com/xpu", capacity}};
  auto devices = xpu.DecodeNode(node);
  if (devices.ok()) {
    HAMI_FUZZ_CHECK(!devices->empty());
    HAMI_FUZZ_CHECK(static_cast<int64_t>(devices->size()) <= hami::kMaxSynthesizedDevices);
    hami::ContainerDevices taken;
    for (const hami::DeviceInfo& d : *devices) {
      HAMI_FUZZ_CHECK(d.devmem_mib == 98304 && d.devcore == 100 && d.count == 100);
      HAMI_FUZZ_CHECK(hami::SynthesizedIndex(d.id) == d.index);
      if (taken.size() < 8) taken.push_back({d.id, "kunlun", 98304, 100});
    }
    hami::Annotations out;
    xpu.AddDecisionAnnotations({taken}, "node", 0, &out);
    HAMI_FUZZ_CHECK(out.count(hami::kKunlunAllocatedAnnotation) == 1);
    HAMI_FUZZ_CHECK(out[hami::kKunlunDeviceIndexAnnotation].rfind("0", 0) == 0);
  } else {
    HAMI_FUZZ_CHECK(!devices.status().message().empty());
  }

  auto registered = vxpu.DecodeRegistration({{hami::kXpuRegisterAnnotation, registration}});
  if (registered.ok()) {
    HAMI_FUZZ_CHECK(!registered->empty());
  } else {
    HAMI_FUZZ_CHECK(!registered.status().message().empty());
  }

  CheckRequest(xpu.RequestFromResources(limits, {}), hami::kKunlunCommonWord);
  CheckRequest(xpu.RequestFromResources({}, limits), hami::kKunlunCommonWord);
  CheckRequest(vxpu.RequestFromResources(limits, {}), hami::kKunlunVxpuCommonWord);
  auto admission = vxpu.MutateAdmission("c", limits, {});
  HAMI_FUZZ_CHECK(admission.ok() == vxpu.RequestFromResources(limits, {}).ok());
  if (admission.ok()) HAMI_FUZZ_CHECK(admission->limits == limits);
  return 0;
}
