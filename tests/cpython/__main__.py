"""``python -m tests.cpython``: CPython's test_asyncio on a chosen loop.

Examples (from the repository root, with any supported interpreter)::

    python -m tests.cpython --loop goloop
    python -m tests.cpython --loop goloop --modules test_tasks test_locks
    python -m tests.cpython --loop uvloop --json uvloop.json
    python -m tests.cpython --loop asyncio --write-reference
    python -m tests.cpython --loop goloop --check-baseline

Exit status: 0 on a completed run; 1 when ``--check-baseline`` finds a
regression; 2 when the run cannot be made (loop not importable, no
reference, bad arguments).  Failing tests alone never fail the command —
the ratchet is the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from . import baseline as baseline_mod
from . import report
from .flavors import FLAVOR_NAMES, FlavorUnavailable, load_flavor
from .modules import UnknownModule, available_modules, select_modules
from .reference import (Reference, ReferenceMissing, load_not_applicable,
                        load_reference, reference_path)
from .results import RunResults
from .runner import run_suite
from .score import passing_applicable, score_run
from .supervisor import FatalWorkerError, SupervisorConfig


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tests.cpython",
        description="Run CPython's test.test_asyncio against an event loop "
                    "and score it against stock asyncio.")
    p.add_argument("--loop", choices=FLAVOR_NAMES, default=None,
                   help="loop to inject (required unless --list-modules)")
    p.add_argument("--modules", nargs="+", metavar="MODULE",
                   help="modules to run (default: all on this interpreter); "
                        "'tasks' and 'test_tasks' both work")
    p.add_argument("--match", action="append", default=[], metavar="SUBSTR",
                   help="only test ids containing SUBSTR (repeatable); the "
                        "score then covers only those tests")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECS",
                   help="per-test watchdog (default 60)")
    p.add_argument("--module-timeout", type=float, default=1800.0,
                   metavar="SECS", help="cap per module (default 1800)")
    p.add_argument("--total-timeout", type=float, metavar="SECS",
                   help="overall budget (e.g. for CI); modules not started "
                        "in time count as failed")
    p.add_argument("--json", metavar="PATH", help="write per-test results")
    p.add_argument("--brief-json", action="store_true",
                   help="in --json, keep only the final line of error texts")
    p.add_argument("--log-dir", metavar="DIR",
                   help="worker logs (default: a new temporary directory)")
    p.add_argument("--reference", metavar="PATH",
                   help="asyncio reference file (default: "
                        "tests/cpython/reference/<major.minor>.json)")
    p.add_argument("--write-reference", action="store_true",
                   help="with --loop asyncio: store this run as the "
                        "reference (merged per module)")
    p.add_argument("--baseline", metavar="PATH",
                   help="baseline file (default: "
                        "tests/cpython/baselines/<major.minor>.txt)")
    p.add_argument("--check-baseline", action="store_true",
                   help="exit 1 if a baseline test does not pass")
    p.add_argument("--update-baseline", action="store_true",
                   help="rewrite the baseline with the passing tests")
    p.add_argument("--show-failures", type=int, default=0, metavar="N",
                   help="list the first N failing applicable tests")
    p.add_argument("--from-json", metavar="PATH",
                   help="do not run: score (or make the reference from) a "
                        "results file written earlier by --json")
    p.add_argument("--list-modules", action="store_true",
                   help="print the modules this interpreter has and exit")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print every test's outcome")
    args = p.parse_args(argv)
    if not (args.list_modules or args.from_json) and args.loop is None:
        p.error("--loop is required")
    if args.write_reference and args.loop not in ("asyncio", None):
        p.error("--write-reference needs --loop asyncio")
    if args.write_reference and args.match:
        p.error("--write-reference cannot be combined with --match")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.list_modules:
        print("\n".join(available_modules()))
        return 0
    if args.from_json:
        run = RunResults.load(args.from_json)
        if args.loop and args.loop != run.loop:
            print(f"error: {args.from_json} is a --loop {run.loop} run",
                  file=sys.stderr)
            return 2
        if args.write_reference and run.loop != "asyncio":
            print("error: a reference must come from an asyncio run",
                  file=sys.stderr)
            return 2
        return report_run(run, args)

    if ((args.check_baseline or args.update_baseline)
            and args.loop != "goloop" and not args.baseline):
        print(f"error: baselines are goloop's; pass --baseline PATH to use "
              f"one for --loop {args.loop}", file=sys.stderr)
        return 2
    # Import the loop here too, so a missing goloop stops the run before
    # any worker starts — loudly, never by falling back to another loop.
    try:
        flavor = load_flavor(args.loop)
    except FlavorUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        modules, absent = select_modules(args.modules)
    except UnknownModule as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in absent:
        print(f"note: {name} is not part of this Python's test_asyncio; "
              "skipped", file=sys.stderr)
    if not modules:
        print("error: no modules to run", file=sys.stderr)
        return 2

    log_dir = args.log_dir or tempfile.mkdtemp(prefix="cpython-suite-logs-")
    os.makedirs(log_dir, exist_ok=True)
    config = SupervisorConfig(loop=flavor.name, test_timeout=args.timeout,
                              module_timeout=args.module_timeout,
                              log_dir=log_dir, match=args.match)
    print(f"test_asyncio on loop={flavor.name} {flavor.version}, "
          f"Python {sys.version.split()[0]}, {len(modules)} modules, "
          f"logs in {log_dir}", file=sys.stderr)
    try:
        run = run_suite(flavor, modules, config, verbose=args.verbose,
                        total_timeout=args.total_timeout)
    except FatalWorkerError as exc:
        print(f"error: worker cannot run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        run.save(args.json, brief=args.brief_json)
    _tidy_logs(run, log_dir, keep=bool(args.log_dir))
    return report_run(run, args)


def _tidy_logs(run: RunResults, log_dir: str, keep: bool) -> None:
    """Drop the temporary log directory unless something needs reading.

    Logs matter after a hang or crash (they hold the stack dumps); a clean
    run's logs are only test chatter.
    """
    troubled = any(o.status in ("timeout", "crash")
                   for o in run.tests.values()) or any(
        m.notes for m in run.modules.values())
    if keep or troubled:
        print(f"worker logs: {log_dir}", file=sys.stderr)
    else:
        shutil.rmtree(log_dir, ignore_errors=True)


def report_run(run: RunResults, args: argparse.Namespace) -> int:
    """Score *run*, print the table and score line, apply baseline options."""
    minor = run.python_minor
    reference = _reference_for(run, args, minor)
    if reference is None:
        return 2
    excluded = load_not_applicable()
    score = score_run(run, reference, excluded)

    print()
    print(f"CPython {run.python} test_asyncio on {run.loop} "
          f"{run.loop_version} ({run.duration:.0f}s)")
    print()
    print(report.module_table(score))
    print()
    print(report.loop_census(run))
    if args.show_failures and score.failed:
        print()
        print("most common causes:")
        print(report.top_causes(run, score, 15))
        print()
        print(report.failure_listing(run, score, args.show_failures))
    print()
    print(score.line())
    return _baseline_step(run, reference, excluded, args, minor)


def _reference_for(run: RunResults, args: argparse.Namespace, minor: str
                   ) -> Reference | None:
    path = args.reference or reference_path(minor)
    if args.write_reference:
        older = Reference.load(path) if os.path.exists(path) else None
        reference = Reference.from_run(run).merged_into(older)
        reference.save(path)
        print(f"reference written: {path}", file=sys.stderr)
        return reference
    try:
        return load_reference(minor, args.reference)
    except ReferenceMissing as exc:
        if run.loop == "asyncio":
            # Scoring stock asyncio against itself is still meaningful.
            print(f"note: {exc}; scoring against this run", file=sys.stderr)
            return Reference.from_run(run)
        print(f"error: {exc}", file=sys.stderr)
        return None


def _baseline_step(run: RunResults, reference: Reference,
                   excluded: dict[str, str], args: argparse.Namespace,
                   minor: str) -> int:
    if not (args.check_baseline or args.update_baseline):
        return 0
    if run.loop != "goloop" and not args.baseline:
        print(f"error: baselines are goloop's; pass --baseline PATH to use "
              f"one for --loop {run.loop}", file=sys.stderr)
        return 2
    path = args.baseline or baseline_mod.baseline_path(minor)
    current = baseline_mod.read_baseline(path)
    status = 0
    if args.check_baseline:
        lost = baseline_mod.regressions(run, current)
        if lost:
            print(f"\nbaseline regressions ({len(lost)} of {len(current)} "
                  f"in {path} no longer pass):")
            for test_id in lost:
                outcome = run.tests.get(test_id)
                print(f"  {test_id}: "
                      f"{outcome.status if outcome else 'missing'}")
            status = 1
        else:
            print(f"baseline ok: all in-scope ids of {path} pass")
    if args.update_baseline:
        new = baseline_mod.updated(
            run, current, passing_applicable(run, reference, excluded))
        baseline_mod.write_baseline(path, minor, new)
        print(f"baseline written: {path} ({len(new)} ids, was "
              f"{len(current)})")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
