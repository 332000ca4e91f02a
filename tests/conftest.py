"""Shared fixtures for goloop's behaviour tests.

Every behaviour test runs twice: once against CPython's own asyncio loop (the
reference, param id ``asyncio``) and once against goloop (param id ``goloop``).
A test passes on goloop only if goloop behaves like the reference, so the
suite is validated by running it against asyncio (``pytest tests -k asyncio``).

goloop is imported lazily, when a goloop-parametrized test starts. If it cannot
be imported the test fails (fixture error); it is never skipped.
"""

import asyncio
import importlib
import importlib.util
import os
import socket
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SRC = os.path.join(REPO, "python")

LOOP_KINDS = ("asyncio", "goloop")


def goloop_import_path():
    """Directory to put on sys.path so that ``import goloop`` works, or None.

    An installed goloop (or one on PYTHONPATH) wins; otherwise the source tree
    ``<repo>/python`` is used (an in-place build puts the extension there).
    """
    if _SRC in sys.path:
        return _SRC
    if importlib.util.find_spec("goloop") is not None:
        return None
    if os.path.isdir(os.path.join(_SRC, "goloop")):
        return _SRC
    return None


def import_goloop():
    """Import goloop, failing (not skipping) the calling test if impossible."""
    path = goloop_import_path()
    if path is not None and path not in sys.path:
        sys.path.insert(0, path)
    try:
        return importlib.import_module("goloop")
    except Exception as exc:  # ImportError, or an error raised while importing
        pytest.fail(f"goloop is not importable: {exc!r}", pytrace=False)


def asyncio_new_loop():
    """The reference loop: asyncio's default loop for this platform."""
    if sys.version_info < (3, 11):
        return asyncio.SelectorEventLoop()
    return asyncio.new_event_loop()


@pytest.fixture(params=LOOP_KINDS)
def loop_factory(request):
    """A zero-argument callable creating a new, not-yet-current loop.

    ``loop_factory.kind`` is "asyncio" or "goloop".
    """
    if request.param == "goloop":
        goloop = import_goloop()

        def factory():
            loop = goloop.new_event_loop()
            assert isinstance(loop, goloop.Loop), type(loop)
            return loop

    else:

        def factory():
            return asyncio_new_loop()

    factory.kind = request.param
    return factory


@pytest.fixture
def loop_kind(loop_factory):
    """The kind of loop under test: "asyncio" or "goloop"."""
    return loop_factory.kind


def _saved_policy():
    return asyncio.events._event_loop_policy


@pytest.fixture(autouse=True)
def _restore_policy():
    """Undo any event loop policy change a test makes (e.g. goloop.install())."""
    saved = _saved_policy()
    yield
    if _saved_policy() is not saved:
        asyncio.set_event_loop_policy(saved)


@pytest.fixture
def loop(loop_factory):
    """A fresh loop of the kind under test, set as the current loop.

    At teardown the loop is closed (after finalizing async generators and the
    default executor, as asyncio.run does) and the current loop is unset.
    """
    lp = loop_factory()
    asyncio.set_event_loop(lp)
    try:
        yield lp
    finally:
        try:
            if not lp.is_closed() and not lp.is_running():
                try:
                    lp.run_until_complete(lp.shutdown_asyncgens())
                    lp.run_until_complete(lp.shutdown_default_executor())
                except Exception:
                    pass
                lp.close()
        finally:
            asyncio.set_event_loop(None)


# --------------------------------------------------------------------------
# Subprocess helper
# --------------------------------------------------------------------------

_PRELUDE = """\
import asyncio, os, signal, sys, threading, time
KIND = {kind!r}

def new_loop():
    if KIND == "goloop":
        import goloop
        return goloop.new_event_loop()
    if sys.version_info < (3, 11):
        return asyncio.SelectorEventLoop()
    return asyncio.new_event_loop()

loop_factory = new_loop

"""


def subprocess_env():
    env = dict(os.environ)
    path = goloop_import_path()
    if path is not None:
        old = env.get("PYTHONPATH")
        env["PYTHONPATH"] = path + (os.pathsep + old if old else "")
    env.pop("PYTHONASYNCIODEBUG", None)
    env["PYTHONFAULTHANDLER"] = "1"
    return env


class SnippetResult(subprocess.CompletedProcess):
    """A CompletedProcess whose repr shows exit code and full output, so that
    ``assert proc.returncode == 0, proc`` explains a failure."""

    def __repr__(self):
        return (
            f"exit code {self.returncode}\n--- stdout ---\n{self.stdout}"
            f"\n--- stderr ---\n{self.stderr}"
        )


def run_snippet(kind, code, timeout=30, env=None, args=()):
    """Run ``code`` in a fresh interpreter for loop ``kind``; return the result.

    The snippet sees ``KIND`` and ``new_loop()`` / ``loop_factory()`` (a new
    loop of that kind) plus asyncio, os, signal, sys, threading, time.
    Returns a SnippetResult (a CompletedProcess, text stdout/stderr). A run that outlives
    ``timeout`` seconds is killed and the calling test fails with its output:
    a hang is a failure.
    """
    assert kind in LOOP_KINDS
    src = _PRELUDE.format(kind=kind) + textwrap.dedent(code)
    full_env = subprocess_env()
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            [sys.executable, *args, "-c", src],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
        )
    except subprocess.TimeoutExpired as exc:
        def _txt(b):
            if b is None:
                return ""
            return b.decode(errors="replace") if isinstance(b, bytes) else b

        pytest.fail(
            f"subprocess ({kind}) did not finish within {timeout}s (hang)\n"
            f"--- stdout ---\n{_txt(exc.stdout)}\n--- stderr ---\n{_txt(exc.stderr)}",
            pytrace=False,
        )
    return SnippetResult(proc.args, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def run_in_subprocess(loop_kind):
    """``run_in_subprocess(code, timeout=30, env=None)`` for the kind under test."""

    def run(code, timeout=30, env=None, args=()):
        return run_snippet(loop_kind, code, timeout=timeout, env=env, args=args)

    return run


@pytest.fixture
def goloop_module():
    """The goloop package (the test fails if it cannot be imported)."""
    return import_goloop()


@pytest.fixture
def snippet_runner():
    """``run_snippet(kind, code, ...)`` for tests not parametrized by loop kind."""
    return run_snippet


@pytest.fixture
def tcp_pair():
    """A connected pair of non-blocking TCP sockets over 127.0.0.1."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    c = socket.create_connection(lsock.getsockname())
    s, _ = lsock.accept()
    lsock.close()
    c.setblocking(False)
    s.setblocking(False)
    yield c, s
    c.close()
    s.close()


@pytest.fixture
def sockpair():
    """A connected pair of non-blocking sockets, closed after the test."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()
