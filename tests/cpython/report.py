"""Human-readable output: the per-module Markdown table and loop counts.

Kept apart from scoring so the README generator and the CLI print the same
table from the same numbers.
"""

from __future__ import annotations

import collections

from .results import RunResults, summary_line
from .score import Score


def _causes(causes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in
                     sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])))


def module_table(score: Score, *, with_causes: bool = True) -> str:
    """The per-module table (module, applicable, passed, failed, score)."""
    head = "| module | applicable | passed | failed | score |"
    rule = "|---|---:|---:|---:|---:|"
    if with_causes:
        head += " not passing, by cause |"
        rule += "---|"
    rows = [head, rule]
    for m in score.modules:
        percent = f"{m.percent:.1f}%" if m.applicable else "—"
        row = (f"| {m.module} | {m.applicable} | {m.passed} | {m.failed} | "
               f"{percent} |")
        if with_causes:
            row += f" {_causes(m.causes)} |"
        rows.append(row)
    total = (f"| **total** | **{score.applicable}** | **{score.passed}** | "
             f"**{score.failed}** | **{score.percent:.1f}%** |")
    if with_causes:
        total += " |"
    rows.append(total)
    return "\n".join(rows)


def tests_on_loop(run: RunResults) -> int:
    """How many tests obtained at least one injected loop."""
    return sum(bool(o.injected) for o in run.tests.values())


def loop_census(run: RunResults) -> str:
    """Loops created during the run, by type: the proof of injection."""
    injected: collections.Counter[str] = collections.Counter()
    other: collections.Counter[str] = collections.Counter()
    wrong = 0
    for o in run.tests.values():
        injected.update(o.injected)
        other.update(o.other)
        wrong += o.wrong_type
    lines = [f"loops via injection ({tests_on_loop(run)} of {len(run.tests)} tests "
             f"used one): " + (", ".join(f"{k}={v}" for k, v in
                                        injected.most_common()) or "none")]
    lines.append("other loops (created directly by tests): " + (
        ", ".join(f"{k}={v}" for k, v in other.most_common()) or "none"))
    if wrong:
        lines.append(f"WARNING: {wrong} injected loops were not "
                     f"{run.loop} loops; those tests count as failed")
    return "\n".join(lines)


def _last_line(detail: str) -> str:
    return summary_line(detail)


def top_causes(run: RunResults, score: Score, limit: int) -> str:
    """Most frequent reasons applicable tests did not pass."""
    causes: collections.Counter[str] = collections.Counter()
    for m in score.modules:
        for test_id in m.failing:
            o = run.tests.get(test_id)
            if o is None:
                key = "missing from the run"
            elif o.status in ("fail", "error"):
                key = f"{o.status}: {_last_line(o.detail)[:140]}"
            elif o.status == "pass":
                key = "passed without using the injected loop"
            else:
                key = o.status
            causes[key] += 1
    return "\n".join(f"{n:5}  {key}" for key, n in causes.most_common(limit))


def failure_listing(run: RunResults, score: Score, limit: int) -> str:
    """The first *limit* failing applicable tests with their last error line."""
    lines: list[str] = []
    for m in score.modules:
        for test_id in m.failing:
            if len(lines) >= limit:
                lines.append(f"... ({score.failed - limit} more)")
                return "\n".join(lines)
            o = run.tests.get(test_id)
            if o is None:
                lines.append(f"{test_id}: missing")
                continue
            last = _last_line(o.detail)
            lines.append(f"{test_id}: {o.status}: {last[:160]}")
    return "\n".join(lines)
