"""Pipe transports (connect_read_pipe / connect_write_pipe) for pipes,
FIFOs, character devices (ptys) and sockets, with asyncio's behaviour.
Readiness comes from the Go poller through goloop Handles; the data path
is os.read/os.write on the non-blocking fd, 256 KiB per read."""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
import sys
import warnings
from typing import Any, Optional

from ._fdwatch import FdWatching, set_result_unless_cancelled, wait_connected

logger = logging.getLogger("asyncio")

MAX_READ = 256 * 1024
CONN_LOST_LOG_THRESHOLD = 5


class _PipeTransportBase(FdWatching):
    """What both pipe transports share: the fd, its watchers, closing."""

    _pipe: Any
    _loop: Any
    _protocol: Any

    def _setup(self, loop: Any, pipe: Any, protocol: Any, extra: Optional[dict]) -> int:
        self._extra = dict(extra or {})
        self._extra["pipe"] = pipe
        self._loop = loop
        self._pipe = pipe
        self._protocol = protocol
        self._closing = False
        self._fileno = self._watched_fd = pipe.fileno()
        return os.fstat(self._fileno).st_mode

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def _fd(self) -> int:
        """The fd to read or write: the pipe's, while the pipe object still
        has it. -1 (EBADF on use) once it was closed or detached behind
        the transport's back: its number may be another file's by now."""
        try:
            fd = self._pipe.fileno()
        except (AttributeError, ValueError, OSError):
            return -1
        return fd if fd == self._fileno else -1

    def set_protocol(self, protocol: Any) -> None:
        self._protocol = protocol

    def get_protocol(self) -> Any:
        return self._protocol

    def is_closing(self) -> bool:
        return self._closing

    def _is_quiet_end(self, exc: BaseException) -> bool:
        # EIO is how a pty reports its other side closed: not an error.
        return isinstance(exc, OSError) and exc.errno == errno.EIO

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if self._is_quiet_end(exc):
            if self._loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._loop.call_exception_handler({
                "message": message,
                "exception": exc,
                "transport": self,
                "protocol": self._protocol,
            })
        self._close(exc)

    def _close(self, exc: Optional[BaseException] = None) -> None:
        raise NotImplementedError

    def _call_connection_lost(self, exc: Optional[BaseException]) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._pipe.close()
            self._pipe = None
            self._protocol = None
            self._loop = None

    def __del__(self, _warn: Any = warnings.warn) -> None:
        pipe = getattr(self, "_pipe", None)
        if pipe is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            close = getattr(pipe, "close", None)  # refused non-pipes may have none
            if close is not None:
                close()

    def __repr__(self) -> str:
        # getattr: also called from __del__ of a transport whose __init__
        # failed half-way (not a pipe, closed file), before these exist.
        pipe = getattr(self, "_pipe", None)
        parts = [type(self).__name__]
        if pipe is None:
            parts.append("closed")
        elif getattr(self, "_closing", False):
            parts.append("closing")
        parts.append(f"fd={getattr(self, '_fileno', None)}")
        parts.append("open" if pipe is not None else "closed")
        return "<{}>".format(" ".join(parts))


class ReadPipeTransport(_PipeTransportBase, asyncio.ReadTransport):
    """Reads a pipe/FIFO/pty into protocol.data_received."""

    def __init__(self, loop: Any, pipe: Any, protocol: Any, waiter: Any = None,
                 extra: Optional[dict] = None) -> None:
        super().__init__(extra)
        mode = self._setup(loop, pipe, protocol, extra)
        self._paused = False
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
            self._pipe = None
            raise ValueError("Pipe transport is for pipes/sockets only.")
        os.set_blocking(self._fileno, False)
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._start_reading)
        if waiter is not None:
            loop.call_soon(set_result_unless_cancelled, waiter, None)

    def _start_reading(self) -> None:
        if not self._closing and not self._paused:
            self._watch(False, self._read_ready)

    def _read_ready(self) -> None:
        try:
            data = os.read(self._fd(), MAX_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fatal_error(exc, "Fatal read error on pipe transport")
            return
        if data:
            self._protocol.data_received(data)
            return
        if self._loop.get_debug():
            logger.info("%r was closed by peer", self)
        self._closing = True
        self._unwatch(False)
        self._loop.call_soon(self._protocol.eof_received)
        self._loop.call_soon(self._call_connection_lost, None)

    def pause_reading(self) -> None:
        if self._closing or self._paused:
            return
        self._paused = True
        self._unwatch(False)

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        self._watch(False, self._read_ready)

    if sys.version_info >= (3, 11):  # 3.10's read pipes have no is_reading()
        def is_reading(self) -> bool:
            return not self._paused and not self._closing

    def close(self) -> None:
        if not self._closing:
            self._close(None)

    def _close(self, exc: Optional[BaseException] = None) -> None:
        self._closing = True
        self._unwatch(False)
        self._loop.call_soon(self._call_connection_lost, exc)


class WritePipeTransport(_PipeTransportBase, asyncio.transports._FlowControlMixin, asyncio.WriteTransport):
    """Writes to a pipe/FIFO/pty, buffering what the fd cannot take."""

    def _is_quiet_end(self, exc: BaseException) -> bool:
        # Any OSError (EPIPE: the reader is gone) is the end of the pipe,
        # not an error to report: asyncio's write pipe logs it in debug only.
        return isinstance(exc, OSError)

    def __init__(self, loop: Any, pipe: Any, protocol: Any, waiter: Any = None,
                 extra: Optional[dict] = None) -> None:
        asyncio.transports._FlowControlMixin.__init__(self, extra, loop)
        mode = self._setup(loop, pipe, protocol, extra)
        self._buffer = bytearray()
        self._conn_lost = 0
        is_socket = stat.S_ISSOCK(mode)
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or is_socket):
            self._pipe = None
            raise ValueError("Pipe transport is only for pipes, sockets and character devices")
        os.set_blocking(self._fileno, False)
        loop.call_soon(protocol.connection_made, self)
        # The read side of a pipe becomes readable (EOF) when the other
        # end closes: that is how a write pipe learns its reader is gone.
        if is_socket or stat.S_ISFIFO(mode):
            loop.call_soon(self._watch, False, self._peer_closed)
        if waiter is not None:
            loop.call_soon(set_result_unless_cancelled, waiter, None)

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def _peer_closed(self) -> None:
        if self._loop.get_debug():
            logger.info("%r was closed by peer", self)
        if self._buffer:
            self._close(BrokenPipeError())
        else:
            self._close()

    def write(self, data: Any) -> None:
        assert isinstance(data, (bytes, bytearray, memoryview)), repr(data)
        if not data:
            return
        if self._conn_lost or self._closing:
            if self._conn_lost >= CONN_LOST_LOG_THRESHOLD:
                logger.warning("pipe closed by peer or os.write(pipe, data) raised exception.")
            self._conn_lost += 1
            return
        if not self._buffer:
            try:
                n = os.write(self._fd(), data)
            except (BlockingIOError, InterruptedError):
                n = 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._conn_lost += 1
                self._fatal_error(exc, "Fatal write error on pipe transport")
                return
            if n == len(data):
                return
            data = memoryview(data)[n:]
            self._watch(True, self._write_ready)
        self._buffer += data
        self._maybe_pause_protocol()

    def _write_ready(self) -> None:
        try:
            n = os.write(self._fd(), self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._buffer.clear()
            self._conn_lost += 1
            self._unwatch(True)
            self._fatal_error(exc, "Fatal write error on pipe transport")
            return
        if n < len(self._buffer):
            del self._buffer[:n]
            return
        self._buffer.clear()
        self._unwatch(True)
        self._maybe_resume_protocol()
        if self._closing:
            self._unwatch(False)
            self._call_connection_lost(None)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing:
            return
        self._closing = True
        if not self._buffer:
            self._unwatch(False)
            self._loop.call_soon(self._call_connection_lost, None)

    def close(self) -> None:
        if self._pipe is not None and not self._closing:
            self.write_eof()

    def abort(self) -> None:
        self._close(None)

    def _close(self, exc: Optional[BaseException] = None) -> None:
        self._closing = True
        if self._buffer:
            self._unwatch(True)
        self._buffer.clear()
        self._unwatch(False)
        self._loop.call_soon(self._call_connection_lost, exc)


class Pipes:
    """Mixin of goloop.Loop: connect_read_pipe / connect_write_pipe."""

    async def connect_read_pipe(self, protocol_factory: Any, pipe: Any) -> tuple:
        return await self._connect_pipe(ReadPipeTransport, protocol_factory, pipe)

    async def connect_write_pipe(self, protocol_factory: Any, pipe: Any) -> tuple:
        return await self._connect_pipe(WritePipeTransport, protocol_factory, pipe)

    async def _connect_pipe(self, transport_type: Any, protocol_factory: Any, pipe: Any) -> tuple:
        protocol = protocol_factory()
        waiter = self.create_future()  # type: ignore[attr-defined]
        transport = transport_type(self, pipe, protocol, waiter)
        await wait_connected(transport, waiter)
        return transport, protocol
