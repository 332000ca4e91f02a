"""Score a run against the reference: per-module table and the score line.

Rules (see reference.py for *applicable*):
- a test counts as passed only if it passed on the chosen loop and used it
  (``Outcome.counts_as_pass``);
- anything else — fail, error, skip, timeout, crash, never run, or missing
  from the run altogether — counts as failed;
- the denominator comes from the reference, not from the run being scored,
  so a loop cannot raise its score by skipping or not collecting tests.
"""

from __future__ import annotations

import collections
import dataclasses

from . import protocol
from .reference import Reference
from .results import Outcome, RunResults

NO_LOOP = "no-loop"  # passed, but never obtained an injected loop
WRONG_LOOP = "wrong-loop"  # passed on a loop of another type
MISSING = "missing"  # applicable in the reference, absent from this run


@dataclasses.dataclass
class ModuleScore:
    module: str
    applicable: int
    passed: int
    # Why the non-passing applicable tests did not pass, by cause.
    causes: dict[str, int]
    failing: list[str]

    @property
    def failed(self) -> int:
        return self.applicable - self.passed

    @property
    def percent(self) -> float:
        return 100.0 * self.passed / self.applicable if self.applicable else 0.0


@dataclasses.dataclass
class Score:
    modules: list[ModuleScore]

    @property
    def passed(self) -> int:
        return sum(m.passed for m in self.modules)

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.modules)

    @property
    def applicable(self) -> int:
        return sum(m.applicable for m in self.modules)

    @property
    def percent(self) -> float:
        return 100.0 * self.passed / self.applicable if self.applicable else 0.0

    def line(self) -> str:
        # Exact wording is what CI greps for.
        return f"cpython-suite: {self.passed} passed, {self.failed} failed"


def cause_of(outcome: Outcome | None) -> str:
    if outcome is None:
        return MISSING
    if outcome.status == protocol.PASS:
        if outcome.wrong_type:
            return WRONG_LOOP
        if not outcome.injected:
            return NO_LOOP
    return outcome.status


def applicable_ids(run: RunResults, reference: Reference, module: str,
                   excluded: dict[str, str]) -> list[str]:
    ids = [i for i in reference.applicable(module) if i not in excluded]
    if run.match:  # a filtered run is scored on the tests it selected
        ids = [i for i in ids if any(m in i for m in run.match)]
    return ids


def score_run(run: RunResults, reference: Reference,
              excluded: dict[str, str]) -> Score:
    scores = []
    for module in sorted(run.modules):
        ids = applicable_ids(run, reference, module, excluded)
        causes: collections.Counter[str] = collections.Counter()
        failing = []
        passed = 0
        for test_id in ids:
            outcome = run.tests.get(test_id)
            if outcome is not None and outcome.counts_as_pass:
                passed += 1
            else:
                causes[cause_of(outcome)] += 1
                failing.append(test_id)
        scores.append(ModuleScore(module, len(ids), passed, dict(causes),
                                  failing))
    return Score(scores)


def passing_applicable(run: RunResults, reference: Reference,
                       excluded: dict[str, str]) -> set[str]:
    result = set()
    for module in run.modules:
        for test_id in applicable_ids(run, reference, module, excluded):
            outcome = run.tests.get(test_id)
            if outcome is not None and outcome.counts_as_pass:
                result.add(test_id)
    return result
