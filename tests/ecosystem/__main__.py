"""python -m tests.ecosystem [--projects anyio,uvicorn,httpx] [--blockbuster both|on|off]
                           [--reference asyncio|expected] [--update-expected]

Runs the own test suites of pinned releases of anyio, uvicorn and httpx
(from their sdists on PyPI, with their pinned test dependencies, in a venv
per project cached under ~/.cache/goloop/ecosystem or $GOLOOP_ECOSYSTEM_CACHE)
on stdlib asyncio and on goloop. goloop is forced by the pytest plugin
plugin/goloop_ecosystem.py (goloop.Policy, and uvicorn's loop choice), whose
census counts the loops each test started, by kind, to prove it.

A test that passes on asyncio and fails on goloop is rerun on goloop, then
on asyncio; if it still fails on goloop and passes on asyncio it is a
regression: the exit status is 1. Every suite runs with blockbuster and
without it (--blockbuster): anyio's turns it on by itself when installed;
for uvicorn's and httpx's the plugin turns it on around each test, checking
the calls made from their package (as anyio's conftest does for anyio).
--reference expected skips the asyncio runs and takes the committed
expected/<project>.txt (tests that fail on asyncio too) as the reference.
--update-expected rewrites those lists from this run's asyncio failures."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from . import env
from .compare import Verdict, judge, read_expected, reason_of, write_expected
from .projects import PROJECTS, Project
from .suite import RunResult, run_suite

EXPECTED_HEADER = """Tests of {name} {version} that fail on stdlib asyncio as well, on this project's
CI machine (python -m tests.ecosystem, Python {py}): they are not goloop's to pass.
Regenerate with: python -m tests.ecosystem --projects {name} --update-expected
node id  # why it fails on asyncio (its first error line)"""


def _counts(run: RunResult) -> str:
    c = run.count()
    parts = [f"{c.get(k, 0)} {k}" for k in ("passed", "failed", "error", "skipped", "xfailed")]
    return ", ".join(parts) + f" in {run.seconds:.0f} s" + (f" [{run.problem}]" if run.problem else "")


def _census_lines(run: RunResult) -> list[str]:
    c = run.census
    on_goloop, on_asyncio = c.tests_with("goloop"), c.tests_with("asyncio")
    lines = [f"    census: loops started {dict(c.totals)}; tests that started a goloop loop: "
             f"{len(on_goloop)}, an asyncio loop: {len(on_asyncio)}"]
    if run.loop == "goloop" and on_asyncio:
        classes = {k: v for k, v in c.classes.items() if not k.startswith("goloop")}
        lines.append(f"    asyncio loops in the goloop run (made explicitly by the tests): {classes}")
        for t in on_asyncio[:8]:
            lines.append(f"      {t}")
        if len(on_asyncio) > 8:
            lines.append(f"      ... and {len(on_asyncio) - 8} more")
    return lines


def _census_problem(run: RunResult) -> str:
    """The goloop run must have run its tests on goloop; the asyncio run
    must not have touched goloop."""
    on_goloop = run.census.tests_with("goloop")
    if run.loop == "goloop" and not on_goloop:
        return "census: no test started a goloop loop in the goloop run"
    if run.loop == "asyncio" and on_goloop:
        return f"census: {len(on_goloop)} tests started goloop loops in the asyncio run"
    return ""


def run_project(project: Project, modes: list[bool], reference: str, logs: Path,
                wheel: Path, update: bool) -> tuple[bool, list[str]]:
    """Returns (ok, summary lines)."""
    src = env.source_tree(project)
    python = env.venv_python(project)
    env.install_goloop(python, wheel)
    expected = read_expected(project.expected)
    ok = True
    summary: list[str] = []
    asyncio_failures: dict[str, str] = {}
    print(f"== {project.name} {project.version} ({src})")
    for key, reason in {**project.excluded, **project.deselect}.items():
        print(f"   left out on both loops: {key}: {reason}")
    for key, reason in project.deselect_blockbuster.items():
        print(f"   left out of the blockbuster-on runs: {key}: {reason}")
    for key, reason in project.deselect_goloop.items():
        print(f"   left out of the goloop run: {key}: {reason}")
    for bb in modes:
        label = f"{project.name} {project.version}" + (
            f" [blockbuster {'on' if bb else 'off'}]" if project.blockbuster else "")
        asyncio_run: Optional[RunResult] = None
        if reference == "asyncio":
            asyncio_run = run_suite(project, python, src, "asyncio", bb, logs)
            print(f"  {label} asyncio: {_counts(asyncio_run)}")
            for line in _census_lines(asyncio_run):
                print(line)
            for t in asyncio_run.failed():
                asyncio_failures.setdefault(t, reason_of(asyncio_run.details.get(t, "")))
        goloop_run = run_suite(project, python, src, "goloop", bb, logs)
        print(f"  {label} goloop:  {_counts(goloop_run)}")
        for line in _census_lines(goloop_run):
            print(line)

        def rerun(loop: str, tests: list[str]) -> RunResult:
            return run_suite(project, python, src, loop, bb, logs, only=tests)

        verdict = judge(goloop_run, asyncio_run, expected, rerun, tuple(project.deselect_goloop))
        problems = [p for p in (goloop_run.problem,
                                _census_problem(goloop_run),
                                asyncio_run and _census_problem(asyncio_run)) if p]
        if asyncio_run is not None and asyncio_run.problem and not goloop_run.problem:
            print(f"    note: the asyncio run: {asyncio_run.problem}")
        _print_verdict(verdict, asyncio_run is not None)
        for p in problems:
            print(f"    PROBLEM: {p}")
        bad = bool(verdict.regressions) or bool(problems)
        ok = ok and not bad
        summary.append(f"{label}: passed on asyncio and failed on goloop: {len(verdict.regressions)}"
                       f" (goloop: {goloop_run.count().get('passed', 0)} passed"
                       + (f", asyncio: {asyncio_run.count().get('passed', 0)} passed"
                          if asyncio_run else ", reference: expected list")
                       + f"; goloop loops in {len(goloop_run.census.tests_with('goloop'))} tests)"
                       + (" FAILED" if bad else ""))
    if update and reference == "asyncio":
        write_expected(project.expected, EXPECTED_HEADER.format(
            name=project.name, version=project.version, py=sys.version.split()[0]), asyncio_failures)
        print(f"  wrote {project.expected} ({len(asyncio_failures)} tests)")
    return ok, summary


def _print_verdict(v: Verdict, full: bool) -> None:
    for t, why in sorted(v.regressions.items()):
        print(f"    REGRESSION (passes on asyncio, fails on goloop twice): {t}\n      {why}")
    if v.flaky_goloop:
        print(f"    failed once on goloop, passed when rerun ({len(v.flaky_goloop)}):")
        for t in v.flaky_goloop:
            print(f"      {t}")
    if v.both_on_rerun:
        print(f"    failed on goloop, then on asyncio too when rerun ({len(v.both_on_rerun)}):")
        for t in v.both_on_rerun:
            print(f"      {t}")
    if v.skipped_on_goloop:
        print(f"    passed on asyncio, skipped on goloop ({len(v.skipped_on_goloop)}):")
        for t in v.skipped_on_goloop:
            print(f"      {t}")
    if full and v.new_on_asyncio:
        print(f"    failed on asyncio, not in the expected list ({len(v.new_on_asyncio)}; "
              "this machine differs from the reference one):")
        for t in v.new_on_asyncio[:20]:
            print(f"      {t}")
    if full and v.listed_but_passed:
        print(f"    in the expected list but passed on asyncio here: {len(v.listed_but_passed)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", default=",".join(PROJECTS), help="comma-separated (default: all)")
    ap.add_argument("--blockbuster", choices=("both", "on", "off"), default="both",
                    help="run the suites with blockbuster active, without, or both (default: both)")
    ap.add_argument("--reference", choices=("asyncio", "expected"), default="asyncio")
    ap.add_argument("--update-expected", action="store_true")
    opts = ap.parse_args()
    names = [n.strip() for n in opts.projects.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROJECTS]
    if unknown:
        ap.error(f"unknown projects: {unknown} (known: {list(PROJECTS)})")
    started = time.monotonic()
    logs = env.cache_root() / "logs" / time.strftime("%Y%m%d-%H%M%S")
    logs.mkdir(parents=True, exist_ok=True)
    print(f"ecosystem: Python {sys.version.split()[0]}, logs in {logs}")
    ok = True
    summary: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wheel = env.build_goloop_wheel(Path(tmp))
            for name in names:
                project = PROJECTS[name]
                modes = {"both": [True, False], "on": [True], "off": [False]}[opts.blockbuster] \
                    if project.blockbuster else [True]
                good, lines = run_project(project, modes, opts.reference, logs, wheel,
                                          opts.update_expected)
                ok = ok and good
                summary += lines
    except env.SetupError as exc:
        print(f"ecosystem: cannot set up: {exc}")
        return 2
    print(f"ecosystem summary ({time.monotonic() - started:.0f} s):")
    for line in summary:
        print(f"  {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
