"""The HTTP workload: the servers' `http` mode under wrk."""
from __future__ import annotations

import http.client
import re
import subprocess
from dataclasses import dataclass
from typing import Callable

from .results import Results
from .server import Server, ServerError, cpu_seconds, start_servers, stop_noting

EXPECTED_BODY = b"Hello, World!\n"


@dataclass
class WrkConfig:
    wrk: str
    threads: int
    conns: int
    seconds: int
    warmup_seconds: int

    @property
    def row_name(self) -> str:
        return f"GET / keep-alive, {self.conns} conns"


def check(port: int) -> None:
    """Two requests on one keep-alive connection must get the right reply."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(2):
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200 or body != EXPECTED_BODY:
                raise ServerError(f"GET / answered {resp.status} {body[:80]!r}")
    except (OSError, http.client.HTTPException) as exc:
        raise ServerError(f"GET / failed: {exc!r}") from exc
    finally:
        conn.close()


def _count(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def run_wrk(cfg: WrkConfig, port: int, threads: int, conns: int, seconds: int) -> dict[str, float]:
    cmd = [cfg.wrk, f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency",
           f"http://127.0.0.1:{port}/"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise ServerError("wrk did not finish") from None
    text = out.stdout
    requests = _count(r"(\d+) requests in", text)
    if out.returncode != 0 or not requests:
        raise ServerError(f"wrk failed: {text[-400:]} {out.stderr[-400:]}")
    errors = sum(_count(rf"{kind} (\d+)", text) for kind in ("connect", "read", "write", "timeout"))
    non2xx = _count(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx or errors > requests * 0.01:
        raise ServerError(f"wrk saw {non2xx:.0f} non-2xx replies and {errors:.0f} socket errors")
    return {"requests": requests, "rps": _count(r"Requests/sec:\s+([\d.]+)", text),
            "socket_errors": errors, "p50": _latency(text, "50%"), "p99": _latency(text, "99%")}


def _latency(text: str, pct: str) -> float:
    """wrk's latency distribution line in microseconds."""
    found = re.search(rf"{re.escape(pct)}\s+([\d.]+)(us|ms|s)\b", text)
    if not found:
        return 0.0
    scale = {"us": 1.0, "ms": 1e3, "s": 1e6}[found.group(2)]
    return float(found.group(1)) * scale


def run_round(cfg: WrkConfig, order: list[str], env: dict[str, str], results: Results,
              progress: Callable[[str], None]) -> None:
    row = results.row("http", cfg.row_name)
    servers = start_servers(order, "http", env)
    for loop in order:
        server = servers[loop]
        if isinstance(server, str):
            row.cell(loop).errors.append(server)
            continue
        try:
            check(server.port)
            if cfg.warmup_seconds:
                run_wrk(cfg, server.port, 1, 10, cfg.warmup_seconds)
        except ServerError as exc:
            row.cell(loop).errors.append(f"{loop} http warm-up: {exc}")
            stop_noting(server, results.notes)
            servers[loop] = str(exc)
    for loop in order:
        server = servers[loop]
        if not isinstance(server, Server):
            continue
        try:
            before = server.cpu()
            report = run_wrk(cfg, server.port, cfg.threads, cfg.conns, cfg.seconds)
            after = server.cpu()
        except ServerError as exc:
            row.cell(loop).errors.append(f"{loop} http: {exc}")
            continue
        cpu = cpu_seconds(before, after) / report["requests"] * 1e6
        extra = {"requests": report["requests"], "p50_us": report["p50"], "p99_us": report["p99"],
                 "socket_errors": report["socket_errors"],
                 "vcsw_per_req": (after["nvcsw"] - before["nvcsw"]) / report["requests"]}
        row.cell(loop).add(report["rps"], cpu, extra)
        progress(f"http {loop:<8} {report['rps']:>9.0f} req/s {cpu:>7.1f} us/req")
    for server in servers.values():
        if isinstance(server, Server):
            stop_noting(server, results.notes)
