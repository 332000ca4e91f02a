"""The committed asyncio reference: which tests are *applicable*.

A test is applicable when, run by this same runner with ``--loop asyncio``
on the same CPython minor version, it passed and obtained at least one loop
through the injected policy/factory.  Tests that pass without ever creating
such a loop (mocked loops, ``TestLoop``, stdlib internals) say nothing about
the loop under test, and tests that fail on stock asyncio cannot be asked of
goloop.  The set is computed, never hand-picked; the only manual input is
``not_applicable.txt`` (reviewed exclusions, each with a reason).

Running the reference takes minutes, so it is stored per minor version in
``reference/<major.minor>.json`` and regenerated with
``python -m tests.cpython --loop asyncio --write-reference``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os

from .results import RunResults

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE_DIR = os.path.join(HERE, "reference")
NOT_APPLICABLE_FILE = os.path.join(HERE, "not_applicable.txt")
REGENERATE = "python -m tests.cpython --loop asyncio --write-reference"


class ReferenceMissing(LookupError):
    pass


@dataclasses.dataclass
class ModuleReference:
    tests: int  # tests the reference run executed in this module
    passed: int  # of which passed
    applicable: list[str]  # of which passed AND used the injected loop


@dataclasses.dataclass
class Reference:
    python: str
    generated: str
    duration: float
    modules: dict[str, ModuleReference]

    def applicable(self, module: str) -> list[str]:
        ref = self.modules.get(module)
        return list(ref.applicable) if ref else []

    # -- build / merge ------------------------------------------------------
    @classmethod
    def from_run(cls, run: RunResults) -> "Reference":
        modules: dict[str, ModuleReference] = {}
        for name in run.modules:
            outcomes = run.module_tests(name)
            modules[name] = ModuleReference(
                tests=len(outcomes),
                passed=sum(o.status == "pass" for o in outcomes),
                applicable=sorted(o.id for o in outcomes if o.counts_as_pass))
        return cls(run.python,
                   datetime.datetime.now(datetime.timezone.utc)
                   .strftime("%Y-%m-%dT%H:%M:%SZ"),
                   round(run.duration, 1), modules)

    def merged_into(self, older: "Reference | None") -> "Reference":
        """Replace only the modules this run covered (``--modules`` runs)."""
        if older is None:
            return self
        modules = dict(older.modules)
        modules.update(self.modules)
        duration = self.duration
        if set(self.modules) != set(modules):
            duration = older.duration  # keep the full-run timing
        return Reference(self.python, self.generated, duration, modules)

    # -- files --------------------------------------------------------------
    def save(self, path: str) -> None:
        data = {
            "python": self.python,
            "generated": self.generated,
            "regenerate": REGENERATE,
            "duration_s": self.duration,
            "modules": {k: dataclasses.asdict(v)
                        for k, v in sorted(self.modules.items())},
        }
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")

    @classmethod
    def load(cls, path: str) -> "Reference":
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return cls(data["python"], data["generated"], data["duration_s"],
                   {k: ModuleReference(**v)
                    for k, v in data["modules"].items()})


def reference_path(python_minor: str) -> str:
    return os.path.join(REFERENCE_DIR, f"{python_minor}.json")


def load_reference(python_minor: str, path: str | None = None) -> Reference:
    path = path or reference_path(python_minor)
    if not os.path.exists(path):
        raise ReferenceMissing(
            f"no asyncio reference for Python {python_minor} ({path}); "
            f"generate it with: {REGENERATE}")
    try:
        return Reference.load(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise ReferenceMissing(f"{path} is not a reference file ({exc})"
                               ) from exc


def load_not_applicable(path: str = NOT_APPLICABLE_FILE) -> dict[str, str]:
    """Parse ``ID REASON`` lines; every entry must give a reason."""
    entries: dict[str, str] = {}
    if not os.path.exists(path):
        return entries
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            test_id, _, reason = line.partition(" ")
            if not reason.strip():
                raise ValueError(
                    f"{path}:{lineno}: {test_id!r} needs a one-line reason")
            entries[test_id] = reason.strip()
    return entries
