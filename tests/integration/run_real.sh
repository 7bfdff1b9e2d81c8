#!/bin/bash
# tests/integration/run_real.sh — `dromos run` and `dromos local` for real,
# on loopback:
#   1. bad usage: exit 2 with one line on stderr, nothing on stdout;
#   2. a failing command (exit 3) on real agents: TASK_FAILED with the exit
#      status, its stdout still shown, `dromos run` exits 1;
#   3. the JSON codec: tasks finish, exit 0;
#   4. SIGINT to `dromos run` while tasks run: teardown kills them, exit 1;
#   5. `dromos local --test_agents`: tasks finish, "(no output: test agent)";
#   6. a master that is not there: a timeout, exit 1;
#   and after each cluster stops, no process is left under its work dir.
# Usage: run_real.sh DROMOS
set -u
DROMOS=$(realpath "$1")
TMP=$(mktemp -d /tmp/dromos-run-test.XXXXXX)
LOCAL=
fail() {
    echo "FAIL: $*"
    for f in "$TMP"/*.out "$TMP"/c*/*.log; do
        [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
    done
    exit 1
}
left_behind() {
    for p in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$p" = $$ ] && continue
        if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -e "$TMP/c" ||
           tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" |
               grep -qE "^MESOS_(SANDBOX|DIRECTORY)=$TMP/"; then
            echo "$p"
        fi
    done
}
cleanup() {
    [ -n "$LOCAL" ] && kill -TERM "$LOCAL" 2>/dev/null && wait "$LOCAL" 2>/dev/null
    for p in $(left_behind); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# start_cluster NAME ARGS...: dromos local on a free port; sets PORT and LOCAL
start_cluster() {
    local name=$1; shift
    for _ in 1 2 3 4 5; do
        PORT=$((20000 + RANDOM % 30000))
        port_busy $PORT || port_busy $((PORT + 1)) || port_busy $((PORT + 2)) && continue
        "$DROMOS" local --port $PORT --work_dir "$TMP/$name" "$@" >"$TMP/$name.out" 2>&1 &
        LOCAL=$!
        for _ in $(seq 300); do
            grep -q '^ready:' "$TMP/$name.out" && return 0
            kill -0 $LOCAL 2>/dev/null || break
            sleep 0.1
        done
        kill -TERM $LOCAL 2>/dev/null; wait $LOCAL 2>/dev/null; LOCAL=
    done
    fail "dromos local $name did not start"
}
stop_cluster() {
    kill -TERM $LOCAL
    wait $LOCAL
    local rc=$?
    LOCAL=
    [ $rc -eq 0 ] || fail "dromos local exited $rc after SIGTERM"
    sleep 0.3
    local left
    left=$(left_behind)
    [ -z "$left" ] || fail "left behind: $(for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"
}

# 1. usage errors
usage() { # usage WHAT ARGS...
    local what=$1; shift
    "$DROMOS" run "$@" >"$TMP/u.out" 2>"$TMP/u.err"
    local rc=$?
    [ $rc -eq 2 ] || fail "usage ($what): exit $rc"
    [ "$(wc -l <"$TMP/u.err")" -eq 1 ] || fail "usage ($what): stderr is not one line: $(cat "$TMP/u.err")"
    [ ! -s "$TMP/u.out" ] || fail "usage ($what): stdout: $(cat "$TMP/u.out")"
    grep -q "^dromos run: $what" "$TMP/u.err" || fail "usage ($what): $(cat "$TMP/u.err")"
}
usage "--master HOST:PORT is required" -- true
usage "--master 'nohost': expected HOST:PORT" --master=nohost -- true
usage "no command given" --master=127.0.0.1:5050
usage "--instances 0 is not 1-1000" --master=127.0.0.1:5050 --instances=0 -- true
usage "--cpus -1 must be > 0" --master=127.0.0.1:5050 --cpus=-1 -- true
usage "--codec 'xml': expected json or protobuf" --master=127.0.0.1:5050 --codec=xml -- true
usage "unknown flag '--bogus'" --master=127.0.0.1:5050 --bogus -- true
usage "flag --timeout" --master=127.0.0.1:5050 --timeout=soon -- true
usage "run: name 'a b'" --master=127.0.0.1:5050 --name='a b' -- true
echo "ok 1: usage errors exit 2 with one line"

# 2. a failing command on real agents
start_cluster c1 --agents 2
"$DROMOS" run --master=127.0.0.1:$PORT --instances=2 --name=fail --timeout=60secs \
    -- 'echo before failing; exit 3' >"$TMP/fail.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "a failing command: exit $rc"
[ "$(grep -cE '^fail-[12] +[^ ]+ +TASK_FAILED +before failing$' "$TMP/fail.out")" -eq 2 ] ||
    fail "a failing command: no TASK_FAILED rows with output"
grep -q 'Command exited with status 3' "$TMP/fail.out" || fail "a failing command: no exit status"
grep -q '0 of 2 tasks finished' "$TMP/fail.out" || fail "a failing command: summary"
echo "ok 2: exit 3 -> TASK_FAILED, output shown, dromos run exits 1"

# 3. JSON on the scheduler API
"$DROMOS" run --master=127.0.0.1:$PORT --instances=3 --name=json --codec=json --timeout=60secs \
    -- 'echo "json $MESOS_EXECUTOR_ID"' >"$TMP/json.out" 2>&1 || fail "json: exit $?"
[ "$(grep -cE '^json-[1-3] +[^ ]+ +TASK_FINISHED +json json-[1-3]$' "$TMP/json.out")" -eq 3 ] ||
    fail "json: rows"
echo "ok 3: the JSON codec"

# 4. SIGINT while tasks run
: >"$TMP/long.out"
"$DROMOS" run --master=127.0.0.1:$PORT --instances=2 --name=long --timeout=60secs \
    -- 'sleep 300' >"$TMP/long.out" 2>&1 &
RUN=$!
for _ in $(seq 100); do
    [ "$(grep -c 'TASK_RUNNING' "$TMP/long.out")" -ge 2 ] && break
    sleep 0.1
done
[ "$(grep -c 'TASK_RUNNING' "$TMP/long.out")" -ge 2 ] || fail "sigint: tasks did not start"
kill -INT $RUN
wait $RUN
rc=$?
[ $rc -eq 1 ] || fail "sigint: exit $rc"
grep -q 'interrupted (SIGINT)' "$TMP/long.out" || fail "sigint: no line"
in_sandboxes() { # processes (executors, tasks) running in a sandbox under $TMP
    for p in $(ls /proc | grep -E '^[0-9]+$'); do
        tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qE "^MESOS_SANDBOX=$TMP/" && echo "$p"
    done
}
for _ in $(seq 100); do
    n=$(in_sandboxes | wc -l)
    [ "$n" -eq 0 ] && break
    sleep 0.1
done
[ $n -eq 0 ] || fail "sigint: $n tasks still running after the teardown"
echo "ok 4: SIGINT tears the framework down (tasks killed), exit 1"
stop_cluster
echo "ok: the real cluster stopped, nothing left behind"

# 5. test agents
start_cluster c2 --agents 2 --test_agents
grep -q 'warning: test agents' "$TMP/c2.out" || fail "test agents: no warning"
"$DROMOS" run --master=127.0.0.1:$PORT --instances=4 --name=ta --timeout=60secs \
    -- 'sleep 0.2' >"$TMP/ta.out" 2>&1 || fail "test agents: exit $?"
[ "$(grep -cE '^ta-[1-4] +[^ ]+ +TASK_FINISHED +\(no output: test agent\)$' "$TMP/ta.out")" -eq 4 ] ||
    fail "test agents: rows"
grep -q '4 of 4 tasks finished on 2 agents' "$TMP/ta.out" || fail "test agents: summary"
stop_cluster
echo "ok 5: test agents: tasks finish, '(no output: test agent)'"

# 6. no master
"$DROMOS" run --master=127.0.0.1:1 --timeout=1secs -- true >"$TMP/none.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "no master: exit $rc"
grep -q 'never subscribed to the master at 127.0.0.1:1' "$TMP/none.out" || fail "no master: line"
echo "ok 6: no master: timeout, exit 1"
echo "PASS"
