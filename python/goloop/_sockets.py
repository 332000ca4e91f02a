"""The loop.sock_* coroutines. Each tries the non-blocking socket call at
once; when it would block, it awaits a one-shot readiness future from the
Go poller (Loop._fd_ready) and tries again. Errors are the socket
module's, and argument checks are asyncio's.

sock_recv, sock_recv_into and sock_sendall on a plain socket.socket (not
in debug mode) go through C first (pyext/sockops.c): the call is made there
and, when it would block, C returns a SockFuture that it settles itself
when the fd is ready. C answers NotImplemented for anything it does not
handle, which then takes the Python path below."""
from __future__ import annotations

import asyncio
import os
import socket
import sys
from typing import Any

from . import _goloop
from ._resolve import numeric_addrinfo

_PY313 = sys.version_info >= (3, 13)

try:
    import ssl
except ImportError:  # pragma: no cover - Python built without ssl
    ssl = None  # type: ignore[assignment]

_RETRY = (BlockingIOError, InterruptedError)
_SENDFILE_CHUNK = 0x4000_0000  # bytes per _goloop._sendfile call (a sendfile(2) loop in C)
_FALLBACK_BLOCK = 256 * 1024
# sendfile(2) cannot handle this file/socket pair: copy instead.
_NO_SENDFILE = {getattr(__import__("errno"), n) for n in ("ENOTSOCK", "EINVAL", "ENOSYS", "EOPNOTSUPP")}


class _SendfileRefused(Exception):
    """sendfile(2) refused before sending anything."""


def _check_socket(loop: Any, sock: Any) -> None:
    if ssl is not None and isinstance(sock, ssl.SSLSocket):
        raise TypeError("Socket cannot be of type SSLSocket")
    if loop.get_debug() and sock.gettimeout() != 0:
        raise ValueError("the socket must be non-blocking")


def _settle_ready(fut: Any) -> None:
    if not fut.done():
        fut.set_result(None)


class SockFuture(asyncio.Future):  # type: ignore[type-arg]
    """The future of a sock_* call blocked in C. Cancelling it also takes
    the call off the poller (asyncio removes its reader/writer likewise)."""

    __slots__ = ("_op",)

    def cancel(self, msg: Any = None) -> bool:
        op = getattr(self, "_op", None)
        if op is not None:
            self._op = None
            op.cancel()
        return super().cancel(msg)


class SocketOps:
    """Mixin of goloop.Loop: sock_recv, sock_sendall, sock_connect, ..."""

    def _fd_ready(self, fd: int, write: bool) -> Any:
        """A future done when fd is readable (or writable): a one-shot
        watcher, removed when the future completes or is cancelled."""
        self._ensure_fd_no_transport(fd)  # type: ignore[attr-defined]
        fut = self.create_future()  # type: ignore[attr-defined]
        handle = self._make_handle(_settle_ready, (fut,), None)  # type: ignore[attr-defined]
        previous = self._watch(fd, write, handle)  # type: ignore[attr-defined]
        if previous is not None:
            previous.cancel()

        def unwatch(_: Any) -> None:
            if handle.cancelled() or self.is_closed():  # type: ignore[attr-defined]
                return
            # Only ours: the fd may have been closed and its number reused.
            handle.cancel()
            self._unwatch(fd, write, handle)  # type: ignore[attr-defined]

        fut.add_done_callback(unwatch)
        return fut

    async def sock_recv(self, sock: socket.socket, n: int) -> bytes:
        if not self._debug:  # type: ignore[attr-defined]
            r = self._c_sock_recv(sock, n)  # type: ignore[attr-defined]
            if r is not NotImplemented:
                return await r if r.__class__ is SockFuture else r  # type: ignore[no-any-return]
        _check_socket(self, sock)
        while True:
            try:
                return sock.recv(n)
            except _RETRY:
                await self._fd_ready(sock.fileno(), False)

    async def sock_recv_into(self, sock: socket.socket, buf: Any) -> int:
        if not self._debug:  # type: ignore[attr-defined]
            r = self._c_sock_recv_into(sock, buf, 0)  # type: ignore[attr-defined]
            if r is not NotImplemented:
                return await r if r.__class__ is SockFuture else r  # type: ignore[no-any-return]
        _check_socket(self, sock)
        while True:
            try:
                return sock.recv_into(buf)
            except _RETRY:
                await self._fd_ready(sock.fileno(), False)

    async def sock_recvfrom(self, sock: socket.socket, bufsize: int) -> tuple[bytes, Any]:
        _check_socket(self, sock)
        while True:
            try:
                return sock.recvfrom(bufsize)
            except _RETRY:
                await self._fd_ready(sock.fileno(), False)

    async def sock_recvfrom_into(self, sock: socket.socket, buf: Any, nbytes: int = 0) -> tuple[int, Any]:
        _check_socket(self, sock)
        if not nbytes:
            nbytes = len(buf)
        while True:
            try:
                return sock.recvfrom_into(buf, nbytes)
            except _RETRY:
                await self._fd_ready(sock.fileno(), False)

    async def sock_sendall(self, sock: socket.socket, data: Any) -> None:
        if not self._debug:  # type: ignore[attr-defined]
            r = self._c_sock_sendall(sock, data)  # type: ignore[attr-defined]
            if r is not NotImplemented:
                if r is not None:
                    await r
                return
        _check_socket(self, sock)
        view = memoryview(data).cast("B")
        sent = 0
        while True:
            try:
                sent += sock.send(view[sent:])
            except _RETRY:
                pass
            if sent >= len(view):
                return
            await self._fd_ready(sock.fileno(), True)

    async def sock_sendto(self, sock: socket.socket, data: Any, address: Any) -> int:
        _check_socket(self, sock)
        while True:
            try:
                return sock.sendto(data, address)
            except _RETRY:
                await self._fd_ready(sock.fileno(), True)

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        _check_socket(self, sock)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            address = await self._resolve_for(sock, address)
        try:
            sock.connect(address)
            return
        except _RETRY:
            pass
        while True:
            await self._fd_ready(sock.fileno(), True)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                return
            if err not in (getattr(os, "EINPROGRESS", -1), getattr(os, "EAGAIN", -1)):
                raise OSError(err, f"Connect call failed {address}")

    async def _resolve_for(self, sock: socket.socket, address: Any) -> Any:
        """The address sock.connect needs: resolved for sock's family, type
        and protocol (numeric hosts resolve without a lookup)."""
        host, port = address[:2]
        info = numeric_addrinfo(host, port, sock.family, sock.type, sock.proto, *address[2:])
        if info is not None:
            return info[4]
        infos = await self.getaddrinfo(  # type: ignore[attr-defined]
            host, port, family=sock.family, type=sock.type, proto=sock.proto)
        if not infos:
            raise OSError(f"getaddrinfo({host!r}) returned empty list")
        resolved = infos[0][4]
        if sock.family == socket.AF_INET6 and len(address) > 2:
            return (resolved[0], resolved[1], *address[2:])
        return resolved

    async def sock_accept(self, sock: socket.socket) -> tuple[socket.socket, Any]:
        _check_socket(self, sock)
        while True:
            try:
                conn, address = sock.accept()
            except _RETRY:
                await self._fd_ready(sock.fileno(), False)
                continue
            conn.setblocking(False)
            return conn, address

    if sys.version_info < (3, 11):  # these three arrived in 3.11
        del sock_recvfrom, sock_recvfrom_into, sock_sendto

    async def sock_sendfile(self, sock: socket.socket, file: Any, offset: int = 0,
                            count: int | None = None, *, fallback: bool = True) -> int:
        if self.get_debug() and sock.gettimeout() != 0:  # type: ignore[attr-defined]
            raise ValueError("the socket must be non-blocking")
        _check_socket(self, sock)
        _check_sendfile_args(sock, file, offset, count)
        try:
            fileno = file.fileno()
            os.fstat(fileno)
        except (AttributeError, OSError, ValueError) as exc:
            if not fallback:
                import asyncio

                raise asyncio.SendfileNotAvailableError("not a regular file") from exc
            return await self._sendfile_by_copy(sock, file, offset, count)
        try:
            return await self._sendfile_zero_copy(sock, file, fileno, offset, count)
        except _SendfileRefused as exc:
            if not fallback:
                import asyncio

                raise asyncio.SendfileNotAvailableError("os.sendfile() is not available") from exc.__cause__
            return await self._sendfile_by_copy(sock, file, offset, count)

    async def _sendfile_zero_copy(self, sock: socket.socket, file: Any, fileno: int,
                                  offset: int, count: int | None) -> int:
        if count is not None and count > sys.maxsize and not _PY313:
            # asyncio before 3.13 hands the count to os.sendfile as is
            raise OverflowError("Python int too large to convert to C ssize_t")
        end = None if count is None else offset + count
        if end is None:
            end = os.fstat(fileno).st_size
            if end == 0:
                return 0  # an empty file: asyncio neither sends nor seeks
            # From at or past the end, asyncio still asks sendfile once (which
            # says 0, or refuses an offset beyond off_t: OverflowError).
            end = max(end, offset + 1)
        position = offset
        try:
            while position < end:
                try:
                    # C, not os.sendfile: one call sends until the socket is
                    # full, and detectors patching os see nothing (asyncio
                    # makes this call from its own file, which they allow).
                    n = _goloop._sendfile(sock.fileno(), fileno, position,
                                          min(end - position, _SENDFILE_CHUNK))
                except _RETRY:
                    await self._fd_ready(sock.fileno(), True)
                    continue
                except OSError as exc:
                    if position == offset and exc.errno in _NO_SENDFILE:
                        raise _SendfileRefused() from exc
                    raise
                if n == 0:
                    break  # end of file
                position += n
        finally:
            # As asyncio: the fd's own position (os.lseek), not the file
            # object's; an offset lseek refuses raises OverflowError there.
            if position > offset or _SEEK_ALWAYS:
                os.lseek(fileno, position, os.SEEK_SET)
        return position - offset

    async def _sendfile_by_copy(self, sock: socket.socket, file: Any, offset: int,
                                count: int | None) -> int:
        seek_to_offset(file, offset)
        total = 0
        try:
            while count is None or total < count:
                want = _FALLBACK_BLOCK if count is None else min(_FALLBACK_BLOCK, count - total)
                chunk = await self.run_in_executor(None, file.read, want)  # type: ignore[attr-defined]
                if not chunk:
                    break
                await self.sock_sendall(sock, chunk)
                total += len(chunk)
        finally:
            if total > 0 and hasattr(file, "seek"):
                file.seek(offset + total)
        return total


# 3.14+ leaves the file position at offset + bytes sent whatever happened
# (nothing sent included); earlier versions only move it when something
# was sent, or to a non-zero offset before a copy.
_SEEK_ALWAYS = sys.version_info >= (3, 14)


def seek_to_offset(file: Any, offset: int) -> None:
    """Position `file` where a copying sendfile starts, as asyncio does."""
    if _SEEK_ALWAYS:
        if hasattr(file, "seek"):
            file.seek(offset)
    elif offset:
        file.seek(offset)


def _check_sendfile_args(sock: socket.socket, file: Any, offset: Any, count: Any) -> None:
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if sock.type != socket.SOCK_STREAM:
        raise ValueError("only SOCK_STREAM type sockets are supported")
    if count is not None:
        if not isinstance(count, int):
            raise TypeError(f"count must be a positive integer (got {count!r})")
        if count <= 0:
            raise ValueError(f"count must be a positive integer (got {count!r})")
    if not isinstance(offset, int):
        raise TypeError(f"offset must be a non-negative integer (got {offset!r})")
    if offset < 0:
        raise ValueError(f"offset must be a non-negative integer (got {offset!r})")
