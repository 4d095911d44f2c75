#!/usr/bin/env bash
# test_grid_analyze.sh: `strom grid analyze` against a real `strom server --port 0`: IEEE 123
# replicated to ~3000 devices, a paced 4 s simulation with a line fault on F2/Line.L60 at
# 1 s (Sw2 trips at 3 s), a decision and two alarms written by the test (as a dispatcher
# would), then the analysis. The report must name the section, the protection device and
# its trip, the first fault-current sample, the feeder's first alarm (not the other
# feeder's) and the decision's switching list;
# the fault current it reports for F2/Breaker at the fault time is the telemetry's value
# (read back with `strom sql` after the server stops); the load figures are those of
# `strom grid plan` for L60 on the feeder file (1975 kW interrupted; the plan's switching
# is not applied here, so the observed restored load is 0); the files exist, the PNGs are
# PNGs. Without gnuplot on the PATH the report and the CSV files are still written and the
# output says the plots were skipped. Bad arguments and an unknown fault are refused.
# Last, decisions in the dispatcher's layout (a primary-key table without fault_id, made
# with `strom sql` while the server is stopped): matched by section and time, with the
# decision's sample / alarm / decision times and load figures in the report.
set -u
. "$(dirname "$0")/grid_lib.sh"
ARGS=(--server "$SRV" --topology "$TOPO" --devices 3000)

"$BIN" grid load "${ARGS[@]}" --quiet >/dev/null 2>"$TMP/err" || fail "grid load: $(cat "$TMP/err")"
"$BIN" grid simulate "${ARGS[@]}" --quiet --duration 4 --fault F2/Line.L60 --fault-at 1 --events >"$TMP/sim" 2>"$TMP/err" \
  || fail "simulate: $(cat "$TMP/err")"
FID=$(sed -n 's/.*"event": "fault", "fault_id": "\([^"]*\)".*/\1/p' "$TMP/sim")
TMS=$(sed -n 's/.*"event": "fault".*"t_ms": \([0-9]*\).*/\1/p' "$TMP/sim")
[ -n "$FID" ] && [ -n "$TMS" ] || fail "no fault event: $(cat "$TMP/sim")"
# a decision for the fault, as the dispatcher writes it (decisions: one row per step)
ts() { printf '%s.%03d' "$(date -u -d "@$(( $1 / 1000 ))" '+%Y-%m-%d %H:%M:%S')" $(( $1 % 1000 )); }
D=$(( TMS + 2040 ))
{ echo "decision_id,step,event_time,section,action,device_id,reason"
  echo "DEC-1,2,$(ts $D),F2/Line.L60,open,F2/Line.Sw4,isolate: bounds the faulted section"
  echo "DEC-1,1,$(ts $D),F2/Line.L60,open,F2/Line.Sw2,protection trip"
  echo "DEC-9,1,$(ts $D),F3/Line.L60,close,F2/Line.Sw7,not this fault"; } >"$TMP/dec.csv"
"$BIN" produce decisions "$TMP/dec.csv" --server "$SRV" >/dev/null 2>"$TMP/err" || fail "produce decisions: $(cat "$TMP/err")"
# alarms, as the dispatcher raises them: one of the feeder, one of another feeder
{ echo "alarm_id,device_id,event_time,alarm_type,severity,value,message"
  echo "A-1,F2/Line.L58,$(ts $((TMS + 7))),fault_current,1,3990.5,fault current"
  echo "A-2,F9/Line.L58,$(ts $((TMS + 3))),fault_current,1,3990.5,another feeder"; } >"$TMP/al.csv"
"$BIN" produce alarm_stream "$TMP/al.csv" --server "$SRV" >/dev/null 2>"$TMP/err" || fail "produce alarms: $(cat "$TMP/err")"

"$BIN" grid analyze "$FID" "${ARGS[@]}" --before 60 --after 5 --out "$TMP/an" >"$TMP/rep" 2>"$TMP/err" \
  || fail "analyze: $(cat "$TMP/err")"
has() { grep -qF -- "$1" "$TMP/rep" || fail "report lacks '$1'"; }
has "Post-fault analysis of $FID: line_fault on F2/Line.L60 (feeder F2)"
has "Protection device: F2/Line.Sw2"
has "+0.000 s  fault on F2/Line.L60"
has "+2.000 s  trip: open F2/Line.Sw2 (grid_edges)"
has "+2.000 s  telemetry: F2/Line.Sw2 reports open (breaker_closed false)"
has "+2.040 s  decision DEC-1 written: 2 step(s)"
has "+0.007 s  first alarm on F2: fault_current on F2/Line.L58 (severity 1); 1 alarm(s) on the feeder"
has "Switching list of decision DEC-1 (decisions table):"
has "   1. open  F2/Line.Sw2"
has "   2. open  F2/Line.Sw4"
has "interrupted 1975.0, restored 0.0, lost 1975.0"
has "the plan: interrupted 1975.0, restored 1425.0, lost 550.0"
grep -q "not this fault" "$TMP/rep" && fail "the other fault's decision is in the report"
grep -qE '^  [-0-9: .]+ +\+0\.000 s  first fault-current sample: F2/[^ ]+ (3[89][0-9][0-9]|4[01][0-9][0-9])\.[0-9] A$' "$TMP/rep" \
  || fail "first fault-current sample: $(grep fault-current "$TMP/rep")"
BRK=$(sed -n 's/^  F2\/Breaker  *path  *\([0-9.]*\)  *[0-9.]*  *+0.000 s$/\1/p' "$TMP/rep")
[ -n "$BRK" ] || fail "no F2/Breaker row at the fault: $(cat "$TMP/rep")"
for f in report.txt telemetry.csv events.csv index.html voltage.png current.png overview.png; do
  [ -s "$TMP/an/$f" ] || fail "$f missing"
done
for f in voltage current overview; do
  [ "$(head -c 8 "$TMP/an/$f.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$f.png is not a PNG"
done
grep -q '<img src="voltage.png"' "$TMP/an/index.html" || fail "index.html has no plot"
grep -q "^written: $TMP/an/index.html" "$TMP/rep" || fail "the path is not printed"
grep -qE "^F2/Line.Sw6,behind the fault,$TMS,0.000,(1\.9|2\.[01])[0-9]*,0.000,1$" "$TMP/an/telemetry.csv" \
  || fail "telemetry.csv: Sw6 at the fault: $(grep "^F2/Line.Sw6,.*,$TMS," "$TMP/an/telemetry.csv")"

# without gnuplot on the PATH: report and data, plots skipped
mkdir -p "$TMP/nopath"
PATH="$TMP/nopath" "$BIN" grid analyze "$FID" "${ARGS[@]}" --before 60 --after 5 --out "$TMP/an2" >"$TMP/rep2" 2>"$TMP/err" \
  || fail "analyze without gnuplot: $(cat "$TMP/err")"
grep -q "written without plots (gnuplot is not installed" "$TMP/rep2" || fail "no plots-skipped note: $(tail -2 "$TMP/rep2")"
[ -s "$TMP/an2/telemetry.csv" ] && [ -s "$TMP/an2/report.txt" ] && [ ! -e "$TMP/an2/voltage.png" ] || fail "without gnuplot: files"
grep -q "Plots skipped" "$TMP/an2/index.html" || fail "index.html without the skipped note"

# bad input
"$BIN" grid analyze NOPE "${ARGS[@]}" --out "$TMP/an3" 2>"$TMP/err"; eq "$?" 1 "unknown fault"
grep -q "no fault 'NOPE' in the faults table" "$TMP/err" || fail "unknown fault message: $(cat "$TMP/err")"
"$BIN" grid analyze "$FID" --server "$SRV" --topology "$TOPO" 2>"$TMP/err"; eq "$?" 2 "no --devices"
"$BIN" grid analyze "$FID" "${ARGS[@]}" --before x 2>"$TMP/err"; eq "$?" 2 "bad --before"
grep -q -- "--before: 'x' is not an integer" "$TMP/err" || fail "--before message: $(cat "$TMP/err")"
"$BIN" grid analyze "$FID" --server "$SRV" --topology "$TOPO" --devices 100 2>"$TMP/err"; eq "$?" 1 "other grid"
grep -q "section F2/Line.L60 of fault $FID is not in the grid built" "$TMP/err" || fail "other grid message: $(cat "$TMP/err")"

# the fault current the report gives for F2/Breaker is the telemetry's at the fault time
kill -INT "$SPID"; wait "$SPID"; SPID=
V=$("$BIN" sql --data "$TMP/data" --format csv -e "SELECT printf('%.1f', current) FROM power_equipment_stream WHERE device_id = 'F2/Breaker' AND event_time = $TMS" | tail -n +2)
eq "$BRK" "$V" "F2/Breaker's current at the fault: report vs telemetry"

# the dispatcher's layout of decisions (a primary-key table keyed by decision_id, step, no
# fault_id: matched by section and time; sample, alarm and decision times, load figures)
ms() { printf "TIMESTAMP '%s'" "$(ts "$1")"; }
"$BIN" sql --data "$TMP/data" -e "DROP TABLE decisions; CREATE TABLE decisions (decision_id STRING NOT NULL, step INT NOT NULL,
  event_time TIMESTAMP(3) NOT NULL, feeder STRING, section STRING, action STRING, device_id STRING, reason STRING,
  sample_time TIMESTAMP(3), alarm_time TIMESTAMP(3), decision_time TIMESTAMP(3), interrupted_kw DOUBLE,
  restored_kw DOUBLE, lost_kw DOUBLE, dispatcher STRING, PRIMARY KEY (decision_id, step) NOT ENFORCED) WITH ('bucket.num' = '1');
  INSERT INTO decisions VALUES
  ('D-7', 2, $(ms $((TMS + 61))), 'F2', 'F2/Line.L60', 'open', 'F2/Line.Sw4', 'isolate', $(ms "$TMS"), $(ms $((TMS + 12))), $(ms $((TMS + 61))), 1975, 1425, 550, 'd1'),
  ('D-7', 1, $(ms $((TMS + 61))), 'F2', 'F2/Line.L60', 'open', 'F2/Line.Sw2', 'trip', $(ms "$TMS"), $(ms $((TMS + 12))), $(ms $((TMS + 61))), 1975, 1425, 550, 'd1'),
  ('D-8', 1, $(ms $((TMS + 61))), 'F3', 'F3/Line.L60', 'open', 'F3/Line.Sw2', 'another section', $(ms "$TMS"), $(ms "$TMS"), $(ms "$TMS"), 1, 1, 0, 'd1')" \
  >/dev/null 2>"$TMP/err" || fail "sql: $(cat "$TMP/err")"
"$BIN" server --data "$TMP/data" --port 0 >"$TMP/srv2.out" 2>"$TMP/srv2.err" &
SPID=$!
for _ in $(seq 200); do grep -q listening "$TMP/srv2.out" && break; sleep 0.05; done
SRV2=$(sed -n 's/^strom server listening on \(.*\)$/\1/p' "$TMP/srv2.out")
"$BIN" grid analyze "$FID" --server "$SRV2" --topology "$TOPO" --devices 3000 --before 60 --after 5 --out "$TMP/an4" >"$TMP/rep4" 2>"$TMP/err" \
  || fail "analyze (dispatcher's decisions): $(cat "$TMP/err")"
for want in "+0.061 s  decision D-7 written: 2 step(s)" "+0.012 s  the decision's alarm time" \
  "decision latency from the sensor sample: 61 ms" "   1. open  F2/Line.Sw2" "   2. open  F2/Line.Sw4" \
  "the decision's own figures: interrupted 1975.0, restored 1425.0, lost 550.0"; do
  grep -qF -- "$want" "$TMP/rep4" || fail "dispatcher's layout: report lacks '$want'"
done
grep -q "another section" "$TMP/rep4" && fail "another section's decision is in the report"

[ "$fails" -eq 0 ] && echo "test_grid_analyze: ok" || echo "test_grid_analyze: $fails failure(s)"
[ "$fails" -eq 0 ]
