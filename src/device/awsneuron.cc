#include "device/awsneuron.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string_view>

#include "common/strings.h"
#include "device/codec.h"
#include "device/quantity.h"
#include "device/synthesized.h"
#include "device/uuid_selectors.h"

namespace hami {
namespace {

using IndexSets = std::vector<std::vector<int32_t>>;

// Mask of the first `cores` bits: the NeuronCores a request or device covers.
int32_t CoreMask(int64_t cores) { return static_cast<int32_t>((int64_t{1} << cores) - 1); }

// The runs of `count` consecutive indexes below kAwsNeuronMaxDevicesPerContainer, one starting
// every `step` devices, lowest first.
IndexSets Runs(int32_t count, int32_t step) {
  IndexSets sets;
  for (int32_t start = 0; start + count <= kAwsNeuronMaxDevicesPerContainer; start += step) {
    std::vector<int32_t> run;
    for (int32_t i = start; i < start + count; ++i) run.push_back(i);
    sets.push_back(std::move(run));
  }
  return sets;
}

// One rule per family, told apart by the device type SynthesizeAwsNeuronDevices gives.
std::vector<IndexSetRule> BuildIndexSetRules(int32_t count) {
  const bool aligned = count == 4 || count == 8 || count == 16;
  return {
      // HAMi's graphSelect on a non-Inferentia instance type: aligned runs of 4, 8 or 16
      // only; other counts fit nowhere.
      {kAwsNeuronTrainiumType, aligned ? Runs(count, count) : IndexSets{}},
      // HAMi's graphSelect on Inferentia (a ring): any run, lowest first.
      {kAwsNeuronInferentiaType, Runs(count, 1)},
      // No instance-type label: aligned runs where HAMi's Trainium rule has them, any run
      // otherwise (valid on Inferentia; HAMi would refuse these counts on Trainium).
      {kAwsNeuronCommonWord, Runs(count, aligned ? count : 1)},
  };
}

// The device or core resource's amount (limits, then requests), or nullopt when absent.
Result<std::optional<int64_t>> Amount(const ResourceList& limits, const ResourceList& requests,
                                      const std::string& name) {
  const std::string* text = FindResource(limits, requests, name);
  if (text == nullptr) return std::optional<int64_t>();
  Result<int64_t> value = ParseQuantityInt64(*text);
  if (!value.ok()) return value.status().WithContext(name + " must be a whole number");
  return std::optional<int64_t>(*value);
}

Status TooManyDevices(const std::string& name, int64_t devices) {
  return InvalidArgument(name + " asks for " + std::to_string(devices) +
                         " devices; one container may take at most " +
                         std::to_string(kAwsNeuronMaxDevicesPerContainer));
}

}  // namespace

AwsNeuronFamily AwsNeuronFamilyOf(const NodeFacts& node) {
  auto label = node.labels.find(kAwsNeuronInstanceTypeLabel);
  if (label == node.labels.end() || label->second.empty()) return AwsNeuronFamily::kUnknown;
  const std::string& type = label->second;
  // HAMi's test, verbatim: strings.Contains(type, "inf") || strings.Contains(type, "Inf").
  if (type.find("inf") != std::string::npos || type.find("Inf") != std::string::npos) {
    return AwsNeuronFamily::kInferentia;
  }
  return AwsNeuronFamily::kTrainium;
}

std::string_view AwsNeuronDeviceType(AwsNeuronFamily family) {
  switch (family) {
    case AwsNeuronFamily::kUnknown:
      return kAwsNeuronCommonWord;
    case AwsNeuronFamily::kTrainium:
      return kAwsNeuronTrainiumType;
    case AwsNeuronFamily::kInferentia:
      return kAwsNeuronInferentiaType;
  }
  return kAwsNeuronCommonWord;
}

Result<std::vector<DeviceInfo>> SynthesizeAwsNeuronDevices(const AwsNeuronConfig& config,
                                                           const NodeFacts& node) {
  const std::string& device_name = config.resource_count_name;
  const std::string& core_name = config.resource_core_name;
  HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> devices, CapacityAmount(node, device_name));
  if (!devices || *devices == 0) return NotFound("node has no capacity " + device_name);
  if (*devices > kMaxSynthesizedDevices) {
    return InvalidArgument("capacity " + device_name + " " + std::to_string(*devices) +
                           " is more than " + std::to_string(kMaxSynthesizedDevices) + " devices");
  }
  HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> cores, CapacityAmount(node, core_name));
  if (!cores || *cores == 0) {
    return InvalidArgument("node has capacity " + device_name + " but no " + core_name);
  }
  if (*cores % *devices != 0) {
    return InvalidArgument("capacity " + core_name + " " + std::to_string(*cores) +
                           " is not divisible by capacity " + device_name + " " +
                           std::to_string(*devices));
  }
  const int64_t per_device = *cores / *devices;
  if (per_device > std::numeric_limits<int32_t>::max()) {
    return InvalidArgument("capacity " + core_name + " " + std::to_string(*cores) +
                           " gives more than 2^31-1 NeuronCores per device");
  }
  const std::string_view type = AwsNeuronDeviceType(AwsNeuronFamilyOf(node));
  std::vector<DeviceInfo> out;
  out.reserve(static_cast<size_t>(*devices));
  for (int32_t i = 0; i < *devices; ++i) {
    DeviceInfo d;
    d.id = node.name + "-" + kAwsNeuronCommonWord + "-" + std::to_string(i);
    d.index = i;
    d.count = 1;
    d.devmem_mib = static_cast<int32_t>(per_device);
    d.devcore = CoreMask(std::min<int64_t>(per_device, kAwsNeuronMaxMaskCores));
    d.type = std::string(type);
    d.numa = 0;
    d.health = true;
    out.push_back(std::move(d));
  }
  return out;
}

std::shared_ptr<const std::vector<IndexSetRule>> AwsNeuronIndexSets(int32_t count) {
  // Built once, leaked: requests share them for the process's life.
  using Rules = std::vector<IndexSetRule>;
  using Table = std::array<std::shared_ptr<const Rules>, kAwsNeuronMaxDevicesPerContainer + 1>;
  static const Table* const table = [] {
    auto* table = new Table();
    for (int32_t n = 2; n <= kAwsNeuronMaxDevicesPerContainer; ++n) {
      (*table)[static_cast<size_t>(n)] = std::make_shared<const Rules>(BuildIndexSetRules(n));
    }
    return table;
  }();
  if (count < 2 || count > kAwsNeuronMaxDevicesPerContainer) return nullptr;
  return (*table)[static_cast<size_t>(count)];
}

Result<std::optional<ContainerDeviceRequest>> DeriveAwsNeuronRequest(const AwsNeuronConfig& config,
                                                                     const ResourceList& limits,
                                                                     const ResourceList& requests) {
  ContainerDeviceRequest req;
  req.type = kAwsNeuronCommonWord;
  HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> devices,
                        Amount(limits, requests, config.resource_count_name));
  if (devices) {
    if (*devices == 0) return std::optional<ContainerDeviceRequest>();
    if (*devices < 0) {
      return InvalidArgument(config.resource_count_name + " must be greater than 0");
    }
    if (*devices > kAwsNeuronMaxDevicesPerContainer) {
      return TooManyDevices(config.resource_count_name, *devices);
    }
    req.count = static_cast<int32_t>(*devices);
    req.cores_percent = CoreMask(kAwsNeuronRequestCoresPerDevice);
  } else {
    const std::string& name = config.resource_core_name;
    HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> cores, Amount(limits, requests, name));
    if (!cores) return std::optional<ContainerDeviceRequest>();
    if (*cores <= 0) return InvalidArgument(name + " must be greater than 0");
    int64_t count = 1;
    int64_t per_device = *cores;
    if (*cores > kAwsNeuronRequestCoresPerDevice) {
      if (*cores % kAwsNeuronRequestCoresPerDevice != 0) {
        return InvalidArgument(name + " must be 1 or a multiple of " +
                               std::to_string(kAwsNeuronRequestCoresPerDevice) + ", got " +
                               std::to_string(*cores));
      }
      count = *cores / kAwsNeuronRequestCoresPerDevice;
      per_device = kAwsNeuronRequestCoresPerDevice;
    }
    if (count > kAwsNeuronMaxDevicesPerContainer) return TooManyDevices(name, count);
    req.count = static_cast<int32_t>(count);
    req.cores_percent = CoreMask(per_device);
    // The device's NeuronCores in the memory field: marks a core allocation (see header).
    req.memory_percent = 100;
  }
  req.index_sets = AwsNeuronIndexSets(req.count);
  return std::optional<ContainerDeviceRequest>(std::move(req));
}

AwsNeuronVendor::AwsNeuronVendor(AwsNeuronConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  keys_.allocated = kAwsNeuronAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> AwsNeuronVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveAwsNeuronRequest(config_, limits, requests);
}

Result<DeviceSelectors> AwsNeuronVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return UuidSelectors(pod_annotations, kAwsNeuronUseUuidAnnotation, kAwsNeuronNoUseUuidAnnotation);
}

Result<std::vector<DeviceInfo>> AwsNeuronVendor::DecodeNode(const NodeFacts& node) const {
  return SynthesizeAwsNeuronDevices(config_, node);
}

Result<ContainerAdmission> AwsNeuronVendor::MutateAdmission(std::string_view /*container_name*/,
                                                            const ResourceList& limits,
                                                            const ResourceList& requests) const {
  ContainerAdmission out;
  out.limits = limits;
  const std::string* devices = FindResource(limits, requests, config_.resource_count_name);
  const bool cores = FindResource(limits, requests, config_.resource_core_name) != nullptr;
  if (devices == nullptr && !cores) return out;
  // HAMi's webhook refuses an explicit 0 device count (its request derivation reads 0 as none).
  if (devices != nullptr) {
    Result<int64_t> value = ParseQuantityInt64(*devices);
    if (value.ok() && *value == 0) {
      return InvalidArgument(config_.resource_count_name + " must be greater than 0");
    }
  }
  HAMI_ASSIGN_OR_RETURN(out.request, DeriveAwsNeuronRequest(config_, limits, requests));
  out.uses_device = true;
  return out;
}

void AwsNeuronVendor::AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                                             int64_t decided_unix_seconds, Annotations* out) const {
  bool any = false;
  bool cores_listed = false;
  std::string ids;
  auto append = [&ids](int64_t id) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(id);
  };
  for (const ContainerDevices& container : devices) {
    for (const ContainerDevice& d : container) {
      any = true;
      const std::optional<int32_t> index = SynthesizedIndex(d.uuid);
      if (!index) continue;
      if (d.used_mem_mib <= 0) {  // a whole device
        append(*index);
        continue;
      }
      const int64_t stride = d.used_mem_mib;
      const int64_t bits = std::min<int64_t>(stride, kAwsNeuronMaxMaskCores);
      for (int64_t bit = 0; bit < bits; ++bit) {
        if ((d.used_cores & (1 << bit)) == 0) continue;
        append(stride * *index + bit);
        cores_listed = true;
      }
    }
  }
  if (!any) return;
  Vendor::AddDecisionAnnotations(devices, node, decided_unix_seconds, out);
  if (ids.empty()) return;
  (*out)[kAwsNeuronIdsAnnotation] = ids;
  if (cores_listed) (*out)[kAwsNeuronResourceTypeAnnotation] = config_.resource_core_name;
  (*out)[kAwsNeuronAllocTimeAnnotation] = std::to_string(decided_unix_seconds * 1'000'000'000);
  (*out)[kAwsNeuronAllocatedFlagAnnotation] = "false";
  (*out)[kAwsNeuronPredicateNodeAnnotation] = node;
}

}  // namespace hami
