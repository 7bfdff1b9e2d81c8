#!/usr/bin/env bash
# tests/integration/fetch_real.sh — `dromos fetch` for real: local paths,
# file:// URIs, output_file, executable, tar.gz and zip extraction, a missing
# file (exit 1, one line naming the URI), archives with entries escaping the
# sandbox (refused), an output_file escaping it, and http:// against a
# python3 http.server on loopback (200 and 404).
# Usage: fetch_real.sh PATH/TO/dromos
set -u
DROMOS=$1
T=$(mktemp -d)
HTTP_PID=
cleanup() {
    [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$T/src/dir" "$T/sb"
echo "hello" > "$T/src/hello.txt"
printf '#!/bin/sh\necho run\n' > "$T/src/run.sh"
echo "inner" > "$T/src/dir/inner.txt"
tar -C "$T/src" -czf "$T/src/bundle.tar.gz" dir
python3 - "$T/src" <<'PY'
import io, sys, tarfile, zipfile
d = sys.argv[1]
with tarfile.open(d + "/evil.tar.gz", "w:gz") as t:
    data = b"gotcha\n"
    info = tarfile.TarInfo("../escaped.txt"); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
with tarfile.open(d + "/link.tar", "w") as t:
    info = tarfile.TarInfo("out"); info.type = tarfile.SYMTYPE; info.linkname = "/etc"
    t.addfile(info)
with zipfile.ZipFile(d + "/z.zip", "w") as z:
    z.writestr("zdir/z.txt", "zipped\n")
PY

fetch() { "$DROMOS" fetch --sandbox_directory="$T/sb" --uris="$1" >"$T/out" 2>"$T/err"; }

# local path, file:// with output_file and executable
fetch "[{\"value\":\"$T/src/hello.txt\"},{\"value\":\"file://$T/src/run.sh\",\"output_file\":\"bin/run\",\"executable\":true}]" \
    || fail "local fetch: $(cat "$T/err")"
[ "$(cat "$T/sb/hello.txt")" = hello ] || fail "hello.txt not copied"
[ -x "$T/sb/bin/run" ] || fail "bin/run not executable"
[ "$("$T/sb/bin/run")" = run ] || fail "bin/run does not run"
[ -x "$T/sb/hello.txt" ] && fail "hello.txt should not be executable"

# tar.gz and zip extraction (the archives stay)
fetch "[{\"value\":\"$T/src/bundle.tar.gz\"},{\"value\":\"$T/src/z.zip\"}]" || fail "extract: $(cat "$T/err")"
[ "$(cat "$T/sb/dir/inner.txt")" = inner ] || fail "tar.gz not extracted"
[ "$(cat "$T/sb/zdir/z.txt")" = zipped ] || fail "zip not extracted"
[ -f "$T/sb/bundle.tar.gz" ] || fail "archive removed"
# extract=false keeps it packed
rm -rf "$T/sb/dir"
fetch "[{\"value\":\"$T/src/bundle.tar.gz\",\"extract\":false}]" || fail "extract=false: $(cat "$T/err")"
[ -e "$T/sb/dir" ] && fail "extract=false extracted"

# a missing file: exit 1, one line naming the URI
fetch "[{\"value\":\"$T/src/missing.txt\"}]"; rc=$?
[ $rc -eq 1 ] || fail "missing file: exit $rc, want 1"
[ "$(wc -l < "$T/err")" -eq 1 ] || fail "missing file: want one line, got: $(cat "$T/err")"
grep -q "dromos fetch: '$T/src/missing.txt': cannot open" "$T/err" || fail "missing file message: $(cat "$T/err")"

# entries escaping the sandbox are refused; nothing lands outside
fetch "[{\"value\":\"$T/src/evil.tar.gz\"}]"; rc=$?
[ $rc -eq 1 ] || fail "escaping archive: exit $rc"
grep -q "leads outside the sandbox" "$T/err" || fail "escaping archive message: $(cat "$T/err")"
[ -e "$T/escaped.txt" ] && fail "escaping entry was written"
fetch "[{\"value\":\"$T/src/link.tar\"}]"; rc=$?
[ $rc -eq 1 ] || fail "symlink archive: exit $rc"
grep -q "symlink leading outside" "$T/err" || fail "symlink archive message: $(cat "$T/err")"
fetch "[{\"value\":\"$T/src/hello.txt\",\"output_file\":\"../x\"}]"; rc=$?
[ $rc -eq 1 ] || fail "escaping output_file: exit $rc"
grep -q "output_file '../x' leads outside" "$T/err" || fail "output_file message: $(cat "$T/err")"

# bad usage: exit 2
"$DROMOS" fetch --sandbox_directory="$T/sb" --uris='{"value":1}' 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "bad --uris: exit $rc, want 2"
fetch '[{"value":"relative/path"}]'; rc=$?
[ $rc -eq 1 ] || fail "relative path: exit $rc"

# http:// on loopback
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$T/src" && exec python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1) &
HTTP_PID=$!
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
    sleep 0.1
done
rm -rf "$T/sb/dir"
fetch "[{\"value\":\"http://127.0.0.1:$PORT/hello.txt\",\"output_file\":\"web.txt\"},{\"value\":\"http://127.0.0.1:$PORT/bundle.tar.gz\"}]" \
    || fail "http fetch: $(cat "$T/err")"
[ "$(cat "$T/sb/web.txt")" = hello ] || fail "http file content"
[ "$(cat "$T/sb/dir/inner.txt")" = inner ] || fail "http tar.gz not extracted"
fetch "[{\"value\":\"http://127.0.0.1:$PORT/nope.txt\"}]"; rc=$?
[ $rc -eq 1 ] || fail "http 404: exit $rc"
grep -q "http://127.0.0.1:$PORT/nope.txt': HTTP status 404" "$T/err" || fail "404 message: $(cat "$T/err")"
echo "fetch_real: ok"
