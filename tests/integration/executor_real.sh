#!/usr/bin/env bash
# tests/integration/executor_real.sh — `dromos executor` as the agent runs it:
# a master and an agent on loopback, tasks through `dromos run`: success with
# output, failure with the exit status in the message, a task that ignores
# SIGTERM killed by the framework's teardown (SIGKILL after the grace period,
# nothing left running), and `dromos executor` without its environment (exit 2).
# Usage: executor_real.sh PATH/TO/dromos
set -u
DROMOS=$1
T=$(mktemp -d)
PIDS=()
cleanup() {
    [ -n "${KEEP:-}" ] && { echo "kept $T"; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; return; }
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "--- run output"; cat "$T/run.out" 2>/dev/null
    echo "FAIL: $*"
    echo "--- agent log"; tail -20 "$T/agent.log"
    exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# no environment: a usage error
env -i "$DROMOS" executor 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "executor without MESOS_*: exit $rc, want 2"
grep -q "MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID and MESOS_AGENT_ENDPOINT must be set" "$T/err" \
    || fail "usage message: $(cat "$T/err")"

MPORT=$(free_port)
APORT=$(free_port)
"$DROMOS" master --ip=127.0.0.1 --port="$MPORT" --work_dir="$T/m" >"$T/master.log" 2>&1 &
PIDS+=($!)
"$DROMOS" agent --master="127.0.0.1:$MPORT" --ip=127.0.0.1 --port="$APORT" --work_dir="$T/a" \
    --resources='cpus:4;mem:4096;disk:1000;ports:[31000-32000]' \
    --executor_shutdown_grace_period=3secs >"$T/agent.log" 2>&1 &
PIDS+=($!)

run() { timeout 60 "$DROMOS" run --master="127.0.0.1:$MPORT" "$@" >"$T/run.out" 2>&1; }

# success, with output (the agent may need a moment to register)
ok=0
for _ in $(seq 50); do
    if run --instances=2 --timeout=20secs -- 'echo "out:$FOO_X:$MESOS_SANDBOX" | sed s/:.*//'; then ok=1; break; fi
    grep -q "offers from" "$T/run.out" && break
    sleep 0.2
done
[ $ok -eq 1 ] || fail "success run: $(cat "$T/run.out")"
grep -q "2 of 2 tasks finished" "$T/run.out" || fail "success summary: $(cat "$T/run.out")"
LOGS="$T/a/slaves/*/frameworks/*/executors/*/runs/latest/stderr"
[ "$(cat $LOGS | grep -c "TASK_FINISHED: Command exited with status 0")" -eq 2 ] \
    || fail "no TASK_FINISHED in the executors' logs"
[ "$(grep -c 'TASK_FINISHED  out' "$T/run.out")" -eq 2 ] || fail "task output: $(cat "$T/run.out")"

# failure with an exit status
run --instances=1 --timeout=20secs -- 'exit 3'
grep -q "TASK_FAILED" "$T/run.out" || fail "failure: $(cat "$T/run.out")"
cat $LOGS | grep -q "TASK_FAILED: Command exited with status 3" || fail "no exit status 3 in the logs"

# a task that ignores SIGTERM: killed at teardown, SIGKILL after the grace period
MARK="sleep 59.$$"
run --instances=1 --timeout=2secs -- "trap '' TERM; $MARK"
for _ in $(seq 100); do
    pgrep -f "$MARK" >/dev/null || break
    sleep 0.1
done
pgrep -f "$MARK" >/dev/null && fail "the task survived its kill"
cat $LOGS | grep -q "TASK_KILLED: Command terminated with signal Killed" \
    || fail "no TASK_KILLED by SIGKILL in the executors' logs"
echo "executor_real: ok"
