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
    const std::string encoded = EncodePodDevices(devices);
    const VendorAnnotationKeys& keys = vendor->AnnotationKeys();
    annotations[keys.to_allocate] = encoded;
    annotations[keys.allocated] = encoded;
    for (MigAllocation& m : MigAllocationsOf(devices)) mig.push_back(std::move(m));
  }
  if (!mig.empty()) annotations[kVgpuMigAllocationsAnnotation] = EncodeMigAllocations(mig);
  return annotations;
}

}  // namespace hami::scheduler
