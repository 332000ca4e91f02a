"""The echo matrix: modes x message sizes x loops, driven by the Go client."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .results import Results
from .server import Server, ServerError, cpu_seconds, start_servers, stop_noting

MODES = ("sock", "streams", "protocol", "buffered")
KIB = 1024


@dataclass
class EchoConfig:
    client: Path
    conns: int
    requests: dict[int, int]   # message size in bytes -> requests per run
    warmup_fraction: float


def row_name(mode: str, size: int) -> str:
    return f"{mode} {size // KIB} KiB"


def run_client(cfg: EchoConfig, port: int, size: int, requests: int) -> dict[str, float]:
    cmd = [str(cfg.client), "-addr", f"127.0.0.1:{port}", "-conns", str(cfg.conns),
           "-size", str(size), "-requests", str(requests)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise ServerError("echo client did not finish within 300 s") from None
    try:
        report: dict[str, float] = json.loads(out.stdout)
    except ValueError:
        raise ServerError(f"echo client failed: {out.stdout[-500:]} {out.stderr[-500:]}") from None
    if "error" in report or out.returncode != 0:
        raise ServerError(f"echo client: {report.get('error', out.returncode)}")
    return report


def measure(cfg: EchoConfig, server: Server, size: int) -> tuple[float, float, dict[str, float]]:
    """Requests/s, server CPU us/request and extras over one client run."""
    requests = cfg.requests[size]
    before = server.cpu()
    report = run_client(cfg, server.port, size, requests)
    after = server.cpu()
    done = report["requests"]
    extra = {k: report[k] for k in ("seconds", "p50_us", "p90_us", "p99_us", "max_us")}
    extra["vcsw_per_req"] = (after["nvcsw"] - before["nvcsw"]) / done
    extra["ivcsw_per_req"] = (after["nivcsw"] - before["nivcsw"]) / done
    return report["rps"], cpu_seconds(before, after) / done * 1e6, extra


def warm_up(cfg: EchoConfig, server: Server) -> None:
    for size, requests in cfg.requests.items():
        run_client(cfg, server.port, size, max(cfg.conns * 10, int(requests * cfg.warmup_fraction)))


def run_round(cfg: EchoConfig, order: list[str], env: dict[str, str], results: Results,
              progress: Callable[[str], None]) -> None:
    """One round: per mode, a server per loop, then every size with the
    loops alternating in `order`."""
    for mode in MODES:
        servers = start_servers(order, mode, env)
        for loop, server in servers.items():
            if isinstance(server, Server):
                try:
                    warm_up(cfg, server)
                except ServerError as exc:
                    servers[loop] = f"{loop} {mode} warm-up: {exc}"
                    stop_noting(server, results.notes)
        for size in cfg.requests:
            row = results.row("echo", row_name(mode, size))
            for loop in order:
                server = servers[loop]
                if isinstance(server, str):
                    row.cell(loop).errors.append(server)
                    continue
                try:
                    ops, cpu, extra = measure(cfg, server, size)
                except ServerError as exc:
                    row.cell(loop).errors.append(f"{loop} {row.name}: {exc}")
                    stop_noting(server, results.notes)
                    servers[loop] = start_servers([loop], mode, env)[loop]
                    continue
                row.cell(loop).add(ops, cpu, extra)
                progress(f"echo {row.name:<16} {loop:<8} {ops:>9.0f} req/s {cpu:>7.1f} us/req")
        for server in servers.values():
            if isinstance(server, Server):
                stop_noting(server, results.notes)
