#!/usr/bin/env bash
# test_sql_cli.sh: black-box tests of `strom sql` (STROM_BIN, set by CMake): -e and -f,
# the three output formats, exit codes 0/1/2, syntax errors with line, column and caret,
# views and rows surviving a new process, --server usage, and the shell reading stdin.
set -u
BIN=${STROM_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/strom}
TMP=$(mktemp -d /tmp/strom-sqlcli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0
OUT=$TMP/out ERR=$TMP/err
D=$TMP/data

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() {
  local want=$1; shift
  "$BIN" "$@" >"$OUT" 2>"$ERR"
  local got=$?
  [ "$got" -eq "$want" ] || { fail "strom $* exited $got, expected $want"; sed 's/^/  | /' "$ERR" | head -5; }
}
has()  { grep -qF -- "$2" "$1" || { fail "expected '$2' in $(basename "$1") of: $LAST"; sed 's/^/  | /' "$1" | head -8; }; }
same() { diff -u "$2" "$1" >/dev/null || { fail "$LAST: output differs"; diff -u "$2" "$1" | head -20; }; }

# ---- help and usage (2)
LAST="sql --help";       run 0 sql --help;                        has "$OUT" "usage: strom sql"; has "$OUT" "--server"; has "$OUT" "table.local-time-zone"
LAST="sql --format xml"; run 2 sql --data "$D" --format xml -e "SELECT 1"; has "$ERR" "--format 'xml'"
LAST="sql --server gone"; run 1 sql --server 127.0.0.1:1 -e "SELECT 1"; has "$ERR" "cannot connect to 127.0.0.1:1"
LAST="server and data";  run 2 sql --server 127.0.0.1:1 --data "$D" -e "SELECT 1"; has "$ERR" "not both"
LAST="sql -e and -f";    run 2 sql --data "$D" -e "SELECT 1" -f x.sql; has "$ERR" "not both"
LAST="sql -f missing";   run 1 sql --data "$D" -f "$TMP/nope.sql"; has "$ERR" "nope.sql"

# ---- a script: DDL, inserts, a time-travel query (0)
cat >"$TMP/s.sql" <<'SQL'
CREATE TABLE readings (device_id STRING, voltage DOUBLE, event_time TIMESTAMP(3),
  WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND)
  WITH ('bucket.num' = '2', 'bucket.key' = 'device_id', 'table.log.index.key' = 'device_id');
INSERT INTO readings VALUES ('D1', 220.5, TIMESTAMP '2025-01-13 14:29:00'),
  ('D1', 221.0, TIMESTAMP '2025-01-13 14:31:00'), ('D2', 219.0, TIMESTAMP '2025-01-13 14:00:00'),
  ('D1', 222.5, TIMESTAMP '2025-01-13 14:30:00');
CREATE VIEW d1 AS SELECT * FROM readings WHERE device_id = 'D1';
SQL
LAST="sql -f script";    run 0 sql --data "$D" -f "$TMP/s.sql"
LAST="csv";              run 0 sql --data "$D" --format csv -e "SELECT device_id, voltage, event_time FROM readings FOR SYSTEM_TIME AS OF TIMESTAMP '2025-01-13 14:30:00' WHERE device_id = 'D1' ORDER BY event_time DESC LIMIT 5"
printf 'device_id,voltage,event_time\nD1,222.5,2025-01-13 14:30:00.000\nD1,220.5,2025-01-13 14:29:00.000\n' >"$TMP/want"
same "$OUT" "$TMP/want"
LAST="json";             run 0 sql --data "$D" --format json -e "SELECT device_id, count(*) AS n, max(voltage) AS vmax FROM d1 GROUP BY device_id"
printf '{"device_id": "D1", "n": 3, "vmax": 222.5}\n' >"$TMP/want"
same "$OUT" "$TMP/want"
LAST="table";            run 0 sql --data "$D" -e "SELECT device_id, voltage FROM readings WHERE device_id = 'D2'"
printf '+-----------+---------+\n| device_id | voltage |\n+-----------+---------+\n| D2        | 219.0   |\n+-----------+---------+\n' >"$TMP/want"
same "$OUT" "$TMP/want"
LAST="show tables";      run 0 sql --data "$D" --format csv -e "SHOW TABLES"
printf 'table_name,kind\nd1,VIEW\nreadings,TABLE\n' >"$TMP/want"
same "$OUT" "$TMP/want"

# ---- errors (1): syntax with line/column and caret, unknown names, stop at the first error
LAST="syntax";           run 1 sql --data "$D" -e "SELECT device_id
FROM readings WHERE event_time > TIMESTAMP '2025-01-13 25:00:00'"
has "$ERR" "line 2, column 44"; has "$ERR" "is not a timestamp"; has "$ERR" "^"
grep -q "^  *\^$" "$ERR" || fail "no caret line in: $(cat "$ERR")"
LAST="unknown table";    run 1 sql --data "$D" -e "SELECT * FROM nosuch"; has "$ERR" "no such table: nosuch"
LAST="unknown option";   run 1 sql --data "$D" -e "CREATE TABLE t2 (a INT) WITH ('bucket.nmu' = '3')"; has "$ERR" "bucket.nmu"
LAST="stops at error";   run 1 sql --data "$D" --format csv -e "SELECT 1 AS a; SELEC 2; SELECT 3 AS c"
has "$ERR" "statement 2"; has "$OUT" "a"
grep -q "^c$" "$OUT" && fail "ran the statement after the error"
LAST="no half table";    run 0 sql --data "$D" --format csv -e "SHOW TABLES"; grep -q t2 "$OUT" && fail "t2 was left behind"

# ---- the shell reads statements from stdin too (multi-line, timing)
printf "SELECT count(*) AS n\n  FROM readings;\n" | HOME=$TMP "$BIN" sql --data "$D" >"$OUT" 2>"$ERR" || fail "shell exited $?"
LAST="shell"; has "$OUT" "| 4 "; has "$OUT" "1 row in set"

# ---- Ctrl-C (SIGINT) cancels the running statement: exit 1, "interrupted", no crash
"$BIN" sql --data "$D" -e "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c" >"$OUT" 2>"$ERR" &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"; got=$?
LAST="SIGINT"; [ "$got" -eq 1 ] || fail "interrupted statement exited $got, expected 1"; has "$ERR" "interrupted"

# ---- the interactive shell on a terminal (python3's pty): multi-line input, Ctrl-C cancels
# the running statement and then a half-typed one, the shell goes on, Ctrl-D quits with 0
if command -v python3 >/dev/null; then
  python3 - "$BIN" "$TMP/pty" "$TMP" >"$OUT" 2>&1 <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.environ['HOME'] = sys.argv[3]
    os.execv(sys.argv[1], ['strom', 'sql', '--data', sys.argv[2]])
out = b''
def send(s, t):
    global out
    os.write(fd, s)
    end = time.time() + t
    while time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return
time.sleep(0.5)
send(b"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)\n", 0.3)
send(b"SELECT count(*) FROM c;\n", 1.5)
send(b"\x03", 1.0)
send(b"SELECT 41 + 1 AS answer;\n", 1.0)
send(b"SELECT 'half\n", 0.3)
send(b"\x03", 0.5)
send(b"SELECT 7 AS seven;\n", 1.0)
send(b"\x04", 1.0)
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
print("exit", os.WEXITSTATUS(st))
PY
  LAST="pty shell"; has "$OUT" "interrupted"; has "$OUT" "| 42 "; has "$OUT" "| 7 "; has "$OUT" "exit 0"
  grep -q "half" "$OUT" && grep -q "unterminated" "$OUT" && fail "the half statement ran after Ctrl-C"
else
  echo "test_sql_cli: python3 missing: the terminal part of the shell test did not run"
fi

# ---- CUMULATE windows (batch): expected sums worked out by hand from the four rows
# (windows [00:00, 00:00 + k * 30 s), k = 1..4: a's rows at 10 s, 50 s, 90 s; b's at 20 s)
CUM_DDL="CREATE TABLE cq (d STRING, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts);"
CUM_ROWS="INSERT INTO cq VALUES ('a', 1, TIMESTAMP '2025-01-13 00:00:10'), ('b', 8, TIMESTAMP '2025-01-13 00:00:20'),
  ('a', 2, TIMESTAMP '2025-01-13 00:00:50'), ('a', 4, TIMESTAMP '2025-01-13 00:01:30');"
CUM_Q="SELECT window_start, window_end, d, sum(v) AS s FROM TABLE(CUMULATE(TABLE cq, DESCRIPTOR(ts),
  INTERVAL '30' SECOND, INTERVAL '2' MINUTE)) GROUP BY window_start, window_end, d"
{ echo window_start,window_end,d,s
  for e in 00:30 01:00 01:30 02:00; do
    case $e in 00:30) a=1 ;; 01:00|01:30) a=3 ;; *) a=7 ;; esac
    echo "2025-01-13 00:00:00.000,2025-01-13 00:$e.000,a,$a"; echo "2025-01-13 00:00:00.000,2025-01-13 00:$e.000,b,8"
  done; } >"$TMP/cum.want"
LAST="CUMULATE batch";  run 0 sql --data "$TMP/cdata" --format csv -e "$CUM_DDL $CUM_ROWS $CUM_Q ORDER BY window_end, d"
same "$OUT" "$TMP/cum.want"
LAST="CUMULATE step";   run 1 sql --data "$TMP/cdata" -e "SELECT count(*) FROM TABLE(CUMULATE(TABLE cq, DESCRIPTOR(ts),
  INTERVAL '45' SECOND, INTERVAL '2' MINUTE))"
has "$ERR" "line 2, column 25: CUMULATE: the window max size (120000 ms) must be a multiple of the step (45000 ms)"

# ---- --server: the same statements in a server give the same output; --follow streams
# appended rows until Ctrl-C; Ctrl-C interrupts a running statement, the server goes on
"$BIN" server --data "$TMP/sdata" --port 0 >"$TMP/srv.out" 2>"$TMP/srv.err" &
spid=$!
for _ in $(seq 200); do grep -q listening "$TMP/srv.out" && break; sleep 0.05; done
S=127.0.0.1:$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$TMP/srv.out")
LAST="server script";    run 0 sql --server "$S" -f "$TMP/s.sql"
for f in csv json table; do
  q="SELECT device_id, voltage, event_time FROM readings FOR SYSTEM_TIME AS OF TIMESTAMP '2025-01-13 14:30:00' WHERE device_id = 'D1' ORDER BY event_time DESC LIMIT 5"
  "$BIN" sql --data "$D" --format $f -e "$q" >"$TMP/want" 2>&1
  LAST="server $f";      run 0 sql --server "$S" --format $f -e "$q"; same "$OUT" "$TMP/want"
done
LAST="server error";     run 1 sql --server "$S" -e "SELECT device_id
FROM readings WHERE event_time > TIMESTAMP '2025-01-13 25:00:00'"
has "$ERR" "line 2, column 44"; grep -q "^  *\^$" "$ERR" || fail "no caret line in: $(cat "$ERR")"
"$BIN" sql --server "$S" --follow --format csv -e "SELECT device_id, voltage FROM readings WHERE voltage > 221" >"$TMP/fol" 2>"$TMP/fol.err" &
fpid=$!
sleep 1
"$BIN" sql --server "$S" -e "INSERT INTO readings VALUES ('D9', 239.5, TIMESTAMP '2025-01-13 15:00:00'), ('D8', 100, TIMESTAMP '2025-01-13 15:00:00')" >/dev/null 2>&1 || fail "insert during --follow"
for _ in $(seq 100); do grep -q D9 "$TMP/fol" && break; sleep 0.05; done
kill -INT $fpid; wait $fpid; got=$?
LAST="--follow"; [ "$got" -eq 1 ] || fail "--follow ended with $got after Ctrl-C, expected 1"
printf 'device_id,voltage\nD1,222.5\nD9,239.5\n' >"$TMP/want"; same "$TMP/fol" "$TMP/want"; has "$TMP/fol.err" "interrupted"
"$BIN" sql --server "$S" -e "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c" >"$OUT" 2>"$ERR" &
pid=$!
sleep 1
kill -INT "$pid"; wait "$pid"; got=$?
LAST="server SIGINT"; [ "$got" -eq 1 ] || fail "interrupted statement exited $got, expected 1"; has "$ERR" "interrupted"
# a streaming CUMULATE: each window once the watermark (delay 0) passes its end; the row
# at 00:05:00 closes the four windows of the first two minutes, and none of its own (the
# rows come in time order, so none is late and the answer is the batch one)
"$BIN" sql --server "$S" -e "$CUM_DDL" >/dev/null 2>&1 || fail "CREATE TABLE cq in the server"
"$BIN" sql --server "$S" --follow --format csv -e "$CUM_Q" >"$TMP/cum" 2>"$TMP/cum.err" &
fpid=$!
sleep 1
"$BIN" sql --server "$S" -e "$CUM_ROWS" >/dev/null 2>&1 || fail "insert during a streaming CUMULATE"
"$BIN" sql --server "$S" -e "INSERT INTO cq VALUES ('a', 100, TIMESTAMP '2025-01-13 00:05:00')" >/dev/null 2>&1
for _ in $(seq 100); do [ "$(wc -l <"$TMP/cum")" -ge 9 ] && break; sleep 0.05; done
sleep 0.3
kill -INT $fpid; wait $fpid
LAST="streaming CUMULATE"; sort "$TMP/cum" >"$TMP/cum.s"; sort "$TMP/cum.want" >"$TMP/cum.w"; same "$TMP/cum.s" "$TMP/cum.w"
LAST="server after";     run 0 sql --server "$S" --format csv -e "SELECT count(*) AS n FROM readings"; has "$OUT" "6"
kill -TERM $spid; wait $spid || fail "server exit $? after SIGTERM"

[ "$fails" -eq 0 ] && echo "test_sql_cli: all passed" || { echo "test_sql_cli: $fails failed"; exit 1; }
