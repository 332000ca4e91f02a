"""loop.getaddrinfo / loop.getnameinfo: the arguments are checked and
converted here exactly as the socket module does; the lookup itself runs
in Go (a goroutine calling libc, no Python thread pool) and settles a
future on the loop thread."""
from __future__ import annotations

import functools
import operator
import socket
import sys
from typing import Any


def _host_arg(host: Any) -> bytes | None:
    if host is None:
        return None
    if isinstance(host, str):
        return host.encode("idna")
    if isinstance(host, bytes):
        return bytes(host)
    raise TypeError("getaddrinfo() argument 1 must be string or None")


@functools.cache
def _socket_takes_int_subclass_ports() -> bool:
    """Whether this interpreter's socket.getaddrinfo takes an int subclass
    (a bool, an IntEnum) as a port: newer ones do (by its int value), older
    ones raise OSError. Asked once, of a numeric lookup that does no I/O."""
    try:
        socket.getaddrinfo("127.0.0.1", True,
                           flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)
    except OSError as exc:
        return not str(exc).startswith("Int or String expected")
    return True


def _port_arg(port: Any) -> bytes | None:
    if port is None:
        return None
    if type(port) is int or (isinstance(port, int) and _socket_takes_int_subclass_ports()):
        if sys.version_info < (3, 12) and not -(2**63) <= port < 2**63:
            raise OverflowError("Python int too large to convert to C long")
        return int.__repr__(port).encode()  # the value, whatever a subclass prints
    if isinstance(port, str):
        return port.encode("utf-8")
    if isinstance(port, bytes):
        return bytes(port)
    raise OSError("Int or String expected")


def numeric_addrinfo(host: Any, port: Any, family: int, type: int, proto: int,
                     *v6_extra: int) -> tuple | None:
    """The one getaddrinfo() entry of an IP-literal host, or None when a real
    lookup is needed. Like asyncio, connecting to an IP address must not
    suspend: the connect() is issued in the caller's step."""
    if host is None or proto not in (0, socket.IPPROTO_TCP, socket.IPPROTO_UDP):
        return None
    if type == socket.SOCK_STREAM:
        proto = socket.IPPROTO_TCP
    elif type == socket.SOCK_DGRAM:
        proto = socket.IPPROTO_UDP
    else:
        return None
    if port is None or port in (b"", ""):
        port = 0
    else:
        try:
            port = int(port)
        except (TypeError, ValueError):
            return None  # a service name
    families = (socket.AF_INET, socket.AF_INET6) if family == socket.AF_UNSPEC else (family,)
    if isinstance(host, bytes):
        host = host.decode("idna")
    # A host that is neither str nor bytes is a TypeError here, before any
    # lookup, as in asyncio ("%" in it, or inet_pton, refuses it).
    if "%" in host:
        return None  # scoped IPv6 addresses need the resolver
    for af in families:
        try:
            socket.inet_pton(af, host)
        except OSError:
            continue
        if af not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = (host, port, *(v6_extra or (0, 0))) if af == socket.AF_INET6 else (host, port)
        return (socket.AddressFamily(af), socket.SocketKind(type), proto, "", address)
    return None


def _enum(value: int, enum_type: Any) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        return value


class Resolver:
    """Mixin of goloop.Loop: name resolution."""

    def _check_default_executor(self) -> None:
        # asyncio resolves in its default executor, which refuses work once
        # shutdown_default_executor() was called; goloop's lookups need no
        # executor, but answer the same.
        if self._executor_shutdown_called:  # type: ignore[attr-defined]
            raise RuntimeError("Executor shutdown has been called")

    async def getaddrinfo(self, host: Any, port: Any, *, family: int = 0,
                          type: int = 0, proto: int = 0, flags: int = 0) -> list[tuple[Any, ...]]:
        self._check_closed()  # type: ignore[attr-defined]
        self._check_default_executor()
        fut = self.create_future()  # type: ignore[attr-defined]
        self._getaddrinfo(fut, _host_arg(host), _port_arg(port),  # type: ignore[attr-defined]
                          family, type, proto, flags)
        raw = await fut
        return [(_enum(f, socket.AddressFamily), _enum(t, socket.SocketKind), p, c, a)
                for f, t, p, c, a in raw]

    async def getnameinfo(self, sockaddr: Any, flags: int = 0) -> tuple[str, str]:
        self._check_closed()  # type: ignore[attr-defined]
        self._check_default_executor()
        flags = operator.index(flags)
        # The socket module's own parsing checks the arguments, with its
        # exact errors; numeric-only, it does no lookup and cannot block.
        socket.getnameinfo(sockaddr, socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)
        host, port, *rest = sockaddr
        flowinfo = int(rest[0]) if rest else 0
        scope_id = int(rest[1]) if len(rest) > 1 else 0
        fut = self.create_future()  # type: ignore[attr-defined]
        self._getnameinfo(fut, host, str(port), flowinfo, scope_id,  # type: ignore[attr-defined]
                          len(sockaddr) > 2, int(flags))
        return await fut
