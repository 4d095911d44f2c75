#!/usr/bin/env bash
# test_grid_demo.sh: `strom demo` and `strom bench grid` end to end on a small grid: the
# server, loader, dispatcher and simulator run as child processes; every injected line
# fault must get a decision that passes the run's own check (section dead, network radial:
# apps/grid/live.c), and the figures must be printed.
BIN=${STROM_BIN:?STROM_BIN is not set}
TMP=$(mktemp -d /tmp/strom-demo-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() { grep -q -- "$2" "$1" || fail "expected '$2' in the output of $3: $(tail -n 30 "$1")"; }

# usage errors
"$BIN" demo --devices abc >"$TMP/o" 2>"$TMP/e"; [ $? -eq 2 ] || fail "demo --devices abc: exit 2"
has "$TMP/e" "--devices 'abc'" "demo --devices abc"
mkdir -p "$TMP/notours"; touch "$TMP/notours/precious"
"$BIN" demo --data "$TMP/notours" --devices 3000 --duration 5 >"$TMP/o" 2>"$TMP/e"
[ $? -eq 1 ] || fail "demo on a foreign directory: exit 1"
has "$TMP/e" "not a directory an earlier demo made" "demo on a foreign directory"
[ -e "$TMP/notours/precious" ] || fail "demo removed a file of a directory it did not make"

# the demo, twice on the same directory (the second run starts afresh)
for run in 1 2; do
  "$BIN" demo --data "$TMP/demo" --devices 3000 --duration 7 --fault-every 2 >"$TMP/demo.out" 2>"$TMP/demo.err"
  rc=$?
  [ $rc -eq 0 ] || fail "demo run $run exit $rc: $(tail -n 20 "$TMP/demo.err") $(tail -n 20 "$TMP/demo.out")"
  has "$TMP/demo.out" "DECISION" "demo"
  has "$TMP/demo.out" "sample->decision p50" "demo"
  line=$(grep "faults  " "$TMP/demo.out")
  inj=$(echo "$line" | sed -n 's/.* \([0-9]*\) injected.*/\1/p')
  ok=$(echo "$line" | sed -n 's/.*decided, \([0-9]*\) isolated correctly.*/\1/p')
  [ -n "$inj" ] && [ "$inj" -ge 2 ] || fail "demo run $run injected '$inj' faults: $line"
  [ "$inj" = "$ok" ] || fail "demo run $run: $ok of $inj faults isolated correctly: $line"
done
has "$TMP/demo.out" "last analysis" "demo"

# the benchmark, quick, on a small grid
"$BIN" bench grid --quick --devices 3000 --json --dir "$TMP" >"$TMP/bench.out" 2>"$TMP/bench.err" \
  || fail "bench grid exit $?: $(tail -n 20 "$TMP/bench.err")"
json=$(tail -n 1 "$TMP/bench.out")
for k in devices ingest_rows_per_s decision_p50_ms decision_p99_ms decision_max_ms faults_injected \
         faults_isolated_correctly load_restored_pct cpu_pct rss_mb; do
  echo "$json" | grep -q "\"$k\": [0-9]" || fail "bench grid JSON lacks $k: $json"
done
inj=$(echo "$json" | sed -n 's/.*"faults_injected": \([0-9]*\).*/\1/p')
ok=$(echo "$json" | sed -n 's/.*"faults_isolated_correctly": \([0-9]*\).*/\1/p')
[ -n "$inj" ] && [ "$inj" -ge 2 ] && [ "$inj" = "$ok" ] || fail "bench grid: $ok of $inj faults isolated correctly"
ls "$TMP" | grep -q strom-bench-grid && fail "bench grid left its directory behind"

[ "$fails" -eq 0 ] && echo "test_grid_demo: ok" || echo "test_grid_demo: $fails failure(s)"
[ "$fails" -eq 0 ]
