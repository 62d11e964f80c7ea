#include "device/cambricon.h"

#include <limits>

#include "device/synthesized.h"

namespace hami {

Result<std::optional<ContainerDeviceRequest>> DeriveCambriconRequest(const CambriconConfig& config,
                                                                     const ResourceList& limits,
                                                                     const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, config.resource_count_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_ASSIGN_OR_RETURN(
      std::optional<int32_t> memory,
      ResourceAmount(limits, requests, config.resource_memory_name, kCambriconMemoryUnitMib));
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> cores,
                        ResourceAmount(limits, requests, config.resource_core_name, 1));
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = kCambriconCommonWord;
  req.memory_mib = memory.value_or(0);
  // HAMi asks for 100 % of the card's memory when no memory is given.
  req.memory_percent = req.memory_mib == 0 ? 100 : kMemoryPercentUnset;
  req.cores_percent = cores.value_or(100);
  return std::optional<ContainerDeviceRequest>(req);
}

Result<std::vector<DeviceInfo>> SynthesizeCambriconDevices(const CambriconConfig& config,
                                                           const NodeFacts& node) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> cards,
                        CapacityAmount(node, config.resource_core_name));
  if (!cards || *cards == 0) {
    return NotFound("node has no " + config.resource_core_name + " capacity");
  }
  HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> vmemory,
                        CapacityAmount(node, config.resource_memory_name));
  const int64_t n = (*cards + 99) / 100;  // HAMi: one card per started 100 of vcore
  if (n > kMaxSynthesizedDevices) {
    return InvalidArgument("capacity " + config.resource_core_name + " " + std::to_string(*cards) +
                           " means more than " + std::to_string(kMaxSynthesizedDevices) + " cards");
  }
  // memoryTotal * 256 * 100 / cards, as HAMi computes it (vmemory is all cards together).
  // An overflow of the product means far more than int32 MiB per card (cards <= 102400).
  int64_t total = 0;
  const bool overflow =
      __builtin_mul_overflow(vmemory.value_or(0), int64_t{kCambriconMemoryUnitMib} * 100, &total);
  const int64_t per_card = overflow ? std::numeric_limits<int64_t>::max() : total / *cards;
  if (per_card > std::numeric_limits<int32_t>::max()) {
    return InvalidArgument("capacity " + config.resource_memory_name +
                           " gives more than int32 MiB per card");
  }
  std::vector<DeviceInfo> devices;
  devices.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    DeviceInfo d;
    d.id = node.name + "-cambricon-mlu-" + std::to_string(i);
    d.index = i;
    d.count = 100;
    d.devmem_mib = static_cast<int32_t>(per_card);
    d.devcore = 100;
    d.type = kCambriconCommonWord;
    d.health = true;
    devices.push_back(std::move(d));
  }
  return devices;
}

CambriconVendor::CambriconVendor(CambriconConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  names_.memory = config_.resource_memory_name;
  names_.cores = config_.resource_core_name;
  keys_.to_allocate = kCambriconToAllocateAnnotation;
  keys_.allocated = kCambriconAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> CambriconVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveCambriconRequest(config_, limits, requests);
}

Result<DeviceSelectors> CambriconVendor::ParseSelectors(const Annotations& pod_annotations) const {
  DeviceSelectors s;
  ReadSelectorPair(pod_annotations, kCambriconUseUuidAnnotation, kCambriconNoUseUuidAnnotation,
                   SelectorPrecedence::kUseWins, &s.use_uuids, &s.nouse_uuids);
  return s;
}

Result<std::vector<DeviceInfo>> CambriconVendor::DecodeNode(const NodeFacts& node) const {
  return SynthesizeCambriconDevices(config_, node);
}

void CambriconVendor::AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                                             int64_t decided_unix_seconds, Annotations* out) const {
  for (const ContainerDevices& container : devices) {
    if (container.empty()) continue;
    const ContainerDevice& first = container.front();
    Vendor::AddDecisionAnnotations(devices, node, decided_unix_seconds, out);
    (*out)[kCambriconDsmluAssignedAnnotation] = "false";
    (*out)[kCambriconDsmluProfileAnnotation] =
        std::to_string(SynthesizedIndex(first.uuid).value_or(0)) + "_" +
        std::to_string(first.used_cores) + "_" +
        std::to_string(first.used_mem_mib / kCambriconMemoryUnitMib);
    return;
  }
}

}  // namespace hami
