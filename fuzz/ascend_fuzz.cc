// Fuzz target: the Ascend decoders (hami.io/node-register-<cw> through AscendVendor, the
// request derivation with template rounding, hami-core and 910C module pairs, the webhook
// admission, the huawei.com/<cw> runtime info written at bind, the UUID selectors), on two chips:
// a 910B3 in template mode and a 910C super-pod with hamiVnpuCore on.
// The input is split at the first three newlines: registration value, limits and requests as
// "name=value,..." lists, then the selection annotation value.
// Properties: never crash; a registration that decodes is non-empty with devcore 100 on every
// NPU; a derived request has count >= 1, the chip's type, cores 0..100 (0 in template mode,
// where memory is 0, a template's or memoryAllocatable), 100 % memory exactly when no MiB, and on
// the super-pod an even count > 1 only with index sets of whole modules; a container admitted as
// ours has the request the scheduler derives from the mutated limits; the runtime info at bind is a
// JSON list with one object per NPU placed.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "device/ascend.h"
#include "fuzz_check.h"

namespace {

hami::AscendChipConfig Chip(const char* cw, bool super_pod) {
  hami::AscendChipConfig c;
  c.chip_name = cw;
  c.common_word = cw;
  c.resource_name = std::string("huawei.com/") + cw;
  c.resource_memory_name = c.resource_name + "-memory";
  c.resource_core_name = c.resource_name + "-core";
  c.memory_allocatable = 65536;
  c.memory_capacity = 65536;
  c.ai_core = 20;
  c.super_pod = super_pod;
  c.templates = {{"vir10_3c_32g", 32768, 10, 3}, {"vir05_1c_16g", 16384, 5, 1}};
  return c;
}

bool TemplateMemory(const hami::AscendVendor& v, int32_t mib) {
  if (mib == 0 || mib == v.Config().memory_allocatable) return true;
  for (const hami::AscendTemplate& t : v.Config().templates) {
    if (t.memory == mib) return true;
  }
  return false;
}

void CheckRequest(const hami::AscendVendor& v, const hami::ContainerDeviceRequest& r) {
  HAMI_FUZZ_CHECK(r.count >= 1 && r.type == v.CommonWord());
  HAMI_FUZZ_CHECK(r.cores_percent >= 0 && r.cores_percent <= 100);
  HAMI_FUZZ_CHECK(r.memory_mib >= 0);
  HAMI_FUZZ_CHECK((r.memory_percent == 100) == (r.memory_mib == 0));
  if (r.cores_percent == 0) HAMI_FUZZ_CHECK(TemplateMemory(v, r.memory_mib));
  if (v.PairsModules() && r.count > 1) {
    HAMI_FUZZ_CHECK(r.count % 2 == 0 && r.index_sets != nullptr);
    HAMI_FUZZ_CHECK(r.index_sets->size() == 1 && r.index_sets->front().device_type.empty());
    for (const std::vector<int32_t>& set : r.index_sets->front().sets) {
      HAMI_FUZZ_CHECK(static_cast<int32_t>(set.size()) == r.count);
      for (size_t i = 0; i + 1 < set.size(); i += 2) {
        HAMI_FUZZ_CHECK(set[i] % 2 == 0 && set[i + 1] == set[i] + 1);
      }
    }
  } else {
    HAMI_FUZZ_CHECK(r.index_sets == nullptr);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string_view registration = hami::fuzz::NextLine(&text);
  const hami::ResourceList limits = hami::fuzz::ParseResourceList(hami::fuzz::NextLine(&text));
  const hami::ResourceList requests = hami::fuzz::ParseResourceList(hami::fuzz::NextLine(&text));
  const std::string selection(text);

  static const hami::AscendVendor b3(Chip("Ascend910B3", false), false);
  static const hami::AscendVendor c910(Chip("Ascend910C", true), true);
  for (const hami::AscendVendor* v : {&b3, &c910}) {
    auto devices =
        v->DecodeRegistration({{v->AnnotationKeys().node_register, std::string(registration)}});
    if (devices.ok()) {
      HAMI_FUZZ_CHECK(!devices->empty());
      for (const hami::DeviceInfo& d : *devices) HAMI_FUZZ_CHECK(d.devcore == 100);
    } else {
      HAMI_FUZZ_CHECK(!devices.status().message().empty());
    }

    auto request = v->RequestFromResources(limits, requests);
    if (request.ok() && request->has_value()) CheckRequest(*v, **request);

    auto admission = v->MutateAdmission("c", limits, requests);
    if (admission.ok() && admission->uses_device) {
      auto again = v->RequestFromResources(admission->limits, requests);
      HAMI_FUZZ_CHECK(again.ok() && *again == admission->request);
      if (admission->request) CheckRequest(*v, *admission->request);
      if (admission->request && v->PairsModules()) HAMI_FUZZ_CHECK(admission->request->count != 1);
    }

    if (devices.ok() && request.ok() && request->has_value()) {
      hami::ContainerDevices placed;
      for (const hami::DeviceInfo& d : *devices) {
        placed.push_back({d.id, std::string(v->CommonWord()),
                          static_cast<int32_t>((*request)->ResolveMemoryMib(d.devmem_mib)),
                          (*request)->cores_percent});
      }
      hami::Annotations out;
      v->AddDecisionAnnotations({placed}, "node", 1, &out);
      const std::string key = "huawei.com/" + std::string(v->CommonWord());
      auto info = nlohmann::json::parse(out[key], nullptr, /*allow_exceptions=*/false);
      HAMI_FUZZ_CHECK(info.is_array() && info.size() == placed.size());
      HAMI_FUZZ_CHECK(out.count(v->AnnotationKeys().allocated) == 1);
    }

    auto selectors = v->ParseSelectors(
        {{"hami.io/no-use-" + std::string(v->CommonWord()) + "-uuid", selection}});
    HAMI_FUZZ_CHECK(selectors.ok() && selectors->use_uuids.empty());
  }
  return 0;
}
