// Which NVML events make a GPU unhealthy (spec §5.4), as HAMi's (and NVIDIA's) device plugin
// decides: only Xid-critical events count; Xids that signal an application fault rather than
// a broken GPU are ignored (13, 31, 43, 45, 68, 109); an event naming no known device marks
// every device. Env DP_DISABLE_HEALTHCHECKS ("all", "xids", or Xids to ignore as well) and
// DP_ENABLE_HEALTHCHECKS (Xids to count even though ignored by default) adjust the rules.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "common/status.h"
#include "nvml/nvml.h"

namespace hami::deviceplugin {

struct HealthCheckConfig {
  bool enabled = true;  // false: "all" or "xids" disabled the checks
  std::set<uint64_t> ignored_xids = {13, 31, 43, 45, 68, 109};
};

// Failure (InvalidArgument): a list item that is neither a keyword nor a decimal Xid.
Result<HealthCheckConfig> ParseHealthCheckEnv(const std::optional<std::string>& disable,
                                              const std::optional<std::string>& enable);

enum class EventVerdict { kIgnore, kDeviceUnhealthy, kAllUnhealthy };

EventVerdict JudgeEvent(const nvml::NvmlEvent& event, const HealthCheckConfig& config);

}  // namespace hami::deviceplugin
