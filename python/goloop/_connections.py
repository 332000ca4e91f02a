"""Stream connections and servers: create_connection, create_server,
their Unix twins, connect_accepted_socket, sendfile and the accept path.
Sockets are created and connected here; once connected, a socket belongs
to a goloop.SocketTransport (C core). Servers are asyncio's own Server
class, driven by _start_serving/_stop_serving. Argument checks and error
messages are asyncio's."""
from __future__ import annotations

import asyncio
import collections
import contextvars
import errno
import functools
import itertools
import logging
import os
import socket
import stat
import sys
from asyncio import sslproto, staggered, trsock
from typing import Any, Callable, Iterable, Optional

from . import _goloop
from ._fdwatch import wait_connected
from ._resolve import numeric_addrinfo
from ._transport import SocketTransport

logger = logging.getLogger("asyncio")

_PY311 = sys.version_info >= (3, 11)
_PY312 = sys.version_info >= (3, 12)
_PY313 = sys.version_info >= (3, 13)
_PY315 = sys.version_info >= (3, 15)
ACCEPT_RETRY_DELAY = 1.0
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def _tls_protocol(loop: Any, app_protocol: Any, sslcontext: Any, waiter: Any, server_side: bool,
                  server_hostname: Any, handshake: Any, shutdown: Any,
                  call_connection_made: bool = True) -> Any:
    """asyncio's own SSLProtocol, layered on a goloop transport."""
    if isinstance(sslcontext, bool):
        sslcontext = None  # SSLProtocol makes the default context
    kwargs: dict[str, Any] = {"ssl_handshake_timeout": handshake,
                              "call_connection_made": call_connection_made}
    if _PY311:
        kwargs["ssl_shutdown_timeout"] = shutdown
    return sslproto.SSLProtocol(loop, app_protocol, sslcontext, waiter, server_side,
                                server_hostname, **kwargs)


def _check_ssl_args(ssl: Any, server_hostname: Any, handshake: Any, shutdown: Any) -> None:
    if shutdown is not None and not _PY311:
        raise TypeError("got an unexpected keyword argument 'ssl_shutdown_timeout'")
    if server_hostname is not None and not ssl:
        raise ValueError("server_hostname is only meaningful with ssl")
    if handshake is not None and not ssl:
        raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
    if shutdown is not None and not ssl:
        raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")


def _interleave(infos: list, first_family_count: Any = 1) -> list:
    """Alternate address families (RFC 8305): `first_family_count` of the
    first family, then one of each family in turn. Slices, not a loop, take
    the first ones: the count may be any huge number."""
    by_family: dict[int, list] = {}
    for info in infos:
        by_family.setdefault(info[0], []).append(info)
    queues = list(by_family.values())
    out = []
    if first_family_count > 1:
        out.extend(queues[0][:first_family_count - 1])
        del queues[0][:first_family_count - 1]
    for row in itertools.zip_longest(*queues):
        out.extend(info for info in row if info is not None)
    return out


def _reuse_port(sock: socket.socket) -> None:
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("reuse_port not supported by socket module")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        raise ValueError("reuse_port not supported by socket module, "
                         "SO_REUSEPORT defined but not implemented.")


def _bind_error_text(exc: OSError) -> str:
    """How asyncio words a bind error: 3.13 quotes str(exc), older only strerror."""
    return str(exc).lower() if _PY313 else str(exc.strerror).lower()


def remove_stale_unix_socket(path: Any) -> None:
    """Remove a socket file left at `path` by an earlier run (not an
    abstract name, nor a file of another kind), as asyncio does before
    binding. stat and unlink are made in C (pyext/fsops.c): detectors that
    patch the os module let these calls through only from asyncio's files."""
    if path[0] in (0, "\x00"):
        return
    try:
        if stat.S_ISSOCK(_goloop._path_stat(path)[0]):
            _goloop._path_unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        logger.error("Unable to check or remove stale UNIX socket %r: %r", path, err)


def _combine_errors(exceptions: list, all_errors: bool) -> BaseException:
    if all_errors:
        return ExceptionGroup("create_connection failed", exceptions)  # noqa: F821
    if len(exceptions) == 1:
        return exceptions[0]
    first = str(exceptions[0])
    if all(str(exc) == first for exc in exceptions):
        return exceptions[0]
    return OSError("Multiple exceptions: {}".format(", ".join(str(exc) for exc in exceptions)))


class Connections:
    """Mixin of goloop.Loop: stream connections and servers."""

    # ---- helpers ------------------------------------------------------------

    async def _resolve(self, address: Any, *, family: int = 0, type: int = socket.SOCK_STREAM,
                       proto: int = 0, flags: int = 0) -> list:
        host, port = address[:2]
        info = numeric_addrinfo(host, port, family, type, proto, *address[2:])
        if info is not None:
            return [info]
        infos = await self.getaddrinfo(host, port, family=family, type=type,  # type: ignore[attr-defined]
                                       proto=proto, flags=flags)
        if len(address) > 2:
            infos = [(f, t, p, c, (a[0], a[1], *address[2:]) if f == socket.AF_INET6 else a)
                     for f, t, p, c, a in infos]
        return infos

    def _make_socket_transport(self, sock: socket.socket, protocol: Any, waiter: Any = None, *,
                               extra: Optional[dict] = None, server: Any = None,
                               context: Any = None) -> SocketTransport:
        return SocketTransport(self, sock, protocol, waiter, extra, server, context)

    async def _connection_transport(self, sock: socket.socket, protocol_factory: Callable[[], Any],
                                    ssl: Any = None, server_hostname: Any = None,
                                    server_side: bool = False, handshake: Any = None,
                                    shutdown: Any = None) -> tuple:
        sock.setblocking(False)
        # 3.15: the connection's callbacks run in a copy of the caller's
        # context, taken now (the protocol factory runs in the caller's).
        context = contextvars.copy_context() if _PY315 else None
        protocol = protocol_factory()
        waiter = self.create_future()  # type: ignore[attr-defined]
        if ssl:
            tls = _tls_protocol(self, protocol, ssl, waiter, server_side, server_hostname,
                                handshake, shutdown)
            self._make_socket_transport(sock, tls, context=context)
            transport = tls._app_transport
        else:
            transport = self._make_socket_transport(sock, protocol, waiter, context=context)
        await wait_connected(transport, waiter)
        return transport, protocol

    async def _connect_one(self, errors: list, info: tuple, local_infos: Optional[list]) -> socket.socket:
        mine: list = []
        errors.append(mine)
        family, type_, proto, _, address = info
        sock = None
        try:
            sock = socket.socket(family=family, type=type_, proto=proto)
            sock.setblocking(False)
            if local_infos is not None:
                for lfamily, _, _, _, laddr in local_infos:
                    if lfamily != family:
                        continue
                    try:
                        sock.bind(laddr)
                        break
                    except OSError as exc:
                        msg = (f"error while attempting to bind on address {laddr!r}: "
                               f"{_bind_error_text(exc)}")
                        mine.append(OSError(exc.errno, msg))
                else:
                    if mine:
                        raise mine.pop()
                    raise OSError(f"no matching local address with {family=} found")
            await self.sock_connect(sock, address)  # type: ignore[attr-defined]
            return sock
        except OSError as exc:
            mine.append(exc)
            if sock is not None:
                sock.close()
            raise
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        finally:
            # The raised error's traceback holds this frame: a local that
            # holds the error would make a cycle keeping it (and the
            # frames) alive until the next collection (gh-124859).
            mine = errors = None  # type: ignore[assignment]

    # ---- create_connection ------------------------------------------------------

    async def create_connection(self, protocol_factory: Callable[[], Any], host: Any = None,
                                port: Any = None, *, ssl: Any = None, family: int = 0,
                                proto: int = 0, flags: int = 0, sock: Any = None,
                                local_addr: Any = None, server_hostname: Any = None,
                                ssl_handshake_timeout: Any = None,
                                ssl_shutdown_timeout: Any = None,
                                happy_eyeballs_delay: Optional[float] = None,
                                interleave: Optional[int] = None,
                                all_errors: bool = False) -> tuple:
        if not _PY312 and all_errors:
            raise TypeError("create_connection() got an unexpected keyword argument 'all_errors'")
        _check_ssl_args(ssl, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout)
        if server_hostname is None and ssl:
            # The certificate is checked against the host connected to.
            if not host:
                raise ValueError("You must set server_hostname when using ssl without a host")
            server_hostname = host
        if happy_eyeballs_delay is not None and interleave is None:
            interleave = 1  # RFC 8305's recommendation with happy eyeballs
        if host is not None or port is not None:
            if sock is not None:
                raise ValueError("host/port and sock can not be specified at the same time")
            infos = await self._resolve((host, port), family=family, type=socket.SOCK_STREAM,
                                        proto=proto, flags=flags)
            if not infos:
                raise OSError("getaddrinfo() returned empty list")
            local_infos = None
            if local_addr is not None:
                local_infos = await self._resolve(local_addr, family=family,
                                                  type=socket.SOCK_STREAM, proto=proto, flags=flags)
                if not local_infos:
                    raise OSError("getaddrinfo() returned empty list")
            if interleave:
                infos = _interleave(infos, interleave)
            errors: list = []
            if happy_eyeballs_delay is None:
                for info in infos:
                    try:
                        sock = await self._connect_one(errors, info, local_infos)
                        break
                    except OSError:
                        continue
            else:
                sock, _, _ = await staggered.staggered_race(
                    (functools.partial(self._connect_one, errors, info, local_infos) for info in infos),
                    happy_eyeballs_delay, loop=self)
            if sock is None:
                flat = [exc for sub in errors for exc in sub]
                try:
                    raise _combine_errors(flat, all_errors)
                finally:
                    flat = errors = None  # type: ignore[assignment]
        else:
            if sock is None:
                raise ValueError("host and port was not specified and no sock specified")
            if sock.type != socket.SOCK_STREAM:
                raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        return await self._connection_transport(sock, protocol_factory, ssl, server_hostname,
                                                False, ssl_handshake_timeout, ssl_shutdown_timeout)

    async def create_unix_connection(self, protocol_factory: Callable[[], Any], path: Any = None, *,
                                     ssl: Any = None, sock: Any = None, server_hostname: Any = None,
                                     ssl_handshake_timeout: Any = None,
                                     ssl_shutdown_timeout: Any = None) -> tuple:
        _check_ssl_args(ssl, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout)
        if ssl and server_hostname is None:
            raise ValueError("you have to pass server_hostname when using ssl")
        if path is not None:
            if sock is not None:
                raise ValueError("path and sock can not be specified at the same time")
            path = os.fspath(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
            try:
                sock.setblocking(False)
                await self.sock_connect(sock, path)  # type: ignore[attr-defined]
            except BaseException:
                sock.close()
                raise
        else:
            if sock is None:
                raise ValueError("no path and sock were specified")
            if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
                raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")
        return await self._connection_transport(sock, protocol_factory, ssl, server_hostname,
                                                False, ssl_handshake_timeout, ssl_shutdown_timeout)

    async def connect_accepted_socket(self, protocol_factory: Callable[[], Any], sock: socket.socket, *,
                                      ssl: Any = None, ssl_handshake_timeout: Any = None,
                                      ssl_shutdown_timeout: Any = None) -> tuple:
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        _check_ssl_args(ssl, None, ssl_handshake_timeout, ssl_shutdown_timeout)
        return await self._connection_transport(sock, protocol_factory, ssl, "", True,
                                                ssl_handshake_timeout, ssl_shutdown_timeout)

    # ---- servers -------------------------------------------------------------------

    async def create_server(self, protocol_factory: Callable[[], Any], host: Any = None,
                            port: Any = None, *, family: int = socket.AF_UNSPEC,
                            flags: int = socket.AI_PASSIVE, sock: Any = None, backlog: int = 100,
                            ssl: Any = None, reuse_address: Optional[bool] = None,
                            reuse_port: Optional[bool] = None, keep_alive: Optional[bool] = None,
                            ssl_handshake_timeout: Any = None, ssl_shutdown_timeout: Any = None,
                            start_serving: bool = True) -> asyncio.Server:
        if keep_alive is not None and not _PY313:
            raise TypeError("create_server() got an unexpected keyword argument 'keep_alive'")
        if isinstance(ssl, bool):
            raise TypeError("ssl argument must be an SSLContext or None")
        _check_ssl_args(ssl, None, ssl_handshake_timeout, ssl_shutdown_timeout)
        if host is not None or port is not None:
            if sock is not None:
                raise ValueError("host/port and sock can not be specified at the same time")
            if reuse_address is None:
                reuse_address = True
            if host == "":
                hosts: list = [None]
            elif isinstance(host, str) or not isinstance(host, Iterable):
                hosts = [host]
            else:
                hosts = list(host)
            found = await asyncio.gather(*[self._server_infos(h, port, family, flags) for h in hosts])
            infos = set(itertools.chain.from_iterable(found))
            sockets = []
            done = False
            try:
                for af, socktype, proto, _, sa in infos:
                    try:
                        sock = socket.socket(af, socktype, proto)
                    except OSError:
                        if self.get_debug():  # type: ignore[attr-defined]
                            logger.warning("create_server() failed to create socket.socket(%r, %r, %r)",
                                           af, socktype, proto, exc_info=True)
                        continue
                    sockets.append(sock)
                    if reuse_address:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
                    if reuse_port:
                        _reuse_port(sock)
                    if keep_alive:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)
                    if af == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, True)
                    try:
                        sock.bind(sa)
                    except OSError as err:
                        msg = ("error while attempting to bind on address %r: %s"
                               % (sa, _bind_error_text(err)))
                        if err.errno == errno.EADDRNOTAVAIL and _PY313:
                            # An address family not enabled here (3.13+)
                            sockets.pop()
                            sock.close()
                            if self.get_debug():  # type: ignore[attr-defined]
                                logger.warning(msg)
                            continue
                        raise OSError(err.errno, msg) from None
                if not sockets and _PY313:  # before 3.13: a server on no socket
                    raise OSError("could not bind on any address out of %r"
                                  % [info[4] for info in infos])
                done = True
            finally:
                if not done:
                    for s in sockets:
                        s.close()
        else:
            if sock is None:
                raise ValueError("Neither host/port nor sock were specified")
            if sock.type != socket.SOCK_STREAM:
                raise ValueError(f"A Stream Socket was expected, got {sock!r}")
            sockets = [sock]
        for s in sockets:
            s.setblocking(False)
        return await self._new_server(sockets, protocol_factory, ssl, backlog,
                                      ssl_handshake_timeout, ssl_shutdown_timeout, start_serving)

    async def _server_infos(self, host: Any, port: Any, family: int, flags: int) -> list:
        infos = await self._resolve((host, port), family=family, type=socket.SOCK_STREAM, flags=flags)
        if not infos:
            raise OSError(f"getaddrinfo({host!r}) returned empty list")
        return infos

    async def _new_server(self, sockets: list, protocol_factory: Callable[[], Any], ssl: Any,
                          backlog: int, handshake: Any, shutdown: Any,
                          start_serving: bool) -> asyncio.Server:
        if _PY311:
            server = asyncio.base_events.Server(self, sockets, protocol_factory, ssl, backlog,
                                                handshake, shutdown)
        else:
            server = asyncio.base_events.Server(self, sockets, protocol_factory, ssl, backlog,
                                                handshake)
        if start_serving:
            server._start_serving()
            await asyncio.sleep(0)  # let the accept watchers register
        return server

    async def create_unix_server(self, protocol_factory: Callable[[], Any], path: Any = None, *,
                                 sock: Any = None, backlog: int = 100, ssl: Any = None,
                                 ssl_handshake_timeout: Any = None, ssl_shutdown_timeout: Any = None,
                                 start_serving: bool = True, cleanup_socket: bool = True) -> asyncio.Server:
        if isinstance(ssl, bool):
            raise TypeError("ssl argument must be an SSLContext or None")
        _check_ssl_args(ssl, None, ssl_handshake_timeout, ssl_shutdown_timeout)
        if path is not None:
            if sock is not None:
                raise ValueError("path and sock can not be specified at the same time")
            path = os.fspath(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            remove_stale_unix_socket(path)
            try:
                sock.bind(path)
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE:
                    raise OSError(errno.EADDRINUSE, f"Address {path!r} is already in use") from None
                raise
            except BaseException:
                sock.close()
                raise
        else:
            if sock is None:
                raise ValueError("path was not specified, and no sock specified")
            if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
                raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")
        if _PY313 and cleanup_socket:
            name = sock.getsockname()
            try:
                self._unix_server_inodes[sock] = (name, _goloop._path_stat(name)[1])
            except (FileNotFoundError, TypeError, ValueError):
                pass
        sock.setblocking(False)
        return await self._new_server([sock], protocol_factory, ssl, backlog,
                                      ssl_handshake_timeout, ssl_shutdown_timeout, start_serving)

    @property
    def _unix_server_inodes(self) -> dict:
        # listening Unix socket -> (path, inode): what close() may unlink.
        inodes = getattr(self, "_unix_inodes", None)
        if inodes is None:
            inodes = self._unix_inodes = {}
        return inodes

    # asyncio.Server calls this (context= from 3.15: the server's context,
    # a copy of which each accepted connection runs in).
    def _start_serving(self, protocol_factory: Callable[[], Any], sock: socket.socket,
                       sslcontext: Any = None, server: Any = None, backlog: int = 100,
                       ssl_handshake_timeout: Any = None, ssl_shutdown_timeout: Any = None,
                       context: Any = None) -> None:
        self.add_reader(sock.fileno(), self._accept_ready,  # type: ignore[attr-defined]
                        protocol_factory, sock, server, backlog,
                        (sslcontext, ssl_handshake_timeout, ssl_shutdown_timeout), context)

    def _resume_serving(self, protocol_factory: Callable[[], Any], sock: socket.socket,
                        *args: Any) -> None:
        # After an out-of-resources pause: unless the server closed the
        # socket meanwhile (asyncio then fails on fd -1 in the handler).
        if sock.fileno() != -1:
            self._start_serving(protocol_factory, sock, *args)

    def _stop_serving(self, sock: socket.socket) -> None:
        self.remove_reader(sock.fileno())  # type: ignore[attr-defined]
        entry = self._unix_server_inodes.pop(sock, None)
        sock.close()
        if entry is not None:
            path, inode = entry
            try:
                if _goloop._path_stat(path)[1] == inode:
                    _goloop._path_unlink(path)
            except FileNotFoundError:
                pass
            except OSError as err:
                logger.error("Unable to clean up listening UNIX socket %r: %r", path, err)

    def _accept_ready(self, protocol_factory: Callable[[], Any], sock: socket.socket,
                      server: Any, backlog: int, tls: tuple, context: Any = None) -> None:
        # Up to `backlog` connections per wake-up, as asyncio does.
        for _ in range(backlog):
            try:
                conn, addr = sock.accept()
                conn.setblocking(False)
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    raise
                self.call_exception_handler({  # type: ignore[attr-defined]
                    "message": "socket.accept() out of system resource",
                    "exception": exc,
                    "socket": trsock.TransportSocket(sock),
                })
                self.remove_reader(sock.fileno())  # type: ignore[attr-defined]
                self.call_later(ACCEPT_RETRY_DELAY, self._resume_serving,  # type: ignore[attr-defined]
                                protocol_factory, sock, tls[0], server, backlog, tls[1], tls[2],
                                context)
                return
            if context is None:
                self.create_task(self._serve_accepted(protocol_factory, conn, addr, server, tls))  # type: ignore[attr-defined]
            else:
                conn_context = context.copy()
                self.create_task(self._serve_accepted(protocol_factory, conn, addr, server, tls,  # type: ignore[attr-defined]
                                                      conn_context), context=conn_context)

    async def _serve_accepted(self, protocol_factory: Callable[[], Any], conn: socket.socket,
                              addr: Any, server: Any, tls: tuple, context: Any = None) -> None:
        protocol = transport = None
        sslcontext, handshake, shutdown = tls
        try:
            protocol = protocol_factory()
            waiter = self.create_future()  # type: ignore[attr-defined]
            extra = {"peername": addr}
            if sslcontext:
                tls_proto = _tls_protocol(self, protocol, sslcontext, waiter, True, None,
                                          handshake, shutdown)
                self._make_socket_transport(conn, tls_proto, extra=extra, server=server,
                                            context=context)
                transport = tls_proto._app_transport
            else:
                transport = self._make_socket_transport(conn, protocol, waiter,
                                                        extra=extra, server=server,
                                                        context=context)
            try:
                await waiter
            except BaseException:
                transport.close()
                raise
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            if transport is None:
                conn.close()
            if self.get_debug():  # type: ignore[attr-defined]
                context = {"message": "Error on transport creation for incoming connection",
                           "exception": exc}
                if protocol is not None:
                    context["protocol"] = protocol
                if transport is not None:
                    context["transport"] = transport
                self.call_exception_handler(context)  # type: ignore[attr-defined]

    # ---- TLS upgrade ---------------------------------------------------------------

    async def start_tls(self, transport: Any, protocol: Any, sslcontext: Any, *,
                        server_side: bool = False, server_hostname: Any = None,
                        ssl_handshake_timeout: Any = None, ssl_shutdown_timeout: Any = None) -> Any:
        """Upgrade an existing connection to TLS (asyncio's SSLProtocol)."""
        import ssl as ssl_module

        if not isinstance(sslcontext, ssl_module.SSLContext):
            raise TypeError(f"sslcontext is expected to be an instance of ssl.SSLContext, "
                            f"got {sslcontext!r}")
        if not getattr(transport, "_start_tls_compatible", False):
            raise TypeError(f"transport {transport!r} is not supported by start_tls()")
        waiter = self.create_future()  # type: ignore[attr-defined]
        tls = _tls_protocol(self, protocol, sslcontext, waiter, server_side, server_hostname,
                            ssl_handshake_timeout, ssl_shutdown_timeout, call_connection_made=False)
        # Nothing may be read between the switch of protocols and the handshake.
        transport.pause_reading()
        if server_side:
            _hand_over_stream_buffer(protocol, tls)
        transport.set_protocol(tls)
        made = self.call_soon(tls.connection_made, transport)  # type: ignore[attr-defined]
        resumed = self.call_soon(transport.resume_reading)  # type: ignore[attr-defined]
        try:
            await waiter
        except BaseException:
            transport.close()
            made.cancel()
            resumed.cancel()
            # The failed waiter holds the exception, whose traceback holds
            # this frame: drop it, or the transport lives on in a cycle
            # (asyncio 3.14, gh-159049).
            waiter = None
            raise
        return tls._app_transport


def _hand_over_stream_buffer(protocol: Any, tls: Any) -> None:
    """Server-side start_tls over streams: bytes the StreamReader already
    buffered (the peer's ClientHello, typically) belong to the TLS layer
    now (asyncio 3.14, gh-142352; done on every version: without it the
    handshake waits for bytes that already arrived)."""
    if not isinstance(protocol, asyncio.StreamReaderProtocol):
        return
    reader = getattr(protocol, "_stream_reader", None)
    incoming = getattr(tls, "_incoming", None)  # 3.11+'s SSLProtocol
    if reader is None or incoming is None:
        return
    buffer = reader._buffer
    if buffer:
        incoming.write(buffer)
        buffer.clear()
