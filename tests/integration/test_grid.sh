#!/usr/bin/env bash
# test_grid.sh: black-box tests of `strom grid plan` and `strom grid build` on the real feeder
# files (../shared/data/grid): exact JSON of hand-checked plans, warnings and errors naming
# file and line, exit codes.
set -u
BIN=${STROM_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/strom}
SHARED=${STROM_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)}
G=$SHARED/data/grid
TMP=$(mktemp -d /tmp/strom-grid-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0
OUT=$TMP/out ERR=$TMP/err

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() {
  local want=$1; shift
  LAST="strom $*"
  "$BIN" "$@" >"$OUT" 2>"$ERR"
  local got=$?
  [ "$got" -eq "$want" ] || { fail "$LAST exited $got, expected $want"; sed 's/^/  | /' "$ERR" | head -5; }
}
has() { grep -qF -- "$2" "$1" || fail "expected '$2' in $(basename "$1") of: $LAST"; }
last_is() { [ "$(tail -n 1 "$OUT")" = "$1" ] || fail "last line of $LAST: $(tail -n 1 "$OUT"), expected $1"; }

run 0 grid --help;  has "$OUT" "usage: strom grid plan"
run 2 grid;         has "$ERR" "usage: strom grid"
run 2 grid frob;    has "$ERR" "unknown subcommand 'frob'"
run 0 --help;       has "$OUT" "grid"

# hand-checked plans (docs/grid.md walks through the first)
run 0 grid plan --topology "$G/ieee123/IEEE123Switches.dss" --fault Line.L60 --json
last_is '{"fault": "Line.L60", "opened": ["Line.Sw2", "Line.Sw4", "Line.Sw6"], "closed": ["Line.Sw7"], "load_interrupted_kw": 1975.000, "load_lost_kw": 550.000, "load_restored_kw": 1425.000, "load_total_kw": 3490.000}'
has "$OUT" "protection trip"; has "$OUT" "Line.Sw7"
has "$ERR" "IEEE123Switches.dss:9: skipped (statement not modelled): Set DefaultBaseFrequency=60"
run 0 grid plan --topology "$G/case33bw.m" --fault 7-8 --json --quiet
last_is '{"fault": "7-8", "opened": ["7-8"], "closed": ["21-8"], "load_interrupted_kw": 875.000, "load_lost_kw": 0.000, "load_restored_kw": 875.000, "load_total_kw": 3715.000}'
run 0 grid plan --topology "$G/case33bw.m" --fault 1-2 --json --quiet
last_is '{"fault": "1-2", "opened": ["1-2"], "closed": [], "load_interrupted_kw": 3715.000, "load_lost_kw": 3715.000, "load_restored_kw": 0.000, "load_total_kw": 3715.000}'
# a fault on an open tie interrupts nothing
run 0 grid plan --topology "$G/case33bw.m" --fault=21-8 --json --quiet
last_is '{"fault": "21-8", "opened": [], "closed": [], "load_interrupted_kw": 0.000, "load_lost_kw": 0.000, "load_restored_kw": 0.000, "load_total_kw": 3715.000}'

# bad arguments and bad files
run 2 grid plan --topology "$G/case33bw.m" --fault 99-100 --quiet; has "$ERR" "no section '99-100'"
run 2 grid plan --fault 1-2;                   has "$ERR" "missing --topology FILE"
run 2 grid plan --topology "$G/case33bw.m";    has "$ERR" "missing --fault SECTION"
run 1 grid plan --topology "$TMP/nope.dss" --fault x; has "$ERR" "nope.dss: cannot open"
printf 'New Circuit.c bus1=a\nNew Line.L1 bus1=a bus2=b\nNew Load.l bus1=b kW=ten\n' >"$TMP/bad.dss"
run 1 grid plan --topology "$TMP/bad.dss" --fault Line.L1; has "$ERR" "bad.dss:3: kW=ten is not a number"
printf 'New Circuit.c bus1=a\nRedirect missing.dss\n' >"$TMP/redir.dss"
run 1 grid plan --topology "$TMP/redir.dss" --fault Line.L1; has "$ERR" "redir.dss:2: Redirect:"
printf 'mpc.bus = [1 3 0 0;\n2 1 5 0];\nmpc.branch = [1 3 0 0 0 0 0 0 0 0 1];\n' >"$TMP/bad.m"
run 1 grid plan --topology "$TMP/bad.m" --fault 1-3; has "$ERR" "bad.m:3: branch 1-3: bus 3 is not in mpc.bus"

# the builder
run 0 grid build --topology "$G/ieee123/IEEE123Switches.dss" --devices 500000 --json --quiet
tail -n 1 "$OUT" | grep -qE '^\{"devices": 499901, "copies": 2262, "per_copy": 220, ' || fail "build json: $(tail -n 1 "$OUT" | cut -c1-200)"
has "$OUT" '"ties": 2261'; has "$OUT" '"breakers": 2262'; has "$OUT" '"device_id": "F1/Breaker"'
run 0 grid build --topology "$G/case33bw.m" --devices 1000 --no-ties --quiet
has "$OUT" "14 copies"; has "$OUT" "0 ties"
run 2 grid build --topology "$G/case33bw.m" --devices 0; has "$ERR" "--devices: '0' is not an integer >= 1"

[ "$fails" -eq 0 ] && echo "test_grid: all passed" || { echo "test_grid: $fails failure(s)"; exit 1; }
