"""loop.sock_recv, sock_recv_into and sock_sendall through goloop's C fast
path (pyext/sockops.c, goloop._sockets).

On a goloop loop (not in debug mode) these calls on a plain socket.socket
are made in C; a call that would block returns a SockFuture settled by a
C SockOp registered on the poller, and cancelling the future takes the
SockOp off the poller. Everything C does not handle (socket subclasses,
odd buffers, n <= 0, non-int n, debug mode) takes the Python path.

Every test runs against asyncio's own loop too, so each asserts asyncio's
behaviour: large requests (past the 256 KiB read buffer), blocked calls and
EOF, the buffer recv_into writes (offset, length, re-read per attempt),
multi-megabyte sendall to a slow reader, cancellation (watcher removed,
no data lost, buffers released), full duplex on one socket, errors
(reset, closed socket, transport-owned fd), the fallbacks, and no leaks
(fds, SockOps, sockets, buffer exports) after many calls or a loop closed
with calls pending. The tests of test_io_sockets.py are not repeated here.
"""

import array
import asyncio
import enum
import errno
import gc
import os
import socket
import struct
import sys
import threading
import time
import weakref

import pytest
from tests.io_helpers import TIMEOUT, open_sockets, run, wait_until

KIB = 1024
MIB = 1024 * 1024
READ_BUF = 256 * KIB  # goloop's static read buffer (GOLOOP_READ_BUF)


# -- helpers -------------------------------------------------------------------


def live_sockops():
    """goloop's C SockOp objects still alive (they are GC-tracked)."""
    return [o for o in gc.get_objects() if type(o).__name__ == "SockOp"]


def live_sockfutures():
    return [o for o in gc.get_objects() if type(o).__name__ == "SockFuture"]


def payload(size, seed=0):
    """size bytes in which every 4-byte word differs from its neighbours, so
    lost, duplicated or reordered chunks cannot go unnoticed."""
    words = (size + 3) // 4
    return struct.pack(f"<{words}I", *range(seed, seed + words))[:size]


def fill(sock, data):
    """Send as much of data as sock takes without blocking; return the count."""
    sent = 0
    while sent < len(data):
        try:
            sent += sock.send(data[sent:sent + MIB])
        except BlockingIOError:
            break
    return sent


def drain(sock):
    """Read everything queued on non-blocking sock."""
    out = bytearray()
    while True:
        try:
            chunk = sock.recv(MIB)
        except BlockingIOError:
            return bytes(out)
        if not chunk:
            return bytes(out)
        out += chunk


async def settle():
    """Let newly created tasks run until they block."""
    for _ in range(5):
        await asyncio.sleep(0)


async def recv_exactly(loop, sock, n, chunk=MIB):
    buf = bytearray()
    while len(buf) < n:
        data = await loop.sock_recv(sock, min(chunk, n - len(buf)))
        if not data:
            break
        buf += data
    return bytes(buf)


class PeerThread(threading.Thread):
    """Runs fn(sock) in a thread on a socket with a timeout (so a broken
    test cannot leave it blocked forever); join() re-raises its error."""

    def __init__(self, sock, fn):
        super().__init__(daemon=True)
        self.sock = sock
        self.fn = fn
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self.fn(self.sock)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout=TIMEOUT):
        super().join(timeout)
        assert not self.is_alive(), "peer thread did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def slow_reader(nbytes, chunk=16 * KIB):
    """A peer function reading nbytes slowly (small reads, short pauses)."""

    def read(sock):
        out = bytearray()
        while len(out) < nbytes:
            data = sock.recv(min(chunk, nbytes - len(out)))
            if not data:
                break
            out += data
            if len(out) % (8 * chunk) < chunk:
                time.sleep(0.001)
        return bytes(out)

    return read


def blocking_peer(sock):
    sock.settimeout(TIMEOUT)
    return sock


def reset(sock):
    """Close sock so that its peer gets a TCP RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- the fast path is the one under test --------------------------------------


def test_blocked_calls_wait_in_c(loop, loop_kind, sockpair):
    """A blocked sock_recv, sock_recv_into and sock_sendall on a plain
    socket each wait as one SockOp on goloop (so the other tests here
    exercise the C path); all three complete with the right results."""
    a, b = sockpair
    big = payload(16 * MIB)
    buf = bytearray(8)
    gc.collect()
    ops_before = len(live_sockops())

    async def main():
        t1 = asyncio.ensure_future(loop.sock_recv(a, 100))
        t2 = asyncio.ensure_future(loop.sock_recv_into(b, buf))
        await settle()
        assert not (t1.done() or t2.done())
        if loop_kind == "goloop":
            assert len(live_sockops()) == ops_before + 2
        b.send(b"ping")
        a.send(b"pong pong")
        r1, r2 = await t1, await t2
        t3 = asyncio.ensure_future(loop.sock_sendall(a, big))
        await settle()
        assert not t3.done()
        if loop_kind == "goloop":
            assert len(live_sockops()) == ops_before + 1
        got = await recv_exactly(loop, b, len(big) + 1)
        return r1, r2, got, await t3

    r1, r2, got, r3 = run(loop, main())
    assert (r1, r2, bytes(buf)) == (b"ping", 8, b"pong pon")
    assert got == b"g" + big
    assert r3 is None
    gc.collect()
    assert len(live_sockops()) == ops_before


# -- sock_recv ---------------------------------------------------------------------


@pytest.mark.parametrize("n", [READ_BUF - 1, READ_BUF, READ_BUF + 1, 3 * MIB])
def test_sock_recv_queued_data_sizes(loop, sockpair, n):
    """With more than n bytes queued, one sock_recv(n) returns exactly the
    first n of them, on both sides of the 256 KiB read buffer size."""
    a, b = sockpair
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MIB)
    data = payload(8 * MIB)
    sent = fill(b, data)
    assert sent > READ_BUF + 1, "the socket buffer holds too little for this test"

    async def main():
        first = await loop.sock_recv(a, n)
        rest = await recv_exactly(loop, a, sent - len(first))
        return first, rest

    first, rest = run(loop, main())
    assert first == data[:min(n, sent)]
    assert first + rest == data[:sent]


@pytest.mark.parametrize("n", [READ_BUF + 1, 2 * MIB])
def test_sock_recv_after_large_reads_still_returns_all_queued(loop, sockpair, n):
    """After a run of 100 KiB reads (goloop then reads straight into the
    result object, sized from the previous read), sock_recv(n) with more
    queued still returns min(n, queued) in one call, like socket.recv."""
    a, b = sockpair
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MIB)
    chunk = payload(100 * KIB, seed=7)

    async def main():
        for _ in range(4):
            b.sendall(chunk)
            assert await recv_exactly(loop, a, len(chunk), chunk=len(chunk)) == chunk
        data = payload(8 * MIB)
        sent = fill(b, data)
        first = await loop.sock_recv(a, n)
        rest = await recv_exactly(loop, a, sent - len(first))
        return data[:sent], first, rest

    sent_data, first, rest = run(loop, main())
    assert first == sent_data[:n]
    assert first + rest == sent_data


def test_sock_recv_datagrams_of_growing_size_arrive_whole(loop):
    """Datagram sockets read every datagram whole whatever came before (a
    read sized from earlier, smaller datagrams would cut it)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.setblocking(False)
    b.setblocking(False)
    sizes = [20 * KIB, 20 * KIB, 20 * KIB, 60 * KIB, 100 * KIB, 30 * KIB, 150 * KIB]
    try:
        b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2 * MIB)

        async def main():
            got = []
            for i, size in enumerate(sizes):
                b.send(payload(size, seed=i))
                got.append(await loop.sock_recv(a, 256 * KIB))
            return got

        got = run(loop, main())
    finally:
        a.close()
        b.close()
    assert [len(g) for g in got] == sizes
    assert all(g == payload(size, seed=i) for i, (g, size) in enumerate(zip(got, sizes)))


def test_sock_recv_blocked_large_request(loop, sockpair):
    """A sock_recv(4 MiB) that blocks, then wakes to more than 256 KiB
    queued in one burst, returns the whole burst."""
    a, b = sockpair
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MIB)
    data = payload(8 * MIB)

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(a, 4 * MIB))
        await settle()
        assert not task.done()
        sent = b.send(data)  # one send: all of it is queued before the wake-up
        return sent, await task

    sent, got = run(loop, main())
    assert sent > READ_BUF
    assert got == data[:min(sent, 4 * MIB)]


def test_sock_recv_blocked_until_peer_thread_sends(loop, sockpair):
    """A blocked sock_recv is woken by data a peer thread sends later, and
    successive blocked calls receive a multi-megabyte stream in order."""
    a, b = sockpair
    data = payload(6 * MIB, seed=7)

    def send(sock):
        for i in range(0, len(data), 100 * KIB):
            sock.sendall(data[i:i + 100 * KIB])
            time.sleep(0.001)

    peer = PeerThread(blocking_peer(b), send)

    async def main():
        first = asyncio.ensure_future(loop.sock_recv(a, 600 * KIB))
        await settle()
        assert not first.done()
        peer.start()
        got = bytearray(await first)
        while len(got) < len(data):
            chunk = await loop.sock_recv(a, 600 * KIB)
            assert chunk
            got += chunk
        return bytes(got)

    got = run(loop, main())
    peer.join()
    assert got == data


@pytest.mark.parametrize("n", [100, 4 * MIB])
def test_sock_recv_data_then_eof(loop, sockpair, n):
    """Queued data comes first, then sock_recv returns b'' at EOF, both for
    a blocked call and for calls made after the EOF (small and large n)."""
    a, b = sockpair

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(a, n))
        await settle()
        b.send(b"tail")
        b.shutdown(socket.SHUT_WR)
        first = await task
        second = await loop.sock_recv(a, n)
        third = await loop.sock_recv(a, n)
        return first, second, third

    assert run(loop, main()) == (b"tail", b"", b"")


def test_sock_recv_blocked_eof(loop, sockpair):
    """A sock_recv(4 MiB) blocked when the peer closes returns b''."""
    a, b = sockpair

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(a, 4 * MIB))
        await settle()
        assert not task.done()
        b.close()
        return await task

    got = run(loop, main())
    assert got == b"" and type(got) is bytes


def test_sock_recv_datagram_socket(loop):
    """On a connected UDP socket each blocked sock_recv returns one
    datagram, truncated to n; an empty datagram gives b''; sock_sendall
    sends one datagram per call."""
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with a, b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        a.connect(b.getsockname())
        b.connect(a.getsockname())
        a.setblocking(False)
        b.setblocking(False)
        big = payload(60000)

        async def main():
            t = asyncio.ensure_future(loop.sock_recv(a, 4 * MIB))
            await settle()
            assert not t.done()
            b.send(big)
            first = await t
            t = asyncio.ensure_future(loop.sock_recv(a, 5))
            await settle()
            assert not t.done()
            b.send(b"0123456789")
            b.send(b"next")
            second = await t
            third = await loop.sock_recv(a, 100)
            b.send(b"")
            fourth = await loop.sock_recv(a, 100)
            await loop.sock_sendall(a, bytearray(b"one"))
            await loop.sock_sendall(a, b"two")
            return first, second, third, fourth, await loop.sock_recv(b, 100), await loop.sock_recv(b, 100)

        assert run(loop, main()) == (big, b"01234", b"next", b"", b"one", b"two")


# -- sock_recv_into ------------------------------------------------------------


def test_sock_recv_into_blocked_bytearray_large(loop, sockpair):
    """A blocked sock_recv_into a 4 MiB bytearray gets a burst of more than
    256 KiB: the count is returned and only that much of the buffer changes."""
    a, b = sockpair
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MIB)
    data = payload(8 * MIB, seed=3)
    buf = bytearray(b"\xee" * (4 * MIB))

    async def main():
        task = asyncio.ensure_future(loop.sock_recv_into(a, buf))
        await settle()
        assert not task.done()
        sent = b.send(data)
        return sent, await task

    sent, n = run(loop, main())
    assert sent > READ_BUF
    assert n == min(sent, len(buf))
    assert buf[:n] == data[:n]
    assert buf[n:] == b"\xee" * (len(buf) - n)


def test_sock_recv_into_blocked_memoryview_slice(loop, sockpair):
    """A blocked sock_recv_into a memoryview slice writes at the slice's
    offset, at most len(slice) bytes; the rest stays queued."""
    a, b = sockpair
    buf = bytearray(b"." * 20)

    async def main():
        task = asyncio.ensure_future(loop.sock_recv_into(a, memoryview(buf)[5:15]))
        await settle()
        assert not task.done()
        b.send(b"0123456789ABC")
        n = await task
        rest = await loop.sock_recv(a, 100)
        return n, rest

    n, rest = run(loop, main())
    assert n == 10
    assert buf == bytearray(b".....0123456789.....")
    assert rest == b"ABC"


def test_sock_recv_into_queued_memoryview_slice_large(loop, sockpair):
    """sock_recv_into a memoryview slice of more than 256 KiB with data
    already queued: data lands at the offset, the count is returned."""
    a, b = sockpair
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MIB)
    data = payload(8 * MIB, seed=11)
    sent = fill(b, data)
    buf = bytearray(MIB)
    off = 1000

    async def main():
        return await loop.sock_recv_into(a, memoryview(buf)[off:off + 300 * KIB])

    n = run(loop, main())
    assert n == min(sent, 300 * KIB)
    assert buf[off:off + n] == data[:n]
    assert buf[:off] == bytes(off)
    assert buf[off + n:] == bytes(len(buf) - off - n)


def test_sock_recv_into_eof(loop, sockpair):
    """sock_recv_into returns 0 at EOF, blocked or not, and leaves the
    buffer alone."""
    a, b = sockpair
    buf = bytearray(b"x" * 16)

    async def main():
        task = asyncio.ensure_future(loop.sock_recv_into(a, buf))
        await settle()
        assert not task.done()
        b.shutdown(socket.SHUT_WR)
        return await task, await loop.sock_recv_into(a, memoryview(buf)[4:])

    assert run(loop, main()) == (0, 0)
    assert buf == bytearray(b"x" * 16)


@pytest.mark.parametrize("queued", [True, False], ids=["queued", "would-block"])
@pytest.mark.parametrize(
    "make_buf",
    [
        lambda: b"immutable",
        lambda: memoryview(b"immutable"),
        lambda: memoryview(bytearray(9)).toreadonly(),
    ],
    ids=["bytes", "memoryview-of-bytes", "readonly-memoryview"],
)
def test_sock_recv_into_readonly_buffer(loop, sockpair, make_buf, queued):
    """A read-only buffer raises TypeError whether or not data is queued,
    and the data stays for the next call."""
    a, b = sockpair
    if queued:
        b.send(b"data")

    async def main():
        with pytest.raises(TypeError):
            await loop.sock_recv_into(a, make_buf())
        if not queued:
            b.send(b"data")
        return await loop.sock_recv(a, 100)

    assert run(loop, main()) == b"data"


def _odd_buffers():
    return {
        "array-i": lambda: array.array("i", [0] * 4),
        "memoryview-cast-I": lambda: memoryview(bytearray(16)).cast("I"),
        "bytearray-subclass": lambda: type("BA", (bytearray,), {})(16),
        "empty-bytearray": lambda: bytearray(),
        "empty-memoryview": lambda: memoryview(bytearray(8))[4:4],
        "non-contiguous": lambda: memoryview(bytearray(32))[::2],
        "2d-memoryview": lambda: memoryview(bytearray(16)).cast("B", (4, 4)),
        "released-memoryview": _released_view,
    }


def _released_view():
    view = memoryview(bytearray(16))
    view.release()
    return view


@pytest.mark.parametrize("name", list(_odd_buffers()))
def test_sock_recv_into_odd_buffers_like_socket(loop, name):
    """With 10 bytes queued, sock_recv_into on an odd buffer gives what
    sock.recv_into gives on the same buffer (result or exception type), and
    the buffer ends up with the same bytes."""
    make = _odd_buffers()[name]

    def direct():
        a, b = socket.socketpair()
        with a, b:
            b.send(b"0123456789")
            buf = make()
            try:
                n = a.recv_into(buf)
            except Exception as exc:
                return ("error", type(exc), None)
            mv = memoryview(buf)
            return ("ok", n, bytes(mv.cast("B")) if mv.c_contiguous else None)

    expected = direct()
    a, b = socket.socketpair()
    a.setblocking(False)
    with a, b:
        b.send(b"0123456789")
        buf = make()

        async def main():
            try:
                n = await loop.sock_recv_into(a, buf)
            except Exception as exc:
                return ("error", type(exc), None)
            mv = memoryview(buf)
            return ("ok", n, bytes(mv.cast("B")) if mv.c_contiguous else None)

        assert run(loop, main()) == expected


def test_sock_recv_into_buffer_shrunk_while_blocked(loop, sockpair):
    """The buffer is looked up again when data arrives: a bytearray shrunk
    while the call is blocked gets at most its new length."""
    a, b = sockpair
    buf = bytearray(100)

    async def main():
        task = asyncio.ensure_future(loop.sock_recv_into(a, buf))
        await settle()
        assert not task.done()
        del buf[10:]  # allowed: a blocked call holds no buffer export
        b.send(b"0123456789abcdefghij")
        n = await task
        return n, await loop.sock_recv(a, 100)

    n, rest = run(loop, main())
    assert n == 10
    assert buf == bytearray(b"0123456789")
    assert rest == b"abcdefghij"


def test_sock_recv_into_memoryview_released_while_blocked(loop, sockpair):
    """A memoryview released while sock_recv_into waits on it: when data
    arrives the call fails as sock.recv_into fails on a released memoryview
    (TypeError), and the data is not lost."""
    a, b = sockpair
    target = bytearray(16)
    released = memoryview(bytearray(1))
    released.release()
    with pytest.raises(Exception) as info:
        a.recv_into(released)
    expected = type(info.value)

    async def main():
        view = memoryview(target)
        task = asyncio.ensure_future(loop.sock_recv_into(a, view))
        await settle()
        assert not task.done()
        view.release()
        b.send(b"kept")
        with pytest.raises(expected):
            await task
        return await loop.sock_recv(a, 100)

    assert run(loop, main()) == b"kept"
    assert target == bytearray(16)


# -- sock_sendall -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview"])
def test_sock_sendall_large_to_slow_reader(loop, sockpair, kind):
    """sock_sendall of 6 MiB (far more than the socket buffer) to a peer
    thread reading slowly in small pieces: every byte arrives, in order, and
    the call returns None only when all of it is sent."""
    a, b = sockpair
    data = payload(6 * MIB, seed=5)
    arg = {"bytes": data, "bytearray": bytearray(data),
           "memoryview": memoryview(bytearray(data))}[kind]
    peer = PeerThread(blocking_peer(b), slow_reader(len(data)))

    async def main():
        task = asyncio.ensure_future(loop.sock_sendall(a, arg))
        await settle()
        assert not task.done()
        peer.start()
        return await task

    assert run(loop, main()) is None
    assert peer.join() == data


@pytest.mark.parametrize("empty", [b"", bytearray(), memoryview(b"")], ids=["bytes", "bytearray", "memoryview"])
def test_sock_sendall_empty_on_full_socket(loop, sockpair, empty):
    """sock_sendall of an empty buffer returns None at once, even when the
    socket buffer is full, and sends nothing."""
    a, b = sockpair
    sent = fill(a, payload(8 * MIB))

    async def main():
        return await loop.sock_sendall(a, empty)

    assert run(loop, main()) is None
    got = bytearray()
    b.setblocking(True)
    b.settimeout(TIMEOUT)
    while len(got) < sent:
        got += b.recv(MIB)
    b.setblocking(False)
    assert bytes(got) == payload(8 * MIB)[:sent]
    assert drain(b) == b""


def test_sock_sendall_bytearray_export_held_while_blocked(loop, sockpair):
    """While sock_sendall of a bytearray is blocked the bytearray cannot be
    resized (BufferError), as with asyncio's memoryview; once the call is
    done it can, and the receiver got the original bytes."""
    a, b = sockpair
    data = bytearray(payload(4 * MIB))
    original = bytes(data)

    async def main():
        task = asyncio.ensure_future(loop.sock_sendall(a, data))
        await settle()
        assert not task.done()
        with pytest.raises(BufferError):
            data.extend(b"more")
        got = await recv_exactly(loop, b, len(original))
        await task
        return got

    assert run(loop, main()) == original
    data.extend(b"more")  # the export is released
    assert len(data) == len(original) + 4


def test_sock_sendall_sends_bytearray_in_place(loop, sockpair):
    """sock_sendall sends from the caller's bytearray, not a copy: bytes
    changed before they were sent are sent changed."""
    a, b = sockpair
    data = bytearray(4 * MIB)

    async def main():
        task = asyncio.ensure_future(loop.sock_sendall(a, data))
        await settle()
        assert not task.done()
        data[-4:] = b"LAST"  # far past what the socket buffer took
        got = await recv_exactly(loop, b, len(data))
        await task
        return got

    got = run(loop, main())
    assert got[-4:] == b"LAST"
    assert got[:-4] == bytes(len(data) - 4)


@pytest.mark.parametrize("chunk", [1, 1000, 200 * KIB])
def test_sock_sendall_many_calls_stay_ordered(loop, sockpair, chunk):
    """Back-to-back sock_sendall calls (each possibly blocking) against a
    concurrent reader deliver the concatenation in order."""
    a, b = sockpair
    data = payload(2 * MIB + 3, seed=9)

    async def send():
        for i in range(0, len(data), chunk * 97):
            await loop.sock_sendall(a, data[i:i + chunk * 97])

    async def main():
        _, got = await asyncio.gather(send(), recv_exactly(loop, b, len(data), 64 * KIB))
        return got

    assert run(loop, main()) == data


# -- cancellation ------------------------------------------------------------------


async def _cancel(task, how):
    if how == "cancel":
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        with pytest.raises(asyncio.TimeoutError):
            await task


def _start(loop, coro, how):
    if how == "cancel":
        return asyncio.ensure_future(coro)
    return asyncio.ensure_future(asyncio.wait_for(coro, 0.05))


@pytest.mark.parametrize("how", ["cancel", "wait_for"])
@pytest.mark.parametrize("n", [100, 4 * MIB])
def test_cancel_blocked_sock_recv(loop, sockpair, how, n):
    """A blocked sock_recv ended by task.cancel() or a wait_for timeout:
    CancelledError/TimeoutError, no reader left (remove_reader returns
    False), and data sent afterwards goes to the next sock_recv in full."""
    a, b = sockpair

    async def main():
        task = _start(loop, loop.sock_recv(a, n), how)
        await settle()
        assert not task.done()
        await _cancel(task, how)
        removed = loop.remove_reader(a.fileno())
        b.send(b"after cancel")
        await asyncio.sleep(0.01)  # a stale watcher would have consumed it by now
        return removed, await loop.sock_recv(a, n)

    removed, data = run(loop, main())
    assert removed is False
    assert data == b"after cancel"


@pytest.mark.parametrize("how", ["cancel", "wait_for"])
@pytest.mark.parametrize("view", [False, True], ids=["bytearray", "memoryview"])
def test_cancel_blocked_sock_recv_into(loop, sockpair, how, view):
    """A cancelled sock_recv_into leaves no reader and never writes to its
    buffer; the next call gets the data."""
    a, b = sockpair
    buf = bytearray(b"-" * 32)
    target = memoryview(buf)[8:] if view else buf

    async def main():
        task = _start(loop, loop.sock_recv_into(a, target), how)
        await settle()
        assert not task.done()
        await _cancel(task, how)
        removed = loop.remove_reader(a.fileno())
        b.send(b"payload")
        await asyncio.sleep(0.01)
        untouched = bytes(buf)
        other = bytearray(32)
        n = await loop.sock_recv_into(a, other)
        return removed, untouched, bytes(other[:n])

    removed, untouched, got = run(loop, main())
    assert removed is False
    assert untouched == b"-" * 32
    assert got == b"payload"
    if view:
        target.release()
    buf.extend(b"x")  # no export left behind


@pytest.mark.parametrize("how", ["cancel", "wait_for"])
@pytest.mark.parametrize("kind", ["bytes", "bytearray"])
def test_cancel_blocked_sock_sendall(loop, sockpair, how, kind):
    """A cancelled sock_sendall stops sending: no writer left, the peer
    receives a prefix of the data then what a later sock_sendall sends,
    and a bytearray can be resized again."""
    a, b = sockpair
    data = payload(16 * MIB, seed=1)
    arg = bytearray(data) if kind == "bytearray" else data

    async def main():
        task = _start(loop, loop.sock_sendall(a, arg), how)
        await settle()
        assert not task.done()
        await _cancel(task, how)
        removed = loop.remove_writer(a.fileno())
        got = drain(b)
        await asyncio.sleep(0.02)  # a stale watcher would send more now
        late = drain(b)
        await loop.sock_sendall(a, b"THE END")
        tail = await recv_exactly(loop, b, 7)
        return removed, got, late, tail

    removed, got, late, tail = run(loop, main())
    assert removed is False
    assert 0 < len(got) < len(data)
    assert got == data[:len(got)]
    assert late == b""
    assert tail == b"THE END"
    if kind == "bytearray":
        arg.extend(b"x")  # the cancelled call released its buffer export


def test_user_reader_replacing_blocked_sock_recv(loop, sockpair):
    """add_reader on the fd of a blocked sock_recv replaces its watcher: the
    reader gets the readiness, the sock_recv stays pending, and cancelling
    it leaves the user's reader in place."""
    a, b = sockpair
    calls = []

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(a, 100))
        await settle()
        loop.add_reader(a.fileno(), lambda: calls.append(a.recv(100)))
        b.send(b"to reader")
        await wait_until(lambda: calls)
        await settle()
        pending = not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        still_there = loop.remove_reader(a.fileno())
        return pending, still_there

    pending, still_there = run(loop, main())
    assert pending
    assert calls == [b"to reader"]
    assert still_there is True


def test_remove_reader_of_blocked_sock_recv(loop, sockpair):
    """remove_reader on the fd of a blocked sock_recv removes its watcher
    (returns True): the call then stays pending when data arrives, and the
    data stays queued for the next call."""
    a, b = sockpair

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(a, 100))
        await settle()
        removed = loop.remove_reader(a.fileno())
        b.send(b"queued")
        await asyncio.sleep(0.02)
        pending = not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return removed, pending, await loop.sock_recv(a, 100)

    assert run(loop, main()) == (True, True, b"queued")


def test_second_sock_recv_takes_over_the_fd(loop, sockpair):
    """Two sock_recv calls blocked on one socket: the second replaces the
    first's watcher and gets the data; the first stays pending until
    cancelled, and no watcher is left afterwards."""
    a, b = sockpair

    async def main():
        first = asyncio.ensure_future(loop.sock_recv(a, 100))
        await settle()
        second = asyncio.ensure_future(loop.sock_recv(a, 100))
        await settle()
        b.send(b"data")
        got = await second
        await settle()
        first_pending = not first.done()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return got, first_pending, loop.remove_reader(a.fileno())

    assert run(loop, main()) == (b"data", True, False)


# -- full duplex ------------------------------------------------------------------


@pytest.mark.parametrize("into", [False, True], ids=["recv", "recv_into"])
def test_full_duplex_on_one_socket(loop, tcp_pair, into):
    """A reader task blocked in sock_recv(_into) and a writer task blocked
    in sock_sendall on the same socket, with a peer that sends and receives
    16 MiB at once from two threads: both directions complete intact."""
    c, s = tcp_pair
    size = 16 * MIB
    out_data = bytearray(payload(size, seed=2))
    in_data = payload(size, seed=99)
    s.settimeout(TIMEOUT)
    peer_reader = PeerThread(s, slow_reader(size, 64 * KIB))
    peer_writer = PeerThread(s, lambda sock: sock.sendall(in_data))

    async def reader():
        got = bytearray()
        buf = bytearray(MIB)
        while len(got) < size:
            if into:
                n = await loop.sock_recv_into(c, buf)
                chunk = buf[:n]
            else:
                chunk = await loop.sock_recv(c, MIB)
            assert chunk
            got += chunk
        return bytes(got)

    async def main():
        r = asyncio.ensure_future(reader())
        w = asyncio.ensure_future(loop.sock_sendall(c, out_data))
        await settle()
        assert not r.done() and not w.done()
        peer_reader.start()
        peer_writer.start()
        return await asyncio.gather(r, w)

    got, sent = run(loop, main())
    peer_writer.join()
    assert sent is None
    assert got == in_data
    assert peer_reader.join() == bytes(out_data)


# -- errors --------------------------------------------------------------------------


def test_sock_recv_peer_reset_while_blocked(loop, tcp_pair):
    """The peer resets the connection (SO_LINGER 0 close) while sock_recv
    is blocked: ConnectionResetError, then b'' on the next call."""
    c, s = tcp_pair

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(c, 4 * MIB))
        await settle()
        assert not task.done()
        reset(s)
        with pytest.raises(ConnectionResetError) as info:
            await task
        return info.value.errno, await loop.sock_recv(c, 100)

    assert run(loop, main()) == (errno.ECONNRESET, b"")


def test_sock_recv_into_peer_reset_before_call(loop, tcp_pair):
    """A reset that already happened is reported by the next sock_recv_into
    at once (ConnectionResetError)."""
    c, s = tcp_pair
    reset(s)

    async def main():
        await asyncio.sleep(0.05)  # the RST reaches c
        with pytest.raises(ConnectionResetError):
            await loop.sock_recv_into(c, bytearray(10))

    run(loop, main())


def test_sock_sendall_peer_reset_while_blocked(loop, tcp_pair):
    """The peer resets the connection while sock_sendall is blocked: the
    call fails with ConnectionResetError, and no writer is left."""
    c, s = tcp_pair

    async def main():
        task = asyncio.ensure_future(loop.sock_sendall(c, payload(64 * MIB)))
        await settle()
        assert not task.done()
        reset(s)
        with pytest.raises(OSError) as info:
            await task
        return type(info.value), loop.remove_writer(c.fileno())

    exc_type, removed = run(loop, main())
    assert exc_type is ConnectionResetError
    assert removed is False


def test_sock_sendall_peer_closed_while_blocked(loop, sockpair):
    """The peer of a socketpair closes while sock_sendall is blocked:
    BrokenPipeError (no SIGPIPE kills the process)."""
    a, b = sockpair

    async def main():
        task = asyncio.ensure_future(loop.sock_sendall(a, bytearray(payload(8 * MIB))))
        await settle()
        assert not task.done()
        b.close()
        with pytest.raises(OSError) as info:
            await task
        return type(info.value)

    assert run(loop, main()) is BrokenPipeError


@pytest.mark.parametrize(
    "call, arg, expected",
    [
        (lambda loop, s, x: loop.sock_recv(s, 100), None, b"ready"),
        (lambda loop, s, x: loop.sock_recv(s, 4 * MIB), None, b"ready"),
        (lambda loop, s, x: loop.sock_recv_into(s, bytearray(10)), None, 5),
        (lambda loop, s, x: loop.sock_sendall(s, x), b"small", None),
        (lambda loop, s, x: loop.sock_sendall(s, bytearray(x)), b"small", None),
    ],
    ids=["recv", "recv-large", "recv_into", "sendall", "sendall-bytearray"],
)
def test_call_on_closed_loop(loop_factory, sockpair, call, arg, expected):
    """Stepped by hand on a closed loop, a call that can complete at once
    does; one that would block raises RuntimeError 'Event loop is closed'
    and registers nothing."""
    a, b = sockpair
    loop = loop_factory()
    loop.close()
    b.send(b"ready")
    coro = call(loop, a, arg)
    with pytest.raises(StopIteration) as info:
        coro.send(None)
    assert info.value.value == expected
    if arg is None:
        assert drain(a) == b""  # the call consumed what was queued
    else:
        assert drain(b) == b"small"
        fill(a, payload(8 * MIB))
        arg = payload(8 * MIB)
    coro = call(loop, a, arg)
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        coro.send(None)
    gc.collect()
    if loop_factory.kind == "goloop":
        assert live_sockops() == []


@pytest.mark.parametrize(
    "call",
    [
        lambda loop, s: loop.sock_recv(s, 100),
        lambda loop, s: loop.sock_recv(s, 4 * MIB),
        lambda loop, s: loop.sock_recv_into(s, bytearray(10)),
        lambda loop, s: loop.sock_recv_into(s, memoryview(bytearray(10))[2:]),
        lambda loop, s: loop.sock_sendall(s, b"data"),
        lambda loop, s: loop.sock_sendall(s, bytearray(b"data")),
        lambda loop, s: loop.sock_sendall(s, b""),
    ],
    ids=["recv", "recv-large", "recv_into", "recv_into-view", "sendall", "sendall-bytearray", "sendall-empty"],
)
def test_closed_socket_oserror(loop, call):
    """A call on a closed socket raises OSError EBADF (the socket call's
    error on fd -1)."""
    s, peer = socket.socketpair()
    s.setblocking(False)
    s.close()
    try:
        with pytest.raises(OSError) as info:
            run(loop, call(loop, s))
        assert type(info.value) is OSError
        assert info.value.errno == errno.EBADF
    finally:
        peer.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda loop, s: loop.sock_recv(s, 4 * MIB),
        lambda loop, s: loop.sock_recv_into(s, bytearray(10)),
        lambda loop, s: loop.sock_sendall(s, payload(32 * MIB)),
        lambda loop, s: loop.sock_sendall(s, bytearray(32 * MIB)),
    ],
    ids=["recv-large", "recv_into", "sendall", "sendall-bytearray"],
)
def test_transport_socket_would_block_runtime_error(loop, tcp_pair, call):
    """On a socket owned by a transport (connect_accepted_socket), a call
    that would block raises RuntimeError 'File descriptor N is used by
    transport ...' and leaves no watcher behind that steals the
    transport's readiness: the transport still receives data."""
    c, s = tcp_pair

    async def main():
        received = loop.create_future()

        class Proto(asyncio.Protocol):
            def data_received(self, data):
                if not received.done():
                    received.set_result(data)

        tr, _ = await loop.connect_accepted_socket(Proto, sock=c)
        try:
            with pytest.raises(RuntimeError, match=r"File descriptor \d+ is used by transport"):
                await asyncio.wait_for(call(loop, c), 10)
            s.send(b"hello transport")
            return await received
        finally:
            tr.close()
            await asyncio.sleep(0.01)

    assert run(loop, main()) == b"hello transport"


# -- fallbacks ---------------------------------------------------------------------


class RecordingSocket(socket.socket):
    """A socket.socket subclass whose recv/recv_into/send are observed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def recv(self, n, *args):
        self.calls.append("recv")
        return super().recv(n, *args)

    def recv_into(self, buf, *args):
        self.calls.append("recv_into")
        return super().recv_into(buf, *args)

    def send(self, data, *args):
        self.calls.append("send")
        return super().send(data, *args)


def _subclass_pair():
    a, b = socket.socketpair()
    sub = RecordingSocket(a.family, a.type, a.proto, fileno=a.detach())
    sub.setblocking(False)
    b.setblocking(False)
    return sub, b


def test_socket_subclass_methods_are_used(loop, loop_kind):
    """For a socket.socket subclass the calls go through its own recv,
    recv_into and send (blocked or not), with the usual results."""
    sub, b = _subclass_pair()
    data = payload(4 * MIB)
    buf = bytearray(8)
    gc.collect()
    ops_before = len(live_sockops())
    with sub, b:

        async def main():
            t = asyncio.ensure_future(loop.sock_recv(sub, 100))
            await settle()
            assert not t.done()
            if loop_kind == "goloop":
                assert len(live_sockops()) == ops_before  # not the C path
            b.send(b"first")
            first = await t
            b.send(b"second!!")
            n = await loop.sock_recv_into(sub, buf)
            sender = asyncio.ensure_future(loop.sock_sendall(sub, data))
            got = await recv_exactly(loop, b, len(data))
            await sender
            return first, n, got

        first, n, got = run(loop, main())
        assert first == b"first"
        assert (n, bytes(buf)) == (8, b"second!!")
        assert got == data
        assert {"recv", "recv_into", "send"} <= set(sub.calls)
        assert sub.calls.count("recv") >= 2  # the try, and the retry when ready


class Size(enum.IntEnum):
    FOUR = 4


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, b""),
        (True, b"0"),
        (Size.FOUR, b"0123"),
        (-5, ValueError),
        (-(2 ** 70), OverflowError),
        (2 ** 70, OverflowError),
        (4.0, TypeError),
        ("4", TypeError),
        (None, TypeError),
    ],
    ids=["zero", "bool", "int-subclass", "negative", "huge-negative", "huge", "float", "str", "none"],
)
def test_sock_recv_odd_sizes(loop, sockpair, n, expected):
    """n that C does not take (0, negatives, non-int, int subclasses, out
    of range) gives the socket's own answer, and consumes nothing else."""
    a, b = sockpair
    b.send(b"0123456789")

    async def main():
        if isinstance(expected, type):
            with pytest.raises(expected):
                await loop.sock_recv(a, n)
            got = b""
        else:
            got = await loop.sock_recv(a, n)
        return got, await loop.sock_recv(a, 100)

    got, rest = run(loop, main())
    assert got == (b"" if isinstance(expected, type) else expected)
    assert got + rest == b"0123456789"


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda loop, s: loop.sock_recv(s, 0), b""),
        (lambda loop, s: loop.sock_recv_into(s, bytearray()), 0),
        (lambda loop, s: loop.sock_recv_into(s, memoryview(bytearray(8))[3:3]), 0),
    ],
    ids=["recv-0", "recv_into-empty-bytearray", "recv_into-empty-memoryview"],
)
def test_zero_size_read_does_not_wait(loop, sockpair, call, expected):
    """Asking for 0 bytes with nothing queued returns at once (the socket
    module does no recv for 0 bytes): the call completes in its first step
    instead of waiting for data, and consumes nothing."""
    a, b = sockpair

    async def main():
        task = asyncio.ensure_future(call(loop, a))
        await settle()
        done = task.done()
        if not done:
            task.cancel()
        result = await asyncio.gather(task, return_exceptions=True)
        b.send(b"later")
        return done, result[0], await loop.sock_recv(a, 100)

    assert run(loop, main()) == (True, expected, b"later")


def test_sock_sendall_odd_data(loop, sockpair):
    """Data C does not take (bytes subclass, array, memoryview slice) is
    sent in full by the fallback; a non-buffer raises TypeError."""
    a, b = sockpair
    Bytes = type("Bytes", (bytes,), {})

    async def main():
        await loop.sock_sendall(a, Bytes(b"sub|"))
        await loop.sock_sendall(a, array.array("B", b"arr|"))
        await loop.sock_sendall(a, memoryview(b"xxview|xx")[2:7])
        await loop.sock_sendall(a, memoryview(bytearray(b"ba|")))
        with pytest.raises(TypeError):
            await loop.sock_sendall(a, 42)
        return await recv_exactly(loop, b, 16)

    assert run(loop, main()) == b"sub|arr|view|ba|"


def test_debug_mode_nonblocking_socket(loop, loop_kind, sockpair):
    """In debug mode (goloop's Python path) blocked sock_recv, sock_recv_into
    and sock_sendall on a non-blocking socket still complete normally."""
    a, b = sockpair
    loop.set_debug(True)
    data = payload(4 * MIB)
    buf = bytearray(5)
    gc.collect()
    ops_before = len(live_sockops())

    async def main():
        t1 = asyncio.ensure_future(loop.sock_recv(a, 100))
        t2 = asyncio.ensure_future(loop.sock_recv_into(b, buf))
        await settle()
        assert not t1.done() and not t2.done()
        if loop_kind == "goloop":
            assert len(live_sockops()) == ops_before  # not the C path
        b.send(b"to a")
        a.send(b"to b!")
        r1, r2 = await t1, await t2
        sender = asyncio.ensure_future(loop.sock_sendall(a, data))
        got = await recv_exactly(loop, b, len(data))
        await sender
        return r1, r2, got

    r1, r2, got = run(loop, main())
    assert (r1, r2, bytes(buf)) == (b"to a", 5, b"to b!")
    assert got == data


_BLOCKING_SNIPPETS = {
    "recv": """
        import socket
        loop = new_loop()
        a, b = socket.socketpair()
        assert a.gettimeout() is None
        def feed():
            time.sleep(0.2)
            b.send(b"hello")
        threading.Thread(target=feed, daemon=True).start()
        print(loop.run_until_complete(loop.sock_recv(a, 100)))
        loop.close()
    """,
    "sendall": """
        import socket
        loop = new_loop()
        a, b = socket.socketpair()
        assert a.gettimeout() is None
        got = bytearray()
        def drain():
            time.sleep(0.2)
            while len(got) < 4 << 20:
                got.extend(b.recv(1 << 20))
        t = threading.Thread(target=drain, daemon=True)
        t.start()
        loop.run_until_complete(loop.sock_sendall(a, b"y" * (4 << 20)))
        t.join()
        print(len(got))
        loop.close()
    """,
    "recv-signal": """
        import signal, socket
        loop = new_loop()
        a, b = socket.socketpair()
        class Alarm(Exception):
            pass
        def on_alarm(signum, frame):
            raise Alarm()
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        try:
            loop.run_until_complete(loop.sock_recv(a, 100))
        except Alarm:
            print("interrupted")
        loop.close()
    """,
}


@pytest.mark.parametrize("call", list(_BLOCKING_SNIPPETS))
def test_blocking_socket_non_debug_peer_thread(run_in_subprocess, call):
    """Outside debug mode asyncio makes the socket call even on a blocking
    socket: it blocks the loop's thread until a peer thread sends (recv) or
    reads (sendall), or a signal handler raises. The peer thread must be
    able to run meanwhile (the call must not block holding the GIL), and a
    signal must interrupt the call (its handler's exception propagates)."""
    proc = run_in_subprocess(_BLOCKING_SNIPPETS[call], timeout=20)
    assert proc.returncode == 0, proc
    expected = {"recv": ["b'hello'"], "sendall": [str(4 << 20)], "recv-signal": ["interrupted"]}
    assert proc.stdout.split() == expected[call]


# -- leaks ---------------------------------------------------------------------------


def test_no_leak_after_many_blocked_calls(loop, loop_kind):
    """2000 blocked-then-completed sock_recv and sock_recv_into calls and 300
    blocked sock_sendall calls leave no fd, no SockOp, no SockFuture, no
    socket and no buffer reference behind."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    buf = bytearray(8)
    view = memoryview(buf)[2:6]
    chunk = b"z" * (256 * KIB)

    async def main():
        for i in range(2000):
            t = asyncio.ensure_future(loop.sock_recv(a, 64 if i % 2 else 2 * MIB))
            await asyncio.sleep(0)
            assert not t.done()
            b.send(b"%d" % i)
            assert await t == b"%d" % i
        for i in range(2000):
            t = asyncio.ensure_future(loop.sock_recv_into(a, buf if i % 2 else view))
            await asyncio.sleep(0)
            assert not t.done()
            b.send(b"abcdefgh")
            assert await t == (8 if i % 2 else 4)
            drain(a)
        for i in range(300):
            t = asyncio.ensure_future(loop.sock_sendall(a, chunk if i % 2 else bytearray(chunk)))
            await asyncio.sleep(0)
            assert not t.done()
            assert await recv_exactly(loop, b, len(chunk)) == chunk
            await t

    run(loop, asyncio.sleep(0))  # anything a first run opens is not a leak
    gc.collect()
    fds_before = open_sockets() - 2  # a and b are closed at the end
    refs_before = (sys.getrefcount(buf), sys.getrefcount(view))
    run(loop, main())
    gc.collect()
    if loop_kind == "goloop":
        assert live_sockops() == []
        assert live_sockfutures() == []
    assert (sys.getrefcount(buf), sys.getrefcount(view)) == refs_before
    view.release()
    buf.extend(b"resizable")  # no export left
    wa, wb = weakref.ref(a), weakref.ref(b)
    a.close()
    b.close()
    a = b = None  # drops the closures' references too
    gc.collect()
    assert wa() is None and wb() is None
    assert open_sockets() == fds_before


@pytest.mark.parametrize("call", ["recv", "recv_into", "sendall"])
def test_close_loop_with_pending_call(loop_factory, call):
    """A loop closed while a sock_* call is still blocked (its task never
    finishes) closes cleanly; once the task is gone nothing of the call is
    left (no SockOp, socket and buffer released) and data sent later stays
    in the socket."""
    gc.collect()
    fds_before = open_sockets()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    buf = bytearray(payload(8 * MIB)) if call == "sendall" else bytearray(16)
    contexts = []
    loop = loop_factory()
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    coro = {"recv": lambda: loop.sock_recv(a, 100),
            "recv_into": lambda: loop.sock_recv_into(a, buf),
            "sendall": lambda: loop.sock_sendall(a, buf)}[call]()
    task = loop.create_task(coro)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert not task.done()
    loop.close()
    assert loop.is_closed()
    loop.close()  # idempotent
    if call == "sendall":
        b.setblocking(True)
        b.settimeout(TIMEOUT)
        got = b.recv(100)
        assert got and payload(8 * MIB).startswith(got)
        b.setblocking(False)
        drain(b)
    else:
        b.send(b"after close")
        assert a.recv(100) == b"after close"
    del task, coro
    gc.collect()
    messages = [ctx.get("message") for ctx in contexts]
    contexts.clear()  # a context holds the destroyed task
    gc.collect()
    assert messages in ([], ["Task was destroyed but it is pending!"]), messages
    if loop_factory.kind == "goloop":
        assert live_sockops() == []
    buf.extend(b"resizable")  # no buffer export left
    wa = weakref.ref(a)
    a.close()
    b.close()
    a = b = None
    gc.collect()
    assert wa() is None
    loop = None
    gc.collect()
    assert open_sockets() == fds_before


def test_socket_with_timeout_non_debug(loop, loop_kind):
    """An intended difference (README, "Where goloop differs"): outside
    debug mode asyncio calls recv on a socket with a timeout, so the loop
    stands still until the socket's timeout raises TimeoutError; goloop
    never blocks the loop: it waits for readiness, other callbacks run
    meanwhile, and the data that arrives after the socket's timeout is
    returned."""
    a, b = socket.socketpair()
    a.settimeout(0.05)
    ticks = []

    async def main():
        async def ticker():
            while True:
                ticks.append(None)
                await asyncio.sleep(0.01)

        tk = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        ticks.clear()
        feeder = threading.Timer(0.3, b.send, (b"late",))
        feeder.start()
        try:
            return await loop.sock_recv(a, 100)
        except OSError as exc:
            return exc
        finally:
            feeder.join()
            tk.cancel()

    with a, b:
        r = run(loop, main())
    if loop_kind == "goloop":
        assert r == b"late"
        assert ticks, "the loop ran other callbacks while sock_recv waited"
    else:
        assert isinstance(r, TimeoutError), r
        assert not ticks, "asyncio's loop stood still in the blocking recv"


# -- what a sock_* call returns: an awaitable asyncio takes for a coroutine ----


@pytest.mark.parametrize("call", ["recv", "recv_into", "sendall"])
def test_sock_call_is_a_coroutine_to_asyncio(loop, call):
    """loop.sock_recv(...) and friends give what asyncio.iscoroutine()
    accepts; create_task() and ensure_future() run it; its result is the
    call's."""
    a, b = socket.socketpair()
    a.setblocking(False)
    buf = bytearray(16)
    with a, b:
        make = {"recv": lambda: loop.sock_recv(a, 100),
                "recv_into": lambda: loop.sock_recv_into(a, buf),
                "sendall": lambda: loop.sock_sendall(a, b"hello")}[call]
        coro = make()
        assert asyncio.iscoroutine(coro)
        coro.close()
        b.send(b"hello")
        task = loop.create_task(make())
        result = loop.run_until_complete(task)
        if call == "recv":
            assert result == b"hello"
        elif call == "recv_into":
            assert result == 5 and buf[:5] == b"hello"
        else:
            assert result is None and b.recv(100) == b"hello"
        b.send(b"again")
        fut = asyncio.ensure_future(make(), loop=loop)
        loop.run_until_complete(fut)


def test_sock_call_does_nothing_until_awaited(loop):
    """A sock_recv call that is never awaited reads nothing (as a coroutine
    that never runs): the data stays for the next call."""
    a, b = socket.socketpair()
    a.setblocking(False)
    with a, b:
        b.send(b"keep me")
        unawaited = loop.sock_recv(a, 100)
        unawaited.close()
        del unawaited
        assert loop.run_until_complete(loop.sock_recv(a, 100)) == b"keep me"


def test_throw_into_a_blocked_call_leaves_the_poller(loop, loop_kind):
    """An exception thrown into a blocked sock_recv (what cancelling the
    awaiting task does) surfaces there; the socket's next call gets the
    data that arrives afterwards, and nothing of the first call remains."""
    a, b = socket.socketpair()
    a.setblocking(False)

    async def main():
        t = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0)
        assert not t.done()
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        b.send(b"later")
        return await loop.sock_recv(a, 100)

    with a, b:
        assert loop.run_until_complete(main()) == b"later"
    gc.collect()
    if loop_kind == "goloop":
        assert live_sockops() == []


def test_awaited_call_cannot_be_reused(loop):
    """Awaiting a finished call again raises RuntimeError, as a finished
    coroutine does."""
    a, b = socket.socketpair()
    a.setblocking(False)

    async def main():
        coro = loop.sock_sendall(a, b"x")
        await coro
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            await coro

    with a, b:
        loop.run_until_complete(main())
