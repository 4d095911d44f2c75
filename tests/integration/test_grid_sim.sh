#!/usr/bin/env bash
# test_grid_sim.sh: `strom grid simulate` against a real `strom server --port 0` on IEEE 123
# replicated to ~3000 devices. Run 1 injects a line fault on F2/Line.L60 (bus 60-61) one
# second in: the devices on the path from F2's source (F2/Breaker; Line.Sw2 13-152 and
# Line.L58 57-60, read off the feeder file) carry fault current for 2 s, the device behind
# the fault (Line.Sw6 61-61s) reads undervoltage and zero current, a branch off bus 60 that
# is not on the path (Line.L61 60-62) stays normal; then Sw2 (the plan's protection device)
# trips: open, and everything behind it (L61, Meter.65) reads zero. Another copy (F3) is
# untouched. The faults table, grid_edges' Sw2 row and the trip's status row are checked.
# Run 2 checks the row count with late and duplicate samples, PMU devices and random faults.
set -u
. "$(dirname "$0")/grid_lib.sh"
ARGS=(--server "$SRV" --topology "$TOPO" --devices 3000 --quiet)

"$BIN" grid load "${ARGS[@]}" >/dev/null 2>"$TMP/err" || fail "grid load: $(cat "$TMP/err")"
"$BIN" grid simulate "${ARGS[@]}" --duration 5 --fault F2/Line.L60 --fault-at 1 >"$TMP/run1" 2>"$TMP/err" \
  || fail "simulate run 1: $(cat "$TMP/err")"
ROWS1=$(sed -n 's/^grid simulate: \([0-9]*\) rows (0 late, 0 duplicates, 0 dropped).*1 fault(s).*/\1/p' "$TMP/run1")
DEV=$("$BIN" grid build --topology "$TOPO" --devices 3000 --json --quiet --sample 0 2>/dev/null | sed -n 's/.*"devices": \([0-9]*\).*/\1/p')
eq "$ROWS1" "$((5 * DEV))" "run 1 rows"

"$BIN" grid simulate "${ARGS[@]}" --duration 3 --late-pct 10 --dup-pct 10 --pmu 5 --fault-every 1 --seed 7 >"$TMP/run2" 2>"$TMP/err" \
  || fail "simulate run 2: $(cat "$TMP/err")"
read -r ROWS2 DUP2 DROP2 NF2 < <(sed -n 's/^grid simulate: \([0-9]*\) rows ([0-9]* late, \([0-9]*\) duplicates, \([0-9]*\) dropped).* \([0-9]*\) fault(s).*/\1 \2 \3 \4/p' "$TMP/run2")
eq "$ROWS2" "$((3 * DEV + 3 * 49 * 5 + DUP2 - DROP2))" "run 2 rows (SCADA + PMU + duplicates - dropouts)"
[ "${DUP2:-0}" -gt 0 ] || fail "run 2: no duplicates: $(cat "$TMP/run2")"
eq "$NF2" 2 "run 2 random faults (at 1 s and 2 s)"

kill -INT "$SPID"; wait "$SPID"; SPID=
sql() { "$BIN" sql --data "$TMP/data" --format csv -e "$1" | tail -n +2; }
eq "$(sql "SELECT count(*) FROM power_equipment_stream")" "$((ROWS1 + ROWS2))" "telemetry rows"
eq "$(sql "SELECT count(*) FROM faults")" "$((1 + NF2))" "faults rows"
eq "$(sql "SELECT fault_type, section, device_id FROM faults WHERE section = 'F2/Line.L60'")" "line_fault,F2/Line.L60,F2/Line.Sw2" "the commanded fault"
T=$(sql "SELECT CAST(event_time AS INTEGER) FROM faults WHERE section = 'F2/Line.L60'")
[ -n "$T" ] || fail "no fault time"
# one device's reading at T + k seconds: current (A, rounded), voltage (kV, 1 decimal), breaker
at() { sql "SELECT CAST(round(current) AS INTEGER), printf('%.0f', voltage), breaker_closed FROM power_equipment_stream WHERE device_id = '$1' AND event_time = $T + $2 * 1000"; }
band() { # device k lo hi: current within [lo, hi]
  local c; c=$(at "$1" "$2" | cut -d, -f1)
  [ -n "$c" ] && [ "$c" -ge "$3" ] && [ "$c" -le "$4" ] || fail "$1 at T+$2: current '$c' not in [$3, $4]"
}
for d in F2/Breaker F2/Line.Sw2 F2/Line.L58 F2/Line.L60; do
  band "$d" -1 0 1000; band "$d" 0 3800 4200; band "$d" 1 3800 4200
done
for k in 0 1; do
  eq "$(at F2/Line.Sw6 $k)" "0,2,1" "Sw6 (behind the fault) at T+$k"
  band F2/Line.L61 $k 1 1000
  band F3/Line.L58 $k 1 1000
done
eq "$(at F2/Line.Sw2 2 | cut -d, -f1,3)" "0,0" "Sw2 tripped"
eq "$(at F2/Line.L61 2)" "0,0,1" "L61 behind the trip"
eq "$(at F2/Meter.65 3)" "0,0,1" "Meter.65 behind the trip"
band F2/Breaker 2 1 1000
band F3/Line.L58 2 1 1000
eq "$(sql "SELECT switch_state, normal_state FROM grid_edges WHERE edge_id = 'F2/Line.Sw2'")" "open,closed" "Sw2 edge row"
eq "$(sql "SELECT device_status FROM device_status_stream WHERE device_id = 'F2/Line.Sw2' AND event_time = $T + 2000")" "tripped" "Sw2 status row"
# duplicates are exact copies; late samples are out of order
eq "$(sql "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT device_id, event_time, voltage, current, va, temperature, frequency_hz FROM power_equipment_stream)) FROM power_equipment_stream")" "$DUP2" "duplicate rows"
# PMU devices (the first 5: F1/Breaker, ...) report at 50 Hz: 49 samples between two SCADA
# ticks, in run 2's 3 s, give or take the 10% moved late or duplicated
T2=$(sed -n 's/.* t0 \([0-9]*\)$/\1/p' "$TMP/run2")
n=$(sql "SELECT count(*) FROM power_equipment_stream WHERE device_id = 'F1/Breaker' AND event_time >= $T2 AND event_time < $T2 + 3000 AND event_time % 1000 <> 0 AND event_time % 20 = 0")
[ "$n" -ge 120 ] && [ "$n" -le 170 ] || fail "PMU samples of F1/Breaker: $n, expected about 147"
eq "$(sql "SELECT count(*) FROM power_equipment_stream WHERE device_id = 'F2/Line.L1' AND event_time > $T2 AND event_time < $T2 + 3000 AND event_time % 1000 <> 0 AND event_time % 20 = 0")" 0 "no PMU samples of a SCADA device (run 2, first second)"

# bad arguments
"$BIN" grid simulate --server "$SRV" --topology "$TOPO" 2>"$TMP/err"; eq "$?" 2 "no --devices"
"$BIN" grid simulate "${ARGS[@]}" --rate-hz 0 2>"$TMP/err"; eq "$?" 2 "rate 0"
grep -q -- "--rate-hz: '0' is not a number in range" "$TMP/err" || fail "rate message: $(cat "$TMP/err")"
"$BIN" grid simulate "${ARGS[@]}" --duration 1 --fault F1/Line.L60 2>"$TMP/err"; eq "$?" 2 "fault after the end"
grep -q -- "--fault-at 1 is not before the end of the run (--duration 1)" "$TMP/err" || fail "fault-at message: $(cat "$TMP/err")"
"$BIN" grid simulate --server 127.0.0.1:1 --topology "$TOPO" --devices 100 --quiet --fault nope 2>"$TMP/err"; eq "$?" 1 "unknown section"
grep -q -- "--fault: no section 'nope' in the built grid" "$TMP/err" || fail "section message: $(cat "$TMP/err")"

[ "$fails" -eq 0 ] && echo "test_grid_sim: ok" || echo "test_grid_sim: $fails failure(s)"
[ "$fails" -eq 0 ]
