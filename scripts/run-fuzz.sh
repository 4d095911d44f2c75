#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, seeded from tests/fuzz/corpus/<target>/
# when that exists. Fails on the first crash, leak or timeout (the reproducer is left in build dir).
set -euo pipefail
dir=$(cd "$1" && pwd); secs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
targets=("$dir"/fuzz_*)
[ ${#targets[@]} -gt 0 ] || { echo "run-fuzz: no fuzz targets in $dir" >&2; exit 1; }
for t in "${targets[@]}"; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  work="$dir/corpus/$name"; mkdir -p "$work"
  seeds=()
  [ -d "$root/tests/fuzz/corpus/$name" ] && seeds+=("$root/tests/fuzz/corpus/$name")
  echo "fuzz: $name for ${secs}s"
  (cd "$dir" && "./$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=0 "$work" "${seeds[@]}" 2>"$dir/$name.log") || {
    tail -n 40 "$dir/$name.log" >&2; echo "fuzz: $name FAILED" >&2; exit 1; }
  grep -E '^(#[0-9]+ *DONE|Done)' "$dir/$name.log" | tail -n 1 || true
done
echo "fuzz: all targets clean"
