#include "scheduler/decision.h"

#include <string>

#include "device/annotations.h"

namespace hami::scheduler {

Annotations DecisionAnnotations(const VendorRegistry& registry, const PodAllocation& allocation) {
  Annotations annotations = {
      {kVgpuNodeAnnotation, allocation.node},
      {kVgpuTimeAnnotation, std::to_string(allocation.decided_unix_seconds)}};
  for (const auto& [vendor_key, devices] : allocation.by_vendor) {
    const Vendor* vendor = registry.Find(vendor_key);
    if (vendor == nullptr) continue;
    vendor->AddDecisionAnnotations(devices, allocation.node, allocation.decided_unix_seconds,
                                   &annotations);
  }
  return annotations;
}

}  // namespace hami::scheduler
