"""SocketTransport: goloop's TCP/Unix stream transport. The C base
(_goloop.StreamCore) runs reading, writing, flow control and closing;
this class adds construction, repr, extra info and the cold paths
(error reports, connection_lost), with asyncio's behaviour."""
from __future__ import annotations

import asyncio
import logging
import math
import socket
import sys
import warnings
from asyncio import constants, protocols, trsock
from typing import Any, Optional

from . import _goloop

logger = logging.getLogger("asyncio")

_PY313 = sys.version_info >= (3, 13)


def _set_nodelay(sock: socket.socket) -> None:
    # asyncio turns Nagle off on its TCP transports.
    if (sock.family in (socket.AF_INET, socket.AF_INET6)
            and sock.type == socket.SOCK_STREAM and sock.proto == socket.IPPROTO_TCP):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _set_result_unless_cancelled(fut: asyncio.Future, result: Any) -> None:
    if not fut.cancelled():
        fut.set_result(result)


def _c_limit(value: Any) -> int:
    """A validated write-buffer limit as the C core's Py_ssize_t."""
    return sys.maxsize if value >= sys.maxsize else math.floor(value)


class SocketTransport(_goloop.StreamCore):
    """A stream transport over a connected TCP or Unix socket."""

    _start_tls_compatible = True
    _limits_given: Optional[tuple[Any, Any]] = None
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE

    def __init__(self, loop: Any, sock: socket.socket, protocol: Any,
                 waiter: Optional[asyncio.Future] = None, extra: Optional[dict] = None,
                 server: Any = None, context: Any = None) -> None:
        info: dict[str, Any] = dict(extra or {})
        info["socket"] = trsock.TransportSocket(sock)
        try:
            info["sockname"] = sock.getsockname()
        except OSError:
            info["sockname"] = None
        if "peername" not in info:
            try:
                info["peername"] = sock.getpeername()
            except OSError:
                info["peername"] = None
        self._extra_info = info
        self._server = None  # set once attached: only then may it detach
        # context (3.15): every callback of this connection runs in it.
        self._init_core(loop, sock, sock.fileno(), protocol,
                        isinstance(protocol, protocols.BufferedProtocol), context)
        _set_nodelay(sock)
        if server is not None:
            if _PY313:
                server._attach(self)
            else:
                server._attach()
            self._server = server
        loop._transports[self._sock_fd] = self
        loop.call_soon(protocol.connection_made, self, context=context)
        loop.call_soon(self._start_reading, context=context)
        if waiter is not None:
            loop.call_soon(_set_result_unless_cancelled, waiter, None, context=context)

    def __repr__(self) -> str:
        parts = [type(self).__name__]
        sock = self._sock
        if sock is None:
            parts.append("closed")
        elif self.is_closing():
            parts.append("closing")
        parts.append(f"fd={self._sock_fd}")
        if sock is not None:
            parts.append("read=" + ("polling" if self.is_reading() else "idle"))
            size = self.get_write_buffer_size()
            state = "polling" if size else "idle"
            parts.append(f"write=<{state}, bufsize={size}>")
        return "<{}>".format(" ".join(parts))

    def __del__(self, _warn: Any = warnings.warn) -> None:
        sock = self._sock
        if sock is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._release_core()
            sock.close()
            # asyncio detaches from the server here only since 3.13.
            server = self._server
            if server is not None and _PY313:
                self._server = None
                server._detach(self)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra_info.get(name, default)

    def set_protocol(self, protocol: Any) -> None:
        self._set_protocol_core(protocol, isinstance(protocol, protocols.BufferedProtocol))

    def can_write_eof(self) -> bool:
        return True

    def set_write_buffer_limits(self, high: Optional[int] = None, low: Optional[int] = None) -> None:
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        # The C core keeps Py_ssize_t limits; asyncio takes any real number.
        # Buffer sizes are integers, so flooring keeps both comparisons
        # (size > high pauses, size <= low resumes) exactly as asyncio's.
        self._set_limits(_c_limit(high), _c_limit(low))
        self._limits_given = (low, high)

    def get_write_buffer_limits(self) -> tuple[Any, Any]:
        # As given (1.5, 2**64, True...), as asyncio returns them.
        given = self._limits_given
        return given if given is not None else super().get_write_buffer_limits()

    # ---- cold paths called by the C core --------------------------------

    def _fatal_error(self, exc: BaseException, message: str = "Fatal error on transport") -> None:
        if isinstance(exc, OSError):
            loop = self._loop
            if loop is not None and loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        elif self._loop is not None:
            self._loop.call_exception_handler({
                "message": message,
                "exception": exc,
                "transport": self,
                "protocol": self._protocol,
            })
        self._force_close(exc)

    def _protocol_error(self, message: str, exc: BaseException) -> None:
        self._loop.call_exception_handler({
            "message": message,
            "exception": exc,
            "transport": self,
            "protocol": self._protocol,
        })

    def _log_write_after_close(self) -> None:
        logger.warning("socket.send() raised exception.")

    def _write_failed(self, exc: BaseException) -> None:
        self._fatal_error(exc, "Fatal write error on socket transport")
        if self._empty_waiter is not None:
            self._empty_waiter.set_exception(exc)

    def _write_drained(self) -> None:
        if self._empty_waiter is not None:
            self._empty_waiter.set_result(None)

    def _call_connection_lost(self, exc: Optional[BaseException]) -> None:
        protocol = self._protocol
        try:
            if protocol is not None:
                protocol.connection_lost(exc)
        finally:
            loop = self._loop
            fd = self._sock_fd
            sock = self._release_core()
            if loop is not None and loop._transports.get(fd) is self:
                del loop._transports[fd]
            if sock is not None:
                sock.close()
            server = self._server
            if server is not None:
                self._server = None
                server._detach(self) if _PY313 else server._detach()
            if self._empty_waiter is not None:
                self._empty_waiter.set_exception(ConnectionError("Connection is closed by peer"))

    # ---- loop.sendfile support ------------------------------------------

    def _make_empty_waiter(self) -> asyncio.Future:
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        self._empty_waiter = self._loop.create_future()
        if not self.get_write_buffer_size():
            self._empty_waiter.set_result(None)
        return self._empty_waiter

    def _reset_empty_waiter(self) -> None:
        self._empty_waiter = None
