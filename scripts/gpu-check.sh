#!/usr/bin/env bash
# gpu-check.sh: libvgpu's probe scenarios (tests/vgpu/probe) against a driver, as one table:
#   scenario | expected | observed | result
#
#   scripts/gpu-check.sh [--build-dir DIR] [--keep]
#       On a machine with an NVIDIA GPU and driver: configures DIR (default build-gpu) with
#       HAMI_PROBE_REAL_DRIVER=ON (the probe gets no run path to the fake libcuda, so it loads the
#       real libcuda.so.1 by soname; the first row checks that with ldd), builds libvgpu,
#       vgpu_probe and vgpu_bench, and runs every scenario on GPU 0.
#   scripts/gpu-check.sh --fake BUILD_DIR [--keep]
#       The same scenarios on the fake driver and fake NVML of an existing build (CTest runs this,
#       so the script cannot rot). Builds nothing.
#
# Every scenario runs the probe with LD_PRELOAD=libvgpu.so, CUDA_DEVICE_MEMORY_LIMIT=1g and a
# shared region of its own in a temporary directory (--keep keeps it and prints where).
# Results: PASS, FAIL, n/a (the probe lacks a command, or the scenario cannot run on this
# driver: said why), INFO (a measurement; never fails).
# Exit status: 0 when no row FAILs, 1 when one does (or the build or setup fails), 2 for a usage
# error, 77 (skipped) without a GPU and without --fake.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=real
BUILD=""
KEEP=0
while (($# > 0)); do
  case $1 in
    --fake)
      [[ $# -ge 2 ]] || { usage >&2; exit 2; }
      MODE=fake BUILD=$2
      shift 2
      ;;
    --build-dir)
      [[ $# -ge 2 ]] || { usage >&2; exit 2; }
      BUILD=$2
      shift 2
      ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

readonly MIB=1048576
readonly LIMIT_MIB=1024
readonly FAKE_CTX_MIB=128 # the fake's context overhead: a real context costs memory too

log() { printf 'gpu-check: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if [[ $MODE == real ]]; then
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
    log "no NVIDIA GPU and driver here (nvidia-smi -L lists none): skipped." \
      "Run with --fake BUILD_DIR to check against the fakes."
    exit 77
  fi
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hami-gpu-check.XXXXXX")
BACKGROUND=()
cleanup() {
  local pid
  for pid in "${BACKGROUND[@]}"; do kill "$pid" 2>/dev/null || true; done
  if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

if [[ $MODE == real ]]; then
  BUILD=${BUILD:-$ROOT/build-gpu}
  log "configuring $BUILD (HAMI_PROBE_REAL_DRIVER=ON)"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHAMI_PROBE_REAL_DRIVER=ON \
    >"$TMP/configure.log" 2>&1 || { tail -n 30 "$TMP/configure.log" >&2; die "configure failed"; }
  log "building vgpu vgpu_probe"
  cmake --build "$BUILD" --target vgpu vgpu_probe -j"$(nproc)" >"$TMP/build.log" 2>&1 ||
    { tail -n 30 "$TMP/build.log" >&2; die "build failed"; }
  log "building vgpu_bench (needs Google Benchmark)"
  cmake --build "$BUILD" --target vgpu_bench -j"$(nproc)" >>"$TMP/build.log" 2>&1 ||
    log "vgpu_bench not built: its rows will say n/a"
fi

BUILD=$(cd "$BUILD" && pwd)
LIBVGPU=$BUILD/libvgpu.so
PROBE=$BUILD/vgpu_probe
BENCH=$BUILD/vgpu_bench
[[ -f $LIBVGPU && -x $PROBE ]] || die "$BUILD has no libvgpu.so or vgpu_probe (build them first)"

# The environment of every probe run (a scenario adds its region and any other variables).
RUN_ENV=(CUDA_DEVICE_MEMORY_LIMIT=1g LIBCUDA_LOG_LEVEL=1)
# The environment that picks the driver: the fakes' directories first in fake mode; in real
# mode whatever the machine has, minus any fake directory.
DRIVER_ENV=()
if [[ $MODE == fake ]]; then
  for f in "$BUILD/fake_cuda/libcuda.so.1" "$BUILD/fake_nvml/libnvidia-ml.so.1"; do
    [[ -f $f ]] || die "$BUILD has no $f (build fake_cuda and fake_nvml first)"
  done
  unset HAMI_FAKE_NVML_CONFIG # the fake NVML then shows the fake driver's GPUs
  DRIVER_ENV=(LD_LIBRARY_PATH="$BUILD/fake_cuda:$BUILD/fake_nvml"
    FAKEGPU_STATE="$TMP/fakegpu.state" FAKEGPU_DEVICES=2 FAKEGPU_MEM=16g
    "FAKEGPU_CTX_OVERHEAD=${FAKE_CTX_MIB}m")
  HOLD_MS=400
else
  kept=""
  IFS=: read -r -a dirs <<<"${LD_LIBRARY_PATH:-}"
  for d in "${dirs[@]}"; do
    [[ -z $d || $d == */fake_cuda || $d == */fake_nvml ]] || kept=${kept:+$kept:}$d
  done
  DRIVER_ENV=(LD_LIBRARY_PATH="$kept")
  HOLD_MS=2000 # long enough for nvidia-smi to see the process and answer
fi

# ---- the table -----------------------------------------------------------------------------

ROWS=()
FAILED=0
row() { # scenario expected observed result
  ROWS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4")
  if [[ $4 == FAIL ]]; then FAILED=$((FAILED + 1)); fi
  log "$4: $1 (observed: $3)"
}
# verdict CONDITION...: PASS when the command succeeds, else FAIL.
verdict() { if "$@"; then echo PASS; else echo FAIL; fi; }

print_table() {
  local -a widths=(8 8 8 6) cells
  local r i
  for r in "${ROWS[@]}"; do
    IFS=$'\t' read -r -a cells <<<"$r"
    for i in 0 1 2 3; do
      ((${#cells[i]} <= widths[i])) || widths[i]=${#cells[i]}
    done
  done
  local format="| %-${widths[0]}s | %-${widths[1]}s | %-${widths[2]}s | %-${widths[3]}s |\n"
  # shellcheck disable=SC2059 # the format is built above
  printf "$format" scenario expected observed result
  printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq $((widths[0] + 2))))" \
    "$(printf -- '-%.0s' $(seq $((widths[1] + 2))))" \
    "$(printf -- '-%.0s' $(seq $((widths[2] + 2))))" \
    "$(printf -- '-%.0s' $(seq $((widths[3] + 2))))"
  for r in "${ROWS[@]}"; do
    IFS=$'\t' read -r -a cells <<<"$r"
    # shellcheck disable=SC2059
    printf "$format" "${cells[@]}"
  done
}

# ---- running the probe ---------------------------------------------------------------------

# probe_env NAME [VAR=VALUE...]: the full environment of a probe run named NAME.
probe_env() {
  local name=$1
  shift
  printf '%s\0' LD_PRELOAD="$LIBVGPU" "${DRIVER_ENV[@]}" "${RUN_ENV[@]}" \
    CUDA_DEVICE_MEMORY_SHARED_CACHE="$TMP/$name.cache" "$@"
}

# start_probe NAME [VAR=VALUE...] -- COMMAND...: starts the probe in the background, its pid in
# PROBE_PID; its output goes to $TMP/NAME.out (one line per command) and $TMP/NAME.err.
PROBE_PID=""
start_probe() {
  local name=$1
  shift
  local -a vars=() env_list=()
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  mapfile -d '' env_list < <(probe_env "$name" "${vars[@]}")
  : >"$TMP/$name.out"
  env "${env_list[@]}" "$PROBE" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PROBE_PID=$!
  BACKGROUND+=("$PROBE_PID")
}

# reap PID: waits for a probe started here (whatever its status) and forgets it.
reap() {
  wait "$1" || true
  local -a left=()
  local pid
  for pid in "${BACKGROUND[@]}"; do [[ $pid == "$1" ]] || left+=("$pid"); done
  BACKGROUND=("${left[@]}")
}

# run_probe NAME [VAR=VALUE...] -- COMMAND...: start_probe, then waits for its end.
run_probe() {
  start_probe "$@"
  reap "$PROBE_PID"
}

# line_count FILE: 0 while FILE does not exist yet.
line_count() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }

# wait_lines FILE COUNT PID: waits until FILE has COUNT lines (0), or PID ended first or 120 s
# passed (1).
wait_lines() {
  local deadline=$((SECONDS + 120))
  while (($(line_count "$1") < $2)); do
    if ! kill -0 "$3" 2>/dev/null; then
      (($(line_count "$1") >= $2))
      return
    fi
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# gpu_used_mib PID: the GPU memory the process holds on GPU 0 in MiB, as the driver counts it
# (context included): nvidia-smi's per-process figure; on the fakes, the device's use seen by
# a process without libvgpu, less that observer's own context.
gpu_used_mib() {
  if [[ $MODE == real ]]; then
    nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits |
      awk -F', *' -v p="$1" '$1 == p { used += $2 } END { print used + 0 }'
  else
    local -a env_list
    mapfile -d '' env_list < <(printf '%s\0' "${DRIVER_ENV[@]}")
    env -u LD_PRELOAD "${env_list[@]}" "$PROBE" init info 2>/dev/null |
      awk -v mib=$MIB -v ctx=$FAKE_CTX_MIB '$1 == "info" && $2 == 0 { print ($4 - $3) / mib - ctx }'
  fi
}

# run_held NAME [VAR=VALUE...] -- WORK...: runs "init hold WORK... hold" and, during the last
# hold, sets USED_MIB to gpu_used_mib of the probe ("" when the probe ended before).
USED_MIB=""
run_held() {
  local name=$1
  shift
  local -a vars=()
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  start_probe "$name" "${vars[@]}" -- init "hold:$HOLD_MS" "$@" "hold:$HOLD_MS"
  USED_MIB=""
  if wait_lines "$TMP/$name.out" $((2 + $#)) "$PROBE_PID"; then
    USED_MIB=$(gpu_used_mib "$PROBE_PID")
  fi
  reap "$PROBE_PID"
}

# codes NAME VERB: the result codes of every line VERB printed, space-separated.
codes() { awk -v v="$2" '$1 == v { printf "%s%s", s, $2; s = " " }' "$TMP/$1.out"; }
# field NAME VERB N [SKIP]: field N after VERB on its (SKIP+1)th line ("" if none).
field() {
  awk -v v="$2" -v n="$3" -v s="${4:-0}" '$1 == v && s-- == 0 { print $(n + 1); exit }' \
    "$TMP/$1.out"
}
# lacking NAME: the command the probe did not know ("" when it knew them all).
lacking() { awk 'NF == 2 && $2 == "unknown" { print $1; exit }' "$TMP/$1.out"; }
mib() { awk -v b="$1" -v m=$MIB 'BEGIN { printf "%g", b / m }'; }

# refused_or_held FIRST_OK ALLOC: the verdict on an allocation made while memory was retained
# (a pool's, graph memory): PASS when FIRST_OK is "yes" and ALLOC was refused (2) or granted (0)
# with the probe's GPU memory (the last run_held) at or under the limit; n/a when granted and
# that memory cannot be measured here; FAIL otherwise.
refused_or_held() {
  if [[ $1 != yes ]]; then echo FAIL; return; fi
  case $2 in
    2) echo PASS ;;
    0)
      if [[ $USED_MIB == 0 && $MODE == real ]]; then
        echo n/a
      else
        verdict awk -v u="${USED_MIB:-x}" -v l=$LIMIT_MIB \
          'BEGIN { exit !(u ~ /^[0-9.]+$/ && u + 0 > 0 && u + 0 <= l) }'
      fi
      ;;
    *) echo FAIL ;;
  esac
}

# physical_row SCENARIO: the container's GPU memory (USED_MIB) never above the limit.
physical_row() {
  if [[ -z $USED_MIB ]]; then
    row "$1: GPU memory held" "<= $LIMIT_MIB MiB" "probe ended early" FAIL
  elif [[ $USED_MIB == 0 && $MODE == real ]]; then
    # Seen where nvidia-smi cannot map processes to pids (a container without the host's pid
    # namespace): nothing to compare.
    row "$1: GPU memory held" "<= $LIMIT_MIB MiB" "n/a (nvidia-smi lists no memory for its pid)" n/a
  elif [[ $USED_MIB == 0 ]]; then
    row "$1: GPU memory held" "<= $LIMIT_MIB MiB" "0 MiB: not even a context (measured wrong?)" FAIL
  else
    row "$1: GPU memory held" "<= $LIMIT_MIB MiB" "$USED_MIB MiB" \
      "$(verdict awk -v u="$USED_MIB" -v l=$LIMIT_MIB 'BEGIN { exit !(u <= l) }')"
  fi
}

# ---- scenarios ------------------------------------------------------------------------------

check_driver() {
  local -a env_list
  mapfile -d '' env_list < <(printf '%s\0' "${DRIVER_ENV[@]}")
  local lib
  lib=$(env "${env_list[@]}" ldd "$PROBE" | awk '$1 == "libcuda.so.1" { print $3 }')
  lib=$( [[ -n $lib ]] && readlink -f "$lib" || echo "not found")
  if [[ $MODE == fake ]]; then
    local want
    want=$(readlink -f "$BUILD/fake_cuda/libcuda.so.1")
    row "probe's libcuda.so.1 (ldd)" "the fake" "$lib" "$(verdict test "$lib" == "$want")"
  else
    row "probe's libcuda.so.1 (ldd)" "the real driver" "$lib" \
      "$(verdict test "$lib" != "not found" -a "${lib#"$BUILD"/}" == "$lib")"
  fi
}

# Each allocation path: 256 MiB fits (with the context's memory), 800 MiB more does not.
check_paths() {
  local small=$((256 * MIB)) large=$((800 * MIB))
  local -a cases=(
    "alloc alloc:$small alloc:$large"
    "alloc-dlsym alloc-dlsym:$small alloc-dlsym:$large"
    "alloc-proc alloc-proc:$small alloc-proc:$large"
    "alloc-managed alloc-managed:$small alloc-managed:$large"
    "alloc-async alloc-async:$small alloc-async:$large"
    "alloc-pitch alloc-pitch:1048576x256 alloc-pitch:1048576x800"
    "vmm vmm:$small vmm:$large"
    "array array:4096x4096 array:8192x6400"
    "mipmap mipmap:4096x4096:1 mipmap:8192x6400:1"
  )
  local c verb fits over missing observed
  for c in "${cases[@]}"; do
    read -r verb fits over <<<"$c"
    run_probe "path-$verb" -- init "$fits" "$over"
    missing=$(lacking "path-$verb")
    if [[ -n $missing ]]; then
      row "$verb: 256 MiB, then 800 MiB" "0, then 2" "n/a (probe lacks command)" n/a
      continue
    fi
    observed="$(field "path-$verb" "$verb" 1), then $(field "path-$verb" "$verb" 1 1)"
    row "$verb: 256 MiB, then 800 MiB" "0, then 2" "$observed" \
      "$(verdict test "$observed" == "0, then 2")"
  done
}

check_fill() {
  run_held fill -- fill
  local count rc
  count=$(field fill fill 1)
  rc=$(field fill fill 2)
  row "fill: 64 MiB chunks until refused" "n x 64 <= $LIMIT_MIB MiB, then 2" \
    "${count:-?} x 64 MiB, then ${rc:-?}" \
    "$(verdict test -n "$count" -a "${count:-0}" -ge 1 -a $((${count:-0} * 64)) -le $LIMIT_MIB -a "$rc" == 2)"
  physical_row fill
}

# The memory views after 256 MiB: the limit as the total, the container's usage (its context
# included) as used.
check_views() {
  run_probe views -- init "hold:$HOLD_MS" "alloc:$((256 * MIB))" info total nvml
  local free total dev_total n_total n_free n_used
  free=$(field views info 2)
  total=$(field views info 3)
  row "cuMemGetInfo after 256 MiB" "total $LIMIT_MIB MiB, free <= 768 MiB" \
    "total $(mib "${total:-0}") MiB, free $(mib "${free:-0}") MiB" \
    "$(verdict test "$(field views info 1)" == 0 -a "${total:-0}" -eq $((LIMIT_MIB * MIB)) \
      -a "${free:-0}" -le $((768 * MIB)))"
  dev_total=$(field views total 2)
  row "cuDeviceTotalMem" "$LIMIT_MIB MiB" "$(mib "${dev_total:-0}") MiB" \
    "$(verdict test "${dev_total:-0}" -eq $((LIMIT_MIB * MIB)))"
  n_total=$(field views nvml 2)
  n_free=$(field views nvml 3)
  n_used=$(field views nvml 4)
  row "nvmlDeviceGetMemoryInfo after 256 MiB" \
    "total $LIMIT_MIB, used >= 256, free = total - used (MiB)" \
    "total $(mib "${n_total:-0}"), used $(mib "${n_used:-0}"), free $(mib "${n_free:-0}")" \
    "$(verdict test "$(field views nvml 1)" == 0 -a "${n_total:-0}" -eq $((LIMIT_MIB * MIB)) \
      -a "${n_used:-0}" -ge $((256 * MIB)) -a $((${n_total:-0} - ${n_used:-0})) -eq "${n_free:-1}")"
}

# After nvmlInit the region names the GPUs (device_num at byte 56, 96-byte UUIDs from byte 64),
# as HAMi's monitor reads it.
check_region_devices() {
  run_probe devices -- nvml
  local region=$TMP/devices.cache want got="" n i
  if [[ $MODE == fake ]]; then
    want="GPU-fa4e0000-0000-0000-0000-000000000000 GPU-fa4e0000-0000-0000-0000-000000000001"
  else
    want=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | tr '\n' ' ' | sed 's/ *$//')
  fi
  if [[ -f $region ]]; then
    n=$(od -An -t u8 -j 56 -N 8 "$region" | tr -d ' ')
    for ((i = 0; i < n && i < 16; i++)); do
      got+="${got:+ }$(dd if="$region" bs=1 skip=$((64 + 96 * i)) count=96 status=none | tr -d '\0')"
    done
  fi
  row "region GPUs after nvmlInit" "$want" "${got:-none}" "$(verdict test "$got" == "$want")"
}

# VMM the way frameworks use it: mapped handles released at once stay charged while mapped.
check_vmm_map() {
  local -a work=()
  local i
  for i in 1 2 3 4 5 6 7 8; do work+=("vmm-map:$((256 * MIB))"); done
  local expected="k x 256 <= $LIMIT_MIB MiB map, then 2 (no context: 5th fails)"
  run_held vmm-map -- "${work[@]}"
  if [[ -n $(lacking vmm-map) ]]; then
    row "vmm-map: 8 x 256 MiB, released while mapped" "$expected" "n/a (probe lacks command)" n/a
    row "vmm-unmap all, then 512 MiB" "unmaps 0, then 0" "n/a (probe lacks command)" n/a
    return
  fi
  local seq mapped
  seq=$(codes vmm-map vmm-map)
  mapped=$(awk '{ for (i = 1; i <= NF && $i == 0; i++) k++; print k + 0 }' <<<"$seq")
  # shellcheck disable=SC2016 # awk's own fields
  row "vmm-map: 8 x 256 MiB, released while mapped" "$expected" "$seq" \
    "$(verdict awk -v k="$mapped" '{ if (k < 1 || k * 256 > 1024) exit 1;
        for (i = k + 1; i <= NF; i++) if ($i != 2) exit 1 }' <<<"$seq")"
  physical_row vmm-map
  work=(init)
  for ((i = 0; i < mapped; i++)); do work+=("vmm-map:$((256 * MIB))"); done
  for ((i = 0; i < mapped; i++)); do work+=(vmm-unmap); done
  work+=("alloc:$((512 * MIB))")
  run_probe vmm-unmap -- "${work[@]}"
  local unmaps alloc
  unmaps=$(codes vmm-unmap vmm-unmap)
  alloc=$(field vmm-unmap alloc 1)
  row "vmm-unmap all $mapped, then 512 MiB" "unmaps 0, then 0" "unmaps ${unmaps:-none}, then $alloc" \
    "$(verdict test -z "$(tr -d ' 0' <<<"$unmaps")" -a "$alloc" == 0)"
}

# Pools: what a pool keeps after frees (release threshold max) stays charged; with threshold 0
# the driver gives it back at the next synchronisation, and so does the charge.
check_pools() {
  local chunk=$((384 * MIB))
  local -a cycles=()
  local i
  for i in 1 2 3; do cycles+=("pool-alloc:$chunk" free-async-last); done
  run_held pool-max -- info pool:max "${cycles[@]}" sync info "alloc:$((768 * MIB))"
  local pool_expected="pool-alloc 0 0 0; alloc 2, or 0 with the pool trimmed (held <= limit)"
  if [[ -n $(lacking pool-max) ]]; then
    row "pool:max: 3 x (384 MiB, freed), then 768 MiB" "$pool_expected" \
      "n/a (probe lacks command)" n/a
    row "pool:max: freed memory stays charged" "free drops >= 384 MiB" \
      "n/a (probe lacks command)" n/a
    row "pool:0: freed memory returned at sync" "free drops < 64 MiB" \
      "n/a (probe lacks command)" n/a
    return
  fi
  local allocs alloc before after
  allocs=$(codes pool-max pool-alloc)
  alloc=$(field pool-max alloc 1)
  row "pool:max: 3 x (384 MiB, freed), then 768 MiB" "$pool_expected" \
    "pool $(field pool-max pool 1); pool-alloc $allocs; alloc $alloc" \
    "$(refused_or_held "$([[ $allocs == "0 0 0" ]] && echo yes)" "$alloc")"
  before=$(field pool-max info 2)
  after=$(field pool-max info 2 1)
  row "pool:max: freed memory stays charged" "free drops >= 384 MiB" \
    "drops $(mib $((${before:-0} - ${after:-0}))) MiB" \
    "$(verdict test $((${before:-0} - ${after:-0})) -ge "$chunk")"
  physical_row "pool:max"
  run_probe pool-zero -- init "hold:$HOLD_MS" info pool:0 "${cycles[@]}" sync info
  before=$(field pool-zero info 2)
  after=$(field pool-zero info 2 1)
  row "pool:0: freed memory returned at sync" "free drops < 64 MiB" \
    "pool-alloc $(codes pool-zero pool-alloc); drops $(mib $((${before:-0} - ${after:-0}))) MiB" \
    "$(verdict test "$(codes pool-zero pool-alloc)" == "0 0 0" \
      -a $((${before:-0} - ${after:-0})) -lt $((64 * MIB)))"
}

# A malloc heap the device reserves counts like an allocation.
check_heap() {
  run_held heap -- "heap:$((512 * MIB))" "alloc:$((800 * MIB))"
  if [[ -n $(lacking heap) ]]; then
    row "heap: 512 MiB malloc heap, then 800 MiB" "heap 0; alloc 2" "n/a (probe lacks command)" n/a
    return
  fi
  local heap alloc
  heap=$(field heap heap 1)
  alloc=$(field heap alloc 1)
  row "heap: 512 MiB malloc heap, then 800 MiB" "heap 0; alloc 2" "heap $heap; alloc $alloc" \
    "$(verdict test "$heap" == 0 -a "$alloc" == 2)"
  physical_row heap
}

# Graph memory the driver keeps reserved after a launch counts like an allocation: the next
# allocation that does not fit is refused, or granted once libvgpu has trimmed graph memory.
check_graph_memory() {
  local scenario="graph-mem: 768 MiB graph allocation, then 512 MiB"
  local expected="graph-mem 0; alloc 2, or 0 with graph memory trimmed (held <= limit)"
  run_held graph-mem -- "graph-mem:$((768 * MIB))" "alloc:$((512 * MIB))"
  if [[ -n $(lacking graph-mem) ]]; then
    row "$scenario" "$expected" "n/a (probe lacks command)" n/a
    return
  fi
  local graph alloc
  graph=$(field graph-mem graph-mem 1)
  alloc=$(field graph-mem alloc 1)
  row "$scenario" "$expected" "graph-mem $graph; alloc $alloc" \
    "$(refused_or_held "$([[ $graph == 0 ]] && echo yes)" "$alloc")"
  physical_row graph-mem
}

# Two containers (two regions) on GPU 0 with CUDA_DEVICE_SM_LIMIT 30 and 70, each running
# kernel_us-long kernels back to back: its share is kernels x kernel_us over the run.
check_compute() {
  local ms=4000 kernel_us=1000 scenario="compute share 30 / 70 (two containers, GPU 0)"
  local expected="30 +- 5 % / 70 +- 7 %"
  run_probe saturate-check -- init "saturate:200:$kernel_us"
  if [[ $(field saturate-check saturate 1) != 0 ]]; then
    local reason
    reason="n/a (saturate failed: $(field saturate-check saturate 1))"
    # The probe's kernels (fakegpu_us_<n> in a module "fake") exist only on the fake driver.
    [[ $MODE == fake ]] || reason="n/a (needs a real kernel: the probe's are the fake's)"
    row "$scenario" "$expected" "$reason" "$([[ $MODE == fake ]] && echo FAIL || echo n/a)"
    return
  fi
  start_probe sm30 CUDA_DEVICE_SM_LIMIT=30 -- init "saturate:$ms:$kernel_us"
  local p30=$PROBE_PID
  start_probe sm70 CUDA_DEVICE_SM_LIMIT=70 -- init "saturate:$ms:$kernel_us"
  reap "$p30"
  reap "$PROBE_PID"
  local s30 s70
  s30=$(awk -v k="$(field sm30 saturate 2)" -v us=$kernel_us -v ms=$ms \
    'BEGIN { printf "%.1f", k * us / (ms * 10) }')
  s70=$(awk -v k="$(field sm70 saturate 2)" -v us=$kernel_us -v ms=$ms \
    'BEGIN { printf "%.1f", k * us / (ms * 10) }')
  row "$scenario" "$expected" "$s30 % / $s70 % (saturate $(field sm30 saturate 1)/$(field sm70 saturate 1))" \
    "$(verdict awk -v a="$s30" -v b="$s70" 'BEGIN { exit !(a >= 25 && a <= 35 && b >= 63 && b <= 77) }')"
}

# libvgpu's added cost per call (vgpu_bench, medians of 5). vgpu_bench opens the fake driver by
# path, so on a real GPU only the region's own cost means anything.
check_overhead() {
  local -a rows=(
    "cuLaunchKernel through libvgpu|Launch/direct|Launch/libvgpu|target <= +20 ns"
    "cuMemAlloc + cuMemFree (1 MiB) through libvgpu|AllocFree/direct|AllocFree/libvgpu|target <= +1000 ns"
  )
  if [[ ! -x $BENCH ]]; then
    row "libvgpu overhead (vgpu_bench)" "medians" "n/a (no vgpu_bench: Google Benchmark missing)" n/a
    return
  fi
  "$BENCH" --benchmark_filter='^(Launch|AllocFree|RegionChargePair)/' --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true --benchmark_min_time=0.1 --benchmark_format=csv \
    >"$TMP/bench.csv" 2>"$TMP/bench.err" || true
  median() { awk -F, -v n="\"$1_median\"" '$1 == n { printf "%.1f", $3 }' "$TMP/bench.csv"; }
  local r label base hooked target b h
  for r in "${rows[@]}"; do
    IFS='|' read -r label base hooked target <<<"$r"
    if [[ $MODE == real ]]; then
      row "$label" "$target" "n/a (vgpu_bench measures the fake driver)" n/a
      continue
    fi
    b=$(median "$base")
    h=$(median "$hooked")
    if [[ -z $b || -z $h ]]; then
      row "$label" "$target" "no result (see $TMP/bench.err)" INFO
    else
      row "$label" "$target" "$h vs $b ns direct (+$(awk -v h="$h" -v b="$b" \
        'BEGIN { printf "%.1f", h - b }') ns)" INFO
    fi
  done
  local fast slow
  fast=$(median RegionChargePair/robust_mutex)
  slow=$(median RegionChargePair/record_lock)
  row "region charge + uncharge" "robust mutex << record lock" \
    "${fast:-?} ns vs ${slow:-?} ns" INFO
}

log "mode $MODE, build $BUILD, scratch $TMP"
check_driver
check_paths
check_fill
check_views
check_region_devices
check_vmm_map
check_pools
check_heap
check_graph_memory
check_compute
check_overhead

echo
print_table
echo
if ((FAILED > 0)); then
  log "$FAILED row(s) FAILED"
  exit 1
fi
log "no row FAILED"
