"""python -m tests.uvloop_suite [--modules test_tcp,...] [--timeout S]

Runs every uvloop test module that has asyncio twins, each in its own
process, first on asyncio, then on goloop; a test is applicable when it
passes on asyncio. Prints a Markdown table and every failure; exits 1 when
an applicable test does not pass on goloop (or a module hangs), 0 otherwise.
GOLOOP_UVLOOP_SUITE=required makes "cannot get the tests" an error too
(CI); otherwise it is reported and skipped (no network, no uvloop)."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .fetch import installed_version, tests_root

WORKER = Path(__file__).with_name("worker.py")


@dataclass
class ModuleRun:
    outcomes: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    problem: str = ""   # import error, crash, hang


def twin_modules(root: Path) -> list[str]:
    """Modules with asyncio twins (AIOTestCase subclasses)."""
    return sorted(p.stem for p in (root / "tests").glob("test_*.py")
                  if "AIOTestCase" in p.read_text(encoding="utf-8", errors="replace"))


def _kill_group(proc: subprocess.Popen) -> tuple[str, str]:
    """SIGKILL the worker's process group; what it still had to say."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:   # a descendant that left the group
        proc.kill()
        return "", "the worker's output pipes stayed open after it was killed"
    except ValueError:                  # already fully read
        return "", ""


def run_module(root: Path, module: str, loop: str, timeout: float,
               only: list[str] | None = None) -> ModuleRun:
    run = ModuleRun()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONASYNCIODEBUG", None)
    # A session of its own: on a timeout the whole group goes, including
    # a test's child that outlived the worker while holding its pipes
    # (communicate() would otherwise wait for that child's EOF forever).
    proc = subprocess.Popen([sys.executable, str(WORKER), str(root), module, loop, *(only or [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        out, err = _kill_group(proc)
    else:
        _kill_group(proc)   # whatever the tests left running
    done = False
    for line in out.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("done"):
            done = True
            continue
        run.outcomes[rec["id"]] = rec["outcome"]
        if rec.get("detail") and rec["outcome"] in ("fail", "error"):
            run.details[rec["id"]] = rec["detail"]
    if timed_out:
        # {"done"} comes after the last test: then the hang is at exit
        # (threads or executors left behind), else in a test.
        where = "after its last test, at exit" if done else f"after {len(run.outcomes)} tests"
        run.problem = f"hung {where} (killed at {timeout:.0f} s)"
    elif not done:
        run.problem = f"exit code {proc.returncode}: {err.strip()[-600:]}"
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", help="comma-separated module names (default: all with asyncio twins)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per module and loop")
    opts = ap.parse_args()
    required = os.environ.get("GOLOOP_UVLOOP_SUITE") == "required"
    try:
        version = installed_version()
        root = tests_root(version)
    except (ImportError, RuntimeError) as exc:
        print(f"uvloop suite: skipped: {exc}")
        return 1 if required else 0
    modules = opts.modules.split(",") if opts.modules else twin_modules(root)
    print(f"uvloop {version}'s asyncio twins on goloop, Python {sys.version.split()[0]}, "
          f"{len(modules)} modules (tests from {root})")
    rows, failures, problems, retried = [], [], [], []
    started = time.monotonic()
    for module in modules:
        ref = run_module(root, module, "asyncio", opts.timeout)
        ours = run_module(root, module, "goloop", opts.timeout)
        applicable = sorted(t for t, o in ref.outcomes.items() if o == "pass")
        # A failure gets one more try, alone in a fresh process: some of
        # uvloop's tests race against timers on a loaded machine. Tests
        # that pass then are counted and named below.
        again = [t for t in applicable if ours.outcomes.get(t) != "pass"]
        if again and not ours.problem:
            retry = run_module(root, module, "goloop", opts.timeout, again)
            for t in again:
                if retry.outcomes.get(t) == "pass":
                    ours.outcomes[t] = "pass"
                    retried.append(t)
        passed = [t for t in applicable if ours.outcomes.get(t) == "pass"]
        for t in applicable:
            if ours.outcomes.get(t) != "pass":
                failures.append((t, ours.outcomes.get(t, "not run"), ours.details.get(t, "")))
        if ours.problem and (applicable or not ref.problem):
            problems.append(f"{module} on goloop: {ours.problem}")
        note = f"asyncio: {ref.problem}" if ref.problem else ""
        rows.append((module, len(applicable), len(passed), note))
        print(f"  {module:14} {len(passed)}/{len(applicable)} "
              f"({time.monotonic() - started:.0f}s){'  ' + note if note else ''}", flush=True)
    print()
    print("| module | applicable | passed on goloop | note |")
    print("|---|---:|---:|---|")
    for module, n_app, n_pass, note in rows:
        print(f"| {module} | {n_app} | {n_pass} | {note} |")
    total_app = sum(r[1] for r in rows)
    total_pass = sum(r[2] for r in rows)
    print(f"| **total** | **{total_app}** | **{total_pass}** | |")
    for test, outcome, detail in failures:
        print(f"\n--- {test}: {outcome}\n{detail}")
    for p in problems:
        print(f"\nPROBLEM: {p}")
    for t in retried:
        print(f"passed on its second try: {t}")
    print(f"\nuvloop-suite: {total_pass} passed, {total_app - total_pass} failed"
          f"{', ' + str(len(problems)) + ' module problems' if problems else ''}")
    return 1 if failures or problems else 0


if __name__ == "__main__":
    sys.exit(main())
