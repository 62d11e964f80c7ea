#include "monitor/limit_check.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "device/annotations.h"
#include "device/codec.h"
#include "kube/objects.h"

namespace hami::monitor {

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

// 0 and >= 100 both leave the device unthrottled (libvgpu.so stores 100 for both).
uint64_t EffectiveSmPercent(uint64_t percent) {
  return (percent == 0 || percent >= 100) ? 100 : percent;
}

uint64_t NonNegative(int32_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

}  // namespace

const char* LimitKindLabel(LimitKind kind) {
  return kind == LimitKind::kSm ? "sm_percent" : "memory_bytes";
}

std::vector<std::string> ContainerNamesInGroupOrder(const nlohmann::json& pod) {
  std::vector<std::string> names;
  for (std::string_view list_key : {"initContainers", "containers"}) {
    const nlohmann::json* list = kube::FindPath(pod, {"spec", list_key});
    if (list == nullptr || !list->is_array()) continue;
    // Every entry keeps its place (even a malformed one), so indexes stay the groups' indexes.
    for (const nlohmann::json& c : *list) names.emplace_back(kube::StringAt(c, {"name"}));
  }
  return names;
}

Result<std::optional<ContainerDevices>> AllocatedDevicesOf(const nlohmann::json& pod,
                                                           const std::string& container) {
  const std::string_view text =
      kube::StringAt(pod, {"metadata", "annotations", kVgpuDevicesAllocatedAnnotation});
  if (text.empty()) return std::optional<ContainerDevices>();
  auto groups = DecodePodDevices(text);
  if (!groups.ok()) {
    return InvalidArgument(std::string(kVgpuDevicesAllocatedAnnotation) + ": " +
                           groups.status().message());
  }
  const std::vector<std::string> names = ContainerNamesInGroupOrder(pod);
  const auto it = std::find(names.begin(), names.end(), container);
  if (container.empty() || it == names.end()) return std::optional<ContainerDevices>();
  const auto index = static_cast<size_t>(it - names.begin());
  if (index >= groups->size() || (*groups)[index].empty()) return std::optional<ContainerDevices>();
  return std::optional<ContainerDevices>(std::move((*groups)[index]));
}

std::vector<LimitMismatch> CompareLimits(const ContainerDevices& allocated,
                                         const RegionLimits& region) {
  std::vector<LimitMismatch> out;
  if (allocated.empty()) return out;
  const uint64_t sm_allocated = NonNegative(allocated.front().used_cores);
  const size_t n = std::min(allocated.size(), region.memory_bytes.size());
  for (size_t i = 0; i < n; ++i) {
    const ContainerDevice& device = allocated[i];
    const uint64_t memory_allocated = NonNegative(device.used_mem_mib) * kMiB;
    if (region.memory_bytes[i] != memory_allocated) {
      out.push_back({static_cast<int>(i), device.uuid, LimitKind::kMemory, region.memory_bytes[i],
                     memory_allocated});
    }
    if (EffectiveSmPercent(region.sm_percent[i]) != EffectiveSmPercent(sm_allocated)) {
      out.push_back(
          {static_cast<int>(i), device.uuid, LimitKind::kSm, region.sm_percent[i], sm_allocated});
    }
  }
  return out;
}

ContainerLimitCheck CheckContainerLimits(const nlohmann::json* pod, const std::string& container,
                                         const RegionLimits& region) {
  ContainerLimitCheck check;
  // Without the pod, or without an allocation for this container, there is nothing the region
  // could contradict: a pod the informer has not listed yet, a pod not bound yet, or a container
  // holding no vGPU. Reporting a mismatch there would be a false alarm.
  if (pod == nullptr) return check;
  auto allocated = AllocatedDevicesOf(*pod, container);
  if (!allocated.ok()) {
    check.problem = allocated.status().message();
    return check;
  }
  if (!allocated->has_value()) return check;
  check.compared = true;
  check.mismatches = CompareLimits(**allocated, region);
  return check;
}

}  // namespace hami::monitor
