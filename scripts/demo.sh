#!/usr/bin/env bash
# scripts/demo.sh — the demo (./dev demo, after ./build is built): a real
# cluster on loopback. `dromos local` starts a master and two agents as child
# processes; `dromos run` (a scheduler on the Mesos v1 API) runs ten shell
# tasks across both agents, shows their progress, and prints for each task
# its id, agent, final state and output; then the cluster is stopped and the
# demo checks that no process and no mount is left. A short last step
# replays a simulated cluster from its seed, twice, to show determinism.
#
#   scripts/demo.sh [DROMOS]     DROMOS: the binary (default build/src/daemon/dromos)
#
# Environment: DROMOS_DEMO_DIR: the work dir (default: a fresh one under
# /tmp, removed at the end; given, it is kept); DROMOS_DEMO_PORT: the
# master's port (agents use the next two; default: a free one).
# Exit status: 0 when all ten tasks finished and nothing was left running.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DROMOS=${1:-${DROMOS:-$ROOT/build/src/daemon/dromos}}
INSTANCES=10
COMMAND='echo "hello from $MESOS_EXECUTOR_ID on agent $MESOS_AGENT_ENDPOINT"; sleep 1'

b() { printf '\033[1m%s\033[0m\n' "$*"; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
indent() { sed 's/^/    /'; }

[ -x "$DROMOS" ] || { echo "demo: $DROMOS is not built (run ./dev build)"; exit 1; }
DROMOS=$(cd "$(dirname "$DROMOS")" && pwd)/$(basename "$DROMOS")

if [ -n "${DROMOS_DEMO_DIR:-}" ]; then
  WORK=$DROMOS_DEMO_DIR
  mkdir -p "$WORK"
  KEEP=1
else
  WORK=$(mktemp -d /tmp/dromos-demo.XXXXXX)
  KEEP=0
fi
WORK=$(cd "$WORK" && pwd)
LOCAL_PID=
cleanup() {
  if [ -n "$LOCAL_PID" ] && kill -0 "$LOCAL_PID" 2>/dev/null; then
    kill -TERM "$LOCAL_PID" 2>/dev/null || true
    wait "$LOCAL_PID" 2>/dev/null || true
  fi
  [ "$KEEP" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

b "Dromos demo: a cluster manager in the class of Apache Mesos, for real on this machine"
note "A master receives resource offers from agents and hands them to frameworks,"
note "which launch tasks; each agent runs its tasks under an executor, in a sandbox."

# ---- 1. the cluster ----------------------------------------------------------------
step "1. Start a cluster on loopback: dromos local --agents 2"
note "one master and two agents, each its own process (children of 'dromos local')"
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
started=0
for attempt in 1 2 3 4 5; do
  PORT=${DROMOS_DEMO_PORT:-$((20000 + RANDOM % 30000))}
  if port_busy "$PORT" || port_busy $((PORT + 1)) || port_busy $((PORT + 2)); then
    [ -z "${DROMOS_DEMO_PORT:-}" ] || { echo "demo: port $PORT or the next two are taken"; exit 1; }
    continue
  fi
  rm -rf "$WORK/cluster"
  "$DROMOS" local --agents 2 --port "$PORT" --work_dir "$WORK/cluster" \
    >"$WORK/local.out" 2>&1 &
  LOCAL_PID=$!
  for _ in $(seq 600); do
    grep -q '^ready:' "$WORK/local.out" && { started=1; break; }
    kill -0 "$LOCAL_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ "$started" = 1 ] && break
  wait "$LOCAL_PID" 2>/dev/null || true
  LOCAL_PID=
  [ -z "${DROMOS_DEMO_PORT:-}" ] || break
done
if [ "$started" != 1 ]; then
  echo "demo: the cluster did not start:"; cat "$WORK/local.out"
  tail -n 20 "$WORK"/cluster/*.log 2>/dev/null || true
  exit 1
fi
grep -E '^  (master|agent)' "$WORK/local.out" | indent
note "(their logs and work dirs are under $WORK/cluster)"

# ---- 2. a framework ----------------------------------------------------------------
step "2. Run a framework: dromos run --instances $INSTANCES -- '<a shell command>'"
note "It subscribes to the master over the Mesos v1 scheduler API, spreads the tasks over"
note "the offers of both agents, prints each status update (and acknowledges it), then"
note "reads each task's stdout back from its agent (/files/read) and tears itself down."
note "command: $COMMAND"
echo
rc=0
if ! "$DROMOS" run --master "127.0.0.1:$PORT" --instances "$INSTANCES" --name demo \
       --timeout 60secs -- "$COMMAND" | tee "$WORK/run.out" | indent; then
  rc=1
fi

# ---- 3. stop -------------------------------------------------------------------------
step "3. Stop the cluster (SIGTERM to dromos local: agents first, then the master)"
kill -TERM "$LOCAL_PID"
wait "$LOCAL_PID" || { echo "demo: dromos local exited with $?"; rc=1; }
LOCAL_PID=
sed -n '/^dromos local: stopping/,$p' "$WORK/local.out" | indent
# Nothing may be left: no process started from this binary or running in a
# sandbox under $WORK, no mount under $WORK.
left=()
for p in $(ls /proc | grep -E '^[0-9]+$'); do
  [ "$p" = $$ ] && continue
  if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -e "$WORK" ||
     tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -q "^MESOS_SANDBOX=$WORK/"; then
    left+=("$p")
  fi
done
if [ ${#left[@]} -gt 0 ]; then
  echo "demo: processes left running: ${left[*]}"; ps -o pid,args -p "${left[@]}" || true; rc=1
else
  note "no process left running"
fi
if grep -qF " $WORK" /proc/self/mountinfo; then
  echo "demo: mounts left under $WORK:"; grep -F " $WORK" /proc/self/mountinfo; rc=1
else
  note "no mount left"
fi

# ---- 4. the simulator ------------------------------------------------------------------
step "4. The same master in the deterministic simulator"
note "One process simulates a master, four test agents and a framework over a virtual"
note "network and clock; a seed replays the whole run bit for bit:"
h1=$("$DROMOS" sim --scenario master_launch --seed 21 | grep 'trace hash' || true)
h2=$("$DROMOS" sim --scenario master_launch --seed 21 | grep 'trace hash' || true)
note "seed 21, first run: ${h1## }"
note "seed 21, again:     ${h2## }"
if [ -z "$h1" ] || [ "$h1" != "$h2" ]; then
  echo "demo: the same seed did not replay the same run"; rc=1
fi

echo
if [ "$rc" = 0 ]; then
  b "Done: $INSTANCES tasks finished on two agents; the cluster is stopped, nothing left running."
else
  b "The demo failed (see above)."
fi
exit "$rc"
