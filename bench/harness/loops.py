"""The event loops the benchmarks compare, by name, and how to make one.

Imported by the runner and by the scripts that run under a loop
(servers.py, loop_micro.py, callgrind.py): one list, one order, so every
table and chart has the same columns."""
from __future__ import annotations

import asyncio
import importlib
from typing import Callable

Factory = Callable[[], asyncio.AbstractEventLoop]

# Third-party loops goloop is measured against; each module has a
# new_event_loop(). "Best peer" in the reports is the best of these per row.
PEERS = ("uvloop", "rloop", "rsloop", "zuvloop")
# Column order of every table: the reference, the peers, goloop last.
LOOPS = ("asyncio", *PEERS, "goloop")


def factory(name: str) -> Factory:
    """The loop's new_event_loop, importing only that loop's module."""
    if name == "asyncio":
        return asyncio.new_event_loop
    if name not in LOOPS:
        raise ValueError(f"unknown loop {name!r}; known: {', '.join(LOOPS)}")
    module = importlib.import_module(name)
    made: Factory = module.new_event_loop
    return made


def available(names: tuple[str, ...] = LOOPS) -> tuple[dict[str, Factory], dict[str, str]]:
    """The factories of the loops that import here, and why the others don't."""
    found: dict[str, Factory] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            found[name] = factory(name)
        except ImportError as exc:
            missing[name] = f"{type(exc).__name__}: {exc}"
    return found, missing


def version(name: str) -> dict[str, str]:
    """The loop's version and where it was imported from (the goloop under
    test is built in place, so its path matters more than its metadata)."""
    if name == "asyncio":
        import sys

        return {"version": sys.version.split()[0], "file": asyncio.__file__ or "?"}
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        return {"version": "missing", "file": f"{type(exc).__name__}: {exc}"}
    found = str(getattr(module, "__version__", "") or "")
    if not found:
        from importlib import metadata

        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            found = "?"
    return {"version": found, "file": str(getattr(module, "__file__", "?"))}
