"""Instructions per operation of the loop micro-workloads, under callgrind.

    python bench/callgrind.py [--loops goloop,uvloop] [--workloads "call_soon+run"]
                              [--n 20000] [--split] [--repeat 1] [--jobs 1]
                              [--out bench/results] [--keep DIR] [--python BINARY]

For each loop and workload, bench/loop_micro.py --one runs the workload
once under `valgrind --tool=callgrind`, at n and at 2n operations; the
difference of the two instruction counts divided by n is the cost of one
operation, with the interpreter's start-up, the imports and the loop's
creation cancelled out. Unlike time, it does not depend on what else the
machine is doing, so it is the figure to compare loops with on a noisy
machine (it counts instructions, not cache misses or system calls: the
kernel's share of the work is not in it). --split adds where the
instructions are executed: the interpreter (with its own C modules),
the loop's own extension, libc, the rest (self cost per object file,
read from the callgrind output; callgrind.json keeps every object file).

The interpreter must be the binary itself (the default, sys.executable, is;
a pyenv shim is a shell script). Every loop runs with GODEBUG=asyncpreemptoff=1:
callgrind does not survive the Go runtime's preemption signal, and the
setting does nothing to the other loops. PYTHONHASHSEED is fixed so that two
runs execute the same dict and set operations."""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.env import BENCH, REPO, child_env, describe
from harness.loops import LOOPS, PEERS, available
from loop_micro import WORKLOADS

CATEGORIES = ("python", "loop extension", "libc", "other")
TOTAL_LINE = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.M)


@dataclass
class Measure:
    loop: str
    workload: str
    ops: int                          # n: operations of the smaller run
    instructions: list[int] = field(default_factory=list)   # at n and 2n, first repetition
    samples: list[float] = field(default_factory=list)       # instructions/op, one per repetition
    per_op: float | None = None                              # their median
    split: dict[str, float] = field(default_factory=dict)  # category -> instructions/op
    objects: dict[str, float] = field(default_factory=dict)  # object file -> instructions/op
    error: str = ""


def check_interpreter(python: str) -> str:
    """The interpreter's path if valgrind can run it directly (an ELF file)."""
    with open(python, "rb") as f:
        if f.read(4) != b"\x7fELF":
            raise SystemExit(f"{python} is not an executable binary (a pyenv shim?): pass the "
                             "interpreter itself, e.g. --python ~/.pyenv/versions/3.11.7/bin/python3.11")
    return python


def callgrind(python: str, env: dict[str, str], m: Measure, ops: int, outfile: Path) -> int:
    cmd = ["valgrind", "--tool=callgrind", "-q", f"--callgrind-out-file={outfile}",
           python, str(BENCH / "loop_micro.py"), "--one", m.workload, "--loop", m.loop, "--n", str(ops)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0 or not outfile.exists():
        lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(f"status {out.returncode}: {lines[-1] if lines else 'no output'}")
    found = TOTAL_LINE.search(outfile.read_bytes())
    if not found:
        raise RuntimeError(f"no instruction total in {outfile}")
    return int(found.group(1))


def _name(value: str, names: dict[str, str]) -> str:
    """A compressed callgrind name: "(7) /path" defines id 7, "(7)" uses it."""
    if not value.startswith("("):
        return value
    ident, _, name = value[1:].partition(")")
    name = name.strip()
    if name:
        names[ident] = name
    return names.get(ident, value)


def objects(outfile: Path) -> collections.Counter[str]:
    """Instructions executed in each object file (self cost: every cost line
    except the one after `calls=`, which is the callee's inclusive cost).
    Read from callgrind's own file: callgrind_annotate does not name the
    object of functions it has source files for."""
    counts: collections.Counter[str] = collections.Counter()
    names: dict[str, str] = {}
    obj, positions, call_cost = "?", 1, False
    with open(outfile, encoding="utf-8", errors="replace") as f:
        for line in f:
            head = line[:1]
            if head.isdigit() or head in "+-*":
                fields = line.split()
                if call_cost:
                    call_cost = False
                elif len(fields) > positions:
                    counts[obj] += int(fields[positions])
            elif line.startswith("ob="):
                obj = _name(line[3:].strip(), names)
            elif line.startswith("cob="):
                _name(line[4:].strip(), names)   # may define an id used by a later ob=
            elif line.startswith("calls="):
                call_cost = True
            elif line.startswith("positions:"):
                positions = len(line.split()) - 1
    return counts


def category(obj: str, loop: str, python: str) -> str:
    """python: the interpreter and its own C modules (lib-dynload: _asyncio,
    select, _socket, ...) except, for stdlib asyncio, _asyncio, which is
    that loop's extension."""
    name = os.path.basename(obj)
    if (f"/{loop}/" in obj) or (loop == "asyncio" and name.startswith("_asyncio")):
        return "loop extension"
    if (os.path.realpath(obj) == os.path.realpath(python) or name.startswith("libpython")
            or "/lib-dynload/" in obj):
        return "python"
    if name.startswith(("libc.so", "libc-")):
        return "libc"
    return "other"


def measure_one(python: str, env: dict[str, str], m: Measure, split: bool, repeat: int,
                workdir: Path) -> Measure:
    files = [workdir / f"{m.loop}.{m.workload}.{k}".replace(" ", "_").replace("/", "_")
             for k in (m.ops, 2 * m.ops)]
    try:
        for _ in range(repeat):
            counts = [callgrind(python, env, m, k, f) for k, f in zip((m.ops, 2 * m.ops), files)]
            m.instructions = m.instructions or counts
            m.samples.append((counts[1] - counts[0]) / m.ops)
            if split and not m.objects:
                small, large = objects(files[0]), objects(files[1])
                for obj in sorted(set(small) | set(large)):
                    per_op = (large[obj] - small[obj]) / m.ops
                    m.objects[obj] = per_op
                    key = category(obj, m.loop, python)
                    m.split[key] = m.split.get(key, 0.0) + per_op
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        m.error = str(exc)
        return m
    m.per_op = statistics.median(m.samples)
    return m


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{round(x):,}"   # round(): no "-0"


def _spread(samples: list[float]) -> str:
    """" ±x %" when repetitions differ by more than 1 % (threads interleave
    differently from run to run under valgrind's scheduler)."""
    if len(samples) < 2:
        return ""
    mid = statistics.median(samples)
    half = (max(samples) - min(samples)) / 2 / mid * 100 if mid else 0.0
    return f" ±{half:.0f} %" if half >= 1 else ""


def _ratio(x: float | None, y: float | None) -> str:
    return "—" if x is None or not y else f"{x / y:.2f}"


def table(results: list[Measure], loops: list[str], workloads: list[str]) -> list[str]:
    """workload x loop instructions/op, with the best peer and goloop's ratios."""
    cell = {(m.workload, m.loop): m for m in results}
    lines = ["| workload | " + " | ".join(loops) + " | best peer | G/best | G/U | G/A |",
             "|---" + "|---:" * (len(loops) + 4) + "|"]
    for w in workloads:
        value = {loop: cell[w, loop].per_op for loop in loops if (w, loop) in cell}
        peers = [p for p in PEERS if value.get(p) is not None]
        best = min(peers, key=lambda p: value[p] or 0.0) if peers else None
        texts = []
        for loop in loops:
            m = cell.get((w, loop))
            texts.append("—" if m is None else (f"failed: {m.error[:60]}" if m.error else
                                                 _fmt(m.per_op) + _spread(m.samples)))
        go = value.get("goloop")
        lines.append(f"| {w} | " + " | ".join(texts) + f" | {best or '—'} | "
                     f"{_ratio(go, value.get(best) if best else None)} | "
                     f"{_ratio(go, value.get('uvloop'))} | {_ratio(go, value.get('asyncio'))} |")
    return lines


def split_table(results: list[Measure]) -> list[str]:
    lines = ["| workload | loop | total | " + " | ".join(CATEGORIES) + " |",
             "|---|---" + "|---:" * (len(CATEGORIES) + 1) + "|"]
    for m in results:
        if m.per_op is None:
            continue
        lines.append(f"| {m.workload} | {m.loop} | {_fmt(sum(m.split.values()))} | "
                     + " | ".join(_fmt(m.split.get(c, 0.0)) for c in CATEGORIES) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loops", help="comma-separated subset of " + ",".join(LOOPS) + " (default: installed)")
    ap.add_argument("--workloads", help="';'-separated subset of: " + "; ".join(WORKLOADS))
    ap.add_argument("--n", type=int, default=20_000,
                    help="operations of the smaller run (gather: tasks = n/10); the larger is 2n")
    ap.add_argument("--split", action="store_true", help="also split by object file")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure each pair this many times, report the median (and the spread if > 1 %%)")
    ap.add_argument("--jobs", type=int, default=1, help="valgrind runs at once (counts do not depend on it)")
    ap.add_argument("--python", default=sys.executable, help="the interpreter binary (not a shim)")
    ap.add_argument("--out", type=Path, help="write callgrind.md and callgrind.json into this directory")
    ap.add_argument("--keep", type=Path, help="keep the callgrind.out files in this directory")
    opts = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind missing (apt-get install -y valgrind)")
    python = check_interpreter(opts.python)
    env = child_env("tuned")
    env.update({"GODEBUG": "asyncpreemptoff=1", "PYTHONHASHSEED": "0"})
    wanted = tuple(opts.loops.split(",")) if opts.loops else LOOPS
    sys.path.insert(0, str(REPO / "python"))   # the goloop the runs import (child_env's PYTHONPATH)
    found, missing = available(wanted)   # what imports here, to skip the rest at once
    for name, why in missing.items():
        print(f"{name} skipped: {why}", file=sys.stderr)
    loops = [loop for loop in LOOPS if loop in found]
    workloads = opts.workloads.split(";") if opts.workloads else list(WORKLOADS)
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workloads {unknown}; known: {'; '.join(WORKLOADS)}")
    jobs = [Measure(loop, w, max(1, opts.n // WORKLOADS[w][1])) for w in workloads for loop in loops]
    workdir = opts.keep or Path(tempfile.mkdtemp(prefix="goloop-callgrind-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with ThreadPoolExecutor(max(1, opts.jobs)) as pool:
            results = list(pool.map(
                lambda m: measure_one(python, env, m, opts.split, max(1, opts.repeat), workdir), jobs))
    finally:
        if opts.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for m in results:
        print(f"{m.loop:<8} {m.workload:<36} " + (f"failed: {m.error}" if m.error else
              f"{m.per_op:>9,.0f} instructions/op ({m.instructions[0]:,} at n={m.ops}, "
              f"{m.instructions[1]:,} at 2n; every repetition: "
              f"{', '.join(f'{x:,.0f}' for x in m.samples)})"), file=sys.stderr)
    info = describe(env, "tuned")
    versions = ", ".join(f"{loop} {info['loops'].get(loop, {}).get('version', '?')}" for loop in loops)
    head = [f"Python {info['python']} (`{python}`), {versions}; goloop commit {info['goloop_commit']}; "
            f"{subprocess.run(['valgrind', '--version'], capture_output=True, text=True).stdout.strip()}; "
            f"n = {opts.n} and {2 * opts.n} operations (gather: tasks = n/10); "
            f"instructions per operation = (I(2n) − I(n)) / n, median of {max(1, opts.repeat)}", ""]
    lines = head + table(results, loops, workloads)
    if opts.split:
        lines += ["", "Instructions per operation by where they execute (self cost per object "
                  "file, first repetition; *python* includes the interpreter's "
                  "own C modules such as _asyncio, except for asyncio itself):", ""] + split_table(results)
    text = "\n".join(lines)
    print(text)
    if opts.out:
        opts.out.mkdir(parents=True, exist_ok=True)
        (opts.out / "callgrind.md").write_text("# Instructions per operation (callgrind)\n\n"
                                               f"`python bench/callgrind.py {' '.join(sys.argv[1:])}`\n\n"
                                               + text + "\n")
        (opts.out / "callgrind.json").write_text(json.dumps(
            {"env": info, "n": opts.n, "results": [asdict(m) for m in results]}, indent=1) + "\n")


if __name__ == "__main__":
    main()
