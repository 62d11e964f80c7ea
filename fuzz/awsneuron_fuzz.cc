// Fuzz target: the AWS Neuron decoders (devices synthesised from the aws.amazon.com/neuron and
// aws.amazon.com/neuroncore capacity values through AwsNeuronVendor, request derivation and
// admission, the decision annotations).
// The input is split at the first two newlines: the device capacity value, then the core
// capacity value, then a "name=value,..." resource list.
// Properties: never crash; synthesised devices are one container each with a core mask of at
// most 4 cores and their cores per device in devmem, at most kMaxSynthesizedDevices; a derived
// request asks for 1..32 devices, cores mask 1 or 3, index sets exactly for counts >= 2 (a rule
// per family device type); the decision lists one index per whole device and one per core bit
// of a core allocation.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "device/awsneuron.h"
#include "device/synthesized.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = hami::fuzz::AsText(data, size);
  const std::string device_capacity(hami::fuzz::NextLine(&text));
  const std::string core_capacity(hami::fuzz::NextLine(&text));
  const hami::ResourceList limits = hami::fuzz::ParseResourceList(text);

  const hami::AwsNeuronVendor vendor{hami::AwsNeuronConfig{}};
  hami::NodeFacts node;
  node.name = "node";
  node.capacity = {{"aws.amazon.com/neuron", device_capacity},
                   {"aws.amazon.com/neuroncore", core_capacity}};
  auto devices = vendor.DecodeNode(node);
  std::vector<hami::DeviceInfo> usable;
  if (devices.ok()) {
    HAMI_FUZZ_CHECK(!devices->empty());
    HAMI_FUZZ_CHECK(static_cast<int64_t>(devices->size()) <= hami::kMaxSynthesizedDevices);
    for (const hami::DeviceInfo& d : *devices) {
      HAMI_FUZZ_CHECK(d.count == 1 && d.devmem_mib >= 1);
      HAMI_FUZZ_CHECK(d.devcore >= 1 && d.devcore <= 15);
      HAMI_FUZZ_CHECK(hami::SynthesizedIndex(d.id) == d.index);
      HAMI_FUZZ_CHECK(d.type == hami::kAwsNeuronCommonWord);  // no instance-type label
    }
    usable = *devices;
  } else {
    HAMI_FUZZ_CHECK(!devices.status().message().empty());
  }

  auto request = vendor.RequestFromResources(limits, {});
  auto admission = vendor.MutateAdmission("c", limits, {});
  if (admission.ok() && request.ok()) HAMI_FUZZ_CHECK(admission->request == *request);
  if (!request.ok()) {
    HAMI_FUZZ_CHECK(!admission.ok() && !request.status().message().empty());
    return 0;
  }
  if (!request->has_value()) return 0;
  const hami::ContainerDeviceRequest& r = **request;
  HAMI_FUZZ_CHECK(r.type == hami::kAwsNeuronCommonWord);
  HAMI_FUZZ_CHECK(r.count >= 1 && r.count <= hami::kAwsNeuronMaxDevicesPerContainer);
  HAMI_FUZZ_CHECK(r.cores_percent == 1 || r.cores_percent == 3);
  HAMI_FUZZ_CHECK((r.count >= 2) == static_cast<bool>(r.index_sets));
  if (r.index_sets) {
    // A rule for each family's device type, whose sets all take `count` devices.
    for (const char* type : {hami::kAwsNeuronCommonWord, hami::kAwsNeuronTrainiumType,
                             hami::kAwsNeuronInferentiaType}) {
      const hami::IndexSetRule* rule = r.IndexSetRuleFor(type);
      HAMI_FUZZ_CHECK(rule != nullptr && rule->device_type == type);
      for (const std::vector<int32_t>& set : rule->sets) {
        HAMI_FUZZ_CHECK(static_cast<int32_t>(set.size()) == r.count);
      }
    }
  }

  // The decision for this request on the first devices of the node.
  hami::ContainerDevices taken;
  int64_t expected_ids = 0;
  for (const hami::DeviceInfo& d : usable) {
    if (static_cast<int32_t>(taken.size()) == r.count) break;
    const auto memory = static_cast<int32_t>(r.ResolveMemoryMib(d.devmem_mib));
    taken.push_back({d.id, r.type, memory, r.cores_percent});
    expected_ids +=
        memory == 0 ? 1
                    : std::min<int64_t>(__builtin_popcount(r.cores_percent), std::min(memory, 4));
  }
  hami::Annotations out;
  vendor.AddDecisionAnnotations({taken}, "node", 1, &out);
  if (taken.empty()) {
    HAMI_FUZZ_CHECK(out.empty());
    return 0;
  }
  const std::string& ids = out[hami::kAwsNeuronIdsAnnotation];
  HAMI_FUZZ_CHECK(std::count(ids.begin(), ids.end(), ',') + 1 == expected_ids);
  HAMI_FUZZ_CHECK(out[hami::kAwsNeuronPredicateNodeAnnotation] == "node");
  return 0;
}
