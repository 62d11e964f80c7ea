// HAMi's topology-aware GPU choice (spec §3.4, `hami.io/gpu-scheduler-policy: topology-aware`):
// among the devices a container may take, prefer the set whose GPUs are best linked, per the
// pairwise scores the device plugin publishes in hami.io/node-nvidia-score (see
// device/pair_scores.h), and give a one-GPU container the GPU whose links matter least, so that
// NVLink-connected groups stay whole for the multi-GPU pods that need them.
//
// Feasibility still comes only from fit.h's CheckDevice: the policy only chooses among devices
// that pass it. Pure functions and value types; thread-safe (LinkScores is immutable once built
// and shares its matrix between copies).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "device/device.h"
#include "device/pair_scores.h"
#include "policy/fit.h"

namespace hami::policy {

// Pairwise link scores of one node's devices, by device index (NodeState::devices). Empty when
// the node publishes none: every score is then 0 and the topology-aware choice degrades to the
// plain device order.
class LinkScores {
 public:
  LinkScores() = default;
  // Entry (a, b) is the score device a's annotation entry gives device b's UUID, 0 where the
  // annotation says nothing (a GPU it does not list, a peer it leaves out). A UUID listed twice:
  // the first entry counts (as HAMi reads it). Empty when no score is non-zero.
  static LinkScores FromAnnotation(std::span<const std::string> device_ids,
                                   std::span<const DevicePairScore> scores);

  bool empty() const { return matrix_ == nullptr; }
  size_t size() const { return size_; }
  // 0 when empty or an index is out of range.
  int32_t At(size_t a, size_t b) const {
    return a < size_ && b < size_ ? (*matrix_)[a * size_ + b] : 0;
  }
  bool operator==(const LinkScores& other) const;

 private:
  size_t size_ = 0;
  std::shared_ptr<const std::vector<int32_t>> matrix_;  // size_ x size_, row-major
};

// Above this many combinations (C(candidates, count)), ChooseLinkedDevices builds the set
// greedily instead of trying them all: C(16, 8) = 12870 stays exact, a 32-GPU node asked for 16
// (6e8) does not.
inline constexpr int64_t kMaxLinkCombinations = 65536;

// HAMi's choice of `count` devices among `candidates` (device indexes, in candidate order, more
// than `count` of them):
//  - count == 1: the candidate whose scores to the other candidates sum lowest (first wins ties);
//  - count > 1: the combination (enumerated in candidate order) whose pair scores sum highest,
//    each pair counted once with the earlier candidate's score for the later; first wins ties.
//    Beyond kMaxLinkCombinations: the best pair, then repeatedly the candidate adding most to
//    the set (first wins ties).
// Returns the chosen indexes in candidate order. Preconditions: 0 < count < candidates.size().
std::vector<int> ChooseLinkedDevices(std::span<const int> candidates, int count,
                                     const LinkScores& links);

// FitContainer (fit.h) under the topology-aware policy: walks `order` from the back like
// FitContainer, but collects every device that passes CheckDevice; exactly request.count of
// them are taken as they are, more are narrowed down by ChooseLinkedDevices. With
// `selectors.numa_bind` the candidates are the first NUMA run (in walk order) with enough of
// them. Failure reasons as FitContainer's. Devices in "mig" mode are not linked GPUs: a node
// with any of them is fitted by FitContainer itself.
std::optional<std::vector<int>> FitContainerByLinks(
    std::span<const DeviceUsage> devices, std::span<const int> order,
    const ContainerDeviceRequest& request, const DeviceSelectors& selectors, bool mutex_policy,
    const LinkScores& links, FitFailure* failure,
    MigPlacementRule mig_rule = MigPlacementRule::kFirstFit);

}  // namespace hami::policy
