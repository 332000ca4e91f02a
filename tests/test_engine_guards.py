"""goloop-only guarantees of the Go engine's boundary: a Go panic becomes a
Python exception (never an aborted interpreter), the engine's fds are
released when a loop closes, and an idle loop does not spin."""

import os

import pytest


from tests.io_helpers import fd_table


def test_go_panic_becomes_runtime_error(goloop_module):
    """A panic inside an exported Go function surfaces as RuntimeError
    and the interpreter (and goloop) keep working."""
    goloop = goloop_module
    from goloop import _goloop

    with pytest.raises(RuntimeError, match="goloop internal error"):
        _goloop._selftest_panic()
    loop = goloop.new_event_loop()
    try:
        assert loop.run_until_complete(_sleep_result()) == "still fine"
    finally:
        loop.close()


async def _sleep_result():
    import asyncio

    await asyncio.sleep(0)
    return "still fine"


def test_close_releases_engine_fds(goloop_module):
    """Each loop owns an epoll fd, an eventfd and a pipe: close() (and
    garbage collection of a closed loop) gives every one back."""
    import gc

    goloop = goloop_module

    before = fd_table()
    loops = [goloop.new_event_loop() for _ in range(20)]
    own = {fd: t for fd, t in fd_table().items() if before.get(fd) != t}
    assert len(own) >= 20 * 4
    for lp in loops:
        lp.close()
    del loops
    gc.collect()
    now = fd_table()
    assert {fd: t for fd, t in own.items() if now.get(fd) == t} == {}


def test_idle_loop_does_not_spin(snippet_runner):
    """A loop waiting on a long timer uses (almost) no CPU: the wait is one
    epoll_wait, not a poll loop woken by Go's preemption signal."""
    proc = snippet_runner(
        "goloop",
        """
import asyncio, goloop, os, time
loop = goloop.new_event_loop()
def cpu():
    with open(f"/proc/{os.getpid()}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
async def main():
    await asyncio.sleep(0.2)
    start = cpu()
    await asyncio.sleep(2.0)
    print("TICKS", cpu() - start)
loop.run_until_complete(main())
loop.close()
""",
        timeout=60,
    )
    assert proc.returncode == 0, proc
    ticks = int(proc.stdout.split("TICKS")[1].split()[0])
    # 2 s idle: a spinning loop burns ~200 ticks (100 Hz); allow noise.
    assert ticks <= 20, proc.stdout
