#!/bin/bash
# tests/integration/agent_diskfull.sh — the disk under the agent's work dir
# fills up, for real: in a private mount namespace (unshare -m) an 8 MiB
# tmpfs is the work dir of a `dromos agent`; a `dromos master` and the agent
# tests' scheduler (agent_sched_main.c: a checkpointing framework, so the
# agent's own checkpoints hit the full disk too) run on loopback.
#   1. a task fills the disk (dd into its sandbox, then an echo that fails
#      for want of space): it ends TASK_FAILED "Command exited with status
#      1", and the agent stays up;
#   2. with the disk still full (a filler file keeps it so) the agent keeps
#      serving: GET_HEALTH healthy, /metrics/snapshot;
#   3. another task on the full disk ends with a terminal update and a
#      message (the agent cannot checkpoint it: TASK_FAILED, logged);
#   3b. the agent restarts on the full disk (SIGTERM, start): it recovers,
#      re-registers and serves;
#   4. the filler gone, the agent's garbage collector removes the finished
#      sandboxes at once (the disk is past --gc_disk_headroom), and a task
#      then finishes normally;
#   5. SIGTERM stops the agent (exit 0); a restart (--strict) recovers from
#      its checkpoints (nothing corrupt) and serves; afterwards no process of
#      this test is left and no mount (the tmpfs died with the namespace).
# Skipped (77) when not root or unshare/mount cannot make the namespace.
# Usage: agent_diskfull.sh DROMOS AGENT_SCHED
set -u
DROMOS=$(realpath "$1")
SCHED=$(realpath "$2")

if [ -z "${DISKFULL_IN_NS:-}" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null ||
       ! unshare -m --propagation private true 2>/dev/null; then
        echo "skip: needs root and unshare -m (a private mount namespace for the tmpfs)"
        exit 77
    fi
    OUTER=$(mktemp -d /tmp/dromos-diskfull.XXXXXX)
    DISKFULL_IN_NS=1 DISKFULL_TMP="$OUTER" unshare -m --propagation private "$0" "$@"
    rc=$?
    # Nothing of the test may outlive it: no process with its sandbox in
    # its environment, and no tmpfs on its directory (the mount was private
    # to the namespace, which died with its last process).
    left=""
    for p in $(ls /proc | grep -E '^[0-9]+$'); do
        if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qE "^MESOS_(SANDBOX|DIRECTORY)=$OUTER/" ||
           tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$OUTER/"; then
            left="$left $p"
        fi
    done
    if [ -n "$left" ]; then
        echo "FAIL: processes left behind:$left"
        for p in $left; do kill -9 "$p" 2>/dev/null; done
        rc=1
    fi
    if grep -qF " $OUTER/" /proc/self/mountinfo; then
        echo "FAIL: a mount is left under $OUTER"
        rc=1
    fi
    if [ -n "${KEEP:-}" ]; then echo "kept $OUTER"; else rm -rf "$OUTER"; fi
    [ $rc = 0 ] && echo "ok 5: nothing left running or mounted"
    exit $rc
fi

TMP=$DISKFULL_TMP
WORK="$TMP/work"
PIDS=()
fail() {
    echo "FAIL: $*"
    echo "--- agent log"; tail -n 40 "$TMP/agent.log" 2>/dev/null
    echo "--- master log"; tail -n 10 "$TMP/master.log" 2>/dev/null
    exit 1
}
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 50); do
        alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    for p in $(ls /proc | grep -E '^[0-9]+$'); do
        tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qE "^MESOS_DIRECTORY=$WORK/" &&
            kill -9 "$p" 2>/dev/null
    done
    umount "$WORK" 2>/dev/null
}
trap cleanup EXIT

mkdir -p "$WORK"
mount -t tmpfs -o size=8m dromos-diskfull "$WORK" || fail "cannot mount a tmpfs on $WORK"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MP=$(free_port)
AP=$(free_port)
"$DROMOS" master --ip=127.0.0.1 --port=$MP --work_dir="$TMP/master" --allocation_interval=100ms \
    > "$TMP/master.log" 2>&1 &
PIDS+=($!)
start_agent() {
    "$DROMOS" agent --master=127.0.0.1:$MP --work_dir="$WORK" --port=$AP \
        --executor_shutdown_grace_period=1secs --registration_backoff_factor=100ms \
        --resources="cpus:4;mem:2048;disk:100" --disk_watch_interval=1secs --switch_user=false \
        >> "$TMP/agent.log" 2>&1 &
    AGENT=$!
    PIDS+=($AGENT)
}
start_agent
for _ in $(seq 100); do
    grep -q "registered with the master" "$TMP/agent.log" && break
    sleep 0.1
done
grep -q "registered with the master" "$TMP/agent.log" || fail "the agent did not register"

health() {
    curl -fsS -X POST -H 'Content-Type: application/json' -H 'Accept: application/json' \
        -d '{"type":"GET_HEALTH"}' "http://127.0.0.1:$AP/api/v1" 2>&1
}

# 1. a task fills the disk; it starts filling only once its TASK_RUNNING has
#    reached the scheduler (so its first updates are checkpointed: what the
#    agent does when an update cannot be is not what this step is about)
"$SCHED" 127.0.0.1:$MP 1 "while [ ! -e '$TMP/go' ]; do sleep 0.05; done; dd if=/dev/zero of=big bs=1M; echo dd exited \$?" 60 \
    > "$TMP/sched1.out" 2>&1 &
sched=$!
for _ in $(seq 300); do
    grep -q "^update t0 TASK_RUNNING" "$TMP/sched1.out" && break
    kill -0 $sched 2>/dev/null || break
    sleep 0.1
done
touch "$TMP/go"
wait $sched || fail "the disk-filling task: $(cat "$TMP/sched1.out")"
out=$(cat "$TMP/sched1.out")
echo "$out"
# dd stops at the full disk; then even echo cannot write its line to the
# sandbox's stdout and fails: the command's status is 1 only on a full disk
line=$(echo "$out" | grep "^update t0 TASK_" | tail -n 1)
[ "$line" = "update t0 TASK_FAILED Command exited with status 1" ] ||
    fail "the disk-filling task: want TASK_FAILED with status 1: $out"
kill -0 $AGENT 2>/dev/null || fail "the agent died"
echo "ok 1: the disk-filling task ended: ${line#update t0 }"
# The agent may collect that task's sandbox at its next disk check (see 4):
# until then this filler keeps the disk full, whatever the collector does.
dd if=/dev/zero of="$WORK/filler" bs=64k 2>/dev/null

[ "$(df --output=avail -k "$WORK" | tail -n 1)" -lt 64 ] || fail "the disk is not full"

# 2. the agent keeps serving
h=$(health)
[ "$(echo "$h" | jq -r '.get_health.healthy' 2>/dev/null)" = true ] || fail "GET_HEALTH: $h"
curl -fsS "http://127.0.0.1:$AP/metrics/snapshot" | jq -e '."slave/registered" == 1' >/dev/null ||
    fail "metrics after the disk filled"
echo "ok 2: GET_HEALTH healthy and metrics served with the disk full"

# 3. another task while the disk is still full: it ends, one way or another
out=$("$SCHED" 127.0.0.1:$MP 1 "echo small" 60) || fail "a task on the full disk: $out"
echo "$out"
line=$(echo "$out" | grep "^update t0 TASK_" | tail -n 1)
echo "$line" | grep -qE "^update t0 TASK_(FAILED|FINISHED|ERROR|LOST) .+" ||
    fail "a task on the full disk: no terminal update with a message: $out"
kill -0 $AGENT 2>/dev/null || fail "the agent died"
grep "W agent: agent: checkpoint '$WORK/meta/" "$TMP/agent.log" | grep -q "No space left on device" ||
    fail "the agent did not log the checkpoint it could not write, and why"
echo "ok 3: a task on the full disk ended: ${line#update t0 }"

# 3b. the agent restarts on the full disk: it recovers, re-registers, serves
kill -TERM $AGENT
wait $AGENT
rc=$?
[ $rc = 0 ] || fail "SIGTERM on the full disk: exit $rc"
registered=$(grep -c "registered with the master" "$TMP/agent.log")
start_agent
for _ in $(seq 100); do
    [ "$(grep -c "registered with the master" "$TMP/agent.log")" -gt "$registered" ] && break
    kill -0 $AGENT 2>/dev/null || break
    sleep 0.1
done
kill -0 $AGENT 2>/dev/null || fail "the agent did not restart on the full disk"
[ "$(grep -c "registered with the master" "$TMP/agent.log")" -gt "$registered" ] ||
    fail "the agent restarted on the full disk did not register"
h=$(health)
[ "$(echo "$h" | jq -r '.get_health.healthy' 2>/dev/null)" = true ] ||
    fail "GET_HEALTH after a restart on the full disk: $h"
echo "ok 3b: the agent restarted on the full disk, registered and serves"

# 4. the agent's garbage collector frees the disk: with the disk this full
#    (above 1 - --gc_disk_headroom) finished sandboxes go at the next disk
#    check (--disk_watch_interval=1secs), whatever --gc_delay says
rm -f "$WORK/filler"
for _ in $(seq 100); do
    [ "$(df --output=avail -k "$WORK" | tail -n 1)" -gt 4096 ] && break
    sleep 0.1
done
[ "$(df --output=avail -k "$WORK" | tail -n 1)" -gt 4096 ] ||
    fail "the agent did not free the full disk: $(df -k "$WORK" | tail -n 1)"
ls "$WORK"/slaves/*/frameworks/*/executors/*/runs/*/big >/dev/null 2>&1 &&
    fail "the disk-filling task's sandbox is still there"
out=$("$SCHED" 127.0.0.1:$MP 1 "echo room again" 60) || fail "a task after freeing space: $out"
echo "$out" | grep -q "done finished=1 failed=0" || fail "a task after freeing space: $out"
echo "ok 4: the agent's gc removed the finished sandboxes ($(df --output=avail -k "$WORK" | tail -n 1 | tr -d ' ') KiB free), then a task finished"

# 5. SIGTERM, then a strict restart recovers what was checkpointed
kill -TERM $AGENT
wait $AGENT
rc=$?
[ $rc = 0 ] || fail "SIGTERM: exit $rc"
registered=$(grep -c "registered with the master" "$TMP/agent.log")
start_agent
for _ in $(seq 100); do
    [ "$(grep -c "registered with the master" "$TMP/agent.log")" -gt "$registered" ] && break
    kill -0 $AGENT 2>/dev/null || break
    sleep 0.1
done
kill -0 $AGENT 2>/dev/null || fail "the agent did not restart on its checkpoints"
[ "$(grep -c "registered with the master" "$TMP/agent.log")" -gt "$registered" ] ||
    fail "the restarted agent did not register"
h=$(health)
[ "$(echo "$h" | jq -r '.get_health.healthy' 2>/dev/null)" = true ] || fail "GET_HEALTH after the restart: $h"
kill -TERM $AGENT
wait $AGENT || fail "SIGTERM after the restart"
echo "ok 5: the agent stopped and restarted cleanly on its checkpoints"
