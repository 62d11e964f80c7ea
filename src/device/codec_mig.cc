// hami.io/vgpu-mig-allocations: the MIG instances the scheduler reserved for a pod.
#include <cstdint>
#include <set>
#include <utility>

#include "common/strings.h"
#include "device/codec.h"
#include "device/go_json.h"

namespace hami {
namespace {

using go_json::JsonTypeName;
using go_json::OrderedJson;
using go_json::ReadInt;
using go_json::ReadString;

Status ReadUint32(const OrderedJson& v, std::string_view field, std::optional<uint32_t>* out) {
  if (v.is_null()) return Status::Ok();
  if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX) {
    return InvalidArgument("field \"" + std::string(field) +
                           "\": expected an unsigned 32-bit integer, got " + JsonTypeName(v));
  }
  *out = static_cast<uint32_t>(v.get<uint64_t>());
  return Status::Ok();
}

Result<MigAllocation> DecodeEntry(const OrderedJson& item) {
  if (!item.is_object()) return InvalidArgument("expected an object, got " + JsonTypeName(item));
  MigAllocation a;
  a.container_index = -1;
  a.device_index = -1;
  for (const auto& [raw_key, value] : item.items()) {
    const std::string key = ToLower(raw_key);
    if (key == "containerindex") {
      HAMI_RETURN_IF_ERROR(ReadInt(value, "containerIndex", 0, &a.container_index));
    } else if (key == "deviceindex") {
      HAMI_RETURN_IF_ERROR(ReadInt(value, "deviceIndex", 0, &a.device_index));
    } else if (key == "gpuuuid") {
      HAMI_RETURN_IF_ERROR(ReadString(value, "gpuUUID", &a.gpu_uuid));
    } else if (key == "profile") {
      HAMI_RETURN_IF_ERROR(ReadString(value, "profile", &a.profile));
    } else if (key == "placement") {
      if (!value.is_object()) {
        return InvalidArgument("field \"placement\": expected an object, got " +
                               JsonTypeName(value));
      }
      for (const auto& [pk, pv] : value.items()) {
        const std::string k = ToLower(pk);
        if (k == "start") {
          HAMI_RETURN_IF_ERROR(ReadInt(pv, "placement.start", 0, &a.placement.start));
        } else if (k == "size") {
          HAMI_RETURN_IF_ERROR(ReadInt(pv, "placement.size", 0, &a.placement.size));
        }
      }
    } else if (key == "miguuid") {
      HAMI_RETURN_IF_ERROR(ReadString(value, "migUUID", &a.mig_uuid));
    } else if (key == "gpuinstanceid") {
      HAMI_RETURN_IF_ERROR(ReadUint32(value, "gpuInstanceID", &a.gpu_instance_id));
    } else if (key == "computeinstanceid") {
      HAMI_RETURN_IF_ERROR(ReadUint32(value, "computeInstanceID", &a.compute_instance_id));
    }
  }
  if (a.container_index < 0 || a.device_index < 0) {
    return InvalidArgument("containerIndex and deviceIndex are required");
  }
  if (a.gpu_uuid.empty() || a.profile.empty() || a.placement.size <= 0) {
    return InvalidArgument("gpuUUID, profile and a placement with a positive size are required");
  }
  const int runtime =
      (a.mig_uuid.empty() ? 0 : 1) + (a.gpu_instance_id ? 1 : 0) + (a.compute_instance_id ? 1 : 0);
  if (runtime != 0 && runtime != 3) {
    return InvalidArgument(
        "migUUID, gpuInstanceID and computeInstanceID must be given all together or not at all");
  }
  return a;
}

}  // namespace

std::string EncodeMigAllocations(const std::vector<MigAllocation>& allocations) {
  std::string out = "[";
  for (size_t i = 0; i < allocations.size(); ++i) {
    const MigAllocation& a = allocations[i];
    if (i > 0) out.push_back(',');
    out += "{\"containerIndex\":" + std::to_string(a.container_index) +
           ",\"deviceIndex\":" + std::to_string(a.device_index) + ",\"gpuUUID\":";
    go_json::AppendGoJsonString(out, a.gpu_uuid);
    out += ",\"profile\":";
    go_json::AppendGoJsonString(out, a.profile);
    out += ",\"placement\":{\"start\":" + std::to_string(a.placement.start) +
           ",\"size\":" + std::to_string(a.placement.size) + "}";
    if (!a.mig_uuid.empty()) {
      out += ",\"migUUID\":";
      go_json::AppendGoJsonString(out, a.mig_uuid);
    }
    if (a.gpu_instance_id) out += ",\"gpuInstanceID\":" + std::to_string(*a.gpu_instance_id);
    if (a.compute_instance_id) {
      out += ",\"computeInstanceID\":" + std::to_string(*a.compute_instance_id);
    }
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

Result<std::vector<MigAllocation>> DecodeMigAllocations(std::string_view json) {
  const std::string context = std::string(kVgpuMigAllocationsAnnotation);
  std::vector<MigAllocation> out;
  if (Trim(json).empty()) return out;
  OrderedJson doc;
  HAMI_RETURN_IF_ERROR(go_json::ParseDocument(json, context, &doc));
  if (doc.is_null()) return out;
  if (!doc.is_array()) {
    return InvalidArgument(context + " " + QuoteForError(json) + ": expected an array, got " +
                           JsonTypeName(doc));
  }
  std::set<std::pair<int32_t, int32_t>> seen;
  for (size_t i = 0; i < doc.size(); ++i) {
    Result<MigAllocation> a = DecodeEntry(doc[i]);
    if (!a.ok()) return a.status().WithContext(context + ": entry " + std::to_string(i));
    if (!seen.emplace(a->container_index, a->device_index).second) {
      return InvalidArgument(context + ": two entries for container " +
                             std::to_string(a->container_index) + " device " +
                             std::to_string(a->device_index));
    }
    out.push_back(std::move(a).value());
  }
  return out;
}

std::vector<MigAllocation> MigAllocationsOf(const PodDevices& pod_devices) {
  std::vector<MigAllocation> out;
  for (size_t c = 0; c < pod_devices.size(); ++c) {
    for (size_t d = 0; d < pod_devices[c].size(); ++d) {
      const ContainerDevice& device = pod_devices[c][d];
      if (device.mig_profile.empty()) continue;
      MigAllocation a;
      a.container_index = static_cast<int32_t>(c);
      a.device_index = static_cast<int32_t>(d);
      a.gpu_uuid = device.uuid;
      a.profile = device.mig_profile;
      a.placement = device.mig_placement;
      out.push_back(std::move(a));
    }
  }
  return out;
}

Status AttachMigAllocations(const std::vector<MigAllocation>& allocations,
                            PodDevices* pod_devices) {
  for (const MigAllocation& a : allocations) {
    const std::string where = "MIG allocation for container " + std::to_string(a.container_index) +
                              " device " + std::to_string(a.device_index);
    if (static_cast<size_t>(a.container_index) >= pod_devices->size() ||
        static_cast<size_t>(a.device_index) >= (*pod_devices)[a.container_index].size()) {
      return InvalidArgument(where + ": the pod's device string has no such device");
    }
    ContainerDevice& device = (*pod_devices)[a.container_index][a.device_index];
    if (device.uuid != a.gpu_uuid) {
      return InvalidArgument(where + " names GPU " + QuoteForError(a.gpu_uuid) +
                             " but the device string has " + QuoteForError(device.uuid));
    }
    device.mig_profile = a.profile;
    device.mig_placement = a.placement;
  }
  return Status::Ok();
}

}  // namespace hami
