#!/usr/bin/env bash
# tests/integration/compat_scheduler.sh DROMOS COMPAT_SCHEDULER
#
# A real Mesos v1 framework (tests/compat/scheduler: mesos-go's httpsched,
# calls and events) against `dromos master` and `dromos test-agent` on
# loopback, first in JSON, then in protobuf. The framework launches 3 tasks
# and exits 0 only if each received exactly TASK_STARTING, TASK_RUNNING,
# TASK_FINISHED (de-duplicated by uuid); this script also checks its output.
# Exit 77 (skipped) while `dromos master` does not exist.
set -euo pipefail
DROMOS=$1
SCHED=$2
if ! "$DROMOS" master --help >/dev/null 2>&1; then
  echo "skip: 'dromos master' is not built yet"
  exit 77
fi
TMP=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
"$DROMOS" master --ip 127.0.0.1 --port "$PORT" --work_dir "$TMP/master" \
  --allocation_interval 100ms >"$TMP/master.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
"$DROMOS" test-agent --master "127.0.0.1:$PORT" --resources 'cpus:4;mem:4096' \
  --hostname localhost --task_run_min 100ms --task_run_max 300ms \
  --update_retry_min 1secs >"$TMP/agent.log" 2>&1 &
pids+=($!)

status=0
for codec in json protobuf; do
  echo "== $codec"
  if ! timeout 60 "$SCHED" -master "http://127.0.0.1:$PORT" -codec "$codec" -tasks 3 \
       -timeout 50s >"$TMP/sched-$codec.out" 2>&1; then
    status=1
  fi
  cat "$TMP/sched-$codec.out"
  for i in 0 1 2; do
    if ! grep -qx "task compat-$i: TASK_STARTING TASK_RUNNING TASK_FINISHED" "$TMP/sched-$codec.out"; then
      echo "FAIL ($codec): task compat-$i did not get exactly STARTING, RUNNING, FINISHED"
      status=1
    fi
  done
done
if [ "$status" != 0 ]; then
  echo "--- master log (tail)"; tail -40 "$TMP/master.log"
  echo "--- agent log (tail)"; tail -20 "$TMP/agent.log"
fi
exit $status
