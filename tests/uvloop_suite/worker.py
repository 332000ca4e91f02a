"""One uvloop test module's asyncio twins (AIOTestCase subclasses) on one
loop, in a process of its own; one JSON line per test on stdout:
{"id": ..., "outcome": "pass|fail|error|skip", "detail": ...}.

    python tests/uvloop_suite/worker.py TESTS_ROOT MODULE {asyncio,goloop} [TEST_ID ...]

With test ids, only those tests run (the runner's retry of a failure).

Run as a script (not -m) so that `tests` resolves to uvloop's package under
TESTS_ROOT, not to goloop's own tests."""
from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import unittest


def emit(test: unittest.TestCase, outcome: str, detail: str = "") -> None:
    line = json.dumps({"id": test.id(), "outcome": outcome, "detail": detail[-2000:]})
    sys.__stdout__.write(line + "\n")
    sys.__stdout__.flush()


class Recorder(unittest.TestResult):
    def addSuccess(self, test):  # noqa: N802 (unittest's names)
        emit(test, "pass")

    def addFailure(self, test, err):  # noqa: N802
        emit(test, "fail", self._exc_info_to_string(err, test))

    def addError(self, test, err):  # noqa: N802
        emit(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):  # noqa: N802
        emit(test, "skip", reason)

    def addExpectedFailure(self, test, err):  # noqa: N802
        emit(test, "pass", "expected failure")

    def addUnexpectedSuccess(self, test):  # noqa: N802
        emit(test, "fail", "unexpected success")


def inject_goloop(tb) -> None:
    """The asyncio twins get goloop's loop and policy. is_asyncio_loop()
    says yes: goloop promises asyncio's behaviour, so where the tests branch
    on it (uvloop-only extensions, asyncio's known quirks) goloop takes
    asyncio's branch."""
    import goloop

    tb.AIOTestCase.new_loop = lambda self: goloop.new_event_loop()
    tb.AIOTestCase.new_policy = lambda self: goloop.Policy()
    tb.BaseTestCase.is_asyncio_loop = lambda self: True


def main() -> int:
    root, module, loop, only = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4:])
    # Started in the background by a shell without job control, we would
    # inherit SIGINT as ignored, and so would the children test_signals
    # interrupts: they would hang. Python's normal handler, as interactively.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Likewise SIGHUP under nohup (or a CI agent that ignores it): ignored
    # dispositions survive exec, so test_send_signal's child would shrug
    # off its SIGHUP and sleep for an hour. The default, as in a terminal.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    sys.path.insert(0, root)
    os.chdir(root)
    # Progress and tracebacks the tests print go to stderr, not the JSON.
    sys.stdout = sys.stderr
    from uvloop import _testbase as tb

    if loop == "goloop":
        inject_goloop(tb)
    mod = importlib.import_module(f"tests.{module}")
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for name in sorted(dir(mod)):
        obj = getattr(mod, name)
        if isinstance(obj, type) and issubclass(obj, tb.AIOTestCase) and obj is not tb.AIOTestCase:
            for test in loader.loadTestsFromTestCase(obj):
                if not only or test.id() in only:
                    suite.addTest(test)
    suite.run(Recorder())
    sys.__stdout__.write(json.dumps({"done": True}) + "\n")
    sys.__stdout__.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
