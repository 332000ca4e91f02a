"""File-descriptor watching: add_reader / remove_reader / add_writer /
remove_writer on sockets and pipes.

Readers and writers are level-triggered callbacks keyed by fd; return values
of the remove_* methods and the replace-on-re-add rule are part of the
contract that transports and third-party libraries rely on.
"""

import asyncio
import os
import socket

import pytest

WATCHDOG = 30


@pytest.fixture
def pipe():
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def run_until(loop, predicate):
    async def waiter():
        while not predicate():
            await asyncio.sleep(0.001)

    loop.run_until_complete(asyncio.wait_for(waiter(), WATCHDOG))


class FileLike:
    """An object that is not a socket but has fileno()."""

    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd


# -- readers ---------------------------------------------------------------


def test_reader_socket_called_with_args(loop, sockpair):
    """The reader callback runs, with its arguments, once data is readable."""
    a, b = sockpair
    got = []

    def on_read(tag, n):
        got.append((tag, n, a.recv(100)))

    loop.add_reader(a.fileno(), on_read, "tag", 7)
    b.send(b"hello")
    run_until(loop, lambda: got)
    assert got[0] == ("tag", 7, b"hello")
    assert loop.remove_reader(a.fileno()) is True


def test_reader_pipe(loop, pipe):
    """Readers work on pipes as well as sockets."""
    r, w = pipe
    got = []
    loop.add_reader(r, lambda: got.append(os.read(r, 100)))
    os.write(w, b"through a pipe")
    run_until(loop, lambda: got)
    assert got == [b"through a pipe"]
    assert loop.remove_reader(r) is True


def test_reader_accepts_object_with_fileno(loop, sockpair):
    """An object with fileno() can be passed instead of the fd, and removed
    through the same object or the fd number."""
    a, b = sockpair
    got = []
    loop.add_reader(a, lambda: got.append(a.recv(10)))
    b.send(b"s")
    run_until(loop, lambda: got)
    assert loop.remove_reader(a.fileno()) is True

    wrapped = FileLike(a.fileno())
    loop.add_reader(wrapped, lambda: got.append(a.recv(10)))
    b.send(b"f")
    run_until(loop, lambda: len(got) == 2)
    assert got == [b"s", b"f"]
    assert loop.remove_reader(wrapped) is True


def test_remove_reader_return_values(loop, sockpair):
    """remove_reader returns True if a reader was registered, else False."""
    a, _ = sockpair
    assert loop.remove_reader(a.fileno()) is False
    loop.add_reader(a.fileno(), lambda: None)
    assert loop.remove_reader(a.fileno()) is True
    assert loop.remove_reader(a.fileno()) is False


@pytest.mark.parametrize("method", ["remove_reader", "remove_writer"])
def test_remove_of_fd_beyond_int_returns_false(loop, method):
    """An fd no C int can hold was never registered: False, as asyncio."""
    assert getattr(loop, method)(2**70) is False


def test_removed_reader_not_called(loop, sockpair):
    """After remove_reader the callback is no longer invoked."""
    a, b = sockpair
    calls = []
    loop.add_reader(a.fileno(), calls.append, 1)
    assert loop.remove_reader(a.fileno())
    b.send(b"x")
    loop.run_until_complete(asyncio.sleep(0.05))
    assert calls == []


def test_replacing_reader(loop, sockpair):
    """add_reader on an fd that already has a reader replaces it: only the
    new callback runs."""
    a, b = sockpair
    calls = []
    loop.add_reader(a.fileno(), lambda: calls.append("old"))
    loop.add_reader(a.fileno(), lambda: (calls.append("new"), a.recv(10)))
    b.send(b"x")
    run_until(loop, lambda: calls)
    assert set(calls) == {"new"}
    assert loop.remove_reader(a.fileno()) is True
    assert loop.remove_reader(a.fileno()) is False


def test_reader_is_level_triggered(loop, sockpair):
    """A reader that does not consume the data is called again on following
    iterations (level-triggered, like epoll/select in asyncio)."""
    a, b = sockpair
    calls = []
    loop.add_reader(a.fileno(), lambda: calls.append(1))
    b.send(b"unconsumed")
    run_until(loop, lambda: len(calls) >= 3)
    assert loop.remove_reader(a.fileno())
    assert a.recv(100) == b"unconsumed"


def test_reader_called_on_eof(loop, sockpair):
    """Peer close makes the fd readable (recv returns b'')."""
    a, b = sockpair
    got = []

    def on_read():
        got.append(a.recv(10))
        loop.remove_reader(a.fileno())

    loop.add_reader(a.fileno(), on_read)
    b.close()
    run_until(loop, lambda: got)
    assert got == [b""]


def test_reader_callback_exception_goes_to_handler(loop, sockpair):
    """An exception in a reader goes to the exception handler; the reader
    stays registered."""
    a, b = sockpair
    ctxs = []
    loop.set_exception_handler(lambda lp, ctx: ctxs.append(ctx))

    def on_read():
        a.recv(10)
        raise ValueError("reader failed")

    loop.add_reader(a.fileno(), on_read)
    b.send(b"x")
    run_until(loop, lambda: ctxs)
    assert isinstance(ctxs[0]["exception"], ValueError)
    assert "handle" in ctxs[0]
    assert loop.remove_reader(a.fileno()) is True


def test_reader_and_writer_on_same_fd(loop, sockpair):
    """An fd can have a reader and a writer at once; removing one keeps the
    other."""
    a, b = sockpair
    events = []

    def on_write():
        events.append("w")
        loop.remove_writer(a.fileno())

    def on_read():
        events.append(("r", a.recv(10)))

    loop.add_reader(a.fileno(), on_read)
    loop.add_writer(a.fileno(), on_write)
    b.send(b"d")
    run_until(loop, lambda: "w" in events and ("r", b"d") in events)
    assert loop.remove_writer(a.fileno()) is False
    b.send(b"e")
    run_until(loop, lambda: ("r", b"e") in events)
    assert loop.remove_reader(a.fileno()) is True


def test_many_readers(loop):
    """Many fds watched at once each get their own callback."""
    pairs = [socket.socketpair() for _ in range(50)]
    try:
        got = set()
        for i, (a, b) in enumerate(pairs):
            a.setblocking(False)
            loop.add_reader(a.fileno(), lambda i=i, a=a: (got.add(i), a.recv(10)))
        for i, (a, b) in enumerate(pairs):
            if i % 2 == 0:
                b.send(b"x")
        run_until(loop, lambda: len(got) == 25)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert got == set(range(0, 50, 2))
        for a, _ in pairs:
            assert loop.remove_reader(a.fileno()) is True
    finally:
        for a, b in pairs:
            a.close()
            b.close()


# -- writers ---------------------------------------------------------------


def test_writer_socket_called_with_args(loop, sockpair):
    """A writer on a writable socket is called with its arguments."""
    a, b = sockpair
    got = []

    def on_write(x):
        got.append(x)
        loop.remove_writer(a.fileno())

    loop.add_writer(a.fileno(), on_write, "arg")
    run_until(loop, lambda: got)
    assert got == ["arg"]


def test_writer_pipe(loop, pipe):
    """Writers work on the write end of a pipe."""
    r, w = pipe
    got = []

    def on_write():
        got.append(os.write(w, b"data"))
        loop.remove_writer(w)

    loop.add_writer(w, on_write)
    run_until(loop, lambda: got)
    assert got == [4]
    assert os.read(r, 10) == b"data"


def test_writer_waits_for_space(loop, sockpair):
    """A writer on a full socket is called only once the peer drains it."""
    a, b = sockpair
    try:
        while True:
            a.send(b"x" * 65536)
    except BlockingIOError:
        pass
    called = []
    loop.add_writer(a.fileno(), lambda: called.append(1))
    loop.run_until_complete(asyncio.sleep(0.05))
    assert called == []

    def drain():
        try:
            while True:
                if not b.recv(1 << 20):
                    break
        except BlockingIOError:
            pass

    drain()
    run_until(loop, lambda: called)
    assert loop.remove_writer(a.fileno()) is True


def test_remove_writer_return_values(loop, sockpair):
    """remove_writer returns True if a writer was registered, else False."""
    a, _ = sockpair
    assert loop.remove_writer(a.fileno()) is False
    loop.add_writer(a.fileno(), lambda: None)
    assert loop.remove_writer(a.fileno()) is True
    assert loop.remove_writer(a.fileno()) is False


def test_replacing_writer(loop, sockpair):
    """add_writer on an fd that has a writer replaces it."""
    a, _ = sockpair
    calls = []
    loop.add_writer(a.fileno(), lambda: calls.append("old"))
    loop.add_writer(a.fileno(), lambda: calls.append("new"))
    run_until(loop, lambda: calls)
    assert set(calls) == {"new"}
    assert loop.remove_writer(a.fileno()) is True


def test_writer_accepts_object_with_fileno(loop, sockpair):
    """add_writer/remove_writer accept objects with fileno()."""
    a, _ = sockpair
    calls = []
    wrapped = FileLike(a.fileno())
    loop.add_writer(wrapped, lambda: calls.append(1))
    run_until(loop, lambda: calls)
    assert loop.remove_writer(a) is True


# -- closed loop -----------------------------------------------------------


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_add_on_closed_loop_raises(loop, sockpair, method):
    """add_reader/add_writer on a closed loop: RuntimeError('Event loop is
    closed')."""
    a, _ = sockpair
    loop.close()
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        getattr(loop, method)(a.fileno(), lambda: None)


@pytest.mark.parametrize("method", ["remove_reader", "remove_writer"])
def test_remove_on_closed_loop_returns_false(loop, sockpair, method):
    """remove_reader/remove_writer on a closed loop return False (no error),
    even if something was registered before close()."""
    a, _ = sockpair
    getattr(loop, method.replace("remove", "add"))(a.fileno(), lambda: None)
    loop.close()
    assert getattr(loop, method)(a.fileno()) is False


def test_close_drops_readers(loop, sockpair):
    """close() with readers/writers still registered leaves those fds open
    and usable: the loop does not own them."""
    a, b = sockpair
    loop.add_reader(a.fileno(), lambda: None)
    loop.add_writer(b.fileno(), lambda: None)
    loop.close()
    b.send(b"still open")
    assert a.recv(100) == b"still open"
