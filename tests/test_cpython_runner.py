"""Tests of the CPython-suite runner itself (tests/cpython), not of goloop.

Kept fast: one real run of a tiny stdlib module on stock asyncio, plus a
fake worker that hangs and crashes on cue to exercise the watchdog.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import unittest

import pytest

from tests.cpython import protocol
from tests.cpython.families import install_variants
from tests.cpython.reference import load_not_applicable
from tests.cpython.supervisor import ModuleSupervisor, SupervisorConfig

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCORE_LINE = re.compile(r"^cpython-suite: (\d+) passed, (\d+) failed$", re.M)


def test_asyncio_run_prints_score_and_proves_injection(tmp_path):
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.cpython", "--loop", "asyncio",
         "--modules", "test_futures2", "--json", str(results),
         "--log-dir", str(tmp_path / "logs")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    match = SCORE_LINE.search(proc.stdout)
    assert match, proc.stdout
    passed, failed = map(int, match.groups())
    assert passed > 0 and failed == 0
    assert "| test_futures2 |" in proc.stdout

    data = json.loads(results.read_text())
    tests = data["tests"]
    assert tests, "no test ran"
    for test_id, outcome in tests.items():
        assert test_id.startswith("test_futures2.")
        assert outcome["status"] == "pass"
        # Every test got its loop through the injected policy, and it was
        # the stdlib loop asyncio.new_event_loop() normally returns.
        assert outcome["injected"] == {
            "asyncio.unix_events._UnixSelectorEventLoop": 1}, outcome


def test_families_get_one_injected_variant_each():
    import test.test_asyncio.test_server as module

    made = []
    families = install_variants(module, lambda: made.append(1))
    by_name = {f.variant.__name__: f for f in families}
    family = by_name["InjectedStartServerTests"]
    assert [m.__name__ for m in family.members] == ["SelectorStartServerTests"]
    variant = family.variant
    assert variant.__module__ == module.__name__
    # Tests defined on the selector class itself are carried over.
    assert "test_start_unix_server_1" in vars(variant)
    variant("test_start_server_1").new_loop()
    assert made == [1]
    assert issubclass(variant, unittest.TestCase)


SETUP_MODULE = textwrap.dedent("""
    import asyncio, unittest
    from unittest import mock

    class Public(unittest.TestCase):
        def setUp(self):
            self.loop = asyncio.SelectorEventLoop()
            self.addCleanup(self.loop.close)

        def test_a(self):
            self.loop.run_until_complete(asyncio.sleep(0))

    class Mocked(unittest.TestCase):
        def setUp(self):
            self.loop = asyncio.SelectorEventLoop()
            self.addCleanup(self.loop.close)

        def test_b(self):
            with mock.patch("os.getpid"):
                pass
""")


def test_setup_built_loops_get_a_variant_unless_mocked(tmp_path, monkeypatch):
    """A class whose setUp builds SelectorEventLoop() gets an injected
    variant when it uses no mock and no private loop attribute."""
    (tmp_path / "setup_mod.py").write_text(SETUP_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import setup_mod

    made = []

    def make_loop():
        import asyncio
        made.append(1)
        return asyncio.new_event_loop()

    families = install_variants(setup_mod, make_loop)
    assert [(f.variant.__name__, [m.__name__ for m in f.members]) for f in families] == [
        ("InjectedPublic", ["Public"])]
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(setup_mod.InjectedPublic).run(result)
    assert result.wasSuccessful() and result.testsRun == 1
    assert made == [1]
    import asyncio
    assert setup_mod.asyncio.SelectorEventLoop is asyncio.unix_events.SelectorEventLoop


FAKE_WORKER = textwrap.dedent("""
    import argparse, os, sys, time
    from tests.cpython import protocol

    p = argparse.ArgumentParser()
    p.add_argument("--loop"); p.add_argument("--module")
    p.add_argument("--events-fd", type=int); p.add_argument("--after")
    p.add_argument("--match", action="append", default=[])
    a = p.parse_args()
    w = protocol.EventWriter(a.events_fd)
    ids = ["m.T.ok1", "m.T.hang", "m.T.crash", "m.T.ok2"]
    w.send("plan", ids=ids, families=[])
    todo = ids[ids.index(a.after) + 1:] if a.after else ids
    for test_id in todo:
        w.send("start", id=test_id)
        if test_id.endswith("hang"):
            time.sleep(600)
        if test_id.endswith("crash"):
            os.abort()
        w.send("result", id=test_id, status="pass", duration=0.0,
               loops={"injected": {"x.Loop": 1}, "other": {}, "wrong_type": 0})
    w.send("done")
""")


def test_watchdog_records_hang_and_crash_then_resumes(tmp_path, monkeypatch):
    (tmp_path / "fake_worker.py").write_text(FAKE_WORKER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    config = SupervisorConfig(loop="asyncio", test_timeout=1.5,
                              module_timeout=60, log_dir=str(tmp_path),
                              worker_module="fake_worker")
    module_run, outcomes = ModuleSupervisor(config, "m").run()
    status = {o.id: o.status for o in outcomes}
    assert status == {"m.T.ok1": protocol.PASS, "m.T.hang": protocol.TIMEOUT,
                      "m.T.crash": protocol.CRASH, "m.T.ok2": protocol.PASS}
    assert module_run.restarts == 2
    assert "SIGABRT" in next(o for o in outcomes if o.id == "m.T.crash").detail


def test_not_applicable_file_parses():
    # Every entry must carry a reason; the file may be empty.
    entries = load_not_applicable()
    assert all(reason for reason in entries.values())


@pytest.mark.parametrize("name", ["tasks", "test_tasks",
                                  "test.test_asyncio.test_tasks"])
def test_module_names_normalize(name):
    from tests.cpython.modules import normalize
    assert normalize(name) == "test_tasks"


def test_worker_that_cannot_load_the_loop_stops_the_run(tmp_path, monkeypatch):
    from tests.cpython.supervisor import FatalWorkerError

    (tmp_path / "fatal_worker.py").write_text(textwrap.dedent("""
        import sys
        from tests.cpython import protocol
        fd = int(sys.argv[sys.argv.index("--events-fd") + 1])
        protocol.EventWriter(fd).send("fatal", detail="cannot import goloop")
        sys.exit(3)
    """))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    config = SupervisorConfig(loop="goloop", log_dir=str(tmp_path),
                              worker_module="fatal_worker")
    with pytest.raises(FatalWorkerError, match="cannot import goloop"):
        ModuleSupervisor(config, "m").run()
