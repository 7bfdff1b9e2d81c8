#!/bin/sh
# tests/compat/run_compat.sh CHECK SRC_DIR OUT_DIR — the mesos-go differential
# test: builds tests/compat/mesosgo_gen.go offline against Debian's mesos-go and
# gogo protobuf (GOPATH mode, no network, no modules), generates 1,000 random
# messages per type and runs CHECK (compat_check) on them.
# Exit 77 (meson's "skipped") only when Go itself is missing.
set -eu
check=$1 src=$2 out=$3
if ! command -v go >/dev/null 2>&1; then
  echo "run_compat: go not found: skipping (Debian: golang-go)"
  exit 77
fi
export GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local
# The user's Go build cache when there is one (mesos-go then compiles once per
# machine, not once per build directory), else one in the build directory.
if [ -z "${GOCACHE:-}" ]; then
  GOCACHE=$(go env GOCACHE 2>/dev/null || true)
  case "$GOCACHE" in ""|off) GOCACHE="$out/gocache" ;; esac
fi
export GOCACHE
go build -o "$out/mesosgo_gen" "$src/mesosgo_gen.go"
"$out/mesosgo_gen" 20261126 1000 >"$out/mesosgo_msgs.txt"
"$check" "$out/mesosgo_msgs.txt"
