"""call_soon_threadsafe's handle on 3.14+: asyncio returns an
events._ThreadSafeHandle, whose cancel() and cancelled() called from another
thread wait for a callback that already started, while the loop's own thread
(a callback cancelling its own handle) goes straight through.

Every test runs on both loops. Orders are asserted, never durations: the
short sleeps inside callbacks only give a wrong implementation the chance
to answer early; with the lock, the order is fixed."""

import asyncio
import sys
import threading
import time

import pytest

WATCHDOG = 30

pytestmark = pytest.mark.skipif(
    not hasattr(asyncio.events, "_ThreadSafeHandle"),
    reason="asyncio has events._ThreadSafeHandle from 3.14")


def _run_with_thread(loop, target):
    """Run the loop until `target` (in a thread) stops it; re-raise its
    failure here."""
    failure = []

    def wrapped():
        try:
            target()
        except BaseException as exc:  # reported in the main thread
            failure.append(exc)
        finally:
            loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=wrapped)
    t.start()
    try:
        loop.run_forever()
    finally:
        t.join(WATCHDOG)
    assert not t.is_alive()
    if failure:
        raise failure[0]


def test_handle_type(loop):
    handle = loop.call_soon_threadsafe(lambda: None)
    assert isinstance(handle, asyncio.events._ThreadSafeHandle)
    assert isinstance(handle, asyncio.Handle)
    assert not handle.cancelled()
    handle.cancel()
    assert handle.cancelled()
    loop.run_until_complete(asyncio.sleep(0))


@pytest.mark.parametrize("ask", ["cancel", "cancelled"])
def test_other_thread_waits_for_running_callback(loop, ask):
    events = []
    started = threading.Event()
    asking = threading.Event()

    def callback():
        started.set()
        asking.wait(WATCHDOG)
        time.sleep(0.05)  # room for a wrong implementation to answer now
        events.append("callback returned")

    def other_thread():
        handle = loop.call_soon_threadsafe(callback)
        assert started.wait(WATCHDOG)
        asking.set()
        answer = getattr(handle, ask)()
        events.append(f"{ask}() returned {answer}")

    _run_with_thread(loop, other_thread)
    expected = None if ask == "cancel" else False
    assert events == ["callback returned", f"{ask}() returned {expected}"]


def test_callback_cancelling_its_own_handle(loop):
    """From the loop's thread the lock is re-entered: the cancel takes
    effect at once and the callback runs to its end."""
    got = []
    handle_box = []
    ready = threading.Event()

    def callback():
        ready.wait(WATCHDOG)
        handle = handle_box[0]
        handle.cancel()
        got.append(handle.cancelled())
        got.append("end")

    def other_thread():
        handle_box.append(loop.call_soon_threadsafe(callback))
        ready.set()

    _run_with_thread(loop, other_thread)
    # The thread may stop the loop before the callback ran: run it out.
    loop.run_until_complete(asyncio.sleep(0))
    assert got == [True, "end"]
    assert handle_box[0].cancelled()


def test_cancelled_before_running_never_runs(loop):
    ran = []

    def other_thread():
        handle = loop.call_soon_threadsafe(ran.append, 1)
        handle.cancel()

    t = threading.Thread(target=other_thread)
    t.start()  # the loop is not running: nothing can run the callback yet
    t.join(WATCHDOG)
    loop.run_until_complete(asyncio.sleep(0))
    assert ran == []


def test_run_method_and_context(loop):
    """_run() of a thread-safe handle runs the callback in its context, and
    not once cancelled (asyncio re-checks under the lock)."""
    import contextvars

    var = contextvars.ContextVar("var")
    ctx = contextvars.copy_context()
    ctx.run(var.set, "ctx")
    seen = []
    handle = loop.call_soon_threadsafe(lambda: seen.append(var.get("none")), context=ctx)
    handle._run()
    handle.cancel()
    handle._run()
    loop.run_until_complete(asyncio.sleep(0))
    assert seen == ["ctx"]
    assert handle.get_context() is ctx


def test_debug_mode_source_traceback_ends_at_the_caller(loop):
    loop.set_debug(True)
    handle = loop.call_soon_threadsafe(lambda: None); line = sys._getframe().f_lineno  # noqa: E702
    last = handle._source_traceback[-1]
    assert (last.filename, last.lineno) == (__file__, line)
    loop.run_until_complete(asyncio.sleep(0))
