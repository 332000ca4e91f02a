"""What a handle keeps, however goloop stores it: the arguments (held in the
handle itself up to a few, as a tuple beyond), the context (made only when
a callback scheduled from an empty context runs, from a pool of empty
contexts), and handle objects reused after they are freed. Each test runs
on asyncio too: what user code can observe must not differ."""

import asyncio
import contextvars
import gc
import sys
import weakref

import pytest

VAR = contextvars.ContextVar("storage_var", default="default")


def run_briefly(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


def from_empty_context(fn, *args):
    """fn(*args) run in an empty context, as in a program that sets no
    ContextVar (under pytest the current context is not empty: the
    decimal module keeps its context in one)."""
    return contextvars.Context().run(fn, *args)


def context_of(handle):
    # Handle.get_context() is 3.12+; the _context slot exists everywhere.
    return handle.get_context() if sys.version_info >= (3, 12) else handle._context


@pytest.mark.parametrize("nargs", [0, 1, 2, 3, 4, 7])
def test_arguments_reach_the_callback_and_args(loop, nargs):
    """Every argument count reaches the callback in order; `_args` is the
    tuple of them, and None once the handle is cancelled (as asyncio)."""
    args = tuple(object() for _ in range(nargs))
    got = []
    h = loop.call_soon(lambda *a: got.append(a), *args)
    assert h._args == args and type(h._args) is tuple
    t = loop.call_later(0, lambda *a: got.append(a), *args)
    assert t._args == args
    run_briefly(loop)
    while len(got) < 2:
        run_briefly(loop)
    assert got == [args, args]
    c = loop.call_soon(print, *args)
    c.cancel()
    assert c._args is None and c._callback is None
    run_briefly(loop)


def test_timer_handles_compare_by_when_callback_and_args(loop):
    """TimerHandle equality: same when, callback and args (inline or not)."""
    def cb(*a):
        pass

    when = loop.time() + 100
    for args in [(), (1,), (1, 2, 3), (1, 2, 3, 4, 5)]:
        a = loop.call_at(when, cb, *args)
        b = loop.call_at(when, cb, *args)
        c = loop.call_at(when, cb, *(args + ("x",)))
        assert a == b and not (a != b)
        assert a != c
        assert a <= b and a >= b
        for h in (a, b, c):
            h.cancel()
        assert a == b  # both cancelled: nothing left to compare


def test_callback_vars_stay_in_its_own_context(loop):
    """Callbacks scheduled from an empty context each get their own: what
    one sets is invisible to the next, to the caller, and to callbacks
    scheduled later, however many run (goloop reuses empty contexts)."""
    seen = []

    def setter(i):
        VAR.set(f"set-{i}")

    def getter():
        seen.append(VAR.get())

    def schedule():
        for i in range(300):
            loop.call_soon(setter, i)
            loop.call_soon(getter)

    from_empty_context(schedule)
    run_briefly(loop)
    for i in range(300):
        from_empty_context(loop.call_soon, getter)
    run_briefly(loop)
    assert seen == ["default"] * 600
    assert VAR.get() == "default"


def test_handle_keeps_what_its_callback_set(loop):
    """A handle kept after its run holds the context its callback changed
    (asyncio keeps handle._context); one whose callback set nothing has an
    empty context."""
    h1 = from_empty_context(loop.call_soon, VAR.set, "kept")
    h2 = from_empty_context(loop.call_soon, lambda: None)
    run_briefly(loop)
    assert context_of(h1)[VAR] == "kept"
    assert VAR not in context_of(h2)
    assert len(context_of(h2)) == 0


def test_context_handed_out_before_the_run_is_the_one_used(loop):
    """The context got from a handle before it runs is the one its callback
    runs in and changes; it stays the handle's."""
    h = from_empty_context(loop.call_soon, VAR.set, "inside")
    ctx = context_of(h)
    assert len(ctx) == 0
    run_briefly(loop)
    assert ctx[VAR] == "inside"
    assert context_of(h) is ctx


def test_context_read_during_the_run_is_the_running_one(loop):
    """A callback that reads its own handle's context sees the one it runs
    in (asyncio: the handle's _context)."""
    box = {}

    def cb():
        VAR.set("now")
        box["ctx"] = context_of(box["h"])

    box["h"] = from_empty_context(loop.call_soon, cb)
    run_briefly(loop)
    assert box["ctx"][VAR] == "now"
    assert context_of(box["h"]) is box["ctx"]


def test_context_copied_when_not_empty(loop):
    """From a non-empty context the callback gets a copy of it (values
    visible, its own changes not leaking back)."""
    seen = []
    token = VAR.set("outer")
    try:
        h = loop.call_soon(lambda: (seen.append(VAR.get()), VAR.set("cb")))
        assert context_of(h)[VAR] == "outer"
        run_briefly(loop)
        assert VAR.get() == "outer"
    finally:
        VAR.reset(token)
    assert seen == ["outer"]
    assert context_of(h)[VAR] == "cb"


def test_reentrant_run_of_the_running_handle_fails_like_asyncio(loop):
    """handle._run() from inside its own callback: its context is already
    entered, so the nested run fails (asyncio's Context.run raises
    RuntimeError, which goes to the exception handler) and the callback
    ran once; the loop goes on."""
    box = {}
    calls = []

    def cb():
        calls.append(1)
        if len(calls) == 1:
            box["h"]._run()

    def quiet(lp, ctx):
        pass

    loop.set_exception_handler(quiet)
    box["h"] = from_empty_context(loop.call_soon, cb)
    run_briefly(loop)
    assert calls == [1]
    after = []
    loop.call_soon(after.append, "ok")
    run_briefly(loop)
    assert after == ["ok"]


def test_freed_handles_do_not_carry_state(loop):
    """Handles freed and made again (goloop reuses their memory) start
    clean: weak references to the old ones are dead, no old callback,
    argument, context or cancelled flag shows through."""
    refs = []
    for i in range(50):
        h = from_empty_context(loop.call_soon, print, i)
        h.cancel()
        refs.append(weakref.ref(h))
        del h
    run_briefly(loop)
    gc.collect()
    assert all(r() is None for r in refs)
    out = []
    handles = [from_empty_context(loop.call_soon, out.append, i) for i in range(50)]
    assert not any(h.cancelled() for h in handles)
    assert [h._args for h in handles] == [(i,) for i in range(50)]
    run_briefly(loop)
    assert out == list(range(50))
    timers = [loop.call_later(100 + i, print) for i in range(50)]
    assert [t.when() for t in timers] == sorted(t.when() for t in timers)
    for t in timers:
        t.cancel()


class Holder:
    """Holds a handle whose callback is one of its own methods: a cycle."""

    fired = False

    def fire(self):
        self.fired = True


@pytest.mark.parametrize("kind", ["soon", "later", "cancelled"])
def test_cycle_through_a_handle_is_collected(loop, kind):
    """A handle kept in a reference cycle (its callback's owner holds the
    handle) is freed by the collector once the loop is done with it --
    after it ran, or once cancelled -- as asyncio's handles are."""
    holder = Holder()
    if kind == "soon":
        holder.handle = loop.call_soon(holder.fire)
    else:
        holder.handle = loop.call_later(0 if kind == "later" else 3600, holder.fire)
    if kind == "cancelled":
        holder.handle.cancel()
        holder.fired = True
        holder.keep = holder.handle._loop, holder  # still a cycle after cancel
    ref = weakref.ref(holder)
    href = weakref.ref(holder.handle)
    while not holder.fired:
        run_briefly(loop)
    run_briefly(loop)
    del holder
    gc.collect()
    assert ref() is None and href() is None
