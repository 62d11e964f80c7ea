#!/usr/bin/env bash
# Builds the benchmarks (Release) and prints medians over repetitions, with each policy's
# ratio to the hami-default / hami-binpack baseline measured in the same run.
# Usage: bench/run.sh [repetitions]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${1:-5}"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DHAMI_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target placement_bench -j2 >/dev/null
export HAMI_SHARED_DATA="${HAMI_SHARED_DATA:-$PWD/../shared/data}"
out=$(mktemp)
./build-bench/placement_bench --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_format=json >"$out"
python3 - "$out" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
rows = {}
for b in data["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    name = b["run_name"]
    rows[name] = b
print(f"{'benchmark':40} {'median':>12} {'p50':>10} {'p99':>10} {'vs baseline':>12}")
for name, b in rows.items():
    unit = b["time_unit"]
    base_name = name.replace("hami_frag", "hami_default").replace("/fgd", "/hami_binpack") \
                    .replace("Replay/hami_frag", "Replay/hami_binpack")
    if name.startswith("BM_Replay"):
        base_name = "BM_Replay/hami_binpack" + name[len(name.split("/")[0]) + len(name.split("/")[1]) + 1:]
    base = rows.get(base_name)
    ratio = f"{b['real_time'] / base['real_time']:.2f}x" if base and base is not b else "baseline"
    p50 = f"{b['p50_us'] / 1000:.3f}ms" if "p50_us" in b else "-"
    p99 = f"{b['p99_us'] / 1000:.3f}ms" if "p99_us" in b else "-"
    print(f"{name:40} {b['real_time']:>10.3f}{unit:>2} {p50:>10} {p99:>10} {ratio:>12}")
PY
rm -f "$out"
