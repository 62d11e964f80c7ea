#include "scheduler/decision.h"

#include <string>
#include <vector>

#include "device/annotations.h"
#include "device/codec.h"

namespace hami::scheduler {

nlohmann::json DecisionPatch(const VendorRegistry& registry, const PodAllocation& allocation) {
  nlohmann::json annotations = {
      {kVgpuNodeAnnotation, allocation.node},
      {kVgpuTimeAnnotation, std::to_string(allocation.decided_unix_seconds)}};
  std::vector<MigAllocation> mig;
  for (const auto& [vendor_key, devices] : allocation.by_vendor) {
    const Vendor* vendor = registry.Find(vendor_key);
    if (vendor == nullptr) continue;
    const std::string encoded = EncodePodDevices(devices);
    const VendorAnnotationKeys& keys = vendor->AnnotationKeys();
    annotations[keys.to_allocate] = encoded;
    annotations[keys.allocated] = encoded;
    for (MigAllocation& m : MigAllocationsOf(devices)) mig.push_back(std::move(m));
  }
  annotations[kVgpuMigAllocationsAnnotation] =
      mig.empty() ? nlohmann::json(nullptr) : nlohmann::json(EncodeMigAllocations(mig));
  return {{"metadata",
           {{"annotations", std::move(annotations)},
            {"labels", {{kVgpuNodeAnnotation, allocation.node}}}}}};
}

nlohmann::json WithdrawDecisionPatch(const VendorRegistry& registry,
                                     const PodAllocation& allocation) {
  nlohmann::json patch = DecisionPatch(registry, allocation);
  for (auto& [key, value] : patch["metadata"]["annotations"].items()) value = nullptr;
  for (auto& [key, value] : patch["metadata"]["labels"].items()) value = nullptr;
  patch["metadata"]["annotations"][kBindPhaseAnnotation] = "failed";
  return patch;
}

}  // namespace hami::scheduler
