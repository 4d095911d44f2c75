#!/usr/bin/env bash
# test_cli.sh: black-box tests of the `strom` command (STROM_BIN, set by CMake; default
# build/strom): help, exit codes, bad arguments, demo, tables/describe, bench --json
# (log and kv).
set -u
BIN=${STROM_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/strom}
TMP=$(mktemp -d /tmp/strom-cli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0
OUT=$TMP/out ERR=$TMP/err

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run EXPECTED_CODE ARGS...: runs the command, output in $OUT / $ERR.
run() {
  local want=$1; shift
  "$BIN" "$@" >"$OUT" 2>"$ERR"
  local got=$?
  [ "$got" -eq "$want" ] || { fail "strom $* exited $got, expected $want"; sed 's/^/  | /' "$ERR" | head -5; }
}
has()     { grep -q -- "$2" "$1" || fail "expected '$2' in $(basename "$1") of: $LAST"; }
has_not() { ! grep -q -- "$2" "$1" || fail "did not expect '$2' in $(basename "$1") of: $LAST"; }

# ---- help and usage
LAST="strom --help";        run 0 --help;      has "$OUT" "usage: strom"; has "$OUT" "demo"; has "$OUT" "bench"; has "$OUT" "describe"
LAST="strom";               run 2;             has "$ERR" "usage: strom"
LAST="strom nonsense";      run 2 nonsense;    has "$ERR" "unknown command 'nonsense'"
for c in demo tour bench tables describe; do
  LAST="strom $c --help";   run 0 "$c" --help; has "$OUT" "usage: strom $c"
done
LAST="strom bench --help";  run 0 bench --help; has "$OUT" "log"

# ---- bad arguments: exit 2 with a message naming the argument
LAST="tour --rows abc";     run 2 tour --rows abc --data "$TMP/d";   has "$ERR" -- "--rows"; has "$ERR" "abc"
LAST="tour --rows 0";       run 2 tour --rows 0 --data "$TMP/d";     has "$ERR" -- "--rows"; has "$ERR" "out of range"
LAST="tour --frobnicate";   run 2 tour --frobnicate;                 has "$ERR" "unknown option '--frobnicate'"
LAST="tour --data";         run 2 tour --data;                       has "$ERR" -- "--data needs a value"
LAST="tour extra";          run 2 tour extra;                        has "$ERR" "unexpected argument 'extra'"
LAST="bench";               run 2 bench;                             has "$ERR" "missing argument NAME"; has "$ERR" "log "
LAST="bench nosuch";        run 2 bench nosuch;                      has "$ERR" "unknown benchmark 'nosuch'"; has "$ERR" "log"
LAST="bench log --quick=1"; run 2 bench log --quick=1;               has "$ERR" -- "--quick takes no value"
LAST="describe";            run 2 describe --data "$TMP/d";          has "$ERR" "missing argument TABLE"
LAST="tables (no dir)";     run 1 tables --data "$TMP/nowhere";      has "$ERR" "'$TMP/nowhere' does not exist"
[ -e "$TMP/nowhere" ] && fail "tables created the missing data directory"

# ---- the storage tour with tiny sizes
D=$TMP/data
LAST="tour";                run 0 tour --data "$D" --rows 30000 --devices 200 --dim-devices 20000
has "$OUT" "30,000 readings from 200 feeder devices"
has "$OUT" "150 s of 1 Hz telemetry"
has "$OUT" "DEVICE_00100"            # fewer than 12346 devices: the middle one is asked about
has "$OUT" "100 readings in"
has "$OUT" "Only voltage, current"
has "$OUT" "Seek by time"
has "$OUT" "20,000 devices upserted"
has "$OUT" "1,000,000 found (all exist: correct)"
has "$OUT" "AS OF 14:25:00:    status 'maintenance'"
has "$OUT" "latest:            status 'in service'"
has "$OUT" "answers checked against the writes: all correct"
has_not "$OUT" "WRONG"
has_not "$OUT" "strom:"
cp "$OUT" "$TMP/demo1"
LAST="tour again";          run 0 tour --data "$D" --rows 20000 --devices 200 --dim-devices 1000
has "$OUT" "dropped the table grid_telemetry"

# The history table printed by the demo: newest first, at or before 14:30:00.
awk '/^   DEVICE_/ { print $3 " " $4 }' "$TMP/demo1" >"$TMP/times"
[ "$(wc -l <"$TMP/times")" -ge 5 ] || fail "demo printed fewer than 5 history rows"
sort -r -c "$TMP/times" 2>/dev/null || fail "demo history rows are not newest first"
awk '$0 > "2025-01-13 14:30:00.000" { bad=1 } END { exit bad }' "$TMP/times" ||
  fail "demo history shows rows after 2025-01-13 14:30:00"

# ---- tables / describe
LAST="tables";              run 0 tables --data "$D"
has "$OUT" "grid_telemetry"; has "$OUT" "20,000"; has "$OUT" "device_dimension"; has "$OUT" "(2 tables in"
LAST="describe";            run 0 describe grid_telemetry --data "$D"
for w in device_id event_time voltage tap_position "TIMESTAMP(3)" "NOT NULL" bucket.num \
         bucket.key table.time-column "total: 20,000 rows"; do
  has "$OUT" "$w"
done
[ "$(grep -c -E '^ +[0-9]+ +[A-Za-z_]+ +[A-Z]' "$OUT")" -ge 20 ] || fail "describe lists fewer than 20 columns"
LAST="describe pk";         run 0 describe device_dimension --data "$D"
has "$OUT" "primary key: (device_id)"; has "$OUT" "table.kv.version-column"; has "$OUT" "last_update"
LAST="describe missing";    run 1 describe no_such_table --data "$D"; has "$ERR" "no_such_table"

# ---- bench --quick --json: the last line is one JSON object with every required key
LAST="bench log --quick --json"
run 0 bench log --quick --json --rows 300000 --devices 2000 --dir "$TMP"
tail -n 1 "$OUT" >"$TMP/json"
python3 - "$TMP/json" <<'EOF' || fail "bench --json last line is not valid or lacks keys"
import json, sys
d = json.load(open(sys.argv[1]))
need = ["append_rows_per_s", "append_mb_per_s", "compression_ratio", "scan_all_rows_per_s",
        "scan_2of20_rows_per_s", "projection_speedup", "key_history_p50_ms",
        "key_history_p99_ms", "history_rows", "recovery_s"]
missing = [k for k in need if k not in d]
assert not missing, missing
assert d["history_rows"] == 300000, d["history_rows"]
assert all(isinstance(d[k], (int, float)) and d[k] >= 0 for k in need)
assert d["append_rows_per_s"] > 0 and d["scan_all_rows_per_s"] > 0
assert abs(d["projection_speedup"] - d["scan_2of20_rows_per_s"] / d["scan_all_rows_per_s"]) < 0.01 * d["projection_speedup"] + 0.01
assert d["key_history_errors"] == 0
assert d["key_history_p50_ms"] <= d["key_history_p99_ms"]
EOF
ls "$TMP" | grep -q strom-bench- && fail "bench left its data directory behind"

# ---- bench kv --quick --json (small): every required key, AS OF measured, nothing left
LAST="bench kv --quick --json"
run 0 bench kv --quick --json --devices 5000 --rows 20000 --dir "$TMP"
tail -n 1 "$OUT" >"$TMP/json"
python3 - "$TMP/json" <<'EOF' || fail "bench kv --json last line is not valid or lacks keys"
import json, sys
d = json.load(open(sys.argv[1]))
need = ["upsert_rows_per_s", "lookup_per_s_1thread", "lookup_per_s_2threads",
        "batch_lookup_keys_per_s", "lookup_p99_us", "asof_lookup_per_s", "asof_lookup_p99_us",
        "prefix_lookup_p99_us", "state_bytes_per_row", "recovery_s", "rebuild_s",
        "redis_get_per_s", "redis_get_pipelined64_keys_per_s", "floors_failed"]
missing = [k for k in need if k not in d]
assert not missing, missing
for k in need:
    if k.startswith("redis_"):
        assert d[k] is None or d[k] > 0, k
    else:
        assert isinstance(d[k], (int, float)) and d[k] >= 0, k
assert d["devices"] == 5000 and d["prefix_rows_per_lookup"] == 50
assert d["lookup_per_s_1thread"] > 0 and d["asof_lookup_per_s"] > 0
EOF
ls "$TMP" | grep -q -E "strom-bench-kv-|strom-redis-" && fail "bench kv left a directory behind"

if [ "$fails" -ne 0 ]; then echo "test_cli: $fails failure(s)"; exit 1; fi
echo "test_cli: all passed"
