"""results.md: the tables a person reads, with the settings beside them."""
from __future__ import annotations

from .results import LOOPS, Results, Row

GROUPS = {
    "echo": ("Echo servers (server CPU per request)", "req/s", "CPU µs/req"),
    "http": ("HTTP/1.1 keep-alive under wrk (server CPU per request)", "req/s", "CPU µs/req"),
    "micro": ("Loop micro-workloads (in-process; process CPU per operation)", "ops/s", "CPU ns/op"),
}


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
