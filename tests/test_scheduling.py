"""Callback scheduling: call_soon / call_later / call_at, handles, time(),
contextvars, tasks and futures.

These are the primitives everything else in asyncio is built on; their
ordering and context rules are observable by user code and must match the
reference loop.
"""

import asyncio
import contextvars
import sys
import threading
import time

import pytest

WATCHDOG = 30  # seconds; only bounds a hang, never asserted on


def run_briefly(loop):
    """Run exactly one batch: stop() is queued behind what is already ready."""
    loop.call_soon(loop.stop)
    loop.run_forever()


def run_until(loop, predicate, timeout=WATCHDOG):
    """Run the loop until predicate() is true (polled every iteration)."""

    async def waiter():
        while not predicate():
            await asyncio.sleep(0)

    loop.run_until_complete(asyncio.wait_for(waiter(), timeout))


# -- call_soon -------------------------------------------------------------


def test_call_soon_runs_callbacks_in_fifo_order(loop):
    """Callbacks scheduled with call_soon run in scheduling order."""
    out = []
    for i in range(100):
        loop.call_soon(out.append, i)
    run_briefly(loop)
    assert out == list(range(100))


def test_call_soon_passes_positional_args(loop):
    """Extra positional arguments are passed to the callback unchanged."""
    got = []
    marker = object()

    def cb(*args):
        got.append(args)

    loop.call_soon(cb, 1, "a", None, marker)
    loop.call_soon(cb)
    run_briefly(loop)
    assert got == [(1, "a", None, marker), ()]


def test_call_soon_returns_handle(loop):
    """call_soon / call_soon_threadsafe return asyncio.Handle instances (not
    TimerHandle); call_later / call_at return asyncio.TimerHandle. Code that
    type-checks handles relies on these classes."""
    h = loop.call_soon(lambda: None)
    assert isinstance(h, asyncio.Handle)
    assert not isinstance(h, asyncio.TimerHandle)
    assert not h.cancelled()
    h2 = loop.call_soon_threadsafe(lambda: None)
    assert isinstance(h2, asyncio.Handle)
    assert not isinstance(h2, asyncio.TimerHandle)
    t = loop.call_later(100, lambda: None)
    t2 = loop.call_at(loop.time() + 100, lambda: None)
    assert isinstance(t, asyncio.TimerHandle) and isinstance(t2, asyncio.TimerHandle)
    t.cancel()
    t2.cancel()
    run_briefly(loop)


def test_callback_scheduled_from_callback_runs_next_iteration(loop):
    """The ready queue is snapshotted once per iteration: a callback queued by
    a running callback runs in the *next* iteration, after stop() took effect.
    """
    calls = []

    def inner():
        calls.append("inner")

    def outer():
        calls.append("outer")
        loop.call_soon(inner)

    loop.call_soon(outer)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["outer"]

    # inner is still queued and runs on the next run_forever.
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["outer", "inner"]


def test_stop_inside_callback_lets_rest_of_batch_run(loop):
    """stop() called from a callback does not cut the current batch short."""
    calls = []
    loop.call_soon(calls.append, 1)
    loop.call_soon(loop.stop)
    loop.call_soon(calls.append, 2)
    loop.call_soon(calls.append, 3)
    loop.run_forever()
    assert calls == [1, 2, 3]


# -- call_later / call_at --------------------------------------------------


def test_call_later_orders_by_delay(loop):
    """Timers fire in order of their deadline, not of their scheduling."""
    out = []
    loop.call_later(0.03, out.append, "c")
    loop.call_later(0.01, out.append, "a")
    loop.call_later(0.02, out.append, "b")
    loop.call_later(0.04, loop.stop)
    loop.call_later(WATCHDOG, loop.stop)
    loop.run_forever()
    assert out == ["a", "b", "c"]


def test_call_at_orders_by_when(loop):
    """call_at timers fire in order of ``when`` (many timers, shuffled)."""
    import random

    rnd = random.Random(1234)
    base = loop.time()
    whens = [base + rnd.randrange(0, 30) / 1000 for _ in range(60)]
    out = []
    for i, w in enumerate(whens):
        loop.call_at(w, out.append, w)
    loop.call_at(base + 0.05, loop.stop)
    loop.call_later(WATCHDOG, loop.stop)
    loop.run_forever()
    assert len(out) == len(whens)
    assert out == sorted(whens)


def test_equal_when_timers_all_run_in_one_iteration(loop):
    """Timers with the same deadline all become ready together: a stop() from
    the first one does not prevent the others from running.

    (asyncio does NOT run equal-deadline timers in FIFO order: its heap yields
    them in heap order, so only the set is compared here.)
    """
    out = []
    when = loop.time() + 0.01

    def cb(i):
        if not out:
            loop.stop()
        out.append(i)

    for i in range(50):
        loop.call_at(when, cb, i)
    loop.call_later(WATCHDOG, loop.stop)
    loop.run_forever()
    assert sorted(out) == list(range(50))


def test_timer_never_fires_before_its_deadline(loop):
    """Inside a timer callback, loop.time() has reached the handle's when()."""
    early = []
    fired = []

    def cb(h_box):
        now = loop.time()
        h = h_box[0]
        fired.append(h)
        # asyncio treats a timer as due when when < now + clock resolution.
        if now < h.when() - 1e-9:
            early.append((h.when(), now))
        if len(fired) == 40:
            loop.stop()

    for i in range(40):
        box = []
        box.append(loop.call_later(0.001 * (i % 8) + 0.0005 * (i % 3), cb, box))
    loop.call_later(WATCHDOG, loop.stop)
    loop.run_forever()
    assert len(fired) == 40
    assert early == []


def test_call_later_when_is_time_plus_delay(loop):
    """TimerHandle.when() is loop.time() at scheduling plus the delay; call_at
    keeps the given when exactly."""
    t0 = loop.time()
    h = loop.call_later(10, lambda: None)
    t1 = loop.time()
    assert t0 + 10 <= h.when() <= t1 + 10

    w = loop.time() + 123.456
    h2 = loop.call_at(w, lambda: None)
    assert h2.when() == w
    h.cancel()
    h2.cancel()


@pytest.mark.parametrize("delay", [0, -1, -1000.5])
def test_zero_and_negative_delay_run_on_next_iteration(loop, delay):
    """A timer with delay <= 0 is due immediately and runs in the next batch."""
    out = []
    loop.call_later(delay, out.append, "timer")
    run_briefly(loop)
    assert out == ["timer"]


def test_expired_timers_run_after_ready_callbacks_of_same_batch(loop):
    """Expired timers are appended to the ready queue behind callbacks that
    were already queued, in deadline order, and run in the same batch."""
    out = []
    loop.call_soon(out.append, "a")
    loop.call_later(0, out.append, "t0")
    loop.call_later(-5, out.append, "t-5")
    loop.call_soon(out.append, "c")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == ["a", "c", "t-5", "t0"]


def test_call_at_in_the_past_runs(loop):
    """call_at with a when already in the past runs promptly."""
    out = []
    loop.call_at(loop.time() - 10, out.append, 1)
    run_briefly(loop)
    assert out == [1]


# -- cancellation ----------------------------------------------------------


def test_cancelled_handle_never_runs(loop):
    """A cancelled call_soon handle is skipped; cancelled() reports it."""
    out = []
    h1 = loop.call_soon(out.append, 1)
    h2 = loop.call_soon(out.append, 2)
    h3 = loop.call_soon(out.append, 3)
    h2.cancel()
    assert h2.cancelled()
    assert not h1.cancelled() and not h3.cancelled()
    run_briefly(loop)
    assert out == [1, 3]


def test_cancelled_timer_never_runs(loop):
    """A cancelled timer is skipped even after its deadline passes."""
    out = []
    h = loop.call_later(0.01, out.append, "cancelled")
    loop.call_later(0.02, out.append, "kept")
    h.cancel()
    assert h.cancelled()
    loop.call_later(0.05, loop.stop)
    loop.call_later(WATCHDOG, loop.stop)
    loop.run_forever()
    assert out == ["kept"]


def test_cancel_from_earlier_callback_in_same_batch(loop):
    """A callback can cancel a later one queued in the same batch."""
    out = []
    later = []

    def first():
        out.append("first")
        later[0].cancel()

    loop.call_soon(first)
    later.append(loop.call_soon(out.append, "second"))
    run_briefly(loop)
    assert out == ["first"]


def test_cancel_is_idempotent(loop):
    """cancel() twice is harmless; cancel after running is harmless."""
    out = []
    h = loop.call_soon(out.append, 1)
    run_briefly(loop)
    h.cancel()
    h.cancel()
    assert h.cancelled()
    t = loop.call_later(100, out.append, 2)
    t.cancel()
    t.cancel()
    assert t.cancelled()
    assert out == [1]


def test_many_cancelled_timers_do_not_block_live_ones(loop):
    """Cancelling lots of timers still lets the live timer fire."""
    out = []
    hs = [loop.call_later(0.001 * (i % 50), out.append, i) for i in range(1000)]
    for i, h in enumerate(hs):
        if i != 777:
            h.cancel()
    run_until(loop, lambda: out)
    loop.run_until_complete(asyncio.sleep(0.06))
    assert out == [777]


def test_cancel_patterns_keep_the_heap_ordered(loop):
    """Timers cancelled right after scheduling (the last one scheduled),
    cancelled in the middle, at the front, or many at once (a purge): the
    others run exactly once, in `when` order (asyncio leaves the order among
    equal `when` open; goloop keeps it FIFO)."""
    import random

    rnd = random.Random(7)
    out = []
    base = loop.time() + 0.05
    kept = []
    for i in range(600):
        when = base + rnd.choice([0, 0.001, 0.002, 0.003])
        h = loop.call_at(when, out.append, i)
        r = rnd.random()
        if r < 0.3:
            h.cancel()                      # the last one scheduled
        elif r < 0.45 and kept:
            kept.pop(rnd.randrange(len(kept)))[2].cancel()   # an earlier one
            kept.append((when, i, h))
        else:
            kept.append((when, i, h))
    kept = [k for k in kept if not k[2].cancelled()]
    loop.call_at(base + 0.01, loop.stop)
    loop.run_forever()
    when_of = {i: w for w, i, _ in kept}
    assert sorted(out) == sorted(when_of)
    whens = [when_of[i] for i in out]
    assert whens == sorted(whens)


# -- handle introspection --------------------------------------------------


def named_callback_for_repr():
    pass


def test_handle_repr_contains_callback_name(loop):
    """repr(Handle) names the callback; repr after cancel says 'cancelled'."""
    h = loop.call_soon(named_callback_for_repr)
    assert "named_callback_for_repr" in repr(h)
    assert "Handle" in repr(h)
    h.cancel()
    assert "cancelled" in repr(h)


def test_timer_handle_repr(loop):
    """repr(TimerHandle) names the callback and shows when=; 'cancelled' after
    cancel."""
    h = loop.call_later(100, named_callback_for_repr)
    r = repr(h)
    assert "TimerHandle" in r
    assert "named_callback_for_repr" in r
    assert "when=" in r
    h.cancel()
    assert "cancelled" in repr(h)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Handle.get_context() is 3.12+")
def test_handle_get_context(loop):
    """Handle.get_context() (3.12+) returns the context the callback runs in."""
    ctx = contextvars.copy_context()
    h = loop.call_soon(lambda: None, context=ctx)
    assert h.get_context() is ctx
    t = loop.call_later(100, lambda: None, context=ctx)
    assert t.get_context() is ctx
    t.cancel()
    h2 = loop.call_soon(lambda: None)
    assert isinstance(h2.get_context(), contextvars.Context)
    run_briefly(loop)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="checks absence before 3.12")
def test_handle_has_no_get_context_before_312(loop):
    """Before 3.12 handles have no get_context() (matches asyncio.Handle)."""
    h = loop.call_soon(lambda: None)
    assert not hasattr(h, "get_context")
    run_briefly(loop)


# -- time() ----------------------------------------------------------------


def test_time_uses_monotonic_clock(loop):
    """loop.time() is time.monotonic(): a read lies between two monotonic
    reads taken around it."""
    for _ in range(200):
        a = time.monotonic()
        t = loop.time()
        b = time.monotonic()
        assert a <= t <= b


def test_time_is_not_rounded_to_milliseconds(loop):
    """loop.time() keeps sub-millisecond precision (not rounded to ms)."""
    samples = []
    for _ in range(300):
        samples.append(loop.time())
        deadline = time.perf_counter() + 0.00003
        while time.perf_counter() < deadline:
            pass
    frac = [abs(t * 1000 - round(t * 1000)) for t in samples]
    assert any(f > 1e-3 for f in frac), samples[:5]
    assert len(set(samples)) > 1


def test_time_is_monotonic_non_decreasing(loop):
    """Successive loop.time() reads never go backwards."""
    prev = loop.time()
    for _ in range(1000):
        now = loop.time()
        assert now >= prev
        prev = now


# -- contextvars -----------------------------------------------------------

VAR = contextvars.ContextVar("VAR", default="default")


def test_callback_runs_in_explicit_context(loop):
    """call_soon(..., context=ctx) runs the callback inside ctx; changes the
    callback makes land in ctx, not in the caller's context."""
    ctx = contextvars.copy_context()
    ctx.run(VAR.set, "in-ctx")
    seen = []

    def cb():
        seen.append(VAR.get())
        VAR.set("changed-by-cb")

    loop.call_soon(cb, context=ctx)
    run_briefly(loop)
    assert seen == ["in-ctx"]
    assert ctx[VAR] == "changed-by-cb"
    assert VAR.get() == "default"


def test_timer_runs_in_explicit_context(loop):
    """call_later/call_at honour context= as call_soon does."""
    ctx = contextvars.copy_context()
    ctx.run(VAR.set, "timer-ctx")
    seen = []
    loop.call_later(0, lambda: seen.append(("later", VAR.get())), context=ctx)
    loop.call_at(loop.time(), lambda: seen.append(("at", VAR.get())), context=ctx)
    run_until(loop, lambda: len(seen) == 2)
    assert sorted(seen) == [("at", "timer-ctx"), ("later", "timer-ctx")]


def test_default_context_is_copy_at_schedule_time(loop):
    """Without context=, the callback sees a copy of the context current when
    it was scheduled: later changes are invisible, and its own changes do not
    leak back."""
    seen = []

    def cb(tag):
        seen.append((tag, VAR.get()))
        VAR.set("set-in-" + tag)

    token = VAR.set("first")
    try:
        loop.call_soon(cb, "a")
        VAR.set("second")
        loop.call_soon(cb, "b")
        loop.call_later(0, cb, "t")
        VAR.set("third")
        run_until(loop, lambda: len(seen) == 3)
        assert VAR.get() == "third"
    finally:
        VAR.reset(token)
    assert seen == [("a", "first"), ("b", "second"), ("t", "second")]


def test_each_default_context_copy_is_independent(loop):
    """Two callbacks scheduled from the same context get separate copies."""
    seen = []

    def setter():
        VAR.set("from-setter")

    def getter():
        seen.append(VAR.get())

    loop.call_soon(setter)
    loop.call_soon(getter)
    run_briefly(loop)
    assert seen == ["default"]


def test_call_soon_threadsafe_context(loop):
    """call_soon_threadsafe accepts context= too."""
    ctx = contextvars.copy_context()
    ctx.run(VAR.set, "ts")
    seen = []
    loop.call_soon_threadsafe(lambda: seen.append(VAR.get()), context=ctx)
    run_briefly(loop)
    assert seen == ["ts"]


# -- tasks and futures -----------------------------------------------------


def test_create_future_is_bound_to_loop(loop):
    """create_future returns an asyncio.Future whose get_loop() is this loop."""
    fut = loop.create_future()
    assert isinstance(fut, asyncio.Future)
    assert fut.get_loop() is loop
    assert not fut.done()
    loop.call_soon(fut.set_result, 42)
    assert loop.run_until_complete(fut) == 42


def test_create_task_name(loop):
    """create_task(name=) names the task; without it a default Task-N name."""

    async def coro():
        return 1

    t = loop.create_task(coro(), name="my-task")
    assert t.get_name() == "my-task"
    t2 = loop.create_task(coro())
    assert t2.get_name().startswith("Task-")
    assert isinstance(t, asyncio.Task)
    assert t.get_loop() is loop
    loop.run_until_complete(asyncio.gather(t, t2))
    assert t.result() == 1


@pytest.mark.skipif(sys.version_info < (3, 11), reason="create_task(context=) is 3.11+")
def test_create_task_context(loop):
    """create_task(context=ctx) runs the coroutine inside ctx (3.11+)."""
    ctx = contextvars.copy_context()
    ctx.run(VAR.set, "task-ctx")

    async def coro():
        v = VAR.get()
        VAR.set("changed-in-task")
        return v

    t = loop.create_task(coro(), context=ctx)
    assert loop.run_until_complete(t) == "task-ctx"
    assert ctx[VAR] == "changed-in-task"
    assert VAR.get() == "default"


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="checks 3.10 signature")
def test_create_task_context_rejected_on_310(loop):
    """On 3.10 create_task has no context parameter: TypeError."""

    async def coro():
        pass

    c = coro()
    with pytest.raises(TypeError):
        loop.create_task(c, context=contextvars.copy_context())
    c.close()


def test_task_default_context_is_copy(loop):
    """A task without context= runs in a copy of the creating context."""

    async def coro():
        v = VAR.get()
        VAR.set("inside")
        return v

    token = VAR.set("outer")
    try:
        t = loop.create_task(coro())
        VAR.set("changed-after")
        assert loop.run_until_complete(t) == "outer"
        assert VAR.get() == "changed-after"
    finally:
        VAR.reset(token)


def test_task_factory_roundtrip_and_use(loop):
    """set_task_factory installs a factory used by create_task (and by
    ensure_future); get_task_factory returns it; None restores the default."""
    assert loop.get_task_factory() is None
    made = []

    class MyTask(asyncio.Task):
        pass

    def factory(lp, coro, **kwargs):
        made.append(lp)
        return MyTask(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory

    async def coro():
        return "r"

    t = loop.create_task(coro(), name="via-factory")
    assert isinstance(t, MyTask)
    assert t.get_name() == "via-factory"
    assert loop.run_until_complete(t) == "r"
    t2 = asyncio.ensure_future(coro(), loop=loop)
    assert isinstance(t2, MyTask)
    loop.run_until_complete(t2)
    assert made == [loop, loop]

    loop.set_task_factory(None)
    assert loop.get_task_factory() is None
    t3 = loop.create_task(coro())
    assert type(t3) is not MyTask
    loop.run_until_complete(t3)


def test_task_factory_rejects_non_callable(loop):
    """set_task_factory(non-callable) raises TypeError."""
    with pytest.raises(TypeError, match="task factory must be a callable or None"):
        loop.set_task_factory(1)


def test_run_until_complete_wraps_coroutine_via_task_factory(loop):
    """run_until_complete(coro) creates its task through the task factory."""
    made = []

    def factory(lp, coro, **kwargs):
        t = asyncio.Task(coro, loop=lp, **kwargs)
        made.append(t)
        return t

    loop.set_task_factory(factory)

    async def coro():
        return 5

    assert loop.run_until_complete(coro()) == 5
    assert len(made) == 1


def test_nan_when_runs_at_once_and_blocks_nothing(loop, loop_kind):
    """call_at(nan) is accepted and runs at once, as on asyncio 3.10-3.12;
    the timers behind it still run and the loop still waits (a NaN must
    not stall the heap nor turn every wait into a busy poll)."""
    if loop_kind == "asyncio" and sys.version_info >= (3, 13):
        pytest.skip("asyncio 3.13's selector raises ValueError for a NaN timeout")
    fired = []
    loop.call_at(float("nan"), fired.append, "nan")
    loop.call_later(0.01, fired.append, "t1")
    loop.call_later(0.05, loop.stop)
    safety = threading.Timer(10, loop.call_soon_threadsafe, (fired.append, "safety"))
    safety.start()
    try:
        loop.run_forever()
    finally:
        safety.cancel()
    assert sorted(fired) == ["nan", "t1"]


def test_purge_survives_finalizers_that_schedule(loop):
    """Freeing the purged cancelled timers runs Python (here weakref
    callbacks) that schedules new timers: none is lost and the heap stays
    ordered (the last of them stops the loop)."""
    import weakref

    fired = []
    refs = []

    def late():
        fired.append("late")
        if len(fired) == 150:
            loop.stop()

    def on_free(_):
        loop.call_later(0.001, late)

    hs = [loop.call_later(100, print) for _ in range(150)]
    for h in hs:
        refs.append(weakref.ref(h, on_free))
        h.cancel()
    del hs, h
    safety = threading.Timer(WATCHDOG, loop.call_soon_threadsafe, (loop.stop,))
    safety.start()
    try:
        loop.run_forever()
    finally:
        safety.cancel()
    assert fired == ["late"] * 150
