"""Bad-input differential fuzz of the public loop and transport API.

Every argument slot of every public loop method, and of the stream,
datagram and pipe transports and the server, gets each value of a pool of
wrong (and borderline) values, on a fresh asyncio loop and on a fresh
goloop loop; a fixed-seed random sample adds wrong values in two slots at
once, and a sample of calls after loop.close(). The outcome must
be the same: the exception class, or success with the same kind of result.
The whole sweep runs again in a child interpreter under ``-X dev`` (asyncio
debug mode, warnings on), where some answers change on both loops.

tests/test_bad_arguments.py is the older, smaller sweep (with subprocesses
and signal handlers); this one is bounded by its case count, and no case
can wait longer than CASE_TIMEOUT.

Run by hand: ``python -m tests.test_fuzz_bad_input`` prints the mismatches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import warnings

import pytest

from tests.conftest import asyncio_new_loop, import_goloop, subprocess_env

CASE_TIMEOUT = 10
SEED = 20261207
PAIRS = 1500      # random two-slot cases
AFTER_CLOSE = 600  # random calls after loop.close()


def _cb(*args):
    pass


async def _coro_fn():
    pass


class _Fileno:
    def __init__(self, fd):
        self._fd = fd

    def fileno(self):
        return self._fd


VALUES = {
    "None": lambda: None, "-1": lambda: -1, "0": lambda: 0, "1": lambda: 1,
    "2**31": lambda: 2**31, "2**63": lambda: 2**63, "2**64": lambda: 2**64,
    "-2**70": lambda: -2**70, "1.5": lambda: 1.5, "nan": lambda: math.nan,
    "inf": lambda: math.inf, "-inf": lambda: -math.inf, "''": lambda: "", "'x'": lambda: "x",
    "b''": lambda: b"", "b'x'": lambda: b"x", "bytearray": lambda: bytearray(b"xy"),
    "memoryview": lambda: memoryview(b"xyz"), "object()": object, "[]": list,
    "[b'x']": lambda: [b"x"], "()": tuple, "('127.0.0.1', 0)": lambda: ("127.0.0.1", 0),
    "True": lambda: True, "False": lambda: False, "{}": dict, "callback": lambda: _cb,
    "coroutine function": lambda: _coro_fn, "fileno -1": lambda: _Fileno(-1),
    "fileno 2**40": lambda: _Fileno(2**40),
}

P = asyncio.Protocol
DP = asyncio.DatagramProtocol


# ---- targets: (name, needs, call(ctx, v)) --------------------------------------
#
# ctx.lp is the loop; ctx.sock an unconnected non-blocking TCP socket; the
# other fixtures (made on demand) are ctx.pair (a connected socketpair end
# with data waiting), ctx.stream, ctx.dgram, ctx.wpipe, ctx.rpipe (transports)
# and ctx.server.

LOOP_TARGETS = {
    "run_until_complete": lambda c, v: c.lp.run_until_complete(v),
    "call_soon(callback)": lambda c, v: c.lp.call_soon(v),
    "call_soon(arg)": lambda c, v: c.lp.call_soon(_cb, v),
    "call_soon(context)": lambda c, v: c.lp.call_soon(_cb, context=v),
    "call_soon_threadsafe(callback)": lambda c, v: c.lp.call_soon_threadsafe(v),
    "call_soon_threadsafe(context)": lambda c, v: c.lp.call_soon_threadsafe(_cb, context=v),
    "call_later(delay)": lambda c, v: c.lp.call_later(v, _cb),
    "call_later(callback)": lambda c, v: c.lp.call_later(1, v),
    "call_later(context)": lambda c, v: c.lp.call_later(1, _cb, context=v),
    "call_at(callback)": lambda c, v: c.lp.call_at(c.lp.time() + 1, v),
    "call_at(when, number)": lambda c, v: c.lp.call_at(v, _cb) if isinstance(v, (int, float)) else None,
    "create_task(coro)": lambda c, v: c.lp.create_task(v),
    "create_task(name)": lambda c, v: c.lp.create_task(_coro_fn(), name=v),
    "create_future()": lambda c, v: c.lp.create_future(),
    "run_in_executor(executor)": lambda c, v: c.lp.run_in_executor(v, _cb),
    "run_in_executor(func)": lambda c, v: c.lp.run_in_executor(None, v),
    "set_default_executor": lambda c, v: c.lp.set_default_executor(v),
    "set_task_factory": lambda c, v: c.lp.set_task_factory(v),
    "set_exception_handler": lambda c, v: c.lp.set_exception_handler(v),
    "call_exception_handler(context)": lambda c, v: c.lp.call_exception_handler(v),
    "call_exception_handler(message)": lambda c, v: c.lp.call_exception_handler({"message": v}),
    "default_exception_handler": lambda c, v: c.lp.default_exception_handler(v),
    "set_debug": lambda c, v: c.lp.set_debug(v),
    "shutdown_default_executor(timeout)": lambda c, v: (
        c.lp.shutdown_default_executor(v) if sys.version_info >= (3, 12)
        else c.lp.shutdown_default_executor()),
    "add_reader(fd)": lambda c, v: c.lp.add_reader(v, _cb),
    "add_reader(callback)": lambda c, v: c.lp.add_reader(c.pair.fileno(), v),
    "remove_reader": lambda c, v: c.lp.remove_reader(v),
    "add_writer(fd)": lambda c, v: c.lp.add_writer(v, _cb),
    "add_writer(callback)": lambda c, v: c.lp.add_writer(c.pair.fileno(), v),
    "remove_writer": lambda c, v: c.lp.remove_writer(v),
    "sock_recv(sock)": lambda c, v: c.lp.sock_recv(v, 10),
    "sock_recv(nbytes)": lambda c, v: c.lp.sock_recv(c.pair, v),
    "sock_recv_into(buf)": lambda c, v: c.lp.sock_recv_into(c.pair, v),
    "sock_recv_into(sock)": lambda c, v: c.lp.sock_recv_into(v, bytearray(10)),
    "sock_sendall(data)": lambda c, v: c.lp.sock_sendall(c.pair, v),
    "sock_sendall(sock)": lambda c, v: c.lp.sock_sendall(v, b"x"),
    "sock_connect(address)": lambda c, v: c.lp.sock_connect(c.sock, v),
    "sock_connect(sock)": lambda c, v: c.lp.sock_connect(v, ("127.0.0.1", 1)),
    "sock_accept": lambda c, v: c.lp.sock_accept(v),
    "sock_sendfile(file)": lambda c, v: c.lp.sock_sendfile(c.pair, v),
    "sock_sendfile(offset)": lambda c, v: c.lp.sock_sendfile(c.pair, c.file, v),
    "sock_sendfile(count)": lambda c, v: c.lp.sock_sendfile(c.pair, c.file, 0, v),
    "getaddrinfo(host)": lambda c, v: c.lp.getaddrinfo(v, 80),
    "getaddrinfo(port)": lambda c, v: c.lp.getaddrinfo("127.0.0.1", v),
    "getaddrinfo(family)": lambda c, v: c.lp.getaddrinfo("127.0.0.1", 80, family=v),
    "getaddrinfo(type)": lambda c, v: c.lp.getaddrinfo("127.0.0.1", 80, type=v),
    "getaddrinfo(proto)": lambda c, v: c.lp.getaddrinfo("127.0.0.1", 80, proto=v),
    "getaddrinfo(flags)": lambda c, v: c.lp.getaddrinfo("127.0.0.1", 80, flags=v),
    "getnameinfo(sockaddr)": lambda c, v: c.lp.getnameinfo(v),
    "getnameinfo(flags)": lambda c, v: c.lp.getnameinfo(("127.0.0.1", 80), v),
    "create_connection(factory)": lambda c, v: c.lp.create_connection(v, sock=c.pair),
    "create_connection(host)": lambda c, v: c.lp.create_connection(P, v, c.port),
    "create_connection(port)": lambda c, v: c.lp.create_connection(P, "127.0.0.1", v),
    "create_connection(sock)": lambda c, v: c.lp.create_connection(P, sock=v),
    "create_connection(ssl)": lambda c, v: c.lp.create_connection(P, "127.0.0.1", c.closed_port,
                                                                  ssl=v),
    "create_connection(family)": lambda c, v: c.lp.create_connection(P, "127.0.0.1", c.port, family=v),
    "create_connection(local_addr)": lambda c, v: c.lp.create_connection(P, "127.0.0.1", c.port,
                                                                        local_addr=v),
    "create_connection(server_hostname)": lambda c, v: c.lp.create_connection(
        P, "127.0.0.1", c.port, server_hostname=v),
    "create_connection(happy_eyeballs_delay)": lambda c, v: c.lp.create_connection(
        P, "127.0.0.1", c.port, happy_eyeballs_delay=v),
    "create_connection(interleave)": lambda c, v: c.lp.create_connection(
        P, "127.0.0.1", c.port, interleave=v),
    "create_server(host)": lambda c, v: c.lp.create_server(P, v, 0),
    "create_server(port)": lambda c, v: c.lp.create_server(P, "127.0.0.1", v),
    "create_server(family)": lambda c, v: c.lp.create_server(P, "127.0.0.1", 0, family=v),
    "create_server(sock)": lambda c, v: c.lp.create_server(P, sock=v),
    "create_server(backlog)": lambda c, v: c.lp.create_server(P, "127.0.0.1", 0, backlog=v),
    "create_server(ssl)": lambda c, v: c.lp.create_server(P, "127.0.0.1", 0, ssl=v),
    "create_server(reuse_port)": lambda c, v: c.lp.create_server(P, "127.0.0.1", 0, reuse_port=v),
    "create_server(start_serving)": lambda c, v: c.lp.create_server(P, "127.0.0.1", 0,
                                                                    start_serving=v),
    "create_unix_connection(path)": lambda c, v: c.lp.create_unix_connection(P, v),
    "create_unix_connection(sock)": lambda c, v: c.lp.create_unix_connection(P, sock=v),
    "create_unix_server(path)": lambda c, v: c.lp.create_unix_server(P, v),
    "create_unix_server(sock)": lambda c, v: c.lp.create_unix_server(P, sock=v),
    "create_unix_server(backlog)": lambda c, v: c.lp.create_unix_server(P, c.unix_path, backlog=v),
    "connect_accepted_socket(sock)": lambda c, v: c.lp.connect_accepted_socket(P, v),
    "create_datagram_endpoint(local_addr)": lambda c, v: c.lp.create_datagram_endpoint(
        DP, local_addr=v),
    "create_datagram_endpoint(remote_addr)": lambda c, v: c.lp.create_datagram_endpoint(
        DP, remote_addr=v),
    "create_datagram_endpoint(family)": lambda c, v: c.lp.create_datagram_endpoint(DP, family=v),
    "create_datagram_endpoint(sock)": lambda c, v: c.lp.create_datagram_endpoint(DP, sock=v),
    "create_datagram_endpoint(allow_broadcast)": lambda c, v: c.lp.create_datagram_endpoint(
        DP, local_addr=("127.0.0.1", 0), allow_broadcast=v),
    "create_datagram_endpoint(reuse_port)": lambda c, v: c.lp.create_datagram_endpoint(
        DP, local_addr=("127.0.0.1", 0), reuse_port=v),
    "connect_read_pipe(pipe)": lambda c, v: c.lp.connect_read_pipe(P, v),
    "connect_write_pipe(pipe)": lambda c, v: c.lp.connect_write_pipe(P, v),
    "sendfile(transport)": lambda c, v: c.lp.sendfile(v, c.file),
    "sendfile(file)": lambda c, v: c.lp.sendfile(c.stream, v),
    "sendfile(offset)": lambda c, v: c.lp.sendfile(c.stream, c.file, v),
    "sendfile(count)": lambda c, v: c.lp.sendfile(c.stream, c.file, 0, v),
    "start_tls(transport)": lambda c, v: c.lp.start_tls(v, P(), c.ssl_context),
    "start_tls(sslcontext)": lambda c, v: c.lp.start_tls(c.stream, P(), v),
}

TRANSPORT_TARGETS = {
    "stream.write": lambda c, v: c.stream.write(v),
    "stream.writelines": lambda c, v: c.stream.writelines(v),
    "stream.writelines([b'x', v])": lambda c, v: c.stream.writelines([b"x", v]),
    "stream.set_write_buffer_limits(high)": lambda c, v: c.stream.set_write_buffer_limits(high=v),
    "stream.set_write_buffer_limits(low)": lambda c, v: c.stream.set_write_buffer_limits(low=v),
    "stream.set_write_buffer_limits(high, low)": lambda c, v: c.stream.set_write_buffer_limits(v, v),
    "stream.get_extra_info(name)": lambda c, v: c.stream.get_extra_info(v),
    "stream.set_protocol": lambda c, v: c.stream.set_protocol(v),
    "stream.pause_reading": lambda c, v: c.stream.pause_reading(),
    "stream.write_eof": lambda c, v: c.stream.write_eof(),
    "stream.abort": lambda c, v: c.stream.abort(),
    "dgram.sendto(data)": lambda c, v: c.dgram.sendto(v),
    "dgram.sendto(addr)": lambda c, v: c.dgram.sendto(b"x", v),
    "dgram.set_write_buffer_limits(high)": lambda c, v: c.dgram.set_write_buffer_limits(high=v),
    "dgram.get_extra_info(name)": lambda c, v: c.dgram.get_extra_info(v),
    "wpipe.write": lambda c, v: c.wpipe.write(v),
    "wpipe.writelines": lambda c, v: c.wpipe.writelines(v),
    "wpipe.set_write_buffer_limits(high)": lambda c, v: c.wpipe.set_write_buffer_limits(high=v),
    "wpipe.set_write_buffer_limits(low)": lambda c, v: c.wpipe.set_write_buffer_limits(low=v),
    "rpipe.pause_reading": lambda c, v: c.rpipe.pause_reading(),
    "rpipe.get_extra_info(name)": lambda c, v: c.rpipe.get_extra_info(v),
    "server.start_serving": lambda c, v: c.server.start_serving(),
    "server.get_loop": lambda c, v: c.server.get_loop(),
    "server.close": lambda c, v: c.server.close(),
}

TARGETS = {**LOOP_TARGETS, **TRANSPORT_TARGETS}

# A pool value the call cannot take on its own is not a difference worth
# chasing when the reference itself does something unbounded with it.
SKIP = {
    ("run_until_complete", "coroutine function"),
    ("create_task(coro)", "coroutine function"),
}


# Targets that take no argument: one case each (they still count in pairs
# and after close()).
NO_ARGUMENT = {"create_future()", "stream.pause_reading", "stream.write_eof", "stream.abort",
               "rpipe.pause_reading", "server.start_serving", "server.get_loop", "server.close"}


class Ctx:
    """The loop and the fixtures one case needs, all closed by close()."""

    def __init__(self, lp):
        self.lp = lp
        self._close = []
        self.sock = self._keep(socket.socket())
        self.sock.setblocking(False)

    def _keep(self, obj):
        self._close.append(obj)
        return obj

    def __getattr__(self, name):
        value = getattr(self, "_make_" + name)()
        setattr(self, name, value)
        return value

    def _make_pair(self):
        a, b = socket.socketpair()
        self._keep(a), self._keep(b)
        a.setblocking(False)
        b.sendall(b"waiting data")
        return a

    def _make_port(self):
        s = self._keep(socket.create_server(("127.0.0.1", 0)))
        return s.getsockname()[1]

    def _make_closed_port(self):
        s = socket.create_server(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def _make_file(self):
        f = self._keep(tempfile.TemporaryFile())
        f.write(b"file data" * 10)
        f.seek(0)
        return f

    def _make_unix_path(self):
        d = tempfile.mkdtemp(prefix="glf")
        self._close.append(_RemoveDir(d))
        return os.path.join(d, "s")

    def _make_ssl_context(self):
        import ssl
        return ssl.create_default_context()

    def _make_stream(self):
        a, b = socket.socketpair()
        self._keep(b)
        tr, _ = self.lp.run_until_complete(self.lp.create_connection(P, sock=a))
        self._close.append(tr)
        return tr

    def _make_dgram(self):
        tr, _ = self.lp.run_until_complete(self.lp.create_datagram_endpoint(
            DP, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", self.port)))
        self._close.append(tr)
        return tr

    def _make_wpipe(self):
        r, w = os.pipe()
        self._keep(os.fdopen(r, "rb", 0))
        tr, _ = self.lp.run_until_complete(self.lp.connect_write_pipe(P, os.fdopen(w, "wb", 0)))
        self._close.append(tr)
        return tr

    def _make_rpipe(self):
        r, w = os.pipe()
        self._keep(os.fdopen(w, "wb", 0))
        tr, _ = self.lp.run_until_complete(self.lp.connect_read_pipe(P, os.fdopen(r, "rb", 0)))
        self._close.append(tr)
        return tr

    def _make_server(self):
        srv = self.lp.run_until_complete(self.lp.create_server(P, "127.0.0.1", 0,
                                                               start_serving=False))
        self._close.append(srv)
        return srv

    def close(self):
        for obj in reversed(self._close):
            try:
                obj.close()
            except Exception:
                pass


class _RemoveDir:
    def __init__(self, d):
        self.d = d

    def close(self):
        for name in os.listdir(self.d):
            os.unlink(os.path.join(self.d, name))
        os.rmdir(self.d)


def _summary(result):
    """A result as far as both loops must agree on it."""
    if result is None or isinstance(result, (bool, int, float, str, bytes)):
        return f"ok {type(result).__name__} {result!r}" if not isinstance(result, float) \
            or not math.isnan(result) else "ok float nan"
    if isinstance(result, tuple) and all(isinstance(x, (int, float, type(None))) for x in result):
        return f"ok {result!r}"
    return "ok " + ("tuple" if isinstance(result, tuple) else
                    "list" if isinstance(result, list) else "object")


def _dispose(lp, result):
    """Close what a successful call made (transports, servers, tasks)."""
    items = result if isinstance(result, (tuple, list)) else [result]
    for item in items:
        if isinstance(item, asyncio.Handle):
            item.cancel()
        elif isinstance(item, asyncio.Future):
            item.cancel()
        elif hasattr(item, "close") and (hasattr(item, "get_extra_info") or hasattr(item, "sockets")):
            try:
                item.close()
            except Exception:
                pass


def outcome(new_loop, calls):
    """Runs calls [(target name, values)] in order on one new loop; the
    last call's outcome: its exception class, or its result summary.
    values: one value per call; `after_close` closes the loop first."""
    lp = new_loop()
    ctx = Ctx(lp)
    result = "?"
    logger = logging.getLogger("asyncio")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)  # the refused calls' reports
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, value, after_close in calls:
                call = TARGETS[name]
                try:
                    if after_close:
                        if "." in name:
                            getattr(ctx, name.split(".")[0])  # the fixture, before closing
                        lp.run_until_complete(asyncio.sleep(0))
                        lp.close()
                    r = call(ctx, value)
                    if asyncio.iscoroutine(r):  # what asyncio takes for one (goloop: C awaitables too)
                        if lp.is_closed():
                            r.close()
                            result = "coroutine on a closed loop"
                            continue
                        r = lp.run_until_complete(asyncio.wait_for(r, CASE_TIMEOUT))
                    elif asyncio.isfuture(r):
                        # A future (run_in_executor, create_task): where it
                        # ended, if it did, once the loop ran a little.
                        if not lp.is_closed() and name != "create_future()":
                            lp.run_until_complete(asyncio.wait([r], timeout=CASE_TIMEOUT))
                        r = ("pending" if not r.done() else "cancelled" if r.cancelled()
                             else type(r.exception()).__name__ if r.exception() else "done")
                    result = _summary(r)
                    _dispose(lp, r)
                except Exception as exc:
                    result = type(exc).__name__
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ctx.close()
                if not lp.is_closed():
                    lp.run_until_complete(asyncio.sleep(0))
                    lp.run_until_complete(lp.shutdown_default_executor())
            except Exception:
                pass
            try:
                lp.close()
            except Exception:
                pass
        logger.setLevel(level)
    return result


def cases():
    """Every (target, value), then the seeded samples."""
    out = []
    for name in TARGETS:
        for vname in (["None"] if name in NO_ARGUMENT else VALUES):
            if (name, vname) not in SKIP:
                out.append([(name, vname, False)])
    rng = random.Random(SEED)
    names, vnames = sorted(TARGETS), sorted(VALUES)
    for _ in range(PAIRS):  # two calls on one loop: state after a refused call
        out.append([(rng.choice(names), rng.choice(vnames), False),
                    (rng.choice(names), rng.choice(vnames), False)])
    tnames = sorted(TARGETS)
    for _ in range(AFTER_CLOSE):
        out.append([(rng.choice(tnames), rng.choice(vnames), True)])
    return [c for c in out if all((n, v) not in SKIP for n, v, _ in c) and not _executor_artifact(c)]


def _executor_artifact(case):
    """asyncio's lookups create its default executor, whose shutdown then
    checks the timeout given; goloop's need no executor, so there is none
    to shut down and nothing checks it (a difference of no consequence,
    listed in the README)."""
    names = [n for n, _, _ in case]
    return (len(names) == 2 and names[0].startswith(("getaddrinfo", "getnameinfo"))
            and names[1] == "shutdown_default_executor(timeout)")


def _run_case(factory, case):
    return outcome(factory, [(n, VALUES[v](), ac) for n, v, ac in case])


def mismatches(selected):
    goloop = import_goloop()
    found = []
    for case in selected:
        want = _run_case(asyncio_new_loop, case)
        got = _run_case(goloop.new_event_loop, case)
        if want != got:
            found.append({"case": case, "asyncio": want, "goloop": got})
    return found


def _groups():
    """The cases split into groups of about 150, for parametrization."""
    all_cases = cases()
    return [all_cases[i:i + 150] for i in range(0, len(all_cases), 150)]


@pytest.mark.parametrize("group", range(len(_groups())))
def test_bad_input_ends_like_asyncio(group):
    found = mismatches(_groups()[group])
    assert found == [], "\n".join(json.dumps(f) for f in found)


def test_bad_input_ends_like_asyncio_in_dev_mode():
    """The whole sweep again under -X dev (asyncio's debug mode)."""
    proc = subprocess.run([sys.executable, "-X", "dev", "-m", "tests.test_fuzz_bad_input"],
                          capture_output=True, text=True, timeout=900, env=subprocess_env(),
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    assert "mismatches: 0" in proc.stdout, proc.stdout[-5000:]


def test_the_sweep_is_as_large_as_documented():
    assert len(cases()) >= 2400


if __name__ == "__main__":
    found = mismatches(cases())
    for f in found:
        print(json.dumps(f))
    print(f"cases: {len(cases())} mismatches: {len(found)}")
