#include "device/vastai.h"

namespace hami {

Result<std::optional<ContainerDeviceRequest>> DeriveVastaiRequest(const VastaiConfig& config,
                                                                  const ResourceList& limits,
                                                                  const ResourceList& requests) {
  // HAMi asks for 100 % of the memory but its fit never looks at memory and records 0 MiB;
  // asking for none gives the same placements and the same device string.
  return SlotOnlyRequest(limits, requests, config.resource_count_name, kVastaiCommonWord);
}

VastaiVendor::VastaiVendor(const VastaiConfig& config)
    : SlotOnlyJsonVendor({kVastaiCommonWord,
                          config.resource_count_name,
                          {kVastaiRegisterAnnotation, kVastaiHandshakeAnnotation,
                           kVastaiToAllocateAnnotation, kVastaiAllocatedAnnotation},
                          kVastaiUseUuidAnnotation,
                          kVastaiNoUseUuidAnnotation}) {}

}  // namespace hami
