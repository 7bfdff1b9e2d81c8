#!/usr/bin/env bash
# tests/integration/master_real.sh DROMOS — `dromos master` for real on
# loopback: the listening line, /health, /version, /metrics/snapshot, /state
# and /master/state, the v1 operator API with curl (GET_STATE in JSON and in
# protobuf, 501 names, 406), SET_LOGGING_LEVEL, flags from MESOS_/DROMOS_
# variables and file:// values, bad flags (one line, exit 2), unknown MESOS_*
# ignored, SIGTERM exiting 0 — and nothing left running at the end.
set -euo pipefail
DROMOS=$(realpath "$1")
WORK=$(mktemp -d)
PID=""

cleanup() {
  if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- master stdout:"; cat "$WORK/out" 2>/dev/null || true
         echo "--- master stderr:"; cat "$WORK/err" 2>/dev/null || true; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start ARGS...: runs the master in the background, waits for its line.
start() {
  : >"$WORK/out"; : >"$WORK/err"
  "$DROMOS" master --ip 127.0.0.1 "$@" >"$WORK/out" 2>"$WORK/err" &
  PID=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$WORK/out" && return 0
    kill -0 "$PID" 2>/dev/null || fail "master exited before listening"
    sleep 0.05
  done
  fail "no 'listening on' line within 5 s"
}

# stop: SIGTERM, expect exit 0 within 10 s.
stop() {
  kill -TERM "$PID"
  for _ in $(seq 200); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$PID" 2>/dev/null && fail "master still running 10 s after SIGTERM"
  local rc=0
  wait "$PID" || rc=$?
  PID=""
  [ "$rc" = 0 ] || fail "SIGTERM: exit status $rc, expected 0"
}

api() { # api CONTENT_TYPE ACCEPT BODY [curl args...]
  local ct=$1 accept=$2 body=$3; shift 3
  curl -sS -X POST -H "Content-Type: $ct" -H "Accept: $accept" --data-binary "$body" "$@" \
    "$URL/api/v1"
}

PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
export MESOS_FOO_UNKNOWN=1        # unknown MESOS_* variables are ignored
export MESOS_MAX_COMPLETED_FRAMEWORKS=7
export DROMOS_WEIGHTS="ops=2,dev=0.5"
export DROMOS_NO_SUCH_FLAG=1      # unknown DROMOS_* variables are warned about
start --port "$PORT"
unset DROMOS_NO_SUCH_FLAG
grep -q "ignoring unknown variable DROMOS_NO_SUCH_FLAG" "$WORK/err" || fail "no warning for DROMOS_NO_SUCH_FLAG"
grep -q "MESOS_FOO_UNKNOWN" "$WORK/err" && fail "MESOS_FOO_UNKNOWN was not silently ignored"
grep -qx "dromos master: listening on $URL" "$WORK/out" || fail "listening line: $(cat "$WORK/out")"
echo "master up on $URL (pid $PID)"

[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] || fail "/health"
curl -sf "$URL/version" | jq -e '.version and (.build_date != null)' >/dev/null || fail "/version"
curl -sf "$URL/metrics/snapshot" >"$WORK/metrics" || fail "/metrics/snapshot"
for name in master/elected master/uptime_secs master/slaves_active master/frameworks_active \
            master/tasks_running master/tasks_finished master/cpus_total master/cpus_used \
            master/mem_total master/outstanding_offers allocator/mesos/allocation_runs \
            allocator/mesos/allocation_run_ms/p99 master/operator_event_stream_subscribers; do
  jq -e --arg n "$name" 'has($n) and (.[$n] | type == "number")' "$WORK/metrics" >/dev/null \
    || fail "metric $name missing"
done
jq -e '.["master/elected"] == 1' "$WORK/metrics" >/dev/null || fail "master/elected != 1"
echo "/health, /version, /metrics/snapshot ok"

for path in /state /master/state; do
  curl -sf "$URL$path" >"$WORK/state" || fail "$path"
  jq -e '.id and .pid and .hostname and (.frameworks | type == "array") and
         (.slaves | type == "array") and (.completed_frameworks | type == "array")' \
    "$WORK/state" >/dev/null || fail "$path shape: $(head -c 300 "$WORK/state")"
done
jq -e '.flags.max_completed_frameworks == "7"' "$WORK/state" >/dev/null \
  || fail "MESOS_MAX_COMPLETED_FRAMEWORKS not applied: $(jq -c .flags "$WORK/state")"
# Flags show as given (Mesos keeps --weights as its text), every one of them.
jq -e '.flags.weights == "ops=2,dev=0.5"' "$WORK/state" >/dev/null \
  || fail "DROMOS_WEIGHTS not applied: $(jq -c .flags "$WORK/state")"
curl -sf "$URL/flags" | jq -e --arg port "$PORT" '.flags.registry == "in_memory" and
    .flags.port == $port and .flags.max_completed_frameworks == "7" and
    .flags.allocation_interval == "1secs"' >/dev/null \
  || fail "/flags: $(curl -s "$URL/flags")"
curl -sf "$URL/state-summary" | jq -e '.slaves and .frameworks' >/dev/null || fail "/state-summary"
loc=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$URL/master/redirect")
case "$loc" in 307\ *:$PORT*) ;; *) fail "/master/redirect: $loc" ;; esac
echo "/state, /master/state, /state-summary, /redirect ok"

api application/json application/json '{"type":"GET_STATE"}' >"$WORK/get_state" || fail GET_STATE
jq -e '.type == "GET_STATE" and .get_state.get_agents and .get_state.get_frameworks' \
  "$WORK/get_state" >/dev/null || fail "GET_STATE JSON: $(cat "$WORK/get_state")"
# Protobuf out (curl cannot build protobuf in; the codec in is covered by the
# unit tests): field 1 (type) = 8 (GET_STATE) comes first: bytes 08 08.
api application/json application/x-protobuf '{"type":"GET_STATE"}' -D "$WORK/headers" \
  -o "$WORK/get_state.pb" || fail "GET_STATE protobuf"
grep -qi '^content-type: application/x-protobuf' "$WORK/headers" || fail "protobuf content type"
[ "$(head -c 2 "$WORK/get_state.pb" | od -An -tx1 | tr -d ' \n')" = 0808 ] \
  || fail "GET_STATE protobuf starts with $(head -c 8 "$WORK/get_state.pb" | od -An -tx1)"
code=$(api application/json application/json '{"type":"GET_QUOTA"}' -o "$WORK/body" -w '%{http_code}')
[ "$code" = 501 ] && grep -q "GET_QUOTA is not implemented yet" "$WORK/body" || fail "GET_QUOTA: $code"
code=$(api application/json text/html '{"type":"GET_HEALTH"}' -o /dev/null -w '%{http_code}')
[ "$code" = 406 ] || fail "Accept: text/html gave $code, expected 406"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1")
[ "$code" = 405 ] || fail "GET /api/v1 gave $code, expected 405"
api application/json application/json \
  '{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1,"duration":{"nanoseconds":60000000000}}}' \
  -f -o /dev/null || fail SET_LOGGING_LEVEL
api application/json application/json '{"type":"GET_LOGGING_LEVEL"}' \
  | jq -e '.get_logging_level.level == 1' >/dev/null || fail "GET_LOGGING_LEVEL after SET"
grep -q " D master: operator: GET_LOGGING_LEVEL" "$WORK/err" || fail "no debug lines after SET_LOGGING_LEVEL"
api application/json application/json '{"type":"GET_METRICS"}' -H "Accept-Encoding: gzip" \
  -D "$WORK/headers" -o "$WORK/metrics.gz" || fail "GET_METRICS gzip"
grep -qi '^content-encoding: gzip' "$WORK/headers" || fail "GET_METRICS not gzip'd when asked"
gzip -dc "$WORK/metrics.gz" | jq -e '.type == "GET_METRICS"' >/dev/null || fail "gzip body"
echo "operator API: GET_STATE (JSON, protobuf), 501, 406, 405, logging level, gzip ok"

# An operator event stream: SUBSCRIBED then HEARTBEAT, as RecordIO; SIGTERM
# ends it cleanly (curl exits 0) and the master exits 0.
curl -sSN -X POST -H "Content-Type: application/json" -H "Accept: application/json" \
  --data '{"type":"SUBSCRIBE"}' "$URL/api/v1" >"$WORK/events" 2>"$WORK/curl.err" &
CURL=$!
for _ in $(seq 100); do grep -q HEARTBEAT "$WORK/events" && break; sleep 0.05; done
grep -q '"type":"SUBSCRIBED"' "$WORK/events" || fail "SUBSCRIBE stream: $(head -c 300 "$WORK/events")"
grep -q '"type":"HEARTBEAT"' "$WORK/events" || fail "no HEARTBEAT on the stream"
head -c 1 "$WORK/events" | grep -q '[0-9]' || fail "stream is not RecordIO"
curl -sf "$URL/metrics/snapshot" | jq -e '.["master/operator_event_stream_subscribers"] == 1' \
  >/dev/null || fail "subscriber not counted"
stop
rc=0; wait "$CURL" || rc=$?
[ "$rc" = 0 ] || fail "the event stream did not end cleanly at shutdown (curl: $rc $(cat "$WORK/curl.err"))"
echo "SUBSCRIBE stream ok; SIGTERM: exit 0, stream ended"

# A flag value from a file (file://). src/daemon/flags.c keeps such values
# for the life of the process on purpose, which LeakSanitizer reports, so
# this run alone has leak detection off.
echo "web=3" >"$WORK/weights"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" DROMOS_WEIGHTS="file://$WORK/weights" \
  start --port "$PORT"
curl -sf "$URL/state" | jq -e '.flags.weights == "web=3"' >/dev/null \
  || fail "DROMOS_WEIGHTS=file:// not applied"
api application/json application/json '{"type":"GET_WEIGHTS"}' \
  | jq -e '.get_weights.weight_infos == [{"role":"web","weight":3.0}]' >/dev/null \
  || fail "GET_WEIGHTS after file:// weights"
stop
echo "file:// flag value ok"

# Bad flags: one line on stderr, exit 2, nothing left running.
check_bad() { # check_bad WHAT ARGS...
  local what=$1; shift
  local rc=0
  "$DROMOS" master "$@" >"$WORK/bad.out" 2>"$WORK/bad.err" || rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, expected 2 ($(cat "$WORK/bad.err"))"
  [ "$(wc -l <"$WORK/bad.err")" = 1 ] || fail "$what: stderr is not one line: $(cat "$WORK/bad.err")"
}
check_bad "unknown flag" --no_such_flag=1
check_bad "bad port" --port=70000
check_bad "bad duration" --allocation_interval=soon
check_bad "bad weights" --weights=a=x
check_bad "bad level" --logging_level=LOUD
unset DROMOS_WEIGHTS
DROMOS_PORT=notanumber check_bad "bad DROMOS_PORT"
echo "bad flags: one line, exit 2"
echo "done: nothing left running"
