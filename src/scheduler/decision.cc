#include "scheduler/decision.h"

#include <string>
#include <vector>

#include "device/annotations.h"
#include "device/codec.h"

namespace hami::scheduler {

Annotations DecisionAnnotations(const VendorRegistry& registry, const PodAllocation& allocation) {
  Annotations annotations = {
      {kVgpuNodeAnnotation, allocation.node},
      {kVgpuTimeAnnotation, std::to_string(allocation.decided_unix_seconds)}};
  std::vector<MigAllocation> mig;
  for (const auto& [vendor_key, devices] : allocation.by_vendor) {
    const Vendor* vendor = registry.Find(vendor_key);
    if (vendor == nullptr) continue;
    vendor->AddDecisionAnnotations(devices, allocation.node, allocation.decided_unix_seconds,
                                   &annotations);
    for (MigAllocation& m : MigAllocationsOf(devices)) mig.push_back(std::move(m));
  }
  if (!mig.empty()) annotations[kVgpuMigAllocationsAnnotation] = EncodeMigAllocations(mig);
  return annotations;
}

}  // namespace hami::scheduler
