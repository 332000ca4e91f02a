"""TLS over stream transports: ssl= on start_server/open_connection,
create_server/create_connection and their Unix twins, loop.start_tls
upgrades, loop.sendfile over TLS, and the ssl-related argument checks.

A self-signed certificate for 'localhost' / 127.0.0.1 is made at test time
with the openssl command-line tool. What must hold: data crosses TLS intact
in both directions, certificate verification failures surface as
ssl.SSLCertVerificationError, TLS extra info is available, and bad ssl
arguments raise asyncio's exceptions and messages.
"""

import asyncio
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

import pytest
from tests.io_helpers import _collect_garbage, run, wait_until  # noqa: F401

PY311 = sys.version_info >= (3, 11)


@pytest.fixture(scope="module")
def certfiles(tmp_path_factory):
    """(certfile, keyfile) of a self-signed certificate for localhost."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command-line tool is needed to make a test certificate"
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.fixture
def server_ctx(certfiles):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certfiles)
    return ctx


@pytest.fixture
def client_ctx(certfiles):
    return ssl.create_default_context(cafile=certfiles[0])


@pytest.fixture
def shortdir():
    with tempfile.TemporaryDirectory(prefix="gl") as d:
        yield d


class Recorder(asyncio.Protocol):
    def __init__(self):
        loop = asyncio.get_running_loop()
        self.transport = None
        self.data = bytearray()
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self.eof = False

    def connection_made(self, transport):
        self.transport = transport
        self.made.set_result(transport)

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.eof = True

    def connection_lost(self, exc):
        self.lost.set_result(exc)

    async def wait_data(self, n):
        await wait_until(lambda: len(self.data) >= n)
        return bytes(self.data)


async def echo_handler(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def test_tls_streams_echo(loop, server_ctx, client_ctx):
    """start_server(ssl=...) + open_connection(ssl=..., server_hostname=...):
    data is echoed over TLS and the TLS extra info is present."""

    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0, ssl=server_ctx)
        host, port = server.sockets[0].getsockname()
        reader, writer = await asyncio.open_connection(host, port, ssl=client_ctx,
                                                       server_hostname="localhost")
        writer.write(b"secret message\n")
        line = await reader.readline()
        peercert = writer.get_extra_info("peercert")
        info = (
            isinstance(writer.get_extra_info("ssl_object"), ssl.SSLObject),
            writer.get_extra_info("sslcontext") is client_ctx,
            writer.get_extra_info("cipher") is not None,
            writer.get_extra_info("compression", "none"),
            writer.get_extra_info("peername") == (host, port),
            writer.get_extra_info("socket") is not None,
            writer.transport.can_write_eof(),
        )
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return line, peercert, info

    line, peercert, info = run(loop, main())
    assert line == b"secret message\n"
    assert ((("commonName", "localhost"),),) == peercert["subject"]
    assert info == (True, True, True, None, True, True, False)


def test_tls_large_transfer(loop, server_ctx, client_ctx):
    """8 MB sent over TLS and echoed back arrives intact (flow control
    through the TLS layer)."""
    payload = os.urandom(8 * 1024 * 1024)

    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0, ssl=server_ctx)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname(),
                                                       ssl=client_ctx, server_hostname="localhost")

        async def send():
            for i in range(0, len(payload), 1 << 20):
                writer.write(payload[i:i + (1 << 20)])
                await writer.drain()

        sender = asyncio.ensure_future(send())
        got = await reader.readexactly(len(payload))
        await sender
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return got

    got = run(loop, main())
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()


def test_tls_unix(loop, server_ctx, client_ctx, shortdir):
    """TLS works over Unix sockets (create_unix_server / create_unix_connection)."""
    path = os.path.join(shortdir, "tls")

    async def main():
        server = await asyncio.start_unix_server(echo_handler, path, ssl=server_ctx)
        reader, writer = await asyncio.open_unix_connection(path, ssl=client_ctx,
                                                            server_hostname="localhost")
        writer.write(b"unix tls")
        got = await reader.readexactly(8)
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return got

    assert run(loop, main()) == b"unix tls"


def test_tls_untrusted_certificate(loop, server_ctx):
    """A client that does not trust the certificate fails the handshake with
    ssl.SSLCertVerificationError."""

    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0, ssl=server_ctx)
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.open_connection(*server.sockets[0].getsockname(),
                                              ssl=ssl.create_default_context(),
                                              server_hostname="localhost")
        finally:
            server.close()
            await server.wait_closed()

    loop.set_exception_handler(lambda *a: None)
    run(loop, main())


def test_tls_hostname_mismatch(loop, server_ctx, client_ctx):
    """A server_hostname that the certificate does not name fails the
    handshake with ssl.SSLCertVerificationError."""

    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0, ssl=server_ctx)
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.open_connection(*server.sockets[0].getsockname(),
                                              ssl=client_ctx, server_hostname="wrong.example")
        finally:
            server.close()
            await server.wait_closed()

    loop.set_exception_handler(lambda *a: None)
    run(loop, main())


def test_tls_handshake_timeout(loop, client_ctx):
    """A peer that never answers the handshake makes create_connection fail
    with ConnectionAbortedError after ssl_handshake_timeout."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    async def main():
        with pytest.raises(ConnectionAbortedError):
            await loop.create_connection(Recorder, *lsock.getsockname(), ssl=client_ctx,
                                         server_hostname="localhost", ssl_handshake_timeout=0.3)

    loop.set_exception_handler(lambda *a: None)
    try:
        run(loop, main())
    finally:
        lsock.close()


def test_start_tls_upgrade(loop, server_ctx, client_ctx):
    """A plain connection is upgraded with loop.start_tls on both sides; data
    sent afterwards goes through the new TLS transports."""
    state = {}

    class Server(Recorder):
        def data_received(self, data):
            super().data_received(data)
            if bytes(self.data) == b"STARTTLS\n":
                self.transport.write(b"OK\n")
                state["upgrade"] = asyncio.ensure_future(loop.start_tls(
                    self.transport, self, server_ctx, server_side=True))

    async def main():
        made = []
        server = await loop.create_server(lambda: made.append(Server()) or made[-1], "127.0.0.1", 0)
        tr, pr = await loop.create_connection(Recorder, *server.sockets[0].getsockname())
        tr.write(b"STARTTLS\n")
        await pr.wait_data(3)
        assert bytes(pr.data) == b"OK\n"
        pr.data.clear()
        tls_tr = await loop.start_tls(tr, pr, client_ctx, server_hostname="localhost")
        srv_tls = await state["upgrade"]
        sp = made[0]
        sp.data.clear()
        tls_tr.write(b"over tls")
        await sp.wait_data(8)
        srv_tls.write(b"reply over tls")
        await pr.wait_data(14)
        info = (tls_tr.get_extra_info("ssl_object") is not None,
                tls_tr.get_extra_info("peercert")["subject"],
                tls_tr.get_protocol() is pr)
        tls_tr.close()
        await pr.lost
        await sp.lost
        server.close()
        await server.wait_closed()
        return bytes(sp.data), bytes(pr.data), info

    server_got, client_got, info = run(loop, main())
    assert server_got == b"over tls"
    assert client_got == b"reply over tls"
    assert info == (True, ((("commonName", "localhost"),),), True)


@pytest.mark.skipif(not PY311, reason="StreamWriter.start_tls is new in 3.11")
def test_stream_writer_start_tls(loop, server_ctx, client_ctx):
    """StreamWriter.start_tls upgrades a stream connection (3.11+)."""

    async def handle(reader, writer):
        assert await reader.readline() == b"STARTTLS\n"
        writer.write(b"OK\n")
        await writer.drain()
        await writer.start_tls(server_ctx)
        data = await reader.readline()
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        writer.write(b"STARTTLS\n")
        assert await reader.readline() == b"OK\n"
        await writer.start_tls(client_ctx, server_hostname="localhost")
        writer.write(b"hello tls\n")
        line = await reader.readline()
        cipher = writer.get_extra_info("cipher")
        writer.close()
        server.close()
        await server.wait_closed()
        return line, cipher is not None

    assert run(loop, main()) == (b"HELLO TLS\n", True)


async def tls_pair(loop, server_ctx, client_ctx):
    made = []
    server = await loop.create_server(lambda: made.append(Recorder()) or made[-1],
                                      "127.0.0.1", 0, ssl=server_ctx)
    tr, pr = await loop.create_connection(Recorder, *server.sockets[0].getsockname(),
                                          ssl=client_ctx, server_hostname="localhost")
    await wait_until(lambda: made and made[0].made.done())
    return server, tr, pr, made[0]


def test_sendfile_over_tls(loop, server_ctx, client_ctx, tmp_path):
    """loop.sendfile on a TLS transport sends the file (by asyncio's
    read/write fallback) and moves the file position."""
    data = os.urandom(1_000_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)

    async def main():
        server, tr, pr, sp = await tls_pair(loop, server_ctx, client_ctx)
        with open(path, "rb") as f:
            n = await loop.sendfile(tr, f)
            pos = f.tell()
        got = await sp.wait_data(len(data))
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()
        return n, pos, got

    n, pos, got = run(loop, main())
    assert (n, pos) == (len(data), len(data))
    assert got == data


def test_sendfile_over_tls_no_fallback(loop, server_ctx, client_ctx, tmp_path):
    """loop.sendfile(..., fallback=False) on a TLS transport raises RuntimeError
    'fallback is disabled and native sendfile is not supported for transport ...'."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 100)

    async def main():
        server, tr, pr, sp = await tls_pair(loop, server_ctx, client_ctx)
        try:
            with open(path, "rb") as f:
                with pytest.raises(RuntimeError) as info:
                    await loop.sendfile(tr, f, fallback=False)
                pos = f.tell()
        finally:
            tr.close()
            await pr.lost
            server.close()
            await server.wait_closed()
        return str(info.value), pos

    msg, pos = run(loop, main())
    assert msg.startswith("fallback is disabled and native sendfile is not supported for transport")
    assert pos == 0


# -- argument checks ------------------------------------------------------------


def test_ssl_without_host_needs_server_hostname(loop, client_ctx):
    """ssl with sock= and no server_hostname raises ValueError('You must set
    server_hostname when using ssl without a host')."""
    s = socket.socket()
    try:
        for ssl_arg in (True, client_ctx):
            with pytest.raises(ValueError, match="You must set server_hostname when using ssl without a host"):
                run(loop, loop.create_connection(Recorder, sock=s, ssl=ssl_arg))
    finally:
        s.close()


def test_server_hostname_without_ssl(loop):
    """server_hostname (or ssl_handshake_timeout) without ssl raises ValueError
    '... is only meaningful with ssl'."""
    with pytest.raises(ValueError, match="server_hostname is only meaningful with ssl"):
        run(loop, loop.create_connection(Recorder, "127.0.0.1", 9, server_hostname="localhost"))
    with pytest.raises(ValueError, match="ssl_handshake_timeout is only meaningful with ssl"):
        run(loop, loop.create_connection(Recorder, "127.0.0.1", 9, ssl_handshake_timeout=1))
    with pytest.raises(ValueError, match="ssl_handshake_timeout is only meaningful with ssl"):
        run(loop, loop.create_server(Recorder, "127.0.0.1", 0, ssl_handshake_timeout=1))


def test_ssl_shutdown_timeout_argument(loop):
    """ssl_shutdown_timeout without ssl raises ValueError from 3.11; on 3.10
    the keyword does not exist (TypeError)."""
    if PY311:
        with pytest.raises(ValueError, match="ssl_shutdown_timeout is only meaningful with ssl"):
            run(loop, loop.create_connection(Recorder, "127.0.0.1", 9, ssl_shutdown_timeout=1))
        with pytest.raises(ValueError, match="ssl_shutdown_timeout is only meaningful with ssl"):
            run(loop, loop.create_server(Recorder, "127.0.0.1", 0, ssl_shutdown_timeout=1))
    else:
        with pytest.raises(TypeError):
            run(loop, loop.create_connection(Recorder, "127.0.0.1", 9, ssl_shutdown_timeout=1))
        with pytest.raises(TypeError):
            run(loop, loop.create_server(Recorder, "127.0.0.1", 0, ssl_shutdown_timeout=1))


def test_bad_handshake_timeout_value(loop, server_ctx, client_ctx):
    """A non-positive ssl_handshake_timeout raises ValueError 'ssl_handshake_timeout
    should be a positive number, got 0'."""

    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0, ssl=server_ctx)
        try:
            with pytest.raises(ValueError, match="ssl_handshake_timeout should be a positive number, got 0"):
                await loop.create_connection(Recorder, *server.sockets[0].getsockname(), ssl=client_ctx,
                                             server_hostname="localhost", ssl_handshake_timeout=0)
        finally:
            server.close()
            await server.wait_closed()

    run(loop, main())


def test_server_ssl_must_be_context(loop, shortdir):
    """create_server / create_unix_server with ssl=True raise TypeError
    'ssl argument must be an SSLContext or None'."""
    with pytest.raises(TypeError, match="ssl argument must be an SSLContext or None"):
        run(loop, loop.create_server(Recorder, "127.0.0.1", 0, ssl=True))
    with pytest.raises(TypeError, match="ssl argument must be an SSLContext or None"):
        run(loop, loop.create_unix_server(Recorder, os.path.join(shortdir, "s"), ssl=True))


def test_unix_connection_ssl_needs_server_hostname(loop, client_ctx, shortdir):
    """create_unix_connection with ssl and no server_hostname raises ValueError
    'you have to pass server_hostname when using ssl'."""
    with pytest.raises(ValueError, match="you have to pass server_hostname when using ssl"):
        run(loop, loop.create_unix_connection(Recorder, os.path.join(shortdir, "s"), ssl=client_ctx))


def test_start_tls_bad_context(loop):
    """start_tls with something other than an SSLContext raises TypeError."""

    async def main():
        made = []
        server = await loop.create_server(lambda: made.append(Recorder()) or made[-1], "127.0.0.1", 0)
        tr, pr = await loop.create_connection(Recorder, *server.sockets[0].getsockname())
        with pytest.raises(TypeError, match="sslcontext is expected to be an instance of ssl.SSLContext"):
            await loop.start_tls(tr, pr, object())
        still_open = not tr.is_closing()
        tr.close()
        await wait_until(lambda: made and made[0].lost.done())
        server.close()
        await server.wait_closed()
        return still_open

    assert run(loop, main()) is True
