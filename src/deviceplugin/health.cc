#include "deviceplugin/health.h"

#include "common/strings.h"

namespace hami::deviceplugin {

Result<HealthCheckConfig> ParseHealthCheckEnv(const std::optional<std::string>& disable,
                                              const std::optional<std::string>& enable) {
  HealthCheckConfig config;
  auto xids = [](const std::string& list, const char* var) -> Result<std::set<uint64_t>> {
    std::set<uint64_t> out;
    for (const std::string& item : SplitCommaList(list)) {
      auto value = ParseInt64(item);
      if (!value || *value < 0) {
        return InvalidArgument(std::string(var) + ": " + QuoteForError(item) +
                               " is not an Xid (want \"all\", \"xids\" or numbers)");
      }
      out.insert(static_cast<uint64_t>(*value));
    }
    return out;
  };
  if (disable) {
    const std::string value(Trim(*disable));
    if (value == "all" || value == "xids") {
      config.enabled = false;
    } else {
      HAMI_ASSIGN_OR_RETURN(std::set<uint64_t> more, xids(value, "DP_DISABLE_HEALTHCHECKS"));
      config.ignored_xids.insert(more.begin(), more.end());
    }
  }
  if (enable) {
    HAMI_ASSIGN_OR_RETURN(std::set<uint64_t> counted, xids(*enable, "DP_ENABLE_HEALTHCHECKS"));
    for (uint64_t xid : counted) config.ignored_xids.erase(xid);
  }
  return config;
}

EventVerdict JudgeEvent(const nvml::NvmlEvent& event, const HealthCheckConfig& config) {
  if (!config.enabled) return EventVerdict::kIgnore;
  if (event.type != kNvmlEventXidCriticalError) return EventVerdict::kIgnore;
  if (config.ignored_xids.count(event.data) > 0) return EventVerdict::kIgnore;
  return event.index ? EventVerdict::kDeviceUnhealthy : EventVerdict::kAllUnhealthy;
}

}  // namespace hami::deviceplugin
