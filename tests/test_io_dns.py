"""Name resolution: loop.getaddrinfo and loop.getnameinfo.

The reference is the socket module itself (asyncio's loop runs
socket.getaddrinfo / socket.getnameinfo in its executor), so every result
and every error (type, errno, message) must equal what the socket module
gives for the same arguments. Only names that resolve without the network
('localhost', numeric addresses) are used. Lookups must also work in large
numbers at once, be cancellable, and not crash a loop closed under them.
"""

import asyncio
import socket

import pytest
from tests.io_helpers import run  # noqa: F401



def outcome(func, *args, **kwargs):
    """('ok', result) or ('error', type, args, str) for a call."""
    try:
        return ("ok", func(*args, **kwargs))
    except Exception as exc:  # compare whatever the socket module raises
        return ("error", type(exc), exc.args, str(exc))


def loop_outcome(loop, coro_func, *args, **kwargs):
    async def call():
        return await coro_func(*args, **kwargs)

    try:
        return ("ok", run(loop, call()))
    except Exception as exc:
        return ("error", type(exc), exc.args, str(exc))


def has_ipv6():
    try:
        socket.getaddrinfo("::1", 0, socket.AF_INET6)
        return True
    except OSError:
        return False


GAI_CASES = [
    # (host, port, family, type, proto, flags)
    ("127.0.0.1", 80, 0, 0, 0, 0),
    ("127.0.0.1", 0, socket.AF_INET, socket.SOCK_STREAM, 0, 0),
    ("127.0.0.1", None, 0, 0, 0, 0),
    ("127.0.0.1", "8080", 0, socket.SOCK_DGRAM, 0, 0),
    ("127.0.0.1", b"443", 0, 0, 0, 0),
    (b"127.0.0.1", 22, 0, 0, socket.IPPROTO_TCP, 0),
    ("::1", 443, socket.AF_INET6, 0, 0, 0),
    ("::1", 53, 0, socket.SOCK_DGRAM, socket.IPPROTO_UDP, 0),
    ("fe80::1%1", 80, socket.AF_INET6, socket.SOCK_STREAM, 0, 0),
    ("localhost", 80, 0, 0, 0, 0),
    ("localhost", "http", 0, socket.SOCK_STREAM, 0, 0),
    ("localhost", "domain", socket.AF_INET, socket.SOCK_DGRAM, 0, 0),
    ("LOCALHOST", 1, socket.AF_INET, 0, 0, socket.AI_CANONNAME),
    ("localhost", 0, socket.AF_UNSPEC, socket.SOCK_STREAM, socket.IPPROTO_TCP, socket.AI_ADDRCONFIG),
    (None, 80, socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_PASSIVE),
    (None, 0, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE),
    (None, "https", socket.AF_INET6, socket.SOCK_STREAM, 0, socket.AI_PASSIVE),
    (None, 80, 0, 0, 0, 0),
    ("", 80, socket.AF_INET, 0, 0, 0),
    ("127.0.0.1", 80, 0, 0, 0, socket.AI_NUMERICHOST | socket.AI_NUMERICSERV),
    ("2130706433", 80, socket.AF_INET, socket.SOCK_STREAM, 0, 0),
    ("127.1", 80, socket.AF_INET, socket.SOCK_STREAM, 0, 0),
    ("::ffff:127.0.0.1", 80, socket.AF_INET6, socket.SOCK_STREAM, 0, 0),
    ("127.0.0.1", True, socket.AF_INET, socket.SOCK_STREAM, 0, 0),
    ("127.0.0.1", 65535, socket.AF_INET, socket.SOCK_STREAM, 0, 0),
    ("127.0.0.1", 70000, socket.AF_INET, socket.SOCK_STREAM, 0, 0),
]

GAI_ERROR_CASES = [
    ("localhost", 80, 0, 0, 0, socket.AI_NUMERICHOST),  # EAI_NONAME, no DNS query
    ("127.0.0.1", "nosuchservice", 0, 0, 0, 0),  # EAI_SERVICE
    ("127.0.0.1", "http", 0, 0, 0, socket.AI_NUMERICSERV),  # EAI_NONAME
    ("127.0.0.1", 80, socket.AF_INET6, 0, 0, 0),  # EAI_ADDRFAMILY
    ("127.0.0.1", 80, 12345, 0, 0, 0),  # EAI_FAMILY
    ("127.0.0.1", 80, 0, 12345, 0, 0),  # EAI_SOCKTYPE
    ("127.0.0.1", 80, 0, 0, 0, 0xFFFF),  # EAI_BADFLAGS
    ("127.0.0.1", -1, 0, 0, 0, 0),
    (None, None, 0, 0, 0, 0),
    ("127.0.0.1", 1.5, 0, 0, 0, 0),  # OSError('Int or String expected')
    ("127.0.0.1", 2 ** 70, 0, 0, 0, 0),  # OverflowError
    ("127.0.0.1", bytearray(b"80"), 0, 0, 0, 0),  # OSError('Int or String expected')
    ("127.0.0.1", [80], 0, 0, 0, 0),
    (123, 80, 0, 0, 0, 0),  # TypeError: argument 1 must be string or None
    (bytearray(b"127.0.0.1"), 80, 0, 0, 0, 0),
    (("127.0.0.1",), 80, 0, 0, 0, 0),
    ("a..b", 80, 0, 0, 0, 0),  # idna: label empty
    ("x" * 64 + ".example", 80, 0, 0, 0, 0),  # idna: label too long
    ("127.0.0.1", 80, "inet", 0, 0, 0),  # family not an int
    ("127.0.0.1", 80, 0, 0, 0, None),  # flags not an int
]


def _id(case):
    def one(x):
        if isinstance(x, (socket.AddressFamily, socket.SocketKind)):
            return x.name
        return repr(x)[:24]

    return "-".join(one(x) for x in case)


@pytest.mark.parametrize("case", GAI_CASES, ids=[_id(c) for c in GAI_CASES])
def test_getaddrinfo_equals_socket(loop, case):
    """loop.getaddrinfo returns exactly socket.getaddrinfo's list (same order,
    same enum types) for the same arguments."""
    host, port, family, type_, proto, flags = case
    if ":" in str(host) and not has_ipv6():
        pytest.skip("no IPv6 support")
    expected = outcome(socket.getaddrinfo, host, port, family, type_, proto, flags)
    got = loop_outcome(loop, loop.getaddrinfo, host, port, family=family, type=type_,
                       proto=proto, flags=flags)
    assert got == expected
    if expected[0] == "ok":
        assert [tuple(type(x) for x in info[:2]) for info in got[1]] == \
               [tuple(type(x) for x in info[:2]) for info in expected[1]]


@pytest.mark.parametrize("case", GAI_ERROR_CASES, ids=[_id(c) for c in GAI_ERROR_CASES])
def test_getaddrinfo_errors_equal_socket(loop, case):
    """Failing lookups and bad arguments raise what socket.getaddrinfo raises:
    same exception type, errno and message."""
    host, port, family, type_, proto, flags = case
    expected = outcome(socket.getaddrinfo, host, port, family, type_, proto, flags)
    assert expected[0] == "error", expected  # the case is meant to fail
    got = loop_outcome(loop, loop.getaddrinfo, host, port, family=family, type=type_,
                       proto=proto, flags=flags)
    assert got == expected


def test_getaddrinfo_gaierror_attributes(loop):
    """A resolution failure is a socket.gaierror carrying errno and strerror."""
    with pytest.raises(socket.gaierror) as info:
        run(loop, loop.getaddrinfo("localhost", 80, flags=socket.AI_NUMERICHOST))
    try:
        socket.getaddrinfo("localhost", 80, flags=socket.AI_NUMERICHOST)
    except socket.gaierror as ref:
        assert (info.value.errno, info.value.strerror) == (ref.errno, ref.strerror)
    else:
        pytest.fail("socket.getaddrinfo unexpectedly succeeded")


NI_CASES = [
    (("127.0.0.1", 80), 0),
    (("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV),
    (("127.0.0.1", 53), socket.NI_DGRAM),
    (("127.0.0.1", 80), socket.NI_NAMEREQD),
    (("127.0.0.1", 0), socket.NI_NUMERICSERV),
    (("127.0.0.1", 65535), 0),
    (("127.0.0.1", 70000), 0),
    (("::1", 443, 0, 0), socket.NI_NUMERICHOST),
    (("::1", 443), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV),
    (("fe80::1", 80, 0, 1), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV),
]

NI_ERROR_CASES = [
    (("127.0.0.1", 80, 0, 0), 0),  # OSError: IPv4 sockaddr must be 2 tuple
    (["127.0.0.1", 80], 0),  # TypeError: argument 1 must be a tuple
    ("127.0.0.1", 0),
    (("127.0.0.1",), 0),  # TypeError: illegal sockaddr argument
    (("127.0.0.1", 80, 0, 0, 0), 0),
    (("127.0.0.1", "80"), 0),
    ((b"127.0.0.1", 80), 0),
    (("127.0.0.1", 80), "x"),
    (("127.0.0.1", 80), 1.5),
    (("::1", 80, "x", 0), 0),
    (("::1", 80, 0x100000, 0), 0),  # OverflowError: flowinfo must be 0-1048575
    (("::1", 80, -1, 0), 0),
    (("localhost", 80), 0),  # gaierror: numeric host required
    (("127.0.0.1", -1), 0),
    (("127.0.0.1", 2 ** 70), 0),
]


@pytest.mark.parametrize("case", NI_CASES, ids=[_id(c) for c in NI_CASES])
def test_getnameinfo_equals_socket(loop, case):
    """loop.getnameinfo returns what socket.getnameinfo returns."""
    sockaddr, flags = case
    if ":" in sockaddr[0] and not has_ipv6():
        pytest.skip("no IPv6 support")
    expected = outcome(socket.getnameinfo, sockaddr, flags)
    got = loop_outcome(loop, loop.getnameinfo, sockaddr, flags)
    assert got == expected


@pytest.mark.parametrize("case", NI_ERROR_CASES, ids=[_id(c) for c in NI_ERROR_CASES])
def test_getnameinfo_errors_equal_socket(loop, case):
    """Bad arguments to getnameinfo raise what socket.getnameinfo raises
    (same type and message)."""
    sockaddr, flags = case
    expected = outcome(socket.getnameinfo, sockaddr, flags)
    assert expected[0] == "error", expected
    got = loop_outcome(loop, loop.getnameinfo, sockaddr, flags)
    assert got == expected


def test_getnameinfo_default_flags(loop):
    """flags defaults to 0."""
    assert run(loop, loop.getnameinfo(("127.0.0.1", 80))) == socket.getnameinfo(("127.0.0.1", 80), 0)


def test_many_concurrent_lookups(loop):
    """500 concurrent getaddrinfo calls all complete with socket's results."""
    ports = list(range(1000, 1500))

    async def main():
        return await asyncio.gather(*(
            loop.getaddrinfo("localhost", p, type=socket.SOCK_STREAM) for p in ports))

    results = run(loop, main())
    assert results == [socket.getaddrinfo("localhost", p, 0, socket.SOCK_STREAM) for p in ports]


def test_cancel_pending_lookup(loop):
    """Cancelling pending getaddrinfo calls raises CancelledError in the
    callers, reports nothing to the exception handler, and later lookups work."""
    calls = []
    loop.set_exception_handler(lambda lp, ctx: calls.append(ctx))

    async def main():
        tasks = [asyncio.ensure_future(loop.getaddrinfo("localhost", 80 + i)) for i in range(50)]
        await asyncio.sleep(0)
        for t in tasks:
            t.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        after = await loop.getaddrinfo("localhost", 80)
        await asyncio.sleep(0.2)  # let the abandoned lookups finish
        again = await loop.getaddrinfo("127.0.0.1", 443)
        return outcomes, after, again

    outcomes, after, again = run(loop, main())
    # A lookup may finish during the sleep(0) before the cancel (asyncio's
    # executor threads do, on a loaded machine): its caller has the answer.
    for i, o in enumerate(outcomes):
        if not isinstance(o, asyncio.CancelledError):
            assert o == socket.getaddrinfo("localhost", 80 + i), outcomes
    assert after == socket.getaddrinfo("localhost", 80)
    assert again == socket.getaddrinfo("127.0.0.1", 443)
    assert calls == []


def test_lookups_on_closed_loop(loop):
    """getaddrinfo/getnameinfo on a closed loop raise RuntimeError."""
    loop.close()
    for coro in (loop.getaddrinfo("localhost", 80), loop.getnameinfo(("127.0.0.1", 80))):
        with pytest.raises(RuntimeError, match="Event loop is closed"):
            coro.send(None)
        coro.close()


def test_close_loop_with_lookups_in_flight(run_in_subprocess):
    """Closing the loop while many lookups are still pending neither crashes
    nor hangs the process."""
    proc = run_in_subprocess(
        """
        loop = new_loop()
        async def start():
            return [loop.create_task(loop.getaddrinfo("localhost", 1000 + i)) for i in range(300)]
        tasks = loop.run_until_complete(start())
        loop.run_until_complete(asyncio.sleep(0))
        pending = sum(not t.done() for t in tasks)
        loop.close()
        time.sleep(0.5)  # let the lookups finish after the close
        print("pending at close:", pending)
        print("ok")
        """,
        timeout=60,
    )
    assert proc.returncode == 0, proc
    assert "ok" in proc.stdout, proc
    assert "Fatal Python error" not in proc.stderr, proc
