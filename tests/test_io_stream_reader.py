"""asyncio streams over goloop's transport, where goloop feeds asyncio's own
StreamReader from C (pyext/streamreader.c): what the reader holds, when
reading pauses and resumes, wake-ups, EOF, and the cases that must take
asyncio's path (subclassed protocol or reader, a reader gone, a cancelled
read). Every test runs on asyncio too and checks the same outcome."""

import asyncio
import gc
import socket

import pytest
from tests.io_helpers import TIMEOUT, run, wait_until  # noqa: F401


async def pair(loop, limit=2 ** 16, protocol_cls=None, reader_cls=None):
    """A connected (reader, writer) over a socketpair plus the peer socket."""
    a, b = socket.socketpair()
    a.setblocking(False)
    reader = (reader_cls or asyncio.StreamReader)(limit=limit, loop=loop)
    protocol = (protocol_cls or asyncio.StreamReaderProtocol)(reader, loop=loop)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, a)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    b.setblocking(False)
    return reader, writer, b


async def send_all(loop, sock, data):
    await loop.sock_sendall(sock, data)


def test_reader_receives_every_byte_in_order(loop):
    """Many writes of odd sizes arrive whole and in order, read in pieces."""
    async def main():
        reader, writer, peer = await pair(loop)
        chunks = [bytes([i % 251]) * (i * 37 % 5000 + 1) for i in range(300)]
        expected = b"".join(chunks)
        sender = asyncio.ensure_future(send_all(loop, peer, expected))
        got = bytearray()
        while len(got) < len(expected):
            got += await reader.read(7919)
        await sender
        writer.close()
        peer.close()
        return bytes(got) == expected

    assert run(loop, main())


def test_readexactly_and_readline(loop):
    """readline/readexactly/readuntil over data fed in pieces."""
    async def main():
        reader, writer, peer = await pair(loop)
        peer.send(b"hello\nwor")
        line = await reader.readline()
        peer.send(b"ld\nabc")
        rest = await reader.readuntil(b"\n")
        peer.send(b"defg")
        exact = await reader.readexactly(7)
        writer.close()
        peer.close()
        return line, rest, exact

    assert run(loop, main()) == (b"hello\n", b"world\n", b"abcdefg")


def test_reading_pauses_past_twice_the_limit_and_resumes(loop):
    """With nobody reading, the transport pauses once the reader holds more
    than twice its limit, and resumes when reads drain it: the sender is
    then able to finish."""
    limit = 4096

    async def main():
        reader, writer, peer = await pair(loop, limit=limit)
        transport = writer.transport
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        data = b"x" * (limit * 40)
        sender = asyncio.ensure_future(send_all(loop, peer, data))
        await wait_until(lambda: not transport.is_reading())
        held = len(reader._buffer)
        assert held > 2 * limit
        got = bytearray()
        while len(got) < len(data):
            got += await reader.read(limit)
        await sender
        assert transport.is_reading()
        writer.close()
        peer.close()
        return held, bytes(got) == data

    held, ok = run(loop, main())
    assert ok


def test_eof_after_data(loop):
    """Data then EOF: read() returns the data, then b"", at_eof() is true."""
    async def main():
        reader, writer, peer = await pair(loop)
        peer.sendall(b"last words")
        peer.shutdown(socket.SHUT_WR)
        data = await reader.read()
        again = await reader.read(10)
        writer.close()
        peer.close()
        return data, again, reader.at_eof()

    assert run(loop, main()) == (b"last words", b"", True)


def test_cancelled_read_then_data(loop):
    """A read cancelled while waiting leaves the data that arrives later
    for the next read."""
    async def main():
        reader, writer, peer = await pair(loop)
        t = asyncio.ensure_future(reader.read(100))
        await asyncio.sleep(0)
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            pass
        peer.send(b"after cancel")
        data = await reader.read(100)
        writer.close()
        peer.close()
        return data

    assert run(loop, main()) == b"after cancel"


class CountingProtocol(asyncio.StreamReaderProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.calls = 0

    def data_received(self, data):
        self.calls += 1
        super().data_received(data)


class UpperReader(asyncio.StreamReader):
    def feed_data(self, data):
        super().feed_data(data.upper())


def test_subclassed_protocol_sees_data_received(loop):
    """A StreamReaderProtocol subclass gets its data_received calls."""
    async def main():
        reader, writer, peer = await pair(loop, protocol_cls=CountingProtocol)
        peer.send(b"abc")
        data = await reader.read(10)
        calls = writer._protocol.calls
        writer.close()
        peer.close()
        return data, calls

    data, calls = run(loop, main())
    assert data == b"abc" and calls >= 1


def test_subclassed_reader_sees_feed_data(loop):
    """A StreamReader subclass's feed_data is called (here it uppercases)."""
    async def main():
        reader, writer, peer = await pair(loop, reader_cls=UpperReader)
        peer.send(b"shout")
        data = await reader.read(10)
        writer.close()
        peer.close()
        return data

    assert run(loop, main()) == b"SHOUT"


def test_data_for_a_reader_that_is_gone_is_dropped(loop):
    """The protocol holds its reader weakly: once the reader is collected,
    data is dropped without an error and the connection stays usable for
    writing."""
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))

    async def main():
        reader, writer, peer = await pair(loop)
        protocol = writer._protocol
        del reader
        writer._reader = None
        gc.collect()
        assert protocol._stream_reader is None
        peer.send(b"nobody reads this")
        await asyncio.sleep(0.01)
        writer.write(b"still writing")
        await writer.drain()
        got = b""
        while len(got) < 13:
            got += await loop.sock_recv(peer, 100)
        writer.close()
        peer.close()
        return got

    assert run(loop, main()) == b"still writing"
    assert errors == []
