"""Run one test_asyncio module on the chosen loop, streaming per-test events.

Started by the supervisor as ``python -m tests.cpython._worker``; never meant
to be run by hand (though it can be, for debugging, with ``--events-fd 1``).

Why a separate process per module: a loop under development can hang or
kill the interpreter, and module-level state (policies, child watchers,
monkeypatches left by tests) should not leak between modules.  The worker
streams a "start" event before each test and a "result" event after, so
the supervisor can tell which test hung or crashed and restart the module
just after it (``--after``).
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import os
import signal
import sys
import time
import traceback
import types
import unittest
from typing import Any, Iterable, Iterator

from . import protocol
from .families import Family, install_variants
from .flavors import FlavorUnavailable, load_flavor
from .inject import Injection
from .modules import PACKAGE

ID_PREFIX = PACKAGE + "."
DETAIL_HEAD = 1500
DETAIL_TAIL = 2500


def short_id(test: Any) -> str:
    """``test.test_asyncio.test_tasks.X.test_y`` -> ``test_tasks.X.test_y``."""
    full = str(test.id())
    return full[len(ID_PREFIX):] if full.startswith(ID_PREFIX) else full


def clip(text: str) -> str:
    # The end of a traceback names the exception; the start names the test
    # code that failed.  Keep both, drop the middle.
    if len(text) <= DETAIL_HEAD + DETAIL_TAIL:
        return text
    return text[:DETAIL_HEAD] + "\n[...]\n" + text[-DETAIL_TAIL:]


def format_exc(err: Any) -> str:
    return clip("".join(traceback.format_exception(*err)))


def iter_tests(suite: Iterable[Any]) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


# Severity: a test's status is the worst of everything reported for it.
_RANK = {protocol.PASS: 0, protocol.SKIP: 1, protocol.FAIL: 2,
         protocol.ERROR: 3}


class StreamingResult(unittest.TestResult):
    """Turns unittest callbacks into protocol events."""

    def __init__(self, writer: protocol.EventWriter,
                 injection: Injection) -> None:
        super().__init__()
        self._writer = writer
        self._injection = injection
        self._current: unittest.TestCase | None = None
        self._status = protocol.PASS
        self._details: list[str] = []
        self._started = 0.0

    # -- per-test bracketing ------------------------------------------------
    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._current = test
        self._status = protocol.PASS
        self._details = []
        self._injection.begin_test()
        self._writer.send("start", id=short_id(test))
        self._started = time.monotonic()

    def stopTest(self, test: unittest.TestCase) -> None:
        duration = time.monotonic() - self._started
        counts = self._injection.end_test()
        self._writer.send(
            "result", id=short_id(test), status=self._status,
            duration=round(duration, 4),
            loops={"injected": counts.injected, "other": counts.other,
                   "wrong_type": counts.wrong_type},
            detail=clip("\n".join(self._details)))
        self._current = None
        super().stopTest(test)

    def _mark(self, status: str, detail: str) -> None:
        if _RANK[status] > _RANK[self._status]:
            self._status = status
        if detail:
            self._details.append(detail)

    def _is_current(self, test: Any) -> bool:
        return self._current is not None and test is self._current

    # -- outcomes -----------------------------------------------------------
    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        if self._is_current(test):
            self._mark(protocol.ERROR, format_exc(err))
        else:
            # setUpClass/setUpModule/tearDown* failures arrive on an
            # _ErrorHolder outside any startTest/stopTest bracket.
            self._writer.send("fixture", id=str(test.id()),
                              detail=format_exc(err))

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._mark(protocol.FAIL, format_exc(err))

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        # A skipped subtest does not make the whole test a skip.
        if self._is_current(test):
            self._mark(protocol.SKIP, f"skipped: {reason}")

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._details.append("expected failure (counts as pass)")

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self._mark(protocol.FAIL, "unexpected success")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is None:
            return
        status = (protocol.FAIL if issubclass(err[0], test.failureException)
                  else protocol.ERROR)
        self._mark(status, f"{subtest}:\n{format_exc(err)}")


def load_module(name: str, injection: Injection
                ) -> tuple[list[unittest.TestCase], list[Family]]:
    module: types.ModuleType = importlib.import_module(f"{PACKAGE}.{name}")
    families = install_variants(module, injection.new_loop)
    replaced = {m for family in families for m in family.members}
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    tests = [t for t in iter_tests(suite) if type(t) not in replaced]
    return tests, families


def select(tests: list[unittest.TestCase], after: str | None,
           match: list[str]) -> list[unittest.TestCase]:
    if match:
        tests = [t for t in tests if any(m in short_id(t) for m in match)]
    if after is not None:
        ids = [short_id(t) for t in tests]
        if after in ids:
            tests = tests[ids.index(after) + 1:]
    return tests


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.cpython._worker")
    p.add_argument("--loop", required=True)
    p.add_argument("--module", required=True)
    p.add_argument("--events-fd", type=int, required=True)
    p.add_argument("--after", help="skip tests up to and including this id")
    p.add_argument("--match", action="append", default=[],
                   help="only ids containing this substring (repeatable)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    fd = args.events_fd
    if fd > 2:
        # Subprocesses started by tests must not hold the event pipe open.
        os.set_inheritable(fd, False)
    writer = protocol.EventWriter(fd)

    # Crash tracebacks go to the log; SIGUSR1 (sent by the supervisor just
    # before killing a hung worker) dumps every thread's stack there.
    faulthandler.enable(all_threads=True)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # A runner started in the background by a shell without job control
    # inherits SIGINT as ignored; tests that interrupt themselves with
    # _thread.interrupt_main() would then hang.  Give them Python's normal
    # handler, as in an interactive run.  (The worker has its own session,
    # so a Ctrl-C at the terminal reaches only the supervisor.)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    try:
        flavor = load_flavor(args.loop)
    except FlavorUnavailable as exc:
        writer.send("fatal", detail=str(exc))
        return 3
    injection = Injection(flavor)
    injection.install()

    try:
        tests, families = load_module(args.module, injection)
    except unittest.SkipTest as exc:
        writer.send("module_skip", detail=str(exc))
        writer.send("done")
        return 0
    except BaseException:
        writer.send("module_error", detail=clip(traceback.format_exc()))
        return 4

    writer.send("plan", ids=[short_id(t) for t in select(tests, None, args.match)],
                families=[f.describe() for f in families])
    to_run = select(tests, args.after, args.match)
    result = StreamingResult(writer, injection)
    unittest.TestSuite(to_run).run(result)
    writer.send("done")
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter shutdown: threads leaked by a failing test (or by the
    # loop under test) would otherwise make a finished worker hang in
    # threading._shutdown, which the supervisor would report as a timeout.
    os._exit(code)
