#include "policy/score.h"

#include <algorithm>

#include "common/strings.h"

namespace hami::policy {

bool GpuPolicy::Has(GpuPolicyKey key) const {
  return std::find(chain.begin(), chain.end(), key) != chain.end();
}

Result<NodePolicy> ParseNodePolicy(std::string_view text) {
  if (text == "binpack") return NodePolicy::kBinpack;
  if (text == "spread") return NodePolicy::kSpread;
  if (text == "hami-frag") return NodePolicy::kFrag;
  return InvalidArgument("unknown node scheduler policy " + QuoteForError(text) +
                         " (want binpack, spread or hami-frag)");
}

Result<GpuPolicy> ParseGpuPolicy(std::string_view text) {
  GpuPolicy policy;
  policy.chain.clear();
  for (std::string_view word : Split(text, ',')) {
    word = Trim(word);
    if (word.empty()) continue;
    if (word == "binpack") {
      policy.chain.push_back(GpuPolicyKey::kBinpack);
    } else if (word == "spread") {
      policy.chain.push_back(GpuPolicyKey::kSpread);
    } else if (word == "numa") {
      policy.chain.push_back(GpuPolicyKey::kNuma);
    } else if (word == "mutex") {
      policy.chain.push_back(GpuPolicyKey::kMutex);
    } else if (word == "topology-aware") {
      policy.chain.push_back(GpuPolicyKey::kTopologyAware);
    } else {
      return InvalidArgument("unknown gpu scheduler policy " + QuoteForError(word) +
                             " (want binpack, spread, numa, mutex or topology-aware)");
    }
  }
  if (policy.chain.empty()) policy.chain.push_back(GpuPolicyKey::kSpread);
  return policy;
}

Result<ScoreWeights> ParseScoreWeights(std::string_view text) {
  ScoreWeights weights;
  bool seen[3] = {false, false, false};
  for (std::string_view item : Split(text, ',')) {
    auto kv = Split(Trim(item), '=');
    if (kv.size() != 2) {
      return InvalidArgument("device scoring weights: bad item " + QuoteForError(item) +
                             " (want slot=<int>,core=<int>,memory=<int>)");
    }
    std::string_view key = Trim(kv[0]);
    auto value = ParseInt32(Trim(kv[1]));
    if (!value || *value < 0) {
      return InvalidArgument("device scoring weights: " + QuoteForError(kv[1]) +
                             " is not an integer >= 0");
    }
    int slot = key == "slot" ? 0 : key == "core" ? 1 : key == "memory" ? 2 : -1;
    if (slot < 0) {
      return InvalidArgument("device scoring weights: unknown key " + QuoteForError(key));
    }
    if (seen[slot]) {
      return InvalidArgument("device scoring weights: duplicate key " + QuoteForError(key));
    }
    seen[slot] = true;
    (slot == 0 ? weights.slot : slot == 1 ? weights.core : weights.memory) = *value;
  }
  if (!seen[0] || !seen[1] || !seen[2]) {
    return InvalidArgument("device scoring weights: need all of slot, core and memory in " +
                           QuoteForError(text));
  }
  if (weights.slot == 0 && weights.core == 0 && weights.memory == 0) {
    return InvalidArgument("device scoring weights: all weights are 0");
  }
  return weights;
}

double DeviceScore(const DeviceUsage& device, const ScoreWeights& weights) {
  const DeviceInfo& info = device.info;
  if (info.count == 0 || info.devcore == 0 || info.devmem_mib == 0) return 0;
  return 10.0 * (weights.slot * static_cast<double>(device.used) / info.count +
                 weights.core * static_cast<double>(device.used_cores) / info.devcore +
                 weights.memory * static_cast<double>(device.used_mem_mib) / info.devmem_mib);
}

std::vector<int> OrderDevices(std::span<const DeviceUsage> devices, const GpuPolicy& policy,
                              bool numa_bind, const ScoreWeights& weights) {
  const size_t n = devices.size();
  std::vector<double> scores(n);
  for (size_t i = 0; i < n; ++i) scores[i] = DeviceScore(devices[i], weights);
  std::vector<int> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);

  const bool single = policy.chain.size() == 1;
  const GpuPolicyKey first = policy.chain.front();
  // Returns <0, 0, >0 comparing a and b under one key ("less" means earlier in the order).
  auto compare_key = [&](GpuPolicyKey key, int a, int b) -> int {
    const DeviceUsage& da = devices[static_cast<size_t>(a)];
    const DeviceUsage& db = devices[static_cast<size_t>(b)];
    auto cmp = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
    switch (key) {
      case GpuPolicyKey::kBinpack:
        return cmp(scores[static_cast<size_t>(a)], scores[static_cast<size_t>(b)]);
      case GpuPolicyKey::kSpread:
      case GpuPolicyKey::kTopologyAware:  // HAMi's default order: least used first
        return cmp(scores[static_cast<size_t>(b)], scores[static_cast<size_t>(a)]);
      case GpuPolicyKey::kNuma:
        return cmp(da.info.numa, db.info.numa);
      case GpuPolicyKey::kMutex:
        return cmp(db.used, da.used);
    }
    return 0;
  };
  auto less = [&](int a, int b) {
    const DeviceUsage& da = devices[static_cast<size_t>(a)];
    const DeviceUsage& db = devices[static_cast<size_t>(b)];
    if (single && !policy.Has(GpuPolicyKey::kNuma)) {
      if (numa_bind && da.info.numa != db.info.numa) {
        // Group by NUMA: binpack walks high NUMA ids first, spread low ones.
        return first == GpuPolicyKey::kBinpack ? da.info.numa > db.info.numa
                                               : da.info.numa < db.info.numa;
      }
      int c = compare_key(first, a, b);
      if (c != 0) return c < 0;
      if (da.info.numa != db.info.numa) return da.info.numa < db.info.numa;
      return a < b;
    }
    if (numa_bind) {
      int c = compare_key(GpuPolicyKey::kNuma, a, b);
      if (c != 0) return c < 0;
    }
    for (GpuPolicyKey key : policy.chain) {
      int c = compare_key(key, a, b);
      if (c != 0) return c < 0;
    }
    return a < b;
  };
  std::sort(order.begin(), order.end(), less);
  return order;
}

double NodeScore(std::span<const DeviceUsage> devices) {
  int64_t used = 0, count = 0, used_cores = 0, total_cores = 0, used_mem = 0, total_mem = 0;
  for (const DeviceUsage& d : devices) {
    used += d.used;
    count += d.info.count;
    used_cores += d.used_cores;
    total_cores += d.info.devcore;
    used_mem += d.used_mem_mib;
    total_mem += d.info.devmem_mib;
  }
  if (count == 0 || total_cores == 0 || total_mem == 0) return 0;
  return 10.0 * (static_cast<double>(used) / static_cast<double>(count) +
                 static_cast<double>(used_cores) / static_cast<double>(total_cores) +
                 static_cast<double>(used_mem) / static_cast<double>(total_mem));
}

}  // namespace hami::policy
