#!/usr/bin/env bash
# scripts/demo.sh — the demo (./dev demo, after ./build is built). Until the
# master and agent exist it shows the demo service, a replicated counter
# (src/demo), running first in the deterministic simulator under faults, then
# for real as three processes on loopback. It leaves nothing running.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DROMOS=${DROMOS:-$ROOT/build/src/daemon/dromos}
SEED=${SEED:-21}

b() { printf '\033[1m%s\033[0m\n' "$*"; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

[ -x "$DROMOS" ] || { echo "demo: $DROMOS is not built (run ./dev build)"; exit 1; }

b "Dromos demo: a replicated counter, in the simulator and for real"
note "Three replicas keep a counter. Clients send INC or GET to any replica;"
note "followers redirect them to the leader (replica 0). The leader writes each"
note "increment to its log, fsyncs (group commit), streams it to the followers,"
note "and acknowledges the client once a majority has it on disk."

# ---- 1. the simulator ------------------------------------------------------------
step "1. The counter in the simulator, seed $SEED"
SIM=("$DROMOS" sim --scenario counter)
if ! "$DROMOS" sim --list | grep -q '^counter '; then
  # until src/demo is configured before sim/, dromos lacks the scenario: the
  # test driver built next to it prints the same
  DRIVER=$(dirname "$DROMOS")/../../tests/integration/counter_sim
  [ -x "$DRIVER" ] && SIM=("$DRIVER")
fi
if [ "${SIM[0]}" != "$DROMOS" ] || "$DROMOS" sim --list | grep -q '^counter '; then
  note "One process simulates the three replica hosts, the client hosts, their"
  note "disks, network and clocks. The seed draws the options and every fault."
  out=$(mktemp)
  out2=$(mktemp)
  trap 'rm -f "$out" "$out2"' EXIT
  rc=0
  "${SIM[@]}" --seed "$SEED" >"$out" || rc=$?
  # the options drawn, the highlights and the verdict; the per-kind counts after
  sed -n '1,/^faults fired:/p' "$out" | sed '$d' | sed 's/^/    /'
  note "faults that fired: $(sed -n '/^faults fired:/,/^events:/p' "$out" |
        awk 'NF == 2 && $2 ~ /^[0-9]+$/ && $2 > 0 { printf "%s%s=%s", sep, $1, $2; sep = ", " }')"
  grep -E '^(events|trace hash):' "$out" | sed 's/^/    /'
  [ "$rc" = 0 ] || { echo "demo: the simulation found a violation (above)"; exit 1; }

  step "Same seed again, in a fresh process"
  "${SIM[@]}" --seed "$SEED" >"$out2"
  h1=$(grep '^trace hash:' "$out"); h2=$(grep '^trace hash:' "$out2")
  note "first run:  $h1"
  note "second run: $h2"
  if [ "$h1" = "$h2" ]; then
    note "identical: every event replays bit for bit from the seed"
  else
    echo "demo: the same seed gave different hashes"; exit 1
  fi
  note "(replay with: ./dev sim --seed $SEED --scenario counter --trace)"
else
  note "(this build has no 'counter' scenario: src/demo must be configured"
  note " before sim/ in meson.build; skipping the simulator part)"
fi

# ---- 2. for real -------------------------------------------------------------------
step "2. The same code for real: three processes on loopback"
WORK=$(mktemp -d)
declare -a PID=()
cleanup() {
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK" "${out:-}" "${out2:-}"
}
trap cleanup EXIT

read -r -a PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
PEERS="127.0.0.1:${PORT[0]},127.0.0.1:${PORT[1]},127.0.0.1:${PORT[2]}"

start() {
  "$DROMOS" counter serve --id "$1" --peers "$PEERS" --data "$WORK/replica-$1" \
    >>"$WORK/replica-$1.log" 2>&1 &
  PID[$1]=$!
}
client() { "$DROMOS" counter client --timeout 5secs "$@"; }
local_value() { client --connect "127.0.0.1:${PORT[$1]}" --get --local --timeout 1secs 2>/dev/null; }
wait_for() { # wait_for I VALUE
  for _ in $(seq 100); do
    [ "$(local_value "$1" || true)" = "$2" ] && return 0
    sleep 0.1
  done
  echo "demo: replica $1 did not reach $2"; exit 1
}

for i in 0 1 2; do start $i; done
for i in 0 1 2; do wait_for $i 0; done
note "started: dromos counter serve --id N --peers $PEERS --data DIR"
note "replicas 0, 1, 2 listen on ports ${PORT[*]}; data in $WORK"

total=0
for k in 1 2 3 4 5; do
  i=$(( k % 3 ))
  v=$(client --connect "127.0.0.1:${PORT[$i]}" --inc "$k")
  total=$(( total + k ))
  note "client: inc $k via replica $i -> value $v"
done

kill -9 "${PID[2]}"; wait "${PID[2]}" 2>/dev/null || true
note "kill -9 replica 2 (pid ${PID[2]})"
for k in 10 20; do
  v=$(client --connect "127.0.0.1:${PORT[1]}" --inc "$k")
  total=$(( total + k ))
  note "client: inc $k via replica 1 -> value $v (replicas 0 and 1 are a majority)"
done
note "values held on disk: replica 0: $(local_value 0), replica 1: $(local_value 1), replica 2: down"

start 2
wait_for 2 "$total"
note "restart replica 2: it recovers its log and catches up -> $(local_value 2)"

kill -9 "${PID[0]}"; wait "${PID[0]}" 2>/dev/null || true
start 0
v=$(client --connect "$PEERS" --get)
note "kill -9 the leader and restart it: it recovers from its log; GET -> $v"

for i in 0 1 2; do kill -TERM "${PID[$i]}"; done
for i in 0 1 2; do wait "${PID[$i]}" 2>/dev/null || true; done
PID=()
note "final: $total increments sent, $v read back; all replicas stopped (SIGTERM)"
[ "$v" = "$total" ] || { echo "demo: expected $total"; exit 1; }
b "Done: nothing left running."
