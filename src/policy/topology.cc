#include "policy/topology.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string_view>

namespace hami::policy {

namespace {

// C(n, k), saturating just above kMaxLinkCombinations.
int64_t CombinationsUpToLimit(size_t n, size_t k) {
  k = std::min(k, n - k);
  int64_t result = 1;
  for (size_t i = 1; i <= k; ++i) {
    // result * (n - k + i) / i stays exact: result is C(n - k + i - 1, i - 1) here.
    result = result * static_cast<int64_t>(n - k + i) / static_cast<int64_t>(i);
    if (result > kMaxLinkCombinations) return kMaxLinkCombinations + 1;
  }
  return result;
}

// Exhaustive search in candidate order (lexicographic combinations); strict improvement only,
// so the first best combination wins.
class CombinationSearch {
 public:
  CombinationSearch(std::span<const int> candidates, int count, const LinkScores& links)
      : candidates_(candidates), count_(static_cast<size_t>(count)), links_(links) {}

  std::vector<size_t> Run() {
    Visit(0, 0);
    return best_;
  }

 private:
  void Visit(size_t from, int64_t sum) {
    if (chosen_.size() == count_) {
      if (best_.empty() || sum > best_sum_) {
        best_ = chosen_;
        best_sum_ = sum;
      }
      return;
    }
    // Leave room for the members still to choose.
    const size_t last = candidates_.size() - (count_ - chosen_.size());
    for (size_t i = from; i <= last; ++i) {
      int64_t added = 0;
      for (size_t c : chosen_) added += Score(c, i);
      chosen_.push_back(i);
      Visit(i + 1, sum + added);
      chosen_.pop_back();
    }
  }
  // Pair (earlier, later) in candidate positions: the earlier candidate's score for the later.
  int64_t Score(size_t earlier, size_t later) const {
    return links_.At(static_cast<size_t>(candidates_[earlier]),
                     static_cast<size_t>(candidates_[later]));
  }

  std::span<const int> candidates_;
  size_t count_;
  const LinkScores& links_;
  std::vector<size_t> chosen_;
  std::vector<size_t> best_;
  int64_t best_sum_ = std::numeric_limits<int64_t>::min();
};

std::vector<size_t> GreedySearch(std::span<const int> candidates, int count,
                                 const LinkScores& links) {
  auto score = [&](size_t a, size_t b) -> int64_t {
    if (a > b) std::swap(a, b);
    return links.At(static_cast<size_t>(candidates[a]), static_cast<size_t>(candidates[b]));
  };
  const size_t n = candidates.size();
  size_t first = 0, second = 1;
  int64_t best = std::numeric_limits<int64_t>::min();
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = a + 1; b < n; ++b) {
      if (score(a, b) > best) {
        best = score(a, b);
        first = a;
        second = b;
      }
    }
  }
  std::vector<size_t> chosen = {first, second};
  std::vector<bool> taken(n, false);
  taken[first] = taken[second] = true;
  while (chosen.size() < static_cast<size_t>(count)) {
    size_t pick = n;
    int64_t pick_gain = std::numeric_limits<int64_t>::min();
    for (size_t x = 0; x < n; ++x) {
      if (taken[x]) continue;
      int64_t gain = 0;
      for (size_t c : chosen) gain += score(c, x);
      if (gain > pick_gain) {
        pick_gain = gain;
        pick = x;
      }
    }
    taken[pick] = true;
    chosen.push_back(pick);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace

LinkScores LinkScores::FromAnnotation(std::span<const std::string> device_ids,
                                      std::span<const DevicePairScore> scores) {
  const size_t n = device_ids.size();
  std::map<std::string_view, size_t> index_of;
  for (size_t i = 0; i < n; ++i) index_of.emplace(device_ids[i], i);
  auto matrix = std::make_shared<std::vector<int32_t>>(n * n, 0);
  std::vector<bool> seen(n, false);
  bool any = false;
  for (const DevicePairScore& entry : scores) {
    auto self = index_of.find(entry.uuid);
    if (self == index_of.end() || seen[self->second]) continue;
    const size_t a = self->second;
    seen[a] = true;
    for (const auto& [peer, score] : entry.score) {
      auto other = index_of.find(peer);
      if (other == index_of.end() || other->second == a) continue;
      (*matrix)[a * n + other->second] = score;
      any = any || score != 0;
    }
  }
  LinkScores out;
  if (!any) return out;
  out.size_ = n;
  out.matrix_ = std::move(matrix);
  return out;
}

bool LinkScores::operator==(const LinkScores& other) const {
  if (size_ != other.size_ || empty() != other.empty()) return false;
  return empty() || matrix_ == other.matrix_ || *matrix_ == *other.matrix_;
}

std::vector<int> ChooseLinkedDevices(std::span<const int> candidates, int count,
                                     const LinkScores& links) {
  std::vector<int> out;
  if (count <= 0 || static_cast<size_t>(count) >= candidates.size()) {
    out.assign(
        candidates.begin(),
        candidates.begin() + std::clamp<long>(count, 0, static_cast<long>(candidates.size())));
    return out;
  }
  const size_t n = candidates.size();
  if (count == 1) {
    size_t pick = 0;
    int64_t lowest = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i < n; ++i) {
      int64_t sum = 0;
      for (size_t j = 0; j < n; ++j) {
        if (j != i) {
          sum += links.At(static_cast<size_t>(candidates[i]), static_cast<size_t>(candidates[j]));
        }
      }
      if (sum < lowest) {
        lowest = sum;
        pick = i;
      }
    }
    return {candidates[pick]};
  }
  const std::vector<size_t> positions =
      CombinationsUpToLimit(n, static_cast<size_t>(count)) <= kMaxLinkCombinations
          ? CombinationSearch(candidates, count, links).Run()
          : GreedySearch(candidates, count, links);
  for (size_t p : positions) out.push_back(candidates[p]);
  return out;
}

std::optional<std::vector<int>> FitContainerByLinks(
    std::span<const DeviceUsage> devices, std::span<const int> order,
    const ContainerDeviceRequest& request, const DeviceSelectors& selectors, bool mutex_policy,
    const LinkScores& links, FitFailure* failure, MigPlacementRule mig_rule) {
  if (HasMigDevice(devices, selectors) || request.index_sets) {
    // A vendor's index sets already fix which combinations are allowed.
    return FitContainer(devices, order, request, selectors, mutex_policy, failure, mig_rule);
  }
  if (failure) failure->total_devices = static_cast<int32_t>(order.size());
  if (request.count <= 0) return std::vector<int>{};
  const auto count = static_cast<size_t>(request.count);
  if (count > order.size()) {
    if (failure) failure->Add(FitReason::kNodeInsufficientDevice);
    return std::nullopt;
  }
  std::vector<int> run;  // candidates, in walk (candidate) order
  int32_t run_numa = -1;
  for (size_t pos = order.size(); pos-- > 0;) {
    const int index = order[pos];
    const DeviceUsage& device = devices[static_cast<size_t>(index)];
    if (selectors.numa_bind && run_numa != -1 && device.info.numa != run_numa) {
      if (run.size() >= count) break;  // this NUMA node has enough: choose within it
      if (!run.empty() && failure) failure->Add(FitReason::kNumaNotFit);
      run.clear();
    }
    run_numa = device.info.numa;
    if (auto reason = CheckDevice(device, request, selectors, mutex_policy)) {
      if (failure) failure->Add(*reason);
      continue;
    }
    run.push_back(index);
  }
  if (run.size() < count) {
    if (failure && !run.empty()) failure->Add(FitReason::kAllocatedCardsInsufficientRequest);
    return std::nullopt;
  }
  if (run.size() == count) return run;
  return ChooseLinkedDevices(run, request.count, links);
}

}  // namespace hami::policy
