#include "device/vendor.h"

#include <limits>

#include "common/strings.h"
#include "device/amd.h"
#include "device/ascend.h"
#include "device/awsneuron.h"
#include "device/biren.h"
#include "device/cambricon.h"
#include "device/codec.h"
#include "device/enflame.h"
#include "device/hygon.h"
#include "device/iluvatar.h"
#include "device/kunlun.h"
#include "device/metax.h"
#include "device/mthreads.h"
#include "device/nvidia.h"
#include "device/quantity.h"
#include "device/vastai.h"

namespace hami {

const std::string* FindResource(const ResourceList& limits, const ResourceList& requests,
                                const std::string& name) {
  if (name.empty()) {
    return nullptr;
  }
  if (auto it = limits.find(name); it != limits.end()) {
    return &it->second;
  }
  if (auto it = requests.find(name); it != requests.end()) {
    return &it->second;
  }
  return nullptr;
}

Result<std::optional<int32_t>> ResourceAmount(const ResourceList& limits,
                                              const ResourceList& requests, const std::string& name,
                                              int32_t unit) {
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  const std::string* text = FindResource(limits, requests, name);
  if (text == nullptr) return std::optional<int32_t>();
  Result<int64_t> value = ParseQuantityInt64(*text);
  if (!value.ok()) return value.status().WithContext(name + " must be a whole number");
  int64_t scaled = 0;
  if (*value < 0 || __builtin_mul_overflow(*value, int64_t{unit}, &scaled) || scaled > kInt32Max) {
    return InvalidArgument(name + " " + QuoteForError(*text) + " is out of range (0.." +
                           std::to_string(kInt32Max / unit) + ")");
  }
  return std::optional<int32_t>(static_cast<int32_t>(scaled));
}

Result<std::optional<ContainerDeviceRequest>> SlotOnlyRequest(const ResourceList& limits,
                                                              const ResourceList& requests,
                                                              const std::string& count_name,
                                                              std::string_view type) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, count_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = std::string(type);
  req.memory_mib = 0;
  req.memory_percent = kMemoryPercentUnset;
  req.cores_percent = 0;
  return std::optional<ContainerDeviceRequest>(req);
}

Result<std::vector<DeviceInfo>> DecodeLegacyRegistration(const Annotations& node_annotations,
                                                         const std::string& key) {
  auto it = node_annotations.find(key);
  if (it == node_annotations.end()) return NotFound("node has no " + key + " annotation");
  Result<std::vector<DeviceInfo>> devices = DecodeNodeDevicesLegacy(it->second);
  if (!devices.ok()) return devices.status().WithContext(key);
  if (devices->empty()) return InvalidArgument(key + ": no device listed");
  return devices;
}

void ReadSelectorPair(const Annotations& pod_annotations, const std::string& use_key,
                      const std::string& nouse_key, SelectorPrecedence precedence,
                      std::vector<std::string>* use, std::vector<std::string>* nouse) {
  auto use_it = pod_annotations.find(use_key);
  if (use_it != pod_annotations.end()) {
    *use = SplitCommaList(use_it->second);
    if (precedence == SelectorPrecedence::kUseWins) return;
  }
  if (auto nouse_it = pod_annotations.find(nouse_key); nouse_it != pod_annotations.end()) {
    *nouse = SplitCommaList(nouse_it->second);
  }
}

Result<std::vector<DeviceInfo>> DecodeJsonRegistration(const Annotations& node_annotations,
                                                       const std::string& key) {
  auto it = node_annotations.find(key);
  if (it == node_annotations.end()) return NotFound("node has no " + key + " annotation");
  Result<std::vector<DeviceInfo>> devices = DecodeNodeDevicesJson(it->second);
  if (!devices.ok()) return devices.status().WithContext(key);
  if (devices->empty()) return InvalidArgument(key + ": no device listed");
  return devices;
}

Result<std::vector<DeviceInfo>> Vendor::DecodeRegistration(
    const Annotations& /*node_annotations*/) const {
  return NotFound(std::string(CommonWord()) + " devices are not registered by annotation");
}

Result<std::optional<PodDevices>> Vendor::DecodeAllocation(
    const Annotations& pod_annotations) const {
  const std::string& key = AnnotationKeys().allocated;
  auto it = pod_annotations.find(key);
  if (key.empty() || it == pod_annotations.end() || it->second.empty()) {
    return std::optional<PodDevices>();
  }
  Result<PodDevices> devices = DecodePodDevices(it->second);
  if (!devices.ok()) return devices.status().WithContext(key);
  return std::optional<PodDevices>(std::move(*devices));
}

void Vendor::AddDecisionAnnotations(const PodDevices& devices, const std::string& /*node*/,
                                    int64_t /*decided_unix_seconds*/, Annotations* out) const {
  const std::string encoded = EncodePodDevices(devices);
  const VendorAnnotationKeys& keys = AnnotationKeys();
  if (!keys.to_allocate.empty()) (*out)[keys.to_allocate] = encoded;
  if (!keys.allocated.empty()) (*out)[keys.allocated] = encoded;
}

Result<ContainerAdmission> Vendor::MutateAdmission(std::string_view /*container_name*/,
                                                   const ResourceList& limits,
                                                   const ResourceList& requests) const {
  ContainerAdmission out;
  out.limits = limits;
  out.uses_device = !ResourceNames().count.empty() && limits.count(ResourceNames().count) > 0;
  HAMI_ASSIGN_OR_RETURN(out.request, RequestFromResources(limits, requests));
  return out;
}

Status VendorRegistry::Register(std::unique_ptr<Vendor> vendor) {
  if (!vendor) {
    return InvalidArgument("cannot register a null vendor");
  }
  std::string key(vendor->CommonWord());
  if (key.empty()) {
    return InvalidArgument("cannot register a vendor with an empty CommonWord");
  }
  if (vendors_.count(key) > 0) {
    return FailedPrecondition("vendor \"" + key + "\" is already registered");
  }
  vendors_.emplace(std::move(key), std::move(vendor));
  return Status::Ok();
}

const Vendor* VendorRegistry::Find(std::string_view common_word) const {
  auto it = vendors_.find(common_word);
  return it == vendors_.end() ? nullptr : it->second.get();
}

std::vector<const Vendor*> VendorRegistry::Vendors() const {
  std::vector<const Vendor*> out;
  out.reserve(vendors_.size());
  for (const auto& [key, vendor] : vendors_) {
    out.push_back(vendor.get());
  }
  return out;
}

Result<VendorRegistry> MakeVendorRegistry(const DeviceConfig& config) {
  VendorRegistry registry;
  if (config.nvidia) {
    HAMI_RETURN_IF_ERROR(ValidateNvidiaConfig(*config.nvidia));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<NvidiaVendor>(*config.nvidia)));
  }
  if (config.hygon) {
    HAMI_RETURN_IF_ERROR(ValidateHygonConfig(*config.hygon));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<HygonVendor>(*config.hygon)));
  }
  if (config.enable_iluvatar) {
    for (size_t i = 0; i < config.iluvatars.size(); ++i) {
      HAMI_RETURN_IF_ERROR(ValidateIluvatarConfig(config.iluvatars[i], i));
      HAMI_RETURN_IF_ERROR(
          registry.Register(std::make_unique<IluvatarVendor>(config.iluvatars[i])));
    }
  }
  if (config.amd) {
    HAMI_RETURN_IF_ERROR(ValidateAmdConfig(*config.amd));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<AmdVendor>(*config.amd)));
  }
  if (config.biren) {
    HAMI_RETURN_IF_ERROR(ValidateBirenConfig(*config.biren));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<BirenVendor>(*config.biren)));
  }
  if (config.cambricon) {
    HAMI_RETURN_IF_ERROR(ValidateCambriconConfig(*config.cambricon));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<CambriconVendor>(*config.cambricon)));
  }
  if (config.mthreads) {
    HAMI_RETURN_IF_ERROR(ValidateMthreadsConfig(*config.mthreads));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<MthreadsVendor>(*config.mthreads)));
  }
  if (config.enflame) {
    // HAMi's enflame: section enables both the whole-card GCU and the DRS vGCU devices.
    HAMI_RETURN_IF_ERROR(ValidateEnflameConfig(*config.enflame));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<GcuVendor>(*config.enflame)));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<EnflameDrsVendor>(*config.enflame)));
  }
  if (config.enable_ascend && config.ascend) {
    HAMI_RETURN_IF_ERROR(ValidateAscendConfig(*config.ascend));
    for (const AscendChipConfig& chip : config.ascend->configs) {
      HAMI_RETURN_IF_ERROR(
          registry.Register(std::make_unique<AscendVendor>(chip, config.ascend->hami_vnpu_core)));
    }
  }
  if (config.metax) {
    HAMI_RETURN_IF_ERROR(ValidateMetaxConfig(*config.metax));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<MetaxGpuVendor>(*config.metax)));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<MetaxSgpuVendor>(*config.metax)));
  }
  if (config.vastai) {
    HAMI_RETURN_IF_ERROR(ValidateVastaiConfig(*config.vastai));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<VastaiVendor>(*config.vastai)));
  }
  if (config.kunlun) {
    // HAMi's kunlun: section enables both whole XPUs ("kunlun") and vXPUs ("XPU").
    HAMI_RETURN_IF_ERROR(ValidateKunlunConfig(*config.kunlun));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<KunlunVendor>(*config.kunlun)));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<KunlunVxpuVendor>(*config.kunlun)));
  }
  if (config.awsneuron) {
    HAMI_RETURN_IF_ERROR(ValidateAwsNeuronConfig(*config.awsneuron));
    HAMI_RETURN_IF_ERROR(registry.Register(std::make_unique<AwsNeuronVendor>(*config.awsneuron)));
  }
  return registry;
}

Result<std::vector<ContainerDeviceRequest>> RequestsForContainer(const VendorRegistry& registry,
                                                                 const ResourceList& limits,
                                                                 const ResourceList& requests) {
  std::vector<ContainerDeviceRequest> out;
  for (const Vendor* vendor : registry.Vendors()) {
    Result<std::optional<ContainerDeviceRequest>> r =
        vendor->RequestFromResources(limits, requests);
    if (!r.ok()) {
      return r.status().WithContext(std::string(vendor->CommonWord()));
    }
    if (r->has_value()) {
      out.push_back(**r);
    }
  }
  return out;
}

}  // namespace hami
