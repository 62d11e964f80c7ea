#include "sim/vendor_pods.h"

#include <algorithm>

#include "common/strings.h"
#include "device/annotations.h"
#include "device/chart_config.h"
#include "sim/replay.h"

namespace hami::sim {

namespace {

constexpr char kNamespace[] = "sim";

std::string KnownVendors(const VendorRegistry& registry) {
  std::string out;
  for (const Vendor* v : registry.Vendors()) {
    out += (out.empty() ? "" : ", ") + std::string(v->CommonWord());
  }
  return out;
}

// MiB the vendor derives from `quantity` of its memory resource on one device (0 = refused).
int64_t DerivedMib(const Vendor& vendor, int64_t quantity) {
  const VendorResourceNames& names = vendor.ResourceNames();
  auto probe = vendor.RequestFromResources(
      {{names.count, "1"}, {names.memory, std::to_string(quantity)}}, {});
  if (!probe.ok() || !probe->has_value()) return 0;
  return std::max((*probe)->memory_mib, 0);
}

// MiB per unit of the vendor's memory resource, asked of the vendor itself ({count: 1,
// memory: "1"}); 0 when it asks memory as a percentage or has no memory resource.
int32_t MemoryUnitMib(const Vendor& vendor) {
  const VendorResourceNames& names = vendor.ResourceNames();
  if (!names.memory_percentage.empty() || names.memory.empty() || names.count.empty()) return 0;
  return static_cast<int32_t>(DerivedMib(vendor, 1));
}

// Whether the vendor accepts a plain one-device request with the given optional resources
// (cores 50, memory 1 unit or 50 %).
bool Accepts(const Vendor& vendor, bool cores, bool memory) {
  const VendorResourceNames& names = vendor.ResourceNames();
  ResourceList limits = {{names.count, "1"}};
  if (cores) limits[names.cores] = "50";
  if (memory && !names.memory_percentage.empty()) limits[names.memory_percentage] = "50";
  if (memory && names.memory_percentage.empty()) limits[names.memory] = "1";
  auto probe = vendor.RequestFromResources(limits, {});
  // The cores resource must read as a percent of a device (not e.g. a count of slices).
  return probe.ok() && probe->has_value() && (!cores || (*probe)->cores_percent == 50);
}

// The resources of `plan`'s vendor a pod asks: all it has, less those it refuses.
void ChooseResources(VendorPodPlan& plan) {
  const VendorResourceNames& names = plan.vendor->ResourceNames();
  if (names.count.empty()) return;
  const bool has_cores = !names.cores.empty();
  const bool has_memory = !names.memory_percentage.empty() || plan.memory_unit_mib > 0;
  const std::pair<bool, bool> choices[] = {
      {has_cores, has_memory}, {false, has_memory}, {has_cores, false}, {false, false}};
  for (const auto& [cores, memory] : choices) {
    if (Accepts(*plan.vendor, cores, memory)) {
      plan.asks_cores = cores;
      plan.asks_memory = memory;
      return;
    }
  }
}

}  // namespace

int64_t MemoryQuantity(const VendorPodPlan& plan, int32_t gpu_milli) {
  const int64_t unit = plan.memory_unit_mib;
  const int64_t reference = plan.reference_memory_mib;
  if (unit <= 0 || reference <= 0) return 0;
  const int64_t target = (int64_t{gpu_milli} * reference + kWholeGpuMilli - 1) / kWholeGpuMilli;
  if (plan.memory_linear) {
    // Rounding up must not ask more than the smallest device holds.
    return std::max<int64_t>(1, std::min((target + unit - 1) / unit, reference / unit));
  }
  // A vendor that rounds (up to its partition sizes): the smallest quantity whose memory covers
  // the target, or failing that within the smallest device, the largest quantity that fits it.
  // Derived memory grows with the quantity and is at least the quantity (a unit >= 1 MiB), so
  // reference + 1 is beyond the device; a refusal (0) counts as beyond.
  auto first = [&](int64_t at_least_mib) {
    int64_t lo = 1, hi = reference + 1;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      const int64_t mib = DerivedMib(*plan.vendor, mid);
      if (mib == 0 || mib >= at_least_mib) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  };
  const int64_t quantity = first(target);
  const int64_t mib = DerivedMib(*plan.vendor, quantity);
  if (mib > 0 && mib <= reference) return quantity;
  return std::max<int64_t>(1, first(reference + 1) - 1);
}

Result<DeviceConfig> SimDeviceConfig(int32_t split_count) {
  const std::string text = std::string(kDefaultDeviceConfigYaml) + kChartVendorSectionsYaml;
  HAMI_ASSIGN_OR_RETURN(DeviceConfig config, LoadDeviceConfig(text, "chart default"));
  config.enable_iluvatar = true;
  config.enable_ascend = true;
  if (config.nvidia) config.nvidia->device_split_count = split_count;
  return config;
}

Result<std::map<std::string, VendorPodPlan>> PlanVendorPods(const VendorRegistry& registry,
                                                            const Cluster& cluster,
                                                            const Workload& workload) {
  std::map<std::string, VendorPodPlan> plans;
  auto plan_for = [&](const std::string& key, const std::string& user) -> Result<VendorPodPlan*> {
    auto it = plans.find(key);
    if (it != plans.end()) return &it->second;
    const Vendor* vendor = registry.Find(key);
    if (vendor == nullptr) {
      return InvalidArgument("vendor " + QuoteForError(key) + " of " + user +
                             " is not one hami-scheduler knows (known: " + KnownVendors(registry) +
                             ")");
    }
    VendorPodPlan plan;
    plan.vendor = vendor;
    plan.memory_unit_mib = MemoryUnitMib(*vendor);
    plan.memory_linear =
        plan.memory_unit_mib > 0 && DerivedMib(*vendor, 2) == 2 * int64_t{plan.memory_unit_mib};
    ChooseResources(plan);
    return &plans.emplace(key, plan).first->second;
  };
  for (const SimNode& node : cluster.nodes) {
    HAMI_ASSIGN_OR_RETURN(VendorPodPlan * plan, plan_for(node.vendor, "node " + node.name));
    if (node.gpu_count > 0 &&
        (plan->reference_memory_mib == 0 || node.gpu_memory_mib < plan->reference_memory_mib)) {
      plan->reference_memory_mib = node.gpu_memory_mib;
    }
  }
  for (const SimPod& pod : workload.pods) {
    HAMI_ASSIGN_OR_RETURN(VendorPodPlan * plan, plan_for(pod.vendor, "pod " + pod.name));
    (void)plan;
  }
  return plans;
}

ResourceList VendorLimits(const SimPod& pod, const VendorPodPlan& plan) {
  ResourceList limits;
  if (pod.num_gpu <= 0 || plan.vendor == nullptr) return limits;
  const VendorResourceNames& names = plan.vendor->ResourceNames();
  limits[names.count] = std::to_string(pod.num_gpu);
  if (plan.asks_cores) limits[names.cores] = std::to_string(CeilPercent(pod.gpu_milli));
  if (!plan.asks_memory) return limits;
  if (!names.memory_percentage.empty()) {
    limits[names.memory_percentage] = std::to_string(CeilPercent(pod.gpu_milli));
  } else if (plan.memory_unit_mib > 0 && plan.reference_memory_mib > 0) {
    limits[names.memory] = std::to_string(MemoryQuantity(plan, pod.gpu_milli));
  }
  return limits;
}

nlohmann::json PodJsonWithLimits(const SimPod& pod, const std::string& uid,
                                 const ResourceList& limits, bool nvidia_type_selector) {
  nlohmann::json limits_json = nlohmann::json::object();
  for (const auto& [name, value] : limits) limits_json[name] = value;
  nlohmann::json requests = {{"cpu", std::to_string(pod.cpu_milli) + "m"},
                             {"memory", std::to_string(pod.memory_mib) + "Mi"}};
  nlohmann::json annotations = nlohmann::json::object();
  if (nvidia_type_selector && !pod.gpu_spec.empty()) {
    std::string types;
    for (const std::string& s : pod.gpu_spec) types += (types.empty() ? "" : ",") + s;
    annotations[kNvidiaUseGpuTypeAnnotation] = types;
  }
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", pod.name.empty() ? uid : pod.name + "-" + uid},
        {"namespace", kNamespace},
        {"uid", uid},
        {"annotations", annotations}}},
      {"spec",
       {{"schedulerName", "hami-scheduler"},
        {"containers",
         {{{"name", "main"}, {"resources", {{"limits", limits_json}, {"requests", requests}}}}}}}}};
}

}  // namespace hami::sim
