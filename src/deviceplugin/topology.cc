#include "deviceplugin/topology.h"

namespace hami::deviceplugin {

int32_t PcieLinkScore(std::optional<int> ancestor_level) {
  if (!ancestor_level) return 0;
  switch (*ancestor_level) {
    case NVML_TOPOLOGY_INTERNAL:
      return 60;
    case NVML_TOPOLOGY_SINGLE:
      return 50;
    case NVML_TOPOLOGY_MULTIPLE:
      return 40;
    case NVML_TOPOLOGY_HOSTBRIDGE:
      return 30;
    case NVML_TOPOLOGY_NODE:
      return 20;
    case NVML_TOPOLOGY_SYSTEM:
      return 10;
    default:
      return 0;
  }
}

namespace {

constexpr int32_t kScorePerNvLink = 100;

std::string Describe(const std::string& uuid, const nvml::NvmlLink& link) {
  return uuid + " sees " + std::to_string(link.nvlinks) + " NVLinks and level " +
         (link.ancestor_level ? std::to_string(*link.ancestor_level) : std::string("unknown"));
}

}  // namespace

LinkScoreReport ScoreLinks(const nvml::NvmlTopology& topology,
                           std::span<const DeviceInfo> registered) {
  // NVML index of each registered GPU that the topology lists.
  std::vector<std::pair<std::string, size_t>> gpus;
  for (const DeviceInfo& d : registered) {
    for (size_t i = 0; i < topology.uuids.size(); ++i) {
      if (topology.uuids[i] == d.id && i < topology.links.size()) {
        gpus.emplace_back(d.id, i);
        break;
      }
    }
  }
  LinkScoreReport report;
  for (const auto& [uuid, i] : gpus) {
    DevicePairScore entry{uuid, {}};
    for (const auto& [peer, j] : gpus) {
      if (i == j || j >= topology.links[i].size() || i >= topology.links[j].size()) continue;
      const nvml::NvmlLink& there = topology.links[i][j];
      const nvml::NvmlLink& back = topology.links[j][i];
      if (!(there == back)) {
        entry.score[peer] = 0;
        if (i < j) {
          report.asymmetric.push_back(uuid + "/" + peer + " (" + Describe(uuid, there) + ", " +
                                      Describe(peer, back) + ")");
        }
        continue;
      }
      entry.score[peer] = PcieLinkScore(there.ancestor_level) + kScorePerNvLink * there.nvlinks;
    }
    report.scores.push_back(std::move(entry));
  }
  return report;
}

bool WarningThrottle::Allow(const std::string& reason, std::chrono::steady_clock::time_point now) {
  auto it = last_.find(reason);
  if (it != last_.end() && now - it->second < interval_) return false;
  last_[reason] = now;
  return true;
}

}  // namespace hami::deviceplugin
