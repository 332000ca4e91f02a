"""Per-test outcomes of one run, and their JSON form (``--json``).

Why a file format at all: the score of a goloop run is computed against an
asyncio reference run, the README combines runs made on four interpreters,
and CI compares against a baseline — all of which happen in different
processes, often on different days.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from . import protocol

FORMAT_VERSION = 1


@dataclasses.dataclass
class Outcome:
    id: str
    module: str
    status: str
    duration: float = 0.0
    injected: dict[str, int] = dataclasses.field(default_factory=dict)
    other: dict[str, int] = dataclasses.field(default_factory=dict)
    wrong_type: int = 0
    detail: str = ""

    @property
    def counts_as_pass(self) -> bool:
        """Passed *on the chosen loop*.

        Passing is not enough: the test must also have obtained at least one
        loop through the injection, and every such loop must be of the
        flavor's type — otherwise it passed on some other loop.
        """
        return (self.status == protocol.PASS
                and sum(self.injected.values()) > 0
                and self.wrong_type == 0)


@dataclasses.dataclass
class ModuleRun:
    name: str
    duration: float = 0.0
    restarts: int = 0
    families: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    # Planned test ids in order (only tests that this run selected).
    planned: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class RunResults:
    loop: str
    loop_version: str
    python: str  # full version, e.g. "3.11.7"
    started: str
    duration: float = 0.0
    match: list[str] = dataclasses.field(default_factory=list)
    modules: dict[str, ModuleRun] = dataclasses.field(default_factory=dict)
    tests: dict[str, Outcome] = dataclasses.field(default_factory=dict)

    @property
    def python_minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    def module_tests(self, module: str) -> list[Outcome]:
        return [o for o in self.tests.values() if o.module == module]

    # -- JSON ---------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "loop": self.loop,
            "loop_version": self.loop_version,
            "python": self.python,
            "started": self.started,
            "duration": round(self.duration, 1),
            "match": self.match,
            "modules": {k: _module_json(v)
                        for k, v in sorted(self.modules.items())},
            "tests": {k: _outcome_json(v)
                      for k, v in sorted(self.tests.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunResults":
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported results format {data.get('format')}")
        run = cls(data["loop"], data["loop_version"], data["python"],
                  data["started"], data["duration"], data.get("match", []))
        run.modules = {k: ModuleRun(**v) for k, v in data["modules"].items()}
        run.tests = {}
        for key, value in data["tests"].items():
            value.setdefault("module", key.split(".", 1)[0])
            run.tests[key] = Outcome(id=key, **value)
        return run

    def save(self, path: str, brief: bool = False) -> None:
        """Write the results; *brief* keeps one line of each error text.

        Brief files (used for the committed README inputs) still carry what
        the reports need — status, loop counts, the final exception line —
        at a fraction of the size of full tracebacks.
        """
        # One test per line: compact, yet diffable when committed.
        data = self.to_json()
        if brief:
            for outcome in data["tests"].values():
                # Durations change on every run: noise in a committed file.
                del outcome["module"], outcome["duration"]
                if outcome.get("detail"):
                    outcome["detail"] = summary_line(outcome["detail"])
        tests = data.pop("tests")
        head = json.dumps(data, separators=(",", ":"))
        lines = [f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}"
                 for k, v in tests.items()]
        with open(path, "w", encoding="utf-8") as f:
            f.write(head[:-1] + ',"tests":{\n' + ",\n".join(lines) + "\n}}\n")

    @classmethod
    def load(cls, path: str) -> "RunResults":
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))


def summary_line(detail: str) -> str:
    """The line that says what went wrong: a traceback's final exception
    line, or the first line of a watchdog/skip message."""
    lines = [ln for ln in detail.splitlines() if ln.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback") or "Traceback (most recent" in detail:
        flush = [ln for ln in lines if not ln.startswith(" ")]
        return flush[-1][:300] if flush else lines[-1][:300]
    return lines[0][:300]


def _module_json(m: ModuleRun) -> dict[str, Any]:
    data = dataclasses.asdict(m)
    del data["planned"]  # the same ids are the keys of "tests"
    return data


def _outcome_json(o: Outcome) -> dict[str, Any]:
    data = dataclasses.asdict(o)
    del data["id"]  # the key
    # Keep the file compact: omit empty/default fields.
    for key in ("injected", "other", "detail"):
        if not data[key]:
            del data[key]
    if not data["wrong_type"]:
        del data["wrong_type"]
    return data
