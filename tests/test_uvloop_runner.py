"""Tests of the uvloop-suite runner itself (tests/uvloop_suite), not of
goloop: on a fake uvloop test tree, the worker injects goloop into the
asyncio twins only, and the runner tells passes, failures and a hang at
exit apart."""

from __future__ import annotations

import textwrap

import pytest

pytest.importorskip("uvloop._testbase")

from tests.uvloop_suite.__main__ import run_module, twin_modules  # noqa: E402

FAKE = '''
import asyncio, threading, time, unittest
from uvloop import _testbase as tb

class Test_AIO_Fake(tb.AIOTestCase):
    def test_passes(self):
        self.assertEqual(self.loop.run_until_complete(asyncio.sleep(0, 5)), 5)

    def test_reports_loop(self):
        self.fail("loop=" + type(self.loop).__module__ + " asyncio_branch=" + str(self.is_asyncio_loop()))

class Test_UV_Fake(tb.UVTestCase):
    def test_never_collected(self):
        pass
'''

HANG_AT_EXIT = '''
import threading, time
from uvloop import _testbase as tb

class Test_AIO_Hang(tb.AIOTestCase):
    def test_leaves_a_thread(self):
        threading.Thread(target=time.sleep, args=(3600,)).start()
'''


@pytest.fixture
def fake_root(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "test_fake.py").write_text(textwrap.dedent(FAKE))
    (tmp_path / "tests" / "test_hang.py").write_text(textwrap.dedent(HANG_AT_EXIT))
    (tmp_path / "tests" / "test_uv_only.py").write_text("import unittest\n")
    return tmp_path


def test_twin_modules_lists_modules_with_asyncio_twins(fake_root):
    assert twin_modules(fake_root) == ["test_fake", "test_hang"]


@pytest.mark.parametrize("loop", ["asyncio", "goloop"])
def test_worker_runs_asyncio_twins_on_the_chosen_loop(fake_root, loop):
    run = run_module(fake_root, "test_fake", loop, timeout=120)
    assert run.problem == ""
    assert run.outcomes == {
        "tests.test_fake.Test_AIO_Fake.test_passes": "pass",
        "tests.test_fake.Test_AIO_Fake.test_reports_loop": "fail",
    }
    detail = run.details["tests.test_fake.Test_AIO_Fake.test_reports_loop"]
    if loop == "goloop":
        assert "loop=goloop" in detail and "asyncio_branch=True" in detail
    else:
        assert "loop=asyncio" in detail


def test_worker_runs_only_the_named_tests(fake_root):
    only = ["tests.test_fake.Test_AIO_Fake.test_passes"]
    run = run_module(fake_root, "test_fake", "goloop", timeout=120, only=only)
    assert run.outcomes == {only[0]: "pass"}


def test_hang_at_exit_is_a_problem(fake_root):
    run = run_module(fake_root, "test_hang", "asyncio", timeout=10)
    assert run.outcomes == {"tests.test_hang.Test_AIO_Hang.test_leaves_a_thread": "pass"}
    assert "at exit" in run.problem
