"""One run of a project's own pytest suite, on stdlib asyncio or forced onto
goloop (plugin/goloop_ecosystem.py), with or without blockbuster: its
outcome per test and the census of the loops that ran."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .projects import Project

PLUGIN_DIR = Path(__file__).with_name("plugin")
FAILED = ("failed", "error")


@dataclass
class Census:
    """Loop starts (run_forever) by kind, and which tests started which."""
    totals: Counter = field(default_factory=Counter)
    classes: Counter = field(default_factory=Counter)
    tests: dict[str, Counter] = field(default_factory=dict)

    def tests_with(self, kind: str) -> list[str]:
        return sorted(t for t, c in self.tests.items() if c.get(kind) and not t.startswith("<"))


@dataclass
class RunResult:
    loop: str
    blockbuster: bool
    outcomes: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    census: Census = field(default_factory=Census)
    seconds: float = 0.0
    problem: str = ""       # timed out, crashed before reporting
    log: Optional[Path] = None

    def count(self) -> Counter:
        return Counter(self.outcomes.values())

    def failed(self) -> set[str]:
        return {t for t, o in self.outcomes.items() if o in FAILED}


def _env(project: Project, loop: str, blockbuster: bool, census_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONASYNCIODEBUG", "PYTEST_ADDOPTS", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    env.update(PYTHONPATH=str(PLUGIN_DIR), PYTHONDONTWRITEBYTECODE="1",
               GOLOOP_ECO_LOOP=loop, GOLOOP_ECO_CENSUS=str(census_dir),
               GOLOOP_ECO_BLOCKBUSTER="1" if blockbuster else "0")
    if blockbuster and project.blockbuster_scan:
        env["GOLOOP_ECO_BLOCKBUSTER_SCAN"] = ",".join(project.blockbuster_scan)
    else:
        env.pop("GOLOOP_ECO_BLOCKBUSTER_SCAN", None)
    return env


def run_suite(project: Project, python: str, src: Path, loop: str, blockbuster: bool,
              logs: Path, only: Optional[list[str]] = None) -> RunResult:
    """Run the suite (or only the node ids in `only`) from the unpacked
    sdist `src` with the venv's `python`."""
    result = RunResult(loop=loop, blockbuster=blockbuster)
    census_dir = Path(tempfile.mkdtemp(prefix=f"{project.name}-{loop}-"))
    tag = f"{project.name}-{loop}-{'bb' if blockbuster else 'nobb'}{'-rerun' if only else ''}"
    result.log = logs / f"{tag}.log"
    cmd = [python, "-m", "pytest", "-p", "goloop_ecosystem", "-p", "no:cacheprovider",
           "-q", "--tb=short", "-rN", *(["-n", "0"] if only and "-n" in project.pytest_args else [])]
    if only:
        cmd += [*_without_k(project.pytest_args), *only]
    else:
        cmd += ["tests", *project.pytest_args]
        for prefix in project.deselect:
            cmd += ["--deselect", prefix]
        if blockbuster:
            for prefix in project.deselect_blockbuster:
                cmd += ["--deselect", prefix]
        if loop == "goloop":
            for prefix in project.deselect_goloop:
                cmd += ["--deselect", prefix]
    start = time.monotonic()
    with open(result.log, "w", encoding="utf-8") as out:
        out.write(" ".join(cmd) + "\n")
        out.flush()
        proc = subprocess.Popen(cmd, cwd=src, env=_env(project, loop, blockbuster, census_dir),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            proc.wait(timeout=project.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            result.problem = f"killed after {project.timeout:.0f} s"
    result.seconds = time.monotonic() - start
    _read(result, census_dir)
    if not result.problem and not (census_dir / "outcomes.json").is_file():
        result.problem = f"pytest exited {proc.returncode} without reporting (see {result.log})"
    elif not result.problem and proc.returncode not in (0, 1):
        result.problem = f"pytest exited {proc.returncode} (see {result.log})"
    shutil.rmtree(census_dir, ignore_errors=True)
    return result


def _without_k(args: tuple[str, ...]) -> list[str]:
    """The project's pytest arguments less its -k/-m selection (a rerun names
    its tests itself)."""
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-k", "-m"):
            skip = True
            continue
        out.append(a)
    return out


def _read(result: RunResult, census_dir: Path) -> None:
    outcomes = census_dir / "outcomes.json"
    if outcomes.is_file():
        data = json.loads(outcomes.read_text(encoding="utf-8"))
        result.outcomes, result.details = data["outcomes"], data["details"]
    for path in census_dir.glob("census-*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        result.census.totals.update(data["totals"])
        result.census.classes.update(data["classes"])
        for test, counts in data["tests"].items():
            result.census.tests.setdefault(test, Counter()).update(counts)
