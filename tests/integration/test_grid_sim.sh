#!/usr/bin/env bash
# test_grid_sim.sh: `strom grid simulate` against a real `strom server --port 0` on IEEE 123
# replicated to ~3000 devices (13 copies of 220 devices, 12 ties: N = 2872).
# Run 1 (paced, 6 s) injects a line fault on F2/Line.L60 (bus 60-61) one second in:
#  - phases: device i samples at t0 + k s + i / N s (event time: the ms it falls in); the copies' breakers are
#    devices 0, 220, 2640 (copy k starts at (k-1) * 220): phases 0, 76 (76.6) and 919 ms;
#  - report by exception at the fault time T: the path from F2's source (F2/Breaker;
#    Line.Sw2 13-152 and Line.L58 57-60, read off the feeder file) with fault current, the
#    device behind the fault (Line.Sw6 61-61s) with undervoltage, nothing of a branch off
#    bus 60 not on the path (Line.L61 60-62) nor of another copy; at the trip (T + 2 s,
#    Sw2, the nearest switchable device upstream) Sw2 open, L61 dead;
#  - the periodic samples in between follow (fault current, undervoltage, then dead);
#  - following the switching: after the trip the test writes grid_edges rows (open Sw4
#    and Sw6, close Sw7, the plan of `strom grid plan` for L60) with `strom produce`:
#    the load beyond Sw4 (Line.L67 67-72, dead at the trip) reads current again, reported
#    by exception once at the switching time, and L61 stays dead.
# Run 2 (--no-pace) checks the row count with late and duplicate samples, PMU devices and
# random faults.
set -u
. "$(dirname "$0")/grid_lib.sh"
ARGS=(--server "$SRV" --topology "$TOPO" --devices 3000 --quiet)

"$BIN" grid load "${ARGS[@]}" >/dev/null 2>"$TMP/err" || fail "grid load: $(cat "$TMP/err")"
DEV=$("$BIN" grid build --topology "$TOPO" --devices 3000 --json --quiet --sample 0 2>/dev/null | sed -n 's/.*"devices": \([0-9]*\).*/\1/p')
eq "$DEV" 2872 "devices"
"$BIN" grid simulate "${ARGS[@]}" --duration 6 --fault F2/Line.L60 --fault-at 1 --events >"$TMP/run1" 2>"$TMP/err1" &
SIM=$!
for _ in $(seq 200); do grep -q '"event": "trip"' "$TMP/run1" && break; sleep 0.05; done
grep -q '"event": "trip"' "$TMP/run1" || fail "no trip event: $(cat "$TMP/run1" "$TMP/err1")"
NOW=$(date -u '+%Y-%m-%d %H:%M:%S.%3N')
printf 'edge_id,from_bus,to_bus,kind,switch_state,normal_state,rating_kw,feeder,updated\n%s\n%s\n%s\n' \
  "F2/Line.Sw4,F2/60,F2/160,switch,open,closed,,F2,$NOW" "F2/Line.Sw6,F2/61,F2/61s,switch,open,closed,,F2,$NOW" \
  "F2/Line.Sw7,F2/151,F2/300,switch,closed,open,,F2,$NOW" >"$TMP/sw.csv"
"$BIN" produce grid_edges "$TMP/sw.csv" --server "$SRV" >/dev/null 2>"$TMP/err" || fail "produce: $(cat "$TMP/err")"
wait "$SIM" || fail "simulate run 1: $(cat "$TMP/err1")"
# the JSON lines: the fault, the trip, the switching followed, the summary
grep -q '^{"event": "fault", "fault_id": "FLT-[0-9]*-0001", "type": "line_fault", "section": "F2/Line.L60", "feeder": "F2", "t_ms": [0-9]*, "tripped": "F2/Line.Sw2"}$' "$TMP/run1" \
  || fail "fault event: $(grep fault "$TMP/run1")"
eq "$(grep -c '"event": "switch"' "$TMP/run1")" 3 "switch events (Sw4, Sw6, Sw7)"
grep -q '"event": "stats", "rows": [0-9]*, "rows_per_s"' "$TMP/run1" || fail "no stats line"
SUM=$(grep '"event": "summary"' "$TMP/run1")
num() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" <<<"$SUM"; }
ROWS1=$(num rows); EXC1=$(num exception_rows); T0=$(num t0)
eq "$(num faults)" 1 "run 1 faults"
eq "$(num switches)" 3 "run 1 switchings followed"
eq "$ROWS1" "$((6 * DEV + EXC1))" "run 1 rows (periodic + by exception)"
[ "$EXC1" -gt 10 ] || fail "run 1: $EXC1 rows by exception"

"$BIN" grid simulate "${ARGS[@]}" --duration 3 --late-pct 10 --dup-pct 10 --pmu 5 --fault-every 1 --seed 7 --no-pace >"$TMP/run2" 2>"$TMP/err" \
  || fail "simulate run 2: $(cat "$TMP/err")"
read -r ROWS2 DUP2 DROP2 NF2 < <(sed -n 's/^grid simulate: \([0-9]*\) rows ([0-9]* late, \([0-9]*\) duplicates, \([0-9]*\) dropped).* \([0-9]*\) fault(s).*/\1 \2 \3 \4/p' "$TMP/run2")
EXC2=$(sed -n 's/^grid simulate: \([0-9]*\) rows by exception.*/\1/p' "$TMP/run2")
eq "$ROWS2" "$((3 * DEV + 3 * 49 * 5 + DUP2 - DROP2 + EXC2))" "run 2 rows (SCADA + PMU + duplicates - dropouts + by exception)"
[ "${DUP2:-0}" -gt 0 ] || fail "run 2: no duplicates: $(cat "$TMP/run2")"
eq "$NF2" 2 "run 2 random faults (at 1 s and 2 s)"

kill -INT "$SPID"; wait "$SPID"; SPID=
[ -n "${KEEP:-}" ] && cp -r "$TMP" "$KEEP"
sql() { "$BIN" sql --data "$TMP/data" --format csv -e "$1" | tail -n +2; }
eq "$(sql "SELECT count(*) FROM power_equipment_stream")" "$((ROWS1 + ROWS2))" "telemetry rows"
eq "$(sql "SELECT count(*) FROM faults")" "$((1 + NF2))" "faults rows"
eq "$(sql "SELECT fault_type, section, device_id FROM faults WHERE section = 'F2/Line.L60'")" "line_fault,F2/Line.L60,F2/Line.Sw2" "the commanded fault"
T=$(sql "SELECT CAST(event_time AS INTEGER) FROM faults WHERE section = 'F2/Line.L60'")
eq "$T" "$((T0 + 1000))" "fault time = t0 + 1 s"
# the switching followed: the ms the simulator applied it (when it read the rows this test
# wrote: a wall-clock time, any ms of a second)
SW=$(sed -n 's/.*"event": "switch", "edge": "F2\/Line.Sw7", "state": "closed", "t_ms": \([0-9]*\).*/\1/p' "$TMP/run1")
# phases: the breakers of copies 1, 2 and 13 sample at 0, 76 and 919 ms of every second:
# one row per second at the phase, but at an event time (the fault T, the trip T + 2 s, the
# switching SW) a device whose reading changed also reports by exception, and SW is the ms
# the simulator read this test's rows (+68 ms in a run here, later under load): when it is
# +76 ms, F2/Breaker has two rows there (both counted: the failure seen under load). So:
# the rows at other times, plus one per event time at the phase (its periodic sample).
phase() { sql "SELECT sum(CASE WHEN event_time IN ($T, $T + 2000, ${SW:-0}) THEN 0 ELSE 1 END) + count(DISTINCT CASE WHEN event_time IN ($T, $T + 2000, ${SW:-0}) THEN event_time END) FROM power_equipment_stream WHERE device_id = '$1' AND event_time >= $T0 AND event_time < $T0 + 6000 AND (event_time - $T0) % 1000 = $2"; }
eq "$(phase F2/Breaker 76)" 6 "F2/Breaker: one sample per second at +76 ms"
eq "$(phase F13/Breaker 919)" 6 "F13/Breaker: one sample per second at +919 ms"
eq "$(sql "SELECT count(*) FROM power_equipment_stream WHERE device_id = 'F2/Breaker' AND event_time = ${SW:-0}")" \
  "$((1 + ((SW - T0) % 1000 == 76)))" "F2/Breaker reports at the switching (its load changed)"
eq "$(sql "SELECT count(*) FROM power_equipment_stream WHERE device_id = 'F13/Breaker' AND event_time >= $T0 AND event_time < $T0 + 6000")" 6 "F13/Breaker: no rows by exception"
eq "$(sql "SELECT count(DISTINCT (event_time - $T0) % 1000) FROM power_equipment_stream WHERE event_time >= $T0 + 4000 AND event_time < $T0 + 5000")" 1000 "samples spread over every ms of a second"
# report by exception at T: path devices with fault current, Sw6 undervoltage, not L61, not F3
exc() { sql "SELECT CAST(round(current) AS INTEGER), printf('%.0f', voltage), breaker_closed FROM power_equipment_stream WHERE device_id = '$1' AND event_time = $2"; }
for d in F2/Breaker F2/Line.Sw2 F2/Line.L58 F2/Line.L60; do
  c=$(exc "$d" "$T" | cut -d, -f1)
  [ -n "$c" ] && [ "$c" -ge 3880 ] && [ "$c" -le 4120 ] || fail "$d at T: current '$c', expected 4000 A +-3%"
done
eq "$(exc F2/Line.Sw6 "$T")" "0,2,1" "Sw6 (behind the fault) at T"
eq "$(exc F2/Line.L61 "$T")" "" "L61 (not on the path) does not report at T"
eq "$(sql "SELECT count(*) FROM power_equipment_stream WHERE event_time = $T AND device_id LIKE 'F3/%'")" 0 "F3 does not report at T"
eq "$(sql "SELECT count(*) FROM power_equipment_stream WHERE event_time = $T AND device_id LIKE 'F2/%' AND NOT (current > 3800 OR voltage < 2.2)")" 0 "every F2 row at T: fault current or undervoltage"
# at the trip
eq "$(exc F2/Line.Sw2 $((T + 2000)) | cut -d, -f1,3)" "0,0" "Sw2 tripped (reported at T + 2 s)"
eq "$(exc F2/Line.L61 $((T + 2000)))" "0,0,1" "L61 dead at the trip"
eq "$(sql "SELECT device_status FROM device_status_stream WHERE device_id = 'F2/Line.Sw2' AND event_time = $T + 2000")" "tripped" "Sw2 status row"
# the periodic samples between: second k after T (strictly between the event times)
at() { sql "SELECT CAST(round(current) AS INTEGER), printf('%.0f', voltage), breaker_closed FROM power_equipment_stream WHERE device_id = '$1' AND event_time > $T + $2 * 1000 AND event_time < $T + $2 * 1000 + 1000"; }
band() { # device k lo hi: current within [lo, hi]
  local c; c=$(at "$1" "$2" | cut -d, -f1)
  [ -n "$c" ] && [ "$c" -ge "$3" ] && [ "$c" -le "$4" ] || fail "$1 in second $2 after T: current '$c' not in [$3, $4]"
}
for d in F2/Line.Sw2 F2/Line.L58 F2/Line.L60; do
  band "$d" -1 0 1000; band "$d" 0 3800 4200; band "$d" 1 3800 4200
done
for k in 0 1; do
  eq "$(at F2/Line.Sw6 $k)" "0,2,1" "Sw6 (behind the fault) in second $k"
  band F2/Line.L61 $k 1 1000
  band F3/Line.L58 $k 1 1000
done
eq "$(at F2/Line.Sw2 2 | cut -d, -f1,3)" "0,0" "Sw2 open"
eq "$(at F2/Line.Meter.65 3)" "" "no such device (sanity of at())"
eq "$(at F2/Meter.65 4)" "0,0,1" "Meter.65 in the section stays dead"
eq "$(at F2/Line.L61 4)" "0,0,1" "L61 in the section stays dead"
band F3/Line.L58 2 1 1000
# following the switching: L67 (behind Sw4, fed through Sw7 after the test's rows)
eq "$(exc F2/Line.L67 $((T + 2000)))" "0,0,1" "L67 dead at the trip"
c=$(exc F2/Line.L67 "$SW" | cut -d, -f1)
[ -n "$c" ] && [ "$c" -ge 1 ] && [ "$c" -le 1000 ] || fail "L67 at the switching ($SW): current '$c'"
eq "$(sql "SELECT count(*) FROM power_equipment_stream WHERE device_id = 'F2/Line.Sw4' AND event_time = $SW")" 1 "Sw4 reports once at the switching"
band F2/Line.L67 4 1 1000
eq "$(at F2/Line.Sw7 4 | cut -d, -f3)" 1 "Sw7 closed"
eq "$(sql "SELECT switch_state FROM grid_edges WHERE edge_id = 'F2/Line.Sw7'")" "closed" "Sw7 edge row"
# duplicates are exact copies; late samples are out of order
eq "$(sql "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT device_id, event_time, voltage, current, va, temperature, frequency_hz FROM power_equipment_stream)) FROM power_equipment_stream")" "$DUP2" "duplicate rows"
# PMU devices (the first 5: F1/Breaker, ...) report at 50 Hz: 49 samples between two SCADA
# ticks, in run 2's 3 s, give or take the 10% moved late or duplicated
T2=$(sed -n 's/.* t0 \([0-9]*\)$/\1/p' "$TMP/run2")
n=$(sql "SELECT count(*) FROM power_equipment_stream WHERE device_id = 'F1/Breaker' AND event_time >= $T2 AND event_time < $T2 + 3000 AND event_time % 1000 <> 0 AND event_time % 20 = 0")
[ "$n" -ge 120 ] && [ "$n" -le 170 ] || fail "PMU samples of F1/Breaker: $n, expected about 147"
n=$(sql "SELECT count(*) FROM power_equipment_stream WHERE device_id = 'F2/Line.L1' AND event_time >= $T2 AND event_time < $T2 + 3000")
[ "$n" -le 8 ] || fail "F2/Line.L1 (SCADA, 1 Hz): $n rows in 3 s"

# bad arguments
"$BIN" grid simulate --server "$SRV" --topology "$TOPO" 2>"$TMP/err"; eq "$?" 2 "no --devices"
"$BIN" grid simulate "${ARGS[@]}" --rate-hz 0 2>"$TMP/err"; eq "$?" 2 "rate 0"
grep -q -- "--rate-hz: '0' is not a number in range" "$TMP/err" || fail "rate message: $(cat "$TMP/err")"
"$BIN" grid simulate "${ARGS[@]}" --duration 1 --fault F1/Line.L60 2>"$TMP/err"; eq "$?" 2 "fault after the end"
grep -q -- "--fault-at 1 is not before the end of the run (--duration 1)" "$TMP/err" || fail "fault-at message: $(cat "$TMP/err")"
"$BIN" grid simulate "${ARGS[@]}" --fault-types line,quake 2>"$TMP/err"; eq "$?" 2 "bad fault type"
grep -q -- "--fault-types: 'quake' is not one of line, overtemp, freq, dropout" "$TMP/err" || fail "fault-types message: $(cat "$TMP/err")"
"$BIN" grid simulate --server 127.0.0.1:1 --topology "$TOPO" --devices 100 --quiet --fault nope 2>"$TMP/err"; eq "$?" 1 "unknown section"
grep -q -- "--fault: no section 'nope' in the built grid" "$TMP/err" || fail "section message: $(cat "$TMP/err")"

[ "$fails" -eq 0 ] && echo "test_grid_sim: ok" || echo "test_grid_sim: $fails failure(s)"
[ "$fails" -eq 0 ]
