"""The echo matrix: modes x message sizes x loops, driven by the Go client,
and beside it the kernel floor: the C epoll server bench/floor/echo_floor.c,
once per size and round, in the pass of the mode it is compared with."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .results import Results, Row
from .server import Server, ServerError, cpu_seconds, stop_noting, wait_ready

MODES = ("sock", "streams", "protocol", "buffered")
KIB = 1024
FLOOR = "C floor"         # the C server's cell, next to the loops' cells
FLOOR_MODE = "protocol"   # the mode whose pass the floor runs in, and is compared with


@dataclass
class EchoConfig:
    client: Path
    conns: int
    requests: dict[int, int]   # message size in bytes -> requests per run
    warmup_fraction: float
    floor: Path | None = None   # the built echo_floor binary, or no floor


def size_name(size: int) -> str:
    return f"{size // KIB} KiB"


def row_name(mode: str, size: int) -> str:
    return f"{mode} {size_name(size)}"


def result_row(results: Results, name: str, mode: str, size: int) -> Row:
    """The floor's samples go to the "floor" group, one row per size."""
    if name == FLOOR:
        return results.row("floor", size_name(size))
    return results.row("echo", row_name(mode, size))


def participants(cfg: EchoConfig, order: list[str], mode: str, round_index: int) -> list[str]:
    """The loops in `order`, and in FLOOR_MODE's pass the floor too, at a
    place that moves from round to round as the first loop does."""
    if cfg.floor is None or mode != FLOOR_MODE:
        return list(order)
    where = round_index % (len(order) + 1)
    return order[:where] + [FLOOR] + order[where:]


def launch(cfg: EchoConfig, name: str, mode: str, env: dict[str, str]) -> Server:
    if name == FLOOR:
        assert cfg.floor is not None
        return Server(FLOOR, "echo", env, [str(cfg.floor), "0"])
    return Server(name, mode, env)


def start(cfg: EchoConfig, names: list[str], mode: str, env: dict[str, str]) -> dict[str, Server | str]:
    """One server per name, all started at once; a failure is kept as its text."""
    return wait_ready({name: launch(cfg, name, mode, env) for name in names})


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
    extra["user_us_per_req"] = (after["utime"] - before["utime"]) / done * 1e6
    extra["sys_us_per_req"] = (after["stime"] - before["stime"]) / done * 1e6
    return report["rps"], cpu_seconds(before, after) / done * 1e6, extra


def warm_up(cfg: EchoConfig, server: Server) -> None:
    for size, requests in cfg.requests.items():
        run_client(cfg, server.port, size, max(cfg.conns * 10, int(requests * cfg.warmup_fraction)))


def run_round(cfg: EchoConfig, order: list[str], round_index: int, env: dict[str, str],
              results: Results, progress: Callable[[str], None]) -> None:
    """One round: per mode, a server per loop (and the floor in FLOOR_MODE's
    pass), then every size with the servers alternating in `order`."""
    for mode in MODES:
        names = participants(cfg, order, mode, round_index)
        servers = start(cfg, names, mode, env)
        for name, server in servers.items():
            if isinstance(server, Server):
                try:
                    warm_up(cfg, server)
                except ServerError as exc:
                    servers[name] = f"{name} {mode} warm-up: {exc}"
                    stop_noting(server, results.notes)
        for size in cfg.requests:
            for name in names:
                row = result_row(results, name, mode, size)
                server = servers[name]
                if isinstance(server, str):
                    row.cell(name).errors.append(server)
                    continue
                try:
                    ops, cpu, extra = measure(cfg, server, size)
                except ServerError as exc:
                    row.cell(name).errors.append(f"{name} {row.name}: {exc}")
                    stop_noting(server, results.notes)
                    servers[name] = start(cfg, [name], mode, env)[name]
                    continue
                row.cell(name).add(ops, cpu, extra)
                progress(f"echo {row.name:<16} {name:<8} {ops:>9.0f} req/s {cpu:>7.1f} us/req")
        for server in servers.values():
            if isinstance(server, Server):
                stop_noting(server, results.notes)
