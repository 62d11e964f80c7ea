#include "device/biren.h"

namespace hami {

Result<std::optional<ContainerDeviceRequest>> DeriveBirenRequest(const BirenConfig& config,
                                                                 const ResourceList& limits,
                                                                 const ResourceList& requests) {
  return SlotOnlyRequest(limits, requests, config.resource_count_name, kBirenCommonWord);
}

BirenVendor::BirenVendor(const BirenConfig& config)
    : SlotOnlyJsonVendor({kBirenCommonWord,
                          config.resource_count_name,
                          {kBirenRegisterAnnotation, kBirenHandshakeAnnotation,
                           kBirenToAllocateAnnotation, kBirenAllocatedAnnotation},
                          kBirenUseUuidAnnotation,
                          kBirenNoUseUuidAnnotation}) {}

}  // namespace hami
