"""Helpers shared by the I/O test modules (tests/test_io_*.py)."""

import asyncio
import gc
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
