"""Blocking-call detectors (blockbuster, which anyio's and aiohttp's suites
run under) patch functions of the os module and threading, and fail a call
made on a thread running an event loop unless the stack holds an allowed
frame: asyncio's own files, for the calls asyncio itself makes there.

goloop makes those calls natively (sendfile(2), stat/unlink of a Unix
socket path: pyext/fsops.c) or inside asyncio's own methods (the spawn's
error-pipe read in subprocess_exec/subprocess_shell, the thread join of
shutdown_default_executor), so a detector sees nothing from goloop's files.

The detector here applies blockbuster 1.5's rules for those calls and
records each call it would reject; the tests assert that none of them has a
frame of goloop's package on its stack. On asyncio the same scenarios make
the calls from asyncio's files (checked too: the detector is live)."""

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

from tests.io_helpers import run, shortdir  # noqa: F401

# blockbuster 1.5: the frames (file suffix, function) that make a call allowed.
ALLOWED = {
    "os.sendfile": {("asyncio/base_events.py", "sendfile"),
                    ("asyncio/unix_events.py", "_sock_sendfile_native_impl")},
    "os.stat": {("asyncio/unix_events.py", "create_unix_server"),
                ("asyncio/unix_events.py", "_stop_serving"),
                ("linecache.py", "checkcache"), ("linecache.py", "updatecache")},
    "os.unlink": {("asyncio/unix_events.py", "_stop_serving")},
    "os.remove": set(),
    "os.read": {("asyncio/base_events.py", "subprocess_exec"),
                ("asyncio/base_events.py", "subprocess_shell")},
    "Thread.join": {("asyncio/base_events.py", "shutdown_default_executor")},
}


def _goloop_dir():
    spec = importlib.util.find_spec("goloop")
    return os.path.dirname(spec.origin) + os.sep if spec and spec.origin else None


class Detector:
    def __init__(self):
        self.seen = []        # (name, allowed) for every call on a loop thread
        self.rejected = []    # (name, [(file, function), ...]) it would fail

    def check(self, name):
        if asyncio._get_running_loop() is None:
            return
        stack = []
        frame = sys._getframe(2)
        while frame is not None:
            stack.append((frame.f_code.co_filename.replace("\\", "/"), frame.f_code.co_name))
            frame = frame.f_back
        allowed = any(f.endswith(suffix) and fn == func
                      for f, fn in stack for suffix, func in ALLOWED[name])
        self.seen.append((name, allowed))
        if not allowed:
            self.rejected.append((name, stack))

    def from_goloop(self):
        """The rejected calls with a frame of goloop's package on the stack."""
        where = _goloop_dir()
        return [(name, [s for s in stack if s[0].startswith(where)])
                for name, stack in self.rejected
                if where and any(f.startswith(where) for f, _ in stack)]


@pytest.fixture
def detector(monkeypatch):
    d = Detector()

    def patch(owner, attr, name, blocking_only=False):
        original = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            if not blocking_only or os.get_blocking(args[0]):
                d.check(name)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, attr, wrapper)

    patch(os, "sendfile", "os.sendfile")
    patch(os, "stat", "os.stat")
    patch(os, "unlink", "os.unlink")
    patch(os, "remove", "os.remove")
    patch(os, "read", "os.read", blocking_only=True)
    patch(threading.Thread, "join", "Thread.join")
    return d


@pytest.fixture
def datafile():
    with tempfile.TemporaryFile() as f:
        f.write(os.urandom(256 * 1024))
        f.flush()
        f.seek(0)
        yield f


async def _drain(sock, n, loop):
    got = 0
    while got < n:
        chunk = await loop.sock_recv(sock, 65536)
        if not chunk:
            break
        got += len(chunk)
    return got


def test_sock_sendfile(loop, detector, datafile):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    try:
        async def main():
            sent, got = await asyncio.gather(loop.sock_sendfile(a, datafile),
                                             _drain(b, 256 * 1024, loop))
            return sent, got

        assert run(loop, main()) == (256 * 1024, 256 * 1024)
    finally:
        a.close()
        b.close()
    assert detector.from_goloop() == []
    if not isinstance(loop, asyncio.BaseEventLoop):
        assert not [s for s in detector.seen if s[0] == "os.sendfile"]  # made in C
    else:
        assert ("os.sendfile", True) in detector.seen  # asyncio: allowed there


def test_transport_sendfile(loop, detector, datafile):
    got = bytearray()
    done = loop.create_future()

    class Sink(asyncio.Protocol):
        def data_received(self, data):
            got.extend(data)
            if len(got) >= 256 * 1024 and not done.done():
                done.set_result(None)

    async def main():
        server = await loop.create_server(Sink, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        sent = await loop.sendfile(tr, datafile)
        await done
        tr.close()
        server.close()
        await server.wait_closed()
        return sent

    assert run(loop, main()) == 256 * 1024
    assert detector.from_goloop() == []


def test_unix_server_path_cleanup(loop, detector, shortdir):
    path = os.path.join(shortdir, "s.sock")
    with socket.socket(socket.AF_UNIX) as stale:   # left by an "earlier run"
        stale.bind(path)

    async def main():
        server = await loop.create_unix_server(asyncio.Protocol, path)
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert detector.from_goloop() == []
    if sys.version_info >= (3, 13):  # cleanup_socket: the path is unlinked at close
        assert not os.path.exists(path)


def test_unix_datagram_stale_path(loop, detector, shortdir):
    path = os.path.join(shortdir, "d.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stale:
        stale.bind(path)

    async def main():
        tr, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=path,
                                                    family=socket.AF_UNIX)
        tr.close()

    run(loop, main())
    assert detector.from_goloop() == []


@pytest.mark.parametrize("how", ["exec", "shell"])
def test_subprocess_spawn(loop, detector, how, shortdir):
    # cwd= makes Popen fork+exec and read its error pipe (posix_spawn,
    # which 3.13 prefers when it can, reads none).
    async def main():
        if how == "exec":
            proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "print(6 * 7)",
                                                        stdout=subprocess.PIPE, cwd=shortdir)
        else:
            proc = await asyncio.create_subprocess_shell(f"{sys.executable} -c 'print(6 * 7)'",
                                                         stdout=subprocess.PIPE, cwd=shortdir)
        out, _ = await proc.communicate()
        return out

    assert run(loop, main()).strip() == b"42"
    assert detector.from_goloop() == []
    # Popen read its error pipe (a blocking fd) inside asyncio's method.
    assert ("os.read", True) in detector.seen


def test_shutdown_default_executor(loop, detector):
    async def main():
        await loop.run_in_executor(None, sum, [1, 2, 3])
        await loop.shutdown_default_executor()

    run(loop, main())
    assert detector.from_goloop() == []
