#!/usr/bin/env bash
# scripts/test.sh — the whole test suite (./dev test). Stages and their budgets
# on two cores: both builds <= 6 min; unit and simulator tests <= 5;
# integration <= 5; fuzz replay <= 1. Each stage prints its time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"
cd "$ROOT"

total_start=$(date +%s)
stage_start=0
stage() { stage_start=$(date +%s); say "$*"; }
stage_end() { printf '    %s took %ss\n' "$1" $(( $(date +%s) - stage_start )); }

stage "dependencies"
ensure_pkgs "${PKGS_BUILD[@]}" "${PKGS_TEST[@]}"
stage_end deps

# Two configurations: the release-like build with warnings as errors, and
# ASan+UBSan. Both run the whole suite.
stage "build: release (-Werror)"
configure build-ci -Dwerror=true
ninja -C build-ci >build-ci.log 2>&1 || { cat build-ci.log; exit 1; }
stage_end build-release

stage "build: ASan + UBSan (-Werror)"
configure build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
  -Dbuildtype=debug
ninja -C build-asan >build-asan.log 2>&1 || { cat build-asan.log; exit 1; }
stage_end build-asan

failed=0
results=()
# run_suite BUILD SUITE: runs one meson test suite; records pass/fail counts.
run_suite() {
  local dir=$1 suite=$2
  stage "tests: $suite ($dir)"
  local log="$ROOT/$dir/meson-logs/testlog-$suite.txt"
  if meson test -C "$dir" --suite "$suite" --print-errorlogs --num-processes 2 \
       --logbase "testlog-$suite" >"$dir/test-$suite.out" 2>&1; then :; else failed=1; fi
  grep -E '^ *[0-9]+/[0-9]+ ' "$dir/test-$suite.out" | sed 's/^/    /' || true
  grep -qE '^(Fail|Timeout): +[1-9]' "$dir/test-$suite.out" && sed -n '/stdout:/,$p' "$dir/test-$suite.out" | tail -80
  results+=("$(grep -E '^(Ok|Fail|Timeout|Skipped):' "$dir/test-$suite.out" | tr -s ' ' | tr '\n' ' ')")
  stage_end "$suite ($dir)"
}

for suite in tidy unit sim integration fuzz bench; do
  for dir in build-ci build-asan; do
    # Benchmarks' smoke sizes and integration run in the release build only;
    # the sanitizer build runs everything else.
    if [ "$dir" = build-asan ] && { [ "$suite" = bench ] || [ "$suite" = integration ]; }; then continue; fi
    listed=$(meson test -C "$dir" --list --suite "$suite" 2>/dev/null | grep -v -e "^ninja:" -e "^No suitable" || true)
    if [ -n "$listed" ]; then
      run_suite "$dir" "$suite"
    fi
  done
done

# Count every test of both builds for the closing line.
pass=0; fail=0
for dir in build-ci build-asan; do
  for f in "$dir"/meson-logs/testlog-*.json; do
    [ -f "$f" ] || continue
    pass=$(( pass + $(grep -c '"result": "OK"' "$f" || true) ))
    fail=$(( fail + $(grep -cE '"result": "(FAIL|TIMEOUT|ERROR)"' "$f" || true) ))
  done
done
printf '\n==> total time %ss\n' $(( $(date +%s) - total_start ))
echo "$pass passed, $fail failed"
[ "$failed" = 0 ] && [ "$fail" = 0 ]
