"""Stream connections: asyncio streams and TCP/Unix transports, servers and
their creation functions (create_connection, create_server,
create_unix_connection, create_unix_server, connect_accepted_socket,
loop.sendfile).

What must hold: every byte arrives in order under flow control on both sides
(pause_writing/resume_writing on the writer, pause_reading through the
StreamReader limit on the reader), half-close and peer resets behave as in
asyncio, the transport API (extra info, buffer limits, write rules, protocol
switching, BufferedProtocol) matches, Server objects behave the same, bad
arguments raise asyncio's exceptions, and nothing leaks file descriptors.
"""

import asyncio
import errno
import gc
import hashlib
import logging
import math
import os
import resource
import socket
import struct
import sys
import warnings

import pytest
from tests.conftest import run_snippet
from tests.io_helpers import Recorder, TIMEOUT, run, shortdir, wait_until, open_sockets  # noqa: F401

PY312 = sys.version_info >= (3, 12)
PY313 = sys.version_info >= (3, 13)


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Collect garbage after each test (and after its loop is closed), so that
    errors from finalizers are reported against the test that caused them."""
    yield
    gc.collect()


@pytest.fixture
def handler_calls(loop):
    """Exception handler contexts reported on the loop under test."""
    calls = []
    loop.set_exception_handler(lambda lp, ctx: calls.append(ctx))
    return calls


class KeepOpen(Recorder):
    eof_result = True


async def tcp_pair(loop, server_proto=Recorder, client_proto=Recorder):
    """(server, client transport, client protocol, server transport, server protocol)."""
    made = []

    def factory():
        p = server_proto()
        made.append(p)
        return p

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ctr, cpr = await loop.create_connection(client_proto, "127.0.0.1", port)
    await wait_until(lambda: made and made[0].made.done())
    spr = made[0]
    return server, ctr, cpr, spr.transport, spr


async def close_all(server, *transports):
    for tr in transports:
        tr.close()
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0.01)


# -- streams -------------------------------------------------------------------


def test_streams_echo(loop):
    """start_server + open_connection: lines written are echoed back; the
    server sees EOF when the client closes."""

    async def handle(reader, writer):
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line.upper())
            await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        host, port = server.sockets[0].getsockname()
        reader, writer = await asyncio.open_connection(host, port)
        got = []
        for word in (b"alpha\n", b"beta\n", b"gamma\n"):
            writer.write(word)
            await writer.drain()
            got.append(await reader.readline())
        writer.write_eof()
        tail = await reader.read()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return got, tail

    got, tail = run(loop, main())
    assert got == [b"ALPHA\n", b"BETA\n", b"GAMMA\n"]
    assert tail == b""


def test_100mb_transfer_with_backpressure(loop):
    """100 MB client -> server: the writing protocol gets pause_writing and
    resume_writing, the server's StreamReader pauses its transport once its
    buffer exceeds the limit, and the server receives every byte (checked by
    length and SHA-256)."""
    total_chunks, chunk_size = 100, 1 << 20
    base = os.urandom(chunk_size)
    state = {}

    async def handle(reader, writer):
        tr = writer.transport
        # Do not consume until both sides are flow-controlled.
        await wait_until(lambda: "client" in state and state["client"].paused >= 1
                         and not tr.is_reading())
        state["server_reader_paused"] = True
        h = hashlib.sha256()
        n = 0
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        writer.write(b"%d %s\n" % (n, h.hexdigest().encode()))
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 16)
        port = server.sockets[0].getsockname()[1]
        tr, pr = await loop.create_connection(Recorder, "127.0.0.1", port)
        state["client"] = pr
        h = hashlib.sha256()
        for i in range(total_chunks):
            chunk = i.to_bytes(4, "big") + base[4:]
            h.update(chunk)
            tr.write(chunk)
            await pr.drain()
        tr.write_eof()
        await pr.eof
        await pr.lost
        server.close()
        await server.wait_closed()
        return pr, h.hexdigest()

    pr, digest = run(loop, main())
    assert state.get("server_reader_paused") is True
    assert pr.paused >= 1
    assert pr.resumed == pr.paused
    assert bytes(pr.data) == b"%d %s\n" % (total_chunks * chunk_size, digest.encode())


def test_half_close(loop):
    """write_eof: the server sees EOF after all data and can still reply;
    can_write_eof() is True for TCP transports."""

    async def handle(reader, writer):
        data = await reader.read()  # until EOF
        writer.write(b"got " + str(len(data)).encode())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        assert writer.can_write_eof() is True
        assert writer.transport.can_write_eof() is True
        writer.write(b"x" * 100_000)
        writer.write_eof()
        reply = await reader.read()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return reply

    assert run(loop, main()) == b"got 100000"


def test_peer_reset_during_write(loop, handler_calls):
    """The peer resets the connection (SO_LINGER 0) while the client has
    buffered data: connection_lost gets a ConnectionError, later writes are
    silent, nothing reaches the exception handler and the loop stays usable."""

    async def main():
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        lsock.setblocking(False)
        (conn, _), (tr, pr) = await asyncio.gather(
            loop.sock_accept(lsock),
            loop.create_connection(Recorder, *lsock.getsockname()),
        )
        lsock.close()
        tr.write(b"x" * (8 * 1024 * 1024))
        assert await loop.sock_recv(conn, 1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        for _ in range(100_000):
            if pr.lost.done():
                break
            tr.write(b"y" * 65536)
            await asyncio.sleep(0.001)
        exc = await pr.lost
        for _ in range(10):
            tr.write(b"after reset")  # must not raise
        # The loop still works: a fresh connection echoes.
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        ctr.write(b"still alive")
        await spr.wait_data(11)
        await close_all(server, ctr, str_)
        return exc, tr, bytes(spr.data)

    exc, tr, echoed = run(loop, main())
    assert isinstance(exc, ConnectionError), repr(exc)
    assert tr.is_closing()
    assert echoed == b"still alive"
    assert handler_calls == []


def test_1000_concurrent_connections(loop):
    """1 000 clients connected at the same time each get their own echo."""
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * n + 200
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    try:
        async def handle(reader, writer):
            data = await reader.readline()
            writer.write(data)
            await writer.drain()
            await reader.read()
            writer.close()

        async def client(port, i, all_connected):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            all_connected.append(i)
            await wait_until(lambda: len(all_connected) == n)
            writer.write(b"client %d\n" % i)
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return line

        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=n + 100)
            port = server.sockets[0].getsockname()[1]
            connected = []
            lines = await asyncio.gather(*(client(port, i, connected) for i in range(n)))
            server.close()
            await server.wait_closed()
            return lines

        lines = run(loop, main())
        assert lines == [b"client %d\n" % i for i in range(n)]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# -- transport API ------------------------------------------------------------


def test_transport_is_asyncio_transport(loop):
    """Stream transports are asyncio.Transport instances (hence Read- and
    WriteTransport, BaseTransport)."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        result = [isinstance(t, cls) for t in (ctr, str_)
                  for cls in (asyncio.Transport, asyncio.ReadTransport,
                              asyncio.WriteTransport, asyncio.BaseTransport)]
        await close_all(server, ctr, str_)
        return result

    assert all(run(loop, main()))


def test_get_extra_info(loop):
    """get_extra_info: 'socket' wraps the connection's socket, 'sockname' and
    'peername' are the two ends, unknown names give the default."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        info = {}
        for side, tr in (("client", ctr), ("server", str_)):
            sock = tr.get_extra_info("socket")
            info[side] = dict(
                sock_type=type(sock),
                family=sock.family,
                type=sock.type,
                sockname=tr.get_extra_info("sockname"),
                peername=tr.get_extra_info("peername"),
                sock_sockname=sock.getsockname(),
                sock_peername=sock.getpeername(),
                fileno_ok=sock.fileno() >= 0,
                missing=tr.get_extra_info("no-such-key", "dflt"),
                missing_none=tr.get_extra_info("no-such-key"),
            )
        await close_all(server, ctr, str_)
        return info

    info = run(loop, main())
    c, s = info["client"], info["server"]
    for side in (c, s):
        assert side["sock_type"] is asyncio.trsock.TransportSocket
        assert side["family"] == socket.AF_INET
        assert side["type"] == socket.SOCK_STREAM
        assert side["sockname"] == side["sock_sockname"]
        assert side["peername"] == side["sock_peername"]
        assert side["fileno_ok"]
        assert side["missing"] == "dflt"
        assert side["missing_none"] is None
    assert c["sockname"] == s["peername"]
    assert c["peername"] == s["sockname"]


def test_pause_resume_reading(loop):
    """pause_reading stops data_received until resume_reading; is_reading
    reflects the state; pausing twice or resuming twice is harmless."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        states = [str_.is_reading()]
        str_.pause_reading()
        str_.pause_reading()
        states.append(str_.is_reading())
        ctr.write(b"while paused")
        await asyncio.sleep(0.1)
        paused_data = bytes(spr.data)
        str_.resume_reading()
        str_.resume_reading()
        states.append(str_.is_reading())
        data = await spr.wait_data(12)
        str_.close()
        await spr.lost
        states.append(str_.is_reading())
        await close_all(server, ctr)
        return states, paused_data, data

    states, paused_data, data = run(loop, main())
    assert states == [True, False, True, False]
    assert paused_data == b""
    assert data == b"while paused"


def test_write_buffer_limits(loop):
    """get_write_buffer_limits defaults to (16384, 65536); set_write_buffer_limits
    derives the missing bound (low = high // 4, high = 4 * low) and rejects
    inconsistent values with asyncio's message."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        seen = [ctr.get_write_buffer_limits()]
        ctr.set_write_buffer_limits(high=100)
        seen.append(ctr.get_write_buffer_limits())
        ctr.set_write_buffer_limits(low=10)
        seen.append(ctr.get_write_buffer_limits())
        ctr.set_write_buffer_limits(high=50, low=50)
        seen.append(ctr.get_write_buffer_limits())
        ctr.set_write_buffer_limits(0)
        seen.append(ctr.get_write_buffer_limits())
        ctr.set_write_buffer_limits()
        seen.append(ctr.get_write_buffer_limits())
        errors = []
        for kwargs in (dict(high=1, low=2), dict(low=-1), dict(high=-4, low=-1)):
            try:
                ctr.set_write_buffer_limits(**kwargs)
            except ValueError as exc:
                errors.append(str(exc))
        seen.append(ctr.get_write_buffer_limits())
        await close_all(server, ctr, str_)
        return seen, errors

    seen, errors = run(loop, main())
    assert seen == [(16384, 65536), (25, 100), (10, 40), (50, 50), (0, 0),
                    (16384, 65536), (16384, 65536)]
    assert errors == [
        "high (1) must be >= low (2) must be >= 0",
        "high (-4) must be >= low (-1) must be >= 0",
        "high (-4) must be >= low (-1) must be >= 0",
    ]


def test_get_write_buffer_size_and_pause_threshold(loop):
    """get_write_buffer_size is 0 when idle, grows when the peer does not
    read, pause_writing fires above the high-water mark and resume_writing
    once the buffer drains below the low-water mark."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        sizes = [ctr.get_write_buffer_size()]
        str_.pause_reading()
        for _ in range(200):
            ctr.write(b"z" * 65536)
            if cpr.paused:
                break
            await asyncio.sleep(0)
        sizes.append(ctr.get_write_buffer_size())
        assert cpr.paused == 1, "pause_writing not called"
        assert sizes[-1] > 65536
        str_.resume_reading()
        await cpr.drain()
        await wait_until(lambda: ctr.get_write_buffer_size() == 0)
        sizes.append(ctr.get_write_buffer_size())
        await close_all(server, ctr, str_)
        return sizes, cpr.paused, cpr.resumed

    sizes, paused, resumed = run(loop, main())
    assert sizes[0] == 0
    assert sizes[2] == 0
    assert (paused, resumed) == (1, 1)


def test_write_buffer_limits_any_real_number(loop):
    """Limits may be any real numbers, as in asyncio: a fractional or
    infinite high-water mark, one beyond a C integer, both pause exactly
    where asyncio's comparisons would."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        str_.pause_reading()
        ctr.set_write_buffer_limits(high=math.inf, low=0)
        ctr.set_write_buffer_limits(high=2**70, low=2**69)
        ctr.set_write_buffer_limits(high=float(2**70))
        for _ in range(1000):
            ctr.write(b"i" * 65536)
            await asyncio.sleep(0)
            if ctr.get_write_buffer_size() > 65536:
                break
        never_paused = cpr.paused == 0 and ctr.get_write_buffer_size() > 65536
        # 2.5: a buffer of 3 bytes or more is above it, 2 bytes or less at or
        # below 2.5 (asyncio compares size > high and size <= low).
        ctr.set_write_buffer_limits(high=2.5, low=2.5)
        paused_now = cpr.paused
        str_.resume_reading()
        await cpr.drain()
        await wait_until(lambda: ctr.get_write_buffer_size() == 0)
        await close_all(server, ctr, str_)
        return never_paused, paused_now, cpr.resumed

    assert run(loop, main()) == (True, 1, 1)


def test_lowering_high_water_mark_pauses_at_once(loop):
    """set_write_buffer_limits below the current buffer size calls
    pause_writing immediately; draining calls resume_writing."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        ctr.set_write_buffer_limits(high=64 * 1024 * 1024)
        str_.pause_reading()
        for _ in range(100):
            ctr.write(b"b" * 65536)
            await asyncio.sleep(0)
            if ctr.get_write_buffer_size() > 10_000:
                break
        before = cpr.paused
        ctr.set_write_buffer_limits(high=1000)
        after = cpr.paused
        str_.resume_reading()
        await cpr.drain()
        await close_all(server, ctr, str_)
        return before, after, cpr.resumed

    assert run(loop, main()) == (0, 1, 1)


def test_write_eof_after_buffered_data(loop):
    """write_eof with data still buffered: the peer gets all the data, then EOF."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop, server_proto=KeepOpen)
        ctr.set_write_buffer_limits(high=256 * 1024 * 1024)
        str_.pause_reading()
        total = 0
        for _ in range(2000):
            ctr.write(b"d" * 65536)
            total += 65536
            await asyncio.sleep(0)
            if ctr.get_write_buffer_size() > 0:
                break
        buffered = ctr.get_write_buffer_size() > 0
        ctr.write_eof()
        str_.resume_reading()
        await spr.eof
        n = len(spr.data)
        str_.close()
        await cpr.lost
        await close_all(server, ctr)
        return buffered, n == total

    assert run(loop, main()) == (True, True)


def test_eof_received_exception_is_fatal(loop, handler_calls):
    """An exception from eof_received is reported ('Fatal error:
    protocol.eof_received() call failed.') and connection_lost gets it."""

    class Boom(Recorder):
        def eof_received(self):
            raise ZeroDivisionError("boom")

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop, server_proto=Boom)
        ctr.write_eof()
        exc = await spr.lost
        await close_all(server, ctr)
        return exc

    exc = run(loop, main())
    assert isinstance(exc, ZeroDivisionError)
    assert [c["message"] for c in handler_calls] == ["Fatal error: protocol.eof_received() call failed."]


def test_connection_lost_exception_reported_and_socket_closed(loop, handler_calls):
    """An exception from connection_lost reaches the exception handler and the
    socket is closed anyway."""

    class Boom(Recorder):
        def connection_lost(self, exc):
            super().connection_lost(exc)
            raise ZeroDivisionError("in connection_lost")

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop, client_proto=Boom)
        sock = ctr.get_extra_info("socket")
        ctr.close()
        await cpr.lost
        await wait_until(lambda: handler_calls)
        await close_all(server, str_)
        return sock.fileno()

    fileno = run(loop, main())
    assert fileno == -1
    assert len(handler_calls) == 1
    assert isinstance(handler_calls[0]["exception"], ZeroDivisionError)


def test_write_accepts_bytes_like_and_writelines(loop):
    """write takes bytes, bytearray and memoryview; writelines concatenates;
    an empty write is a no-op."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        ctr.write(b"ab")
        ctr.write(bytearray(b"cd"))
        ctr.write(memoryview(b"xxefxx")[2:4])
        ctr.write(b"")
        ctr.writelines([b"gh", bytearray(b"ij"), memoryview(b"kl")])
        data = await spr.wait_data(12)
        await close_all(server, ctr, str_)
        return data

    assert run(loop, main()) == b"abcdefghijkl"


def test_write_multibyte_memoryview(loop):
    """A memoryview with a multi-byte item format is sent as its raw bytes."""
    import array

    arr = array.array("i", range(1000))

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        ctr.write(memoryview(arr))
        data = await spr.wait_data(len(arr.tobytes()))
        await close_all(server, ctr, str_)
        return data

    assert run(loop, main()) == arr.tobytes()


def test_write_non_contiguous_memoryview(loop, handler_calls):
    """write() of a non-contiguous memoryview does not raise: as in asyncio,
    the failing send is a fatal write error (reported to the exception
    handler) and connection_lost gets the BufferError."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        ctr.write(memoryview(b"abcdef")[::2])
        exc = await cpr.lost
        await close_all(server, str_)
        return exc

    exc = run(loop, main())
    assert isinstance(exc, BufferError)
    assert [c["message"] for c in handler_calls] == ["Fatal write error on socket transport"]
    assert handler_calls[0]["exception"] is exc


def test_write_non_bytes_type_error(loop):
    """write of a str (or other non-bytes-like object) raises TypeError
    'data argument must be a bytes-like object, not ...' (3.14+: 'a bytes,
    bytearray, or memoryview object')."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        msgs = []
        for bad in ("text", 123, [b"a"]):
            with pytest.raises(TypeError) as info:
                ctr.write(bad)
            msgs.append(str(info.value))
        await close_all(server, ctr, str_)
        return msgs

    kind = ("a bytes, bytearray, or memoryview object" if sys.version_info >= (3, 14)
            else "a bytes-like object")
    assert run(loop, main()) == [
        f"data argument must be {kind}, not 'str'",
        f"data argument must be {kind}, not 'int'",
        f"data argument must be {kind}, not 'list'",
    ]


def test_write_after_write_eof_runtime_error(loop):
    """write after write_eof raises RuntimeError; a second write_eof is a no-op."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        ctr.write_eof()
        ctr.write_eof()
        with pytest.raises(RuntimeError, match=r"Cannot call write\(\) after write_eof\(\)"):
            ctr.write(b"late")
        await spr.eof
        await close_all(server, ctr, str_)

    run(loop, main())


def test_write_after_close_silent_then_warns(loop, caplog):
    """Writes after close() are dropped silently; from the 5th one on, asyncio
    logs the warning 'socket.send() raised exception.'."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        ctr.close()
        counts = []
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            for _ in range(6):
                ctr.write(b"dropped")
                counts.append(sum(r.getMessage() == "socket.send() raised exception."
                                  for r in caplog.records))
        await cpr.lost
        await close_all(server, str_)
        return counts

    assert run(loop, main()) == [0, 0, 0, 0, 1, 2]


def test_close_and_is_closing(loop):
    """close() flushes buffered data, then connection_lost(None); is_closing
    turns True at once; the peer gets all data then EOF; closing twice is fine."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        before = ctr.is_closing()
        ctr.write(b"q" * 1_000_000)
        ctr.close()
        ctr.close()
        after = ctr.is_closing()
        exc = await cpr.lost
        await spr.eof
        await close_all(server, str_)
        return before, after, exc, len(spr.data), cpr.events, spr.events

    before, after, exc, n, cevents, sevents = run(loop, main())
    assert (before, after, exc, n) == (False, True, None, 1_000_000)
    assert cevents == ["made", "lost"]
    assert sevents[:3] == ["made", "data", "eof"]


def test_abort(loop):
    """abort() drops buffered data and calls connection_lost(None) at once
    (not synchronously); the peer's connection ends."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        str_.pause_reading()
        ctr.write(b"w" * 4_000_000)
        ctr.abort()
        sync_lost = cpr.lost.done()
        closing = ctr.is_closing()
        exc = await cpr.lost
        str_.resume_reading()
        await spr.lost
        await close_all(server)
        return sync_lost, closing, exc, ctr.get_write_buffer_size()

    assert run(loop, main()) == (False, True, None, 0)


def test_set_protocol_get_protocol(loop):
    """set_protocol redirects later callbacks to the new protocol; get_protocol
    returns whichever is current."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        first = str_.get_protocol() is spr
        ctr.write(b"one")
        await spr.wait_data(3)
        new = Recorder()
        str_.set_protocol(new)
        second = str_.get_protocol() is new
        ctr.write(b"two")
        await new.wait_data(3)
        ctr.close()
        await new.lost
        await close_all(server)
        return first, second, bytes(spr.data), bytes(new.data), spr.lost.done()

    assert run(loop, main()) == (True, True, b"one", b"two", False)


class BufferedRecorder(asyncio.BufferedProtocol):
    def __init__(self, size=4096):
        loop = asyncio.get_running_loop()
        self.buf = bytearray(size)
        self.made = loop.create_future()
        self.hints = []
        self.updates = []
        self.data = bytearray()
        self.eof = loop.create_future()
        self.lost = loop.create_future()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.made.set_result(transport)

    def get_buffer(self, sizehint):
        self.hints.append(sizehint)
        return memoryview(self.buf)

    def buffer_updated(self, nbytes):
        self.updates.append(nbytes)
        self.data += self.buf[:nbytes]

    def eof_received(self):
        self.eof.set_result(None)

    def connection_lost(self, exc):
        self.lost.set_result(exc)


def test_buffered_protocol(loop):
    """A BufferedProtocol gets get_buffer(-1) calls and buffer_updated sizes
    that sum to the bytes sent, each at most the buffer length."""
    payload = os.urandom(300_000)

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop, server_proto=BufferedRecorder)
        ctr.write(payload)
        ctr.write_eof()
        await spr.eof
        await spr.lost
        await close_all(server, ctr)
        return spr

    spr = run(loop, main())
    assert spr.hints and set(spr.hints) == {-1}
    assert sum(spr.updates) == len(payload)
    assert all(0 < n <= 4096 for n in spr.updates)
    assert bytes(spr.data) == payload


def test_buffered_protocol_empty_buffer_is_fatal(loop, handler_calls):
    """get_buffer returning an empty buffer is a fatal error: the handler is
    called ('Fatal error: protocol.get_buffer() call failed.') and
    connection_lost gets the RuntimeError."""

    class Empty(BufferedRecorder):
        def get_buffer(self, sizehint):
            return bytearray()

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop, server_proto=Empty)
        ctr.write(b"data")
        exc = await spr.lost
        await close_all(server, ctr)
        return exc

    exc = run(loop, main())
    assert isinstance(exc, RuntimeError)
    assert [c["message"] for c in handler_calls] == ["Fatal error: protocol.get_buffer() call failed."]
    assert handler_calls[0]["exception"] is exc


def test_data_received_exception_is_fatal(loop, handler_calls):
    """An exception from data_received goes to the exception handler
    ('Fatal error: protocol.data_received() call failed.') and the transport
    closes with connection_lost(exc)."""

    class Boom(Recorder):
        def data_received(self, data):
            raise ZeroDivisionError("boom")

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop, server_proto=Boom)
        ctr.write(b"data")
        exc = await spr.lost
        await cpr.lost
        await close_all(server)
        return exc

    exc = run(loop, main())
    assert isinstance(exc, ZeroDivisionError)
    assert [c["message"] for c in handler_calls] == ["Fatal error: protocol.data_received() call failed."]
    assert handler_calls[0]["exception"] is exc


def test_eof_received_true_keeps_transport_open(loop):
    """If eof_received returns True the transport stays open for writing:
    the server can still reply after the client's EOF."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop, server_proto=KeepOpen)
        ctr.write(b"request")
        ctr.write_eof()
        await spr.eof
        await asyncio.sleep(0.05)
        still_open = not str_.is_closing() and not spr.lost.done()
        str_.write(b"late reply")
        str_.close()
        await cpr.eof
        await cpr.lost
        await spr.lost
        await close_all(server)
        return still_open, bytes(spr.data), bytes(cpr.data)

    assert run(loop, main()) == (True, b"request", b"late reply")


def test_eof_received_falsy_closes_transport(loop):
    """If eof_received returns None the transport closes itself:
    connection_lost(None) follows eof_received."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        ctr.write_eof()
        exc = await spr.lost
        await close_all(server, ctr)
        return exc, spr.events, str_.is_closing()

    assert run(loop, main()) == (None, ["made", "eof", "lost"], True)


# -- servers ------------------------------------------------------------------


def test_server_basics(loop):
    """Server.sockets, is_serving, get_loop, close, wait_closed: closing stops
    accepting (new connections are refused) and empties sockets."""

    async def main():
        server = await loop.create_server(Recorder, "127.0.0.1", 0)
        socks = server.sockets
        addr = socks[0].getsockname()
        state = [server.is_serving(), server.get_loop() is loop, len(socks),
                 type(socks[0]) is asyncio.trsock.TransportSocket]
        server.close()
        await server.wait_closed()
        state += [server.is_serving(), tuple(server.sockets)]
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(Recorder, *addr)
        server.close()  # closing twice is fine
        return state

    assert run(loop, main()) == [True, True, 1, True, False, ()]


def test_server_wait_closed_waits_for_connections(loop):
    """From 3.12 Server.wait_closed() waits until connections are closed;
    before 3.12 it returns once the server is closed."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        server.close()
        waiter = asyncio.ensure_future(server.wait_closed())
        await asyncio.sleep(0.1)
        pending = not waiter.done()
        ctr.close()
        str_.close()
        await waiter
        return pending

    assert run(loop, main()) is PY312


def test_server_closed_by_protocol_factory(loop, handler_calls):
    """A connection whose protocol factory closes the server gets no
    transport (it cannot attach to a closed server): the connection is
    dropped quietly, connection_made is never called, nothing reaches the
    exception handler and (before 3.13, whose own transport finalizer fails
    here with a TypeError) nothing reaches sys.unraisablehook once garbage
    is collected."""
    unraisable = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: unraisable.append(u)
    state = {}

    def factory():
        state["server"].close()
        p = Recorder()
        state["proto"] = p
        return p

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        state["server"] = server
        client = socket.create_connection(server.sockets[0].getsockname())
        await wait_until(lambda: "proto" in state)
        await asyncio.sleep(0.05)
        gc.collect()
        await asyncio.sleep(0.05)
        await server.wait_closed()
        return client, state["proto"].made.done()

    try:
        client, made = run(loop, main())
        client.settimeout(TIMEOUT)
        try:
            tail = client.recv(10)
        except ConnectionResetError:
            tail = b""
        client.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
    finally:
        sys.unraisablehook = old_hook
    assert made is False
    assert tail == b""
    assert handler_calls == []
    if not PY313:
        assert [(u.exc_type, u.exc_value, u.object) for u in unraisable] == []


@pytest.mark.parametrize("debug", [False, True], ids=["normal", "debug"])
def test_server_protocol_factory_raises(loop, handler_calls, debug):
    """An exception from the server's protocol factory drops that connection
    (without debug the client sees it end) and the server keeps serving;
    only in debug mode is it reported ('Error on transport creation for
    incoming connection')."""
    loop.set_debug(debug)
    calls = []

    def factory():
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("factory failed")
        return Recorder()

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        tr, pr = await loop.create_connection(Recorder, *addr)
        await wait_until(lambda: calls)
        first_exc = None
        if not debug:
            # In debug mode the reported exception keeps asyncio's accepted
            # socket alive, so the client only sees the end without debug.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                gc.collect()
            first_exc = await pr.lost
        tr.close()
        tr2, pr2 = await loop.create_connection(Recorder, *addr)
        await wait_until(lambda: len(calls) == 2)
        tr2.close()
        await pr2.lost
        server.close()
        await server.wait_closed()
        return first_exc, pr.events

    first_exc, events = run(loop, main())
    assert first_exc is None or isinstance(first_exc, ConnectionError)
    assert events[0] == "made"
    relevant = [c for c in handler_calls if "exception" in c]
    if debug:
        assert [c["message"] for c in relevant] == ["Error on transport creation for incoming connection"]
        assert isinstance(relevant[0]["exception"], ZeroDivisionError)
    else:
        assert relevant == []


def test_socket_options_on_connections(loop):
    """TCP transports turn Nagle off (TCP_NODELAY) on both ends; server
    sockets get SO_REUSEADDR by default and not with reuse_address=False."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        nodelay = [t.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
                   for t in (ctr, str_)]
        reuse_default = server.sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
        s2 = await loop.create_server(Recorder, "127.0.0.1", 0, reuse_address=False)
        reuse_off = s2.sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
        s2.close()
        await s2.wait_closed()
        await close_all(server, ctr, str_)
        return nodelay, reuse_default, reuse_off

    assert run(loop, main()) == ([True, True], True, False)


def test_keep_alive(loop):
    """create_server(keep_alive=True) sets SO_KEEPALIVE (3.13+); before 3.13
    the keyword does not exist (TypeError)."""
    if not PY313:
        with pytest.raises(TypeError):
            run(loop, loop.create_server(Recorder, "127.0.0.1", 0, keep_alive=True))
        return

    async def main():
        server = await loop.create_server(Recorder, "127.0.0.1", 0, keep_alive=True)
        opt = server.sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        server.close()
        await server.wait_closed()
        return opt != 0

    assert run(loop, main()) is True


@pytest.mark.parametrize("host", [None, ""], ids=["None", "empty"])
def test_server_wildcard_host(loop, host):
    """host None or '' with family=AF_INET binds the IPv4 wildcard address;
    with AF_INET6 the IPv6 wildcard, with IPV6_V6ONLY set."""

    async def main():
        s4 = await loop.create_server(Recorder, host, 0, family=socket.AF_INET)
        addrs4 = [s.getsockname()[0] for s in s4.sockets]
        s4.close()
        await s4.wait_closed()
        addrs6 = v6only = None
        if has_ipv6_loopback():
            s6 = await loop.create_server(Recorder, host, 0, family=socket.AF_INET6)
            addrs6 = [s.getsockname()[0] for s in s6.sockets]
            v6only = [s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) != 0 for s in s6.sockets]
            s6.close()
            await s6.wait_closed()
        return addrs4, addrs6, v6only

    addrs4, addrs6, v6only = run(loop, main())
    assert addrs4 == ["0.0.0.0"]
    if addrs6 is not None:
        assert addrs6 == ["::"]
        assert v6only == [True]


def test_create_server_with_sock(loop):
    """create_server(sock=...) serves on the given socket."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    addr = lsock.getsockname()

    async def main():
        made = []
        server = await loop.create_server(lambda: made.append(Recorder()) or made[-1], sock=lsock)
        same = [s.fileno() for s in server.sockets] == [lsock.fileno()]
        tr, pr = await loop.create_connection(Recorder, *addr)
        await wait_until(lambda: made and made[0].made.done())
        tr.close()
        await made[0].lost
        server.close()
        await server.wait_closed()
        return same, lsock.fileno()

    same, fileno = run(loop, main())
    assert same
    assert fileno == -1  # closing the server closed the socket


def test_multiple_hosts(loop):
    """create_server with a list of hosts listens on each of them."""
    hosts = ["127.0.0.1", "127.0.0.2"]

    async def main():
        made = []
        server = await loop.create_server(lambda: made.append(1) or Recorder(), hosts, 0)
        addrs = sorted(s.getsockname() for s in server.sockets)
        for addr in addrs:
            tr, _ = await loop.create_connection(Recorder, *addr)
            tr.close()
        await wait_until(lambda: len(made) == len(addrs))
        server.close()
        await server.wait_closed()
        return addrs

    addrs = run(loop, main())
    assert [a[0] for a in addrs] == hosts


def test_server_ipv4_and_ipv6(loop):
    """A host list with an IPv4 and an IPv6 address gives one socket per family."""
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback")

    async def main():
        server = await loop.create_server(Recorder, ["127.0.0.1", "::1"], 0)
        families = sorted(s.family for s in server.sockets)
        server.close()
        await server.wait_closed()
        return families

    assert run(loop, main()) == [socket.AF_INET, socket.AF_INET6]


def test_reuse_port(loop):
    """reuse_port=True sets SO_REUSEPORT, so a second server can bind the same port."""

    async def main():
        s1 = await loop.create_server(Recorder, "127.0.0.1", 0, reuse_port=True)
        port = s1.sockets[0].getsockname()[1]
        s2 = await loop.create_server(Recorder, "127.0.0.1", port, reuse_port=True)
        opts = [s.sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in (s1, s2)]
        port2 = s2.sockets[0].getsockname()[1]
        for s in (s1, s2):
            s.close()
            await s.wait_closed()
        return port, port2, opts

    port, port2, opts = run(loop, main())
    assert port == port2
    assert all(opts)


def test_port_in_use(loop):
    """create_server on a port another socket listens on raises OSError
    with errno EADDRINUSE."""
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(1)
    try:
        with pytest.raises(OSError) as info:
            run(loop, loop.create_server(Recorder, "127.0.0.1", other.getsockname()[1]))
        assert info.value.errno == errno.EADDRINUSE
    finally:
        other.close()


def test_start_serving_false(loop):
    """start_serving=False: the server does not listen until start_serving()."""

    async def main():
        made = []
        server = await loop.create_server(lambda: made.append(1) or Recorder(),
                                          "127.0.0.1", 0, start_serving=False)
        addr = server.sockets[0].getsockname()
        serving_before = server.is_serving()
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(Recorder, *addr)
        await server.start_serving()
        await server.start_serving()  # idempotent
        serving_after = server.is_serving()
        tr, _ = await loop.create_connection(Recorder, *addr)
        await wait_until(lambda: made)
        tr.close()
        server.close()
        await server.wait_closed()
        return serving_before, serving_after

    assert run(loop, main()) == (False, True)


def test_serve_forever_cancel(loop):
    """serve_forever serves until cancelled; cancelling it closes the server;
    calling it on a closed server raises RuntimeError."""

    async def main():
        server = await loop.create_server(Recorder, "127.0.0.1", 0, start_serving=False)
        task = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0.05)
        serving = server.is_serving()
        tr, _ = await loop.create_connection(Recorder, *server.sockets[0].getsockname())
        tr.close()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(RuntimeError, match="is closed"):
            await server.serve_forever()
        return serving, server.is_serving()

    assert run(loop, main()) == (True, False)


def test_server_async_with(loop):
    """`async with server` closes the server on exit."""

    async def main():
        server = await loop.create_server(Recorder, "127.0.0.1", 0)
        async with server:
            inside = server.is_serving()
        await server.wait_closed()
        return inside, server.is_serving()

    assert run(loop, main()) == (True, False)


@pytest.mark.skipif(not PY313, reason="Server.close_clients/abort_clients are new in 3.13")
@pytest.mark.parametrize("method", ["close_clients", "abort_clients"])
def test_close_abort_clients(loop, method):
    """3.13 Server.close_clients()/abort_clients() close every connection the
    server accepted; the clients see the connection end."""

    async def main():
        made = []
        server = await loop.create_server(lambda: made.append(Recorder()) or made[-1], "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        clients = [await loop.create_connection(Recorder, *addr) for _ in range(3)]
        await wait_until(lambda: len(made) == 3 and all(p.made.done() for p in made))
        server.close()
        getattr(server, method)()
        server_excs = [await p.lost for p in made]
        client_excs = [await pr.lost for tr, pr in clients]
        await server.wait_closed()
        return server_excs, client_excs

    server_excs, client_excs = run(loop, main())
    assert server_excs == [None, None, None]
    assert all(e is None or isinstance(e, ConnectionError) for e in client_excs)


# -- create_connection / create_server arguments ----------------------------------


def test_create_connection_bad_arguments(loop):
    """create_connection: host with sock, neither, or a datagram sock raise
    ValueError with asyncio's messages."""
    s = socket.socket()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(ValueError, match="host/port and sock can not be specified at the same time"):
            run(loop, loop.create_connection(Recorder, "127.0.0.1", 1, sock=s))
        with pytest.raises(ValueError, match="host and port was not specified and no sock specified"):
            run(loop, loop.create_connection(Recorder))
        with pytest.raises(ValueError, match="A Stream Socket was expected, got"):
            run(loop, loop.create_connection(Recorder, sock=u))
    finally:
        s.close()
        u.close()


def test_create_server_bad_arguments(loop):
    """create_server: neither host/port nor sock, host with sock, or a
    datagram sock raise ValueError with asyncio's messages."""
    s = socket.socket()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(ValueError, match="Neither host/port nor sock were specified"):
            run(loop, loop.create_server(Recorder))
        with pytest.raises(ValueError, match="host/port and sock can not be specified at the same time"):
            run(loop, loop.create_server(Recorder, "127.0.0.1", 0, sock=s))
        with pytest.raises(ValueError, match="A Stream Socket was expected, got"):
            run(loop, loop.create_server(Recorder, sock=u))
    finally:
        s.close()
        u.close()


def test_create_connection_refused(loop):
    """Connecting to a port with no listener raises ConnectionRefusedError."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(ConnectionRefusedError):
            run(loop, loop.create_connection(Recorder, *closed.getsockname()))
    finally:
        closed.close()


def test_create_connection_local_addr(loop):
    """local_addr binds the client socket before connecting."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    local = probe.getsockname()
    probe.close()

    async def main():
        made = []
        server = await loop.create_server(lambda: made.append(Recorder()) or made[-1], "127.0.0.1", 0)
        tr, pr = await loop.create_connection(Recorder, *server.sockets[0].getsockname(),
                                              local_addr=local)
        await wait_until(lambda: made and made[0].made.done())
        result = tr.get_extra_info("sockname"), made[0].transport.get_extra_info("peername")
        await close_all(server, tr, made[0].transport)
        return result

    sockname, peer_seen = run(loop, main())
    assert sockname == local
    assert peer_seen == local


def test_create_connection_local_addr_family_mismatch(loop):
    """A local_addr of another family than the remote address raises OSError
    'no matching local address with family=<AddressFamily.AF_INET: 2> found'."""
    with pytest.raises(OSError) as info:
        run(loop, loop.create_connection(Recorder, "127.0.0.1", 9, local_addr=("::1", 0)))
    assert str(info.value) == f"no matching local address with family={socket.AF_INET!r} found"


def test_happy_eyeballs_and_interleave_accepted(loop):
    """happy_eyeballs_delay and interleave are accepted and the connection works."""

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        port = server.sockets[0].getsockname()[1]
        results = []
        for kwargs in (dict(happy_eyeballs_delay=0.25), dict(interleave=1),
                       dict(happy_eyeballs_delay=0.1, interleave=2)):
            tr, pr = await loop.create_connection(Recorder, "localhost", port, **kwargs)
            results.append(tr.get_extra_info("peername"))
            tr.close()
        await close_all(server, ctr, str_)
        return port, results

    port, results = run(loop, main())
    assert results == [("127.0.0.1", port)] * 3


def test_all_errors(loop):
    """all_errors=True: from 3.12 a failed create_connection raises an
    ExceptionGroup of the individual errors; before 3.12 the keyword is unknown."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    try:
        coro = loop.create_connection(Recorder, *closed.getsockname(), all_errors=True) if PY312 else None
        if PY312:
            with pytest.raises(ExceptionGroup) as info:  # noqa: F821
                run(loop, coro)
            assert len(info.value.exceptions) == 1
            assert isinstance(info.value.exceptions[0], ConnectionRefusedError)
        else:
            with pytest.raises(TypeError):
                run(loop, loop.create_connection(Recorder, *closed.getsockname(), all_errors=True))
    finally:
        closed.close()


# -- Unix sockets ---------------------------------------------------------------


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_unix_server_and_connection(loop, shortdir, abstract):
    """create_unix_server + create_unix_connection echo over a filesystem path
    or an abstract-namespace name; extra info carries the address."""
    addr = "\0goloop-%d-%d" % (os.getpid(), id(loop)) if abstract else os.path.join(shortdir, "sock")

    class Echo(Recorder):
        def data_received(self, data):
            super().data_received(data)
            self.transport.write(data[::-1])

    async def main():
        server = await loop.create_unix_server(Echo, addr)
        tr, pr = await loop.create_unix_connection(Recorder, addr)
        tr.write(b"unix data")
        data = await pr.wait_data(9)
        info = (tr.get_extra_info("socket").family, tr.get_extra_info("peername"))
        tr.close()
        server.close()
        await server.wait_closed()
        return data, info

    data, (family, peer) = run(loop, main())
    assert data == b"atad xinu"
    assert family == socket.AF_UNIX
    if abstract:
        assert peer == addr.encode()
    else:
        assert peer == addr


def test_unix_pathlike_and_peername(loop, shortdir):
    """Unix server and connection accept a path-like object; the server side
    sees the unbound client's peername as ''."""
    import pathlib

    path = pathlib.Path(shortdir) / "pl"

    async def main():
        made = []
        server = await loop.create_unix_server(lambda: made.append(KeepOpen()) or made[-1], path)
        tr, pr = await loop.create_unix_connection(Recorder, path)
        await wait_until(lambda: made and made[0].made.done())
        info = (server.sockets[0].getsockname(), made[0].transport.get_extra_info("peername"),
                tr.get_extra_info("peername"))
        tr.write_eof()
        await made[0].eof
        made[0].transport.write(b"after eof")
        await pr.wait_data(9)
        made[0].transport.close()
        await made[0].lost
        await pr.lost
        server.close()
        await server.wait_closed()
        return info, tr.can_write_eof()

    (sockname, server_peer, client_peer), can_eof = run(loop, main())
    assert sockname == str(path)
    assert server_peer == ""
    assert client_peer == str(path)
    assert can_eof is True


def test_unix_server_socket_file_cleanup(loop, shortdir):
    """From 3.13 closing a Unix server removes its socket file (unless
    cleanup_socket=False); before 3.13 the file stays."""
    path1 = os.path.join(shortdir, "a")
    path2 = os.path.join(shortdir, "b")

    async def main():
        s1 = await loop.create_unix_server(Recorder, path1)
        if PY313:
            s2 = await loop.create_unix_server(Recorder, path2, cleanup_socket=False)
        else:
            s2 = await loop.create_unix_server(Recorder, path2)
        existed = os.path.exists(path1), os.path.exists(path2)
        for s in (s1, s2):
            s.close()
            await s.wait_closed()
        return existed, os.path.exists(path1), os.path.exists(path2)

    existed, exists1, exists2 = run(loop, main())
    assert existed == (True, True)
    assert exists1 is (not PY313)
    assert exists2 is True


def test_unix_server_replaces_stale_socket_file(loop, shortdir):
    """A leftover socket file at the path is removed and the server binds;
    a regular file at the path gives OSError EADDRINUSE."""
    stale = os.path.join(shortdir, "stale")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    regular = os.path.join(shortdir, "regular")
    with open(regular, "w") as f:
        f.write("not a socket")

    async def main():
        made = []
        server = await loop.create_unix_server(lambda: made.append(Recorder()) or made[-1], stale)
        tr, _ = await loop.create_unix_connection(Recorder, stale)
        await wait_until(lambda: made and made[0].made.done())
        tr.close()
        await made[0].lost
        server.close()
        await server.wait_closed()
        with pytest.raises(OSError) as info:
            await loop.create_unix_server(Recorder, regular)
        return info.value.errno

    assert run(loop, main()) == errno.EADDRINUSE


def test_unix_bad_arguments(loop, shortdir):
    """create_unix_connection / create_unix_server argument errors."""
    path = os.path.join(shortdir, "x")
    s = socket.socket(socket.AF_UNIX)
    tcp = socket.socket()
    try:
        with pytest.raises(ValueError, match="path and sock can not be specified at the same time"):
            run(loop, loop.create_unix_connection(Recorder, path, sock=s))
        with pytest.raises(ValueError, match="no path and sock were specified"):
            run(loop, loop.create_unix_connection(Recorder))
        with pytest.raises(ValueError, match="A UNIX Domain Stream Socket was expected"):
            run(loop, loop.create_unix_connection(Recorder, sock=tcp))
        with pytest.raises(ValueError, match="path and sock can not be specified at the same time"):
            run(loop, loop.create_unix_server(Recorder, path, sock=s))
        with pytest.raises(ValueError, match="path was not specified, and no sock specified"):
            run(loop, loop.create_unix_server(Recorder))
        with pytest.raises(ValueError, match="A UNIX Domain Stream Socket was expected"):
            run(loop, loop.create_unix_server(Recorder, sock=tcp))
        with pytest.raises(FileNotFoundError):
            run(loop, loop.create_unix_connection(Recorder, os.path.join(shortdir, "missing")))
        with pytest.raises(ConnectionRefusedError):
            stale = os.path.join(shortdir, "stale")
            dead = socket.socket(socket.AF_UNIX)
            dead.bind(stale)
            dead.close()
            run(loop, loop.create_unix_connection(Recorder, stale))
    finally:
        s.close()
        tcp.close()


# -- connect_accepted_socket / sendfile -------------------------------------------


def test_connect_accepted_socket(loop, tcp_pair):
    """connect_accepted_socket wraps an already accepted socket in a transport."""
    client, conn = tcp_pair

    async def main():
        str_, spr = await loop.connect_accepted_socket(Recorder, conn)
        ctr, cpr = await loop.create_connection(Recorder, sock=client)
        ctr.write(b"to server")
        str_.write(b"to client")
        await spr.wait_data(9)
        await cpr.wait_data(9)
        info = str_.get_extra_info("peername") == client.getsockname()
        ctr.close()
        await spr.lost
        return bytes(spr.data), bytes(cpr.data), info

    assert run(loop, main()) == (b"to server", b"to client", True)


def test_connect_accepted_socket_datagram_rejected(loop):
    """connect_accepted_socket with a SOCK_DGRAM socket raises ValueError."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(ValueError, match="A Stream Socket was expected, got"):
            run(loop, loop.connect_accepted_socket(Recorder, u))
    finally:
        u.close()


def test_loop_sendfile(loop, tmp_path):
    """loop.sendfile(transport, file, offset, count) sends the file slice,
    returns its length, moves the file position and leaves the transport
    usable (reading resumed, later writes delivered)."""
    data = os.urandom(3_000_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        with open(path, "rb") as f:
            n_all = await loop.sendfile(ctr, f)
            pos_all = f.tell()
            n_part = await loop.sendfile(ctr, f, 100, 1000)
            pos_part = f.tell()
        ctr.write(b"END")
        await spr.wait_data(len(data) + 1000 + 3)
        reading = ctr.is_reading()
        str_.write(b"back")
        await cpr.wait_data(4)
        await close_all(server, ctr, str_)
        return n_all, pos_all, n_part, pos_part, bytes(spr.data), reading

    n_all, pos_all, n_part, pos_part, got, reading = run(loop, main())
    assert (n_all, pos_all) == (len(data), len(data))
    assert (n_part, pos_part) == (1000, 1100)
    assert got == data + data[100:1100] + b"END"
    assert reading is True


def test_loop_sendfile_bytesio_fallback(loop):
    """loop.sendfile with a file object that has no fileno falls back to
    reading and writing it."""
    import io

    data = os.urandom(500_000)

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        bio = io.BytesIO(data)
        n = await loop.sendfile(ctr, bio, 10)
        got = await spr.wait_data(len(data) - 10)
        await close_all(server, ctr, str_)
        return n, got, bio.tell()

    n, got, pos = run(loop, main())
    assert n == len(data) - 10
    assert got == data[10:]
    assert pos == len(data)


@pytest.mark.parametrize("fallback", [False, True])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_loop_sendfile_offset_and_file_position(loop, tmp_path, where, fallback):
    """sendfile from an offset, with the file elsewhere: the slice from the
    offset is sent and the file ends at the end of the slice; 3.14+ also
    when nothing was left to send (earlier versions leave it alone)."""
    data = os.urandom(100_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    offset = {"start": 0, "middle": len(data) // 2, "end": len(data)}[where]

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        with open(path, "rb") as f:
            f.seek(123)
            n = await loop.sendfile(ctr, f, offset, fallback=fallback)
            pos = f.tell()
        ctr.write(b"END")
        got = await spr.wait_data(len(data) - offset + 3)
        await close_all(server, ctr, str_)
        return n, pos, got

    n, pos, got = run(loop, main())
    assert n == len(data) - offset
    assert got == data[offset:] + b"END"
    moved = offset < len(data) or sys.version_info >= (3, 14)
    assert pos == (len(data) if moved else 123)


def test_loop_sendfile_errors(loop, tmp_path):
    """loop.sendfile on a closing transport raises RuntimeError('Transport is
    closing'); a text file raises ValueError; write() during a sendfile raises
    RuntimeError."""
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(32 * 1024 * 1024))

    async def main():
        server, ctr, cpr, str_, spr = await tcp_pair(loop)
        with open(path, "r", encoding="latin-1") as tf:
            with pytest.raises(ValueError, match="file should be opened in binary mode"):
                await loop.sendfile(ctr, tf)
        str_.pause_reading()
        with open(path, "rb") as f:
            task = asyncio.ensure_future(loop.sendfile(ctr, f))
            await asyncio.sleep(0.05)
            assert not task.done()
            with pytest.raises(RuntimeError):
                ctr.write(b"during sendfile")
            str_.resume_reading()
            n = await task
        ctr.close()
        with pytest.raises(RuntimeError, match="Transport is closing"):
            with open(path, "rb") as f:
                await loop.sendfile(ctr, f)
        await spr.wait_data(n)
        await close_all(server, str_)
        return n

    assert run(loop, main()) == 32 * 1024 * 1024


def test_loop_sendfile_unsupported_transport(loop, tmp_path):
    """loop.sendfile on a transport that does not declare sendfile support
    raises RuntimeError 'sendfile is not supported for transport ...'."""

    class Custom(asyncio.Transport):
        def is_closing(self):
            return False

    path = tmp_path / "f.bin"
    path.write_bytes(b"data")
    with open(path, "rb") as f:
        with pytest.raises(RuntimeError, match="sendfile is not supported for transport"):
            run(loop, loop.sendfile(Custom(), f))


# -- resources ----------------------------------------------------------------------


def test_no_fd_leak(loop):
    """Opening and closing a batch of connections and servers leaves the
    process with as many open file descriptors as before."""

    count_fds = open_sockets  # what the connections open

    async def batch():
        server = await loop.create_server(Recorder, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        pairs = [await loop.create_connection(Recorder, *addr) for _ in range(20)]
        for tr, pr in pairs:
            tr.write(b"x")
        for tr, pr in pairs:
            tr.close()
            await pr.lost
        reader, writer = await asyncio.open_connection(*addr)
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)

    async def main():
        await batch()  # warm-up: lazily created loop resources
        before = count_fds()
        await batch()
        await batch()
        return before, count_fds()

    before, after = run(loop, main())
    assert after == before


def test_accept_out_of_fds_pauses_then_resumes(loop_kind):
    """accept() failing with EMFILE is reported once, accepting pauses for
    a second and resumes: the waiting client is then served. A server
    closed during the pause stays closed (goloop: no error when the retry
    comes; asyncio reports a ValueError on fd -1 there)."""
    proc = run_snippet(loop_kind, """
        import resource, socket
        loop = new_loop()
        errors = []
        loop.set_exception_handler(lambda lp, ctx: errors.append(ctx["message"]))
        served = []
        class Echo(asyncio.Protocol):
            def connection_made(self, tr):
                served.append(tr)
        async def main():
            server = await loop.create_server(Echo, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            hogs = []
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 1, hard))
            c = socket.socket()  # takes the last fd: accept() has none
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            while not errors:
                await asyncio.sleep(0.01)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            while not served:  # the retry, a second later
                await asyncio.sleep(0.01)
            print("served", len(served), set(errors))
            # Out of fds again, and the server closes during the pause.
            resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 1, hard))
            d = socket.socket()
            d.setblocking(False)
            try:
                d.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            n = len(errors)
            while len(errors) == n:
                await asyncio.sleep(0.01)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            server.close()
            n = len(errors)
            await asyncio.sleep(1.5)
            print("after close", errors[n:])
            for tr in served:
                tr.close()
            c.close()
            d.close()
        loop.run_until_complete(main())
    """, timeout=60)
    assert proc.returncode == 0, proc
    lines = proc.stdout.splitlines()
    assert lines[0] == "served 1 {'socket.accept() out of system resource'}", proc
    if loop_kind == "goloop":
        assert lines[1] == "after close []", proc
