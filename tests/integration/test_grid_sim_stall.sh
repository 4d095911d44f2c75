#!/usr/bin/env bash
# test_grid_sim_stall.sh: a paced `strom grid simulate` stopped (SIGSTOP) for 1.5 s in the
# middle of a 4 s run, as a loaded machine may stall it, stamps every sample by its schedule,
# not by when it got to run: device i of N samples at t0 + k s + i / N s (docs/grid.md), so
# after catching up each device has exactly one row per second, all at the same ms of a
# second, inside [t0, t0 + 4 s), and the rows of a second still spread over its every ms.
# A simulator stamping by the wall clock, or emitting a second twice or not at all after a
# stall, fails these counts.
set -u
. "$(dirname "$0")/grid_lib.sh"
ARGS=(--server "$SRV" --topology "$TOPO" --devices 3000 --quiet)
DEV=2872   # IEEE 123 at 3000 devices (test_grid_sim.sh)

"$BIN" grid simulate "${ARGS[@]}" --duration 4 --events >"$TMP/run" 2>"$TMP/err" &
SIM=$!
# the run starts at the next whole second (t0); its first stats line comes 1 s into the
# run (waited for up to 20 s on a loaded machine): stop it 0.3 s later
for _ in $(seq 400); do grep -q '"event": "stats"' "$TMP/run" && break; sleep 0.05; done
grep -q '"event": "stats"' "$TMP/run" || fail "no stats line: $(cat "$TMP/run" "$TMP/err")"
sleep 0.3
kill -STOP "$SIM"
sleep 1.5
kill -CONT "$SIM"
wait "$SIM" || fail "simulate: $(cat "$TMP/err")"
SUM=$(grep '"event": "summary"' "$TMP/run")
num() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" <<<"$SUM"; }
T0=$(num t0)
eq "$(num rows)" "$((4 * DEV))" "rows (4 ticks of every device, nothing by exception)"

kill -INT "$SPID"; wait "$SPID"; SPID=
sql() { "$BIN" sql --data "$TMP/data" --format csv -e "$1" | tail -n +2; }
eq "$(sql "SELECT count(*) FROM power_equipment_stream")" "$((4 * DEV))" "telemetry rows"
eq "$(sql "SELECT count(*) FROM (SELECT device_id FROM power_equipment_stream GROUP BY device_id
  HAVING count(*) = 4 AND count(DISTINCT (event_time - $T0) / 1000) = 4
  AND count(DISTINCT (event_time - $T0) % 1000) = 1 AND min(event_time) >= $T0
  AND max(event_time) < $T0 + 4000)")" "$DEV" "devices with one row per second, at one phase"
for k in 0 1 2 3; do
  eq "$(sql "SELECT count(*), count(DISTINCT (event_time - $T0) % 1000) FROM power_equipment_stream
    WHERE event_time >= $T0 + $k * 1000 AND event_time < $T0 + $k * 1000 + 1000")" "$DEV,1000" \
    "second $k: every device once, every ms of the second used"
done
# the phases of the breakers of copies 1, 2 and 13 (devices 0, 220, 2640)
eq "$(sql "SELECT DISTINCT (event_time - $T0) % 1000 FROM power_equipment_stream WHERE device_id = 'F2/Breaker'")" 76 "F2/Breaker at +76 ms"
eq "$(sql "SELECT DISTINCT (event_time - $T0) % 1000 FROM power_equipment_stream WHERE device_id = 'F13/Breaker'")" 919 "F13/Breaker at +919 ms"

[ "$fails" -eq 0 ] && echo "test_grid_sim_stall: ok" || echo "test_grid_sim_stall: $fails failure(s)"
[ "$fails" -eq 0 ]
