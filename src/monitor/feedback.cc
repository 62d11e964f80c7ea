#include "monitor/feedback.h"

#include <map>
#include <set>

namespace hami::monitor {

namespace {

std::set<std::string> DistinctDevices(const FeedbackInput& c) {
  std::set<std::string> out;
  for (const std::string& uuid : c.device_uuids) {
    if (!uuid.empty()) out.insert(uuid);
  }
  return out;
}

}  // namespace

std::vector<FeedbackOutput> ComputeFeedback(const std::vector<FeedbackInput>& containers) {
  std::vector<FeedbackOutput> out(containers.size());
  // active[uuid][priority] = active containers at that priority using the device.
  std::map<std::string, std::map<int32_t, int>> active;
  for (size_t i = 0; i < containers.size(); ++i) {
    const FeedbackInput& c = containers[i];
    out[i].recent_kernel = c.recent_kernel;
    if (c.recent_kernel > 0) {
      out[i].recent_kernel = c.recent_kernel - 1;
      if (out[i].recent_kernel > 0) {
        out[i].active = true;
        for (const std::string& uuid : DistinctDevices(c)) ++active[uuid][c.priority];
      }
    }
  }
  for (size_t i = 0; i < containers.size(); ++i) {
    const FeedbackInput& c = containers[i];
    bool higher_active = false;
    bool same_contended = false;
    for (const std::string& uuid : DistinctDevices(c)) {
      auto dev = active.find(uuid);
      if (dev == active.end()) continue;
      for (const auto& [priority, count] : dev->second) {
        if (priority < c.priority && count > 0) higher_active = true;
        if (priority == c.priority && count > 1) same_contended = true;
      }
    }
    FeedbackOutput& o = out[i];
    if (higher_active) {
      o.recent_kernel = -1;
      o.blocked = true;
    } else if (o.recent_kernel < 0) {
      o.recent_kernel = 0;
    }
    o.utilization_switch = (higher_active || same_contended) ? 1 : 0;
  }
  return out;
}

FeedbackInput FeedbackInputFrom(const MappedRegion& region) {
  FeedbackInput in;
  in.priority = region.priority();
  in.recent_kernel = region.recent_kernel();
  in.utilization_switch = region.utilization_switch();
  in.device_uuids = region.Uuids();
  return in;
}

bool ApplyFeedback(MappedRegion& region, const FeedbackInput& input, const FeedbackOutput& output) {
  bool ok = true;
  if (output.recent_kernel != input.recent_kernel) {
    ok = region.CompareExchangeRecentKernel(input.recent_kernel, output.recent_kernel);
  }
  if (output.utilization_switch != input.utilization_switch) {
    region.SetUtilizationSwitch(output.utilization_switch);
  }
  return ok;
}

}  // namespace hami::monitor
