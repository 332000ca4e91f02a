"""UDP and Unix datagram endpoints: create_datagram_endpoint and its
transport, with asyncio's parameters, checks and callbacks
(datagram_received, error_received, flow control on the send buffer)."""
from __future__ import annotations

import asyncio
import collections
import logging
import socket
import sys
import warnings
from asyncio import trsock
from typing import Any, Optional

from ._connections import _reuse_port, remove_stale_unix_socket
from ._fdwatch import FdWatching, set_result_unless_cancelled, wait_connected

logger = logging.getLogger("asyncio")

MAX_DATAGRAM = 256 * 1024
CONN_LOST_LOG_THRESHOLD = 5
_SEND_EMPTY = sys.version_info >= (3, 13)  # 3.13 sends empty datagrams
_PY311 = sys.version_info >= (3, 11)  # pause/resume_reading on datagram transports
_UNSET = object()


class DatagramTransport(FdWatching, asyncio.transports._FlowControlMixin, asyncio.DatagramTransport):
    """A datagram transport over a non-blocking SOCK_DGRAM socket."""

    def __init__(self, loop: Any, sock: socket.socket, protocol: Any, address: Any = None,
                 waiter: Any = None, extra: Optional[dict] = None) -> None:
        super().__init__(extra, loop)
        self._extra["socket"] = trsock.TransportSocket(sock)
        try:
            self._extra["sockname"] = sock.getsockname()
        except OSError:
            self._extra["sockname"] = None
        if "peername" not in self._extra:
            try:
                self._extra["peername"] = sock.getpeername()
            except OSError:
                self._extra["peername"] = None
        self._sock = sock
        self._sock_fd = self._watched_fd = sock.fileno()
        # add_reader/sock_recv on this fd then raise, as on asyncio.
        loop._transports[self._sock_fd] = self
        self._protocol = protocol
        self._address = address
        self._buffer: collections.deque = collections.deque()
        self._buffer_size = 0
        self._conn_lost = 0
        self._closing = False
        self._reading = False
        self._paused = False
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._start_reading)
        if waiter is not None:
            loop.call_soon(set_result_unless_cancelled, waiter, None)

    def _start_reading(self) -> None:
        if not self._closing and not self._conn_lost and not self._paused:
            self._watch(False, self._read_ready)

    if _PY311:
        def is_reading(self) -> bool:
            return not self._closing and not self._paused

        def pause_reading(self) -> None:
            if not self.is_reading():
                return
            self._paused = True
            self._unwatch(False)

        def resume_reading(self) -> None:
            if self._closing or not self._paused:
                return
            self._paused = False
            self._watch(False, self._read_ready)

    # ---- public API ---------------------------------------------------------

    def __repr__(self) -> str:
        parts = [type(self).__name__]
        if self._sock is None:
            parts.append("closed")
        elif self._closing:
            parts.append("closing")
        parts.append(f"fd={self._sock_fd}")
        return "<{}>".format(" ".join(parts))

    def get_write_buffer_size(self) -> int:
        return self._buffer_size

    def set_protocol(self, protocol: Any) -> None:
        self._protocol = protocol

    def get_protocol(self) -> Any:
        return self._protocol

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._unwatch(False)
        if not self._buffer:
            self._conn_lost += 1
            self._unwatch(True)
            self._loop.call_soon(self._call_connection_lost, None)

    def abort(self) -> None:
        self._force_close(None)

    def sendto(self, data: Any, addr: Any = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, "
                            f"not {type(data).__name__!r}")
        if not data and not _SEND_EMPTY:
            return
        if self._address:
            if addr not in (None, self._address):
                raise ValueError(f"Invalid address: must be None or {self._address}")
            addr = self._address
        if self._conn_lost and self._address:
            if self._conn_lost >= CONN_LOST_LOG_THRESHOLD:
                logger.warning("socket.send() raised exception.")
            self._conn_lost += 1
            return
        if not self._buffer:
            try:
                self._send_one(data, addr)
                return
            except (BlockingIOError, InterruptedError):
                self._watch(True, self._sendto_ready)
            except OSError as exc:
                self._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal write error on datagram transport")
                return
        self._buffer.append((bytes(data), addr))  # a copy: the caller may reuse it
        self._buffer_size += len(data)
        self._maybe_pause_protocol()

    def _send_one(self, data: Any, addr: Any) -> None:
        if self._extra["peername"]:
            self._sock.send(data)
        else:
            self._sock.sendto(data, addr)

    # ---- readiness callbacks -------------------------------------------------

    def _read_ready(self) -> None:
        if self._conn_lost:
            return
        try:
            data, addr = self._sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._protocol.error_received(exc)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on datagram transport")
        else:
            self._protocol.datagram_received(data, addr)

    def _sendto_ready(self) -> None:
        while self._buffer:
            data, addr = self._buffer.popleft()
            self._buffer_size -= len(data)
            try:
                self._send_one(data, addr)
            except (BlockingIOError, InterruptedError):
                self._buffer.appendleft((data, addr))
                self._buffer_size += len(data)
                break
            except OSError as exc:
                self._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal write error on datagram transport")
                return
        self._maybe_resume_protocol()
        if not self._buffer:
            self._unwatch(True)
            if self._closing:
                self._call_connection_lost(None)

    # ---- closing ---------------------------------------------------------------

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if isinstance(exc, OSError):
            if self._loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._loop.call_exception_handler({
                "message": message, "exception": exc,
                "transport": self, "protocol": self._protocol,
            })
        self._force_close(exc)

    def _force_close(self, exc: Optional[BaseException]) -> None:
        if self._conn_lost:
            return
        if self._buffer:
            self._buffer.clear()
            self._buffer_size = 0
            self._unwatch(True)
        if not self._closing:
            self._closing = True
            self._unwatch(False)
        self._conn_lost += 1
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: Optional[BaseException]) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._unwatch(False)
            self._unwatch(True)
            self._sock.close()
            self._sock = None
            self._protocol = None
            self._loop = None

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if getattr(self, "_sock", None) is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._sock.close()


class Datagrams:
    """Mixin of goloop.Loop: create_datagram_endpoint."""

    async def create_datagram_endpoint(self, protocol_factory: Any, local_addr: Any = None,
                                       remote_addr: Any = None, *, family: int = 0, proto: int = 0,
                                       flags: int = 0, reuse_address: Any = _UNSET,
                                       reuse_port: Optional[bool] = None,
                                       allow_broadcast: Optional[bool] = None,
                                       sock: Optional[socket.socket] = None) -> tuple:
        if reuse_address is not _UNSET:
            if sys.version_info >= (3, 11):
                raise TypeError("create_datagram_endpoint() got an unexpected "
                                "keyword argument 'reuse_address'")
            if reuse_address:
                raise ValueError("Passing `reuse_address=True` is no longer supported, as the usage "
                                 "of SO_REUSEPORT in UDP poses a significant security concern.")
            warnings.warn("The *reuse_address* parameter has been deprecated as of 3.5.10 and "
                          "is scheduled for removal in 3.11.", DeprecationWarning, stacklevel=2)
        r_addr = None
        if sock is not None:
            if sock.type != socket.SOCK_DGRAM:
                kind = "datagram socket" if sys.version_info >= (3, 13) else "UDP Socket"
                raise ValueError(f"A {kind} was expected, got {sock!r}")
            if local_addr or remote_addr or family or proto or flags or reuse_port or allow_broadcast:
                opts = dict(local_addr=local_addr, remote_addr=remote_addr, family=family,
                            proto=proto, flags=flags, reuse_port=reuse_port,
                            allow_broadcast=allow_broadcast)
                problems = ", ".join(f"{k}={v}" for k, v in opts.items() if v)
                raise ValueError(f"socket modifier keyword arguments can not be used "
                                 f"when sock is specified. ({problems})")
            sock.setblocking(False)
        else:
            pairs = await self._datagram_address_pairs(local_addr, remote_addr, family, proto, flags)
            errors = []
            for (fam, pro), (local, remote) in pairs:
                sock = None
                r_addr = None
                try:
                    sock = socket.socket(family=fam, type=socket.SOCK_DGRAM, proto=pro)
                    if reuse_port:
                        _reuse_port(sock)
                    if allow_broadcast:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                    sock.setblocking(False)
                    if local_addr:
                        sock.bind(local)
                    if remote_addr:
                        if not allow_broadcast:
                            await self.sock_connect(sock, remote)  # type: ignore[attr-defined]
                        r_addr = remote
                except OSError as exc:
                    if sock is not None:
                        sock.close()
                    errors.append(exc)
                except BaseException:
                    if sock is not None:
                        sock.close()
                    raise
                else:
                    break
            else:
                raise errors[0]
        protocol = protocol_factory()
        waiter = self.create_future()  # type: ignore[attr-defined]
        transport = DatagramTransport(self, sock, protocol, r_addr, waiter)
        await wait_connected(transport, waiter)
        return transport, protocol

    async def _datagram_address_pairs(self, local_addr: Any, remote_addr: Any, family: int,
                                      proto: int, flags: int) -> list:
        """[((family, proto), (local address, remote address)), ...] to try."""
        if not (local_addr or remote_addr):
            if family == 0:
                raise ValueError("unexpected address family")
            return [((family, proto), (None, None))]
        if family == socket.AF_UNIX:
            for addr in (local_addr, remote_addr):
                if addr is not None and not isinstance(addr, str):
                    raise TypeError("string is expected")
            if local_addr:
                remove_stale_unix_socket(local_addr)
            return [((family, proto), (local_addr, remote_addr))]
        by_key: dict = {}
        for idx, addr in ((0, local_addr), (1, remote_addr)):
            if addr is None:
                continue
            if not (isinstance(addr, tuple) and len(addr) == 2):
                if sys.version_info < (3, 11):
                    raise AssertionError("2-tuple is expected")  # 3.10 asserted
                raise TypeError("2-tuple is expected")
            infos = await self._resolve(addr, family=family, type=socket.SOCK_DGRAM,  # type: ignore[attr-defined]
                                        proto=proto, flags=flags)
            if not infos:
                raise OSError("getaddrinfo() returned empty list")
            for fam, _, pro, _, address in infos:
                by_key.setdefault((fam, pro), [None, None])
                if by_key[(fam, pro)][idx] is None:
                    by_key[(fam, pro)][idx] = address
        pairs = [(key, pair) for key, pair in by_key.items()
                 if not ((local_addr and pair[0] is None) or (remote_addr and pair[1] is None))]
        if not pairs:
            raise ValueError("can not get address information")
        return pairs
