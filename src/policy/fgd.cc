#include "policy/fgd.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/strings.h"
#include "policy/frag.h"

namespace hami::policy {
namespace {

bool ModelAllowed(const std::string& node_model, const std::vector<std::string>& models) {
  if (models.empty()) return true;
  return std::any_of(models.begin(), models.end(),
                     [&](const std::string& m) { return ContainsIgnoreCase(node_model, m); });
}

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::vector<FgdTypicalPod> FgdTypicalPods(const std::vector<FgdPodShape>& pods) {
  using Key = std::tuple<int64_t, int32_t, int32_t, std::string>;
  std::map<Key, std::pair<size_t, size_t>> counts;  // key -> (count, first seen)
  for (size_t i = 0; i < pods.size(); ++i) {
    const FgdPodShape& p = pods[i];
    const Key key{p.cpu_milli, p.gpu_count, p.gpu_count == 0 ? 0 : p.gpu_milli, p.gpu_model};
    auto [it, inserted] = counts.try_emplace(key, 0, i);
    ++it->second.first;
  }
  std::vector<std::pair<Key, std::pair<size_t, size_t>>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    if (a.second.first != b.second.first) return a.second.first > b.second.first;
    return a.second.second < b.second.second;
  });
  std::vector<FgdTypicalPod> typical;
  double covered = 0;
  for (const auto& [key, count] : sorted) {
    if (covered >= 0.95) break;
    FgdTypicalPod t;
    t.shape.cpu_milli = std::get<0>(key);
    t.shape.gpu_count = std::get<1>(key);
    t.shape.gpu_milli = std::get<2>(key);
    t.shape.gpu_model = std::get<3>(key);
    for (std::string_view m : Split(t.shape.gpu_model, '|')) {
      if (!m.empty()) t.models.emplace_back(m);
    }
    t.share = static_cast<double>(count.first) / static_cast<double>(pods.size());
    covered += t.share;
    typical.push_back(std::move(t));
  }
  return typical;
}

double FgdNodeFrag(const std::vector<FgdTypicalPod>& typical, const int32_t* free_milli,
                   size_t gpu_count, const std::string& gpu_model, int64_t cpu_free_milli) {
  int64_t free_total = 0;
  int32_t most_free = 0;
  int32_t whole_free = 0;
  for (size_t g = 0; g < gpu_count; ++g) {
    free_total += free_milli[g];
    most_free = std::max(most_free, free_milli[g]);
    if (free_milli[g] >= 1000) ++whole_free;
  }
  double frag = 0;
  for (const FgdTypicalPod& t : typical) {
    const FgdPodShape& p = t.shape;
    // CPU-only types, types of another GPU model and types the node cannot host: all free GPU.
    bool hosted = p.gpu_count > 0 && ModelAllowed(gpu_model, t.models) &&
                  (cpu_free_milli == kUnknownHostResource || cpu_free_milli >= p.cpu_milli);
    if (hosted) {
      hosted = p.gpu_count == 1 && p.gpu_milli < 1000 ? most_free >= p.gpu_milli
                                                      : whole_free >= p.gpu_count;
    }
    if (!hosted) {
      frag += t.share * static_cast<double>(free_total);
      continue;
    }
    int64_t too_small = 0;  // free milli on GPUs with less free than the type asks per GPU
    for (size_t g = 0; g < gpu_count; ++g) {
      if (free_milli[g] < p.gpu_milli) too_small += free_milli[g];
    }
    frag += t.share * static_cast<double>(too_small);
  }
  return frag;
}

int64_t FgdScore(double frag_before, double frag_after) {
  const double x = (frag_before - frag_after) / 1000.0;
  return static_cast<int64_t>(1.0 / (1.0 + std::exp(-x)) * 100.0);
}

size_t FgdPolicy::MemoHash::operator()(const MemoKey& key) const {
  uint64_t h = Mix(static_cast<uint64_t>(key.model) << 32 | static_cast<uint32_t>(key.cpu_step));
  for (int16_t f : key.free) h = Mix(h ^ static_cast<uint16_t>(f));
  return static_cast<size_t>(h);
}

FgdPolicy::FgdPolicy(std::string name, std::vector<FgdTypicalPod> typical)
    : name_(std::move(name)), typical_(std::move(typical)) {
  for (const FgdTypicalPod& t : typical_) cpu_steps_.push_back(t.shape.cpu_milli);
  std::sort(cpu_steps_.begin(), cpu_steps_.end());
  cpu_steps_.erase(std::unique(cpu_steps_.begin(), cpu_steps_.end()), cpu_steps_.end());
}

void FgdPolicy::Reseed(uint64_t seed) { seed_ = seed; }

uint64_t FgdPolicy::TieRank(const std::string& node_name) const {
  // A random prefix per seed makes the name order a random fixed order per seed.
  uint64_t h = Mix(seed_);
  for (unsigned char c : node_name) h = Mix(h ^ c);
  return h;
}

double FgdPolicy::Frag(const NodeState& node, const int32_t* free_milli, size_t count,
                       int64_t cpu_free) {
  const std::string& model = node.devices.empty() ? std::string() : node.devices[0].info.type;
  // Only how many typical CPU requests the free CPU covers matters to the measure.
  const int32_t cpu_step =
      cpu_free == kUnknownHostResource
          ? static_cast<int32_t>(cpu_steps_.size())
          : static_cast<int32_t>(std::upper_bound(cpu_steps_.begin(), cpu_steps_.end(), cpu_free) -
                                 cpu_steps_.begin());
  const int64_t cpu_for_measure = cpu_step == 0
                                      ? -2
                                      : (cpu_step >= static_cast<int32_t>(cpu_steps_.size())
                                             ? kUnknownHostResource
                                             : cpu_steps_[static_cast<size_t>(cpu_step - 1)]);
  if (count > MemoKey{}.free.size()) {
    return FgdNodeFrag(typical_, free_milli, count, model, cpu_for_measure);
  }
  MemoKey key;
  auto m = std::find(models_.begin(), models_.end(), model);
  if (m == models_.end()) m = models_.insert(models_.end(), model);
  key.model = static_cast<int32_t>(m - models_.begin());
  key.cpu_step = cpu_step;
  for (size_t g = 0; g < count; ++g) key.free[g] = static_cast<int16_t>(free_milli[g]);
  for (size_t g = count; g < key.free.size(); ++g) key.free[g] = -1;
  std::sort(key.free.begin(), key.free.end(), std::greater<>());
  auto it = memo_.find(key);
  if (it != memo_.end()) return it->second;
  const double frag = FgdNodeFrag(typical_, free_milli, count, model, cpu_for_measure);
  if (memo_.size() < (1u << 20)) memo_.emplace(key, frag);
  return frag;
}

PlacementOutcome FgdPolicy::Place(const PodRequest& pod, NodeList nodes, bool collect_reasons) {
  PlacementOutcome outcome;
  int64_t best_score = -1;
  uint64_t best_rank = 0;
  // The container that asks for devices (the simulator's pods have one; others get HAMi's
  // device choice, scored the same way).
  int asking = -1, asking_count = 0;
  for (size_t c = 0; c < pod.containers.size(); ++c) {
    if (pod.containers[c].count > 0) {
      asking = static_cast<int>(c);
      ++asking_count;
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeState& node = nodes[i];
    if (!HostFitsOrNote(node, pod, i, collect_reasons, &outcome)) continue;
    const size_t count = node.devices.size();
    // The node's free milli and fragmentation before placement, computed when first needed
    // (a cached answer needs neither).
    std::vector<int32_t>& free = free_;
    double before = -1;
    auto measure_before = [&] {
      if (before >= 0) return;
      free.resize(count);
      for (size_t g = 0; g < count; ++g) {
        free[g] = FragModel::FreeState(node.devices[g]).free_milli;
      }
      before = Frag(node, free.data(), count, node.cpu_free_milli);
    };
    // The state after placement takes the pod's CPU too (the artifact's newNodeRes).
    const int64_t cpu_after = node.cpu_free_milli == kUnknownHostResource
                                  ? kUnknownHostResource
                                  : node.cpu_free_milli - pod.cpu_milli;
    int64_t node_score = -1;
    std::vector<std::vector<int>> node_devices;
    auto score_of = [&](const std::vector<std::vector<int>>& devices) -> int64_t {
      auto uses = ResolveUses(node, pod, devices);
      if (!uses) return -1;
      measure_before();
      scratch_ = free;
      for (const auto& container : *uses) {
        for (const DeviceUse& use : container) {
          scratch_[use.index] =
              FragModel::FreeStateAfter(node.devices[use.index], use.demand).free_milli;
        }
      }
      return FgdScore(before, Frag(node, scratch_.data(), count, cpu_after));
    };
    const bool share = asking_count == 1 &&
                       pod.containers[static_cast<size_t>(asking)].count == 1 &&
                       !pod.containers[static_cast<size_t>(asking)].index_sets && count > 0;
    if (share) {
      if (pod.containers.size() == 1) {
        // The usual case, without the general placement machinery: one container, one device.
        const ContainerDeviceRequest& request = pod.containers[0];
        CachedBest* cached = nullptr;
        if (node.generation != 0) {
          const size_t slot = nodes.Slot(i);
          if (slot >= slot_cache_.size()) slot_cache_.resize(slot + 1);
          SlotCache& cache = slot_cache_[slot];
          if (cache.generation != node.generation) {
            cache.generation = node.generation;
            cache.entries.clear();
          }
          for (CachedBest& entry : cache.entries) {
            if (entry.key.cpu_milli == pod.cpu_milli && entry.key.request == request &&
                entry.key.selectors == pod.selectors) {
              cached = &entry;
            }
          }
          if (cached == nullptr) {
            if (cache.entries.size() >= 32) cache.entries.erase(cache.entries.begin());
            cache.entries.push_back(CachedBest{ShapeKey{request, pod.selectors, pod.cpu_milli}});
            cached = &cache.entries.back();
            cached->score = -2;  // not computed yet
          }
        }
        if (cached != nullptr && cached->score != -2) {
          node_score = cached->score;
          if (node_score >= 0) node_devices = {{cached->device}};
        } else {
          for (size_t g = 0; g < count; ++g) {
            const DeviceUsage& device = node.devices[g];
            if (CheckDevice(device, request, pod.selectors, false)) continue;
            measure_before();
            scratch_ = free;
            scratch_[g] =
                FragModel::FreeStateAfter(device, ResolveDemand(device, request)).free_milli;
            const int64_t s = FgdScore(before, Frag(node, scratch_.data(), count, cpu_after));
            if (s > node_score) {
              node_score = s;
              node_devices = {{static_cast<int>(g)}};
            }
          }
          if (cached != nullptr) {
            cached->score = node_score;
            cached->device = node_score >= 0 ? node_devices[0][0] : -1;
          }
        }
      } else {
        // Every GPU the pod may take, by the per-GPU integer score, first index on ties.
        std::vector<std::vector<int>> devices(pod.containers.size());
        for (size_t g = 0; g < count; ++g) {
          devices[static_cast<size_t>(asking)] = {static_cast<int>(g)};
          if (!PlacementAllowed(node, pod, devices)) continue;
          const int64_t s = score_of(devices);
          if (s > node_score) {
            node_score = s;
            node_devices = devices;
          }
        }
      }
      if (node_score < 0) {
        if (collect_reasons) {
          FitFailure failure;
          (void)PodFits(node, pod, GpuPolicy{}, &failure);
          outcome.failed_nodes.emplace_back(static_cast<int>(i), failure.ToString());
        }
        continue;
      }
    } else {
      FitFailure failure;
      auto fit = FitPod(node, pod, GpuPolicy{{GpuPolicyKey::kBinpack}},
                        collect_reasons ? &failure : nullptr);
      if (!fit) {
        if (collect_reasons) {
          outcome.failed_nodes.emplace_back(static_cast<int>(i), failure.ToString());
        }
        continue;
      }
      node_devices = std::move(*fit);
      node_score = score_of(node_devices);
      if (node_score < 0) continue;
    }
    const uint64_t rank = TieRank(node.name);
    if (node_score > best_score || (node_score == best_score && rank < best_rank)) {
      best_score = node_score;
      best_rank = rank;
      outcome.placement =
          Placement{static_cast<int>(i), std::move(node_devices), static_cast<double>(node_score)};
    }
  }
  return outcome;
}

}  // namespace hami::policy
