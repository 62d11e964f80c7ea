// Replay results and their presentation: console table, CSV and SVG plot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace hami::sim {

// One point of the allocation curve, recorded after every pod arrival.
struct CurvePoint {
  double arrived_percent = 0;    // GPU request of all pods tried so far / capacity * 100
  double allocated_percent = 0;  // GPU milli placed / capacity * 100
};

// One vendor's share of a replay: its devices' capacity and what pods were given on them.
struct VendorAllocation {
  std::string vendor;           // vendor key, e.g. "NVIDIA", "DCU"
  int64_t capacity_milli = 0;   // GPUs of that vendor x 1000
  int64_t allocated_milli = 0;  // at the end of the replay (arrived 130 %)

  bool operator==(const VendorAllocation&) const = default;
};

// Outcome of one replay (one policy, one seed).
struct ReplayResult {
  std::string policy;
  uint64_t seed = 0;
  double unallocated_at_100 = 0;  // 100 - allocated % when arrived first reaches 100 %
  double unallocated_at_130 = 0;  // same at the end (arrived 130 %)
  double fragmented_at_90 = 0;    // fragmented GPU milli / capacity * 100 at arrived 90 %
  int64_t pods_total = 0;
  int64_t pods_failed = 0;
  double wall_seconds = 0;
  std::vector<CurvePoint> curve;
  // Per vendor of the cluster, in vendor-key order (one entry for an openb cluster).
  std::vector<VendorAllocation> vendors;
};

// Aggregate over seeds for one policy.
struct PolicySummary {
  std::string policy;
  int seeds = 0;
  double unalloc_100_mean = 0, unalloc_100_sd = 0;
  double unalloc_130_mean = 0, unalloc_130_sd = 0;
  double frag_90_mean = 0, frag_90_sd = 0;
  double failed_mean = 0;
  double wall_seconds_mean = 0;
  // Per vendor (key order): allocated % of that vendor's capacity at the end, mean over seeds.
  std::vector<std::pair<std::string, double>> vendor_allocated_percent;
};

// Groups results by policy (in first-seen order) and computes mean and sample sd (n - 1 in the
// denominator; 0 for a single seed). Pure.
std::vector<PolicySummary> Summarize(const std::vector<ReplayResult>& results);

// Fixed-width table: policy | seeds | unalloc@100% (mean ± sd) | unalloc@130% | frag@90% |
// failed (pods per run) | wall(s) (per run). Percentages are of cluster GPU capacity. When a
// summary has more than one vendor, a last column "alloc@130% by vendor" lists each vendor's
// allocated % of its own capacity ("NVIDIA 95.20, DCU 80.00").
void PrintSummaryTable(const std::vector<PolicySummary>& summary, std::ostream& out);

// CSV with one row per (policy, seed): policy,seed,unallocated_at_100,unallocated_at_130,
// fragmented_at_90,pods_total,pods_failed,wall_seconds; when the results hold more than one
// vendor, then one allocated_at_130_<vendor> column per vendor (its allocated % of its own
// capacity; empty for a run without that vendor).
void WriteResultsCsv(const std::vector<ReplayResult>& results, std::ostream& out);

// Self-contained SVG: allocated % vs arrived % per policy (curve averaged over seeds, sampled
// on a 0.5 % grid of arrived), in two panels side by side: the full range (arrived 0-130 %,
// allocated 0-100 %) and a detail of arrived 80-130 % whose allocated range starts at the lowest
// curve there, rounded down to a multiple of 5 (0 without data there, at most 95). Each panel
// has its own axes, grid and y = x reference line; one legend below both.
void WriteCurveSvg(const std::vector<ReplayResult>& results, std::ostream& out);

// Writes results.csv and curve.svg into `dir` (created if missing, with parents). Returns an
// error Status naming the path when the directory cannot be created or a file cannot be written.
Status WriteReportFiles(const std::vector<ReplayResult>& results, const std::string& dir);

// A single-line progress bar on a terminal ("\r[#####....] 12/40 policy seed"), quiet when
// `enabled` is false. Step() counts one finished unit and redraws; Finish() ends the line with a
// newline (only if something was drawn; calling it twice is harmless). `out` must outlive the
// bar. Not thread-safe.
class ProgressBar {
 public:
  ProgressBar(std::ostream& out, int total, bool enabled);
  void Step(const std::string& label);
  void Finish();

 private:
  std::ostream& out_;
  int total_;
  int done_ = 0;
  bool enabled_;
  size_t last_len_ = 0;  // length of the line last drawn, to blank out a longer previous label
};

}  // namespace hami::sim
