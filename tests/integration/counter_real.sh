#!/usr/bin/env bash
# tests/integration/counter_real.sh DROMOS — the demo counter for real: three
# replicas on loopback (free ports), clients through every replica (followers
# redirect to the leader), a follower killed with SIGKILL while writes go on,
# restarted and caught up, the leader killed and recovered from its log, and
# nothing left running at the end.
set -euo pipefail
DROMOS=$(realpath "$1")
WORK=$(mktemp -d)
declare -a PID=()

cleanup() {
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for i in 0 1 2; do echo "--- replica $i log:"; cat "$WORK/r$i.log" 2>/dev/null || true; done; exit 1; }

read -r -a PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
PEERS="127.0.0.1:${PORT[0]},127.0.0.1:${PORT[1]},127.0.0.1:${PORT[2]}"
ALL="$PEERS"

start() {
  "$DROMOS" counter serve --id "$1" --peers "$PEERS" --data "$WORK/r$1" >>"$WORK/r$1.log" 2>&1 &
  PID[$1]=$!
}
client() { "$DROMOS" counter client --timeout 5secs "$@"; }
# local_value I: replica I's own durable value (fails if it is not up)
local_value() { client --connect "127.0.0.1:${PORT[$1]}" --get --local --timeout 1secs 2>/dev/null; }
# wait_for I VALUE: until replica I holds VALUE durably (10 s at most)
wait_for() {
  for _ in $(seq 100); do
    [ "$(local_value "$1" || true)" = "$2" ] && return 0
    sleep 0.1
  done
  fail "replica $1 holds '$(local_value "$1" || true)', expected $2"
}

for i in 0 1 2; do start $i; done
for i in 0 1 2; do wait_for $i 0; done
echo "3 replicas up on ports ${PORT[*]}"

expect=0
for k in 1 2 3 4 5 6; do
  i=$(( k % 3 ))  # through every replica: followers redirect
  got=$(client --connect "127.0.0.1:${PORT[$i]}" --inc "$k") || fail "inc $k via replica $i"
  expect=$(( expect + k ))
  [ "$got" = "$expect" ] || fail "inc $k via replica $i answered $got, expected $expect"
done
[ "$(client --connect "$ALL" --get)" = "$expect" ] || fail "get after 6 increments"
echo "6 increments through all replicas: value $expect"

kill -9 "${PID[2]}"; wait "${PID[2]}" 2>/dev/null || true
local_value 2 >/dev/null && fail "replica 2 still answers after SIGKILL"
for k in 10 20; do
  got=$(client --connect "127.0.0.1:${PORT[1]}" --inc "$k") || fail "inc $k with replica 2 down"
  expect=$(( expect + k ))
  [ "$got" = "$expect" ] || fail "inc $k with replica 2 down answered $got, expected $expect"
done
[ "$(client --connect "$ALL" --get)" = "$expect" ] || fail "get with replica 2 down"
echo "replica 2 killed (SIGKILL); a majority still commits: value $expect"

start 2
wait_for 2 "$expect"
echo "replica 2 restarted and caught up to $expect"

kill -9 "${PID[0]}"; wait "${PID[0]}" 2>/dev/null || true
start 0
got=$(client --connect "$ALL" --get) || fail "get after the leader restarted"
[ "$got" = "$expect" ] || fail "leader recovered value $got, expected $expect"
got=$(client --connect "$ALL" --inc 1) || fail "inc after the leader restarted"
expect=$(( expect + 1 ))
[ "$got" = "$expect" ] || fail "inc after leader restart answered $got, expected $expect"
for i in 0 1 2; do wait_for $i "$expect"; done
echo "leader killed and recovered from its log; all replicas hold $expect"

for i in 0 1 2; do kill -TERM "${PID[$i]}"; done
for i in 0 1 2; do
  rc=0; wait "${PID[$i]}" || rc=$?
  [ "$rc" = 0 ] || fail "replica $i exited with $rc after SIGTERM"
done
for i in 0 1 2; do kill -0 "${PID[$i]}" 2>/dev/null && fail "replica $i still running"; done
PID=()
echo "PASS: all replicas stopped cleanly"
