// HAMi's scores and orderings (spec §3.5): GPU-level ordering for a container fit and the
// node-level score, plus parsing of the policy names used in flags and pod annotations.
// Pure functions; thread-safe.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "device/device.h"

namespace hami::policy {

// kFrag is our fragmentation-aware ranking (policy/scheduler_policy.h); HAMi knows only the
// first two.
enum class NodePolicy { kBinpack, kSpread, kFrag };

enum class GpuPolicyKey { kBinpack, kSpread, kNuma, kMutex, kTopologyAware };

// A GPU policy: one key ("spread") or a comma chain ("binpack,numa") compared in order.
struct GpuPolicy {
  std::vector<GpuPolicyKey> chain{GpuPolicyKey::kSpread};
  bool Has(GpuPolicyKey key) const;
  bool operator==(const GpuPolicy&) const = default;
};

// Weights of the device score terms (`hami.io/device-scoring-weights`).
struct ScoreWeights {
  int slot = 1;
  int core = 1;
  int memory = 1;
  bool operator==(const ScoreWeights&) const = default;
};

// "binpack" | "spread" (exact, as HAMi compares them) | "hami-frag".
Result<NodePolicy> ParseNodePolicy(std::string_view text);
// One key or a comma chain of binpack/spread/numa/mutex/topology-aware; unknown words are an
// error (HAMi ignores them silently, which hides typos), empty => spread.
Result<GpuPolicy> ParseGpuPolicy(std::string_view text);
// "slot=<int>,core=<int>,memory=<int>": exactly these keys, any order, ints >= 0, not all 0.
Result<ScoreWeights> ParseScoreWeights(std::string_view text);

// HAMi's device score from current usage: 10 * (ws*Used/Count + wc*Usedcores/Totalcore +
// wm*Usedmem/Totalmem); 0 when a denominator is 0. (HAMi's request terms are always 0 for
// NVIDIA because the request type never equals the device model; we reproduce that.)
double DeviceScore(const DeviceUsage& device, const ScoreWeights& weights);

// Device indexes in HAMi's sort order for `policy`; FitContainer tries them from the back.
// With `numa_bind`, devices are grouped by NUMA first. Final tie-break: ascending index.
// topology-aware orders as spread (HAMi's default sort); which of the fitting devices it takes
// is decided by link scores (topology.h).
std::vector<int> OrderDevices(std::span<const DeviceUsage> devices, const GpuPolicy& policy,
                              bool numa_bind, const ScoreWeights& weights);

// HAMi's node score over all devices of a node, before the pod is added:
// 10 * (ΣUsed/ΣCount + ΣUsedcores/ΣTotalcore + ΣUsedmem/ΣTotalmem); 0 if a sum is 0.
double NodeScore(std::span<const DeviceUsage> devices);

}  // namespace hami::policy
