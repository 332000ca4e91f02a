"""What goloop's Python transports (pipes, datagrams) share: watching
their fd through the Go poller, and waiting for connection_made."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional


class FdWatching:
    """Registers callbacks on `self._watched_fd` with `self._loop`'s poller.

    Each direction remembers the handle it registered, and removing names
    it: once the fd was closed and its number reused, another owner's
    registration replaced ours and must stay."""

    _loop: Any
    _watched_fd: int
    _watch_handles: Optional[list] = None  # [reader, writer] handles

    def _watch(self, write: bool, callback: Callable[[], Any]) -> None:
        handle = self._loop._make_handle(callback, (), None)
        previous = self._loop._watch(self._watched_fd, write, handle)
        if previous is not None:
            previous.cancel()
        if self._watch_handles is None:
            self._watch_handles = [None, None]
        self._watch_handles[write] = handle

    def _unwatch(self, write: bool) -> None:
        handles = self._watch_handles
        handle = handles[write] if handles is not None else None
        if handle is None:
            return
        handles[write] = None
        handle.cancel()  # also when the loop is gone: it must never run
        if self._loop is None or self._loop.is_closed():
            return
        self._loop._unwatch(self._watched_fd, write, handle)


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
