#include "device/iluvatar.h"

#include "common/strings.h"
#include "device/uuid_selectors.h"

namespace hami {
Result<std::optional<ContainerDeviceRequest>> DeriveIluvatarRequest(const IluvatarConfig& config,
                                                                    const ResourceList& limits,
                                                                    const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, config.resource_count_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_ASSIGN_OR_RETURN(
      std::optional<int32_t> memory,
      ResourceAmount(limits, requests, config.resource_memory_name, kIluvatarMemoryUnitMib));
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> cores,
                        ResourceAmount(limits, requests, config.resource_core_name, 1));
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = config.common_word;
  req.memory_mib = memory.value_or(0);
  req.memory_percent = req.memory_mib == 0 ? 100 : kMemoryPercentUnset;
  req.cores_percent = cores.value_or(0);
  return std::optional<ContainerDeviceRequest>(req);
}

IluvatarVendor::IluvatarVendor(IluvatarConfig config) : config_(std::move(config)) {
  const std::string& cw = config_.common_word;
  names_.count = config_.resource_count_name;
  names_.memory = config_.resource_memory_name;
  names_.cores = config_.resource_core_name;
  keys_.node_register = "hami.io/node-" + cw + "-register";
  keys_.node_handshake = "hami.io/node-handshake-" + cw;
  keys_.to_allocate = "hami.io/" + cw + "-devices-to-allocate";
  keys_.allocated = "hami.io/" + cw + "-devices-allocated";
  use_uuid_key_ = "hami.io/use-" + cw + "-uuid";
  no_use_uuid_key_ = "hami.io/no-use-" + cw + "-uuid";
}

Result<std::optional<ContainerDeviceRequest>> IluvatarVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveIluvatarRequest(config_, limits, requests);
}

Result<DeviceSelectors> IluvatarVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return UuidSelectors(pod_annotations, use_uuid_key_, no_use_uuid_key_);
}

Result<std::vector<DeviceInfo>> IluvatarVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  return DecodeLegacyRegistration(node_annotations, keys_.node_register);
}

Result<ContainerAdmission> IluvatarVendor::MutateAdmission(std::string_view container_name,
                                                           const ResourceList& limits,
                                                           const ResourceList& requests) const {
  ContainerAdmission out;
  out.limits = limits;
  auto count = limits.find(config_.resource_count_name);
  if (count == limits.end()) return out;
  out.uses_device = true;
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> n,
                        ResourceAmount(limits, {}, config_.resource_count_name, 1));
  if (n && *n > 1) out.limits[config_.resource_core_name] = std::to_string(int64_t{*n} * 100);
  if (!container_name.empty()) {
    out.env_defaults.emplace_back(kIluvatarContainerNameEnv, std::string(container_name));
  }
  HAMI_ASSIGN_OR_RETURN(out.request, DeriveIluvatarRequest(config_, out.limits, requests));
  return out;
}

}  // namespace hami
