// The selection most vendors read: a pod's use / no-use UUID annotation pair, both applied (as
// HAMi >= 2.9's CheckUUID), and nothing else. Pure and thread-safe.
#pragma once

#include <string>

#include "device/device.h"
#include "device/vendor.h"

namespace hami {

inline DeviceSelectors UuidSelectors(const Annotations& pod_annotations,
                                     const std::string& use_key, const std::string& nouse_key) {
  DeviceSelectors s;
  ReadSelectorPair(pod_annotations, use_key, nouse_key, SelectorPrecedence::kBoth, &s.use_uuids,
                   &s.nouse_uuids);
  return s;
}

}  // namespace hami
