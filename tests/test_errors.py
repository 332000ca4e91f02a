"""Argument validation and exception handling.

Bad arguments must raise the same exception type (and, where asyncio's
message is stable across 3.10-3.13, the same message) as the reference loop,
because callers catch them. Exceptions escaping callbacks must reach the
exception handler with asyncio's context keys, and SystemExit /
KeyboardInterrupt must escape the loop without breaking it.
"""

import asyncio
import errno
import logging
import os
import socket
import sys
import tempfile

import pytest


def run_briefly(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


def dummy():
    pass


async def coro_func():
    pass


# -- argument validation ---------------------------------------------------


@pytest.mark.parametrize("method", ["call_soon", "call_soon_threadsafe", "call_later"])
def test_debug_non_callable_rejected(loop, method):
    """In debug mode scheduling a non-callable raises TypeError 'a callable
    object was expected by <method>(), got 1' (call_later reports call_at)."""
    loop.set_debug(True)
    call = {
        "call_soon": lambda: loop.call_soon(1),
        "call_soon_threadsafe": lambda: loop.call_soon_threadsafe(1),
        "call_later": lambda: loop.call_later(1, 1),
    }[method]
    name = "call_at" if method == "call_later" else method
    with pytest.raises(TypeError, match=rf"a callable object was expected by {name}\(\), got 1"):
        call()


@pytest.mark.parametrize("kind", ["coroutine object", "coroutine function"])
def test_debug_coroutine_callback_rejected(loop, kind):
    """In debug mode a coroutine or coroutine function as callback raises
    TypeError 'coroutines cannot be used with call_soon()'."""
    loop.set_debug(True)
    cb = coro_func() if kind == "coroutine object" else coro_func
    try:
        with pytest.raises(TypeError, match=r"coroutines cannot be used with call_soon\(\)"):
            loop.call_soon(cb)
    finally:
        if kind == "coroutine object":
            cb.close()


def test_non_callable_accepted_without_debug(loop):
    """Without debug mode asyncio does not validate the callback: call_soon(1)
    returns a handle and the TypeError surfaces when it runs, through the
    exception handler."""
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    h = loop.call_soon(1)
    run_briefly(loop)
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], TypeError)
    assert contexts[0]["handle"] is h


def test_call_later_non_number_delay(loop):
    """call_later with a non-numeric delay raises TypeError."""
    with pytest.raises(TypeError):
        loop.call_later("1", dummy)
    with pytest.raises(TypeError):
        loop.call_later(object(), dummy)


def test_call_later_none_delay(loop):
    """call_later(None, ...) raises TypeError (3.11+: 'delay must not be None')."""
    if sys.version_info >= (3, 11):
        with pytest.raises(TypeError, match="delay must not be None"):
            loop.call_later(None, dummy)
    else:
        with pytest.raises(TypeError):
            loop.call_later(None, dummy)


def test_call_at_none(loop):
    """call_at(None, ...): TypeError 'when cannot be None' on 3.11+.
    3.10's asyncio only trips an internal ``assert`` (AssertionError); the
    3.11+ TypeError is accepted there too."""
    if sys.version_info >= (3, 11):
        with pytest.raises(TypeError, match="when cannot be None"):
            loop.call_at(None, dummy)
    else:
        with pytest.raises((TypeError, AssertionError)):
            loop.call_at(None, dummy)


def test_create_task_non_coroutine(loop):
    """create_task(non-coroutine) raises TypeError 'a coroutine was expected,
    got ...'."""
    with pytest.raises(TypeError, match="a coroutine was expected, got 1"):
        loop.create_task(1)
    fut = loop.create_future()
    with pytest.raises(TypeError, match="a coroutine was expected"):
        loop.create_task(fut)


def test_run_until_complete_non_awaitable(loop):
    """run_until_complete(non-awaitable) raises TypeError 'An asyncio.Future,
    a coroutine or an awaitable is required'."""
    with pytest.raises(TypeError, match="An asyncio.Future, a coroutine or an awaitable is required"):
        loop.run_until_complete(1)
    assert loop.run_until_complete(asyncio.sleep(0, result=3)) == 3


def test_run_in_executor_coroutine_function_debug(loop):
    """In debug mode run_in_executor(None, coroutine_function) raises
    TypeError 'coroutines cannot be used with run_in_executor()'."""
    loop.set_debug(True)
    with pytest.raises(TypeError, match=r"coroutines cannot be used with run_in_executor\(\)"):
        loop.run_in_executor(None, coro_func)


@pytest.mark.parametrize(
    "fd, exc, msg",
    [
        (-1, ValueError, "Invalid file descriptor: -1"),
        ("x", ValueError, "Invalid file object: 'x'"),
        (1.5, ValueError, "Invalid file object: 1.5"),
        (None, ValueError, "Invalid file object: None"),
    ],
)
@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_add_reader_writer_bad_fd(loop, method, fd, exc, msg):
    """add_reader/add_writer with an invalid fd or file object raise
    ValueError with asyncio's message."""
    with pytest.raises(exc) as info:
        getattr(loop, method)(fd, dummy)
    assert str(info.value) == msg


@pytest.mark.parametrize("method", ["remove_reader", "remove_writer"])
def test_remove_reader_writer_bad_fd(loop, method):
    """remove_reader/remove_writer validate the fd the same way."""
    with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
        getattr(loop, method)(-1)
    with pytest.raises(ValueError, match="Invalid file object: 'x'"):
        getattr(loop, method)("x")


def _unused_fd():
    for fd in range(900, 1000):
        try:
            os.fstat(fd)
        except OSError:
            return fd
    pytest.fail("no unused fd number found")


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_add_reader_closed_fd(loop, method):
    """An fd number that is not open raises OSError(EBADF) (from epoll)."""
    fd = _unused_fd()
    with pytest.raises(OSError) as info:
        getattr(loop, method)(fd, dummy)
    assert info.value.errno == errno.EBADF
    assert getattr(loop, method.replace("add", "remove"))(fd) is False


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_add_reader_regular_file(loop, method):
    """A regular file cannot be polled: PermissionError(EPERM), as epoll
    reports; nothing stays registered."""
    with tempfile.TemporaryFile() as f:
        with pytest.raises(PermissionError) as info:
            getattr(loop, method)(f.fileno(), dummy)
        assert info.value.errno == errno.EPERM
        assert getattr(loop, method.replace("add", "remove"))(f.fileno()) is False


def test_set_exception_handler_non_callable(loop):
    """set_exception_handler(non-callable) raises TypeError 'A callable object
    or None is expected, got 1'."""
    with pytest.raises(TypeError, match="A callable object or None is expected, got 1"):
        loop.set_exception_handler(1)
    assert loop.get_exception_handler() is None


# -- exception handler -----------------------------------------------------


def test_exception_handler_roundtrip(loop):
    """get_exception_handler returns what set_exception_handler set; None by
    default and after resetting."""
    assert loop.get_exception_handler() is None

    def handler(lp, ctx):
        pass

    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


def test_callback_exception_goes_to_handler(loop):
    """An exception in a callback is passed to the handler as (loop, context)
    with 'message', 'exception' and 'handle'; the loop keeps running."""
    calls = []

    def handler(lp, ctx):
        calls.append((lp, ctx))

    loop.set_exception_handler(handler)
    err = ValueError("in callback")

    def bad():
        raise err

    after = []
    h = loop.call_soon(bad)
    loop.call_soon(after.append, "ran")
    run_briefly(loop)
    assert after == ["ran"]
    assert len(calls) == 1
    lp, ctx = calls[0]
    assert lp is loop
    assert {"message", "exception", "handle"} <= set(ctx)
    assert ctx["exception"] is err
    assert ctx["handle"] is h
    assert ctx["message"].startswith("Exception in callback ")
    assert "bad" in ctx["message"]


def test_timer_callback_exception_goes_to_handler(loop):
    """Same for timer callbacks: 'handle' is the TimerHandle."""
    calls = []
    loop.set_exception_handler(lambda lp, ctx: calls.append(ctx))

    def bad():
        raise KeyError("k")

    h = loop.call_later(0, bad)
    loop.call_later(0.01, loop.stop)
    loop.call_later(30, loop.stop)
    loop.run_forever()
    assert len(calls) == 1
    assert calls[0]["handle"] is h
    assert isinstance(calls[0]["exception"], KeyError)


def test_default_exception_handler_logs(loop, caplog):
    """Without a custom handler, callback errors are logged at ERROR on the
    'asyncio' logger with the message and the exception's traceback."""

    def bad_callback_for_log():
        raise ValueError("logged error")

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_soon(bad_callback_for_log)
        run_briefly(loop)
    recs = [r for r in caplog.records if r.name == "asyncio"]
    assert len(recs) == 1
    rec = recs[0]
    assert rec.levelno == logging.ERROR
    msg = rec.getMessage()
    assert msg.startswith("Exception in callback ")
    assert "bad_callback_for_log" in msg
    assert "handle:" in msg
    assert rec.exc_info and rec.exc_info[0] is ValueError


def test_default_exception_handler_direct_call(loop, caplog):
    """default_exception_handler(context) logs the message followed by the
    other context keys, one 'key: repr(value)' per line."""
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.default_exception_handler({"message": "custom message", "extra_key": "extra"})
    recs = [r for r in caplog.records if r.name == "asyncio"]
    assert len(recs) == 1
    msg = recs[0].getMessage()
    assert msg.splitlines() == ["custom message", "extra_key: 'extra'"]


def test_call_exception_handler_uses_custom_handler(loop):
    """call_exception_handler(context) invokes the custom handler with the
    same context dict contents."""
    got = []
    loop.set_exception_handler(lambda lp, ctx: got.append(ctx))
    loop.call_exception_handler({"message": "hello", "k": 1})
    assert got == [{"message": "hello", "k": 1}]


def test_failing_custom_handler_falls_back_to_default(loop, caplog):
    """If the custom handler raises, asyncio logs 'Unhandled error in
    exception handler' (with the original context) via the default handler;
    nothing propagates."""

    def handler(lp, ctx):
        raise RuntimeError("handler broke")

    loop.set_exception_handler(handler)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_exception_handler({"message": "original problem"})
    msgs = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert len(msgs) == 1
    assert msgs[0].startswith("Unhandled error in exception handler")
    assert "original problem" in msgs[0]
    rec = [r for r in caplog.records if r.name == "asyncio"][0]
    assert rec.exc_info and rec.exc_info[0] is RuntimeError


def test_failing_default_handler_does_not_propagate(loop, caplog):
    """Even a broken default handler path never raises out of
    call_exception_handler (asyncio logs 'Exception in default exception
    handler')."""

    class BadRepr:
        def __repr__(self):
            raise ValueError("bad repr")

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_exception_handler({"message": "m", "obj": BadRepr()})
    msgs = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert any("Exception in default exception handler" in m for m in msgs), msgs


def test_unretrieved_task_exception_reported(loop):
    """A task that fails and is never awaited is reported to the exception
    handler when garbage collected ('Task exception was never retrieved')."""
    import gc

    got = []
    loop.set_exception_handler(lambda lp, ctx: got.append(ctx))

    async def fail():
        raise ValueError("never retrieved")

    loop.create_task(fail())
    run_briefly(loop)
    run_briefly(loop)
    gc.collect()
    assert any(
        ctx.get("message") == "Task exception was never retrieved"
        and isinstance(ctx.get("exception"), ValueError)
        for ctx in got
    ), got


# -- SystemExit / KeyboardInterrupt ----------------------------------------


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt])
def test_base_exception_in_callback_propagates(loop, exc_type):
    """SystemExit/KeyboardInterrupt from a callback escape run_forever (not
    sent to the exception handler); the loop is not running afterwards and
    the callbacks queued behind the failing one are kept and run next time."""
    handled = []
    loop.set_exception_handler(lambda lp, ctx: handled.append(ctx))
    out = []

    def boom():
        raise exc_type("stop now")

    loop.call_soon(boom)
    loop.call_soon(out.append, "after")
    with pytest.raises(exc_type):
        loop.run_forever()
    assert not loop.is_running()
    assert out == []
    assert handled == []
    run_briefly(loop)
    assert out == ["after"]
    assert loop.run_until_complete(asyncio.sleep(0, result="usable")) == "usable"


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt])
def test_base_exception_in_coroutine_propagates(loop, exc_type):
    """SystemExit/KeyboardInterrupt raised in a task escape
    run_until_complete; the loop remains usable."""

    async def main():
        await asyncio.sleep(0)
        raise exc_type()

    with pytest.raises(exc_type):
        loop.run_until_complete(main())
    assert not loop.is_running()
    assert loop.run_until_complete(asyncio.sleep(0, result=1)) == 1


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt])
def test_base_exception_in_timer_propagates(loop, exc_type):
    """Same for a timer callback."""

    def boom():
        raise exc_type()

    loop.call_later(0.001, boom)
    loop.call_later(30, loop.stop)
    with pytest.raises(exc_type):
        loop.run_forever()
    assert not loop.is_running()
    assert loop.run_until_complete(asyncio.sleep(0, result=2)) == 2


def test_base_exception_from_reader_propagates(loop):
    """KeyboardInterrupt raised by a reader callback escapes run_forever."""
    a, b = socket.socketpair()
    try:

        def on_read():
            a.recv(10)
            raise KeyboardInterrupt

        loop.add_reader(a, on_read)
        b.send(b"x")
        loop.call_later(30, loop.stop)
        with pytest.raises(KeyboardInterrupt):
            loop.run_forever()
        assert loop.remove_reader(a) is True
        assert loop.run_until_complete(asyncio.sleep(0, result=3)) == 3
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("method, args, kwargs", [
    ("call_soon", (), {}),
    ("call_soon_threadsafe", (), {}),
    ("call_at", (), {}),
    ("call_at", (1.0,), {}),
    ("call_later", (), {}),
    ("call_later", (1.0,), {}),
    ("call_later", ("x", print), {}),
    ("call_soon", (print,), {"bogus": 1}),
    ("call_at", (1.0, print), {"bogus": 1}),
])
def test_missing_or_bad_arguments_raise_type_error(loop, method, args, kwargs):
    """Wrong arity, unknown keywords and bad delays: TypeError, as from
    asyncio's Python signatures (and never a crash)."""
    with pytest.raises(TypeError):
        getattr(loop, method)(*args, **kwargs)
