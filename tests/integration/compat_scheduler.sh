#!/usr/bin/env bash
# tests/integration/compat_scheduler.sh DROMOS COMPAT_SCHEDULER COMPAT_EXECUTOR
#
# Real Mesos v1 clients built on Debian's mesos-go against `dromos master`
# and `dromos agent` on loopback, each in JSON, then in protobuf:
#   1. the scheduler (tests/compat/scheduler: httpsched, calls, events)
#      launches 3 shell tasks for the agent's command executor; each must get
#      exactly TASK_STARTING, TASK_RUNNING, TASK_FINISHED (de-duplicated by
#      uuid);
#   2. the same scheduler runs its tasks in its own executor
#      (tests/compat/executor: httpexec, executor/calls, executor/events and
#      executor/config, started by the agent from an ExecutorInfo): 3 tasks
#      STARTING, RUNNING, FINISHED with the executor's data; a task killed
#      after a MESSAGE round trip and a task whose executor is shut down,
#      both STARTING, RUNNING, KILLED; the framework's TEARDOWN shuts the
#      executors down, and no executor process is left afterwards;
#   3. a checkpointing framework's task in the mesos-go executor outlives
#      an agent SIGKILL and restart: the executor re-subscribes (its
#      MESOS_CHECKPOINT, MESOS_RECOVERY_TIMEOUT and
#      MESOS_SUBSCRIPTION_BACKOFF_MAX from the agent), the agent recovers it,
#      and the task finishes: STARTING, RUNNING, FINISHED; TEARDOWN ends
#      the executor.
# The script also checks the scheduler's output and the executors' stderr.
# Exit 77 (skipped) while `dromos master` or `dromos agent` is not built.
set -uo pipefail
DROMOS=$(realpath "$1")
SCHED=$(realpath "$2")
EXEC=$(realpath "$3")
for cmd in master agent; do
  if ! "$DROMOS" "$cmd" --help >/dev/null 2>&1; then
    echo "skip: 'dromos $cmd' is not built"
    exit 77
  fi
done
TMP=$(mktemp -d /tmp/dromos-compat.XXXXXX)
pids=()
# Processes started for this test's agent (executors and their tasks).
left_behind() {
  local p
  for p in $(ls /proc | grep -E '^[0-9]+$'); do
    tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qE "^MESOS_DIRECTORY=$TMP/" && echo "$p"
  done
}
cleanup() {
  if [ -n "${KEEP:-}" ]; then echo "kept $TMP"; return; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for p in $(left_behind); do kill -9 "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- master log (tail)"; tail -40 "$TMP/master.log"
  echo "--- agent log (tail)"; tail -40 "$TMP/agent.log"
  for f in "$TMP"/agent/slaves/*/frameworks/*/executors/*/runs/latest/stderr; do
    [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }
  done
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
APORT=$(free_port)
"$DROMOS" master --ip 127.0.0.1 --port "$PORT" --work_dir "$TMP/master" \
  --allocation_interval 100ms >"$TMP/master.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
start_agent() {
  "$DROMOS" agent --master "127.0.0.1:$PORT" --ip 127.0.0.1 --port "$APORT" \
    --work_dir "$TMP/agent" --resources 'cpus:4;mem:4096;disk:1000' \
    --executor_shutdown_grace_period 2secs --registration_backoff_factor 100ms \
    >>"$TMP/agent.log" 2>&1 &
  AGENT=$!
  pids+=($AGENT)
}
start_agent
for _ in $(seq 100); do
  [ "$(curl -fsS "http://127.0.0.1:$PORT/metrics/snapshot" 2>/dev/null |
       jq '."master/slaves_active" // 0' 2>/dev/null)" = 1 ] && break
  sleep 0.1
done

# wait_none_left WHAT: the framework's TEARDOWN ends its executors
wait_none_left() {
  for _ in $(seq 100); do
    [ -z "$(left_behind)" ] && return 0
    sleep 0.1
  done
  fail "$1: processes left after TEARDOWN: $(left_behind)"
}

# expect OUTFILE LINE...: each line appears exactly in the scheduler's output
expect() {
  local out=$1; shift
  local line
  for line in "$@"; do
    grep -qxF -- "$line" "$out" || fail "$(basename "$out"): no line '$line'"
  done
}

for codec in json protobuf; do
  echo "== command executor, $codec ($(date +%T))"
  out="$TMP/sched-cmd-$codec.out"
  timeout 60 "$SCHED" -master "http://127.0.0.1:$PORT" -codec "$codec" -tasks 3 \
    -timeout 50s >"$out" 2>&1
  rc=$?
  cat "$out"
  [ $rc = 0 ] || fail "command executor ($codec): the scheduler exited $rc"
  expect "$out" "task compat-0: TASK_STARTING TASK_RUNNING TASK_FINISHED" \
    "task compat-1: TASK_STARTING TASK_RUNNING TASK_FINISHED" \
    "task compat-2: TASK_STARTING TASK_RUNNING TASK_FINISHED" ok

  echo "== mesos-go executor, $codec ($(date +%T))"
  out="$TMP/sched-exec-$codec.out"
  timeout 60 "$SCHED" -master "http://127.0.0.1:$PORT" -codec "$codec" -tasks 3 \
    -executor "$EXEC" -timeout 50s >"$out" 2>&1
  rc=$?
  cat "$out"
  [ $rc = 0 ] || fail "mesos-go executor ($codec): the scheduler exited $rc"
  expect "$out" "task compat-0: TASK_STARTING TASK_RUNNING TASK_FINISHED" \
    "task compat-1: TASK_STARTING TASK_RUNNING TASK_FINISHED" \
    "task compat-2: TASK_STARTING TASK_RUNNING TASK_FINISHED" \
    "task compat-kill: TASK_STARTING TASK_RUNNING TASK_KILLED" \
    "task compat-shutdown: TASK_STARTING TASK_RUNNING TASK_KILLED" \
    'update compat-kill: TASK_KILLED "killed by the framework"' \
    "update compat-shutdown: TASK_KILLED \"killed by the executor's shutdown\"" \
    'message from executor compat-exec: "pong:ping"' ok
  # TEARDOWN (and SHUTDOWN before it) end both executors: wait for them
  wait_none_left "mesos-go executor ($codec)"
  fw=$(sed -n 's/^subscribed as \([^ ]*\) .*/\1/p' "$out")
  n=0
  for f in "$TMP"/agent/slaves/*/frameworks/"$fw"/executors/*/runs/latest/stderr; do
    grep -q "codec $codec" "$f" || fail "$f: the executor did not run with -codec $codec"
    grep -q "shut down by the agent" "$f" || fail "$f: the executor did not get SHUTDOWN"
    n=$((n + 1))
  done
  [ $n = 2 ] || fail "mesos-go executor ($codec): $n executor sandboxes, want 2"

  echo "== mesos-go executor across an agent restart, $codec ($(date +%T))"
  out="$TMP/sched-recover-$codec.out"
  timeout 60 "$SCHED" -master "http://127.0.0.1:$PORT" -codec "$codec" -executor "$EXEC" \
    -recover -timeout 50s >"$out" 2>&1 &
  sched=$!
  for _ in $(seq 200); do
    grep -qxF 'update compat-recover: TASK_RUNNING ""' "$out" && break
    kill -0 $sched 2>/dev/null || break
    sleep 0.1
  done
  grep -qxF 'update compat-recover: TASK_RUNNING ""' "$out" ||
    fail "recover ($codec): compat-recover is not running: $(cat "$out")"
  kill -9 $AGENT
  wait $AGENT 2>/dev/null
  start_agent
  wait $sched
  rc=$?
  cat "$out"
  [ $rc = 0 ] || fail "recover ($codec): the scheduler exited $rc"
  expect "$out" "task compat-recover: TASK_STARTING TASK_RUNNING TASK_FINISHED" \
    'update compat-recover: TASK_FINISHED "finished after the agent came back"' ok
  fw=$(sed -n 's/^subscribed as \([^ ]*\) .*/\1/p' "$out")
  grep -qF "executor 'compat-exec-r' of framework '$fw' subscribed (recovered)" "$TMP/agent.log" ||
    fail "recover ($codec): the agent did not recover the executor"
  wait_none_left "recover ($codec)"
done
echo "ok: mesos-go scheduler and executor against dromos master and dromos agent"
