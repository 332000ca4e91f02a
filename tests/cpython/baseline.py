"""The ratchet: test ids that pass on goloop must keep passing.

``baselines/<major.minor>.txt`` lists, one per line, the applicable test ids
that passed on goloop when it was last updated.  CI runs the suite with
``--check-baseline``, which fails when any listed id (among the modules that
were run) no longer passes.  ``--update-baseline`` rewrites the ids of the
modules that were run, keeping the other modules' lines, so the ratchet can
be advanced one module at a time.
"""

from __future__ import annotations

import os

from .results import RunResults

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE_DIR = os.path.join(HERE, "baselines")

HEADER = """\
# Test ids that pass on goloop under Python {minor}: the CPython-suite ratchet.
# Checked by:    python -m tests.cpython --loop goloop --check-baseline
# Rewritten by:  python -m tests.cpython --loop goloop --update-baseline
# Only applicable tests are listed (see tests/cpython/README.md).
"""


def baseline_path(python_minor: str) -> str:
    return os.path.join(BASELINE_DIR, f"{python_minor}.txt")


def read_baseline(path: str) -> set[str]:
    if not os.path.exists(path):
        return set()
    with open(path, encoding="utf-8") as f:
        return {line.strip() for line in f
                if line.strip() and not line.startswith("#")}


def write_baseline(path: str, python_minor: str, ids: set[str]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(HEADER.format(minor=python_minor))
        for test_id in sorted(ids):
            f.write(test_id + "\n")


def _in_scope(test_id: str, run: RunResults) -> bool:
    module = test_id.split(".", 1)[0]
    if module not in run.modules:
        return False
    return not run.match or any(m in test_id for m in run.match)


def regressions(run: RunResults, baseline: set[str]) -> list[str]:
    """Baseline ids (within what this run covered) that did not pass."""
    lost = []
    for test_id in sorted(baseline):
        if not _in_scope(test_id, run):
            continue
        outcome = run.tests.get(test_id)
        if outcome is None or not outcome.counts_as_pass:
            lost.append(test_id)
    return lost


def updated(run: RunResults, baseline: set[str], passing: set[str]
            ) -> set[str]:
    """Replace the in-scope part of *baseline* with what passes now."""
    kept = {i for i in baseline if not _in_scope(i, run)}
    return kept | passing
