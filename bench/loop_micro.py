"""Loop micro-benchmarks: ns per operation for goloop, stdlib asyncio and
uvloop, measured in the same run (alternating, median of several rounds).

    python bench/loop_micro.py [--rounds 5] [--n 200000] [--json]

Workloads: call_soon + run (N callbacks then one run), call_later + cancel,
call_soon_threadsafe from this thread, call_soon_threadsafe from another
thread while the loop runs, sleep(0) ping-pong between two tasks, gather of
N/10 tiny tasks. Figures are wall-clock ns per operation on a noisy machine;
compare the ratios, not the absolute numbers. --json prints every round's
wall-clock and process CPU ns per operation instead (bench/run.py reads it)."""
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

Factory = Callable[[], asyncio.AbstractEventLoop]
Took = tuple[float, float]  # wall-clock seconds, process CPU seconds (all threads)


def stamp() -> Took:
    return time.perf_counter(), time.process_time()


def since(t0: Took) -> Took:
    wall, cpu = stamp()
    return wall - t0[0], cpu - t0[1]


# The other loops goloop is measured against, each with a new_event_loop().
PEERS = ("uvloop", "rloop", "rsloop", "zuvloop")


def loops() -> dict[str, Factory]:
    found: dict[str, Factory] = {"asyncio": asyncio.new_event_loop}
    for peer in PEERS:
        try:
            found[peer] = __import__(peer).new_event_loop
        except ImportError:
            print(f"{peer} not installed (pip install {peer}): its column stays empty",
                  file=sys.stderr)
    import goloop

    found["goloop"] = goloop.new_event_loop
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


WORKLOADS = {
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
            for lname, factory in factories.items():
                cell = results.setdefault(wname, {}).setdefault(lname, {"ns": [], "cpu_ns": [], "errors": []})
                # Start every timed run from the same collector state: the
                # previous run's survivors otherwise decide whether this one
                # pays for one full collection or two (gather: ±15 %).
                gc.collect()
                try:
                    loop = factory()
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--json", action="store_true", help="print every round as JSON")
    opts = ap.parse_args()
    factories = loops()
    results = measure(factories, opts.rounds, opts.n, keep_going=opts.json)
    if opts.json:
        json.dump({"n": opts.n, "rounds": opts.rounds, "workloads": results}, sys.stdout)
        print()
        return
    names = list(factories)
    print(f"Python {sys.version.split()[0]}, n={opts.n}, median of {opts.rounds} rounds, ns/op")
    header = "| workload | " + " | ".join(names) + " | goloop/asyncio | goloop/uvloop |"
    print(header)
    print("|" + "---|" * (len(names) + 3))
    for wname in WORKLOADS:
        med = {ln: statistics.median(results[wname][ln]["ns"]) for ln in names}
        ratio_a = med["goloop"] / med["asyncio"]
        ratio_u = med["goloop"] / med["uvloop"] if "uvloop" in med else float("nan")
        cells = " | ".join(f"{med[ln]:.0f}" for ln in names)
        print(f"| {wname} | {cells} | {ratio_a:.2f} | {ratio_u:.2f} |")


if __name__ == "__main__":
    main()
