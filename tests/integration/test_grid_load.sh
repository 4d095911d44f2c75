#!/usr/bin/env bash
# test_grid_load.sh: `strom grid load` against a real `strom server --port 0`: IEEE 123
# replicated to ~3000 devices; every table of docs/grid.md exists with the right kind and
# columns, row counts equal the builder's own counts (`strom grid build --json`) and the
# template's documented facts (Sw7 151-300 and Sw8 54-94 open, tie bus 114, 3490 kW per
# copy), sample rows by lookup; bad arguments and an unreachable server fail cleanly.
set -u
. "$(dirname "$0")/grid_lib.sh"

# the reference: the builder's own counts
"$BIN" grid build --topology "$TOPO" --devices 3000 --json --quiet --sample 0 2>/dev/null | tail -n 1 >"$TMP/build.json"
num() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$TMP/build.json"; }
DEV=$(num devices) BUSES=$(num buses) METERS=$(num meters) TIES=$(num ties) COPIES=$(num copies)
[ "$DEV" -gt 2500 ] || fail "reference build: $(cat "$TMP/build.json")"

"$BIN" grid load --server "$SRV" --topology "$TOPO" --devices 3000 --quiet >"$TMP/out" 2>"$TMP/err" \
  || fail "grid load exited $?: $(cat "$TMP/err")"
grep -q "$DEV devices, $BUSES buses, $((DEV - METERS)) edges into $SRV" "$TMP/out" || fail "load summary: $(cat "$TMP/out")"

# every table, its kind and row count (strom tables on the server)
"$BIN" tables --server "$SRV" >"$TMP/tables"
row() { awk -v t="$1" '$1 == t { print $2, $3, $4, $5 }' "$TMP/tables" | tr -d ,; }
eq "$(row power_equipment_stream)" "20 2 0 log" power_equipment_stream
eq "$(row alarm_stream)" "7 2 0 log" alarm_stream
eq "$(row device_status_stream)" "4 2 $DEV log" device_status_stream
eq "$(row device_dimension)" "6 2 $DEV primary" device_dimension
eq "$(row device_dimension_table)" "7 2 $DEV primary" device_dimension_table
eq "$(row current_alarms)" "5 2 0 primary" current_alarms
eq "$(row grid_nodes)" "7 2 $BUSES primary" grid_nodes
eq "$(row grid_edges)" "9 2 $((DEV - METERS)) primary" grid_edges
eq "$(row decisions)" "15 1 0 primary" decisions
eq "$(row alarm_rules)" "11 1 0 primary" alarm_rules
eq "$(row dispatch_checkpoints)" "6 1 0 primary" dispatch_checkpoints
eq "$(row faults)" "7 1 0 primary" faults

# the seed's DDL column names
"$BIN" lookup device_dimension F3/Breaker --server "$SRV" >"$TMP/l1"
eq "$(head -n 1 "$TMP/l1")" "device_id,device_name,location,capacity_mw,status,last_update" "device_dimension columns"
eq "$(sed -n 2p "$TMP/l1" | cut -d, -f1-5)" "F3/Breaker,breaker F3/Breaker,F3/source,,closed" "F3/Breaker row"
"$BIN" lookup device_dimension_table F2/Meter.1 --server "$SRV" >"$TMP/l2"
eq "$(head -n 1 "$TMP/l2")" "device_id,device_type,feeder,bus,device_status,capacity,last_maintenance" "device_dimension_table columns"
eq "$(sed -n 2p "$TMP/l2" | cut -d, -f1-6)" "F2/Meter.1,meter,F2,F2/1,in_service," "F2/Meter.1 row"
# topology rows: an open template switch of a copy, a tie between neighbours
"$BIN" lookup grid_edges "F$COPIES/Line.Sw7" Tie.F1-F2 "F1/Line.L115" --server "$SRV" --columns edge_id,from_bus,to_bus,kind,switch_state,normal_state,feeder >"$TMP/l3"
eq "$(sed -n 2p "$TMP/l3")" "F$COPIES/Line.Sw7,F$COPIES/151,F$COPIES/300,switch,open,open,F$COPIES" "Sw7 row"
eq "$(sed -n 3p "$TMP/l3")" 'Tie.F1-F2,F1/114,F2/114,switch,open,open,""' "tie row"
eq "$(sed -n 4p "$TMP/l3" | cut -d, -f4-7)" "line,closed,closed,F1" "L115 row"
"$BIN" lookup grid_nodes F1/source --server "$SRV" --columns bus_id,feeder,is_source >"$TMP/l4"
eq "$(sed -n 2p "$TMP/l4")" "F1/source,F1,true" "source node"

# stop the server, then count through SQL on its data directory
kill -INT "$SPID"; wait "$SPID"; SPID=
sql() { "$BIN" sql --data "$TMP/data" --format csv -e "$1" | tail -n +2; }
eq "$(sql "SELECT count(*) FROM grid_edges WHERE switch_state = 'open'")" "$((2 * COPIES + TIES))" "open edges"
eq "$(sql "SELECT count(*) FROM grid_edges WHERE kind = 'breaker'")" "$COPIES" "breakers"
eq "$(sql "SELECT count(*) FROM device_dimension_table WHERE device_type = 'meter'")" "$METERS" "meters"
eq "$(sql "SELECT count(*) FROM device_dimension_table WHERE device_type = 'transformer'")" "$(num transformers)" "transformers"
eq "$(sql "SELECT printf('%.1f', sum(load_kw)) FROM grid_nodes")" "$(awk -v c="$COPIES" 'BEGIN { printf "%.1f", c * 3490 }')" "total load"
eq "$(sql "SELECT count(DISTINCT feeder) FROM grid_nodes")" "$COPIES" "feeders"
eq "$(sql "SELECT count(*) FROM device_status_stream s JOIN device_dimension d ON s.device_id = d.device_id")" "$DEV" "status rows join the dimension"

# Topology walks with WITH RECURSIVE over grid_edges (docs/grid.md). Downstream of switch
# Sw2 (Line.Sw2 13-152 in IEEE123Switches.dss): every bus reached from 152 through closed
# edges without crossing Sw2: 1975 kW, the load docs/grid.md's L60 plan interrupts.
OTHER="CASE WHEN e.from_bus = w.bus THEN e.to_bus ELSE e.from_bus END"
eq "$(sql "WITH RECURSIVE w(bus) AS (SELECT 'F2/152' UNION SELECT $OTHER FROM w JOIN grid_edges e
             ON (e.from_bus = w.bus OR e.to_bus = w.bus)
           WHERE e.switch_state = 'closed' AND e.edge_id <> 'F2/Line.Sw2')
           SELECT printf('%.1f', sum(n.load_kw)) FROM w JOIN grid_nodes n ON n.bus_id = w.bus")" \
   "1975.0" "load downstream of F2/Line.Sw2"
# Path to source from bus 60, read off the feeder file: L58 57-60, L55 54-57, L53 53-54,
# L52 52-53, L116 152-52, Sw2 13-152, L10 8-13, L7 7-8, L3 1-7, L115 149-1, Sw1 150r-149,
# the regulator reg1a 150-150r, then the builder's breaker to F2/source.
eq "$(sql "WITH RECURSIVE w(bus, prev, path) AS (SELECT 'F2/60', '', 'F2/60'
           UNION ALL SELECT $OTHER, w.bus, w.path || ' > ' || $OTHER FROM w JOIN grid_edges e
             ON (e.from_bus = w.bus OR e.to_bus = w.bus)
           WHERE e.switch_state = 'closed' AND $OTHER <> w.prev)
           SELECT path FROM w JOIN grid_nodes n ON n.bus_id = w.bus WHERE n.is_source")" \
   "F2/60 > F2/57 > F2/54 > F2/53 > F2/52 > F2/152 > F2/13 > F2/8 > F2/7 > F2/1 > F2/149 > F2/150r > F2/150 > F2/source" \
   "path from F2/60 to its source"

# bad arguments, unreachable server
"$BIN" grid load --topology "$TOPO" --devices 10 --quiet 2>"$TMP/err"; eq "$?" 2 "no --server"
grep -q "missing --server HOST:PORT" "$TMP/err" || fail "no --server message: $(cat "$TMP/err")"
"$BIN" grid load --server "$SRV" --topology "$TOPO" --quiet 2>"$TMP/err"; eq "$?" 2 "no --devices"
"$BIN" grid load --server "$SRV" --topology "$TOPO" --devices 10 --quiet 2>"$TMP/err"; eq "$?" 1 "server gone"
grep -q "$SRV" "$TMP/err" || fail "server gone message: $(cat "$TMP/err")"

[ "$fails" -eq 0 ] && echo "test_grid_load: ok" || echo "test_grid_load: $fails failure(s)"
[ "$fails" -eq 0 ]
