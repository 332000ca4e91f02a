"""results.md: the tables a person reads, with the settings beside them."""
from __future__ import annotations

import statistics

from .echo import FLOOR
from .results import LOOPS, PEERS, Cell, Results, Row

GROUPS = {
    "echo": ("Echo servers (server CPU per request)", "req/s", "µs/req"),
    "http": ("HTTP/1.1 keep-alive under wrk (server CPU per request)", "req/s", "µs/req"),
    "micro": ("Loop micro-workloads (in-process; process CPU per operation)", "ops/s", "ns/op"),
}
TARGET = ("1 KiB", 0.8)   # the project's speed target: goloop CPU per 1 KiB echo <= 0.8 x uvloop


def _num(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _one_line(text: str) -> str:
    return " ⏎ ".join(line.strip() for line in text.splitlines() if line.strip())


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def short_reason(error: str, limit: int = 70) -> str:
    """What a table cell says about a failure: the last line of the
    server's stderr (usually the exception) or else the start of the error."""
    head, _, stderr = error.partition("stderr:")
    lines = [line.strip() for line in (stderr or head).splitlines() if line.strip()]
    text = lines[-1] if lines else error.strip()
    text = text.replace("|", "/")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _cells(row: Row, loops: list[str], metric: str) -> list[str]:
    out = []
    for loop in loops:
        cell = row.cells.get(loop)
        if cell is None:
            out.append("—")
            continue
        value = cell.median_ops() if metric == "ops" else cell.median_cpu()
        if value is None and cell.errors:
            out.append(f"failed: {short_reason(cell.errors[-1])}")
            continue
        text = _num(value, 0 if metric == "ops" else 1)
        if cell.errors:
            text += f" ({len(cell.errors)} of {len(cell.errors) + len(cell.cpu)} failed)"
        out.append(text)
    return out


def table(rows: list[Row], loops: list[str], metric: str, unit: str) -> list[str]:
    """One metric ("cpu" or "ops") of every loop, then the best peer of the
    row and goloop's ratios to it, to uvloop and to asyncio."""
    others = [loop for loop in ("uvloop", "asyncio") if loop in loops]
    head = ([f"{loop} {unit}" for loop in loops] + ["best peer", "G/best"]
            + [f"G/{o[0].upper()}" for o in others])
    lines = ["| workload | " + " | ".join(head) + " |", "|---" + "|---:" * len(head) + "|"]
    for row in rows:
        best = row.best_peer(metric)
        cells = (_cells(row, loops, metric)
                 + [best or "—", _ratio(row.ratio(metric, "goloop", best) if best else None)]
                 + [_ratio(row.ratio(metric, "goloop", o)) for o in others])
        lines.append(f"| {row.name} | " + " | ".join(cells) + " |")
    return lines


def versus_best_table(rows: list[Row], loops: list[str]) -> list[str]:
    """Every loop's CPU per operation divided by the row's best peer's."""
    lines = ["| workload | best peer | " + " | ".join(loops) + " |",
             "|---|---" + "|---:" * len(loops) + "|"]
    for row in rows:
        best = row.best_peer("cpu")
        cells = [_ratio(row.ratio("cpu", loop, best) if best else None) for loop in loops]
        cells = ["failed" if text == "—" and loop in row.cells and row.cells[loop].errors else text
                 for loop, text in zip(loops, cells)]
        lines.append(f"| {row.name} | {best or '—'} | " + " | ".join(cells) + " |")
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


def _over_positive(x: float | None, y: float | None) -> float | None:
    """A ratio of two amounts above the floor; none when either is not
    above it (in a noisy run a loop can measure at or below the floor)."""
    return x / y if x is not None and y is not None and x > 0 and y > 0 else None


def floor_table(res: Results, loops: list[str], mode: str) -> list[str]:
    """Per size: the C floor's throughput and CPU (user, system), and what
    each loop spends on the `mode` row above it (medians)."""
    both = "goloop" in loops and "uvloop" in loops
    head = (["req/s", "CPU µs/req", "user µs/req", "system µs/req"]
            + [f"{loop} above floor" for loop in loops] + ["G/best above floor"]
            + (["G/U above floor"] if both else []))
    lines = ["| size | " + " | ".join(head) + " |", "|---" + "|---:" * len(head) + "|"]
    for row in (r for r in res.rows if r.group == "floor"):
        cell = row.cells.get(FLOOR)
        floor = _median_cpu(row, FLOOR)
        loop_row = _find(res, "echo", f"{mode} {row.name}")
        above = [_minus(_median_cpu(loop_row, loop), floor) for loop in loops]
        cells = (_cells(row, [FLOOR], "ops") + _cells(row, [FLOOR], "cpu")
                 + [_num(_median_extra(cell, key), 1) for key in ("user_us_per_req", "sys_us_per_req")]
                 + [_num(x, 1) for x in above])
        best = loop_row.best_peer("cpu") if loop_row else None
        cells.append(_ratio(_over_positive(above[loops.index("goloop")], above[loops.index(best)]))
                     if best in loops and "goloop" in loops else "—")
        if both:
            cells.append(_ratio(_over_positive(above[loops.index("goloop")], above[loops.index("uvloop")])))
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
            lines.append(f"| {loop} | failed: {short_reason(m['error'])} | | | | |")
            continue
        lines.append(f"| {loop} | {m['wakeups_per_s']:.1f} | {m['main_thread_wakeups_per_s']:.1f} | "
                     f"{m['preemptions_per_s']:.1f} | {m['cpu_percent']:.2f} | {m['threads']} |")
    return lines


def loops_line(env: dict[str, object], loops: list[str]) -> str:
    found = env.get("loops", {})
    assert isinstance(found, dict)
    parts = []
    for loop in loops:
        info = found.get(loop, {})
        version = info.get("version", "?")
        parts.append(f"{loop} {version}" if loop != "asyncio" else f"asyncio (stdlib {version})")
    goloop = found.get("goloop", {})
    where = f" from `{goloop.get('file')}`" if goloop.get("file") else ""
    return f"- Loops: {', '.join(parts)}; goloop commit {env.get('goloop_commit')}{where}"


def render(res: Results, command: str) -> str:
    env, cfg = res.env, res.config
    loops = [loop for loop in LOOPS if loop in cfg.get("loops", LOOPS)]
    peers = [loop for loop in loops if loop in PEERS]
    settings = ", ".join(f"`{k}={v}`" for k, v in sorted(env.get("settings", {}).items())
                         if k.startswith(("MALLOC_", "GLIBC_TUNABLES", "GO"))) or "none"
    out = [
        "# goloop benchmark results", "",
        f"`{command}` — {cfg.get('started', '')}, took {res.seconds / 60:.1f} min, "
        f"median of {cfg.get('rounds')} rounds, loops alternating within each round.", "",
        f"- Machine: {env.get('cpu_model')}, {env.get('cpus')} CPUs (shared, noisy), "
        f"load average at start {', '.join(f'{x:.2f}' for x in env.get('loadavg_at_start', []))}; "
        f"{env.get('platform')}, {env.get('libc')}",
        f"- Python {env.get('python')} (`{env.get('python_executable')}`); {env.get('go')}; {env.get('wrk')}",
        loops_line(env, loops),
        f"- Environment of every server and micro-benchmark process, the same for all loops "
        f"(malloc mode `{env.get('malloc_mode')}`): {settings}",
        f"- Echo: Go client `bench/echoclient`, {cfg.get('echo_conns')} connections, "
        f"requests per run by size: {cfg.get('echo_requests')}; "
        f"HTTP: `wrk -t{cfg.get('wrk_threads')} -c{cfg.get('wrk_conns')} -d{cfg.get('wrk_seconds')}s`; "
        f"micro: n = {cfg.get('micro_n')}", "",
        "**CPU per operation** is the figure to read: user + system time of the server process "
        "(all its threads) over exactly the measured client run, divided by the requests served "
        "(micro rows: `time.process_time()` of the benchmark process per operation) — lower is "
        "better; on this machine it moves by about 5 % from run to run, throughput by up to 2×. "
        f"**Best peer**: per row, the best of {', '.join(peers) or 'no peer'} (lowest CPU per "
        "operation; in the throughput tables, highest ops/s). Ratios: G/best = goloop ÷ best peer, "
        "G/U = goloop ÷ uvloop, G/A = goloop ÷ asyncio; below 1 for CPU and above 1 for "
        "throughput favour goloop. *failed: …* is a loop that could not serve that row (the "
        "reason in full under Failures).", "",
        "![CPU per operation and throughput of every loop relative to the best peer](chart.png)", "",
    ]
    for group, (title, ops_unit, cpu_unit) in GROUPS.items():
        rows = [row for row in res.rows if row.group == group]
        if not rows:
            continue
        out += [f"## {title}", "", f"CPU per operation ({cpu_unit}):", ""]
        out += table(rows, loops, "cpu", cpu_unit) + [""]
        out += ["Every loop's CPU per operation ÷ the best peer's:", ""]
        out += versus_best_table(rows, loops) + [""]
        out += [f"Throughput ({ops_unit}):", ""] + table(rows, loops, "ops", ops_unit) + [""]
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
