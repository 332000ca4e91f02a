"""results.md: the tables a person reads, with the settings beside them."""
from __future__ import annotations

import statistics

from .echo import FLOOR
from .results import LOOPS, Cell, Results, Row

GROUPS = {
    "echo": ("Echo servers (server CPU per request)", "req/s", "CPU µs/req"),
    "http": ("HTTP/1.1 keep-alive under wrk (server CPU per request)", "req/s", "CPU µs/req"),
    "micro": ("Loop micro-workloads (in-process; process CPU per operation)", "ops/s", "CPU ns/op"),
}
TARGET = ("1 KiB", 0.8)   # the project's speed target: goloop CPU per 1 KiB echo <= 0.8 x uvloop


def _num(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _one_line(text: str) -> str:
    return " ⏎ ".join(line.strip() for line in text.splitlines() if line.strip())


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _cells(row: Row, loops: list[str], metric: str) -> list[str]:
    out = []
    for loop in loops:
        cell = row.cells.get(loop)
        if cell is None:
            out.append("—")
            continue
        value = cell.median_ops() if metric == "ops" else cell.median_cpu()
        text = "FAIL" if value is None and cell.errors else _num(value, 0 if metric == "ops" else 1)
        if cell.errors and value is not None:
            text += f" ({len(cell.errors)} failed)"
        out.append(text)
    return out


def table(rows: list[Row], loops: list[str], ops_unit: str, cpu_unit: str) -> list[str]:
    others = [loop for loop in ("uvloop", "asyncio") if loop in loops]
    head = ([f"{loop} {ops_unit}" for loop in loops] + [f"{loop} {cpu_unit}" for loop in loops]
            + [f"G/{o[0].upper()} {ops_unit}" for o in others] + [f"G/{o[0].upper()} CPU" for o in others])
    lines = ["| workload | " + " | ".join(head) + " |", "|---" + "|---:" * len(head) + "|"]
    for row in rows:
        ratios = ([_ratio(row.ratio("ops", "goloop", o)) for o in others]
                  + [_ratio(row.ratio("cpu", "goloop", o)) for o in others])
        cells = _cells(row, loops, "ops") + _cells(row, loops, "cpu") + ratios
        lines.append(f"| {row.name} | " + " | ".join(cells) + " |")
    return lines


def _find(res: Results, group: str, name: str) -> Row | None:
    return next((row for row in res.rows if row.group == group and row.name == name), None)


def _median_cpu(row: Row | None, name: str) -> float | None:
    cell = row.cells.get(name) if row else None
    return cell.median_cpu() if cell else None


def _median_extra(cell: Cell | None, key: str) -> float | None:
    values = [e[key] for e in cell.extra if key in e] if cell else []
    return statistics.median(values) if values else None


def _minus(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else x - y


def _over(x: float | None, y: float | None) -> float | None:
    return x / y if x is not None and y else None


def floor_table(res: Results, loops: list[str], mode: str) -> list[str]:
    """Per size: the C floor's throughput and CPU (user, system), and what
    each loop spends on the `mode` row above it (medians)."""
    both = "goloop" in loops and "uvloop" in loops
    head = (["req/s", "CPU µs/req", "user µs/req", "system µs/req"]
            + [f"{loop} above floor" for loop in loops] + (["G/U above floor"] if both else []))
    lines = ["| size | " + " | ".join(head) + " |", "|---" + "|---:" * len(head) + "|"]
    for row in (r for r in res.rows if r.group == "floor"):
        cell = row.cells.get(FLOOR)
        floor = _median_cpu(row, FLOOR)
        loop_row = _find(res, "echo", f"{mode} {row.name}")
        above = [_minus(_median_cpu(loop_row, loop), floor) for loop in loops]
        cells = (_cells(row, [FLOOR], "ops") + _cells(row, [FLOOR], "cpu")
                 + [_num(_median_extra(cell, key), 1) for key in ("user_us_per_req", "sys_us_per_req")]
                 + [_num(x, 1) for x in above])
        if both:
            cells.append(_ratio(_over(above[loops.index("goloop")], above[loops.index("uvloop")])))
        lines.append(f"| {row.name} | " + " | ".join(cells) + " |")
    return lines


def target_line(res: Results, mode: str) -> str | None:
    """The speed target restated above the floor."""
    size, factor = TARGET
    loop_row = _find(res, "echo", f"{mode} {size}")
    floor = _median_cpu(_find(res, "floor", size), FLOOR)
    uv, go = _median_cpu(loop_row, "uvloop"), _median_cpu(loop_row, "goloop")
    if floor is None or uv is None or go is None or uv <= floor:
        return None
    target, budget = factor * uv, factor * uv - floor
    head = f"Target, goloop ≤ {factor} × uvloop's CPU per request on `{mode} {size}`: ≤ {target:.1f} µs/req"
    if budget <= 0:
        return (f"{head}, below the floor's {floor:.1f}: with the floor's system calls (epoll_wait, "
                f"recv, send) no loop reaches it in this run. Above the floor, goloop spends "
                f"{go - floor:.1f} µs/req, uvloop {uv - floor:.1f}.")
    return (f"{head}, of which the floor takes {floor:.1f}, leaving goloop {budget:.1f} µs/req above "
            f"it — {budget / (uv - floor):.2f} × uvloop's {uv - floor:.1f}; goloop now spends "
            f"{go - floor:.1f} ({(go - floor) / (uv - floor):.2f} ×).")


def floor_section(res: Results, loops: list[str]) -> list[str]:
    cfg, env = res.config, res.env
    mode = cfg.get("floor_mode", "protocol")
    out = ["## Kernel floor (C epoll echo server, no Python)", "",
           f"`{cfg.get('floor_build')}` ({env.get('gcc')}): one thread, level-triggered epoll, "
           "TCP_NODELAY, one `recv()` of up to 256 KiB per readable socket sent straight back — the "
           "system calls every loop has to make, and nothing else. It runs in the "
           f"`{mode}` pass of every round, alternating with the loops, its CPU read the same way "
           "(getrusage over the control channel). User and system are medians taken separately. "
           f"*Above floor*: the loop's CPU µs/req on the `{mode}` row minus the floor's (medians).", ""]
    out += floor_table(res, loops, mode) + [""]
    line = target_line(res, mode)
    return out + ([line, ""] if line else [])


def idle_table(res: Results) -> list[str]:
    lines = ["| loop | wake-ups/s (all threads) | main-thread wake-ups/s | preemptions/s | CPU % | threads |",
             "|---|---:|---:|---:|---:|---:|"]
    for loop, m in res.idle.items():
        if "error" in m:
            lines.append(f"| {loop} | FAIL: {m['error'][:200]} | | | | |")
            continue
        lines.append(f"| {loop} | {m['wakeups_per_s']:.1f} | {m['main_thread_wakeups_per_s']:.1f} | "
                     f"{m['preemptions_per_s']:.1f} | {m['cpu_percent']:.2f} | {m['threads']} |")
    return lines


def render(res: Results, command: str) -> str:
    env, cfg = res.env, res.config
    loops = [loop for loop in LOOPS if loop in cfg.get("loops", LOOPS)]
    settings = ", ".join(f"`{k}={v}`" for k, v in sorted(env.get("settings", {}).items())
                         if k.startswith(("MALLOC_", "GLIBC_TUNABLES", "GO"))) or "none"
    out = [
        "# goloop benchmark results", "",
        f"`{command}` — {cfg.get('started', '')}, took {res.seconds / 60:.1f} min, "
        f"median of {cfg.get('rounds')} rounds, loops alternating within each round.", "",
        f"- Machine: {env.get('cpu_model')}, {env.get('cpus')} CPUs (shared, noisy), "
        f"load average at start {', '.join(f'{x:.2f}' for x in env.get('loadavg_at_start', []))}; "
        f"{env.get('platform')}, {env.get('libc')}",
        f"- Python {env.get('python')}; uvloop {env.get('uvloop', '').split(' ')[0]}; "
        f"goloop {env.get('goloop_commit')}; {env.get('go')}; {env.get('wrk')}",
        f"- Environment of every server and micro-benchmark process, the same for all three loops "
        f"(malloc mode `{env.get('malloc_mode')}`): {settings}",
        f"- Echo: Go client `bench/echoclient`, {cfg.get('echo_conns')} connections, "
        f"requests per run by size: {cfg.get('echo_requests')}; "
        f"HTTP: `wrk -t{cfg.get('wrk_threads')} -c{cfg.get('wrk_conns')} -d{cfg.get('wrk_seconds')}s`; "
        f"micro: n = {cfg.get('micro_n')}", "",
        "Throughput: higher is better. CPU per operation: user + system time of the server process "
        "(all its threads) over exactly the measured client run, divided by the requests served — "
        "lower is better. Ratios: G/U = goloop ÷ uvloop, G/A = goloop ÷ asyncio; above 1 for "
        "throughput and below 1 for CPU favour goloop.", "",
        "![throughput and CPU per operation, relative to asyncio](chart.png)", "",
    ]
    for group, (title, ops_unit, cpu_unit) in GROUPS.items():
        rows = [row for row in res.rows if row.group == group]
        if rows:
            out += [f"## {title}", ""] + table(rows, loops, ops_unit, cpu_unit) + [""]
        if group == "echo" and any(row.group == "floor" for row in res.rows):
            out += floor_section(res, loops)
    if res.idle:
        out += [f"## Idle (listening server, no traffic, {cfg.get('idle_seconds')} s from /proc)", ""]
        out += idle_table(res) + [""]
    if res.failures():
        counted: dict[str, int] = {}
        for row, loop, err in res.failures():
            key = f"- **{row.group} / {row.name} / {loop}**: {_one_line(err)}"
            counted[key] = counted.get(key, 0) + 1
        out += ["## Failures", ""] + [k + (f" (×{n})" if n > 1 else "") for k, n in counted.items()] + [""]
    if res.skipped:
        out += ["## Skipped", ""] + [f"- {s}" for s in res.skipped] + [""]
    if res.notes:
        out += ["## Notes (stderr output and unclean exits)", ""]
        out += [f"- {_one_line(note)[:600]}" for note in res.notes] + [""]
    return "\n".join(out)
