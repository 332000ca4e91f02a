"""Running, stopping and closing the loop; runners; debug mode; executors;
async generator finalization.

These are the loop's lifecycle rules: what may be called when, what is
raised when it may not, and what is cleaned up when. Code such as
asyncio.run, pytest plugins and frameworks depends on every one of them.
"""

import asyncio
import concurrent.futures
import gc
import logging
import os
import sys
import threading
import time
import warnings

import pytest

WATCHDOG = 30


def run_briefly(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


async def _noop():
    pass


# -- run_until_complete ----------------------------------------------------


def test_run_until_complete_coroutine_result(loop):
    """run_until_complete(coro) returns the coroutine's result."""

    async def coro(x):
        await asyncio.sleep(0)
        return x * 2

    assert loop.run_until_complete(coro(21)) == 42


def test_run_until_complete_future(loop):
    """run_until_complete(future) returns the future's result."""
    fut = loop.create_future()
    loop.call_soon(fut.set_result, "done")
    assert loop.run_until_complete(fut) == "done"


def test_run_until_complete_task(loop):
    """run_until_complete(task) returns the task's result."""

    async def coro():
        await asyncio.sleep(0.001)
        return "task"

    task = loop.create_task(coro())
    assert loop.run_until_complete(task) == "task"
    assert task.done()


def test_run_until_complete_awaitable_object(loop):
    """Any awaitable (object with __await__) is accepted."""

    class Awaitable:
        def __await__(self):
            yield from asyncio.sleep(0).__await__()
            return "awaited"

    assert loop.run_until_complete(Awaitable()) == "awaited"


def test_run_until_complete_exception_propagates(loop):
    """An exception from the coroutine is re-raised by run_until_complete,
    and the loop can be used again afterwards."""

    class Boom(Exception):
        pass

    async def fail():
        await asyncio.sleep(0)
        raise Boom("bad")

    with pytest.raises(Boom, match="bad"):
        loop.run_until_complete(fail())
    assert not loop.is_running()
    assert loop.run_until_complete(asyncio.sleep(0, result="again")) == "again"


def test_run_until_complete_cancelled_future(loop):
    """A cancelled future makes run_until_complete raise CancelledError."""
    fut = loop.create_future()
    loop.call_soon(fut.cancel)
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(fut)
    assert loop.run_until_complete(asyncio.sleep(0, result=1)) == 1


def test_run_until_complete_future_of_other_loop(loop, loop_factory):
    """A future bound to another loop is rejected with ValueError."""
    other = loop_factory()
    try:
        fut = other.create_future()
        with pytest.raises(ValueError, match="different loop"):
            loop.run_until_complete(fut)
    finally:
        other.close()


def test_run_until_complete_stopped_early_raises(loop):
    """If the loop is stopped before the future is done, run_until_complete
    raises RuntimeError('Event loop stopped before Future completed.')."""
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError, match="Event loop stopped before Future completed"):
        loop.run_until_complete(fut)
    fut.cancel()


def test_nested_run_until_complete_raises(loop):
    """run_until_complete from inside the running loop raises RuntimeError."""
    errors = []

    async def main():
        coro = _noop()
        try:
            loop.run_until_complete(coro)
        except RuntimeError as exc:
            errors.append(str(exc))
        finally:
            coro.close()

    loop.run_until_complete(main())
    assert errors == ["This event loop is already running"]


def test_nested_run_forever_raises(loop):
    """run_forever from inside the running loop raises RuntimeError.

    (Nothing is checked after the failed call: CPython 3.13.0 corrupts its
    running-loop state there, a bug goloop need not copy.)
    """
    errors = []

    def cb():
        try:
            loop.run_forever()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(cb)
    loop.run_forever()
    assert errors == ["This event loop is already running"]


def test_run_while_other_loop_running_raises(loop, loop_factory):
    """A second loop cannot run in a thread where a loop is already running."""
    other = loop_factory()
    errors = []

    async def main():
        coro = _noop()
        try:
            other.run_until_complete(coro)
        except RuntimeError as exc:
            errors.append(str(exc))
        finally:
            coro.close()

    try:
        loop.run_until_complete(main())
    finally:
        other.close()
    assert errors == ["Cannot run the event loop while another loop is running"]


def test_two_loops_in_two_threads(loop, loop_factory):
    """Independent loops may run concurrently in different threads."""
    result = []

    def thread_main():
        lp = loop_factory()
        try:
            result.append(lp.run_until_complete(asyncio.sleep(0.01, result="thread")))
        finally:
            lp.close()

    async def main():
        t = threading.Thread(target=thread_main)
        t.start()
        await loop.run_in_executor(None, t.join, WATCHDOG)
        return "main"

    assert loop.run_until_complete(main()) == "main"
    assert result == ["thread"]


# -- stop / is_running -----------------------------------------------------


def test_stop_before_run_forever_runs_one_iteration(loop):
    """stop() before run_forever(): run_forever runs one batch, then returns.
    Callbacks queued by that batch wait for the next run."""
    out = []

    def cb():
        out.append("cb")
        loop.call_soon(out.append, "next")

    loop.stop()
    loop.call_soon(cb)
    loop.run_forever()
    assert out == ["cb"]
    run_briefly(loop)
    assert out == ["cb", "next"]


def test_stop_with_nothing_scheduled_returns(loop):
    """stop() then run_forever() with an empty queue returns (no hang)."""
    loop.stop()
    loop.run_forever()
    assert not loop.is_running()


def test_is_running(loop):
    """is_running() is True only while the loop runs."""
    seen = []
    assert not loop.is_running()
    loop.call_soon(lambda: seen.append(loop.is_running()))
    run_briefly(loop)
    assert seen == [True]
    assert not loop.is_running()


def test_running_loop_is_visible(loop):
    """While running, asyncio.get_running_loop() returns the loop; afterwards
    there is no running loop."""

    async def main():
        return asyncio.get_running_loop()

    assert loop.run_until_complete(main()) is loop
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


# -- close -----------------------------------------------------------------


def test_is_closed_and_double_close(loop):
    """close() marks the loop closed; closing twice is fine."""
    assert not loop.is_closed()
    loop.close()
    assert loop.is_closed()
    loop.close()
    assert loop.is_closed()


def test_close_while_running_raises(loop):
    """close() from inside the running loop raises RuntimeError."""
    errors = []

    def cb():
        try:
            loop.close()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(cb)
    loop.run_forever()
    assert errors == ["Cannot close a running event loop"]
    assert not loop.is_closed()


def _closed_loop_calls(loop):
    def rf():
        loop.run_forever()

    def ruc():
        coro = _noop()
        try:
            loop.run_until_complete(coro)
        finally:
            coro.close()

    def ct():
        coro = _noop()
        try:
            loop.create_task(coro)
        finally:
            coro.close()

    return {
        "call_soon": lambda: loop.call_soon(print),
        "call_soon_threadsafe": lambda: loop.call_soon_threadsafe(print),
        "call_later": lambda: loop.call_later(1, print),
        "call_at": lambda: loop.call_at(loop.time() + 1, print),
        "run_forever": rf,
        "run_until_complete": ruc,
        "create_task": ct,
        "run_in_executor": lambda: loop.run_in_executor(None, print),
    }


@pytest.mark.parametrize(
    "method",
    [
        "call_soon",
        "call_soon_threadsafe",
        "call_later",
        "call_at",
        "run_forever",
        "run_until_complete",
        "create_task",
        "run_in_executor",
    ],
)
def test_closed_loop_methods_raise(loop, method):
    """Scheduling or running on a closed loop raises
    RuntimeError('Event loop is closed')."""
    loop.close()
    call = _closed_loop_calls(loop)[method]
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        call()


def test_closed_loop_harmless_methods(loop):
    """Some methods still work on a closed loop, as in asyncio: time(),
    create_future(), get/set_debug, is_running(), is_closed()."""
    loop.close()
    assert isinstance(loop.time(), float)
    fut = loop.create_future()
    assert isinstance(fut, asyncio.Future)
    loop.set_debug(True)
    assert loop.get_debug() is True
    assert loop.is_running() is False
    assert loop.is_closed() is True


def test_close_drops_pending_callbacks(loop):
    """close() discards queued callbacks and timers: they never run and the
    loop no longer references them."""
    import weakref

    out = []

    class CB:
        def __init__(self, tag):
            self.tag = tag

        def __call__(self):
            out.append(self.tag)

    soon, later = CB("soon"), CB("later")
    refs = [weakref.ref(soon), weakref.ref(later)]
    loop.call_soon(soon)
    loop.call_later(0.001, later)
    del soon, later
    loop.close()
    gc.collect()
    assert out == []
    assert [r() for r in refs] == [None, None]


def test_unclosed_loop_resource_warning(loop_factory):
    """A loop garbage-collected without close() emits ResourceWarning
    'unclosed event loop ...'."""
    lp = loop_factory()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del lp
        gc.collect()
    msgs = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert any("unclosed event loop" in m for m in msgs), msgs


def test_unclosed_loop_resource_warning_subprocess(run_in_subprocess):
    """Same, with -W always::ResourceWarning: the warning reaches stderr."""
    proc = run_in_subprocess(
        """
        import gc
        lp = new_loop()
        lp.run_until_complete(asyncio.sleep(0))
        del lp
        gc.collect()
        print("done")
        """,
        args=("-W", "always::ResourceWarning"),
    )
    assert proc.returncode == 0, proc
    assert "done" in proc.stdout
    assert "ResourceWarning" in proc.stderr and "unclosed event loop" in proc.stderr, proc


def test_closed_loop_no_resource_warning(loop_factory):
    """A closed loop emits no ResourceWarning when collected."""
    lp = loop_factory()
    lp.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del lp
        gc.collect()
    msgs = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not any("unclosed event loop" in m for m in msgs), msgs


# -- async generators ------------------------------------------------------


def test_shutdown_asyncgens_finalizes_generators(loop):
    """shutdown_asyncgens() acloses async generators first iterated in the
    loop that are still alive and suspended."""
    log = []
    keep = []

    async def agen(tag):
        try:
            yield 1
            yield 2
        finally:
            log.append(tag)

    async def main():
        for tag in ("a", "b"):
            g = agen(tag)
            keep.append(g)
            await g.__anext__()

    loop.run_until_complete(main())
    assert log == []
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert sorted(log) == ["a", "b"]


def test_shutdown_asyncgens_reports_errors(loop):
    """An exception raised while closing a generator goes to the exception
    handler with the generator under 'asyncgen'."""
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    keep = []

    async def agen():
        try:
            yield 1
        finally:
            raise ZeroDivisionError("in finally")

    async def main():
        g = agen()
        keep.append(g)
        await g.__anext__()

    loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert len(contexts) == 1
    ctx = contexts[0]
    assert "error occurred during closing of asynchronous generator" in ctx["message"]
    assert isinstance(ctx["exception"], ZeroDivisionError)
    assert ctx["asyncgen"] is keep[0]


def test_asyncgen_hooks_installed_while_running(loop):
    """While the loop runs, sys.get_asyncgen_hooks() are the loop's own hooks;
    the previous hooks are restored afterwards."""
    before = sys.get_asyncgen_hooks()
    inside = []

    async def main():
        inside.append(sys.get_asyncgen_hooks())

    loop.run_until_complete(main())
    hooks = inside[0]
    assert hooks.firstiter is not None and hooks.finalizer is not None
    assert getattr(hooks.firstiter, "__self__", None) is loop
    assert getattr(hooks.finalizer, "__self__", None) is loop
    assert sys.get_asyncgen_hooks() == before


def test_asyncgen_finalized_on_gc_through_loop(loop):
    """A partially iterated async generator dropped while the loop runs is
    acloses by the loop (its finally block runs inside the loop)."""
    log = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            log.append(asyncio.get_running_loop())

    async def main():
        g = agen()
        await g.__anext__()
        del g
        gc.collect()
        for _ in range(10):
            await asyncio.sleep(0)

    loop.run_until_complete(main())
    assert log == [loop]


# -- executors -------------------------------------------------------------


def test_run_in_executor_default(loop):
    """run_in_executor(None, fn, *args) runs fn in a worker thread and returns
    an awaitable asyncio future with its result."""
    main_thread = threading.get_ident()

    def work(a, b):
        return (a + b, threading.get_ident())

    fut = loop.run_in_executor(None, work, 2, 3)
    assert isinstance(fut, asyncio.Future)
    value, tid = loop.run_until_complete(fut)
    assert value == 5
    assert tid != main_thread


def test_run_in_executor_exception(loop):
    """An exception in the executor function propagates to the awaiter."""

    def work():
        raise KeyError("x")

    with pytest.raises(KeyError):
        loop.run_until_complete(loop.run_in_executor(None, work))


def test_run_in_executor_custom_executor(loop):
    """An explicit executor is used instead of the default."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="custom-exec") as ex:
        name = loop.run_until_complete(
            loop.run_in_executor(ex, lambda: threading.current_thread().name)
        )
    assert name.startswith("custom-exec")


def test_run_in_executor_non_thread_executor(loop):
    """run_in_executor accepts any concurrent.futures.Executor explicitly."""

    class InlineExecutor(concurrent.futures.Executor):
        def __init__(self):
            self.calls = 0

        def submit(self, fn, *args, **kwargs):
            self.calls += 1
            f = concurrent.futures.Future()
            f.set_result(fn(*args, **kwargs))
            return f

    ex = InlineExecutor()
    assert loop.run_until_complete(loop.run_in_executor(ex, pow, 2, 10)) == 1024
    assert ex.calls == 1


def test_set_default_executor(loop):
    """set_default_executor(ThreadPoolExecutor) is used for executor=None."""
    ex = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="default-exec")
    loop.set_default_executor(ex)
    name = loop.run_until_complete(
        loop.run_in_executor(None, lambda: threading.current_thread().name)
    )
    assert name.startswith("default-exec")
    loop.run_until_complete(loop.shutdown_default_executor())
    ex.shutdown(wait=True)


def test_set_default_executor_rejects_non_thread_pool(loop):
    """set_default_executor(non-ThreadPoolExecutor): TypeError on 3.11+,
    DeprecationWarning (and accepted) on 3.10."""

    class InlineExecutor(concurrent.futures.Executor):
        def submit(self, fn, *args, **kwargs):
            f = concurrent.futures.Future()
            f.set_result(fn(*args, **kwargs))
            return f

    if sys.version_info >= (3, 11):
        with pytest.raises(TypeError, match="executor must be ThreadPoolExecutor"):
            loop.set_default_executor(InlineExecutor())
    else:
        with pytest.warns(DeprecationWarning):
            loop.set_default_executor(InlineExecutor())
        assert loop.run_until_complete(loop.run_in_executor(None, pow, 3, 2)) == 9


def test_shutdown_default_executor_joins_threads(loop):
    """shutdown_default_executor() waits for the default executor's threads;
    further run_in_executor(None, ...) raises RuntimeError."""
    threads = []

    def work():
        threads.append(threading.current_thread())
        return 1

    assert loop.run_until_complete(loop.run_in_executor(None, work)) == 1
    loop.run_until_complete(loop.shutdown_default_executor())
    assert threads and not threads[0].is_alive()
    with pytest.raises(RuntimeError, match="Executor shutdown has been called"):
        loop.run_in_executor(None, work)


def test_shutdown_default_executor_without_executor(loop):
    """shutdown_default_executor() with no default executor is a no-op."""
    assert loop.run_until_complete(loop.shutdown_default_executor()) is None


@pytest.mark.skipif(sys.version_info < (3, 12), reason="timeout= is 3.12+")
def test_shutdown_default_executor_timeout_param(loop):
    """3.12+: shutdown_default_executor accepts timeout= and joins normally
    when the workers finish in time."""
    threads = []
    loop.run_until_complete(
        loop.run_in_executor(None, lambda: threads.append(threading.current_thread()))
    )
    loop.run_until_complete(loop.shutdown_default_executor(timeout=WATCHDOG))
    assert threads and not threads[0].is_alive()


@pytest.mark.skipif(
    sys.version_info < (3, 13),
    reason="3.12.1 waits for the workers before applying the timeout (CPython bug)",
)
def test_shutdown_default_executor_timeout_expires(loop):
    """3.13+: with timeout=, a stuck worker makes shutdown_default_executor
    warn (RuntimeWarning '... did not finishing joining its threads within
    N seconds.') and return instead of waiting for it."""
    release = threading.Event()
    started = threading.Event()

    def stuck():
        started.set()
        release.wait(WATCHDOG)

    fut = loop.run_in_executor(None, stuck)
    assert started.wait(WATCHDOG)
    try:
        with pytest.warns(RuntimeWarning, match="did not finish"):
            loop.run_until_complete(loop.shutdown_default_executor(timeout=0.05))
    finally:
        release.set()
    loop.run_until_complete(fut)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="checks absence before 3.12")
def test_shutdown_default_executor_no_timeout_param_before_312(loop):
    """Before 3.12 shutdown_default_executor has no timeout parameter."""
    with pytest.raises(TypeError):
        loop.shutdown_default_executor(timeout=1)


# -- debug mode ------------------------------------------------------------


def test_debug_flag_roundtrip(loop):
    """set_debug/get_debug round-trip; the default is off in a normal run."""
    env_debug = not sys.flags.ignore_environment and bool(os.environ.get("PYTHONASYNCIODEBUG"))
    assert loop.get_debug() is bool(sys.flags.dev_mode or env_debug)
    loop.set_debug(True)
    assert loop.get_debug() is True
    loop.set_debug(False)
    assert loop.get_debug() is False


def test_debug_default_from_environment(run_in_subprocess):
    """PYTHONASYNCIODEBUG=1 makes new loops start in debug mode; -X dev too."""
    code = """
        lp = new_loop()
        print("debug", lp.get_debug())
        lp.close()
        """
    proc = run_in_subprocess(code, env={"PYTHONASYNCIODEBUG": "1"})
    assert proc.returncode == 0, proc
    assert "debug True" in proc.stdout
    proc = run_in_subprocess(code, args=("-X", "dev"))
    assert proc.returncode == 0, proc
    assert "debug True" in proc.stdout
    proc = run_in_subprocess(code)
    assert proc.returncode == 0, proc
    assert "debug False" in proc.stdout


def slow_callback_for_debug():
    deadline = time.perf_counter() + 0.06
    while time.perf_counter() < deadline:
        pass


def test_debug_slow_callback_warning(loop, caplog):
    """In debug mode a callback running longer than slow_callback_duration is
    reported as a WARNING on the 'asyncio' logger: 'Executing <...> took N
    seconds'."""
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.call_soon(slow_callback_for_debug)
        run_briefly(loop)
    msgs = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    slow = [m for m in msgs if "slow_callback_for_debug" in m]
    assert slow, msgs
    assert slow[0].startswith("Executing ")
    assert " took " in slow[0] and slow[0].endswith(" seconds")


def test_no_slow_callback_warning_without_debug(loop, caplog):
    """Outside debug mode slow callbacks are not reported."""
    loop.set_debug(False)
    loop.slow_callback_duration = 0.01
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.call_soon(slow_callback_for_debug)
        run_briefly(loop)
    assert not [r for r in caplog.records if "took" in r.getMessage()]


def test_slow_callback_duration_default(loop):
    """slow_callback_duration defaults to 0.1 seconds and is writable."""
    assert loop.slow_callback_duration == 0.1
    loop.slow_callback_duration = 0.5
    assert loop.slow_callback_duration == 0.5


@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at"])
def test_debug_thread_check(loop, method):
    """In debug mode, scheduling from a foreign thread while the loop runs
    raises RuntimeError('Non-thread-safe operation invoked on an event loop
    other than the current one'). Without debug mode no check is made."""
    loop.set_debug(True)
    calls = {
        "call_soon": lambda: loop.call_soon(print),
        "call_later": lambda: loop.call_later(100, print),
        "call_at": lambda: loop.call_at(loop.time() + 100, print),
    }
    errors = []

    def foreign():
        try:
            h = calls[method]()
        except Exception as exc:
            errors.append(exc)
        else:
            errors.append(None)
            loop.call_soon_threadsafe(h.cancel)

    async def main():
        t = threading.Thread(target=foreign)
        t.start()
        await loop.run_in_executor(None, t.join, WATCHDOG)

    loop.run_until_complete(main())
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert "Non-thread-safe operation invoked on an event loop other than the current one" in str(
        errors[0]
    )


def test_debug_thread_check_not_when_stopped(loop):
    """The debug thread check applies only while the loop runs."""
    loop.set_debug(True)
    result = []

    def foreign():
        result.append(loop.call_soon(print))

    t = threading.Thread(target=foreign)
    t.start()
    t.join(WATCHDOG)
    assert len(result) == 1 and not result[0].cancelled()
    result[0].cancel()


def test_call_soon_threadsafe_allowed_in_debug(loop):
    """call_soon_threadsafe from a foreign thread is fine in debug mode."""
    loop.set_debug(True)
    done = loop.create_future()

    def foreign():
        loop.call_soon_threadsafe(done.set_result, "ok")

    threading.Thread(target=foreign).start()
    assert loop.run_until_complete(asyncio.wait_for(done, WATCHDOG)) == "ok"


# -- runners ---------------------------------------------------------------


def _runner_for(kind, loop_factory):
    """The 'run' function for the loop kind: goloop.run or an equivalent of it
    built from asyncio for the reference."""
    if kind == "goloop":
        import goloop

        return goloop.run
    if sys.version_info >= (3, 12):
        return lambda main, *, debug=None: asyncio.run(main, debug=debug, loop_factory=loop_factory)
    if sys.version_info >= (3, 11):

        def run(main, *, debug=None):
            # asyncio.run's own guard, before the Runner is created
            if asyncio._get_running_loop() is not None:
                raise RuntimeError("asyncio.run() cannot be called from a running event loop")
            with asyncio.Runner(debug=debug, loop_factory=loop_factory) as r:
                return r.run(main)

        return run
    return asyncio.run  # 3.10: uses the policy's (asyncio's) default loop


def test_run_function(loop_factory):
    """goloop.run (asyncio.run for the reference) runs main on a new loop of
    the right kind, returns its result and closes the loop."""
    run = _runner_for(loop_factory.kind, loop_factory)
    seen = []

    async def main(x):
        lp = asyncio.get_running_loop()
        seen.append(lp)
        await asyncio.sleep(0)
        return x + 1

    assert run(main(1)) == 2
    lp = seen[0]
    if loop_factory.kind == "goloop":
        import goloop

        assert isinstance(lp, goloop.Loop)
    assert lp.is_closed()


def test_run_function_debug(loop_factory):
    """The debug flag is passed to the new loop."""
    run = _runner_for(loop_factory.kind, loop_factory)

    async def main():
        return asyncio.get_running_loop().get_debug()

    assert run(main(), debug=True) is True
    assert run(main(), debug=False) is False


def test_run_function_exception_and_cleanup(loop_factory):
    """Exceptions propagate; leftover tasks are cancelled; async generators
    are finalized before the loop closes."""
    run = _runner_for(loop_factory.kind, loop_factory)
    log = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            log.append("agen closed")

    async def sleeper():
        try:
            await asyncio.sleep(WATCHDOG)
        except asyncio.CancelledError:
            log.append("task cancelled")
            raise

    keep = []

    async def main():
        asyncio.get_running_loop().create_task(sleeper())
        g = agen()
        keep.append(g)
        await g.__anext__()
        await asyncio.sleep(0)
        raise ValueError("from main")

    with pytest.raises(ValueError, match="from main"):
        run(main())
    assert sorted(log) == ["agen closed", "task cancelled"]


def test_run_function_rejects_non_coroutine(loop_factory):
    """Like asyncio.run, a non-coroutine argument raises ValueError (3.14+:
    anything not awaitable raises TypeError)."""
    run = _runner_for(loop_factory.kind, loop_factory)
    if sys.version_info >= (3, 14):
        with pytest.raises(TypeError, match="a coroutine or an awaitable is required"):
            run(1)
    else:
        with pytest.raises(ValueError, match="a coroutine was expected"):
            run(1)


@pytest.mark.skipif(sys.version_info < (3, 14), reason="3.14+ runs any awaitable")
def test_run_function_accepts_an_awaitable(loop_factory):
    run = _runner_for(loop_factory.kind, loop_factory)

    class Awaitable:
        def __await__(self):
            yield from asyncio.sleep(0).__await__()
            return "awaited"

    assert run(Awaitable()) == "awaited"


def test_run_function_inside_running_loop(loop, loop_factory):
    """Like asyncio.run, calling it from a running loop raises RuntimeError."""
    run = _runner_for(loop_factory.kind, loop_factory)
    errors = []

    async def main():
        coro = _noop()
        try:
            run(coro)
        except RuntimeError as exc:
            errors.append(str(exc))
        finally:
            coro.close()

    loop.run_until_complete(main())
    assert len(errors) == 1
    assert "cannot be called from a running event loop" in errors[0]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.Runner is 3.11+")
def test_runner_with_loop_factory(loop_factory):
    """asyncio.Runner(loop_factory=...) runs several coroutines on one loop
    of the factory's kind and closes it on exit."""
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        lp = runner.get_loop()

        async def main(x):
            assert asyncio.get_running_loop() is lp
            await asyncio.sleep(0)
            return x

        assert runner.run(main(1)) == 1
        assert runner.run(main(2)) == 2
        if loop_factory.kind == "goloop":
            import goloop

            assert isinstance(lp, goloop.Loop)
    assert lp.is_closed()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is 3.12+")
def test_run_with_loop_factory_argument(loop_factory):
    """asyncio.run(main, loop_factory=...) uses the factory's loop."""
    loops = []

    def factory():
        lp = loop_factory()
        loops.append(lp)
        return lp

    async def main():
        return asyncio.get_running_loop()

    lp = asyncio.run(main(), loop_factory=factory)
    assert loops == [lp]
    assert lp.is_closed()
