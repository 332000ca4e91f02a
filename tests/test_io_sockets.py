"""Low-level socket coroutines: loop.sock_recv, sock_recv_into, sock_recvfrom,
sock_recvfrom_into, sock_sendall, sock_sendto, sock_connect, sock_accept and
sock_sendfile.

Each coroutine must complete (or fail) as the reference loop's does: same
results, same exceptions for bad input (asyncio's argument checks and
messages), non-blocking accepted sockets, file positions after sendfile, and
no watcher left behind when a pending call is cancelled.
"""

import asyncio
import errno
import io
import os
import socket
import ssl
import sys

import pytest
from tests.io_helpers import run, shortdir  # noqa: F401


needs_311 = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="sock_recvfrom/sock_sendto are new in Python 3.11"
)


@pytest.fixture
def udp_pair():
    """Two non-blocking UDP sockets bound on 127.0.0.1 (not connected)."""
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for s in (a, b):
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def datafile(tmp_path):
    """A 1 MiB regular file of random bytes."""
    data = os.urandom(1 << 20)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    return path, data


async def recv_exactly(loop, sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = await loop.sock_recv(sock, min(1 << 16, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


async def recv_all(loop, sock):
    buf = bytearray()
    while True:
        chunk = await loop.sock_recv(sock, 1 << 16)
        if not chunk:
            return bytes(buf)
        buf += chunk


# -- sock_recv / sock_recv_into --------------------------------------------


def test_sock_recv_waits_for_data(loop, sockpair):
    """sock_recv suspends until data arrives, then returns it."""
    a, b = sockpair

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        assert not task.done()
        b.send(b"hello")
        return await task

    assert run(loop, main()) == b"hello"


def test_sock_recv_ready_data_and_limit(loop, sockpair):
    """Data already queued is returned at once, at most n bytes per call."""
    a, b = sockpair
    b.send(b"abcdef")

    async def main():
        return await loop.sock_recv(a, 4), await loop.sock_recv(a, 100)

    assert run(loop, main()) == (b"abcd", b"ef")


def test_sock_recv_eof_returns_empty(loop, sockpair):
    """sock_recv returns b'' once the peer shuts down its write side."""
    a, b = sockpair

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        b.shutdown(socket.SHUT_WR)
        return await task

    assert run(loop, main()) == b""


def test_sock_recv_into(loop, sockpair):
    """sock_recv_into fills the buffer and returns the byte count."""
    a, b = sockpair
    buf = bytearray(10)

    async def main():
        task = asyncio.ensure_future(loop.sock_recv_into(a, buf))
        await asyncio.sleep(0.01)
        b.send(b"xyz")
        n1 = await task
        b.send(b"0123456789ABCDEF")
        view = memoryview(buf)[5:]
        n2 = await loop.sock_recv_into(a, view)
        return n1, n2

    n1, n2 = run(loop, main())
    assert n1 == 3
    assert n2 == 5
    assert bytes(buf) == b"xyz\x00\x0001234"


def test_sock_recv_into_readonly_buffer_type_error(loop, sockpair):
    """sock_recv_into with a read-only buffer raises TypeError."""
    a, b = sockpair
    b.send(b"data")
    with pytest.raises(TypeError):
        run(loop, loop.sock_recv_into(a, b"immutable"))


def test_sock_recv_on_transport_socket_runtime_error(loop, tcp_pair):
    """A would-block sock_recv on a socket owned by a transport raises
    RuntimeError 'File descriptor N is used by transport ...'."""
    c, s = tcp_pair

    async def main():
        tr, _ = await loop.create_connection(asyncio.Protocol, sock=c)
        try:
            with pytest.raises(RuntimeError, match=r"File descriptor \d+ is used by transport"):
                # Must fail at once: a short bound keeps a hang from stalling the suite.
                await asyncio.wait_for(loop.sock_recv(c, 10), 10)
        finally:
            tr.close()
            await asyncio.sleep(0.01)

    run(loop, main())


# -- datagram coroutines (3.11+) ---------------------------------------------


@needs_311
def test_sock_recvfrom(loop, udp_pair):
    """sock_recvfrom returns (data, sender address) and waits for a datagram."""
    a, b = udp_pair

    async def main():
        task = asyncio.ensure_future(loop.sock_recvfrom(a, 100))
        await asyncio.sleep(0.01)
        assert not task.done()
        b.sendto(b"ping", a.getsockname())
        return await task

    data, addr = run(loop, main())
    assert data == b"ping"
    assert addr == b.getsockname()


@needs_311
def test_sock_recvfrom_truncates_to_bufsize(loop, udp_pair):
    """A datagram longer than bufsize is truncated; the rest is discarded."""
    a, b = udp_pair
    b.sendto(b"0123456789", a.getsockname())
    b.sendto(b"next", a.getsockname())

    async def main():
        return await loop.sock_recvfrom(a, 4), await loop.sock_recvfrom(a, 100)

    (d1, _), (d2, _) = run(loop, main())
    assert (d1, d2) == (b"0123", b"next")


@needs_311
def test_sock_recvfrom_into_nbytes(loop, udp_pair):
    """sock_recvfrom_into honours nbytes (0 means the whole buffer)."""
    a, b = udp_pair
    buf = bytearray(16)

    async def main():
        task = asyncio.ensure_future(loop.sock_recvfrom_into(a, buf, 4))
        await asyncio.sleep(0.01)
        b.sendto(b"abcdefgh", a.getsockname())
        first = await task
        b.sendto(b"ABCDEFGH", a.getsockname())
        second = await loop.sock_recvfrom_into(a, buf)
        return first, second

    (n1, addr1), (n2, addr2) = run(loop, main())
    assert n1 == 4
    assert n2 == 8
    assert addr1 == addr2 == b.getsockname()
    assert bytes(buf[:8]) == b"ABCDEFGH"


@needs_311
def test_sock_recvfrom_into_nbytes_too_large(loop, udp_pair):
    """nbytes larger than the buffer raises ValueError (the socket module's)."""
    a, b = udp_pair
    b.sendto(b"abc", a.getsockname())
    with pytest.raises(ValueError, match="nbytes is greater than the length of the buffer"):
        run(loop, loop.sock_recvfrom_into(a, bytearray(4), 10))


@needs_311
def test_sock_sendto(loop, udp_pair):
    """sock_sendto returns the number of bytes sent; the peer gets the datagram."""
    a, b = udp_pair

    async def main():
        n = await loop.sock_sendto(a, b"hello", b.getsockname())
        data, addr = await loop.sock_recvfrom(b, 100)
        return n, data, addr

    n, data, addr = run(loop, main())
    assert n == 5
    assert data == b"hello"
    assert addr == a.getsockname()


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="only Python 3.10 lacks them")
@pytest.mark.parametrize("name", ["sock_recvfrom", "sock_recvfrom_into", "sock_sendto"])
def test_datagram_sock_methods_absent_before_311(loop, name):
    """On 3.10 the loop has no sock_recvfrom/sock_recvfrom_into/sock_sendto
    (they are new in 3.11); feature detection with hasattr must agree."""
    assert not hasattr(loop, name)


# -- sock_sendall ----------------------------------------------------------------


def test_sock_sendall_large_both_directions(loop, sockpair):
    """Two multi-megabyte sock_sendall calls in opposite directions, with the
    receivers running concurrently, deliver every byte in order."""
    a, b = sockpair
    size = 8 * 1024 * 1024
    data_a = bytes(range(256)) * (size // 256)
    data_b = bytes(reversed(range(256))) * (size // 256)

    async def main():
        return await asyncio.gather(
            loop.sock_sendall(a, data_a),
            loop.sock_sendall(b, bytearray(data_b)),
            recv_exactly(loop, b, size),
            recv_exactly(loop, a, size),
        )

    r1, r2, got_b, got_a = run(loop, main())
    assert (r1, r2) == (None, None)
    assert got_b == data_a
    assert got_a == data_b


def test_sock_sendall_memoryview(loop, sockpair):
    """sock_sendall accepts any bytes-like object (memoryview slice here)."""
    a, b = sockpair
    payload = memoryview(b"0123456789")[2:7]

    async def main():
        await loop.sock_sendall(a, payload)
        return await recv_exactly(loop, b, 5)

    assert run(loop, main()) == b"23456"


def test_sock_sendall_to_closed_peer_raises(loop, sockpair):
    """sock_sendall to a socket whose peer is gone raises an OSError
    (BrokenPipeError / ConnectionResetError)."""
    a, b = sockpair
    b.close()

    async def main():
        with pytest.raises(OSError) as info:
            for _ in range(100):
                await loop.sock_sendall(a, b"x" * 65536)
        return info.value

    exc = run(loop, main())
    assert isinstance(exc, (BrokenPipeError, ConnectionResetError)), exc


# -- sock_connect / sock_accept -----------------------------------------------------


def test_sock_connect_refused(loop):
    """Connecting to a port nobody listens on raises ConnectionRefusedError
    '[Errno 111] Connect call failed (host, port)'."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    addr = closed.getsockname()
    c = socket.socket()
    c.setblocking(False)
    try:
        with pytest.raises(ConnectionRefusedError) as info:
            run(loop, loop.sock_connect(c, addr))
        assert info.value.errno == errno.ECONNREFUSED
        assert str(info.value) == f"[Errno {errno.ECONNREFUSED}] Connect call failed {addr}"
    finally:
        c.close()
        closed.close()


def test_sock_connect_resolves_hostname(loop):
    """sock_connect resolves a host name for the socket's family."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.setblocking(False)
    port = lsock.getsockname()[1]
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(False)

    async def main():
        (conn, addr), r = await asyncio.gather(
            loop.sock_accept(lsock), loop.sock_connect(c, ("localhost", port))
        )
        conn.close()
        return r, addr

    try:
        r, addr = run(loop, main())
        assert r is None
        assert c.getpeername() == ("127.0.0.1", port)
        assert addr == c.getsockname()
    finally:
        c.close()
        lsock.close()


def test_sock_connect_ipv6(loop):
    """sock_connect to a numeric IPv6 address (with a 2-tuple) connects."""
    try:
        lsock = socket.socket(socket.AF_INET6)
        lsock.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    lsock.listen(1)
    port = lsock.getsockname()[1]
    c = socket.socket(socket.AF_INET6)
    c.setblocking(False)
    try:
        run(loop, loop.sock_connect(c, ("::1", port)))
        assert c.getpeername()[:2] == ("::1", port)
    finally:
        c.close()
        lsock.close()


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_sock_connect_unix(loop, shortdir, abstract):
    """sock_connect on an AF_UNIX socket connects to a path (or an abstract
    name) without any name resolution."""
    addr = "\0goloop-test-%d-%d" % (os.getpid(), id(loop)) if abstract else os.path.join(shortdir, "s")
    lsock = socket.socket(socket.AF_UNIX)
    lsock.bind(addr)
    lsock.listen(1)
    lsock.setblocking(False)
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)

    async def main():
        await loop.sock_connect(c, addr)
        conn, _ = await loop.sock_accept(lsock)
        await loop.sock_sendall(c, b"over unix")
        data = await recv_exactly(loop, conn, 9)
        conn.close()
        return data

    try:
        assert run(loop, main()) == b"over unix"
    finally:
        c.close()
        lsock.close()


def test_sock_connect_unix_missing_path(loop, shortdir):
    """sock_connect to a Unix path that does not exist raises FileNotFoundError."""
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        with pytest.raises(FileNotFoundError):
            run(loop, loop.sock_connect(c, os.path.join(shortdir, "missing")))
    finally:
        c.close()


def test_sock_accept_returns_nonblocking_socket(loop):
    """sock_accept waits for a client and returns (conn, address) where conn
    is a non-blocking socket connected to that client."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.setblocking(False)

    async def main():
        task = asyncio.ensure_future(loop.sock_accept(lsock))
        await asyncio.sleep(0.01)
        assert not task.done()
        c = socket.socket()
        c.setblocking(False)
        await loop.sock_connect(c, lsock.getsockname())
        conn, addr = await task
        return c, conn, addr

    c, conn, addr = run(loop, main())
    try:
        assert conn.gettimeout() == 0.0
        assert conn.getblocking() is False
        assert addr == c.getsockname()
        assert conn.getpeername() == c.getsockname()
    finally:
        c.close()
        conn.close()
        lsock.close()


def test_socket_errors_propagate(loop, sockpair):
    """Errors of the underlying socket call surface unchanged: a negative
    recv size (ValueError), a str for sock_sendall (TypeError), accept on a
    socket that is not listening (OSError EINVAL); n=0 and empty data are fine."""
    a, b = sockpair
    with pytest.raises(ValueError, match="negative buffersize in recv"):
        run(loop, loop.sock_recv(a, -1))
    with pytest.raises(TypeError):
        run(loop, loop.sock_sendall(a, "text"))
    assert run(loop, loop.sock_recv(a, 0)) == b""
    assert run(loop, loop.sock_sendall(a, b"")) is None
    s = socket.socket()
    s.setblocking(False)
    try:
        with pytest.raises(OSError) as info:
            run(loop, loop.sock_accept(s))
        assert info.value.errno == errno.EINVAL
    finally:
        s.close()


# -- cancellation ---------------------------------------------------------------


def test_cancel_sock_recv_removes_reader(loop, sockpair):
    """Cancelling a pending sock_recv leaves no reader behind (remove_reader
    returns False) and a later sock_recv gets the next data."""
    a, b = sockpair

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        removed = loop.remove_reader(a.fileno())
        b.send(b"after")
        data = await loop.sock_recv(a, 100)
        return removed, data

    removed, data = run(loop, main())
    assert removed is False
    assert data == b"after"


def test_cancel_sock_accept_removes_reader(loop):
    """Cancelling a pending sock_accept leaves no reader on the listener."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.setblocking(False)

    async def main():
        task = asyncio.ensure_future(loop.sock_accept(lsock))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        return loop.remove_reader(lsock.fileno())

    try:
        assert run(loop, main()) is False
    finally:
        lsock.close()


def test_cancel_sock_sendall_removes_writer(loop, sockpair):
    """Cancelling a sock_sendall blocked on a full socket buffer leaves no
    writer behind (remove_writer returns False)."""
    a, b = sockpair

    async def main():
        task = asyncio.ensure_future(loop.sock_sendall(a, b"x" * (32 * 1024 * 1024)))
        await asyncio.sleep(0.05)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        return loop.remove_writer(a.fileno())

    assert run(loop, main()) is False


# -- bad sockets ---------------------------------------------------------------------


def _sock_calls(loop, sock, f):
    """name -> zero-argument callable returning the coroutine to check."""
    calls = {
        "sock_recv": lambda: loop.sock_recv(sock, 10),
        "sock_recv_into": lambda: loop.sock_recv_into(sock, bytearray(10)),
        "sock_sendall": lambda: loop.sock_sendall(sock, b"x"),
        "sock_connect": lambda: loop.sock_connect(sock, ("127.0.0.1", 9)),
        "sock_accept": lambda: loop.sock_accept(sock),
        "sock_sendfile": lambda: loop.sock_sendfile(sock, f),
    }
    if sys.version_info >= (3, 11):
        calls["sock_recvfrom"] = lambda: loop.sock_recvfrom(sock, 10)
        calls["sock_recvfrom_into"] = lambda: loop.sock_recvfrom_into(sock, bytearray(10))
        calls["sock_sendto"] = lambda: loop.sock_sendto(sock, b"x", ("127.0.0.1", 9))
    return calls


def test_ssl_socket_rejected(loop, datafile):
    """Every sock_* coroutine rejects an ssl.SSLSocket with TypeError
    'Socket cannot be of type SSLSocket'."""
    path, _ = datafile
    ctx = ssl.create_default_context()
    sslsock = ctx.wrap_socket(socket.socket(), server_hostname="localhost",
                              do_handshake_on_connect=False)
    try:
        with open(path, "rb") as f:
            for name, call in _sock_calls(loop, sslsock, f).items():
                with pytest.raises(TypeError, match="Socket cannot be of type SSLSocket"):
                    run(loop, call())
    finally:
        sslsock.close()


def test_debug_mode_blocking_socket_rejected(loop, datafile):
    """In debug mode every sock_* coroutine rejects a blocking socket with
    ValueError 'the socket must be non-blocking'."""
    path, _ = datafile
    loop.set_debug(True)
    blocking = socket.socket()
    assert blocking.gettimeout() is None
    try:
        with open(path, "rb") as f:
            for name, call in _sock_calls(loop, blocking, f).items():
                with pytest.raises(ValueError, match="the socket must be non-blocking"):
                    run(loop, call())
    finally:
        blocking.close()


# -- sock_sendfile -------------------------------------------------------------------

# 3.14+ leaves the file at offset + bytes sent even when nothing was sent,
# and its copying fallback always seeks to the offset first.
SEEK_ALWAYS = sys.version_info >= (3, 14)


def test_sock_sendfile_offset_count(loop, tcp_pair, datafile):
    """sock_sendfile on a regular file sends exactly file[offset:offset+count],
    returns count, and leaves the file position at offset + count."""
    c, s = tcp_pair
    path, data = datafile
    offset, count = 1000, 500_000

    async def main():
        with open(path, "rb") as f:
            sent, got = await asyncio.gather(
                loop.sock_sendfile(c, f, offset, count), recv_exactly(loop, s, count)
            )
            return sent, got, f.tell()

    sent, got, pos = run(loop, main())
    assert sent == count
    assert got == data[offset:offset + count]
    assert pos == offset + count


def test_sock_sendfile_to_end_no_fallback(loop, tcp_pair, datafile):
    """With count=None the rest of the file from offset is sent; a regular
    file works with fallback=False (the native path)."""
    c, s = tcp_pair
    path, data = datafile
    offset = 12345

    async def main():
        with open(path, "rb") as f:
            sent = await loop.sock_sendfile(c, f, offset, fallback=False)
            c.shutdown(socket.SHUT_WR)
            got = await recv_all(loop, s)
            return sent, got, f.tell()

    sent, got, pos = run(loop, main())
    assert sent == len(data) - offset
    assert got == data[offset:]
    assert pos == len(data)


def test_sock_sendfile_count_past_end(loop, tcp_pair, datafile):
    """A count reaching past the end of the file sends up to the end and
    returns the number of bytes actually sent; an offset past the end sends
    nothing and leaves the position alone (3.14+: moves it to the offset)."""
    c, s = tcp_pair
    path, data = datafile
    offset = len(data) - 1000

    async def main():
        with open(path, "rb") as f:
            sent, got = await asyncio.gather(
                loop.sock_sendfile(c, f, offset, 5000), recv_exactly(loop, s, 1000))
            pos = f.tell()
            f.seek(7)
            beyond = await loop.sock_sendfile(c, f, len(data) + 10, 100)
            return sent, got, pos, beyond, f.tell()

    sent, got, pos, beyond, pos2 = run(loop, main())
    assert (sent, pos) == (1000, len(data))
    assert got == data[offset:]
    assert (beyond, pos2) == (0, len(data) + 10 if SEEK_ALWAYS else 7)


def test_sock_sendfile_fallback_starts_at_offset(loop, tcp_pair):
    """The copying fallback reads from `offset`, default 0, wherever the
    file position was (3.14+); before 3.14 a zero offset kept the position."""
    c, s = tcp_pair
    data = os.urandom(1000)
    bio = io.BytesIO(data)
    bio.seek(600)

    async def main():
        sent = await loop.sock_sendfile(c, bio)
        c.shutdown(socket.SHUT_WR)
        return sent, await recv_all(loop, s)

    sent, got = run(loop, main())
    expected = data if SEEK_ALWAYS else data[600:]
    assert (sent, got) == (len(expected), expected)
    # Both end at offset + sent (before 3.14 that is not where reading stopped).
    assert bio.tell() == len(expected)


def test_sock_sendfile_empty_file(loop, tcp_pair, tmp_path):
    """An empty file sends nothing and returns 0."""
    c, s = tcp_pair
    path = tmp_path / "empty"
    path.write_bytes(b"")

    async def main():
        with open(path, "rb") as f:
            return await loop.sock_sendfile(c, f), f.tell()

    assert run(loop, main()) == (0, 0)


def test_sock_sendfile_fallback_for_non_regular_file(loop, tcp_pair):
    """A file object without a usable fileno (BytesIO) is sent by the
    read/send fallback, honouring offset/count and updating the position."""
    c, s = tcp_pair
    data = os.urandom(300_000)
    bio = io.BytesIO(data)

    async def main():
        sent, got = await asyncio.gather(
            loop.sock_sendfile(c, bio, 100, 200_000), recv_exactly(loop, s, 200_000)
        )
        return sent, got

    sent, got = run(loop, main())
    assert sent == 200_000
    assert got == data[100:200_100]
    assert bio.tell() == 200_100


def test_sock_sendfile_no_fallback_non_regular_file(loop, tcp_pair):
    """fallback=False with a BytesIO raises asyncio.SendfileNotAvailableError."""
    c, s = tcp_pair
    with pytest.raises(asyncio.SendfileNotAvailableError):
        run(loop, loop.sock_sendfile(c, io.BytesIO(b"data"), fallback=False))


def test_sock_sendfile_text_mode_file(loop, tcp_pair, datafile):
    """A text-mode file raises ValueError 'file should be opened in binary mode'."""
    c, s = tcp_pair
    path, _ = datafile
    with open(path, "r", encoding="latin-1") as f:
        with pytest.raises(ValueError, match="file should be opened in binary mode"):
            run(loop, loop.sock_sendfile(c, f))


def test_sock_sendfile_datagram_socket(loop, datafile):
    """A SOCK_DGRAM socket raises ValueError 'only SOCK_STREAM type sockets
    are supported'."""
    path, _ = datafile
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setblocking(False)
    try:
        with open(path, "rb") as f:
            with pytest.raises(ValueError, match="only SOCK_STREAM type sockets are supported"):
                run(loop, loop.sock_sendfile(u, f))
    finally:
        u.close()


@pytest.mark.parametrize(
    "offset, count, exc, message",
    [
        (0, 0, ValueError, "count must be a positive integer (got 0)"),
        (0, -5, ValueError, "count must be a positive integer (got -5)"),
        (0, "10", TypeError, "count must be a positive integer (got '10')"),
        (0, 1.5, TypeError, "count must be a positive integer (got 1.5)"),
        (-1, None, ValueError, "offset must be a non-negative integer (got -1)"),
        (1.0, None, TypeError, "offset must be a non-negative integer (got 1.0)"),
        ("0", 10, TypeError, "offset must be a non-negative integer (got '0')"),
    ],
)
def test_sock_sendfile_bad_offset_count(loop, tcp_pair, datafile, offset, count, exc, message):
    """Bad offset/count values raise asyncio's TypeError/ValueError, with its
    message, before anything is sent; the file position is unchanged."""
    c, s = tcp_pair
    path, _ = datafile
    with open(path, "rb") as f:
        with pytest.raises(exc) as info:
            run(loop, loop.sock_sendfile(c, f, offset, count))
        assert str(info.value) == message
        assert f.tell() == 0
