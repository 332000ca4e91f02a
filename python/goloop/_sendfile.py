"""loop.sendfile(transport, file, ...): zero-copy os.sendfile on goloop's
socket transports, else (TLS, or when the syscall is refused) a copy loop
that reads the file in a thread and writes through the transport with
flow control. Checks and modes are asyncio's."""
from __future__ import annotations

import asyncio
from asyncio import constants
from typing import Any, Optional

from ._sockets import seek_to_offset

FALLBACK_BLOCK = 16 * 1024  # asyncio's fallback read size


class _WriteGate(asyncio.Protocol):
    """Stands in for the transport's protocol during a copy: turns
    pause_writing/resume_writing into an awaitable gate, passes
    connection_lost on. Reading is paused meanwhile."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._saved = transport.get_protocol()
        self._resume_reading = transport.is_reading()
        transport.pause_reading()
        transport.set_protocol(self)
        self._gate: Optional[asyncio.Future] = None
        self._was_paused = bool(getattr(transport, "_protocol_paused", False))
        if self._was_paused:
            self._gate = asyncio.get_running_loop().create_future()

    def pause_writing(self) -> None:
        if self._gate is None:
            self._gate = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._gate is not None:
            self._gate.set_result(None)
            self._gate = None

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if self._gate is not None:
            self._gate.set_exception(exc or ConnectionError("Connection is closed by peer"))
            self._gate = None
        self._saved.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        raise RuntimeError("Invalid state: reading should be paused")

    def eof_received(self) -> None:
        raise RuntimeError("Invalid state: reading should be paused")

    async def writable(self) -> None:
        if self._transport.is_closing():
            raise ConnectionError("Connection closed by peer")
        if self._gate is not None:
            await self._gate

    async def restore(self) -> None:
        self._transport.set_protocol(self._saved)
        if self._resume_reading:
            self._transport.resume_reading()
        if self._gate is not None:
            self._gate.cancel()
        # Tell the real protocol about a pause/resume it missed meanwhile.
        paused = bool(getattr(self._transport, "_protocol_paused", False))
        if paused and not self._was_paused:
            self._saved.pause_writing()
        elif self._was_paused and not paused:
            self._saved.resume_writing()


class TransportSendfile:
    """Mixin of goloop.Loop: loop.sendfile."""

    async def sendfile(self, transport: Any, file: Any, offset: int = 0,
                       count: Optional[int] = None, *, fallback: bool = True) -> int:
        if transport.is_closing():
            raise RuntimeError("Transport is closing")
        mode = getattr(transport, "_sendfile_compatible", constants._SendfileMode.UNSUPPORTED)
        if mode is constants._SendfileMode.UNSUPPORTED:
            raise RuntimeError(f"sendfile is not supported for transport {transport!r}")
        if mode is constants._SendfileMode.TRY_NATIVE:
            try:
                return await self._sendfile_native(transport, file, offset, count)
            except asyncio.SendfileNotAvailableError:
                if not fallback:
                    raise
        if not fallback:
            raise RuntimeError(f"fallback is disabled and native sendfile is not "
                               f"supported for transport {transport!r}")
        return await self._sendfile_copy(transport, file, offset, count)

    async def _sendfile_native(self, transport: Any, file: Any, offset: int,
                                  count: Optional[int]) -> int:
        # The socket is lent to sock_sendfile: it is the transport's no more
        # until the file is sent.
        fd = transport._sock_fd
        self._transports.pop(fd, None)  # type: ignore[attr-defined]
        resume = transport.is_reading()
        transport.pause_reading()
        try:
            await transport._make_empty_waiter()
            return await self.sock_sendfile(transport._sock, file, offset, count,  # type: ignore[attr-defined]
                                            fallback=False)
        finally:
            transport._reset_empty_waiter()
            if resume:
                transport.resume_reading()
            if transport._sock is not None:
                self._transports[fd] = transport  # type: ignore[attr-defined]

    async def _sendfile_copy(self, transport: Any, file: Any, offset: int,
                             count: Optional[int]) -> int:
        seek_to_offset(file, offset)
        block = min(count, FALLBACK_BLOCK) if count else FALLBACK_BLOCK
        buf = bytearray(block)
        sent = 0
        gate = _WriteGate(transport)
        try:
            while True:
                if count:
                    block = min(count - sent, block)
                    if block <= 0:
                        return sent
                view = memoryview(buf)[:block]
                n = await self.run_in_executor(None, file.readinto, view)  # type: ignore[attr-defined]
                if not n:
                    return sent
                await gate.writable()
                transport.write(view[:n])
                sent += n
        finally:
            if sent > 0 and hasattr(file, "seek"):
                file.seek(offset + sent)
            await gate.restore()
