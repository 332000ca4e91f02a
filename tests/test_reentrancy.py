"""User code that runs in the middle of goloop's C paths and changes what
they work on: a protocol replaced from get_buffer()/data_received(), a
transport closed from inside writelines()' iterator, a handle cancelled
from the __eq__ that compares it, writes after the connection is gone,
exception handlers that raise KeyboardInterrupt. Each must behave as on
asyncio (every test runs on both loops), and never touch freed memory or a
file descriptor that now belongs to another socket.
"""

import asyncio
import socket
import sys

import pytest
from tests.conftest import run_snippet
from tests.io_helpers import Recorder, _collect_garbage, run  # noqa: F401


def test_write_after_connection_lost_reaches_no_other_socket(loop):
    """close() with data buffered; once drained connection_lost runs and
    the fd is closed. The kernel hands the same fd number to the next
    socket: a late write() must not land there, and abort() is quiet."""
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setblocking(False)
    old_fd = a.fileno()

    async def main():
        proto = Recorder()
        lost = proto.lost
        tr, _ = await loop.create_connection(lambda: proto, sock=a)
        tr.write(b"x" * 1_000_000)
        assert tr.get_write_buffer_size() > 0
        tr.close()
        got = 0
        while not lost.done():
            try:
                got += len(b.recv(1 << 20))
            except BlockingIOError:
                await asyncio.sleep(0.001)
        assert await lost is None
        while chunk := b.recv(1 << 20):  # the rest, up to the EOF
            got += len(chunk)
        c, d = socket.socketpair()
        with c, d:
            assert old_fd in (c.fileno(), d.fileno())
            try:
                tr.write(b"LEAKED")
                tr.abort()
            except AttributeError:
                pass  # asyncio's transport has no socket (nor loop) left
            c.setblocking(False)
            d.setblocking(False)
            for s in (c, d):
                with pytest.raises(BlockingIOError):
                    s.recv(100)
        return got

    with b:
        got = run(loop, main())
    assert got == 1_000_000  # what was buffered before close() still arrives


def test_writelines_with_a_bad_item_writes_nothing(loop, loop_kind):
    """writelines() is all or nothing; the transport keeps working."""
    if loop_kind == "asyncio" and sys.version_info >= (3, 15):
        pytest.skip("asyncio 3.15 keeps the items before the bad one buffered "
                    "(goloop stays all or nothing, see the README)")
    a, b = socket.socketpair()
    b.settimeout(10)

    async def main():
        tr, _ = await loop.create_connection(asyncio.Protocol, sock=a)
        with pytest.raises(TypeError):
            tr.writelines([b"hello", 42])
        assert tr.get_write_buffer_size() == 0
        tr.write(b" world")
        await asyncio.sleep(0)
        data = await loop.run_in_executor(None, b.recv, 100)
        tr.abort()
        return data

    with b:
        assert run(loop, main()) == b" world"


def test_writelines_iterator_that_closes_the_transport(loop, loop_kind):
    """An iterator that calls close() in the middle: connection_lost still
    comes, the transport ends closed."""
    if loop_kind == "asyncio" and sys.version_info >= (3, 12):
        pytest.skip("asyncio 3.12+'s writelines fails here (TypeError from its _write_ready)")
    a, b = socket.socketpair()

    async def main():
        proto = Recorder()
        lost = proto.lost
        tr, _ = await loop.create_connection(lambda: proto, sock=a)

        def items():
            yield b"a"
            tr.close()
            yield b"b"

        tr.writelines(items())
        assert await asyncio.wait_for(lost, 10) is None
        assert tr.is_closing()

    with b:
        run(loop, main())


def test_get_buffer_replaces_the_protocol(loop):
    """get_buffer() switches to a new protocol and drops the last reference
    to itself: the new protocol's buffer_updated gets the bytes."""
    a, b = socket.socketpair()
    events = []

    class New(asyncio.BufferedProtocol):
        def get_buffer(self, n):
            return bytearray(100)

        def buffer_updated(self, n):
            events.append(("new", n))

    class Old(asyncio.BufferedProtocol):
        def __init__(self):
            self.buf = bytearray(100)

        def connection_made(self, tr):
            self.tr = tr

        def get_buffer(self, n):
            buf, tr = self.buf, self.tr
            del self.tr, self.buf
            tr.set_protocol(New())
            return buf

        def buffer_updated(self, n):
            events.append(("old", n))

        def __del__(self):
            events.append("old freed")

    async def main():
        tr, _ = await loop.create_connection(Old, sock=a)
        b.send(b"hi")
        while not any(e[0] == "new" for e in events if isinstance(e, tuple)):
            await asyncio.sleep(0.001)
        tr.abort()

    with b:
        run(loop, main())
    assert ("new", 2) in events and "old freed" in events
    assert not any(e[0] == "old" for e in events if isinstance(e, tuple))


def test_data_received_replaces_the_protocol(loop):
    """data_received() switches protocols and drops its own last reference;
    the next data goes to the new one."""
    a, b = socket.socketpair()
    got = []

    class New(asyncio.Protocol):
        def data_received(self, data):
            got.append(("new", data))

    class Old(asyncio.Protocol):
        def connection_made(self, tr):
            self.tr = tr

        def data_received(self, data):
            got.append(("old", data))
            tr = self.tr
            del self.tr
            tr.set_protocol(New())

    async def main():
        tr, proto = await loop.create_connection(Old, sock=a)
        del proto
        b.send(b"1")
        while len(got) < 1:
            await asyncio.sleep(0.001)
        b.send(b"2")
        while len(got) < 2:
            await asyncio.sleep(0.001)
        tr.abort()

    with b:
        run(loop, main())
    assert got == [("old", b"1"), ("new", b"2")]


def test_timer_handle_eq_that_cancels(loop):
    """Comparing two TimerHandles whose argument's __eq__ cancels one of
    them (dropping its callback and arguments mid-comparison)."""
    handles = []

    class Bomb:
        def __eq__(self, other):
            handles[0].cancel()
            return True

        __hash__ = object.__hash__

    class Victim:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    def cb(*a):
        pass

    when = loop.time() + 3600
    handles.append(loop.call_at(when, cb, Bomb(), Victim()))
    handles.append(loop.call_at(when, cb, Bomb(), Victim()))
    assert (handles[0] == handles[1]) in (True, False)  # and no crash
    assert handles[0].cancelled()
    handles[1].cancel()


@pytest.mark.parametrize("offset", [2**32, 2**31])
def test_add_reader_fd_beyond_c_int(loop, offset):
    """An fd that does not fit a C int is an OverflowError, not another fd
    after truncation."""
    a, b = socket.socketpair()
    with a, b:
        fd = a.fileno() + offset
        with pytest.raises(OverflowError):
            loop.add_reader(fd, print)
        with pytest.raises(OverflowError):
            loop.add_writer(fd, print)


def test_exception_handler_keyboard_interrupt_from_protocol_error(loop_kind):
    """data_received raises, and the exception handler raises
    KeyboardInterrupt: it propagates out of the loop, as on asyncio."""
    proc = run_snippet(loop_kind, """
        import socket
        loop = new_loop()
        def handler(loop, ctx):
            raise KeyboardInterrupt
        loop.set_exception_handler(handler)
        a, b = socket.socketpair()
        class P(asyncio.Protocol):
            def data_received(self, d):
                raise ValueError("boom")
        async def main():
            tr, _ = await loop.create_connection(P, sock=a)
            b.send(b"x")
            await asyncio.sleep(5)
            print("not interrupted")
        try:
            loop.run_until_complete(main())
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
    """)
    assert proc.returncode == 0, proc
    assert proc.stdout.split() == ["KeyboardInterrupt"], proc


def test_write_on_a_closed_loop_raises(loop_factory):
    """A write that would need the poller after loop.close() raises
    RuntimeError instead of buffering data nothing will ever send."""
    loop = loop_factory()
    a, b = socket.socketpair()
    with a, b:
        tr, _ = loop.run_until_complete(loop.create_connection(asyncio.Protocol, sock=a))
        loop.close()
        with pytest.raises(RuntimeError, match="closed"):
            tr.write(b"x" * 10_000_000)
        with pytest.raises(RuntimeError, match="closed"):
            tr.abort()


def test_long_handle_chain_is_freed(loop_kind):
    """A million handles, each the callback of the next, are freed without
    exhausting the C stack."""
    if loop_kind != "goloop":
        pytest.skip("goloop's Handle type (asyncio's are Python objects)")
    proc = run_snippet(loop_kind, """
        import goloop
        loop = new_loop()
        Handle = type(loop.call_soon(print))
        h = None
        for _ in range(1_000_000):
            h = Handle(h, (), loop)
        del h
        print("freed")
    """, timeout=120)
    assert proc.returncode == 0, proc
    assert proc.stdout.split() == ["freed"], proc
