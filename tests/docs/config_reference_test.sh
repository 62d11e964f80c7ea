#!/usr/bin/env bash
# Fails when docs/configuration.md is not what scripts/gen-config-reference.sh generates from the
# binaries in <build-dir> (a flag, a default, the device config or the env header changed without
# regenerating), or when the code reads an environment variable the reference does not document.
# Usage: tests/docs/config_reference_test.sh <build-dir>
# CTest: add_test(NAME docs_config_reference COMMAND tests/docs/config_reference_test.sh <build-dir>)
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 <build-dir>" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
committed=$root/docs/configuration.md
[[ -f $committed ]] || { echo "FAIL: $committed is missing" >&2; exit 1; }

fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
if ! "$root/scripts/gen-config-reference.sh" "$1" "$fresh"; then
  echo "FAIL: scripts/gen-config-reference.sh $1 failed (see above)" >&2
  exit 1
fi
if ! diff -u --label docs/configuration.md --label regenerated "$committed" "$fresh"; then
  echo "FAIL: docs/configuration.md is stale; run: scripts/gen-config-reference.sh $1" >&2
  exit 1
fi
echo "PASS: docs/configuration.md matches the binaries in $1"
