#!/usr/bin/env bash
# test_grid_dispatch.sh: `strom grid dispatch` against a real `strom server --port 0` with
# IEEE 123 replicated to ~3000 devices (13 feeders, --no-ties so that every feeder's plan is
# the template's: `strom grid plan` on the section without the copy prefix).
# Phase 1: the dispatcher follows `grid simulate` with a commanded fault on F2/Line.L60 at
# 1 s and random faults at 2 s and 4 s (seed 1: two more line faults, the one at 2 s on
# another feeder while the first is still on). A rule added to alarm_rules while the
# dispatcher runs (a probe: voltage > 0 on breakers) takes effect without a restart.
# Every line fault of the faults table gets exactly one decision whose opened/closed lists
# are the template plan's with the copy prefix, grid_edges carries the new switch states,
# alarm_stream has no duplicate.
# Phase 2: late and duplicate samples, a fault on F5/Line.L60; the dispatcher is killed
# (SIGKILL) right after its decision and restarted while the telemetry goes on: no decision
# lost or repeated, no alarm written twice, the probe alarms still one per breaker.
set -u
. "$(dirname "$0")/grid_lib.sh"
ARGS=(--server "$SRV" --topology "$TOPO" --devices 3000 --no-ties --quiet)
DPID=
trap 'kill -9 $DPID 2>/dev/null; cleanup' EXIT

"$BIN" grid load "${ARGS[@]}" >/dev/null 2>"$TMP/err" || fail "grid load: $(cat "$TMP/err")"

start_dispatcher() { # output file, extra options
  local out=$1; shift
  "$BIN" grid dispatch "${ARGS[@]}" --events "$@" >"$out" 2>"$out.err" &
  DPID=$!
  for _ in $(seq 300); do grep -q "following" "$out.err" && return 0; sleep 0.05; done
  fail "dispatcher did not start: $(cat "$out.err")"
}
wait_for() { # file pattern seconds
  for _ in $(seq $(($3 * 20))); do grep -q "$2" "$1" && return 0; sleep 0.05; done
  return 1
}

# ---------------------------------------------------------------- phase 1
start_dispatcher "$TMP/d1"
grep -q "default rules written" "$TMP/d1.err" || fail "defaults not seeded: $(cat "$TMP/d1.err")"
printf 'rule_id,metric,op,threshold,clear_threshold,severity,alarm_type,hold_ms,enabled,device_type\nR99,voltage,>,0,0,3,probe,0,true,breaker\n' \
  | "$BIN" produce alarm_rules --server "$SRV" >/dev/null 2>"$TMP/err" || fail "rule edit: $(cat "$TMP/err")"
wait_for "$TMP/d1.err" "alarm_rules changed: 9 rule" 5 || fail "rule edit not seen: $(cat "$TMP/d1.err")"
"$BIN" grid simulate "${ARGS[@]}" --duration 6 --fault F2/Line.L60 --fault-at 1 --fault-every 2 --seed 1 \
  >"$TMP/sim1" 2>"$TMP/err" || fail "simulate 1: $(cat "$TMP/err")"
for _ in $(seq 100); do [ "$(grep -c '"event":"decision"' "$TMP/d1")" -ge 3 ] && break; sleep 0.05; done
kill -TERM "$DPID"; wait "$DPID"; eq "$?" 0 "dispatcher 1 exit (SIGTERM)"; DPID=
grep -q '"event":"summary"' "$TMP/d1" || fail "no summary line"
grep -q '"event":"stats","rows":' "$TMP/d1" || fail "no stats line"

# each decision against the template's plan: opened/closed with the copy prefix
check_plan() { # events file, copy, template section
  local line exp
  line=$(grep "\"fault\":\"F$2/$3\"" "$1")
  exp=$("$BIN" grid plan --topology "$TOPO" --fault "$3" --json --quiet 2>/dev/null | tail -n 1)
  local o c
  o=$(sed -n 's/.*"opened": \[\(.*\)\], "closed".*/\1/p' <<<"$exp" | sed "s/\"Line/\"F$2\/Line/g; s/, /,/g")
  c=$(sed -n 's/.*"closed": \[\(.*\)\], "load_int.*/\1/p' <<<"$exp" | sed "s/\"Line/\"F$2\/Line/g; s/, /,/g")
  eq "$(sed -n 's/.*"opened":\[\([^]]*\)\].*/\1/p' <<<"$line" | sed 's/, /,/g')" "$o" "F$2/$3 opened"
  eq "$(sed -n 's/.*"closed":\[\([^]]*\)\].*/\1/p' <<<"$line" | sed 's/, /,/g')" "$c" "F$2/$3 closed"
}
eq "$(grep -c '"event":"decision"' "$TMP/d1")" 3 "phase 1 decisions"
for f in $(sed -n 's/.*"fault":"F\([0-9]*\)\/\([^"]*\)".*/\1:\2/p' "$TMP/d1"); do
  check_plan "$TMP/d1" "${f%%:*}" "${f#*:}"
done
"$BIN" lookup grid_edges F2/Line.Sw2 F2/Line.Sw7 F1/Line.Sw2 --server "$SRV" --columns edge_id,switch_state >"$TMP/l1"
eq "$(sed -n '2,4p' "$TMP/l1" | tr '\n' ' ')" "F2/Line.Sw2,open F2/Line.Sw7,closed F1/Line.Sw2,closed " "grid_edges after phase 1"

# ---------------------------------------------------------------- phase 2: crash and restart
# no checkpoint until the crash: the restarted dispatcher replays all of phase 2
start_dispatcher "$TMP/d2" --checkpoint-ms 100000
"$BIN" grid simulate "${ARGS[@]}" --duration 8 --fault F5/Line.L60 --fault-at 3 --late-pct 5 --dup-pct 5 --seed 3 \
  >"$TMP/sim2" 2>"$TMP/err" &
SIM=$!
wait_for "$TMP/d2" '"fault":"F5/Line.L60"' 12 || fail "no decision for F5 before the crash: $(cat "$TMP/d2.err")"
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
start_dispatcher "$TMP/d3"
grep -q "continuing from the checkpoint" "$TMP/d3.err" || fail "no checkpoint: $(cat "$TMP/d3.err")"
wait "$SIM" || fail "simulate 2: $(cat "$TMP/err")"
sleep 1
kill -TERM "$DPID"; wait "$DPID"; eq "$?" 0 "dispatcher 3 exit"; DPID=
eq "$(grep -c '"event":"decision"' "$TMP/d3")" 0 "decisions made again after the restart"
check_plan "$TMP/d2" 5 Line.L60
grep -q '"late":[1-9][0-9]*,"duplicates":[1-9]' "$TMP/d3" || fail "late/duplicate samples not seen: $(tail -n 1 "$TMP/d3")"
# the restarted dispatcher read all of phase 2 again, the fault included (no checkpoint since)
ROWS2=$(sed -n 's/^grid simulate: \([0-9]*\) rows (.*/\1/p' "$TMP/sim2")
ROWS3=$(sed -n 's/.*"event":"summary","rows":\([0-9]*\).*/\1/p' "$TMP/d3")
[ "${ROWS3:-0}" -ge "${ROWS2:-1}" ] || fail "replay after the restart: $ROWS3 rows read, $ROWS2 simulated"

kill -INT "$SPID"; wait "$SPID"; SPID=
sql() { "$BIN" sql --data "$TMP/data" --format csv -e "$1" | tail -n +2; }
eq "$(sql "SELECT count(DISTINCT decision_id) FROM decisions")" 4 "decisions (3 + 1, none lost or repeated)"
eq "$(sql "SELECT count(*) FROM faults WHERE fault_type = 'line_fault'")" 4 "line faults simulated"
# the decided sections are the simulated ones; two of them overlapped in time on two feeders
eq "$(sql "SELECT group_concat(section, ' ') FROM (SELECT DISTINCT section FROM decisions ORDER BY section)")" \
  "$(sql "SELECT group_concat(section, ' ') FROM (SELECT section FROM faults WHERE fault_type = 'line_fault' ORDER BY section)")" \
  "decided sections = simulated line faults"
ov=$(sql "SELECT count(*) FROM faults a JOIN faults b ON a.fault_type = 'line_fault' AND b.fault_type = 'line_fault' AND a.fault_id < b.fault_id AND abs(CAST(a.event_time AS INTEGER) - CAST(b.event_time AS INTEGER)) < 2000 AND substr(a.section, 1, instr(a.section, '/')) <> substr(b.section, 1, instr(b.section, '/'))")
[ "${ov:-0}" -ge 1 ] || fail "no two line faults overlapping in time on two feeders (another --seed?)"
eq "$(sql "SELECT count(*) FROM decisions WHERE NOT (sample_time <= decision_time AND alarm_time <= decision_time AND event_time <= sample_time)")" 0 "times in order"
eq "$(sql "SELECT count(*) - count(DISTINCT alarm_id) FROM alarm_stream")" 0 "duplicate alarms"
eq "$(sql "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT device_id, alarm_type, event_time FROM alarm_stream)) FROM alarm_stream")" 0 "duplicate alarm keys"
eq "$(sql "SELECT count(*) FROM alarm_stream WHERE alarm_type = 'probe'")" 13 "probe alarms (one per breaker, across the restart)"
eq "$(sql "SELECT count(*) FROM alarm_stream WHERE alarm_type = 'fault_current' AND device_id = 'F5/Line.L60'")" 1 "F5/Line.L60 fault-current alarm"
n=$(sql "SELECT count(*) FROM alarm_stream WHERE alarm_type = 'fault_current' AND message LIKE '%feeder F2, bus F2/%'")
[ "${n:-0}" -ge 3 ] || fail "enriched fault-current alarms on F2: $n"
eq "$(sql "SELECT switch_state FROM grid_edges WHERE edge_id = 'F5/Line.Sw7'")" closed "F5's tie closed"
eq "$(sql "SELECT count(*) FROM dispatch_checkpoints WHERE dispatcher = 'dispatcher-1'")" 2 "checkpoint rows"

# bad arguments
"$BIN" grid dispatch --server "$SRV" --topology "$TOPO" 2>"$TMP/err"; eq "$?" 2 "no --devices"
"$BIN" grid dispatch "${ARGS[@]}" --timeout-ms 0 2>"$TMP/err"; eq "$?" 2 "timeout 0"
grep -q -- "not a number in range: --timeout-ms" "$TMP/err" || fail "timeout message: $(cat "$TMP/err")"

[ "$fails" -eq 0 ] || { rm -rf /tmp/strom-dispatch-fail; cp -r "$TMP" /tmp/strom-dispatch-fail; echo "kept in /tmp/strom-dispatch-fail"; }
[ "$fails" -eq 0 ] && echo "test_grid_dispatch: ok" || echo "test_grid_dispatch: $fails failure(s)"
[ "$fails" -eq 0 ]
