#include "device/amd.h"

#include "common/strings.h"

namespace hami {
Result<std::optional<ContainerDeviceRequest>> DeriveAmdRequest(const AmdConfig& config,
                                                               const ResourceList& limits,
                                                               const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, {}, config.resource_count_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> memory,
                        ResourceAmount(limits, {}, config.resource_memory_name, 1));
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> cores,
                        ResourceAmount(limits, requests, config.resource_core_name, 1));
  if (cores && (*cores < 1 || *cores > 100)) {
    return InvalidArgument(config.resource_core_name + " " + std::to_string(*cores) +
                           " is out of range (must be an integer between 1 and 100)");
  }
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = kAmdCommonWord;
  req.memory_mib = memory.value_or(0);
  // HAMi's AMD fit takes the device's whole memory when no memory is asked for.
  req.memory_percent = req.memory_mib == 0 ? 100 : kMemoryPercentUnset;
  req.cores_percent = cores.value_or(100);
  return std::optional<ContainerDeviceRequest>(req);
}

DeviceSelectors ParseAmdSelectors(const Annotations& pod_annotations) {
  DeviceSelectors s;
  ReadSelectorPair(pod_annotations, kAmdUseTypeAnnotation, kAmdNoUseTypeAnnotation,
                   SelectorPrecedence::kBoth, &s.use_types, &s.nouse_types);
  ReadSelectorPair(pod_annotations, kAmdUseUuidAnnotation, kAmdNoUseUuidAnnotation,
                   SelectorPrecedence::kBoth, &s.use_uuids, &s.nouse_uuids);
  return s;
}

AmdVendor::AmdVendor(AmdConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  names_.memory = config_.resource_memory_name;
  names_.cores = config_.resource_core_name;
  keys_.node_register = kAmdRegisterAnnotation;
  keys_.to_allocate = kAmdToAllocateAnnotation;
  keys_.allocated = kAmdAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> AmdVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveAmdRequest(config_, limits, requests);
}

Result<DeviceSelectors> AmdVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return ParseAmdSelectors(pod_annotations);
}

Result<std::vector<DeviceInfo>> AmdVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  return DecodeJsonRegistration(node_annotations, keys_.node_register);
}

Result<ContainerAdmission> AmdVendor::MutateAdmission(std::string_view /*container_name*/,
                                                      const ResourceList& limits,
                                                      const ResourceList& requests) const {
  ContainerAdmission out;
  out.limits = limits;
  for (const std::string* name :
       {&config_.resource_count_name, &config_.resource_memory_name, &config_.resource_core_name}) {
    out.uses_device = out.uses_device || (!name->empty() && limits.count(*name) > 0);
  }
  if (limits.count(config_.resource_count_name) > 0) {
    if (auto cores = limits.find(config_.resource_core_name); cores != limits.end()) {
      Result<std::optional<int32_t>> pct =
          ResourceAmount(limits, {}, config_.resource_core_name, 1);
      if (!pct.ok() || **pct < 1 || **pct > 100) {
        return InvalidArgument(config_.resource_core_name +
                               " must be an integer percentage between 1 and 100");
      }
    }
  }
  HAMI_ASSIGN_OR_RETURN(out.request, DeriveAmdRequest(config_, limits, requests));
  return out;
}

}  // namespace hami
