#!/usr/bin/env bash
# tests/integration/counter_determinism.sh DROMOS [COUNTER_SIM] — the counter
# scenario run as `dromos sim` (or, while dromos lacks the scenario, the
# COUNTER_SIM driver that prints the same) in separate processes must print the same trace hash (and
# the same everything) for the same seed, whatever the working directory, the
# environment (env -i plus a few variables), MALLOC_PERTURB_ or the address
# layout; a different seed must print a different hash.
set -euo pipefail
DROMOS=$(realpath "$1")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

RUN=("$DROMOS" sim --scenario counter)
if ! "$DROMOS" sim --list | grep -q '^counter '; then
  [ $# -ge 2 ] || { echo "SKIP: dromos has no 'counter' scenario and no driver was given"; exit 77; }
  echo "note: dromos has no 'counter' scenario (src/demo must be configured before sim/);"
  echo "      using $(basename "$2") instead"
  RUN=("$(realpath "$2")")
fi

mkdir -p "$WORK/a" "$WORK/b/deeper/still"
hash_of() { grep '^trace hash:' "$1" | tail -1; }

for seed in 3 17 99; do
  (cd "$WORK/a" && "${RUN[@]}" --seed "$seed" >"$WORK/run1.$seed")
  (cd "$WORK/b/deeper/still" &&
     env -i PATH=/usr/bin:/bin HOME="$WORK/b" LANG=C.UTF-8 TZ=Pacific/Chatham \
       MALLOC_PERTURB_=$(( 17 + seed )) PADDING="$(printf 'x%.0s' $(seq $(( seed * 7 ))))" \
       "${RUN[@]}" --seed "$seed" >"$WORK/run2.$seed")
  h1=$(hash_of "$WORK/run1.$seed"); h2=$(hash_of "$WORK/run2.$seed")
  [ -n "$h1" ] || { echo "FAIL: seed $seed printed no trace hash"; cat "$WORK/run1.$seed"; exit 1; }
  if [ "$h1" != "$h2" ]; then
    echo "FAIL: seed $seed: '$h1' here, '$h2' in another process"
    diff "$WORK/run1.$seed" "$WORK/run2.$seed" | head -40
    exit 1
  fi
  cmp -s "$WORK/run1.$seed" "$WORK/run2.$seed" || { echo "FAIL: seed $seed: outputs differ"; diff "$WORK/run1.$seed" "$WORK/run2.$seed" | head -40; exit 1; }
  echo "seed $seed: $h1 in both processes"
done
[ "$(hash_of "$WORK/run1.3")" != "$(hash_of "$WORK/run1.17")" ] || { echo "FAIL: seeds 3 and 17 share a hash"; exit 1; }
echo "PASS: 3 seeds replay identically across processes; different seeds differ"
