#!/bin/bash
# tests/integration/demo_test.sh — runs the demo (scripts/demo.sh) against a
# built dromos and checks what it promises:
#   - it exits 0;
#   - all ten tasks reached TASK_FINISHED, each with its own output
#     ("hello from demo-NN on agent ...");
#   - both agents got tasks;
#   - afterwards no process is left that was started under the demo's work
#     dir (master, agents, executors, tasks) and no mount lies under it.
# Usage: demo_test.sh DROMOS DEMO_SH
set -u
DROMOS=$(realpath "$1")
DEMO=$(realpath "$2")
TMP=$(mktemp -d /tmp/dromos-demo-test.XXXXXX)
fail() {
    echo "FAIL: $*"
    echo "--- demo output"; cat "$TMP/out" 2>/dev/null
    for f in "$TMP"/demo/cluster/*.log; do
        [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
    done
    exit 1
}
# Pids of processes started under $TMP: by command line or by sandbox.
left_behind() {
    for p in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$p" = $$ ] && continue
        if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -e "$TMP/demo" ||
           tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" |
               grep -qE "^MESOS_(SANDBOX|DIRECTORY)=$TMP/"; then
            echo "$p"
        fi
    done
}
cleanup() {
    for p in $(left_behind); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

DROMOS_DEMO_DIR="$TMP/demo" timeout 240 bash "$DEMO" "$DROMOS" >"$TMP/out" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "the demo exited with $rc"
echo "ok: the demo exited 0"

# the result table: "    demo-01  host:port  TASK_FINISHED  hello from demo-01 on agent 127.0.0.1:P"
rows=$(grep -E '^ +demo-[0-9]+ +[^ ]+ +TASK_[A-Z_]+ ' "$TMP/out")
n=$(echo "$rows" | grep -c ' TASK_FINISHED ')
[ "$n" -eq 10 ] || fail "$n of 10 tasks reached TASK_FINISHED"
echo "ok: 10 tasks reached TASK_FINISHED"
for i in 01 02 03 04 05 06 07 08 09 10; do
    echo "$rows" | grep -qE "^ +demo-$i +[^ ]+ +TASK_FINISHED +hello from demo-$i on agent 127\.0\.0\.1:[0-9]+$" ||
        fail "task demo-$i: its output is missing"
done
echo "ok: every task's output is shown"
agents=$(echo "$rows" | awk '{print $2}' | sort -u | wc -l)
[ "$agents" -eq 2 ] || fail "tasks ran on $agents agents, not 2"
endpoints=$(echo "$rows" | sed -E 's/.* on agent //' | sort -u | wc -l)
[ "$endpoints" -eq 2 ] || fail "the tasks' own output names $endpoints agents, not 2"
grep -q '10 of 10 tasks finished on 2 agents' "$TMP/out" || fail "no summary line"
echo "ok: both agents got tasks (5 and 5: $(echo "$rows" | awk '{print $2}' | sort | uniq -c | tr -s ' ' | tr '\n' ';'))"
# progress was shown while they ran
[ "$(grep -cE '^ +demo-[0-9]+ +TASK_RUNNING +on ' "$TMP/out")" -eq 10 ] ||
    fail "progress lines (TASK_RUNNING) missing"
echo "ok: progress shown (one line per state change)"

sleep 0.5
left=$(left_behind)
[ -z "$left" ] || fail "processes left behind: $(for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"
grep -qF "$TMP" /proc/self/mountinfo && fail "mounts left: $(grep -F "$TMP" /proc/self/mountinfo)"
grep -q 'no process left running' "$TMP/out" || fail "the demo did not check for processes"
echo "ok: no process and no mount left behind"
echo "PASS"
