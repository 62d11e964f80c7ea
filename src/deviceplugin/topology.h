// HAMi's GPU link scores (spec §1.1 hami.io/node-nvidia-score, published when
// ENABLE_TOPOLOGY_SCORE=true): NVML's link matrix turned into the pairwise scores the
// topology-aware scheduler policy ranks GPU sets by. Same scale as HAMi's device plugin:
//   PCIe path by NVML's common ancestor: same board 60, one switch 50, several switches 40,
//   host bridge 30, same CPU 20, across CPUs 10 (unknown 0);
//   plus 100 per NVLink between the two (direct, or through NVSwitches: the smaller count).
// A pair that NVML reports differently from its two ends (an NVLink only one side sees, say)
// scores 0 both ways and is reported, so that the node can carry a warning. Pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "device/device.h"
#include "device/pair_scores.h"
#include "nvml/nvml.h"

namespace hami::deviceplugin {

// 10..60 for NVML's NVML_TOPOLOGY_* level; 0 for nullopt or a level NVML does not define.
int32_t PcieLinkScore(std::optional<int> ancestor_level);

struct LinkScoreReport {
  std::vector<DevicePairScore> scores;  // one entry per registered GPU, in registration order
  // "GPU-a/GPU-b (GPU-a sees 2 NVLinks and level 10, GPU-b sees 0 NVLinks and level 10)" for
  // each asymmetric pair, in registration order.
  std::vector<std::string> asymmetric;
};

// The scores among the `registered` GPUs (the node's registration: MIG GPUs too, filtered ones
// not); a registered GPU NVML's topology does not list gets no entry.
LinkScoreReport ScoreLinks(const nvml::NvmlTopology& topology,
                           std::span<const DeviceInfo> registered);

// Lets a warning through at most once per `interval` per reason (HAMi deduplicates its node
// events for an hour). Not thread-safe: one owner.
class WarningThrottle {
 public:
  explicit WarningThrottle(std::chrono::milliseconds interval) : interval_(interval) {}
  bool Allow(const std::string& reason, std::chrono::steady_clock::time_point now);

 private:
  std::chrono::milliseconds interval_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_;
};

}  // namespace hami::deviceplugin
