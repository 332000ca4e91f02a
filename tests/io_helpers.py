"""Helpers shared by the I/O test modules (tests/test_io_*.py)."""

import asyncio
import gc
import os
import tempfile

import pytest

TIMEOUT = 60


def run(loop, coro, timeout=TIMEOUT):
    """Run coro on loop, failing (not hanging) after `timeout` seconds."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


async def wait_until(predicate, timeout=TIMEOUT):
    async def poll():
        while not predicate():
            await asyncio.sleep(0.001)

    await asyncio.wait_for(poll(), timeout)


def fd_table():
    """{fd: what it refers to} for this process (readlink of /proc/self/fd).

    Fd checks compare these, never a bare count: the Go runtime opens fds
    of its own at moments no test controls (its netpoller's epoll and
    eventfd, on the first Go timer after its first garbage collection).
    """
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the listing's own fd, or closed meanwhile
            pass
    return out


def open_sockets():
    """How many sockets this process has open."""
    return sum(t.startswith("socket:") for t in fd_table().values())


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Collect garbage after each test so finalizer errors are attributed to it."""
    yield
    gc.collect()


@pytest.fixture
def shortdir():
    """A short temporary directory (Unix socket paths are limited to 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="gl") as d:
        yield d


class Recorder(asyncio.Protocol):
    """Records every protocol callback (streams and pipes)."""

    eof_result = None

    def __init__(self):
        loop = asyncio.get_running_loop()
        self.transport = None
        self.events = []
        self.data = bytearray()
        self.made = loop.create_future()
        self.eof = loop.create_future()
        self.lost = loop.create_future()
        self.paused = 0
        self.resumed = 0
        self._drain = None

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")
        self.made.set_result(transport)

    def data_received(self, data):
        if not self.events or self.events[-1] != "data":
            self.events.append("data")
        self.data += data

    def eof_received(self):
        self.events.append("eof")
        self.eof.set_result(None)
        return self.eof_result

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self):
        self.paused += 1
        self._drain = asyncio.get_running_loop().create_future()

    def resume_writing(self):
        self.resumed += 1
        self._drain.set_result(None)

    async def drain(self):
        if self._drain is not None:
            await self._drain

    async def wait_data(self, n):
        await wait_until(lambda: len(self.data) >= n)
        return bytes(self.data)
