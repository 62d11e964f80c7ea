#include "device/ascend.h"

#include <algorithm>
#include <utility>

#include "device/codec.h"
#include "device/go_json.h"
#include "device/uuid_selectors.h"

namespace hami {
namespace {

// Every choice of `modules` whole modules out of kAscendSuperPodMaxModules, each written as its
// NPU indexes (2m, 2m+1), in lexicographic order of the module numbers.
std::vector<std::vector<int32_t>> ModuleCombinations(int32_t modules) {
  std::vector<std::vector<int32_t>> out;
  std::vector<int32_t> chosen;
  auto pick = [&](auto&& self, int32_t next) -> void {
    if (static_cast<int32_t>(chosen.size()) == modules) {
      std::vector<int32_t> set;
      for (int32_t m : chosen) {
        set.push_back(2 * m);
        set.push_back(2 * m + 1);
      }
      out.push_back(std::move(set));
      return;
    }
    for (int32_t m = next; m < kAscendSuperPodMaxModules; ++m) {
      chosen.push_back(m);
      self(self, m + 1);
      chosen.pop_back();
    }
  };
  pick(pick, 0);
  return out;
}

// Whether the API server would still accept `name` = `value` in limits: requests either lack
// the resource or hold the same amount.
bool LimitMayBecome(const ResourceList& requests, const std::string& name,
                    const std::string& value) {
  auto it = requests.find(name);
  return it == requests.end() || it->second == value;
}

}  // namespace

AscendVendor::AscendVendor(AscendChipConfig chip, bool hami_vnpu_core)
    : config_(std::move(chip)), hami_vnpu_core_(hami_vnpu_core) {
  std::stable_sort(
      config_.templates.begin(), config_.templates.end(),
      [](const AscendTemplate& a, const AscendTemplate& b) { return a.memory < b.memory; });
  const std::string& cw = config_.common_word;
  pairs_modules_ = cw == kAscend910CCommonWord && config_.super_pod;
  names_.count = config_.resource_name;
  names_.memory = config_.resource_memory_name;
  names_.cores = config_.resource_core_name;
  keys_.node_register = "hami.io/node-register-" + cw;
  keys_.node_handshake = "hami.io/node-handshake-" + cw;
  keys_.to_allocate = "hami.io/" + cw + "-devices-to-allocate";
  keys_.allocated = "hami.io/" + cw + "-devices-allocated";
  use_uuid_key_ = "hami.io/use-" + cw + "-uuid";
  no_use_uuid_key_ = "hami.io/no-use-" + cw + "-uuid";
  runtime_info_key_ = "huawei.com/" + cw;
  if (pairs_modules_) {
    for (int32_t k = 0; k <= kAscendSuperPodMaxModules; ++k) {
      pair_sets_.push_back(std::make_shared<const std::vector<IndexSetRule>>(
          std::vector<IndexSetRule>{IndexSetRule{"", ModuleCombinations(k)}}));
    }
  }
}

std::optional<AscendMemoryTrim> AscendVendor::TrimMemory(int64_t memory_mib) const {
  for (const AscendTemplate& t : config_.templates) {
    if (memory_mib <= t.memory) return AscendMemoryTrim{t.memory, t.name};
  }
  if (memory_mib <= config_.memory_capacity) {
    return AscendMemoryTrim{config_.memory_allocatable, ""};
  }
  return std::nullopt;
}

Result<bool> AscendVendor::HamiCoreRequested(const ResourceList& limits,
                                             const ResourceList& requests) const {
  if (config_.resource_core_name.empty()) return false;
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> cores,
                        ResourceAmount(limits, requests, config_.resource_core_name, 1));
  if (!cores || *cores == 0) return false;
  if (!hami_vnpu_core_) {
    return InvalidArgument(config_.resource_core_name +
                           " is only supported in hami-core (soft split) mode, and "
                           "vnpus.hamiVnpuCore is off");
  }
  return true;
}

Result<std::optional<ContainerDeviceRequest>> AscendVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, config_.resource_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_ASSIGN_OR_RETURN(const bool hami_core, HamiCoreRequested(limits, requests));
  HAMI_ASSIGN_OR_RETURN(
      std::optional<int32_t> memory,
      ResourceAmount(limits, requests, config_.resource_memory_name, config_.memory_factor));

  ContainerDeviceRequest req;
  req.count = *count;
  req.type = config_.common_word;
  if (memory) {
    if (hami_core) {
      req.memory_mib = *memory;
    } else {
      std::optional<AscendMemoryTrim> trim = TrimMemory(*memory);
      if (!trim) {
        return InvalidArgument(config_.resource_memory_name + " " + std::to_string(*memory) +
                               " MiB is more than one " + config_.common_word + " has (" +
                               std::to_string(config_.memory_capacity) + " MiB)");
      }
      req.memory_mib = trim->memory_mib;
    }
  }
  req.memory_percent = req.memory_mib == 0 ? 100 : kMemoryPercentUnset;
  if (hami_core) {
    HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> cores,
                          ResourceAmount(limits, requests, config_.resource_core_name, 1));
    req.cores_percent = std::min(*cores, 100);
  }
  if (pairs_modules_ && req.count > 1) {
    if (req.count % 2 != 0) {
      return InvalidArgument(config_.resource_name + ": " + config_.common_word +
                             " NPUs are allocated in module pairs: ask 1 or an even number, got " +
                             std::to_string(req.count));
    }
    const int32_t modules = req.count / 2;
    static const auto no_sets = std::make_shared<const std::vector<IndexSetRule>>(
        std::vector<IndexSetRule>{IndexSetRule{}});
    req.index_sets = modules <= kAscendSuperPodMaxModules
                         ? pair_sets_[static_cast<size_t>(modules)]
                         : no_sets;  // more NPUs than a super-pod node has: fits nowhere
  }
  return std::optional<ContainerDeviceRequest>(std::move(req));
}

Result<DeviceSelectors> AscendVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return UuidSelectors(pod_annotations, use_uuid_key_, no_use_uuid_key_);
}

Result<std::vector<DeviceInfo>> AscendVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  HAMI_ASSIGN_OR_RETURN(std::vector<DeviceInfo> devices,
                        DecodeJsonRegistration(node_annotations, keys_.node_register));
  for (DeviceInfo& d : devices) d.devcore = 100;
  return devices;
}

void AscendVendor::AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                                          int64_t decided_unix_seconds, Annotations* out) const {
  // HAMi's json.Marshal of []RuntimeInfo: fields in struct order UUID, temp, memory, core, each
  // omitted when empty or zero.
  std::string info = "[";
  bool any = false;
  for (const ContainerDevices& container : devices) {
    for (const ContainerDevice& d : container) {
      if (any) info += ',';
      any = true;
      info += "{\"UUID\":";
      go_json::AppendGoJsonString(info, d.uuid);
      if (d.used_cores > 0) {
        if (d.used_mem_mib != 0) info += ",\"memory\":" + std::to_string(d.used_mem_mib);
        info += ",\"core\":" + std::to_string(d.used_cores);
      } else if (std::optional<AscendMemoryTrim> trim = TrimMemory(d.used_mem_mib);
                 trim && !trim->template_name.empty()) {
        info += ",\"temp\":";
        go_json::AppendGoJsonString(info, trim->template_name);
      }
      info += '}';
    }
  }
  if (!any) return;
  info += ']';
  Vendor::AddDecisionAnnotations(devices, node, decided_unix_seconds, out);
  (*out)[kAscendPredicateTimeAnnotation] = std::to_string(decided_unix_seconds);
  (*out)[runtime_info_key_] = std::move(info);
}

Result<ContainerAdmission> AscendVendor::MutateAdmission(std::string_view /*container_name*/,
                                                         const ResourceList& limits,
                                                         const ResourceList& requests) const {
  ContainerAdmission out;
  out.limits = limits;
  if (limits.find(config_.resource_name) == limits.end()) {
    if (config_.overwrite_env) {
      const bool asks_huawei = std::any_of(limits.begin(), limits.end(), [](const auto& entry) {
        return entry.first.rfind("huawei.com/", 0) == 0;
      });
      if (!asks_huawei) out.env.emplace_back(kAscendVisibleDevicesEnv, "");
    }
    return out;
  }
  out.uses_device = true;
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, {}, config_.resource_name, 1));
  int32_t npus = count.value_or(0);
  if (pairs_modules_ && npus == 1) {
    // A module (2 NPUs) is the smallest unit a super-pod hands out.
    if (!LimitMayBecome(requests, config_.resource_name, "2")) {
      return InvalidArgument(config_.resource_name + ": " + config_.common_word +
                             " NPUs are allocated in module pairs; ask 2 (limits and requests), "
                             "got 1");
    }
    npus = 2;
    out.limits[config_.resource_name] = "2";
  } else if (pairs_modules_ && npus % 2 != 0) {
    return InvalidArgument(config_.common_word + " device request must be 1 or 2*n, got " +
                           std::to_string(npus));
  }
  HAMI_ASSIGN_OR_RETURN(const bool hami_core, HamiCoreRequested(limits, requests));

  int64_t memory_mib = config_.memory_allocatable;
  auto memory_limit = limits.find(config_.resource_memory_name);
  if (memory_limit != limits.end()) {
    HAMI_ASSIGN_OR_RETURN(
        std::optional<int32_t> asked,
        ResourceAmount(limits, {}, config_.resource_memory_name, config_.memory_factor));
    if (hami_core) {
      memory_mib = *asked;
    } else {
      std::optional<AscendMemoryTrim> trim = TrimMemory(*asked);
      if (!trim) {
        return InvalidArgument(config_.resource_memory_name + " " + memory_limit->second +
                               " is invalid: more than one " + config_.common_word + " has (" +
                               std::to_string(config_.memory_capacity) + " MiB)");
      }
      memory_mib = trim->memory_mib;
    }
  }
  if (npus > 1 && memory_mib != config_.memory_allocatable) {
    return InvalidArgument(
        config_.resource_memory_name + ": a vNPU is not supported for multiple devices (ask " +
        std::to_string(config_.memory_allocatable) + " MiB or no memory for whole NPUs)");
  }
  if (config_.memory_factor == 1) {
    const std::string value = std::to_string(memory_mib);
    if (LimitMayBecome(requests, config_.resource_memory_name, value)) {
      out.limits[config_.resource_memory_name] = value;
    }
  }
  HAMI_ASSIGN_OR_RETURN(out.request, RequestFromResources(out.limits, requests));
  return out;
}

}  // namespace hami
