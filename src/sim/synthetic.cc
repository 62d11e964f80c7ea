// A synthetic cluster and workload shaped like the openb trace, for `hami simulate` on a machine
// without the trace files and for tests.
//
// Determinism: only std::mt19937_64's raw output is used (its sequence is fixed by the C++
// standard); all mapping to ranges and weighted choices is done here, because the standard
// distributions are implementation-defined and would give different workloads on libstdc++ and
// libc++ for the same seed.
#include <algorithm>
#include <array>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "sim/trace.h"

namespace hami::sim {
namespace {

// SplitMix64 finaliser: turns nearby seeds (42, 43, ...) and stream tags into unrelated
// mt19937_64 seeds, so the cluster and workload streams of one seed are not correlated.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) : gen_(Mix(seed ^ Mix(stream))) {}

  // Uniform in [0, n) by rejection, so there is no modulo bias. n must be > 0.
  uint64_t Below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (true) {
      const uint64_t x = gen_();
      if (x >= threshold) {
        return x % n;
      }
    }
  }

  // Index drawn with probability weights[i] / sum(weights). Weights are positive.
  size_t Weighted(std::span<const int> weights) {
    uint64_t total = 0;
    for (int w : weights) {
      total += static_cast<uint64_t>(w);
    }
    uint64_t r = Below(total);
    for (size_t i = 0; i < weights.size(); ++i) {
      const auto w = static_cast<uint64_t>(weights[i]);
      if (r < w) {
        return i;
      }
      r -= w;
    }
    return weights.size() - 1;  // unreachable
  }

  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(Below(N))];
  }

 private:
  std::mt19937_64 gen_;
};

struct NodeShape {
  const char* model;
  int32_t gpus;
  int64_t cpu_milli;
  int64_t memory_mib;
  int weight;  // share of nodes, in percent
};

// Roughly the openb mix: mostly 8-GPU G2 machines and 2-GPU T4/P100 machines, a few 4-GPU V100
// boxes, big-memory G3 nodes and single-GPU A10/T4 nodes, so all of 1/2/4/8 GPUs occur.
constexpr std::array<NodeShape, 10> kNodeShapes = {{
    {"G2", 8, 96000, 393216, 30},
    {"G2", 2, 64000, 262144, 10},
    {"T4", 2, 64000, 262144, 18},
    {"T4", 1, 32000, 131072, 4},
    {"P100", 2, 64000, 262144, 8},
    {"V100M16", 4, 64000, 262144, 7},
    {"V100M32", 4, 96000, 393216, 7},
    {"V100M32", 8, 96000, 393216, 4},
    {"G3", 8, 128000, 786432, 8},
    {"A10", 1, 32000, 131072, 4},
}};

// Pod kinds and their shares (per mille): whole single GPU, GPU sharing, multi-GPU, CPU-only.
enum PodKind : size_t { kWhole = 0, kSharing = 1, kMulti = 2, kCpuOnly = 3 };
constexpr std::array<int, 4> kKindWeights = {470, 310, 60, 160};

// Sharing fractions seen in the trace cluster around a quarter to four fifths of a GPU.
constexpr std::array<int32_t, 11> kSharingMilli = {160, 200, 250, 300, 330, 400,
                                                   460, 500, 600, 700, 810};
constexpr std::array<int32_t, 3> kMultiGpus = {2, 4, 8};
constexpr std::array<int, 3> kMultiWeights = {50, 30, 20};

// Host requests in vCPU, and GiB of host memory per vCPU.
constexpr std::array<int64_t, 6> kWholeVcpu = {4, 6, 8, 8, 12, 16};
constexpr std::array<int64_t, 4> kSharingVcpu = {2, 4, 4, 8};
constexpr std::array<int64_t, 3> kMultiVcpuPerGpu = {4, 8, 12};
constexpr std::array<int64_t, 6> kCpuOnlyVcpu = {2, 4, 8, 8, 16, 32};
constexpr std::array<int64_t, 3> kGibPerVcpu = {2, 4, 8};

constexpr int kGpuSpecPerMille = 100;  // share of GPU pods that carry a model constraint

std::string Numbered(const char* prefix, int index, size_t width) {
  std::string digits = std::to_string(index);
  if (digits.size() < width) {
    digits.insert(0, width - digits.size(), '0');
  }
  return prefix + digits;
}

}  // namespace

Cluster MakeSyntheticCluster(uint64_t seed, int node_count) {
  Rng rng(seed, /*stream=*/1);
  std::array<int, kNodeShapes.size()> weights{};
  for (size_t i = 0; i < kNodeShapes.size(); ++i) {
    weights[i] = kNodeShapes[i].weight;
  }
  Cluster cluster;
  cluster.nodes.reserve(static_cast<size_t>(std::max(node_count, 0)));
  for (int i = 0; i < node_count; ++i) {
    const NodeShape& shape = kNodeShapes[rng.Weighted(weights)];
    SimNode node;
    node.name = Numbered("syn-node-", i, 4);
    node.cpu_milli = shape.cpu_milli;
    node.memory_mib = shape.memory_mib;
    node.gpu_count = shape.gpus;
    node.model = shape.model;
    node.gpu_memory_mib = OpenbModelMemoryMib(node.model);
    cluster.nodes.push_back(std::move(node));
  }
  return cluster;
}

Workload MakeSyntheticWorkload(const Cluster& cluster, uint64_t seed, int pod_count) {
  Rng rng(seed, /*stream=*/2);
  // Every pod is sized against a real "host" node drawn from the cluster, so each one fits at
  // least one node on its own; failures in a replay then come from packing, not from pods that
  // could never run. Without GPU nodes, GPU pods would be unschedulable noise: make all CPU-only.
  int32_t max_gpus = 0;
  std::vector<std::string> models;
  for (const SimNode& node : cluster.nodes) {
    max_gpus = std::max(max_gpus, node.gpu_count);
    if (node.gpu_count > 0 && std::find(models.begin(), models.end(), node.model) == models.end()) {
      models.push_back(node.model);
    }
  }
  // hosts[g]: nodes with at least g GPUs, the possible hosts of a g-GPU pod.
  std::array<std::vector<const SimNode*>, kMaxPodGpus + 1> hosts;
  for (const SimNode& node : cluster.nodes) {
    for (int32_t g = 0; g <= std::min(node.gpu_count, kMaxPodGpus); ++g) {
      hosts[static_cast<size_t>(g)].push_back(&node);
    }
  }
  // Fallback host shape when the cluster is empty (pods are still well-formed).
  SimNode fallback;
  fallback.cpu_milli = 64000;
  fallback.memory_mib = 262144;

  Workload workload;
  workload.pods.reserve(static_cast<size_t>(std::max(pod_count, 0)));
  for (int i = 0; i < pod_count; ++i) {
    SimPod pod;
    pod.name = Numbered("syn-pod-", i, 5);
    size_t kind = rng.Weighted(kKindWeights);
    if (max_gpus == 0) {
      kind = kCpuOnly;
    }
    int64_t vcpu = 0;
    switch (kind) {
      case kWhole:
        pod.num_gpu = 1;
        pod.gpu_milli = kWholeGpuMilli;
        vcpu = rng.Pick(kWholeVcpu);
        break;
      case kSharing:
        pod.num_gpu = 1;
        pod.gpu_milli = rng.Pick(kSharingMilli);
        vcpu = rng.Pick(kSharingVcpu);
        break;
      case kMulti: {
        pod.num_gpu = kMultiGpus[rng.Weighted(kMultiWeights)];
        // Never ask for more GPUs than the largest node has.
        while (pod.num_gpu > max_gpus) {
          pod.num_gpu /= 2;
        }
        pod.gpu_milli = kWholeGpuMilli;
        vcpu = pod.num_gpu * rng.Pick(kMultiVcpuPerGpu);
        break;
      }
      default:
        vcpu = rng.Pick(kCpuOnlyVcpu);
        break;
    }
    // Host node: uniform over nodes with enough GPUs (so common shapes host more pods).
    const SimNode* host = &fallback;
    const auto& candidates = hosts[static_cast<size_t>(pod.num_gpu)];
    if (!candidates.empty()) {
      host = candidates[static_cast<size_t>(rng.Below(candidates.size()))];
    }
    pod.cpu_milli = std::min(vcpu * 1000, host->cpu_milli);
    pod.memory_mib = std::min(vcpu * rng.Pick(kGibPerVcpu) * 1024, host->memory_mib);
    if (pod.num_gpu > 0 && static_cast<int>(rng.Below(1000)) < kGpuSpecPerMille) {
      // The host's own model keeps the pod satisfiable; half the time allow a second model.
      pod.gpu_spec.push_back(host->model);
      if (models.size() > 1 && rng.Below(2) == 0) {
        const std::string& other = models[static_cast<size_t>(rng.Below(models.size()))];
        if (other != host->model) {
          pod.gpu_spec.push_back(other);
        }
      }
    }
    workload.pods.push_back(std::move(pod));
  }
  return workload;
}

}  // namespace hami::sim
