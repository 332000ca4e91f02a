"""Loop micro-workloads: bench/loop_micro.py in a child process (under the
same environment as the servers), its JSON folded into result rows.

All loops run in one process, alternating, which is the fair comparison.
A loop that kills that process (a crash in an extension, a hang) would take
every loop's numbers with it, so then each loop runs in a process of its
own, and the one that fails there gets the failure in its cells."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from .env import BENCH
from .results import Results


def _run(loops: list[str], rounds: int, n: int, env: dict[str, str],
         timeout: float) -> tuple[dict[str, Any] | None, str, str]:
    """loop_micro.py's JSON, or None and why; and its stderr."""
    cmd = [sys.executable, str(BENCH / "loop_micro.py"), "--json", "--rounds", str(rounds),
           "--n", str(n), "--loops", ",".join(loops)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return None, f"hung (killed after {exc.timeout:.0f} s)", ""
    try:
        return json.loads(out.stdout), "", out.stderr
    except ValueError:
        return None, f"status {out.returncode}: {out.stderr.strip()[-1200:]}", out.stderr


def _fold(data: dict[str, Any], results: Results) -> None:
    for workload, per_loop in data["workloads"].items():
        row = results.row("micro", workload, cpu_unit="ns")
        for loop, samples in per_loop.items():
            cell = row.cell(loop)
            cell.errors.extend(f"{loop} {workload}: {e}" for e in samples.get("errors", []))
            for ns, cpu_ns in zip(samples["ns"], samples["cpu_ns"]):
                cell.add(1e9 / ns, cpu_ns)


def run(loops: list[str], rounds: int, n: int, env: dict[str, str], results: Results) -> None:
    data, why, stderr = _run(loops, rounds, n, env, timeout=1800)
    if data is not None:
        if stderr.strip():
            results.notes.append(f"loop_micro.py stderr: {stderr.strip()[-1500:]}")
        _fold(data, results)
        return
    results.notes.append(f"loop_micro.py with all loops failed ({why[:600]}); "
                         "each loop measured in a process of its own instead")
    for loop in loops:
        data, why, stderr = _run([loop], rounds, n, env, timeout=600)
        if data is not None:
            _fold(data, results)
            continue
        from loop_micro import WORKLOADS  # bench/ is on sys.path: run.py lives there

        for workload in WORKLOADS:
            results.row("micro", workload, cpu_unit="ns").cell(loop).errors.append(
                f"{loop} micro-workloads process failed: {why}")
