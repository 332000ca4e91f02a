"""No leaks across the whole API: memory blocks, file descriptors, threads.

Each workload below opens and closes what it uses (connections, servers,
sockets, children, handles) and is run on one loop over and over. After a
warm-up (first-use caches, free lists, lazily imported modules), the
interpreter's allocated blocks (``sys.getallocatedblocks``), open file
descriptors and threads must stop growing: a reference leaked in C on
every read, callback or connection shows as at least one block per unit of
work in *every* batch of runs, while the interpreter's own noise (dict
resizes, free lists settling) does not repeat batch after batch.

The workloads keep payloads small so that what they allocate comes from
the block allocator that ``getallocatedblocks`` counts. Every test runs on
asyncio too: the reference must pass the same check, which shows that the
bound is not tighter than a leak-free loop can meet.
"""

import asyncio
import gc
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

import pytest
from tests.io_helpers import _collect_garbage, fd_table, run  # noqa: F401

BATCHES = 3  # a leak grows every batch; noise does not
REPS = 3  # workload runs per batch


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def settle():
    """Drop what is garbage or cached between batches."""
    for _ in range(3):
        gc.collect()
    sys._clear_type_cache()


def batch_growth(loop, workload, batches=BATCHES, reps=REPS):
    """Run workload `reps` times per batch, after two warm-up runs; the
    growth of (blocks, fds, threads) over each batch."""
    for _ in range(2):
        run(loop, workload(loop))
    settle()
    out = []
    for _ in range(batches):
        before = (sys.getallocatedblocks(), open_fds(), threading.active_count())
        for _ in range(reps):
            run(loop, workload(loop))
        settle()
        after = (sys.getallocatedblocks(), open_fds(), threading.active_count())
        out.append(tuple(a - b for a, b in zip(after, before)))
    return out


def check_no_leak(loop, workload, units):
    """Fail if, in every batch, blocks grew by at least half a block per
    unit of work, or fds or threads grew at all. `units`: how many
    operations one workload run does whose leak this is meant to catch
    (round trips, connections, callbacks). "Every batch" keeps lazily
    started threads (an executor grows to its size on demand) from
    counting as a leak."""
    growth = batch_growth(loop, workload)
    blocks, fds, threads = ([g[i] for g in growth] for i in range(3))
    bound = units * REPS // 2
    assert min(blocks) < bound, (
        f"allocated blocks grew by {blocks} over {BATCHES} batches of {REPS} runs "
        f"({units} units each): a leak of about {min(blocks) / (units * REPS):.2f} blocks per unit"
    )
    assert min(fds) <= 0, f"open fds grew by {fds} per batch"
    assert min(threads) <= 0, f"threads grew by {threads} per batch"


# -- scheduling -----------------------------------------------------------------


async def callbacks(loop):
    """call_soon, call_later (run and cancelled), call_at, threadsafe, and
    handles with arguments and a context."""
    done = loop.create_future()
    hits = []
    n = 200
    for i in range(n):
        loop.call_soon(hits.append, i)
        loop.call_later(3600, hits.append, i).cancel()
        loop.call_at(loop.time(), hits.append, i)
        loop.call_soon_threadsafe(hits.append, i)
    loop.call_later(0.001, done.set_result, None)
    await done
    assert len(hits) == 3 * n


async def tasks(loop):
    """Tasks finishing, failing and cancelled; gather; wait_for; sleep."""

    async def ok(i):
        await asyncio.sleep(0)
        return i

    async def fail():
        await asyncio.sleep(0)
        raise ValueError("x")

    async def forever():
        await asyncio.sleep(3600)

    assert await asyncio.gather(*(ok(i) for i in range(100))) == list(range(100))
    ts = [loop.create_task(fail()) for _ in range(50)]
    assert all(isinstance(r, ValueError) for r in await asyncio.gather(*ts, return_exceptions=True))
    ts = [loop.create_task(forever()) for _ in range(50)]
    await asyncio.sleep(0)
    for t in ts:
        t.cancel()
    await asyncio.gather(*ts, return_exceptions=True)
    for _ in range(50):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(forever(), 0)


async def executor(loop):
    """run_in_executor on the default executor."""
    rs = await asyncio.gather(*(loop.run_in_executor(None, pow, i, 2) for i in range(50)))
    assert rs == [i * i for i in range(50)]


async def readers(loop):
    """add_reader/add_writer firing once, then removed."""
    a, b = socket.socketpair()
    try:
        for i in range(100):
            fut = loop.create_future()
            loop.add_reader(a.fileno(), fut.set_result, i)
            b.send(b"x")
            assert await fut == i
            assert loop.remove_reader(a.fileno())
            a.recv(1)
            fut = loop.create_future()
            loop.add_writer(a.fileno(), fut.set_result, i)
            assert await fut == i
            assert loop.remove_writer(a.fileno())
    finally:
        a.close()
        b.close()


async def signal_handlers(loop):
    """add_signal_handler fired by a real signal, then removed."""
    for i in range(50):
        fut = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, fut.set_result, i)
        os.kill(os.getpid(), signal.SIGUSR1)
        assert await fut == i
        assert loop.remove_signal_handler(signal.SIGUSR1)


# -- streams and protocols ---------------------------------------------------------


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class BufferedEcho(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = bytearray(512)

    def get_buffer(self, hint):
        return self.buf

    def buffer_updated(self, n):
        self.transport.write(bytes(self.buf[:n]))


CONNS = 10
TRIPS = 10


async def echo_clients(host, port, path=None, ssl_ctx=None):
    """CONNS stream clients doing TRIPS round trips each, then closing."""

    async def one(i):
        if path is not None:
            r, w = await asyncio.open_unix_connection(path)
        else:
            r, w = await asyncio.open_connection(host, port, ssl=ssl_ctx,
                                                 server_hostname="localhost" if ssl_ctx else None)
        for j in range(TRIPS):
            msg = b"%d:%d;" % (i, j)
            w.write(msg)
            await w.drain()
            assert await r.readexactly(len(msg)) == msg
        w.close()
        await w.wait_closed()

    await asyncio.gather(*(one(i) for i in range(CONNS)))


async def tcp_protocol_echo(loop):
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await echo_clients("127.0.0.1", port)
    server.close()
    await server.wait_closed()


async def tcp_buffered_echo(loop):
    server = await loop.create_server(BufferedEcho, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await echo_clients("127.0.0.1", port)
    server.close()
    await server.wait_closed()


async def tcp_streams_echo(loop):
    async def handle(r, w):
        while data := await r.read(100):
            w.write(data)
            await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await echo_clients("127.0.0.1", port)
    server.close()
    await server.wait_closed()


async def unix_echo(loop):
    with tempfile.TemporaryDirectory(prefix="gl") as d:
        path = os.path.join(d, "s")
        server = await loop.create_unix_server(Echo, path)
        await echo_clients(None, None, path=path)
        server.close()
        await server.wait_closed()


def _tls_contexts():
    d = tempfile.mkdtemp(prefix="gl")
    cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=cert)
    shutil.rmtree(d)
    return server, client


_TLS = []


async def tls_echo(loop):
    if not _TLS:
        _TLS.append(_tls_contexts())
    server_ctx, client_ctx = _TLS[0]
    server = await loop.create_server(Echo, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    await echo_clients("127.0.0.1", port, ssl_ctx=client_ctx)
    server.close()
    await server.wait_closed()


async def peer_resets(loop):
    """Connections the peer resets (RST) while the transport reads and
    writes, and connections refused."""
    lost = []

    class Lost(Echo):
        def connection_lost(self, exc):
            lost.append(exc)

    server = await loop.create_server(Lost, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for _ in range(CONNS):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.sendall(b"x" * 100)
        s.close()  # linger 0: RST
    while len(lost) < CONNS:
        await asyncio.sleep(0.001)
    server.close()
    await server.wait_closed()
    for _ in range(CONNS):
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)


async def flow_control(loop):
    """Writes the peer does not read: the transport buffers them and pauses
    the protocol, then is aborted with data still buffered; reading paused
    and resumed on the way."""
    events = []

    class Slow(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def pause_writing(self):
            events.append("pause")

        def resume_writing(self):
            events.append("resume")

    # The peer is never accepted: the kernel queues what it is sent until
    # its receive buffer is full, and no loop reads it.
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited by the peers
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(CONNS)
    for _ in range(CONNS):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.connect(lsock.getsockname())
        tr, _ = await loop.create_connection(Slow, sock=sock)
        tr.set_write_buffer_limits(high=8192)
        tr.pause_reading()
        tr.resume_reading()
        chunk = b"x" * 2000
        while "pause" not in events:
            tr.write(chunk)
            await asyncio.sleep(0)
        tr.abort()
        events.clear()
    lsock.close()


async def callback_errors(loop):
    """Callbacks and protocol methods that raise go to the exception
    handler, which keeps nothing."""
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(type(ctx.get("exception"))))
    try:
        for i in range(100):
            loop.call_soon(int, "not a number")
        await asyncio.sleep(0)

        class Raises(asyncio.Protocol):
            def data_received(self, data):
                raise RuntimeError("boom")

        server = await loop.create_server(Raises, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        for _ in range(CONNS):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"x")
            assert await r.read() == b""  # the transport is closed on the error
            w.close()
        server.close()
        await server.wait_closed()
        while len(seen) < 100 + CONNS:
            await asyncio.sleep(0.001)
        assert seen.count(ValueError) == 100 and seen.count(RuntimeError) == CONNS
    finally:
        loop.set_exception_handler(None)


async def sendfile(loop):
    """loop.sendfile of a small file over TCP."""
    got = []

    class Sink(asyncio.Protocol):
        def data_received(self, data):
            got.append(data)

    with tempfile.TemporaryFile() as f:
        f.write(b"0123456789" * 30)
        f.flush()
        server = await loop.create_server(Sink, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        for _ in range(CONNS):
            tr, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
            f.seek(0)
            assert await loop.sendfile(tr, f) == 300
            tr.close()
        while sum(map(len, got)) < 300 * CONNS:
            await asyncio.sleep(0.001)
        server.close()
        await server.wait_closed()


# -- sock_* methods ---------------------------------------------------------------


async def sock_methods(loop):
    """sock_accept/sock_connect, sock_recv and sock_recv_into both ready and
    blocked, sock_sendall, a cancelled sock_recv, and calls on a closed
    socket."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    lsock.setblocking(False)
    buf = bytearray(64)
    try:
        for i in range(CONNS):
            c = socket.socket()
            c.setblocking(False)
            acc = loop.create_task(loop.sock_accept(lsock))
            await loop.sock_connect(c, lsock.getsockname())
            s, _ = await acc
            s.setblocking(False)
            for j in range(TRIPS):
                pending = loop.create_task(loop.sock_recv(s, 64))
                await asyncio.sleep(0)
                await loop.sock_sendall(c, b"%d" % j)
                assert await pending == b"%d" % j
                await loop.sock_sendall(s, b"ab")
                await asyncio.sleep(0.0005)
                assert await loop.sock_recv_into(c, buf) == 2
            t = loop.create_task(loop.sock_recv(s, 64))
            await asyncio.sleep(0)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            s.close()
            c.close()
            for call in (lambda: loop.sock_recv(c, 100), lambda: loop.sock_recv(c, 1 << 20),
                         lambda: loop.sock_recv_into(c, buf), lambda: loop.sock_sendall(c, b"x")):
                with pytest.raises(OSError):
                    await call()
    finally:
        lsock.close()


# -- datagrams, pipes, children, DNS --------------------------------------------------


async def datagrams(loop):
    got = []

    class Rx(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            got.append(data)

    rx, _ = await loop.create_datagram_endpoint(Rx, local_addr=("127.0.0.1", 0))
    addr = rx.get_extra_info("sockname")
    tx, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=addr)
    for i in range(100):
        tx.sendto(b"%d" % i)
        if i % 10 == 9:
            while len(got) <= i:
                await asyncio.sleep(0.0005)
    tx.close()
    rx.close()
    await asyncio.sleep(0)


async def pipes(loop):
    for _ in range(5):
        r, w = os.pipe()
        reader = asyncio.StreamReader()
        rt, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(r, "rb", 0))
        wt, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(w, "wb", 0))
        for i in range(20):
            wt.write(b"%02d" % i)
            assert await reader.readexactly(2) == b"%02d" % i
        wt.close()
        assert await reader.read() == b""
        rt.close()
    await asyncio.sleep(0)


async def children(loop):
    for i in range(3):
        p = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read())",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out, _ = await p.communicate(b"%d" % i)
        assert out == b"%d" % i and p.returncode == 0


async def resolver(loop):
    for _ in range(20):
        infos = await loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
        assert infos[0][4] == ("127.0.0.1", 80)
        assert (await loop.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)) == ("127.0.0.1", "80")


# -- the tests ------------------------------------------------------------------------

WORKLOADS = {
    # name: (workload, units per run)
    "callbacks": (callbacks, 800),
    "tasks": (tasks, 250),
    "executor": (executor, 50),
    "readers": (readers, 200),
    "signal_handlers": (signal_handlers, 50),
    "tcp_protocol_echo": (tcp_protocol_echo, CONNS * TRIPS),
    "tcp_buffered_echo": (tcp_buffered_echo, CONNS * TRIPS),
    "tcp_streams_echo": (tcp_streams_echo, CONNS * TRIPS),
    "unix_echo": (unix_echo, CONNS * TRIPS),
    "tls_echo": (tls_echo, CONNS * TRIPS),
    "peer_resets": (peer_resets, 2 * CONNS),
    "flow_control": (flow_control, CONNS),
    "callback_errors": (callback_errors, 100 + CONNS),
    "sendfile": (sendfile, CONNS),
    "sock_methods": (sock_methods, CONNS * TRIPS),
    "datagrams": (datagrams, 100),
    "pipes": (pipes, 100),
    "children": (children, 3),
    "resolver": (resolver, 20),
}


def test_check_catches_leaks(loop):
    """The check fails on a workload that keeps a reference per unit, one
    that keeps an fd per run, and one that leaves a thread per run."""
    kept = []

    async def keeps_objects(loop):
        kept.extend(object() for _ in range(200))

    async def keeps_fds(loop):
        kept.append(socket.socket())

    async def keeps_threads(loop):
        stop = threading.Event()
        kept.append(stop)
        threading.Thread(target=stop.wait, daemon=True).start()

    try:
        # One block per unit, over enough units that the allocator's noise
        # (free lists filling, a collection of older garbage: some tens of
        # blocks in a batch) cannot hide it. (A thread also keeps ~40
        # blocks: a unit count that tolerates them.)
        for workload, units, what in ((keeps_objects, 200, "allocated blocks"),
                                      (keeps_fds, 10, "open fds"), (keeps_threads, 1000, "threads")):
            with pytest.raises(AssertionError, match=what):
                check_no_leak(loop, workload, units)
    finally:
        for k in kept:
            if isinstance(k, socket.socket):
                k.close()
            elif isinstance(k, threading.Event):
                k.set()


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_no_leak(loop, name):
    if name == "signal_handlers" and threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers need the main thread")
    workload, units = WORKLOADS[name]
    check_no_leak(loop, workload, units)


@pytest.mark.parametrize("pending", ["timer", "soon", "reader", "writer"])
def test_unclosed_loop_is_collected(loop_factory, pending):
    """A loop dropped without close() while it still has a timer or an fd
    watcher (each holding a reference back to the loop) is collected: its
    __del__ warns and closes it, and its fds are released, as asyncio's."""
    import warnings
    import weakref

    warm = loop_factory()  # what a first loop opens once per process
    warm.close()
    a, b = socket.socketpair()
    with a, b:
        settle()
        before = fd_table()
        lp = loop_factory()
        if pending == "timer":
            lp.call_later(3600, print)
        elif pending == "soon":
            lp.call_soon(print)
        elif pending == "reader":
            lp.add_reader(a.fileno(), print)
        else:
            lp.add_writer(a.fileno(), print)
        # The loop's own fds (poller, wake-up fds); compared by what they
        # are, so an fd another part of the process opens meanwhile (the
        # Go runtime's poller) is not taken for the loop's.
        own = {fd: t for fd, t in fd_table().items() if before.get(fd) != t}
        assert own, "the loop opened no fd?"
        ref = weakref.ref(lp)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del lp
            settle()
        messages = [str(w.message) for w in caught]
        # A recorded warning keeps its source (the loop) alive; since 3.15
        # the collector leaves the weak reference of an object resurrected
        # that way in place.
        del caught
        settle()
        assert ref() is None, "the loop was not collected"
        assert any("unclosed event loop" in m for m in messages), messages
        now = fd_table()
        left = {fd: t for fd, t in own.items() if now.get(fd) == t}
        assert not left, f"the collected loop's fds are still open: {left}"
