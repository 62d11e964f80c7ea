#include "device/metax.h"

#include <limits>
#include <set>

#include "common/strings.h"
#include "device/go_json.h"
#include "device/quantity.h"
#include "device/synthesized.h"
#include "device/uuid_selectors.h"

namespace hami {

namespace {

using go_json::OrderedJson;

// A resource's value from limits only (HAMi's sGPU path never reads requests).
Result<std::optional<int32_t>> LimitAmount(const ResourceList& limits, const std::string& name) {
  return ResourceAmount(limits, {}, name, 1);
}

// Whether Go would read a vmemory quantity as bytes: HAMi looks for a letter in it (a suffix
// or an exponent); a plain number is GiB.
bool HasUnit(std::string_view text) {
  for (char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  }
  return false;
}

// metax-tech.com/vmemory in MiB; nullopt when absent.
Result<std::optional<int32_t>> VmemoryMib(const ResourceList& limits, const std::string& name) {
  auto it = limits.find(name);
  if (name.empty() || it == limits.end()) return std::optional<int32_t>();
  if (!HasUnit(it->second)) return ResourceAmount(limits, {}, name, kMetaxSgpuMemoryFactor);
  Result<int64_t> bytes = ParseQuantityInt64(it->second);
  if (!bytes.ok()) return bytes.status().WithContext(name + " must be a whole number");
  const int64_t mib = *bytes / 1024 / 1024;
  if (*bytes < 0 || mib > std::numeric_limits<int32_t>::max()) {
    return InvalidArgument(name + " " + QuoteForError(it->second) + " is out of range");
  }
  return std::optional<int32_t>(static_cast<int32_t>(mib));
}

Result<DeviceInfo> DecodeMetaxSgpuDevice(const OrderedJson& item, int32_t index) {
  if (!item.is_object()) {
    return InvalidArgument("expected an object, got " + go_json::JsonTypeName(item));
  }
  DeviceInfo d;
  d.index = index;
  d.type = kMetaxSgpuCommonWord;
  constexpr int64_t kNoMin = std::numeric_limits<int32_t>::min();
  std::string ignored_text;
  int32_t ignored_int = 0;
  for (const auto& [raw_key, value] : item.items()) {
    // encoding/json matches keys case-insensitively; document order makes the last
    // duplicate win, as in Go. Fields the scheduler does not use are still type-checked:
    // Go's Unmarshal fails the whole annotation on them.
    const std::string key = ToLower(raw_key);
    Status st;
    if (key == "uuid") {
      st = go_json::ReadString(value, "uuid", &d.id);
    } else if (key == "bdf" || key == "model" || key == "qospolicy") {
      st = go_json::ReadString(value, raw_key, &ignored_text);
    } else if (key == "totaldevcount") {
      st = go_json::ReadInt(value, "totalDevCount", 0, &d.count);
    } else if (key == "totalcompute") {
      st = go_json::ReadInt(value, "totalCompute", 0, &d.devcore);
    } else if (key == "totalvram") {
      st = go_json::ReadInt(value, "totalVRam", 0, &d.devmem_mib);
    } else if (key == "availabledevcount" || key == "availablecompute" || key == "availablevram" ||
               key == "linkzone") {
      st = go_json::ReadInt(value, raw_key, kNoMin, &ignored_int);
    } else if (key == "numa") {
      st = go_json::ReadInt(value, "numa", kNoMin, &d.numa);  // MetaX reports -1 when unknown
    } else if (key == "healthy") {
      st = go_json::ReadBool(value, "healthy", &d.health);
    }
    HAMI_RETURN_IF_ERROR(st);
  }
  if (d.id.empty()) return InvalidArgument("device uuid is empty");
  if (d.id.find_first_of(",:;") != std::string::npos) {
    return InvalidArgument("device uuid " + QuoteForError(d.id) +
                           " contains ',', ':' or ';' (not allowed in device ids)");
  }
  return d;
}

}  // namespace

// ===== Whole cards ==========================================================================

Result<std::vector<DeviceInfo>> MetaxGpuDevicesFromCapacity(const NodeFacts& node,
                                                            const std::string& resource) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> count, CapacityAmount(node, resource));
  if (!count || *count == 0) return NotFound("node has no " + resource + " capacity");
  if (*count > kMaxSynthesizedDevices) {
    return InvalidArgument("capacity " + resource + " " + std::to_string(*count) +
                           " is more than the " + std::to_string(kMaxSynthesizedDevices) +
                           " devices a node may have");
  }
  std::vector<DeviceInfo> cards(static_cast<size_t>(*count));
  for (int32_t i = 0; i < static_cast<int32_t>(cards.size()); ++i) {
    DeviceInfo& d = cards[i];
    d.id = node.name + "-metax-" + std::to_string(i);
    d.index = i;
    d.count = 1;
    d.devmem_mib = kMetaxGpuMemoryMib;
    d.devcore = 100;
    d.type = kMetaxGpuCommonWord;
    d.numa = 0;
    d.health = true;
  }
  return cards;
}

Result<std::optional<ContainerDeviceRequest>> DeriveMetaxGpuRequest(const MetaxConfig& config,
                                                                    const ResourceList& limits,
                                                                    const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, config.resource_count_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = kMetaxGpuCommonWord;
  req.memory_mib = 0;
  req.memory_percent = 100;
  req.cores_percent = 100;
  return std::optional<ContainerDeviceRequest>(req);
}

MetaxGpuVendor::MetaxGpuVendor(MetaxConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  keys_.to_allocate = kMetaxGpuToAllocateAnnotation;
  keys_.allocated = kMetaxGpuAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> MetaxGpuVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveMetaxGpuRequest(config_, limits, requests);
}

Result<DeviceSelectors> MetaxGpuVendor::ParseSelectors(
    const Annotations& /*pod_annotations*/) const {
  return DeviceSelectors{};
}

Result<std::vector<DeviceInfo>> MetaxGpuVendor::DecodeNode(const NodeFacts& node) const {
  return MetaxGpuDevicesFromCapacity(node, config_.resource_count_name);
}

// ===== Shared GPUs ==========================================================================

Result<std::vector<DeviceInfo>> DecodeMetaxSgpuDevices(std::string_view json) {
  const std::string context = "MetaX sGPU device list";
  OrderedJson doc;
  HAMI_RETURN_IF_ERROR(go_json::ParseDocument(json, context, &doc));
  if (!doc.is_array()) {
    return InvalidArgument(context + " " + QuoteForError(json) + ": expected an array, got " +
                           go_json::JsonTypeName(doc));
  }
  if (doc.empty()) return InvalidArgument(context + ": no device listed");
  std::vector<DeviceInfo> out;
  out.reserve(doc.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < doc.size(); ++i) {
    Result<DeviceInfo> d = DecodeMetaxSgpuDevice(doc[i], static_cast<int32_t>(i));
    if (!d.ok()) return d.status().WithContext(context + ": device " + std::to_string(i));
    // Usage is kept per device id: two cards under one uuid would share (and overcommit) it.
    if (!seen.insert(d->id).second) {
      return InvalidArgument(context + ": device " + std::to_string(i) + ": uuid " +
                             QuoteForError(d->id) + " is listed twice");
    }
    out.push_back(std::move(d).value());
  }
  return out;
}

std::string EncodeMetaxPodDevices(const PodDevices& devices) {
  std::string out = "[";
  for (size_t c = 0; c < devices.size(); ++c) {
    if (c > 0) out.push_back(',');
    out.push_back('[');
    for (size_t i = 0; i < devices[c].size(); ++i) {
      const ContainerDevice& d = devices[c][i];
      if (i > 0) out.push_back(',');
      out += "{\"uuid\":";
      go_json::AppendGoJsonString(out, d.uuid);
      if (d.used_cores != 0) out += ",\"compute\":" + std::to_string(d.used_cores);
      if (d.used_mem_mib != 0) out += ",\"vRam\":" + std::to_string(d.used_mem_mib);
      out.push_back('}');
    }
    out.push_back(']');
  }
  out.push_back(']');
  return out;
}

Result<std::optional<ContainerDeviceRequest>> DeriveMetaxSgpuRequest(
    const MetaxConfig& config, const ResourceList& limits, const ResourceList& /*requests*/) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        LimitAmount(limits, config.resource_vcount_name));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> cores,
                        LimitAmount(limits, config.resource_vcore_name));
  if (cores && *cores > 100) {
    return InvalidArgument(config.resource_vcore_name + " " + std::to_string(*cores) +
                           " is out of range (0..100 percent of a device)");
  }
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> memory,
                        VmemoryMib(limits, config.resource_vmemory_name));
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = kMetaxSgpuCommonWord;
  req.memory_mib = memory.value_or(0);
  req.memory_percent = req.memory_mib == 0 ? 100 : kMemoryPercentUnset;
  req.cores_percent = cores.value_or(100);
  return std::optional<ContainerDeviceRequest>(req);
}

MetaxSgpuVendor::MetaxSgpuVendor(MetaxConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_vcount_name;
  names_.memory = config_.resource_vmemory_name;
  names_.cores = config_.resource_vcore_name;
  keys_.node_register = kMetaxSgpuRegisterAnnotation;
  keys_.to_allocate = kMetaxSgpuToAllocateAnnotation;
  keys_.allocated = kMetaxSgpuAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> MetaxSgpuVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveMetaxSgpuRequest(config_, limits, requests);
}

Result<DeviceSelectors> MetaxSgpuVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return UuidSelectors(pod_annotations, kMetaxUseUuidAnnotation, kMetaxNoUseUuidAnnotation);
}

Result<std::vector<DeviceInfo>> MetaxSgpuVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  auto it = node_annotations.find(keys_.node_register);
  if (it == node_annotations.end()) {
    return NotFound("node has no " + keys_.node_register + " annotation");
  }
  Result<std::vector<DeviceInfo>> devices = DecodeMetaxSgpuDevices(it->second);
  if (!devices.ok()) return devices.status().WithContext(keys_.node_register);
  return devices;
}

Status MetaxSgpuVendor::MutatePodAdmission(const std::vector<ContainerDeviceRequest>& containers,
                                           Annotations* pod_annotations) const {
  std::string app_class;
  if (auto it = pod_annotations->find(kMetaxAppClassAnnotation); it != pod_annotations->end()) {
    app_class = it->second;
    if (app_class != kMetaxAppClassOnline && app_class != kMetaxAppClassOffline) {
      return InvalidArgument(std::string(kMetaxAppClassAnnotation) + " must be set one of [" +
                             kMetaxAppClassOnline + ", " + kMetaxAppClassOffline + "]");
    }
    for (const ContainerDeviceRequest& c : containers) {
      if (c.count > 1) return InvalidArgument("app-class pod must request single device");
    }
  }
  // Online pods borrow idle compute whatever the card's QoS; HAMi checks QoS for the others.
  if (app_class == kMetaxAppClassOnline) return Status::Ok();
  auto qos = pod_annotations->find(kMetaxQosPolicyAnnotation);
  if (qos == pod_annotations->end()) {
    (*pod_annotations)[kMetaxQosPolicyAnnotation] = kMetaxQosBestEffort;
    return Status::Ok();
  }
  if (qos->second == kMetaxQosBestEffort || qos->second == kMetaxQosFixedShare ||
      qos->second == kMetaxQosBurstShare) {
    return Status::Ok();
  }
  return InvalidArgument(std::string(kMetaxQosPolicyAnnotation) + " must be set one of [" +
                         kMetaxQosBestEffort + ", " + kMetaxQosFixedShare + ", " +
                         kMetaxQosBurstShare + "]");
}

void MetaxSgpuVendor::AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                                             int64_t decided_unix_seconds, Annotations* out) const {
  Vendor::AddDecisionAnnotations(devices, node, decided_unix_seconds, out);
  (*out)[kMetaxPodDevicesAnnotation] = EncodeMetaxPodDevices(devices);
  // HAMi writes nanoseconds; the decision time is kept in seconds here.
  (*out)[kMetaxPredicateTimeAnnotation] = std::to_string(decided_unix_seconds * 1000000000LL);
}

}  // namespace hami
