#!/usr/bin/env bash
# Runs a command in a Debian sid chroot that has CPython 3.14 and 3.15
# (Debian's builds, with headers, venv and the test suite): the Pythons a
# Debian stable machine does not have. As root:
#
#   scripts/sid-chroot.sh [--dir DIR] -- COMMAND [ARGS...]
#
# The first run makes DIR (default $GOLOOP_SID_DIR, else /var/tmp/goloop-sid)
# with debootstrap (one to two minutes; debootstrap itself is apt-get
# installed if missing); later runs reuse it. For the command's lifetime this checkout
# is bind-mounted at /goloop, Go's GOROOT, module and build caches at their
# own paths, /proc and /dev are mounted, and the host's resolv.conf, hosts
# and CA bundle are copied in; the mounts are undone on exit, whatever
# happens.
# The command runs with Go on PATH (GOTOOLCHAIN=local: the host's toolchain)
# and the GOLOOP_*, CI and GOPROXY variables passed through.
#
# Exit status: the command's; 3 when the chroot cannot be made or entered
# (not root, no Go, debootstrap or the network failing), with the reason on
# stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${GOLOOP_SID_DIR:-/var/tmp/goloop-sid}
PKGS=(python3.14 python3.14-dev python3.14-venv libpython3.14-testsuite
      python3.15 python3.15-dev python3.15-venv libpython3.15-testsuite
      gcc libc6-dev ca-certificates)

die() { echo "sid-chroot: $*" >&2; exit 3; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --) shift; break ;;
    *) die "usage: $0 [--dir DIR] -- COMMAND [ARGS...]" ;;
  esac
done
[ $# -gt 0 ] || die "usage: $0 [--dir DIR] -- COMMAND [ARGS...]"
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mount and chroot)"
command -v go >/dev/null 2>&1 || die "needs Go on PATH (bind-mounted into the chroot)"
DIR=$(realpath -m "$DIR")
case "$DIR" in /|"$ROOT"|"$ROOT"/*) die "refusing chroot directory $DIR" ;; esac

# The effective toolchain (after any GOTOOLCHAIN switch) and its modules.
# The build cache too: compiled packages that do not depend on the Python
# headers are reused (entries are keyed by compiler and flags).
GOROOT_HOST=$(cd "$ROOT" && go env GOROOT)
GOMODCACHE_HOST=$(cd "$ROOT" && go env GOMODCACHE)
GOCACHE_HOST=$(cd "$ROOT" && go env GOCACHE)
mkdir -p "$GOMODCACHE_HOST"
case "$GOCACHE_HOST" in /*) mkdir -p "$GOCACHE_HOST" ;; *) GOCACHE_HOST="" ;; esac  # "off"

# Mount points under $1, deepest first (from the kernel's table).
mounts_under() {
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

unmount_all_under() {
  local m
  for m in $(mounts_under "$1"); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  [ -z "$(mounts_under "$1")" ] || die "cannot unmount everything under $1"
}

# One run at a time per chroot: mounts made by a concurrent run would be
# taken for leftovers of a killed one.
mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9

# The mount points this script made, listed as they are made: a run killed
# before its cleanup leaves the list, and the next run undoes exactly those.
# Mounts it did not make are never touched.
STATE="$DIR.mounts"
unmount_listed() {
  [ -f "$STATE" ] || return 0
  local m
  for m in $(tac "$STATE"); do
    umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null || true
  done
  rm -f "$STATE"
}
unmount_listed
[ -z "$(mounts_under "$DIR")" ] \
  || die "$DIR has mounts this script did not make: not using it ($(mounts_under "$DIR" | tr '\n' ' '))"

MARKER="$DIR/.goloop-sid"
want_marker="${PKGS[*]}"

make_chroot() {
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "sid-chroot: installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap </dev/null >/dev/null \
      || die "cannot install debootstrap"
  fi
  local new="$DIR.new"
  # An interrupted debootstrap may have left its own mounts in there.
  if [ -e "$new" ]; then
    unmount_all_under "$new"
    rm -rf "$new"
  fi
  echo "sid-chroot: debootstrap sid into $DIR" >&2
  local t0=$SECONDS
  local includes
  includes=$(IFS=,; echo "${PKGS[*]}")
  if ! debootstrap --variant=minbase --include="$includes" sid "$new" </dev/null >"$new.log" 2>&1; then
    tail -20 "$new.log" >&2
    unmount_all_under "$new"
    die "debootstrap failed (log: $new.log)"
  fi
  unmount_all_under "$new"
  rm -f "$new.log"
  echo "$want_marker" >"$new/.goloop-sid"
  mv "$new" "$DIR"
  echo "sid-chroot: made in $((SECONDS - t0)) s" >&2
}

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$want_marker" ]; then
  :  # ready
elif [ -d "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  # Made by an older version of this script (another package list), or
  # by hand: adopt it if dpkg has every package, else say what to do.
  if chroot "$DIR" dpkg-query -W "${PKGS[@]}" >/dev/null 2>&1; then
    echo "$want_marker" >"$MARKER"
  else
    die "$DIR exists but lacks some of: ${PKGS[*]} (remove it to have it made again)"
  fi
else
  [ -d "$DIR" ] && rmdir "$DIR"
  make_chroot
fi

# ---- mounts for this run ------------------------------------------------

trap unmount_listed EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mounted() { echo "$1" >>"$STATE"; }
bind() {  # bind SRC DST-INSIDE
  mkdir -p "$DIR$2"
  mount --bind "$1" "$DIR$2"
  mounted "$DIR$2"
}

mount -t proc proc "$DIR/proc"
mounted "$DIR/proc"
mount --rbind /dev "$DIR/dev"
mounted "$DIR/dev"
mount --make-rslave "$DIR/dev"  # unmounting ours must not touch the host's
bind "$ROOT" /goloop
bind "$GOMODCACHE_HOST" "$GOMODCACHE_HOST"
case "$GOROOT_HOST/" in
  "$GOMODCACHE_HOST"/*) ;;  # a toolchain fetched by GOTOOLCHAIN: already there
  *) bind "$GOROOT_HOST" "$GOROOT_HOST" ;;
esac
[ -z "$GOCACHE_HOST" ] || bind "$GOCACHE_HOST" "$GOCACHE_HOST"

rm -f "$DIR/etc/resolv.conf"
cp -L /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true
[ -f "$DIR/etc/hosts" ] || cp -L /etc/hosts "$DIR/etc/hosts" 2>/dev/null || true
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$DIR/etc/ssl/certs"
  cp -L /etc/ssl/certs/ca-certificates.crt "$DIR/etc/ssl/certs/ca-certificates.crt"
fi

# ---- the command ----------------------------------------------------------

passthrough=()
while IFS= read -r name; do
  passthrough+=("$name=${!name}")
done < <(compgen -e | grep -E '^(GOLOOP_|CI$|GOPROXY$|GOSUMDB$|GOPRIVATE$|GONOSUMDB$)' || true)

set +e
chroot "$DIR" /usr/bin/env -i \
  PATH="$GOROOT_HOST/bin:/usr/local/bin:/usr/bin:/bin" HOME=/root LANG=C.UTF-8 \
  GOROOT="$GOROOT_HOST" GOMODCACHE="$GOMODCACHE_HOST" ${GOCACHE_HOST:+GOCACHE="$GOCACHE_HOST"} \
  GOTOOLCHAIN=local \
  GOFLAGS=-buildvcs=false "${passthrough[@]}" "$@"
status=$?
set -e
exit $status
