# grid_lib.sh: sourced by test_grid_load.sh and test_grid_sim.sh: a temporary directory, a
# `strom server --port 0` on it (SRV=127.0.0.1:PORT, SPID), fail/eq helpers, cleanup.
BIN=${STROM_BIN:?STROM_BIN is not set}
SHARED=${STROM_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)}
TOPO=$SHARED/data/grid/ieee123/IEEE123Switches.dss
TMP=$(mktemp -d /tmp/strom-grid-XXXXXX)
SPID=
cleanup() { [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }

"$BIN" server --data "$TMP/data" --port 0 >"$TMP/srv.out" 2>"$TMP/srv.err" &
SPID=$!
for _ in $(seq 200); do grep -q listening "$TMP/srv.out" && break; sleep 0.05; done
PORT=$(sed -n 's/^strom server listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/srv.out")
[ -n "$PORT" ] || { echo "FAIL: server did not start: $(cat "$TMP/srv.err")"; exit 1; }
SRV=127.0.0.1:$PORT
