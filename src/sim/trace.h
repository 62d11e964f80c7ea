// Cluster and workload descriptions for the simulator, and their loaders.
//
// The openb format is the public Alibaba GPU-sharing trace (see docs/simulate.md):
//   nodes: sn,cpu_milli,memory_mib,gpu,model[,vendor[,gpu_memory_mib]]
//   pods:  name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,qos,pod_phase,creation_time,
//          deletion_time,scheduled_time][,vendor]
// The bracketed vendor columns are our extension for mixed-vendor clusters (vendor keys as in
// device/vendor.h, e.g. "NVIDIA", "DCU", "AMD"); without them every node and pod is NVIDIA's,
// so the trace's own files load exactly as before.
// Loaders are pure parsers over text plus thin file wrappers; every error names the file
// (or "<input>") and the 1-based line.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "common/status.h"

namespace hami::sim {

struct SimNode {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;  // host memory
  int32_t gpu_count = 0;
  std::string model;              // e.g. "T4", "G2"
  int32_t gpu_memory_mib = 0;     // per GPU: the model table's, or the gpu_memory_mib column
  std::string vendor = "NVIDIA";  // vendor key of the node's devices
};

struct Cluster {
  std::vector<SimNode> nodes;
  int64_t TotalGpuMilli() const;
};

struct SimPod {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int32_t num_gpu = 0;                // 0..8
  int32_t gpu_milli = 0;              // per GPU, 1..1000 (0 when num_gpu == 0)
  std::vector<std::string> gpu_spec;  // allowed models; empty = any (NVIDIA pods only)
  std::string vendor = "NVIDIA";      // vendor key whose devices the pod asks for

  int64_t GpuMilliTotal() const { return static_cast<int64_t>(num_gpu) * gpu_milli; }
};

struct Workload {
  std::vector<SimPod> pods;
};

// GPU memory (MiB) of a model in the openb trace: P100 16384, T4 15360, V100M16 16384,
// V100M32 32768, A10 24576, G2 32768, G3 81920 (G2/G3 sizes are the trace README's assumption).
// Returns 0 for an unknown model.
int32_t OpenbModelMemoryMib(const std::string& model);

// Limits the loaders enforce. The "absurd" bounds reject values no real machine has (10k cores,
// ~95 TiB) so a corrupted file fails loudly instead of skewing a replay.
inline constexpr int32_t kMaxPodGpus = 8;
inline constexpr int32_t kMaxNodeGpus = 64;
inline constexpr int32_t kWholeGpuMilli = 1000;
inline constexpr int64_t kAbsurdCpuMilli = 10'000'000;
inline constexpr int64_t kAbsurdMemoryMib = 100'000'000;
inline constexpr int32_t kAbsurdGpuMemoryMib = 10'000'000;  // ~9.5 TiB on one device
inline constexpr size_t kMaxVendorKeyLength = 63;

// A vendor key or a model name outside the openb table: 1..63 characters of letters, digits,
// '-', '_' and '.'. Returns InvalidArgument naming `field` and quoting the value. Pure.
Status ValidateSimKey(const char* field, const std::string& key);

// The rules every node / pod obeys, whether loaded or synthetic: non-empty name, cpu and memory
// in 0..absurd, GPU counts in range, valid vendor keys; a node's model is an openb model with
// the table's memory, or another valid model name with gpu_memory_mib in 1..absurd; for pods,
// gpu_milli is 0 iff num_gpu is 0 and below 1000 only when num_gpu is 1, gpu_spec names openb
// models. Returns InvalidArgument naming the field and quoting the
// offending value (no file/line: the loaders add that). Pure, thread-safe.
Status ValidateSimNode(const SimNode& node);
Status ValidateSimPod(const SimPod& pod);

// Parse an openb node list. `source` names the input in errors ("file.csv:12: ...").
// The header must be exactly one of the known column sets (the openb ones, optionally followed by
// the vendor columns above: a node list's gpu_memory_mib may be empty on a row whose model is in
// the openb table); CRLF line endings and trailing blank
// lines are accepted, a blank line in the middle is not; an input without rows is an error
// ("no nodes" / "no pods"). Never throws on malformed input. Load* read the whole file (the only
// file I/O here) and fail with NotFound when it cannot be opened.
Result<Cluster> ParseOpenbNodes(std::istream& in, const std::string& source);
Result<Cluster> LoadOpenbNodes(const std::string& path);

// Parse an openb pod list (11-column or 5-column form, either optionally followed by vendor;
// chosen by the header).
Result<Workload> ParseOpenbPods(std::istream& in, const std::string& source);
Result<Workload> LoadOpenbPods(const std::string& path);

// A deterministic synthetic cluster and workload shaped like openb (mixed models, 2/4/8-GPU
// nodes, whole-GPU, sharing, multi-GPU and CPU-only pods). Used when `hami simulate` runs
// without files, so it works on a fresh machine. Same seed, same output.
Cluster MakeSyntheticCluster(uint64_t seed, int node_count = 400);
Workload MakeSyntheticWorkload(const Cluster& cluster, uint64_t seed, int pod_count = 3000);

}  // namespace hami::sim
