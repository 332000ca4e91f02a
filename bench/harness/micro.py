"""Loop micro-workloads: bench/loop_micro.py in a child process (under the
same environment as the servers), its JSON folded into result rows."""
from __future__ import annotations

import json
import subprocess
import sys

from .env import BENCH
from .results import Results


def run(rounds: int, n: int, env: dict[str, str], results: Results) -> None:
    cmd = [sys.executable, str(BENCH / "loop_micro.py"), "--json", "--rounds", str(rounds), "--n", str(n)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    except subprocess.TimeoutExpired as exc:
        results.skipped.append(f"micro-benchmarks hung (killed after {exc.timeout:.0f} s)")
        return
    try:
        data = json.loads(out.stdout)
    except ValueError:
        results.skipped.append(f"micro-benchmarks failed (status {out.returncode}): {out.stderr[-1500:]}")
        return
    if out.stderr.strip():
        results.notes.append(f"loop_micro.py stderr: {out.stderr.strip()[-1500:]}")
    for workload, per_loop in data["workloads"].items():
        row = results.row("micro", workload, cpu_unit="ns")
        for loop, samples in per_loop.items():
            cell = row.cell(loop)
            cell.errors.extend(f"{loop} {workload}: {e}" for e in samples.get("errors", []))
            for ns, cpu_ns in zip(samples["ns"], samples["cpu_ns"]):
                cell.add(1e9 / ns, cpu_ns)
