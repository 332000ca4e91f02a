"""loop.time() overridden (asyncio reads self.time() for call_later and for
its timers: code and tests that patch it move the timers), and goloop's
loop.metrics()."""

import asyncio
import time
from unittest import mock

import pytest

WATCHDOG = 30


class ShiftedClock:
    """A loop.time replacement running `offset` seconds ahead."""

    def __init__(self, offset):
        self.offset = offset

    def __call__(self):
        return time.monotonic() + self.offset


def test_call_later_uses_a_patched_time(loop):
    """With loop.time patched to run an hour ahead, call_later's `when` is
    that clock's now + delay, as asyncio's."""
    with mock.patch.object(loop, "time", ShiftedClock(3600)):
        h = loop.call_later(10, print)
    assert 3600 + 9 < h.when() - time.monotonic() < 3600 + 11
    h.cancel()


def test_timers_follow_a_patched_time(loop):
    """A timer due an hour from now by the real clock fires at once when
    loop.time is patched to run an hour ahead (asyncio compares `when` to
    self.time())."""
    fired = []
    h = loop.call_at(time.monotonic() + 3600, fired.append, "late")

    async def main():
        with mock.patch.object(loop, "time", ShiftedClock(3600)):
            deadline = time.monotonic() + WATCHDOG  # only bounds a hang
            while not fired and time.monotonic() < deadline:
                await asyncio.sleep(0.001)

    loop.run_until_complete(main())
    h.cancel()
    assert fired == ["late"]


def test_time_overridden_in_a_subclass(loop_factory):
    """A loop class whose time() runs ahead: call_later and the timers use
    it (asyncio's BaseEventLoop subclasses do the same)."""
    probe = loop_factory()
    base = type(probe)
    probe.close()

    class Ahead(base):
        def time(self):
            return time.monotonic() + 3600

    loop = Ahead()
    try:
        fired = []
        loop.call_at(time.monotonic() + 3600, fired.append, "late")
        h = loop.call_later(5, print)
        assert h.when() > time.monotonic() + 3600
        loop.call_later(0, loop.stop)
        loop.run_forever()
        assert fired == ["late"]
    finally:
        loop.close()


def test_unpatched_time_is_the_monotonic_clock(loop):
    """After the patch is undone, the loop's own clock is back."""
    with mock.patch.object(loop, "time", ShiftedClock(3600)):
        pass
    a = time.monotonic()
    t = loop.time()
    assert a <= t <= time.monotonic()
    h = loop.call_later(1, print)
    assert h.when() < time.monotonic() + 2
    h.cancel()


# -- loop.metrics() (goloop only) --------------------------------------------


@pytest.fixture
def goloop_loop(loop, loop_kind):
    if loop_kind != "goloop":
        pytest.skip("loop.metrics() is goloop's")
    return loop


def test_metrics_count_what_the_loop_did(goloop_loop):
    loop = goloop_loop
    m0 = loop.metrics()
    assert set(m0) >= {"iterations", "callbacks", "io_events", "run_time", "wait_time",
                       "busy_time", "longest_callback", "ready", "fds_watched", "timers"}
    for _ in range(10):
        loop.call_soon(lambda: None)
    h = loop.call_later(3600, print)
    loop.call_soon(loop.stop)
    loop.run_forever()
    m = loop.metrics()
    assert m["callbacks"] - m0["callbacks"] == 11
    assert m["iterations"] > m0["iterations"]
    assert m["timers"] == 1 and m["ready"] == 0
    h.cancel()
    assert loop.metrics()["timers"] == 0


def test_metrics_wait_time_and_fds(goloop_loop):
    """A wait in the poller counts as waiting, a slow callback as busy and
    as the longest callback; a reader counts as a watched fd."""
    import socket

    loop = goloop_loop
    a, b = socket.socketpair()
    with a, b:
        loop.add_reader(a.fileno(), lambda: None)
        assert loop.metrics()["fds_watched"] == 1
        loop.remove_reader(a.fileno())
        assert loop.metrics()["fds_watched"] == 0

    def slow():
        end = time.monotonic() + 0.05
        while time.monotonic() < end:
            pass

    loop.call_soon(slow)
    loop.run_until_complete(asyncio.sleep(0.05))
    m = loop.metrics()
    assert m["longest_callback"] >= 0.04
    assert m["wait_time"] > 0
    assert m["busy_time"] >= 0.04
    assert m["run_time"] >= m["wait_time"] + m["busy_time"] - 1e-9
