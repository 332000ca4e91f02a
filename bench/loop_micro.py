"""Loop micro-benchmarks: ns per operation for goloop, stdlib asyncio, uvloop,
rloop, rsloop and zuvloop (those installed), measured in the same run
(alternating, median of several rounds).

    python bench/loop_micro.py [--rounds 5] [--n 200000] [--loops goloop,uvloop] [--json]
    python bench/loop_micro.py --one "sleep(0) ping-pong" --loop goloop --n 20000

Workloads: call_soon + run (N callbacks then one run), call_later + cancel,
call_soon_threadsafe from this thread, call_soon_threadsafe from another
thread while the loop runs, sleep(0) ping-pong between two tasks, gather of
N/10 tiny tasks. Figures are wall-clock ns per operation on a noisy machine;
compare the ratios, not the absolute numbers. --json prints every round's
wall-clock and process CPU ns per operation instead (bench/run.py reads it).
--one runs a single workload once under one loop, n operations, and prints
nothing: bench/callgrind.py counts its instructions at two sizes."""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import threading
import time
from typing import Any, Callable

from harness.loops import LOOPS, PEERS, Factory, available, factory

Took = tuple[float, float]  # wall-clock seconds, process CPU seconds (all threads)


def stamp() -> Took:
    return time.perf_counter(), time.process_time()


def since(t0: Took) -> Took:
    wall, cpu = stamp()
    return wall - t0[0], cpu - t0[1]


def loops(names: tuple[str, ...] = LOOPS) -> dict[str, Factory]:
    """The named loops that import here; goloop must."""
    found, missing = available(names)
    for name, why in missing.items():
        if name == "goloop":
            raise SystemExit(f"goloop does not import: {why}")
        print(f"{name} not installed ({why}; pip install {name}): its column stays empty",
              file=sys.stderr)
    return found


def call_soon_run(loop: asyncio.AbstractEventLoop, n: int) -> Took:
    noop = lambda: None  # noqa: E731
    t0 = stamp()
    for _ in range(n):
        loop.call_soon(noop)
    loop.call_soon(loop.stop)
    loop.run_forever()
    return since(t0)


def call_later_cancel(loop: asyncio.AbstractEventLoop, n: int) -> Took:
    noop = lambda: None  # noqa: E731
    t0 = stamp()
    for _ in range(n):
        loop.call_later(1000.0, noop).cancel()
    loop.call_soon(loop.stop)
    loop.run_forever()
    return since(t0)


def call_soon_threadsafe_run(loop: asyncio.AbstractEventLoop, n: int) -> Took:
    noop = lambda: None  # noqa: E731
    t0 = stamp()
    for _ in range(n):
        loop.call_soon_threadsafe(noop)
    loop.call_soon(loop.stop)
    loop.run_forever()
    return since(t0)


def call_soon_threadsafe_thread(loop: asyncio.AbstractEventLoop, n: int) -> Took:
    """Another thread schedules n callbacks into the running loop."""
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if done == n:
            loop.stop()

    def produce() -> None:
        for _ in range(n):
            loop.call_soon_threadsafe(tick)

    producer = threading.Thread(target=produce)
    t0 = stamp()
    loop.call_soon(producer.start)
    loop.run_forever()
    took = since(t0)
    producer.join()
    return took


def sleep0_pingpong(loop: asyncio.AbstractEventLoop, n: int) -> Took:
    async def spin(k: int) -> None:
        for _ in range(k):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(spin(n // 2), spin(n // 2))

    t0 = stamp()
    loop.run_until_complete(main())
    return since(t0)


def gather_tasks(loop: asyncio.AbstractEventLoop, n: int) -> Took:
    async def leaf() -> int:
        return 1

    async def main() -> None:
        await asyncio.gather(*[leaf() for _ in range(n)])

    t0 = stamp()
    loop.run_until_complete(main())
    return since(t0)


WORKLOADS: dict[str, tuple[Callable[[asyncio.AbstractEventLoop, int], Took], int]] = {
    # name: (function, divisor of --n: gather's operation is a whole task)
    "call_soon+run": (call_soon_run, 1),
    "call_later+cancel": (call_later_cancel, 1),
    "call_soon_threadsafe": (call_soon_threadsafe_run, 1),
    "call_soon_threadsafe (other thread)": (call_soon_threadsafe_thread, 1),
    "sleep(0) ping-pong": (sleep0_pingpong, 1),
    "gather tasks": (gather_tasks, 10),
}


Samples = dict[str, list[Any]]


def measure(factories: dict[str, Factory], rounds: int, n_ops: int,
            keep_going: bool = False) -> dict[str, dict[str, Samples]]:
    """workload -> loop -> {"ns": [...], "cpu_ns": [...], "errors": [...]},
    one entry a round; with keep_going an exception is recorded, not raised."""
    results: dict[str, dict[str, Samples]] = {}
    for _ in range(rounds):
        for wname, (fn, div) in WORKLOADS.items():
            n = n_ops // div
            for lname, make in factories.items():
                cell = results.setdefault(wname, {}).setdefault(lname, {"ns": [], "cpu_ns": [], "errors": []})
                # Start every timed run from the same collector state: the
                # previous run's survivors otherwise decide whether this one
                # pays for one full collection or two (gather: ±15 %).
                gc.collect()
                try:
                    loop = make()
                    try:
                        wall, cpu = fn(loop, n)
                    finally:
                        loop.close()
                except Exception as exc:
                    if not keep_going:
                        raise
                    cell["errors"].append(f"{type(exc).__name__}: {exc}")
                    continue
                cell["ns"].append(wall / n * 1e9)
                cell["cpu_ns"].append(cpu / n * 1e9)
    return results


def run_one(workload: str, loop_name: str, n: int) -> None:
    """One workload, n operations, one loop: the program callgrind counts."""
    fn, _ = WORKLOADS[workload]
    loop = factory(loop_name)()
    try:
        gc.collect()
        fn(loop, n)
    finally:
        loop.close()


def print_table(results: dict[str, dict[str, Samples]], names: list[str], opts: argparse.Namespace) -> None:
    print(f"Python {sys.version.split()[0]}, n={opts.n}, median of {opts.rounds} rounds, "
          "wall-clock ns/op; best peer = fastest of " + ", ".join(p for p in PEERS if p in names))
    print("| workload | " + " | ".join(names) + " | best peer | goloop/best | goloop/uvloop | goloop/asyncio |")
    print("|---" + "|---:" * (len(names) + 4) + "|")
    for wname in WORKLOADS:
        med = {ln: statistics.median(results[wname][ln]["ns"]) for ln in names
               if results[wname][ln]["ns"]}
        peers = [p for p in PEERS if p in med]
        best = min(peers, key=med.__getitem__) if peers else None

        def ratio(other: str | None) -> str:
            if other is None or other not in med or "goloop" not in med:
                return "—"
            return f"{med['goloop'] / med[other]:.2f}"

        cells = " | ".join(f"{med[ln]:.0f}" if ln in med else "failed" for ln in names)
        print(f"| {wname} | {cells} | {best or '—'} | {ratio(best)} | {ratio('uvloop')} | {ratio('asyncio')} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--loops", help="comma-separated subset of " + ",".join(LOOPS))
    ap.add_argument("--json", action="store_true", help="print every round as JSON")
    ap.add_argument("--one", choices=WORKLOADS, metavar="WORKLOAD",
                    help="run this workload once, n operations, under --loop (for callgrind)")
    ap.add_argument("--loop", choices=LOOPS, help="the loop of --one")
    opts = ap.parse_args()
    if opts.one:
        if not opts.loop:
            ap.error("--one needs --loop")
        run_one(opts.one, opts.loop, opts.n)
        return
    wanted = tuple(opts.loops.split(",")) if opts.loops else LOOPS
    unknown = set(wanted) - set(LOOPS)
    if unknown:
        ap.error(f"unknown loops {sorted(unknown)}; known: {','.join(LOOPS)}")
    factories = loops(wanted)
    results = measure(factories, opts.rounds, opts.n, keep_going=True)
    if opts.json:
        json.dump({"n": opts.n, "rounds": opts.rounds, "workloads": results}, sys.stdout)
        print()
        return
    for wname, per_loop in results.items():
        for lname, samples in per_loop.items():
            for err in sorted(set(samples["errors"])):
                print(f"{lname} {wname} failed: {err}", file=sys.stderr)
    print_table(results, list(factories), opts)


if __name__ == "__main__":
    main()
