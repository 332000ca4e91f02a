"""pytest plugin loaded (-p goloop_ecosystem) into a third-party project's
own test run by tests/ecosystem. Environment:

  GOLOOP_ECO_LOOP=goloop|asyncio  goloop: goloop.Policy is the event loop
                                  policy (asyncio.run, asyncio.Runner,
                                  asyncio.new_event_loop and every
                                  loop_factory=None then make goloop loops),
                                  and uvicorn's "asyncio"/"auto" loop choice
                                  makes goloop loops. asyncio: nothing forced.
  GOLOOP_ECO_CENSUS=DIR           each process writes DIR/census-PID.json:
                                  how many times a loop of each kind started
                                  running (run_forever), in total and per
                                  test, proving where the tests ran.
  GOLOOP_ECO_BLOCKBUSTER=0        `import blockbuster` fails, so a suite
                                  that activates it when installed (anyio's
                                  conftest) runs without it.
"""
from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import warnings
from collections import Counter
from typing import Any, Callable, Optional

import pytest

_LOOP = os.environ.get("GOLOOP_ECO_LOOP", "asyncio")
_current_test: Optional[str] = None
_totals: Counter = Counter()
_per_test: dict[str, Counter] = {}


def _record(kind: str) -> None:
    _totals[kind] += 1
    key = _current_test or "<outside tests>"
    _per_test.setdefault(key, Counter())[kind] += 1


def _count_runs(cls: type, kind: str) -> None:
    """Wrap cls.run_forever so every loop start is counted as `kind`."""
    original: Callable[..., Any] = cls.run_forever  # type: ignore[attr-defined]

    @functools.wraps(original)
    def run_forever(self: Any) -> Any:
        _record(kind if type(self).__module__.split(".")[0] != "uvloop" else "uvloop")
        return original(self)

    cls.run_forever = run_forever  # type: ignore[attr-defined]


def _force_goloop() -> None:
    import goloop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.14+: policies deprecated
        asyncio.set_event_loop_policy(goloop.Policy())
    try:
        import uvicorn.loops.asyncio as uvicorn_asyncio
    except ImportError:
        return

    # uvicorn names asyncio.SelectorEventLoop itself for loop="asyncio"
    # (and for "auto" without uvloop): that choice makes goloop loops here.
    def goloop_loop_factory(use_subprocess: bool = False) -> Callable[[], asyncio.AbstractEventLoop]:
        return goloop.new_event_loop

    uvicorn_asyncio.asyncio_loop_factory = goloop_loop_factory


if os.environ.get("GOLOOP_ECO_BLOCKBUSTER") == "0":
    sys.modules["blockbuster"] = None  # type: ignore[assignment]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _count_runs(asyncio.BaseEventLoop, "asyncio")
    if _LOOP == "goloop":
        import goloop

        _count_runs(goloop.Loop, "goloop")
        _force_goloop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Any:
    global _current_test
    _current_test = item.nodeid
    try:
        yield
    finally:
        _current_test = None


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = os.environ.get("GOLOOP_ECO_CENSUS")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    record = {"pid": os.getpid(), "loop": _LOOP, "totals": dict(_totals),
              "tests": {k: dict(v) for k, v in _per_test.items()}}
    path = os.path.join(directory, f"census-{os.getpid()}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f)
