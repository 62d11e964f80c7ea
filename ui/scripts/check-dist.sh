#!/bin/sh
# CTest ui_dist_up_to_date: rebuilds the web UI from ui/ (npm ci from package-lock.json, then
# npm run build) in a temporary copy and compares the result with the committed ui/dist/, which is
# what hami-scheduler embeds. Fails when someone changed ui/ sources without rebuilding dist (or
# committed a hand-edited dist). Exit 77 (skipped) when npm is missing or the packages cannot be
# installed (no cache and no registry): then nothing can be checked here.
set -eu
ui=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: npm not found, so ui/dist cannot be rebuilt and compared (install nodejs + npm)"
  exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hami-ui-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# The sources only: never the developer's node_modules or the dist under test.
(cd "$ui" && tar -cf - --exclude=./node_modules --exclude=./dist --exclude=./.vite .) | (mkdir "$tmp/ui" && cd "$tmp/ui" && tar -xf -)
cd "$tmp/ui"
if ! npm ci --offline --no-audit --no-fund --loglevel=error >"$tmp/npm-ci.log" 2>&1; then
  if ! npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm-ci.log" 2>&1; then
    echo "SKIP: npm ci failed (no npm cache and no registry?); last lines:"
    tail -n 5 "$tmp/npm-ci.log"
    exit 77
  fi
fi
if ! npm run build --silent >"$tmp/build.log" 2>&1; then
  echo "FAIL: npm run build failed in a clean copy of ui/:"
  cat "$tmp/build.log"
  exit 1
fi
if ! diff -r "$tmp/ui/dist" "$ui/dist" >"$tmp/diff.log" 2>&1; then
  echo "FAIL: the committed ui/dist is not what ui/ builds to. Rebuild and commit it:"
  echo "  cd ui && npm ci && npm run build && git add dist"
  head -n 40 "$tmp/diff.log" | cut -c1-300
  exit 1
fi
echo "ui/dist is up to date ($(find "$ui/dist" -type f | wc -l) files)"
