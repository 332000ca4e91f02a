"""Run the selected modules one after another and collect a RunResults.

Modules run sequentially on purpose: the suite is timing-sensitive (many
tests assert on elapsed time) and the machines are small, so parallel
workers would trade speed for flaky results.
"""

from __future__ import annotations

import datetime
import platform
import sys
import time
from typing import TextIO

from . import protocol
from .flavors import Flavor
from .results import ModuleRun, Outcome, RunResults
from .supervisor import ModuleSupervisor, SupervisorConfig


def _summary(outcomes: list[Outcome]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return " ".join(f"{counts[s]} {s}" for s in protocol.STATUSES
                    if counts.get(s))


def run_suite(flavor: Flavor, modules: list[str], config: SupervisorConfig,
              out: TextIO = sys.stderr, verbose: bool = False,
              total_timeout: float | None = None) -> RunResults:
    """Run *modules* in order; stop starting new ones after *total_timeout*.

    Modules not started for lack of time are absent from the results, so
    their applicable tests count as failed (a CI budget, not a loophole).
    """
    run = RunResults(
        loop=flavor.name, loop_version=flavor.version,
        python=platform.python_version(),
        started=datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        match=list(config.match))

    def progress(outcome: Outcome) -> None:
        if verbose or outcome.status in (protocol.TIMEOUT, protocol.CRASH):
            print(f"    {outcome.status:8} {outcome.id} "
                  f"({outcome.duration:.2f}s)", file=out, flush=True)

    config.on_outcome = progress
    started = time.monotonic()
    per_module_cap = config.module_timeout
    width = max((len(m) for m in modules), default=0)
    for index, module in enumerate(modules, 1):
        if total_timeout is not None:
            remaining = total_timeout - (time.monotonic() - started)
            if remaining <= 0:
                print(f"total time budget ({total_timeout:.0f}s) spent; not "
                      f"run: {', '.join(modules[index - 1:])}", file=out)
                for skipped in modules[index - 1:]:
                    # Listed with no outcomes: its applicable tests are
                    # then scored as missing, i.e. failed.
                    run.modules[skipped] = ModuleRun(
                        skipped, notes=["not run: total time budget spent"])
                break
            config.module_timeout = min(per_module_cap, remaining)
        print(f"[{index:2}/{len(modules)}] {module:{width}} ...", file=out,
              flush=True)
        module_run, outcomes = ModuleSupervisor(config, module).run()
        run.modules[module] = module_run
        for outcome in outcomes:
            run.tests[outcome.id] = outcome
        extra = f", {module_run.restarts} restarts" if module_run.restarts else ""
        print(f"        {module:{width}} {len(outcomes)} tests: "
              f"{_summary(outcomes) or 'none'} ({module_run.duration:.1f}s"
              f"{extra})", file=out, flush=True)
        for note in module_run.notes:
            if note.startswith(("module", "timeout outside", "crash outside")):
                print(f"        note: {note.splitlines()[0]}", file=out)
    run.duration = time.monotonic() - started
    return run
