"""Cross-thread scheduling: call_soon_threadsafe and run_coroutine_threadsafe.

These are the only loop entry points that may be used from other threads.
Nothing may be lost or reordered per thread, and a loop blocked waiting for
I/O or timers must wake up when another thread schedules work.
Timeouts here only bound hangs; no duration is asserted.
"""

import asyncio
import threading
import time

WATCHDOG = 30


def test_threadsafe_many_threads_all_run_in_order(loop):
    """8 threads x 1000 call_soon_threadsafe calls: every callback runs once,
    and each thread's callbacks run in that thread's submission order."""
    n_threads, n_calls = 8, 1000
    total = n_threads * n_calls
    seen = []
    done = loop.create_future()

    def record(tid, i):
        seen.append((tid, i))
        if len(seen) == total and not done.done():
            done.set_result(None)

    start = threading.Barrier(n_threads)

    def worker(tid):
        start.wait(WATCHDOG)
        for i in range(n_calls):
            loop.call_soon_threadsafe(record, tid, i)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]

    async def main():
        for t in threads:
            t.start()
        await asyncio.wait_for(done, WATCHDOG)

    try:
        loop.run_until_complete(main())
    finally:
        for t in threads:
            t.join(WATCHDOG)
    assert len(seen) == total
    for tid in range(n_threads):
        assert [i for (t, i) in seen if t == tid] == list(range(n_calls))


def test_threadsafe_wakes_loop_waiting_on_future(loop):
    """A loop blocked on a future (only a 30 s timeout pending) is woken by a
    call_soon_threadsafe from another thread; the test finishes well before
    the timeout."""
    fut = loop.create_future()

    def setter():
        time.sleep(0.1)
        loop.call_soon_threadsafe(fut.set_result, "woken")

    t = threading.Thread(target=setter)
    t.start()
    try:
        result = loop.run_until_complete(asyncio.wait_for(fut, WATCHDOG))
    finally:
        t.join(WATCHDOG)
    assert result == "woken"


def test_threadsafe_wakes_idle_loop(loop):
    """A loop with nothing scheduled but a far watchdog timer wakes for a
    call_soon_threadsafe; the watchdog must not be what stopped it."""
    ran = []

    def from_thread():
        ran.append("cb")
        loop.stop()

    watchdog = loop.call_later(WATCHDOG, loop.stop)

    def thread_main():
        time.sleep(0.1)
        loop.call_soon_threadsafe(from_thread)

    t = threading.Thread(target=thread_main)
    t.start()
    try:
        loop.run_forever()
    finally:
        t.join(WATCHDOG)
    watchdog.cancel()
    assert ran == ["cb"]


def test_threadsafe_repeated_wakeups(loop):
    """Many sequential wake-ups (ping-pong between a thread and the loop)
    all get through."""
    rounds = 200
    count = [0]
    done = loop.create_future()
    ready = threading.Semaphore(0)

    def on_loop():
        count[0] += 1
        ready.release()
        if count[0] == rounds:
            done.set_result(None)

    def thread_main():
        for _ in range(rounds):
            loop.call_soon_threadsafe(on_loop)
            if not ready.acquire(timeout=WATCHDOG):
                return

    t = threading.Thread(target=thread_main)

    async def main():
        t.start()
        await asyncio.wait_for(done, WATCHDOG)

    try:
        loop.run_until_complete(main())
    finally:
        t.join(WATCHDOG)
    assert count[0] == rounds


def test_threadsafe_handle_cancel(loop):
    """Cancelling the handle returned by call_soon_threadsafe before the loop
    runs prevents the callback."""
    out = []
    handles = []

    def thread_main():
        handles.append(loop.call_soon_threadsafe(out.append, "x"))

    t = threading.Thread(target=thread_main)
    t.start()
    t.join(WATCHDOG)
    handles[0].cancel()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == []


def test_threadsafe_with_args(loop):
    """Arguments are passed through call_soon_threadsafe."""
    got = []
    done = loop.create_future()

    def cb(a, b, *, _unused=None):
        got.append((a, b))
        done.set_result(None)

    threading.Thread(target=lambda: loop.call_soon_threadsafe(cb, 1, "two")).start()
    loop.run_until_complete(asyncio.wait_for(done, WATCHDOG))
    assert got == [(1, "two")]


def test_threadsafe_on_closed_loop_raises(loop):
    """call_soon_threadsafe on a closed loop raises RuntimeError, from any
    thread."""
    loop.close()
    errors = []

    def thread_main():
        try:
            loop.call_soon_threadsafe(print)
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=thread_main)
    t.start()
    t.join(WATCHDOG)
    assert errors == ["Event loop is closed"]


def test_run_coroutine_threadsafe_result(loop):
    """asyncio.run_coroutine_threadsafe submits a coroutine from another
    thread; its concurrent.futures.Future gets the result."""
    results = []

    async def add(a, b):
        await asyncio.sleep(0.001)
        return a + b

    def thread_main():
        fut = asyncio.run_coroutine_threadsafe(add(2, 3), loop)
        try:
            results.append(fut.result(WATCHDOG))
        except BaseException as exc:  # reported by the assertion below
            results.append(exc)
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=thread_main)
    loop.call_soon(t.start)
    loop.call_later(WATCHDOG, loop.stop)
    loop.run_forever()
    t.join(WATCHDOG)
    assert results == [5]


def test_run_coroutine_threadsafe_exception(loop):
    """An exception in the submitted coroutine is set on the returned
    concurrent future."""
    results = []

    async def fail():
        raise LookupError("nope")

    def thread_main():
        fut = asyncio.run_coroutine_threadsafe(fail(), loop)
        try:
            fut.result(WATCHDOG)
        except LookupError as exc:
            results.append(str(exc))
        except BaseException as exc:
            results.append(exc)
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=thread_main)
    loop.call_soon(t.start)
    loop.call_later(WATCHDOG, loop.stop)
    loop.run_forever()
    t.join(WATCHDOG)
    assert results == ["nope"]


def test_run_coroutine_threadsafe_cancel(loop):
    """Cancelling the concurrent future cancels the task in the loop."""
    events = []
    started = threading.Event()

    async def long():
        started.set()
        try:
            await asyncio.sleep(WATCHDOG)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    def thread_main():
        fut = asyncio.run_coroutine_threadsafe(long(), loop)
        if started.wait(WATCHDOG):
            fut.cancel()
        try:
            fut.result(WATCHDOG)
        except BaseException as exc:
            events.append(type(exc).__name__)
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=thread_main)
    loop.call_soon(t.start)
    loop.call_later(WATCHDOG, loop.stop)
    loop.run_forever()
    t.join(WATCHDOG)
    # asyncio.CancelledError is concurrent.futures.CancelledError on 3.8+
    assert "CancelledError" in events
    # the loop-side task saw the cancellation too (may need one more pass)
    loop.run_until_complete(asyncio.sleep(0))
    assert "cancelled" in events
