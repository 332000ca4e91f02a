"""Bad arguments, differentially: every loop method below is called with a
range of wrong values on a fresh asyncio loop and a fresh goloop loop, and
goloop must end the same way (same exception type, or success). This is a
sweep, not a spec: it finds the cases nobody thought to write a test for
(it found OverflowError from remove_reader(2**70), where asyncio returns
False). The one intended difference, call_at with a non-number `when`, is
left out of the sweep and has its own test at the end."""

from __future__ import annotations

import asyncio
import math
import socket
import warnings

import pytest

from tests.conftest import asyncio_new_loop, import_goloop

VALUES = [None, -1, 0, 2**70, -2**70, 1.5, math.nan, math.inf, "x", b"x",
          object(), [], (), True]


def cb(*args):
    pass


async def coro():
    pass


SYNC = {
    "call_soon": lambda lp, v: lp.call_soon(v),
    "call_soon(context=)": lambda lp, v: lp.call_soon(cb, context=v),
    "call_soon_threadsafe": lambda lp, v: lp.call_soon_threadsafe(v),
    "call_later(delay)": lambda lp, v: lp.call_later(v, cb),
    "call_later(callback)": lambda lp, v: lp.call_later(1, v),
    "call_at(callback)": lambda lp, v: lp.call_at(1, v),
    "create_task": lambda lp, v: lp.create_task(v),
    "add_reader(fd)": lambda lp, v: lp.add_reader(v, cb),
    "add_reader(callback)": lambda lp, v: lp.add_reader(0, v),
    "remove_reader": lambda lp, v: lp.remove_reader(v),
    "add_writer(fd)": lambda lp, v: lp.add_writer(v, cb),
    "remove_writer": lambda lp, v: lp.remove_writer(v),
    "add_signal_handler(sig)": lambda lp, v: lp.add_signal_handler(v, cb),
    "add_signal_handler(callback)": lambda lp, v: lp.add_signal_handler(2, v),
    "remove_signal_handler": lambda lp, v: lp.remove_signal_handler(v),
    "set_exception_handler": lambda lp, v: lp.set_exception_handler(v),
    "set_task_factory": lambda lp, v: lp.set_task_factory(v),
    "set_default_executor": lambda lp, v: lp.set_default_executor(v),
    "run_in_executor(func)": lambda lp, v: lp.run_in_executor(None, v),
    "run_in_executor(executor)": lambda lp, v: lp.run_in_executor(v, cb),
    "run_until_complete": lambda lp, v: lp.run_until_complete(v),
}

ASYNC = {
    "sock_recv(nbytes)": lambda lp, v, s: lp.sock_recv(s, v),
    "sock_recv(sock)": lambda lp, v, s: lp.sock_recv(v, 10),
    "sock_recv_into(buf)": lambda lp, v, s: lp.sock_recv_into(s, v),
    "sock_sendall(data)": lambda lp, v, s: lp.sock_sendall(s, v),
    "sock_sendall(sock)": lambda lp, v, s: lp.sock_sendall(v, b"x"),
    "sock_connect(address)": lambda lp, v, s: lp.sock_connect(s, v),
    "sock_accept": lambda lp, v, s: lp.sock_accept(v),
    "getaddrinfo(port)": lambda lp, v, s: lp.getaddrinfo("127.0.0.1", v),
    "getaddrinfo(family)": lambda lp, v, s: lp.getaddrinfo("127.0.0.1", 80, family=v),
    "getnameinfo": lambda lp, v, s: lp.getnameinfo(v),
    "create_connection(port)": lambda lp, v, s: lp.create_connection(asyncio.Protocol, "127.0.0.1", v),
    "create_connection(sock)": lambda lp, v, s: lp.create_connection(asyncio.Protocol, sock=v),
    "create_connection(ssl)": lambda lp, v, s: lp.create_connection(asyncio.Protocol, "127.0.0.1", 1, ssl=v),
    "create_server(port)": lambda lp, v, s: lp.create_server(asyncio.Protocol, "127.0.0.1", v),
    "create_server(backlog)": lambda lp, v, s: lp.create_server(asyncio.Protocol, "127.0.0.1", 0, backlog=v),
    "create_unix_connection(path)": lambda lp, v, s: lp.create_unix_connection(asyncio.Protocol, v),
    "create_datagram_endpoint(local_addr)": lambda lp, v, s: lp.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=v),
    "create_datagram_endpoint(family)": lambda lp, v, s: lp.create_datagram_endpoint(
        asyncio.DatagramProtocol, family=v),
    "connect_read_pipe": lambda lp, v, s: lp.connect_read_pipe(asyncio.Protocol, v),
    "subprocess_exec(program)": lambda lp, v, s: lp.subprocess_exec(asyncio.SubprocessProtocol, v),
    "subprocess_shell(cmd)": lambda lp, v, s: lp.subprocess_shell(asyncio.SubprocessProtocol, v),
}

def outcome(new_loop, call, value, is_async) -> str:
    """The exception type name the call ends with, or "ok"."""
    lp = new_loop()
    sock = socket.socket()
    sock.setblocking(False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if is_async:
                lp.run_until_complete(asyncio.wait_for(call(lp, value, sock), 5))
            else:
                call(lp, value)
        return "ok"
    except Exception as exc:
        return type(exc).__name__
    finally:
        sock.close()
        try:
            lp.run_until_complete(asyncio.sleep(0))
        except Exception:
            pass
        try:
            lp.close()  # 3.10 asyncio fails here after set_default_executor(1)
        except Exception:
            pass


def mismatches(table, name, is_async):
    goloop = import_goloop()
    found = []
    for value in VALUES:
        want = outcome(asyncio_new_loop, table[name], value, is_async)
        got = outcome(goloop.new_event_loop, table[name], value, is_async)
        if want != got:
            found.append(f"{name}({value!r}): asyncio {want}, goloop {got}")
    return found


@pytest.mark.parametrize("name", sorted(SYNC))
def test_sync_method_bad_arguments_end_like_asyncio(name):
    assert mismatches(SYNC, name, False) == []


@pytest.mark.parametrize("name", sorted(ASYNC))
def test_coroutine_method_bad_arguments_end_like_asyncio(name):
    assert mismatches(ASYNC, name, True) == []


def test_call_at_rejects_a_non_number_when_at_once():
    """The intended difference: asyncio accepts call_at("x", cb) and fails
    later, inside the loop, when the timer heap compares it; goloop raises
    TypeError at the call (3.11+ asyncio already does so for None)."""
    goloop = import_goloop()
    lp = goloop.new_event_loop()
    try:
        for when in ("x", b"x", object(), [], ()):
            with pytest.raises(TypeError):
                lp.call_at(when, cb)
    finally:
        lp.close()

