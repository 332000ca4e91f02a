"""Loop micro-benchmarks: ns per operation for goloop, stdlib asyncio and
uvloop, measured in the same run (alternating, median of several rounds).

    python bench/loop_micro.py [--rounds 5] [--n 200000]

Workloads: call_soon + run (N callbacks then one run), call_later + cancel,
call_soon_threadsafe from this thread, sleep(0) ping-pong between two
tasks, gather of N/10 tiny tasks. Figures are wall-clock ns per operation
on a noisy machine; compare the ratios, not the absolute numbers."""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Callable

Factory = Callable[[], asyncio.AbstractEventLoop]


def loops() -> dict[str, Factory]:
    found: dict[str, Factory] = {"asyncio": asyncio.new_event_loop}
    import goloop

    found["goloop"] = goloop.new_event_loop
    try:
        import uvloop

        found["uvloop"] = uvloop.new_event_loop
    except ImportError:
        print("uvloop not installed: pip install uvloop", file=sys.stderr)
    return found


def call_soon_run(loop: asyncio.AbstractEventLoop, n: int) -> float:
    noop = lambda: None  # noqa: E731
    t0 = time.perf_counter()
    for _ in range(n):
        loop.call_soon(noop)
    loop.call_soon(loop.stop)
    loop.run_forever()
    return time.perf_counter() - t0


def call_later_cancel(loop: asyncio.AbstractEventLoop, n: int) -> float:
    noop = lambda: None  # noqa: E731
    t0 = time.perf_counter()
    for _ in range(n):
        loop.call_later(1000.0, noop).cancel()
    loop.call_soon(loop.stop)
    loop.run_forever()
    return time.perf_counter() - t0


def call_soon_threadsafe_run(loop: asyncio.AbstractEventLoop, n: int) -> float:
    noop = lambda: None  # noqa: E731
    t0 = time.perf_counter()
    for _ in range(n):
        loop.call_soon_threadsafe(noop)
    loop.call_soon(loop.stop)
    loop.run_forever()
    return time.perf_counter() - t0


def sleep0_pingpong(loop: asyncio.AbstractEventLoop, n: int) -> float:
    async def spin(k: int) -> None:
        for _ in range(k):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(spin(n // 2), spin(n // 2))

    t0 = time.perf_counter()
    loop.run_until_complete(main())
    return time.perf_counter() - t0


def gather_tasks(loop: asyncio.AbstractEventLoop, n: int) -> float:
    async def leaf() -> int:
        return 1

    async def main() -> None:
        await asyncio.gather(*[leaf() for _ in range(n)])

    t0 = time.perf_counter()
    loop.run_until_complete(main())
    return time.perf_counter() - t0


WORKLOADS = {
    "call_soon+run": (call_soon_run, 1),
    "call_later+cancel": (call_later_cancel, 1),
    "call_soon_threadsafe": (call_soon_threadsafe_run, 1),
    "sleep(0) ping-pong": (sleep0_pingpong, 1),
    "gather tasks": (gather_tasks, 10),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=200_000)
    opts = ap.parse_args()
    factories = loops()
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(opts.rounds):
        for wname, (fn, div) in WORKLOADS.items():
            n = opts.n // div
            for lname, factory in factories.items():
                loop = factory()
                try:
                    took = fn(loop, n)
                finally:
                    loop.close()
                results.setdefault((wname, lname), []).append(took / n * 1e9)
    names = list(factories)
    print(f"Python {sys.version.split()[0]}, n={opts.n}, median of {opts.rounds} rounds, ns/op")
    header = "| workload | " + " | ".join(names) + " | goloop/asyncio | goloop/uvloop |"
    print(header)
    print("|" + "---|" * (len(names) + 3))
    for wname in WORKLOADS:
        med = {ln: statistics.median(results[(wname, ln)]) for ln in names}
        ratio_a = med["goloop"] / med["asyncio"]
        ratio_u = med["goloop"] / med["uvloop"] if "uvloop" in med else float("nan")
        cells = " | ".join(f"{med[ln]:.0f}" for ln in names)
        print(f"| {wname} | {cells} | {ratio_a:.2f} | {ratio_u:.2f} |")


if __name__ == "__main__":
    main()
