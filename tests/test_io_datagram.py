"""Datagram endpoints: loop.create_datagram_endpoint over UDP and Unix
datagram sockets, and the datagram transport.

What must hold: datagrams are delivered whole with the sender's address,
connected endpoints (remote_addr) only talk to their peer, socket options
(allow_broadcast, reuse_port) are applied, ICMP errors reach error_received,
bad argument combinations raise asyncio's exceptions and messages, and the
transport's extra info, closing and write-after-close rules match asyncio.
"""

import asyncio
import errno
import logging
import os
import socket
import sys
import warnings

import pytest
from tests.io_helpers import _collect_garbage, run, shortdir, wait_until, open_sockets  # noqa: F401

PY311 = sys.version_info >= (3, 11)
PY313 = sys.version_info >= (3, 13)


class Recorder(asyncio.DatagramProtocol):
    """Records datagrams, errors and lifecycle callbacks."""

    def __init__(self):
        loop = asyncio.get_running_loop()
        self.transport = None
        self.datagrams = []
        self.errors = []
        self.made = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.made.set_result(transport)

    def datagram_received(self, data, addr):
        self.datagrams.append((data, addr))

    def error_received(self, exc):
        self.errors.append(exc)

    def connection_lost(self, exc):
        self.lost.set_result(exc)

    async def wait_datagrams(self, n):
        await wait_until(lambda: len(self.datagrams) >= n)
        return list(self.datagrams)


class Echo(Recorder):
    def datagram_received(self, data, addr):
        super().datagram_received(data, addr)
        self.transport.sendto(data.upper(), addr)


async def close(*transports):
    for tr in transports:
        tr.close()
    for tr in transports:
        proto = tr.get_protocol()
        if proto is not None and isinstance(proto, Recorder):
            await proto.lost


def test_udp_echo(loop):
    """An unconnected endpoint's sendto reaches an echo endpoint, which
    answers to the sender's address."""

    async def main():
        srv, sp = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        cli, cp = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        saddr = srv.get_extra_info("sockname")
        caddr = cli.get_extra_info("sockname")
        for word in (b"one", bytearray(b"two"), memoryview(b"three")):
            cli.sendto(word, saddr)
        got = await cp.wait_datagrams(3)
        await close(srv, cli)
        return got, sp.datagrams, saddr, caddr

    got, server_got, saddr, caddr = run(loop, main())
    assert got == [(b"ONE", saddr), (b"TWO", saddr), (b"THREE", saddr)]
    assert server_got == [(b"one", caddr), (b"two", caddr), (b"three", caddr)]


def test_connected_endpoint(loop):
    """remote_addr connects the endpoint: peername is set, sendto(data) and
    sendto(data, peer) go to the peer, another address raises ValueError."""

    async def main():
        srv, sp = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        saddr = srv.get_extra_info("sockname")
        cli, cp = await loop.create_datagram_endpoint(Recorder, remote_addr=saddr)
        peer = cli.get_extra_info("peername")
        cli.sendto(b"a")
        cli.sendto(b"b", saddr)
        with pytest.raises(ValueError) as info:
            cli.sendto(b"c", ("127.0.0.1", saddr[1] + 1 if saddr[1] < 65535 else 1))
        got = await cp.wait_datagrams(2)
        await close(srv, cli)
        return peer, got, str(info.value), saddr

    peer, got, msg, saddr = run(loop, main())
    assert peer == saddr
    assert got == [(b"A", saddr), (b"B", saddr)]
    assert msg == f"Invalid address: must be None or {saddr}"


def test_connected_endpoint_hostname(loop):
    """remote_addr with a host name is resolved before connecting."""

    async def main():
        srv, sp = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        port = srv.get_extra_info("sockname")[1]
        cli, cp = await loop.create_datagram_endpoint(Recorder, remote_addr=("localhost", port),
                                                      family=socket.AF_INET)
        cli.sendto(b"hi")
        got = await cp.wait_datagrams(1)
        peer = cli.get_extra_info("peername")
        await close(srv, cli)
        return got, peer, port

    got, peer, port = run(loop, main())
    assert got == [(b"HI", ("127.0.0.1", port))]
    assert peer == ("127.0.0.1", port)


def test_get_extra_info(loop):
    """get_extra_info: 'socket' (a TransportSocket of type SOCK_DGRAM),
    'sockname', 'peername' (None when not connected), defaults; the transport
    is a BaseTransport and get_protocol returns the protocol."""

    async def main():
        tr, pr = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        sock = tr.get_extra_info("socket")
        info = (type(sock), sock.type, sock.family, tr.get_extra_info("sockname") == sock.getsockname(),
                tr.get_extra_info("peername"), tr.get_extra_info("nope", 42),
                isinstance(tr, asyncio.BaseTransport), tr.get_protocol() is pr)
        await close(tr)
        return info

    assert run(loop, main()) == (asyncio.trsock.TransportSocket, socket.SOCK_DGRAM,
                                 socket.AF_INET, True, None, 42, True, True)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio's datagram transport "
                    "derives from asyncio.DatagramTransport only since 3.12")
def test_is_datagram_transport(loop):
    """The transport is an asyncio.DatagramTransport (as asyncio's is since 3.12)."""

    async def main():
        tr, pr = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        result = isinstance(tr, asyncio.DatagramTransport)
        await close(tr)
        return result

    assert run(loop, main()) is True


def test_close_abort_and_is_closing(loop):
    """close() and abort() call connection_lost(None) later, not synchronously;
    is_closing() turns True at once; closing twice is harmless."""

    async def main():
        results = []
        for how in ("close", "abort"):
            tr, pr = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
            before = tr.is_closing()
            getattr(tr, how)()
            tr.close()
            results.append((before, tr.is_closing(), pr.lost.done(), await pr.lost))
        return results

    assert run(loop, main()) == [(False, True, False, None)] * 2


def test_sendto_after_close_silent_then_warns(loop, caplog):
    """On a closed connected endpoint sendto is silently dropped; from the
    5th call on asyncio logs 'socket.send() raised exception.'."""

    async def main():
        srv, sp = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        cli, cp = await loop.create_datagram_endpoint(Recorder, remote_addr=srv.get_extra_info("sockname"))
        cli.close()
        counts = []
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            for _ in range(6):
                cli.sendto(b"dropped")
                counts.append(sum(r.getMessage() == "socket.send() raised exception."
                                  for r in caplog.records))
        await cp.lost
        await asyncio.sleep(0.05)
        await close(srv)
        return counts, sp.datagrams

    assert run(loop, main()) == ([0, 0, 0, 0, 1, 2], [])


def test_sendto_non_bytes_type_error(loop):
    """sendto with a str raises TypeError 'data argument must be a bytes-like
    object, not 'str''."""

    async def main():
        tr, pr = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        with pytest.raises(TypeError) as info:
            tr.sendto("text", ("127.0.0.1", 9))
        await close(tr)
        return str(info.value)

    assert run(loop, main()) == "data argument must be a bytes-like object, not 'str'"


def test_empty_datagram(loop):
    """sendto(b'') sends an empty datagram from 3.13 on; before 3.13 it is a
    no-op (so the next datagram is the first one received)."""

    async def main():
        srv, sp = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        cli, cp = await loop.create_datagram_endpoint(Recorder, remote_addr=srv.get_extra_info("sockname"))
        cli.sendto(b"")
        cli.sendto(b"x")
        await sp.wait_datagrams(1)
        if PY313:
            await sp.wait_datagrams(2)
        await close(srv, cli)
        return [d for d, a in sp.datagrams]

    assert run(loop, main()) == ([b"", b"x"] if PY313 else [b"x"])


def test_allow_broadcast(loop):
    """allow_broadcast=True sets SO_BROADCAST; with remote_addr the socket is
    then not connected (peername None) but sendto(data) still goes to it."""

    async def main():
        srv, sp = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        saddr = srv.get_extra_info("sockname")
        cli, cp = await loop.create_datagram_endpoint(Recorder, remote_addr=saddr, allow_broadcast=True)
        sock = cli.get_extra_info("socket")
        opt = sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
        peer = cli.get_extra_info("peername")
        cli.sendto(b"via sendto")
        got = await sp.wait_datagrams(1)
        await close(srv, cli)
        return opt != 0, peer, [d for d, a in got]

    assert run(loop, main()) == (True, None, [b"via sendto"])


def test_reuse_port(loop):
    """reuse_port=True sets SO_REUSEPORT so two endpoints can share a port."""

    async def main():
        a, _ = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0), reuse_port=True)
        port = a.get_extra_info("sockname")[1]
        b, _ = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", port), reuse_port=True)
        opts = [t.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for t in (a, b)]
        port_b = b.get_extra_info("sockname")[1]
        await close(a, b)
        return port == port_b, all(opts)

    assert run(loop, main()) == (True, True)


def test_port_in_use(loop):
    """Binding to a UDP port already bound (without reuse_port) raises OSError EADDRINUSE."""
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(OSError) as info:
            run(loop, loop.create_datagram_endpoint(Recorder, local_addr=other.getsockname()))
        assert info.value.errno == errno.EADDRINUSE
    finally:
        other.close()


def test_sock_argument(loop):
    """sock= uses the given (bound) socket as is and makes it non-blocking."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    addr = s.getsockname()

    async def main():
        tr, pr = await loop.create_datagram_endpoint(Recorder, sock=s)
        blocking = s.getblocking()
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(b"to sock", addr)
        got = await pr.wait_datagrams(1)
        sender.close()
        same = tr.get_extra_info("sockname") == addr
        await close(tr)
        return blocking, [d for d, a in got], same

    assert run(loop, main()) == (False, [b"to sock"], True)


def test_sock_with_conflicting_kwargs(loop):
    """sock= together with address/socket keyword arguments raises ValueError
    naming the offending arguments."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(ValueError) as info:
            run(loop, loop.create_datagram_endpoint(
                Recorder, sock=s, local_addr=("127.0.0.1", 0), allow_broadcast=True))
        msg = str(info.value)
        assert msg.startswith("socket modifier keyword arguments can not be used "
                              "when sock is specified. (")
        assert "local_addr=('127.0.0.1', 0)" in msg
        assert "allow_broadcast=True" in msg
        assert "remote_addr=" not in msg
        assert "family=" not in msg
        for kwargs, needle in ((dict(family=socket.AF_INET), f"family={socket.AF_INET}"),
                               (dict(reuse_port=True), "reuse_port=True"),
                               (dict(flags=1), "flags=1"),
                               (dict(remote_addr=("127.0.0.1", 9)), "remote_addr=('127.0.0.1', 9)")):
            with pytest.raises(ValueError) as info:
                run(loop, loop.create_datagram_endpoint(Recorder, sock=s, **kwargs))
            assert needle in str(info.value)
    finally:
        s.close()


def test_sock_stream_socket_rejected(loop):
    """A SOCK_STREAM sock= raises ValueError ('A UDP Socket was expected' before
    3.13, 'A datagram socket was expected' from 3.13)."""
    s = socket.socket()
    try:
        with pytest.raises(ValueError) as info:
            run(loop, loop.create_datagram_endpoint(Recorder, sock=s))
        prefix = "A datagram socket was expected, got " if PY313 else "A UDP Socket was expected, got "
        assert str(info.value).startswith(prefix)
    finally:
        s.close()


def test_no_address_needs_family(loop):
    """Without local_addr/remote_addr, family=0 raises ValueError('unexpected
    address family'); with an explicit family an unbound endpoint is made."""

    async def main():
        with pytest.raises(ValueError) as info:
            await loop.create_datagram_endpoint(Recorder)
        srv, sp = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        tr, pr = await loop.create_datagram_endpoint(Recorder, family=socket.AF_INET)
        tr.sendto(b"unbound", srv.get_extra_info("sockname"))
        got = await sp.wait_datagrams(1)
        await close(srv, tr)
        return str(info.value), [d for d, a in got]

    assert run(loop, main()) == ("unexpected address family", [b"unbound"])


def test_bad_address_types(loop):
    """An AF_INET address that is not a 2-tuple fails with '2-tuple is
    expected' (an AssertionError on 3.10, TypeError from 3.11); an AF_UNIX
    address that is not a str raises TypeError('string is expected')."""
    not_2_tuple = TypeError if PY311 else AssertionError
    with pytest.raises(not_2_tuple, match="2-tuple is expected"):
        run(loop, loop.create_datagram_endpoint(Recorder, local_addr="127.0.0.1"))
    with pytest.raises(not_2_tuple, match="2-tuple is expected"):
        run(loop, loop.create_datagram_endpoint(Recorder, remote_addr=("127.0.0.1", 1, 2)))
    with pytest.raises(TypeError, match="string is expected"):
        run(loop, loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0),
                                                family=socket.AF_UNIX))


def test_reuse_address_parameter(loop):
    """reuse_address: on 3.10 True raises ValueError and False warns
    (DeprecationWarning); from 3.11 the keyword no longer exists (TypeError)."""
    if PY311:
        with pytest.raises(TypeError):
            run(loop, loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0),
                                                    reuse_address=False))
        return
    with pytest.raises(ValueError, match="Passing `reuse_address=True` is no longer supported"):
        run(loop, loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0),
                                                reuse_address=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr, pr = run(loop, loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0),
                                                         reuse_address=False))
    tr.close()
    run(loop, pr.lost)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_unix_datagram(loop, shortdir):
    """family=AF_UNIX endpoints exchange datagrams over filesystem paths."""
    spath = os.path.join(shortdir, "srv")
    cpath = os.path.join(shortdir, "cli")

    async def main():
        srv, sp = await loop.create_datagram_endpoint(Echo, local_addr=spath, family=socket.AF_UNIX)
        cli, cp = await loop.create_datagram_endpoint(Recorder, local_addr=cpath, remote_addr=spath,
                                                      family=socket.AF_UNIX)
        cli.sendto(b"over unix")
        got = await cp.wait_datagrams(1)
        info = (srv.get_extra_info("sockname"), cli.get_extra_info("peername"),
                cli.get_extra_info("socket").family)
        await close(srv, cli)
        return got, sp.datagrams, info

    got, server_got, info = run(loop, main())
    assert got == [(b"OVER UNIX", spath)]
    assert server_got == [(b"over unix", cpath)]
    assert info == (spath, spath, socket.AF_UNIX)


def test_unix_datagram_replaces_stale_socket(loop, shortdir):
    """A leftover socket file at local_addr is removed before binding."""
    path = os.path.join(shortdir, "stale")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.close()

    async def main():
        tr, pr = await loop.create_datagram_endpoint(Recorder, local_addr=path, family=socket.AF_UNIX)
        name = tr.get_extra_info("sockname")
        await close(tr)
        return name

    assert run(loop, main()) == path


def test_error_received_on_icmp_unreachable(loop):
    """Sending to a closed UDP port on a connected endpoint makes
    error_received get ConnectionRefusedError; the endpoint stays open."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    dead = probe.getsockname()
    probe.close()

    async def main():
        tr, pr = await loop.create_datagram_endpoint(Recorder, remote_addr=dead)
        for _ in range(1000):
            if pr.errors:
                break
            tr.sendto(b"anyone?")
            await asyncio.sleep(0.01)
        open_after = not tr.is_closing() and not pr.lost.done()
        await close(tr)
        return pr.errors, open_after

    errors, open_after = run(loop, main())
    assert errors, "error_received was never called"
    assert all(isinstance(e, ConnectionRefusedError) for e in errors), errors
    assert open_after


def test_sendto_os_error_goes_to_error_received(loop):
    """A sendto that the kernel refuses (broadcast address without
    SO_BROADCAST: PermissionError) is passed to error_received; the endpoint
    stays open."""

    async def main():
        tr, pr = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        tr.sendto(b"x", ("255.255.255.255", 9))
        await wait_until(lambda: pr.errors)
        open_after = not tr.is_closing()
        await close(tr)
        return pr.errors, open_after

    errors, open_after = run(loop, main())
    assert [type(e) for e in errors] == [PermissionError]
    assert open_after


def test_sendto_bad_address_is_fatal(loop):
    """sendto with an address of the wrong type: the TypeError from the socket
    is a fatal write error (exception handler 'Fatal write error on datagram
    transport') and connection_lost gets it; sendto itself does not raise."""
    calls = []
    loop.set_exception_handler(lambda lp, ctx: calls.append(ctx))

    async def main():
        tr, pr = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
        tr.sendto(b"x", "not an address")
        exc = await pr.lost
        return exc, pr.errors

    exc, errors = run(loop, main())
    assert isinstance(exc, TypeError)
    assert errors == []
    assert [c["message"] for c in calls] == ["Fatal write error on datagram transport"]
    assert calls[0]["exception"] is exc


def test_no_fd_leak(loop):
    """Creating and closing endpoints leaves the number of open fds unchanged."""

    count_fds = open_sockets  # what the connections open

    async def batch():
        for _ in range(20):
            srv, sp = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
            cli, cp = await loop.create_datagram_endpoint(Recorder, remote_addr=srv.get_extra_info("sockname"))
            cli.sendto(b"x")
            await sp.wait_datagrams(1)
            await close(srv, cli)

    async def main():
        await batch()
        before = count_fds()
        await batch()
        return before, count_fds()

    before, after = run(loop, main())
    assert after == before


def test_fd_of_a_datagram_transport_is_guarded(loop):
    """add_reader/remove_reader on a datagram transport's own fd raise
    RuntimeError, as asyncio's, and the transport keeps receiving."""
    got = []

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            got.append(data)

    async def main():
        tr, _ = await loop.create_datagram_endpoint(P, local_addr=("127.0.0.1", 0))
        fd = tr.get_extra_info("socket").fileno()
        with pytest.raises(RuntimeError, match="used by transport"):
            loop.add_reader(fd, print)
        with pytest.raises(RuntimeError, match="used by transport"):
            loop.remove_reader(fd)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"hi", tr.get_extra_info("sockname"))
            while not got:
                await asyncio.sleep(0.001)
        tr.close()
        await asyncio.sleep(0)

    run(loop, main())
    assert got == [b"hi"]
