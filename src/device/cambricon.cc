#include "device/cambricon.h"

#include "device/synthesized.h"
#include "device/uuid_selectors.h"

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
  CapacityCards spec;
  spec.count_resource = config.resource_core_name;  // 100 per card
  spec.per_card = 100;
  spec.memory_resource = config.resource_memory_name;
  spec.memory_unit_mib = kCambriconMemoryUnitMib;
  spec.id_infix = "-cambricon-mlu-";
  spec.count = 100;
  spec.devcore = 100;
  spec.type = kCambriconCommonWord;
  return SynthesizeFromCapacity(node, spec);
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
  return UuidSelectors(pod_annotations, kCambriconUseUuidAnnotation, kCambriconNoUseUuidAnnotation);
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
