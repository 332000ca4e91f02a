#!/usr/bin/env bash
# goloop's test command (the README's, and what CI runs): for each CPython
# 3.10-3.13 found (pyenv versions, else the python3 on PATH), install goloop
# from this checkout, run the pytest suite, then CPython's own asyncio tests
# against goloop with the committed baseline as a ratchet, then the asyncio
# twins of uvloop's own tests (tests/uvloop_suite; needs PyPI for the sdist).
#   GOLOOP_PYTHONS="3.11.7 3.12.1"  limit the interpreters
#   GOLOOP_CPYTHON_SUITE=0          skip the CPython-suite ratchet
#   GOLOOP_UVLOOP_SUITE=0           skip uvloop's tests (=required: no
#                                   network or uvloop is an error, as in CI)
#   GOLOOP_MALLOC_DEBUG=3.12        the versions (prefixes, space-separated;
#                                   "" for none) whose pytest run uses
#                                   PYTHONMALLOC=debug: CPython's allocator
#                                   hooks catch buffer overruns, writes
#                                   before a block and allocation without
#                                   the GIL in goloop's C and Go code
set -uo pipefail
cd "$(dirname "$0")/.."

versions=${GOLOOP_PYTHONS:-}
if [ -z "$versions" ] && command -v pyenv >/dev/null 2>&1; then
  for v in 3.10 3.11 3.12 3.13; do
    found=$(pyenv versions --bare 2>/dev/null | grep -E "^${v//./\\.}\.[0-9]+$" | sort -V | tail -1)
    [ -n "$found" ] && versions="$versions $found"
  done
fi

py() {  # py VERSION args...: run that interpreter (or python3 when none)
  local v=$1; shift
  if [ "$v" = system ]; then python3 "$@"; else PYENV_VERSION=$v python3 "$@"; fi
}
[ -n "$versions" ] || versions=system

failed=0
total_passed=0
total_failed=0
uv_lines=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for v in $versions; do
  echo "=== goloop on Python $v"
  py "$v" -m pip install -q --disable-pip-version-check pytest >/dev/null 2>&1
  if [ "${GOLOOP_UVLOOP_SUITE:-1}" != 0 ]; then
    # uvloop itself (its _testbase) and what some of its test modules import.
    py "$v" -m pip install -q --disable-pip-version-check uvloop pyOpenSSL psutil aiohttp >/dev/null 2>&1
  fi
  if ! py "$v" -m pip install -q --disable-pip-version-check . ; then
    echo "FAILED: install on $v"; failed=1; continue
  fi
  malloc=""
  for m in ${GOLOOP_MALLOC_DEBUG-3.12}; do
    case "$v" in "$m"|"$m".*) malloc=debug ;; esac
  done
  [ -n "$malloc" ] && echo "pytest on $v with PYTHONMALLOC=$malloc"
  # Run from tests' parent with the installed package (not ./python).
  PYTHONMALLOC=${malloc:-${PYTHONMALLOC:-}} py "$v" -m pytest -q -p no:cacheprovider tests 2>&1 | tee "$log"
  if [ "${PIPESTATUS[0]}" != 0 ]; then
    echo "FAILED: pytest on $v"; failed=1
  fi
  summary=$(grep -E '^[=]* ?[0-9]+ (passed|failed)' "$log" | tail -1)
  p=$(echo "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  f=$(echo "$summary" | grep -oE '[0-9]+ (failed|errors?)' | awk '{s += $1} END {print s + 0}')
  total_passed=$((total_passed + ${p:-0}))
  total_failed=$((total_failed + ${f:-0}))
  if [ "${GOLOOP_CPYTHON_SUITE:-1}" != 0 ] && [ -d tests/cpython/baselines ]; then
    if ! py "$v" -m tests.cpython --loop goloop --check-baseline; then
      echo "FAILED: CPython asyncio suite ratchet on $v"; failed=1
    fi
  fi
  if [ "${GOLOOP_UVLOOP_SUITE:-1}" != 0 ]; then
    py "$v" -m tests.uvloop_suite 2>&1 | tee "$log"
    if [ "${PIPESTATUS[0]}" != 0 ]; then
      echo "FAILED: uvloop's asyncio-twin tests on $v"; failed=1
    fi
    uv_lines="$uv_lines$v: $(grep -E '^uvloop-suite: ' "$log" | tail -1)"$'\n'
  fi
done
# ---- frameworks' own suites on goloop (tests/ecosystem) --------------------
#   GOLOOP_ECOSYSTEM=1   anyio, uvicorn and httpx's suites on asyncio and on
#                        goloop, once, on Python 3.13 (.ci/run sets it; needs
#                        PyPI). GOLOOP_ECOSYSTEM_ARGS: its options
#                        (default: --blockbuster on).
if [ "${GOLOOP_ECOSYSTEM:-0}" != 0 ]; then
  eco_v=$(printf '%s\n' $versions | grep -E '^3\.13(\.|$)' | tail -1)
  [ -n "$eco_v" ] || eco_v=$(printf '%s\n' $versions | tail -1)
  echo "=== frameworks' suites on goloop (tests/ecosystem), Python $eco_v"
  # shellcheck disable=SC2086
  if ! py "$eco_v" -m tests.ecosystem ${GOLOOP_ECOSYSTEM_ARGS:---blockbuster on}; then
    echo "FAILED: frameworks' suites on goloop (tests/ecosystem)"; failed=1
  fi
fi
# ---- end of tests/ecosystem ---------------------------------------------------

echo "pytest on: $versions"
echo "total: $total_passed passed, $total_failed failed"
[ -n "$uv_lines" ] && printf "uvloop's asyncio twins on goloop:\n%s" "$uv_lines"
exit $failed
