#!/usr/bin/env bash
# test_server_cli.sh: `strom server` as a command: --help lists every setting with its
# default, bad flags and config files are usage errors (exit 2) naming file, line and key,
# a config file is applied and flags win over it, a second server on the same data
# directory fails (exit 1), SIGINT/SIGTERM end it with exit 0.
set -euo pipefail
bin=${STROM_BIN:?STROM_BIN is not set}
tmp=$(mktemp -d /tmp/strom-srv-cli-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "test_server_cli: $*" >&2; exit 1; }

# --help: every key, flag and default
help=$("$bin" server --help)
for want in "--data DIR" "data.dir (default ./strom-data)" "bind.host (default 127.0.0.1)" \
            "bind.port (default 9123)" "--max-frame-bytes" "server.max-connections (default 10000)" \
            "--config FILE"; do
  grep -qF -- "$want" <<<"$help" || fail "--help lacks '$want'"
done

# usage errors: exit 2 with a message naming the culprit
set +e
out=$("$bin" server --bogus 1 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && grep -q "unknown setting '--bogus'" <<<"$out" && grep -q -- "--port" <<<"$out" \
  || fail "bad flag: rc $rc: $out"
printf '# comment\nbind.port: 0\nserver.bogus: 3\n' > "$tmp/bad.yaml"
set +e
out=$("$bin" server --config "$tmp/bad.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && grep -qF "$tmp/bad.yaml:3: unknown setting 'server.bogus'" <<<"$out" \
  || fail "bad config: rc $rc: $out"
set +e
out=$("$bin" server --port 70000 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && grep -q "out of range 0..65535" <<<"$out" || fail "bad port: rc $rc: $out"

# a config file applies; the flag --port wins over its bind.port
printf 'bind.port: 1\ndata.dir: "%s/data"\n' "$tmp" > "$tmp/ok.yaml"
"$bin" server --config "$tmp/ok.yaml" --port 0 > "$tmp/out" 2> "$tmp/err" &
pid=$!; pids+=("$pid")
for _ in $(seq 200); do grep -q listening "$tmp/out" && break; sleep 0.05; done
line=$(head -n 1 "$tmp/out")
[[ "$line" =~ ^strom\ server\ listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]] || fail "ready line: '$line'"
port=${BASH_REMATCH[1]}
[ "$port" -ne 1 ] || fail "the flag did not win over the file"
[ -d "$tmp/data" ] || fail "data.dir from the file was not used"

# a second server on the same directory: exit 1, the message names the directory
set +e
out=$("$bin" server --data "$tmp/data" --port 0 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && grep -qF "$tmp/data" <<<"$out" || fail "second server: rc $rc: $out"

kill -INT "$pid"
set +e
wait "$pid"; rc=$?
set -e
[ $rc -eq 0 ] || fail "SIGINT: exit $rc"
grep -q "SIGINT received" "$tmp/err" || fail "no shutdown message: $(cat "$tmp/err")"
echo "test_server_cli: ok"
