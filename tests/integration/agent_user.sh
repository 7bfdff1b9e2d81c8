#!/bin/bash
# tests/integration/agent_user.sh — who a container runs as, and its limits,
# for real on loopback: `dromos master`, `dromos agent` (with the real
# `dromos executor` and `dromos fetch`) and a one-task JSON scheduler
# (agent_user_sched.py). Needs root (skipped otherwise: exit 77).
#   1. --switch_user (the default): a task with CommandInfo.user nobody and
#      RLMT_NOFILE 123/456 runs as nobody with those limits; it writes `id -un`
#      and `ulimit -n` to its stdout, read back from the sandbox; the sandbox,
#      its stdout and a file the task made there belong to nobody;
#   2. a user the host does not have: TASK_FAILED naming the user; the agent
#      goes on and runs the next task;
#   3. invalid rlimits (soft above hard): TASK_FAILED saying so;
#   4. a URI nobody may not read: the fetcher runs as nobody, fails, and the
#      task's message quotes the fetcher's last line of stderr;
#   5. --switch_user=false: the same task runs as the agent's user (root).
# Usage: agent_user.sh DROMOS AGENT_USER_SCHED_PY
set -u
DROMOS=$(realpath "$1")
SCHED=$(realpath "$2")
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: switching users needs root"
    exit 77
fi
id nobody >/dev/null 2>&1 || { echo "SKIP: no user 'nobody'"; exit 77; }
TMP=$(mktemp -d /tmp/dromos-agent-user.XXXXXX)
chmod 755 "$TMP" # the sandboxes below it are entered as nobody
PIDS=()
fail() {
    echo "FAIL: $*"
    echo "--- agent log"; tail -n 30 "$TMP/agent.log" 2>/dev/null
    echo "--- master log"; tail -n 10 "$TMP/master.log" 2>/dev/null
    exit 1
}
left_behind() {
    for p in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$p" = $$ ] && continue
        if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" |
               grep -qE "^MESOS_(SANDBOX|DIRECTORY)=$TMP/"; then
            echo "$p"
        fi
    done
}
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in $(left_behind); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

MP=$((20000 + RANDOM % 10000))
AP=$((MP + 1))
"$DROMOS" master --ip=127.0.0.1 --port=$MP --work_dir="$TMP/master" --allocation_interval=100ms \
    > "$TMP/master.log" 2>&1 &
PIDS+=($!)
# start_agent WORK_DIR FLAGS...
start_agent() {
    local work=$1; shift
    "$DROMOS" agent --master=127.0.0.1:$MP --work_dir="$work" --port=$AP \
        --executor_shutdown_grace_period=1secs --registration_backoff_factor=100ms \
        --resources="cpus:4;mem:2048;disk:1000" "$@" >> "$TMP/agent.log" 2>&1 &
    AGENT=$!
    PIDS+=($AGENT)
    sleep 1
    kill -0 $AGENT 2>/dev/null || fail "agent did not start"
}
stop_agent() {
    kill -TERM $AGENT
    wait $AGENT 2>/dev/null
}
# sandbox WORK_DIR: the latest run of the one task's executor
sandbox() { echo "$1"/slaves/*/frameworks/*/executors/user-task/runs/latest; }
owner() { stat -L -c %U "$1"; }

# 1. the command's user and its limits
start_agent "$TMP/work1"
out=$(python3 "$SCHED" 127.0.0.1:$MP nobody 'id -un; ulimit -n; ulimit -Hn; echo x > made' \
    --nofile=123:456) || fail "task as nobody: $out"
echo "$out" | grep -q "update TASK_FINISHED" || fail "task as nobody: $out"
SB=$(sandbox "$TMP/work1")
[ -d "$SB" ] || fail "no sandbox under $TMP/work1"
got=$(cat "$SB/stdout")
[ "$got" = "$(printf 'nobody\n123\n456')" ] || fail "task as nobody printed '$got'"
for f in "$SB" "$SB/stdout" "$SB/stderr" "$SB/made"; do
    [ "$(owner "$f")" = nobody ] || fail "$f belongs to $(owner "$f"), not nobody"
done
echo "ok 1: a task ran as nobody with RLMT_NOFILE 123/456, its sandbox is nobody's"

# 2. a user the host does not have
out=$(python3 "$SCHED" 127.0.0.1:$MP no-such-user-dromos 'true') || fail "unknown user: $out"
echo "$out" | grep -qx "update TASK_FAILED: Failed to launch the executor: user 'no-such-user-dromos': no such user" ||
    fail "unknown user: $out"
kill -0 $AGENT 2>/dev/null || fail "the agent died after a task with an unknown user"
out=$(python3 "$SCHED" 127.0.0.1:$MP - 'true') || fail "a task after the unknown user: $out"
echo "$out" | grep -q "update TASK_FINISHED" || fail "a task after the unknown user: $out"
echo "ok 2: an unknown user fails its task with a message naming it; the agent goes on"

# 3. invalid rlimits
out=$(python3 "$SCHED" 127.0.0.1:$MP nobody 'true' --nofile=500:400) || fail "bad rlimits: $out"
echo "$out" | grep -qx "update TASK_FAILED: Failed to launch the executor: posix/rlimits: RLMT_NOFILE: soft limit 500 is above hard limit 400" ||
    fail "bad rlimits: $out"
echo "ok 3: soft above hard fails the task, saying so"

# 4. the fetcher runs as the user: a file only root may read cannot be fetched
echo secret > "$TMP/secret.txt"
chmod 600 "$TMP/secret.txt"
out=$(python3 "$SCHED" 127.0.0.1:$MP nobody 'cat secret.txt' --uri="$TMP/secret.txt") ||
    fail "fetch as nobody: $out"
echo "$out" | grep -q "update TASK_FAILED: Failed to fetch the URIs: .*secret.txt.*Permission denied.* (the fetcher exited with status 1)" ||
    fail "fetch as nobody: $out"
stop_agent
echo "ok 4: the fetcher ran as nobody; its error is quoted in the task's message"

# 5. --switch_user=false: the agent's own user
start_agent "$TMP/work2" --switch_user=false
out=$(python3 "$SCHED" 127.0.0.1:$MP nobody 'id -un') || fail "--switch_user=false: $out"
echo "$out" | grep -q "update TASK_FINISHED" || fail "--switch_user=false: $out"
got=$(cat "$(sandbox "$TMP/work2")/stdout")
[ "$got" = root ] || fail "--switch_user=false: the task ran as '$got'"
stop_agent
echo "ok 5: with --switch_user=false the task ran as root"

sleep 0.5
[ -z "$(left_behind)" ] || fail "processes left behind: $(left_behind)"
echo "PASS"
