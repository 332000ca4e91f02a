"""asyncio against goloop for one project: the committed list of tests that
fail on stdlib asyncio too, and which goloop failures are regressions."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .suite import FAILED, RunResult

SEP = "  # "


def read_expected(path: Path) -> dict[str, str]:
    """node id -> why it fails on asyncio too (the committed list)."""
    expected: dict[str, str] = {}
    if not path.is_file():
        return expected
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        nodeid, _, reason = line.partition(SEP)
        expected[nodeid.strip()] = reason.strip()
    return expected


def write_expected(path: Path, header: str, failures: dict[str, str]) -> None:
    lines = [f"# {h}" if h else "#" for h in header.splitlines()]
    for nodeid in sorted(failures):
        lines.append(f"{nodeid}{SEP}{failures[nodeid]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def reason_of(detail: str) -> str:
    """One line saying why a test failed: its first 'E   ' line, else the
    report's last line."""
    lines = [ln.strip() for ln in detail.splitlines() if ln.strip()]
    errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    text = errors[0] if errors else (lines[-1] if lines else "failed")
    return text[:140]


@dataclass
class Verdict:
    regressions: dict[str, str] = field(default_factory=dict)   # node id -> goloop's failure
    flaky_goloop: list[str] = field(default_factory=list)        # failed once, passed on rerun
    both_on_rerun: list[str] = field(default_factory=list)       # rerun failed on asyncio too
    skipped_on_goloop: list[str] = field(default_factory=list)   # passed on asyncio, skipped on goloop
    new_on_asyncio: list[str] = field(default_factory=list)      # asyncio failures not listed
    listed_but_passed: list[str] = field(default_factory=list)   # listed, passed on asyncio now


def judge(goloop: RunResult, asyncio_run: Optional[RunResult], expected: dict[str, str],
          rerun: Callable[[str, list[str]], RunResult], left_out: tuple[str, ...] = ()) -> Verdict:
    """Regressions: tests that pass on asyncio (its run, or, without one,
    every test not in the expected list) and fail on goloop, confirmed by a
    rerun of each on goloop and then on asyncio. rerun(loop, node ids)
    runs those tests again."""
    v = Verdict()
    if asyncio_run is not None:
        reference = asyncio_run.outcomes
        suspects = sorted(t for t, o in reference.items()
                          if o == "passed" and goloop.outcomes.get(t, "missing") in (*FAILED, "missing"))
        v.skipped_on_goloop = sorted(t for t, o in reference.items()
                                     if o == "passed" and goloop.outcomes.get(t) == "skipped")
        failing = asyncio_run.failed()
        v.new_on_asyncio = sorted(failing - expected.keys())
        v.listed_but_passed = sorted(t for t in expected if reference.get(t) == "passed")
    else:
        suspects = sorted(t for t in goloop.failed() if t not in expected)
    suspects = [t for t in suspects if not t.startswith(left_out)]
    if not suspects:
        return v
    runnable = [t for t in suspects if not t.startswith("<collection>")]
    again = rerun("goloop", runnable) if runnable else None
    still = [t for t in suspects
             if t.startswith("<collection>") or again is None
             or again.outcomes.get(t, "missing") in (*FAILED, "missing")]
    v.flaky_goloop = [t for t in suspects if t not in still]
    check = [t for t in still if not t.startswith("<collection>")]
    on_asyncio = rerun("asyncio", check) if check else None
    for t in still:
        if on_asyncio is not None and on_asyncio.outcomes.get(t) in FAILED:
            v.both_on_rerun.append(t)
        else:
            v.regressions[t] = reason_of(goloop.details.get(t, goloop.outcomes.get(t, "missing")))
    return v
