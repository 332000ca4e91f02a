#!/usr/bin/env bash
# goloop's test command (the README's, and what CI runs): the Go unit tests
# of the C state machines (transports/, loop/timerheap/); then for each CPython
# 3.10-3.13 found (pyenv versions, else the python3 on PATH), install goloop
# from this checkout, run the pytest suite, then CPython's own asyncio tests
# against goloop with the committed baseline as a ratchet, then the asyncio
# twins of uvloop's own tests (tests/uvloop_suite; needs PyPI for the sdist).
# Then the same for CPython 3.14 and 3.15 (Debian's builds) inside a Debian
# sid chroot (scripts/sid-chroot.sh: needs root; made once, 1-2 min), in
# venvs of their own there; uvloop's twins run on 3.10-3.13 only.
#   GOLOOP_PYTHONS="3.11.7 3.12.1"  limit the interpreters ("3.14"/"3.15":
#                                   the chroot's; none of them: no chroot)
#   GOLOOP_SID=0                    skip 3.14/3.15 (said so, never silent;
#                                   without root they are skipped and said
#                                   so too, and with CI=true that fails)
#   GOLOOP_SID_DIR=/path            where the chroot lives
#                                   (default /var/tmp/goloop-sid)
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

SID_MINORS="3.14 3.15"
is_sid_version() { case "$1" in 3.14|3.14.*|3.15|3.15.*) return 0 ;; esac; return 1; }

in_sid=${GOLOOP_IN_SID:-}   # set by this script when it re-runs itself in the chroot
versions=""
sid_versions=""
if [ -n "$in_sid" ]; then
  versions=${GOLOOP_PYTHONS:-$SID_MINORS}
elif [ -n "${GOLOOP_PYTHONS:-}" ]; then
  for v in $GOLOOP_PYTHONS; do
    if is_sid_version "$v"; then sid_versions="$sid_versions $(echo "$v" | cut -d. -f1,2)"
    else versions="$versions $v"; fi
  done
  [ -n "$versions" ] || versions=none
else
  sid_versions=$SID_MINORS
  if command -v pyenv >/dev/null 2>&1; then
    for v in 3.10 3.11 3.12 3.13; do
      found=$(pyenv versions --bare 2>/dev/null | grep -E "^${v//./\\.}\.[0-9]+$" | sort -V | tail -1)
      [ -n "$found" ] && versions="$versions $found"
    done
  fi
  [ -n "$versions" ] || versions=system
fi

py() {  # py VERSION args...: run that interpreter (or python3 when none)
  local v=$1; shift
  if [ -n "$in_sid" ]; then "/root/goloop-venvs/$v/bin/python" "$@"
  elif [ "$v" = system ]; then python3 "$@"
  else PYENV_VERSION=$v python3 "$@"; fi
}

# In the chroot: a venv per Debian Python, made once.
ensure_interpreter() {
  local v=$1
  [ -n "$in_sid" ] || return 0
  [ -x "/root/goloop-venvs/$v/bin/python" ] && return 0
  "python$v" -m venv "/root/goloop-venvs/$v"
}

failed=0
total_passed=0
total_failed=0
uv_lines=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The I/O and timer state machines in plain C, tested without an
# interpreter (transports/, loop/timerheap/: no Python.h needed).
if [ -z "$in_sid" ]; then
  echo "=== go test ./transports/ ./loop/timerheap/"
  if ! CGO_ENABLED=1 go test -count=1 ./transports/ ./loop/timerheap/; then
    echo "FAILED: go test"; failed=1
  fi
fi
for v in $versions; do
  [ "$v" = none ] && continue
  echo "=== goloop on Python $v${in_sid:+ (Debian sid chroot)}"
  if ! ensure_interpreter "$v"; then
    echo "FAILED: no venv for Python $v"; failed=1; continue
  fi
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
# 3.14 and 3.15: this script again, inside the Debian sid chroot.
sid_note=""
if [ -n "$sid_versions" ]; then
  skip_why=""
  if [ "${GOLOOP_SID:-1}" = 0 ]; then
    skip_why="GOLOOP_SID=0"
  elif [ "$(id -u)" != 0 ]; then
    skip_why="the Debian sid chroot they run in needs root (scripts/sid-chroot.sh)"
  fi
  if [ -z "$skip_why" ]; then
    t0=$SECONDS
    GOLOOP_IN_SID=1 GOLOOP_PYTHONS="${sid_versions# }" GOLOOP_UVLOOP_SUITE=0 \
      bash scripts/sid-chroot.sh -- bash /goloop/scripts/test.sh </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" = 3 ] && ! grep -q '^=== goloop on Python' "$log"; then
      skip_why="the Debian sid chroot could not be made: $(grep '^sid-chroot:' "$log" | tail -1)"
    else
      [ "$rc" = 0 ] || failed=1
      summary=$(grep -E '^total: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
      p=$(echo "$summary" | awk '{print $2}')
      f=$(echo "$summary" | awk '{print $4}')
      total_passed=$((total_passed + ${p:-0}))
      total_failed=$((total_failed + ${f:-0}))
      [ -n "$summary" ] || { echo "FAILED: no result from the chroot run"; failed=1; }
      sid_note=" ${sid_versions# } (Debian sid chroot, $((SECONDS - t0)) s)"
    fi
  fi
  if [ -n "$skip_why" ]; then
    echo "SKIPPED: Python${sid_versions}: $skip_why"
    sid_note=" (Python${sid_versions} SKIPPED: $skip_why)"
    if [ "${CI:-}" = true ] && [ "${GOLOOP_SID:-1}" != 0 ]; then
      echo "FAILED: CI must test Python${sid_versions}"; failed=1
    fi
  fi
fi

# ---- frameworks' own suites on goloop (tests/ecosystem) --------------------
#   GOLOOP_ECOSYSTEM=1   anyio, uvicorn and httpx's suites on asyncio and on
#                        goloop, once, on Python 3.13 (.ci/run sets it; needs
#                        PyPI). GOLOOP_ECOSYSTEM_ARGS: its options
#                        (default: --blockbuster on --reference expected:
#                        the committed lists of what fails on asyncio too
#                        are the reference, and each goloop failure not
#                        listed is rerun on goloop, then on asyncio, so the
#                        asyncio runs of the whole suites are skipped and
#                        the step stays near 10 minutes on a fresh machine).
if [ "${GOLOOP_ECOSYSTEM:-0}" != 0 ] && [ -z "${GOLOOP_IN_SID:-}" ] && [ "$versions" != none ]; then
  eco_v=$(printf '%s\n' $versions | grep -E '^3\.13(\.|$)' | tail -1)
  [ -n "$eco_v" ] || eco_v=$(printf '%s\n' $versions | tail -1)
  echo "=== frameworks' suites on goloop (tests/ecosystem), Python $eco_v"
  # shellcheck disable=SC2086
  if ! py "$eco_v" -m tests.ecosystem ${GOLOOP_ECOSYSTEM_ARGS:---blockbuster on --reference expected}; then
    echo "FAILED: frameworks' suites on goloop (tests/ecosystem)"; failed=1
  fi
fi
# ---- end of tests/ecosystem ---------------------------------------------------


shown=${versions/none/}
echo "pytest on: ${shown# }${sid_note}"
echo "total: $total_passed passed, $total_failed failed"
[ -n "$uv_lines" ] && printf "uvloop's asyncio twins on goloop:\n%s" "$uv_lines"
exit $failed
