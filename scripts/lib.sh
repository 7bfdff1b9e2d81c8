# scripts/lib.sh — shared by ./dev and scripts/*.sh: package set-up and builds.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

# Build and test dependencies, all from Debian 12.
PKGS_BUILD=(gcc meson ninja-build pkg-config libevent-dev libprotobuf-c-dev protobuf-c-compiler
            libjansson-dev libhttp-parser-dev libxxhash-dev libsqlite3-dev zlib1g-dev
            libcmocka-dev libcurl4-openssl-dev libarchive-dev libssl-dev binutils
            golang-github-mesos-mesos-go-dev golang-github-gogo-protobuf-dev)
PKGS_TEST=(golang-go iproute2 procps util-linux curl jq python3 tar gzip)
PKGS_FUZZ=(afl++ clang)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'dev: %s\n' "$*" >&2; exit 2; }

# ensure_pkgs PKG...: installs those not installed yet (nothing else touches the network).
ensure_pkgs() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# configure DIR [meson options...]: sets DIR up once; later calls reuse it.
configure() {
  local dir=$1; shift
  if [ ! -f "$ROOT/$dir/build.ninja" ]; then
    meson setup "$ROOT/$dir" "$ROOT" "$@" >"$ROOT/$dir.setup.log" 2>&1 \
      || { cat "$ROOT/$dir.setup.log"; exit 1; }
  fi
}

build_default() {
  configure build
  ninja -C "$ROOT/build" >/dev/null || ninja -C "$ROOT/build"
}
