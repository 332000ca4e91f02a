"""Idle cost: wake-ups and CPU of a listening server that gets no traffic,
read from /proc over a fixed window, all loops side by side."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .server import Server, start_servers, stop_noting

TICKS = os.sysconf("SC_CLK_TCK")


def _switches(status: str) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"])


def sample(pid: int) -> dict[str, int]:
    """CPU ticks of the process, context switches of the main thread and of
    all threads (a voluntary switch is a sleep, so one per wake-up)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    main_v, main_nv = _switches(Path(f"/proc/{pid}/status").read_text())
    all_v = all_nv = threads = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            v, nv = _switches((task / "status").read_text())
        except (OSError, KeyError):
            continue  # the thread ended meanwhile
        all_v, all_nv, threads = all_v + v, all_nv + nv, threads + 1
    return {"ticks": ticks, "main_v": main_v, "main_nv": main_nv,
            "all_v": all_v, "all_nv": all_nv, "threads": threads}


def measure(loops: list[str], env: dict[str, str], seconds: float, settle: float,
            notes: list[str]) -> dict[str, dict[str, Any]]:
    servers = start_servers(loops, "protocol", env)
    out: dict[str, dict[str, Any]] = {}
    try:
        time.sleep(settle)
        live = {loop: s for loop, s in servers.items() if isinstance(s, Server)}
        before = {loop: sample(s.pid) for loop, s in live.items()}
        time.sleep(seconds)
        after = {loop: sample(s.pid) for loop, s in live.items()}
        for loop, server in servers.items():
            if not isinstance(server, Server):
                out[loop] = {"error": server}
                continue
            a, b = before[loop], after[loop]
            out[loop] = {
                "seconds": seconds,
                "wakeups_per_s": (b["all_v"] - a["all_v"]) / seconds,
                "preemptions_per_s": (b["all_nv"] - a["all_nv"]) / seconds,
                "main_thread_wakeups_per_s": (b["main_v"] - a["main_v"]) / seconds,
                "cpu_percent": (b["ticks"] - a["ticks"]) / TICKS / seconds * 100,
                "threads": b["threads"],
            }
    finally:
        for server in servers.values():
            if isinstance(server, Server):
                stop_noting(server, notes)
    return out
