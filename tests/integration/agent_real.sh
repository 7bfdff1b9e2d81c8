#!/bin/bash
# tests/integration/agent_real.sh — the agent for real, on loopback: a
# `dromos master`, a `dromos agent` whose command executor is the tests'
# executor (tests/unit/agent/test_executor.h, through a `dromos` wrapper in
# --launcher_dir), and a small scheduler (agent_sched_main.c).
#   1. five tasks run and finish; a failing task fails;
#   2. the agent is killed with SIGKILL while three tasks run and restarted:
#      the tasks survive and finish, every update reaches the framework in
#      order (none after a terminal one), each acknowledged;
#   3. a second agent on the same work dir is refused (exit 1, one line);
#      a bad flag is a usage error (exit 2);
#   4. SIGTERM stops the agent with exit 0;
#   5. an agent with the real `dromos executor` runs shell tasks to the end,
#      their output in the sandbox's stdout;
#   6. a task using more memory than it asked for is killed (posix/mem).
# The scheduler's framework user ("tester") is no user of this host: the
# agents run with --switch_user=false (agent_user.sh tests switching).
# Usage: agent_real.sh DROMOS AGENT_SCHED AGENT_TEST_EXECUTOR
set -u
DROMOS=$(realpath "$1")
SCHED=$(realpath "$2")
TEXEC=$(realpath "$3")
TMP=$(mktemp -d /tmp/dromos-agent-test.XXXXXX)
PIDS=()
fail() {
    echo "FAIL: $*"
    echo "--- agent log"; tail -n 40 "$TMP/agent.log" 2>/dev/null
    echo "--- master log"; tail -n 20 "$TMP/master.log" 2>/dev/null
    exit 1
}
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in $(pgrep -f "$TEXEC"); do
        if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -q "MESOS_DIRECTORY=$TMP/"; then
            kill -9 "$p" 2>/dev/null
        fi
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

MP=$((20000 + RANDOM % 10000))
AP=$((MP + 1))
mkdir -p "$TMP/bin"
cat > "$TMP/bin/dromos" <<WRAP
#!/bin/sh
if [ "\$1" = executor ]; then exec "$TEXEC"; fi
exec "$DROMOS" "\$@"
WRAP
chmod +x "$TMP/bin/dromos"

"$DROMOS" master --ip=127.0.0.1 --port=$MP --work_dir="$TMP/master" --allocation_interval=100ms \
    > "$TMP/master.log" 2>&1 &
PIDS+=($!)

start_agent() {
    "$DROMOS" agent --master=127.0.0.1:$MP --work_dir="$TMP/work" --port=$AP \
        --launcher_dir="$TMP/bin" --executor_shutdown_grace_period=1secs \
        --registration_backoff_factor=100ms --resources="cpus:4;mem:2048;disk:1000" \
        --switch_user=false \
        >> "$TMP/agent.log" 2>&1 &
    AGENT=$!
    PIDS+=($AGENT)
}
start_agent
sleep 1
kill -0 $AGENT 2>/dev/null || fail "agent did not start"

# 1. tasks finish; a task fails
out=$("$SCHED" 127.0.0.1:$MP 5 finish 20) || fail "5 finishing tasks: $out"
echo "$out" | grep -q "done finished=5 failed=0 other=0 duplicates=0 out_of_order=0" ||
    fail "5 finishing tasks: $out"
echo "ok 1: 5 tasks finished"
out=$("$SCHED" 127.0.0.1:$MP 1 fail 20) || fail "a failing task: $out"
echo "$out" | grep -q "done finished=0 failed=1" || fail "a failing task: $out"
echo "ok 1: a failing task failed"

# 2. SIGKILL the agent while tasks run; restart it
"$SCHED" 127.0.0.1:$MP 3 finish4 40 > "$TMP/sched2.out" 2>&1 &
SCHED_PID=$!
PIDS+=($SCHED_PID)
for i in $(seq 1 50); do
    [ "$(grep -c "TASK_RUNNING" "$TMP/sched2.out")" -ge 3 ] && break
    sleep 0.1
done
[ "$(grep -c "TASK_RUNNING" "$TMP/sched2.out")" -ge 3 ] || fail "tasks did not start: $(cat "$TMP/sched2.out")"
kill -9 $AGENT
wait $AGENT 2>/dev/null
sleep 0.5
start_agent
wait $SCHED_PID || fail "after the restart: $(cat "$TMP/sched2.out")"
grep -q "done finished=3 failed=0 other=0" "$TMP/sched2.out" || fail "after the restart: $(cat "$TMP/sched2.out")"
grep -q "out_of_order=0" "$TMP/sched2.out" || fail "out of order: $(cat "$TMP/sched2.out")"
grep -q "recovered agent" "$TMP/agent.log" || fail "the agent did not recover"
echo "ok 2: tasks survived an agent SIGKILL and finished ($(tail -n 1 "$TMP/sched2.out"))"

# 3. the work dir is locked; bad flags
out=$("$DROMOS" agent --master=127.0.0.1:$MP --work_dir="$TMP/work" --port=$((AP + 1)) 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "second agent: exit $rc: $out"
echo "$out" | grep -q "is locked by another agent" || fail "second agent: $out"
out=$("$DROMOS" agent --master=x:1 --work_dir="$TMP/w2" --recover=sometimes 2>&1)
[ $? -eq 2 ] || fail "bad --recover: $out"
[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "bad --recover: more than one line: $out"
echo "ok 3: work dir lock and flag errors"

# 4. SIGTERM: exit 0
kill -TERM $AGENT
wait $AGENT
rc=$?
[ $rc -eq 0 ] || fail "SIGTERM: exit $rc"
echo "ok 4: SIGTERM stops the agent with exit 0"

# 5. the real command executor (`dromos executor`)
"$DROMOS" agent --master=127.0.0.1:$MP --work_dir="$TMP/work2" --port=$((AP + 2)) \
    --executor_shutdown_grace_period=1secs --registration_backoff_factor=100ms \
    --resources="cpus:4;mem:2048;disk:1000" --switch_user=false >> "$TMP/agent.log" 2>&1 &
AGENT=$!
PIDS+=($AGENT)
sleep 1
out=$("$SCHED" 127.0.0.1:$MP 3 "echo hello from dromos; sleep 0.2" 30) || fail "dromos executor: $out"
echo "$out" | grep -q "done finished=3 failed=0" || fail "dromos executor: $out"
n=$(cat "$TMP"/work2/slaves/*/frameworks/*/executors/*/runs/latest/stdout 2>/dev/null | grep -c "hello from dromos")
[ "$n" -eq 3 ] || fail "dromos executor: $n sandboxes hold the tasks' output"
echo "ok 5: dromos executor ran 3 shell tasks, output in their sandboxes"

# 6. posix/mem: a task past its memory (64 MB + 32 MB for the executor) is killed
out=$("$SCHED" 127.0.0.1:$MP 1 "(head -c 400000000 /dev/zero; sleep 30) | tail" 40)
echo "$out" | grep -q "done finished=0 failed=1" || fail "memory hog: $out"
echo "$out" | grep -q "TASK_FAILED Memory limit exceeded: Requested: 96MB Maximum Used: " ||
    fail "memory hog: $out"
echo "ok 6: a task over its memory limit failed ($(echo "$out" | grep -o 'Memory limit.*'))"
kill -TERM $AGENT
wait $AGENT || fail "SIGTERM of the second agent"
