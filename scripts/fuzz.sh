#!/usr/bin/env bash
# scripts/fuzz.sh TARGET [SECONDS] — one AFL++ campaign on fuzz/TARGET_fuzz.c (./dev fuzz).
#
# Builds build-fuzz with CC=afl-clang-fast and -Dfuzz=true (harnesses linked with
# AFL++'s libFuzzer driver), then runs afl-fuzz for SECONDS (default 60) with
# fuzz/corpus/TARGET as seeds and fuzz/out/TARGET as output (kept: a later run
# resumes the campaign). Prints executions, paths, crashes and hangs from
# fuzzer_stats, and how to replay each crash with the replay driver.
# Exit status: 0 no crash found, 1 crashes found, 2 usage or setup error.
#
# Environment: AFL_USE_ASAN=1 / AFL_USE_UBSAN=1 build with sanitizers (use a
# fresh build: FUZZ_BUILD=build-fuzz-asan); FUZZ_BUILD names the build folder.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"
cd "$ROOT"

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: scripts/fuzz.sh TARGET [SECONDS]"
target=$1
seconds=${2:-60}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive integer, not '$seconds'"
if [ ! -f "fuzz/${target}_fuzz.c" ]; then
  have=$(cd fuzz && ls ./*_fuzz.c 2>/dev/null | sed 's|^\./||; s|_fuzz\.c$||' | tr '\n' ' ')
  die "no harness fuzz/${target}_fuzz.c (harnesses: ${have:-none})"
fi
command -v afl-fuzz >/dev/null || die "afl-fuzz not found (./dev deps installs afl++)"
command -v afl-clang-fast >/dev/null || die "afl-clang-fast not found (./dev deps installs afl++)"

build=${FUZZ_BUILD:-build-fuzz}
if [ -f "$build/build.ninja" ] && ! grep -q 'afl-clang' "$build/build.ninja"; then
  die "$build was configured without afl-clang-fast; remove it and run again"
fi
say "build: $build (CC=afl-clang-fast, -Dfuzz=true)"
export CC=afl-clang-fast
export AFL_QUIET=1
configure "$build" -Dfuzz=true -Dbuildtype=debugoptimized
grep -q "fuzz_${target}" "$build/build.ninja" || meson setup --reconfigure "$build" >/dev/null
ninja -C "$build" "fuzz/fuzz_${target}" >"$build.log" 2>&1 || { cat "$build.log"; exit 2; }
unset AFL_QUIET

# Seeds: the corpus, or a single byte when there is none yet (afl-fuzz needs one).
seeds="fuzz/corpus/$target"
if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
  seeds="$build/seeds-$target"
  mkdir -p "$seeds"
  printf '0' >"$seeds/zero"
  say "no corpus in fuzz/corpus/$target: starting from one byte"
fi
out="fuzz/out/$target"
mkdir -p "$out"

say "afl-fuzz: $target for ${seconds}s (seeds $seeds, output $out)"
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
       AFL_NO_AFFINITY=1 AFL_AUTORESUME=1
rc=0
afl-fuzz -V "$seconds" -i "$seeds" -o "$out" -- "$build/fuzz/fuzz_${target}" \
  >"$out/afl-fuzz.log" 2>&1 || rc=$?
stats="$out/default/fuzzer_stats"
if [ ! -f "$stats" ]; then
  tail -40 "$out/afl-fuzz.log"
  die "afl-fuzz exited with status $rc and wrote no $stats"
fi

stat() { sed -n "s/^$1 *: *//p" "$stats" | head -1; }
execs=$(stat execs_done)
crashes=$(stat saved_crashes); [ -n "$crashes" ] || crashes=$(stat unique_crashes)
hangs=$(stat saved_hangs); [ -n "$hangs" ] || hangs=$(stat unique_hangs)
corpus=$(stat corpus_count); [ -n "$corpus" ] || corpus=$(stat paths_total)
say "fuzz $target: ${execs:-?} executions ($(stat execs_per_sec) per second), corpus ${corpus:-?}," \
    "${crashes:-0} crashes, ${hangs:-0} hangs"
if [ "${crashes:-0}" != 0 ]; then
  echo "crashing inputs (replay: build/fuzz/fuzz_$target --mutants 0 FILE after ./dev build):"
  find "$out/default/crashes" -type f -name 'id:*' | sort | sed 's/^/    /'
  exit 1
fi
if [ "${hangs:-0}" != 0 ]; then
  echo "hanging inputs:"
  find "$out/default/hangs" -type f -name 'id:*' | sort | sed 's/^/    /'
fi
exit 0
