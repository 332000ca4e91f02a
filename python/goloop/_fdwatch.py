"""What goloop's Python transports (pipes, datagrams) share: watching
their fd through the Go poller, and waiting for connection_made."""
from __future__ import annotations

import asyncio
from typing import Any, Callable


class FdWatching:
    """Registers callbacks on `self._watched_fd` with `self._loop`'s poller."""

    _loop: Any
    _watched_fd: int

    def _watch(self, write: bool, callback: Callable[[], Any]) -> None:
        handle = self._loop._make_handle(callback, (), None)
        previous = self._loop._watch(self._watched_fd, write, handle)
        if previous is not None:
            previous.cancel()

    def _unwatch(self, write: bool) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        previous = self._loop._unwatch(self._watched_fd, write)
        if previous is not None:
            previous.cancel()


async def wait_connected(transport: Any, waiter: asyncio.Future) -> None:
    """Await the transport's connection_made; close it if that fails."""
    try:
        await waiter
    except BaseException:
        transport.close()
        raise


def set_result_unless_cancelled(fut: asyncio.Future, result: Any) -> None:
    if not fut.cancelled():
        fut.set_result(result)
