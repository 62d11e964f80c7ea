#!/usr/bin/env bash
# Installs dependencies, builds hami (Release) and runs the main job: `hami simulate` on the
# built-in synthetic cluster and workload (or pass simulate flags, e.g. --nodes/--pods).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHAMI_BUILD_TESTS=OFF -DHAMI_BUILD_BENCH=OFF >/dev/null
cmake --build build --target hami -j"$(nproc)"
exec ./build/hami simulate "$@"
