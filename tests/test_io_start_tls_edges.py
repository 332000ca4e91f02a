"""loop.start_tls at two edges asyncio fixed in 3.14: a failed upgrade
leaves no reference cycle holding the plain transport (gh-159049), and a
server-side upgrade over streams hands the bytes the StreamReader already
buffered (the peer's ClientHello) to the TLS layer (gh-142352).

goloop does both on every version; asyncio only from 3.14, so the asyncio
run of these tests is skipped before that. The no-cycle test also needs
asyncio's SSLProtocol (which goloop layers on its transports) to drop its
handshake exception, which it does from 3.13."""

import asyncio
import gc
import ssl
import sys
import weakref

import pytest
from tests.io_helpers import _collect_garbage, run  # noqa: F401
from tests.test_io_tls import certfiles, client_ctx, server_ctx  # noqa: F401


@pytest.fixture
def fixed_in_asyncio_314(loop_kind):
    if loop_kind == "asyncio" and sys.version_info < (3, 14):
        pytest.skip("asyncio fixed this in 3.14")


@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason="asyncio's SSLProtocol keeps the handshake exception in a cycle before 3.13")
def test_failed_start_tls_leaves_no_cycle(loop, server_ctx, fixed_in_asyncio_314):  # noqa: F811
    """The client does not trust the server's certificate: start_tls
    raises, and the plain transport is freed by reference counting alone
    (the garbage collector is off)."""
    untrusting = ssl.create_default_context()  # the test certificate is unknown to it
    refs = []
    failures = []

    async def serve(reader, writer):
        try:
            await writer.start_tls(server_ctx)
        except (ssl.SSLError, ConnectionError):
            pass
        writer.close()

    async def client(port):
        tr, proto = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        refs.append(weakref.ref(tr))
        try:
            await loop.start_tls(tr, proto, untrusting, server_hostname="localhost")
        except ssl.SSLCertVerificationError:
            failures.append("certificate refused")

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        async with server:
            await client(server.sockets[0].getsockname()[1])

    gc.collect()
    gc.disable()
    try:
        run(loop, main())
        assert failures == ["certificate refused"]
        assert [r() for r in refs] == [None]
    finally:
        gc.enable()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="StreamWriter.start_tls is 3.11+")
def test_server_start_tls_takes_buffered_bytes(loop, server_ctx, client_ctx,  # noqa: F811
                                               fixed_in_asyncio_314):
    """The server waits until the client's ClientHello sits in its
    StreamReader, then upgrades: the handshake completes and data flows."""

    async def serve(reader, writer):
        await reader._wait_for_data("test")  # the ClientHello arrived
        assert reader._buffer
        await writer.start_tls(server_ctx)
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await writer.start_tls(client_ctx, server_hostname="localhost")
            writer.write(b"ping\n")
            answer = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return answer

    assert run(loop, main()) == b"PING\n"
