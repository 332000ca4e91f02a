"""pytest plugin loaded (-p goloop_ecosystem) into a third-party project's
own test run by tests/ecosystem. Environment:

  GOLOOP_ECO_LOOP=goloop|asyncio  goloop: goloop.Policy is the event loop
                                  policy (asyncio.run, asyncio.Runner,
                                  asyncio.new_event_loop and every
                                  loop_factory=None then make goloop loops),
                                  asyncio.EventLoop (3.13+) is goloop.Loop,
                                  and uvicorn's "asyncio"/"auto" loop choice
                                  makes goloop loops. asyncio: nothing forced.
  GOLOOP_ECO_CENSUS=DIR           each process writes DIR/census-PID.json:
                                  how many times a loop of each kind started
                                  running (run_forever), in total and per
                                  test, proving where the tests ran; the
                                  process that reports (not an xdist
                                  worker) writes DIR/outcomes.json: node id
                                  -> passed/failed/error/skipped/xfailed,
                                  and the end of each failure's report.
  GOLOOP_ECO_BLOCKBUSTER=0        `import blockbuster` fails, so a suite
                                  that activates it when installed (anyio's
                                  conftest) runs without it.
  GOLOOP_ECO_BLOCKBUSTER_SCAN=M,N blockbuster is active around each test
                                  (setup, call, teardown), rejecting the
                                  blocking calls made on a loop's thread
                                  from the packages M, N (as anyio's conftest
                                  does for anyio), for suites that do not
                                  turn it on themselves.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sys
import warnings
from collections import Counter
from typing import Any, Callable, ContextManager, Optional

import pytest

_LOOP = os.environ.get("GOLOOP_ECO_LOOP", "asyncio")
_current_test: Optional[str] = None
_totals: Counter = Counter()
_classes: Counter = Counter()
_per_test: dict[str, Counter] = {}
_outcomes: dict[str, str] = {}
_details: dict[str, str] = {}   # node id -> the end of its failure report
_config: Optional[pytest.Config] = None  # this process's own run


def _record(kind: str, loop: Any) -> None:
    _totals[kind] += 1
    _classes[f"{type(loop).__module__}.{type(loop).__qualname__}"] += 1
    key = _current_test or "<outside tests>"
    _per_test.setdefault(key, Counter())[kind] += 1


def _count_runs(cls: type, kind: str) -> None:
    """Wrap cls.run_forever so every loop start is counted as `kind`."""
    original: Callable[..., Any] = cls.run_forever  # type: ignore[attr-defined]

    @functools.wraps(original)
    def run_forever(self: Any) -> Any:
        _record(kind, self)
        return original(self)

    cls.run_forever = run_forever  # type: ignore[attr-defined]


def _force_goloop() -> None:
    import goloop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.14+: policies deprecated
        asyncio.set_event_loop_policy(goloop.Policy())
    # 3.13+: asyncio.EventLoop names asyncio's loop class; suites that build
    # their loop with it (anyio's asyncio_event_loop fixture) get goloop's.
    if hasattr(asyncio, "EventLoop"):
        asyncio.EventLoop = goloop.Loop  # type: ignore[misc,assignment]
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
_BLOCKBUSTER_SCAN = [m for m in os.environ.get("GOLOOP_ECO_BLOCKBUSTER_SCAN", "").split(",") if m]


def _blockbuster() -> ContextManager[Any]:
    if not _BLOCKBUSTER_SCAN:
        return contextlib.nullcontext()
    from blockbuster import blockbuster_ctx

    return blockbuster_ctx(_BLOCKBUSTER_SCAN)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global _config
    _config = config
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
        with _blockbuster():
            yield
    finally:
        _current_test = None


def _reports() -> bool:
    """Outcomes are kept by the process that reports them: not by an
    xdist worker (its controller gets every report, crashes included)."""
    return _config is not None and not hasattr(_config, "workerinput")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _reports():
        return
    nodeid, before = report.nodeid, _outcomes.get(report.nodeid)
    if report.when == "setup":
        if report.failed:
            _outcomes[nodeid] = "error"
        elif report.skipped:
            _outcomes[nodeid] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    elif report.when == "call":
        if report.passed:
            _outcomes[nodeid] = "passed"
        elif report.failed:
            _outcomes[nodeid] = "failed"
        else:
            _outcomes[nodeid] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    elif report.failed and before != "failed":
        _outcomes[nodeid] = "error"  # in teardown
    if report.failed:
        _details[nodeid] = (_details.get(nodeid, "") + f"[{report.when}] "
                            + str(report.longrepr)[-2000:] + "\n")[-4000:]


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed and _reports():
        _outcomes[f"<collection> {report.nodeid}"] = "error"
        _details[f"<collection> {report.nodeid}"] = str(report.longrepr)[-2000:]


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = os.environ.get("GOLOOP_ECO_CENSUS")
    if config is not _config or not directory:
        return
    os.makedirs(directory, exist_ok=True)
    record = {"pid": os.getpid(), "loop": _LOOP, "totals": dict(_totals), "classes": dict(_classes),
              "tests": {k: dict(v) for k, v in _per_test.items()}}
    _write(os.path.join(directory, f"census-{os.getpid()}.json"), record)
    if _reports():
        _write(os.path.join(directory, "outcomes.json"), {"outcomes": _outcomes, "details": _details})


def _write(path: str, data: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)
