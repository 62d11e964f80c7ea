#include "device/nvidia.h"

#include <limits>

#include "common/strings.h"
#include "device/annotations.h"
#include "device/codec.h"
#include "device/quantity.h"

namespace hami {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

std::string Describe(const std::string& resource, const std::string& value) {
  return resource + " " + QuoteForError(value);
}

bool UsesNvidia(const NvidiaConfig& config, const ResourceList& limits,
                const ResourceList& requests) {
  for (const std::string* name :
       {&config.resource_count_name, &config.resource_memory_name,
        &config.resource_memory_percentage_name, &config.resource_core_name}) {
    if (limits.count(*name) || requests.count(*name)) return true;
  }
  return false;
}

// A percentage or core count must be a whole number in 0..100 (HAMi: webhook rejects
// percentages outside it; we apply the same to cores instead of clamping silently).
Status CheckPercent(const ResourceList& limits, const ResourceList& requests,
                    const std::string& name) {
  const std::string* text = FindResource(limits, requests, name);
  if (text == nullptr) return Status::Ok();
  auto value = ParseQuantityInt64(*text);
  if (!value.ok()) return InvalidArgument(name + ": " + value.status().message());
  if (*value < 0 || *value > 100) {
    return InvalidArgument(name + " must be between 0 and 100, got " + *text);
  }
  return Status::Ok();
}

}  // namespace

Result<NvidiaRequestDerivation> DeriveNvidiaRequest(const NvidiaConfig& config,
                                                    const ResourceList& limits,
                                                    const ResourceList& requests) {
  NvidiaRequestDerivation out;
  const std::string* count_text = FindResource(limits, requests, config.resource_count_name);
  if (count_text == nullptr) {
    return out;
  }
  Result<int64_t> count = ParseQuantityInt64(*count_text);
  if (!count.ok()) {
    return count.status().WithContext(config.resource_count_name + " must be a whole number");
  }
  if (*count < 0 || *count > kInt32Max) {
    return InvalidArgument(Describe(config.resource_count_name, *count_text) +
                           " is out of range (0.." + std::to_string(kInt32Max) + " devices)");
  }
  if (*count == 0) {
    return out;
  }

  ContainerDeviceRequest req;
  req.count = static_cast<int32_t>(*count);
  req.type = kNvidiaCommonWord;

  int64_t memory_mib = 0;
  if (const std::string* mem = FindResource(limits, requests, config.resource_memory_name)) {
    Result<int64_t> v = ParseQuantityInt64(*mem);
    int64_t scaled = 0;
    if (!v.ok()) {
      out.warnings.push_back(Describe(config.resource_memory_name, *mem) +
                             " ignored: " + v.status().message());
    } else if (*v < 0) {
      out.warnings.push_back(Describe(config.resource_memory_name, *mem) +
                             " ignored: memory cannot be negative");
    } else if (__builtin_mul_overflow(*v, int64_t{config.memory_factor}, &scaled) ||
               scaled > kInt32Max) {
      out.warnings.push_back(Describe(config.resource_memory_name, *mem) + " ignored: times " +
                             "memoryFactor " + std::to_string(config.memory_factor) +
                             " it exceeds " + std::to_string(kInt32Max) + " MiB");
    } else {
      memory_mib = scaled;
    }
  }

  int32_t percent = kMemoryPercentUnset;
  if (const std::string* pct =
          FindResource(limits, requests, config.resource_memory_percentage_name)) {
    Result<int64_t> v = ParseQuantityInt64(*pct);
    if (!v.ok()) {
      out.warnings.push_back(Describe(config.resource_memory_percentage_name, *pct) +
                             " ignored: " + v.status().message());
    } else if (*v > 100) {
      out.warnings.push_back(Describe(config.resource_memory_percentage_name, *pct) +
                             " clamped to 100");
      percent = 100;
    } else if (*v > 0) {
      percent = static_cast<int32_t>(*v);
    } else if (*v < 0) {
      out.warnings.push_back(Describe(config.resource_memory_percentage_name, *pct) +
                             " ignored: a percentage cannot be negative");
    }
  }

  if (percent == kMemoryPercentUnset && memory_mib == 0) {
    if (config.default_memory_mib != 0) {
      memory_mib = config.default_memory_mib;
    } else {
      percent = 100;
    }
  }
  req.memory_mib = static_cast<int32_t>(memory_mib);
  req.memory_percent = percent;

  req.cores_percent = config.default_cores_percent;
  if (const std::string* cores = FindResource(limits, requests, config.resource_core_name)) {
    Result<int64_t> v = ParseQuantityInt64(*cores);
    if (!v.ok()) {
      out.warnings.push_back(Describe(config.resource_core_name, *cores) +
                             " ignored: " + v.status().message());
    } else if (*v < 0) {
      out.warnings.push_back(Describe(config.resource_core_name, *cores) +
                             " ignored: cores cannot be negative");
    } else if (*v > 100) {
      out.warnings.push_back(Describe(config.resource_core_name, *cores) + " clamped to 100");
      req.cores_percent = 100;
    } else {
      req.cores_percent = static_cast<int32_t>(*v);
    }
  }
  out.request = req;
  return out;
}

bool NeedsWholeCardCores(const NvidiaConfig& config, const ResourceList& limits,
                         const ResourceList& requests) {
  if (FindResource(limits, requests, config.resource_count_name) == nullptr) {
    return false;
  }
  if (FindResource(limits, requests, config.resource_core_name) != nullptr) {
    return false;
  }
  const std::string* pct = FindResource(limits, requests, config.resource_memory_percentage_name);
  if (pct != nullptr) {
    Result<int64_t> v = ParseQuantityInt64(*pct);
    return v.ok() && *v == 100;
  }
  return FindResource(limits, requests, config.resource_memory_name) == nullptr;
}

ResourceList ApplyNvidiaWebhookDefaults(const NvidiaConfig& config, const ResourceList& limits,
                                        const ResourceList& requests) {
  ResourceList out = limits;
  if (FindResource(out, requests, config.resource_count_name) == nullptr &&
      config.default_gpu_num > 0) {
    const bool wants_gpu =
        FindResource(out, requests, config.resource_memory_name) != nullptr ||
        FindResource(out, requests, config.resource_core_name) != nullptr ||
        FindResource(out, requests, config.resource_memory_percentage_name) != nullptr;
    if (wants_gpu) {
      out[config.resource_count_name] = std::to_string(config.default_gpu_num);
    }
  }
  if (NeedsWholeCardCores(config, out, requests)) {
    out[config.resource_core_name] = "100";
  }
  return out;
}

Result<NvidiaRequestDerivation> DeriveNvidiaRequestAfterWebhook(const NvidiaConfig& config,
                                                                const ResourceList& limits,
                                                                const ResourceList& requests) {
  return DeriveNvidiaRequest(config, ApplyNvidiaWebhookDefaults(config, limits, requests),
                             requests);
}

Result<DeviceSelectors> ParseNvidiaSelectors(const Annotations& pod_annotations) {
  DeviceSelectors s;
  auto get = [&](const char* key) -> const std::string* {
    auto it = pod_annotations.find(key);
    return it == pod_annotations.end() ? nullptr : &it->second;
  };
  ReadSelectorPair(pod_annotations, kNvidiaUseGpuTypeAnnotation, kNvidiaNoUseGpuTypeAnnotation,
                   SelectorPrecedence::kBoth, &s.use_types, &s.nouse_types);
  ReadSelectorPair(pod_annotations, kNvidiaUseGpuUuidAnnotation, kNvidiaNoUseGpuUuidAnnotation,
                   SelectorPrecedence::kBoth, &s.use_uuids, &s.nouse_uuids);
  if (const std::string* v = get(kNvidiaVgpuModeAnnotation)) {
    s.vgpu_mode = std::string(Trim(*v));
  }
  if (const std::string* v = get(kNvidiaNumaBindAnnotation)) {
    std::string_view text = Trim(*v);
    if (!text.empty()) {
      std::optional<bool> b = ParseGoBool(text);
      if (!b) {
        return InvalidArgument(std::string("annotation ") + kNvidiaNumaBindAnnotation + " value " +
                               QuoteForError(*v) + " is not a boolean (true/false/1/0/t/f)");
      }
      s.numa_bind = *b;
    }
  }
  return s;
}

NvidiaVendor::NvidiaVendor(NvidiaConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  names_.memory = config_.resource_memory_name;
  names_.memory_percentage = config_.resource_memory_percentage_name;
  names_.cores = config_.resource_core_name;
  names_.priority = config_.resource_priority_name;
  keys_.node_register = kNodeNvidiaRegisterAnnotation;
  keys_.node_handshake = kNodeHandshakeAnnotation;
  keys_.to_allocate = kVgpuDevicesToAllocateAnnotation;
  keys_.allocated = kVgpuDevicesAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> NvidiaVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  Result<NvidiaRequestDerivation> r = DeriveNvidiaRequest(config_, limits, requests);
  if (!r.ok()) {
    return r.status();
  }
  return std::move(r->request);
}

Result<DeviceSelectors> NvidiaVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return ParseNvidiaSelectors(pod_annotations);
}

Result<ContainerAdmission> NvidiaVendor::MutateAdmission(std::string_view /*container_name*/,
                                                         const ResourceList& limits,
                                                         const ResourceList& requests) const {
  ContainerAdmission out;
  out.limits = limits;
  if (!UsesNvidia(config_, limits, requests)) {
    if (config_.overwrite_env) out.env.emplace_back("NVIDIA_VISIBLE_DEVICES", "none");
    return out;
  }
  for (const std::string* name :
       {&config_.resource_memory_percentage_name, &config_.resource_core_name}) {
    HAMI_RETURN_IF_ERROR(CheckPercent(limits, requests, *name));
  }
  const ResourceList defaulted = ApplyNvidiaWebhookDefaults(config_, limits, requests);
  HAMI_ASSIGN_OR_RETURN(NvidiaRequestDerivation derived,
                        DeriveNvidiaRequest(config_, defaulted, requests));
  if (!derived.warnings.empty()) return InvalidArgument(derived.warnings.front());
  if (!derived.request) return out;  // count 0: no device after all
  out.uses_device = true;
  out.request = std::move(derived.request);
  out.limits = defaulted;
  if (const std::string* priority =
          FindResource(limits, requests, config_.resource_priority_name)) {
    out.env.emplace_back("CUDA_TASK_PRIORITY", *priority);
  }
  if (config_.gpu_core_policy != GpuCorePolicy::kDefault) {
    out.env.emplace_back("GPU_CORE_UTILIZATION_POLICY",
                         std::string(GpuCorePolicyName(config_.gpu_core_policy)));
  }
  return out;
}

Result<std::vector<DeviceInfo>> NvidiaVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  auto it = node_annotations.find(keys_.node_register);
  if (it == node_annotations.end()) {
    return NotFound("node has no " + keys_.node_register + " annotation");
  }
  Result<std::vector<DeviceInfo>> devices = DecodeNodeDevices(it->second);
  if (!devices.ok()) {
    return devices.status().WithContext(keys_.node_register);
  }
  return devices;
}

Result<std::optional<PodDevices>> NvidiaVendor::DecodeAllocation(
    const Annotations& pod_annotations) const {
  HAMI_ASSIGN_OR_RETURN(std::optional<PodDevices> devices,
                        Vendor::DecodeAllocation(pod_annotations));
  auto mig = pod_annotations.find(kVgpuMigAllocationsAnnotation);
  if (!devices || mig == pod_annotations.end()) return devices;
  auto entries = DecodeMigAllocations(mig->second);
  PodDevices with_mig = *devices;
  if (entries.ok() && AttachMigAllocations(*entries, &with_mig).ok()) {
    devices = std::move(with_mig);
  }
  return devices;
}

void NvidiaVendor::AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                                          int64_t decided_unix_seconds, Annotations* out) const {
  Vendor::AddDecisionAnnotations(devices, node, decided_unix_seconds, out);
  const std::vector<MigAllocation> mig = MigAllocationsOf(devices);
  if (!mig.empty()) (*out)[kVgpuMigAllocationsAnnotation] = EncodeMigAllocations(mig);
}

}  // namespace hami
